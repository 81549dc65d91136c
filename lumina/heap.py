"""The worker's garbage-collector policy, and a clock on the time the collector takes.

A worker's heap is mostly built once: imported modules, the loaded models, Faust's
services (`/api/process` shows how many objects were frozen). CPython's cyclic collector
still traversed all of it on every full collection, which the worker's allocation rate (a
unit is dozens of objects) triggered about once a second, each for a tenth of a second or
more with the GIL held, so the agents, the consumer and the producer all stood still
(`bench/stream.py --heap default` prints the full collections' count and time). Freezing
that heap after start-up takes it out of every later collection. Frozen objects are still
freed by reference counting; only a reference cycle among them would never be collected,
and start-up leaves nothing the worker relies on freeing that way.

Figures (`bench/stream.py` prints the collector's share of the worker's time) are in
`docs/streaming-history.md`, "Garbage collection".
"""

from __future__ import annotations

import atexit
import gc
import time
from dataclasses import dataclass, field
from typing import Any

# Allocations between young collections (CPython's default is 700), and how many young
# (then middle) collections come before an older one (CPython's 10 and 10, kept: with the
# start-up heap frozen an older pass is cheap, and it frees the cycles that reached the
# older generations, which rarer passes left to pile up). Units and their records die
# young but are many, so a larger young generation collects them in fewer passes, and
# fewer of them are caught half-way through their life and promoted.
YOUNG_THRESHOLD = 20_000
MIDDLE_THRESHOLD = 10
OLD_THRESHOLD = 10


def settle_heap(
    young: int = YOUNG_THRESHOLD, middle: int = MIDDLE_THRESHOLD, old: int = OLD_THRESHOLD
) -> int:
    """Collect once, freeze every object alive now, and set the collection thresholds.

    Call it when start-up is over (and again after later start-up work: freezing adds to
    what is frozen). Returns how many objects are frozen in all.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, middle, old)
    # Thawed at exit, so the interpreter's last collections see every object again: native
    # extensions (nanobind's, under torch) report what is still alive then as leaks.
    atexit.unregister(gc.unfreeze)
    atexit.register(gc.unfreeze)
    return gc.get_freeze_count()


@dataclass
class CollectorClock:
    """Seconds spent in the cyclic garbage collector and collections run, per generation.

    Read from `gc.callbacks`, so it costs two clock reads per collection.
    """

    seconds: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    started: float = field(default_factory=time.monotonic)
    _began: float = 0.0

    def install(self) -> CollectorClock:
        gc.callbacks.append(self._on_collection)
        return self

    def uninstall(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        generation = info["generation"]
        self.seconds[generation] += time.perf_counter() - self._began
        self.collections[generation] += 1

    def snapshot(self) -> dict[str, Any]:
        """What `/api/process` shows: collector time and counts, thresholds, frozen objects."""
        return {
            "uptime_s": round(time.monotonic() - self.started, 3),
            "gc_seconds": [round(s, 4) for s in self.seconds],
            "gc_collections": list(self.collections),
            "gc_thresholds": list(gc.get_threshold()),
            "gc_frozen": gc.get_freeze_count(),
        }
