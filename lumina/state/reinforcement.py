"""Reinforcement: every access stretches a unit's half-life and resets its decay clock.

    T½ ← min(T½ · (1 + α), T½_max),   last_access ← max(last_access, at),   count += 1

The ledger keeps (scope, unit id) → {half_life_s, last_access_ms, access_count, p},
starting from the unit's own decay at ingest when the unit is first accessed. `p` is the
position (partition, offset) on `lumina.access` of the last access applied: access events
are keyed by scope, so a unit's accesses arrive in order on one partition, and one at or
before `p` is a redelivery (a retried batch, or a restart before the consumer committed),
which changes nothing. An access published twice (two events) still counts twice: access
events have no identity of their own beyond their position.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from lumina.core.decay import reinforce
from lumina.schemas import Decay, MemoryUnit, Timestamps

from .keys import scoped

__all__ = ["DecayLedger", "DecayState"]


@dataclass(frozen=True, slots=True)
class DecayState:
    half_life_s: float
    last_access_ms: int
    access_count: int


class DecayLedger:
    def __init__(
        self, table: MutableMapping[str, Any], *, alpha: float, half_life_max_s: float
    ) -> None:
        if alpha < 0 or half_life_max_s <= 0:
            raise ValueError("need alpha >= 0 and half_life_max_s > 0")
        self.table = table
        self.alpha = alpha
        self.half_life_max_s = half_life_max_s

    def get(self, scope: str, unit_id: str) -> DecayState | None:
        return _state(self.table.get(scoped(scope, unit_id)))

    def access(
        self,
        scope: str,
        unit_id: str,
        at_ms: int,
        initial: DecayState | None = None,
        position: tuple[int, int] | None = None,
    ) -> DecayState:
        """Apply one access; `initial` is the unit's state at ingest when it is new here.

        With `position` (partition, offset of the access event), an access at or before the
        last one applied from the same partition is a redelivery: the state is returned as
        it is."""
        key = scoped(scope, unit_id)
        entry = self.table.get(key)
        stored = _state(entry)
        if stored is not None and position is not None and _seen(entry, position):
            return stored
        current = stored or initial
        if current is None:
            raise KeyError(f"no decay state for unit {unit_id} of scope {scope}")
        state = DecayState(
            half_life_s=reinforce(current.half_life_s, self.alpha, self.half_life_max_s),
            last_access_ms=max(current.last_access_ms, at_ms),
            access_count=current.access_count + 1,
        )
        value: dict[str, Any] = {
            "half_life_s": state.half_life_s,
            "last_access_ms": state.last_access_ms,
            "access_count": state.access_count,
        }
        if position is not None:
            value["p"] = list(position)
        self.table[key] = value
        return state


def _state(entry: dict[str, Any] | None) -> DecayState | None:
    if entry is None:
        return None
    return DecayState(entry["half_life_s"], entry["last_access_ms"], entry["access_count"])


def _seen(entry: dict[str, Any] | None, position: tuple[int, int]) -> bool:
    """Whether the access at `position` was applied already: the same partition, not later.
    On another partition (the topic was repartitioned) order is unknown: apply it."""
    last = entry.get("p") if entry else None
    return last is not None and last[0] == position[0] and position[1] <= last[1]


def ingest_state(unit: MemoryUnit) -> DecayState:
    """A unit's decay state as enrichment made it."""
    return DecayState(
        unit.decay.half_life_s, unit.timestamps.last_access_ms, unit.decay.access_count
    )


def reinforced_unit(unit: MemoryUnit, state: DecayState) -> MemoryUnit:
    """The unit's next version: its decay and last access from the ledger, strength 1."""
    return unit.model_copy(
        update={
            "timestamps": Timestamps(
                event_ms=unit.timestamps.event_ms,
                ingest_ms=unit.timestamps.ingest_ms,
                last_access_ms=state.last_access_ms,
            ),
            "decay": Decay(
                half_life_s=state.half_life_s,
                floor=unit.decay.floor,
                strength=1.0,
                access_count=state.access_count,
            ),
        }
    )
