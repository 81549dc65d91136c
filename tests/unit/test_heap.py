"""The collector clock; `settle_heap` itself changes the whole process, so it is tested on a
real worker (tests/integration/test_e2e_kafka.py)."""

from __future__ import annotations

import gc
import time

from lumina.heap import CollectorClock


def test_collector_clock_counts_each_generation_and_its_time() -> None:
    before = time.monotonic()
    clock = CollectorClock().install()
    try:
        gc.collect(0)
        gc.collect(2)
        gc.collect(2)
    finally:
        clock.uninstall()
    assert clock.collections[0] >= 1
    assert clock.collections[2] >= 2
    assert clock.seconds[2] > 0
    counted = clock.collections[2]
    gc.collect(2)  # uninstalled: no longer counted
    snapshot = clock.snapshot()
    assert snapshot["gc_collections"][2] == counted
    assert snapshot["gc_thresholds"] == list(gc.get_threshold())
    # Uptime runs from the clock's creation: it spans the collections timed since, and
    # not the process's life before it. (The snapshot rounds to a millisecond.)
    elapsed = time.monotonic() - before
    assert sum(clock.seconds) - 0.001 <= snapshot["uptime_s"] <= elapsed + 0.001
