"""`lumina up` on the embedded broker, and `lumina search` with and without a running worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lumina.brokers import free_port
from lumina.errors import StoreError
from lumina.remote import WorkerClient
from tests.integration.conftest import publish

pytestmark = pytest.mark.e2e

EVENTS = [
    {
        "scope": "cli-test",
        "author": "Mia",
        "text": "The quarterly report goes to the board on Friday.",
    },
    {
        "scope": "cli-test",
        "author": "Leo",
        "text": "I fixed the broken espresso machine with a new valve.",
    },
    {"scope": "cli-test", "author": "Mia", "text": "Our flight to Oslo leaves at 7am tomorrow."},
]


def lumina(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lumina", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_search_through_lumina_up_and_then_directly(lumina_env: dict[str, str]) -> None:
    broker_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        **lumina_env,
        "LUMINA_EMBEDDED_PORT": str(broker_port),
        "LUMINA_API_PORT": str(api_port),
        "LUMINA_PARTITIONS": "2",
    }
    for key in ("LUMINA_KAFKA_BROKERS", "LUMINA_CLICKHOUSE_DSN"):
        env.pop(key, None)
    log = Path(lumina_env["LUMINA_HOME"]) / "up.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "lumina", "up"], env=env, stdout=out, stderr=out
        )
    api = WorkerClient(f"http://127.0.0.1:{api_port}", timeout=5)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert up.poll() is None, log.read_text()
            try:
                api.stats()
                break
            except StoreError:
                time.sleep(0.3)
        events = [(e["scope"].encode(), json.dumps(e).encode()) for e in EVENTS]
        publish(f"127.0.0.1:{broker_port}", "lumina.events", events)
        while time.monotonic() < deadline and api.stats()["units"] < len(EVENTS):
            time.sleep(0.3)
        assert api.stats()["units"] == len(EVENTS), log.read_text()

        # The worker owns the chDB store: the CLI must go through it.
        live = lumina(env, "search", "travel to Norway", "--scope", "cli-test", "-k", "2", "--json")
        assert live.returncode == 0, live.stderr
        live_hits = json.loads(live.stdout)
        assert "Oslo" in live_hits[0]["text"]
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)

    # Nothing runs now: the CLI opens the store itself and finds the same units.
    offline = lumina(env, "search", "travel to Norway", "--scope", "cli-test", "-k", "2", "--json")
    assert offline.returncode == 0, offline.stderr
    assert [h["id"] for h in json.loads(offline.stdout)] == [h["id"] for h in live_hits]
    table = lumina(
        env,
        "sql",
        "SELECT author, count() AS n FROM memory_units FINAL GROUP BY author ORDER BY author",
    )
    assert table.returncode == 0, table.stderr
    assert "Leo" in table.stdout and "Mia" in table.stdout
    refused = lumina(env, "sql", "DROP TABLE memory_units")
    assert refused.returncode == 2 and "read-only" in refused.stderr
