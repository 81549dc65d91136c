"""`until_done`: a failed batch is tried again until it goes through; a cancellation is not
a failure (the stream integration test covers the agents: test_e2e_failed_batch)."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from lumina.agents import retry


def test_a_failing_attempt_is_retried_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(retry.asyncio, "sleep", no_wait)
    attempts = 0

    async def attempt() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 8:
            raise ConnectionError(f"broker away ({attempts})")
        return "done"

    with caplog.at_level(logging.WARNING, logger=retry.__name__):
        assert asyncio.run(retry.until_done(attempt, "sending 5 units")) == "done"
    assert attempts == 8
    assert waits == [0.5, 1, 2, 4, 8, 16, retry.MAX_BACKOFF_S]  # backoff, capped
    failures = [r for r in caplog.records if "sending 5 units failed" in r.getMessage()]
    assert len(failures) == 7
    assert failures[0].exc_info  # the first failure with its traceback, the others without
    assert not any(r.exc_info for r in failures[1:])


def test_a_cancelled_attempt_is_not_retried() -> None:
    attempts = 0

    async def attempt() -> None:
        nonlocal attempts
        attempts += 1
        raise asyncio.CancelledError  # a rebalance or a stop

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(retry.until_done(attempt, "a batch"))
    assert attempts == 1


def test_store_calls_run_in_a_thread_and_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_wait(seconds: float) -> None:
        pass

    monkeypatch.setattr(retry.asyncio, "sleep", no_wait)
    calls: list[threading.Thread] = []

    def insert() -> int:
        calls.append(threading.current_thread())
        if len(calls) == 1:
            raise OSError("store refused")
        return 42

    assert asyncio.run(retry.until_stored(insert, 42, "units")) == 42
    assert len(calls) == 2
    assert threading.main_thread() not in calls  # the event loop stays free meanwhile
