"""A `lumina worker` whose enrichment, state and reinforcement each fail on their first batch.

A batch that fails as a whole (a broker error while the units are sent, a bug) cannot be
provoked on demand against a real broker, so the failure is injected: the first call of
`Pipeline.run`, of `StreamMemory.apply` and of the reinforcement agent's `reinforced_unit`
raises. The last comes after the agent wrote its decay ledger and before it sent anything,
as a broker error in the send would. Everything else is the real worker.

Run as `python -m tests.integration.faulty_worker` with the worker's usual environment.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from lumina.agents import reinforce
from lumina.config import get_settings
from lumina.enrich import Pipeline
from lumina.state import StreamMemory
from lumina.worker import run_worker

FAULT = "injected fault"


def fail_once(method: Callable[..., Any], where: str) -> Callable[..., Any]:
    failed = False

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal failed
        if not failed:
            failed = True
            raise RuntimeError(f"{FAULT} in {where}")
        return method(*args, **kwargs)

    return wrapper


if __name__ == "__main__":
    Pipeline.run = fail_once(Pipeline.run, "enrichment")  # type: ignore[method-assign]
    StreamMemory.apply = fail_once(StreamMemory.apply, "state")  # type: ignore[method-assign]
    reinforce.reinforced_unit = fail_once(reinforce.reinforced_unit, "reinforcement")
    settings = get_settings()
    sys.exit(run_worker(settings, settings.kafka_brokers or ""))
