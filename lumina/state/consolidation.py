"""Exact-duplicate consolidation: the first unit of a (scope, content hash) is kept.

A later event with the same normalized text in the same scope makes no unit of its own:
the kept unit is reinforced instead and the duplicate counted. The same event delivered
twice is not a duplicate of itself: it has the same unit id, so `claim` gives that id back
and the unit is published again, which the store's ReplacingMergeTree collapses. The
decision depends only on the order of the scope's events, which Kafka keeps within a
partition, so replaying them after a crash decides the same way.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from .keys import scoped

__all__ = ["ContentIndex"]


class ContentIndex:
    """(scope, content hash) → the kept unit's id and how many duplicates it absorbed."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table

    def claim(self, scope: str, content_hash: str, unit_id: str) -> tuple[str, int]:
        """The kept id for this content and its duplicate count after this event.

        Returns `(unit_id, 0)` when the unit is the first of its content (or is the kept
        unit seen again); otherwise the kept id and the count including this duplicate.
        """
        key = scoped(scope, content_hash)
        entry = self.table.get(key)
        if entry is None:
            self.table[key] = {"id": unit_id, "dups": 0}
            return unit_id, 0
        if entry["id"] == unit_id:
            return unit_id, 0
        count = int(entry["dups"]) + 1
        self.table[key] = {"id": entry["id"], "dups": count}
        return str(entry["id"]), count
