"""A `lumina worker` whose store goes away for LUMINA_TEST_OUTAGE_S seconds once it holds
units: the table is detached, so every write fails as it would against a ClickHouse server
that is down, then attached again. Only the timing is the test's; the failure is real.

Run as `python -m tests.integration.outage_worker` with the worker's usual environment.
"""

from __future__ import annotations

import asyncio
import os
import sys

import faust

from lumina.config import get_settings
from lumina.store import MemoryStore
from lumina.worker import run_worker

BEGIN = "store outage: begin"
END = "store outage: end"


def add_outage(app: faust.App, store: MemoryStore) -> None:
    seconds = float(os.environ["LUMINA_TEST_OUTAGE_S"])

    @app.task
    async def outage() -> None:
        def stored() -> int:
            return int(store.query_rows("SELECT count() FROM memory_units")[0][0])

        while await asyncio.to_thread(stored) == 0:
            await asyncio.sleep(0.1)
        await asyncio.to_thread(store.command, "DETACH TABLE memory_units")
        print(BEGIN, flush=True)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(store.command, "ATTACH TABLE memory_units")
        print(END, flush=True)


if __name__ == "__main__":
    settings = get_settings()
    sys.exit(run_worker(settings, settings.kafka_brokers or "", extend=add_outage))
