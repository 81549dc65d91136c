"""Exact-duplicate consolidation: the first unit of a (scope, content hash) is kept.

A later event with the same normalized text in the same scope makes no unit of its own:
the kept unit is reinforced instead and the duplicate counted. The same event delivered
twice is not a duplicate of itself: it has the same unit id, so `claim` gives that id back
and the unit is published again, which the store's ReplacingMergeTree collapses. A
duplicate delivered twice is recognized too (the last absorbed ids are kept): it is
reported as a repeat, so it is neither counted nor reinforces the kept unit twice. The
decision depends only on the order of the scope's events, which Kafka keeps within a
partition, so replaying them after a crash decides the same way.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from .keys import scoped

__all__ = ["Claim", "ContentIndex"]

# Absorbed ids remembered per content: a redelivery comes back within one uncommitted
# stretch of the stream, so the last few are enough to recognize it.
REMEMBERED_ABSORBED = 16


@dataclass(frozen=True, slots=True)
class Claim:
    kept_id: str
    duplicates: int  # absorbed so far, this one included
    repeat: bool = False  # this duplicate was absorbed before (a redelivery)


class ContentIndex:
    """(scope, content hash) → the kept unit's id and how many duplicates it absorbed."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table

    def claim(self, scope: str, content_hash: str, unit_id: str) -> Claim:
        """Who keeps this content: `unit_id` itself when it is the first (or the kept unit
        seen again), otherwise the kept unit, with the duplicate counted once."""
        key = scoped(scope, content_hash)
        entry = self.table.get(key)
        if entry is None:
            self.table[key] = {"id": unit_id, "dups": 0, "absorbed": []}
            return Claim(unit_id, 0)
        if entry["id"] == unit_id:
            return Claim(unit_id, int(entry["dups"]))
        absorbed: list[str] = list(entry["absorbed"])
        if unit_id in absorbed:
            return Claim(str(entry["id"]), int(entry["dups"]), repeat=True)
        count = int(entry["dups"]) + 1
        absorbed = [*absorbed, unit_id][-REMEMBERED_ABSORBED:]
        self.table[key] = {"id": entry["id"], "dups": count, "absorbed": absorbed}
        return Claim(str(entry["id"]), count)
