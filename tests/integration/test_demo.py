"""The demo path on the embedded broker (Tansu) and chDB, as `make demo` runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lumina.errors import ReasonCode

pytestmark = pytest.mark.e2e


def test_demo_runs_end_to_end_on_the_embedded_broker(lumina_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lumina", "demo"],
        env={**os.environ, **lumina_env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "published 56 events (4 invalid)" in out
    for reason in (
        ReasonCode.INVALID_UTF8,
        ReasonCode.INVALID_JSON,
        ReasonCode.SCHEMA_VIOLATION,
        ReasonCode.EMPTY_TEXT,
    ):
        assert reason.value in out
    search = out.split("== search:")[1].split("==")[0]
    assert "Munich" in search
    aggregate = out.split("== SQL:")[1]
    for author in ("Alice", "Bob", "Carol", "Dan"):
        assert author in aggregate
