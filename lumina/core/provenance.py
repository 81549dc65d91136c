"""Per-scope hash chains that make the order and content of stored units tamper-evident."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from blake3 import blake3

__all__ = [
    "GENESIS",
    "ChainEntry",
    "ChainVerdict",
    "LinkedUnit",
    "ProvenanceChain",
    "chain_link",
    "verify_chain",
]

GENESIS: str = "0" * 64

# bytes.fromhex() accepts spaces and upper case; one spelling per link keeps `==` meaningful.
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _digest_bytes(value: str, what: str) -> bytes:
    if not _HEX64.fullmatch(value):
        raise ValueError(f"{what} must be 64 lowercase hex characters, got {value!r}")
    return bytes.fromhex(value)


def chain_link(previous: str, unit_id: str, time_ms: int) -> str:
    """BLAKE3-256 hex over the previous link, the unit id and the signed 8-byte time."""
    data = (
        _digest_bytes(previous, "previous link")
        + _digest_bytes(unit_id, "unit id")
        + time_ms.to_bytes(8, "big", signed=True)
    )
    return blake3(data).hexdigest()


@dataclass(frozen=True)
class ChainEntry:
    unit_id: str
    time_ms: int
    previous: str
    link: str


@dataclass(frozen=True)
class LinkedUnit:
    """A unit's place in its scope's chain: the entry and its position, from 1."""

    entry: ChainEntry
    sequence: int


@dataclass
class ProvenanceChain:
    """The running head and length of each scope's chain, and the units already linked.

    Seed `heads`, `lengths` and `linked` from storage to resume. `place` gives a unit
    already in `linked` its old place again instead of appending it a second time, so an
    event re-processed after a crash (Kafka delivers at least once) keeps its link, and
    the chain stays one line instead of forking.
    """

    heads: dict[str, str] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)
    linked: dict[str, LinkedUnit] = field(default_factory=dict)

    def head(self, scope: str) -> str:
        return self.heads.get(scope, GENESIS)

    def place(self, scope: str, unit_id: str, time_ms: int) -> LinkedUnit:
        """Where the unit goes (or went): computed, not recorded; see `record`."""
        known = self.linked.get(unit_id)
        if known is not None:
            return known
        previous = self.head(scope)
        entry = ChainEntry(unit_id, time_ms, previous, chain_link(previous, unit_id, time_ms))
        return LinkedUnit(entry, self.lengths.get(scope, 0) + 1)

    def record(self, scope: str, placed: LinkedUnit) -> bool:
        """Advance the scope's head to a placed unit; False if it was linked already.

        A unit linked already still moves the head when it lies past it: a crash can keep
        a unit's link (written first) and lose the head written after it, and a new unit
        must not be linked behind the ones re-processed since."""
        known = placed.entry.unit_id in self.linked
        if not known:
            self.linked[placed.entry.unit_id] = placed
        if placed.sequence > self.lengths.get(scope, 0):
            self.heads[scope] = placed.entry.link
            self.lengths[scope] = placed.sequence
        return not known

    def append(self, scope: str, unit_id: str, time_ms: int) -> ChainEntry:
        placed = self.place(scope, unit_id, time_ms)
        self.record(scope, placed)
        return placed.entry


@dataclass(frozen=True)
class ChainVerdict:
    """Outcome of `verify_chain`; `checked` counts entries examined, including a broken one."""

    ok: bool
    checked: int
    first_broken: int | None
    unit_id: str | None
    reason: str | None

    def __str__(self) -> str:
        if self.ok:
            return f"chain ok: {self.checked} entries verified"
        return f"chain broken at entry {self.first_broken} (unit {self.unit_id}): {self.reason}"


def verify_chain(entries: Sequence[ChainEntry], start: str = GENESIS) -> ChainVerdict:
    """Walk `entries` in order from `start` and report the first one that breaks the chain."""
    head = start
    for index, entry in enumerate(entries):
        reason = None
        if entry.previous != head:
            reason = "previous link does not match"
        else:
            try:
                if chain_link(entry.previous, entry.unit_id, entry.time_ms) != entry.link:
                    reason = "link does not recompute"
            # Stored rows can be corrupt in any way; a verifier must report, not crash.
            except (ValueError, OverflowError, TypeError, AttributeError) as exc:
                reason = f"malformed entry: {exc}"
        if reason is not None:
            return ChainVerdict(False, index + 1, index, entry.unit_id, reason)
        head = entry.link
    return ChainVerdict(True, len(entries), None, None, None)
