"""Settings come from LUMINA_* variables; the secret never shows when printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lumina.config import Settings


def test_config_reads_lumina_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path))
    monkeypatch.setenv("LUMINA_KAFKA_BROKERS", "k1:9092,k2:9092")
    monkeypatch.setenv("LUMINA_PARTITIONS", "12")
    monkeypatch.delenv("LUMINA_CLICKHOUSE_DSN", raising=False)
    settings = Settings()
    assert settings.kafka_brokers == "k1:9092,k2:9092" and settings.partitions == 12
    assert settings.store_dsn == f"chdb://{tmp_path.resolve() / 'store'}"
    assert settings.topic("units") == "lumina.units"


def test_config_secret_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMINA_SECRET", "hunter2-correct-horse")
    settings = Settings()
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert "hunter2" not in shown
    assert settings.secret is not None
    assert settings.secret.get_secret_value() == "hunter2-correct-horse"


def test_config_rejects_impossible_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMINA_PARTITIONS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_config_worker_agents_are_known_and_keep_state_with_the_sink() -> None:
    assert Settings().agents == {"enrich", "state", "reinforce", "sink"}
    assert Settings(worker_agents=" sink, state,enrich").worker_agents == "enrich,state,sink"
    assert Settings(worker_agents="enrich,state").agents == {"enrich", "state"}
    for bad in ("", "enrich,sinks", "enrich,sink", "reinforce,sink"):
        with pytest.raises(ValidationError, match=r"worker agents|run the sink with"):
            Settings(worker_agents=bad)


def test_config_a_worker_that_only_sinks_reads_in_a_group_of_its_own() -> None:
    assert Settings(group_id="g").consumer_group == "g"
    assert Settings(group_id="g", worker_agents="enrich,state").consumer_group == "g"
    assert Settings(group_id="g", worker_agents="sink").consumer_group == "g-sink"
