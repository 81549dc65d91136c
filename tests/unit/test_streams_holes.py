"""HoleGuard: offsets Faust skipped on a stream partition are fetched again, never committed
over. The consumer here is a stand-in holding the few fields of Faust's consumer the guard
reads (the race that makes Faust skip them cannot be triggered on demand); the real path
runs in tests/integration/test_e2e_recovery.py against Apache Kafka."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple

from lumina.streams.watchdog import HoleGuard


class TP(NamedTuple):
    topic: str
    partition: int


EVENTS = TP("lumina.events", 0)
CHANGELOG = TP("group-provenance-chain-changelog", 0)


@dataclass
class Consumer:
    """Faust's bookkeeping, with its own `_new_offset` rule: commit up to the first gap."""

    _acked: dict[Any, list[int]] = field(default_factory=lambda: defaultdict(list))
    _committed_offset: dict[Any, int | None] = field(default_factory=dict)
    _read_offset: dict[Any, int | None] = field(default_factory=dict)
    _gap: dict[Any, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    _unacked_messages: set[Any] = field(default_factory=set)
    seeks: list[tuple[Any, int]] = field(default_factory=list)

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        self._gap[tp].append((offset_from, offset_to))

    def _new_offset(self, tp: Any) -> int | None:
        acked = sorted(self._acked[tp])
        return acked[-1] + 1 if acked else None

    def assignment(self) -> set[Any]:
        return {EVENTS, CHANGELOG}

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))


def guard() -> tuple[HoleGuard, Consumer]:
    consumer = Consumer()
    app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}))
    return HoleGuard(app, consumer), consumer  # type: ignore[arg-type]


def test_a_skipped_range_is_fetched_again_and_not_committed_over() -> None:
    holes, consumer = guard()
    consumer._committed_offset[EVENTS] = 0
    consumer._acked[EVENTS] = [0, 1, 2, 3, 4, 30, 31]  # 5…29 dropped, then 30 delivered
    consumer._read_offset[EVENTS] = 31
    asyncio.run(consumer._add_gap(EVENTS, 5, 30))  # as Faust calls it on delivering 30
    assert consumer._gap[EVENTS] == []
    assert consumer._new_offset(EVENTS) is None
    asyncio.run(holes.refetch())
    assert consumer.seeks == [(EVENTS, 5)]
    assert consumer._read_offset[EVENTS] == 4  # so Faust delivers 5 onwards again
    consumer._acked[EVENTS] = list(range(32))
    assert consumer._new_offset(EVENTS) == 32


def test_a_range_skipped_again_after_the_refetch_is_a_real_gap() -> None:
    holes, consumer = guard()
    consumer._read_offset[EVENTS] = 40
    asyncio.run(consumer._add_gap(EVENTS, 5, 30))
    asyncio.run(holes.refetch())
    asyncio.run(consumer._add_gap(EVENTS, 5, 30))  # the broker has nothing there
    assert consumer._gap[EVENTS] == [(5, 30)]


def test_nothing_is_committed_past_an_offset_not_acked() -> None:
    # In work or dropped before it reached Faust: either way Faust itself would commit
    # 7 here (one offset missing at the head), and lose 5 if the worker then died.
    _, consumer = guard()
    consumer._committed_offset[EVENTS] = 5
    consumer._acked[EVENTS] = [6, 7]
    assert consumer._new_offset(EVENTS) is None
    consumer._acked[EVENTS] = [5, 6, 7]
    assert consumer._new_offset(EVENTS) == 8


def test_changelogs_keep_faust_gaps_and_a_rewound_partition_is_left_alone() -> None:
    holes, consumer = guard()
    asyncio.run(consumer._add_gap(CHANGELOG, 3, 9))
    assert consumer._gap[CHANGELOG] == [(3, 9)]
    consumer._read_offset[EVENTS] = 40
    asyncio.run(consumer._add_gap(EVENTS, 5, 30))
    consumer._read_offset[EVENTS] = 2  # a rebalance sought back to the committed offset
    asyncio.run(holes.refetch())
    assert consumer.seeks == []
