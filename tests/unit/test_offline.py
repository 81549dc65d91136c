"""`lumina enrich`: units out, every bad line in the rejects file with its line and code."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lumina.cli import main
from lumina.schemas import MemoryUnit


def test_offline_enrich_writes_units_and_rejects(
    tmp_path: Path, lumina_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "events.jsonl"
    lines = [
        json.dumps(
            {"scope": "notes", "author": "Ann", "text": "I moved to Lisbon in May."}
        ).encode(),
        b"",
        b"\xff\xfe not utf-8",
        json.dumps({"scope": "notes", "text": "Lunch with Bo at noon."}).encode(),
        b'{"scope": "notes"}',
    ]
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "units.jsonl"

    assert main(["enrich", str(source), "-o", str(out)]) == 0

    units = [MemoryUnit.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [u.text for u in units] == ["I moved to Lisbon in May.", "Lunch with Bo at noon."]
    assert units[0].roles.where == "Lisbon"
    rejects = [
        json.loads(line) for line in (tmp_path / "units.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (3, "invalid_utf8"),
        (5, "schema_violation"),
    ]
    assert base64.b64decode(rejects[0]["original_b64"]) == lines[2]
    assert "read 4, units 2, rejected 2" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("profile", "stages"),
    [
        ("fast", {"attribution": "attribution.fast.v1", "embed": "embed.static.v1"}),
        ("full", {"attribution": "attribution.spacy.v1", "embed": "embed.minilm.v1"}),
    ],
)
def test_offline_enrich_profile_chooses_the_stages(
    tmp_path: Path, lumina_env: dict[str, str], profile: str, stages: dict[str, str]
) -> None:
    if profile == "full":
        pytest.importorskip("spacy")
        pytest.importorskip("torch")
    source = tmp_path / "events.jsonl"
    source.write_text(json.dumps({"scope": "notes", "author": "Ann", "text": "I flew to Oslo."}))
    out = tmp_path / "units.jsonl"
    assert main(["enrich", str(source), "-o", str(out), "--profile", profile]) == 0
    (unit,) = [MemoryUnit.model_validate_json(line) for line in out.read_text().splitlines()]
    assert {name: unit.stages[name] for name in stages} == stages
    assert unit.roles.where == "Oslo"
