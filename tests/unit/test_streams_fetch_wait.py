"""The worker's fetch wait reaches the aiokafka consumer Faust builds for it.

Built for real (faust-streaming's consumer thread creating aiokafka's consumer), not started:
the wait is read at start, and a started consumer needs a broker. What the wait does on
each broker: `bench/fetch_wait.py`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lumina.config import Settings
from lumina.streams.app import create_app
from lumina.streams.fetch_wait import (
    EMBEDDED_FETCH_WAIT_MS,
    attach_fetch_wait,
    embedded_fetch_wait,
)


def worker_consumer_wait(settings: Settings) -> int:
    app = create_app(settings, "127.0.0.1:9")
    attach_fetch_wait(app, settings.fetch_max_wait_ms)

    async def build() -> int:  # aiokafka builds its consumer inside a running loop
        thread = app.consumer._thread  # type: ignore[attr-defined]
        consumer = thread._create_consumer(asyncio.get_running_loop())
        return int(consumer._fetch_max_wait_ms)

    return asyncio.run(build())


def test_fetch_wait_reaches_the_worker_consumer(tmp_path: Path) -> None:
    assert worker_consumer_wait(Settings(home=tmp_path)) == 500  # Faust's own would be 1,500
    assert worker_consumer_wait(Settings(home=tmp_path, fetch_max_wait_ms=40)) == 40


def test_embedded_broker_gets_the_short_wait_unless_one_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert embedded_fetch_wait(Settings(home=tmp_path)).fetch_max_wait_ms == EMBEDDED_FETCH_WAIT_MS
    monkeypatch.setenv("LUMINA_FETCH_MAX_WAIT_MS", "300")
    assert embedded_fetch_wait(Settings(home=tmp_path)).fetch_max_wait_ms == 300
