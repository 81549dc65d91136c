"""StreamMemory: entity activation, tumbling activity windows and role timelines per scope.

Everything runs on event time (the unit's `timestamps.event_ms`), never the wall clock, so
replaying the same units gives the same state and the same records.

- **Activation** per (scope, entity), for the unit's entities (dates and times left out)
  and its who/where fillers: `A ← A · 2^(-Δt / T½) + σ` with σ the unit's salience. A late
  unit (Δt < 0) adds σ without decaying; the clock stays at the latest mention.
- **Windows** per scope: tumbling windows of `window_s` aligned to the epoch, with unit
  count, salience sum and entity counts (the ten most mentioned are published). Windows
  older than `expiry_s` before the scope's newest window are dropped; a unit that falls
  into a dropped window is counted nowhere (`late_units` says how many).
- **Timelines** per (scope, who): the latest `where` and `what` with `valid_from`. A new
  value closes the previous one (`valid_to` = the new value's event time) and is published
  with it; a unit older than the current value does not rewrite history.

The state is plain JSON values in mappings (Faust tables in the worker), one key per
(scope, thing), so it partitions with the events and is rebuilt from its changelog.

Replays change nothing. Units reach the state in chain order, so each value records the
chain position (`provenance.sequence`) of the last unit applied to it, and a unit at or
before that position is skipped for that value. After a crash the stream is re-read from
the last committed offset and some of those units were applied already; each value knows
which, because a value and its position are written as one.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from lumina.core.decay import activation_update
from lumina.enrich.shape import canonical_filler
from lumina.schemas import Entity, Roles
from lumina.schemas.state import ActivityWindow, EntityActivation, EntityCount, TimelineChange

from .keys import scoped

__all__ = ["Remembered", "StateChanges", "StreamMemory", "named_entities"]

# Time expressions are not things: "yesterday" in every scope would top every ranking.
TEMPORAL_LABELS = frozenset({"DATE", "TIME"})
TOP_ENTITIES = 10
# Entity counts kept per window: enough that the top ten are exact in practice, bounded so
# a window of a busy scope stays a small value.
WINDOW_ENTITY_CAP = 200
TIMELINE_ROLES: tuple[Literal["where", "what"], ...] = ("where", "what")

State = MutableMapping[str, Any]


class _EventTime(Protocol):
    @property
    def event_ms(self) -> int: ...


class _Place(Protocol):
    @property
    def scope(self) -> str: ...
    @property
    def sequence(self) -> int: ...


class Remembered(Protocol):
    """What the state reads of a unit: a MemoryUnit, or the state agent's lighter parse."""

    @property
    def id(self) -> str: ...
    @property
    def provenance(self) -> _Place: ...
    @property
    def salience(self) -> float: ...
    @property
    def roles(self) -> Roles: ...
    @property
    def entities(self) -> Sequence[Entity]: ...
    @property
    def timestamps(self) -> _EventTime: ...


def named_entities(unit: Remembered) -> list[str]:
    """Canonical names the unit mentions: entities (not dates/times), who and where."""
    names = [canonical_filler(e.text) for e in unit.entities if e.label not in TEMPORAL_LABELS]
    names += [canonical_filler(v) for v in (unit.roles.who, unit.roles.where) if v]
    return list(dict.fromkeys(n for n in names if n))  # each once, in order


@dataclass
class StateChanges:
    """What applying units changed, as the records to publish (latest per key)."""

    activations: dict[str, EntityActivation] = field(default_factory=dict)
    windows: dict[str, ActivityWindow] = field(default_factory=dict)
    timeline: list[TimelineChange] = field(default_factory=list)
    late_units: int = 0

    def merge(self, other: StateChanges) -> None:
        self.activations.update(other.activations)
        self.windows.update(other.windows)
        self.timeline.extend(other.timeline)
        self.late_units += other.late_units


class StreamMemory:
    """Applies units to four mappings; the caller owns them (and their durability)."""

    def __init__(
        self,
        activations: State,
        windows: State,
        window_index: State,
        timelines: State,
        *,
        half_life_s: float,
        window_s: float,
        expiry_s: float,
    ) -> None:
        if window_s <= 0 or expiry_s < window_s or half_life_s <= 0:
            raise ValueError("need half_life_s > 0 and 0 < window_s <= expiry_s")
        self.activations = activations
        self.windows = windows
        self.window_index = window_index
        self.timelines = timelines
        self.half_life_s = half_life_s
        self.window_ms = int(window_s * 1000)
        self.expiry_ms = int(expiry_s * 1000)

    def apply(self, unit: Remembered) -> StateChanges:
        changes = StateChanges()
        names = named_entities(unit)
        for name in names:
            key = scoped(unit.provenance.scope, name)
            record = self._activate(key, unit, name)
            if record is not None:
                changes.activations[key] = record
        self._count(unit, names, changes)
        changes.timeline.extend(self._advance_timeline(unit))
        return changes

    # ------------------------------------------------------------------ activation

    def _activate(self, key: str, unit: Remembered, name: str) -> EntityActivation | None:
        now, position = unit.timestamps.event_ms, unit.provenance.sequence
        state = self.activations.get(key)
        if _applied(state, position):
            return None
        if state is None:
            activation, last, mentions = float(unit.salience), now, 1
        else:
            dt_s = (now - state["t"]) / 1000.0
            activation = float(activation_update(state["a"], dt_s, self.half_life_s, unit.salience))
            last, mentions = max(now, state["t"]), state["n"] + 1
        self.activations[key] = {"a": activation, "t": last, "n": mentions, "q": position}
        return EntityActivation(
            scope=unit.provenance.scope,
            entity=name,
            activation=activation,
            half_life_s=self.half_life_s,
            mentions=mentions,
            event_ms=last,
        )

    # ------------------------------------------------------------------ windows

    def _count(self, unit: Remembered, names: list[str], changes: StateChanges) -> None:
        start = unit.timestamps.event_ms - unit.timestamps.event_ms % self.window_ms
        starts: list[int] = list(self.window_index.get(unit.provenance.scope) or [])
        newest = max([start, *starts])
        if start < newest - self.expiry_ms:
            changes.late_units += 1
            return
        key = scoped(unit.provenance.scope, start)
        window = self.windows.get(key) or {"units": 0, "salience": 0.0, "entities": {}}
        if _applied(window, unit.provenance.sequence):
            return
        counts: dict[str, int] = dict(window["entities"])
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        if len(counts) > WINDOW_ENTITY_CAP:
            counts = dict(_most_mentioned(counts, WINDOW_ENTITY_CAP))
        window = {
            "units": window["units"] + 1,
            "salience": window["salience"] + float(unit.salience),
            "entities": counts,
            "q": unit.provenance.sequence,
        }
        self.windows[key] = window
        if start not in starts:
            kept = sorted(s for s in [*starts, start] if s >= newest - self.expiry_ms)
            for expired in set(starts) - set(kept):
                self.windows.pop(scoped(unit.provenance.scope, expired), None)
            self.window_index[unit.provenance.scope] = kept
        changes.windows[key] = ActivityWindow(
            scope=unit.provenance.scope,
            start_ms=start,
            end_ms=start + self.window_ms,
            units=window["units"],
            salience_sum=round(window["salience"], 4),
            top_entities=[
                EntityCount(entity=e, count=c) for e, c in _most_mentioned(counts, TOP_ENTITIES)
            ],
        )

    # ------------------------------------------------------------------ timelines

    def _advance_timeline(self, unit: Remembered) -> list[TimelineChange]:
        if not unit.roles.who:
            return []
        who = canonical_filler(unit.roles.who)
        key = scoped(unit.provenance.scope, who)
        stored = self.timelines.get(key)
        if _applied(stored, unit.provenance.sequence):
            return []
        current: dict[str, Any] = dict(stored or {})
        now = unit.timestamps.event_ms
        changes = []
        for role in TIMELINE_ROLES:
            value = getattr(unit.roles, role)
            if not value:
                continue
            previous = current.get(role)
            if previous is not None:
                previous_value, previous_from = previous
                if now < previous_from or canonical_filler(value) == canonical_filler(
                    previous_value
                ):
                    continue  # older than what we know, or no change
            current[role] = [value, now]
            changes.append(
                TimelineChange(
                    scope=unit.provenance.scope,
                    who=who,
                    role=role,
                    value=value,
                    valid_from_ms=now,
                    unit_id=unit.id,
                    previous_value=previous[0] if previous else None,
                    previous_valid_from_ms=previous[1] if previous else None,
                    previous_valid_to_ms=now if previous else None,
                )
            )
        if changes:
            current["q"] = unit.provenance.sequence
            self.timelines[key] = current
        return changes


def _applied(value: dict[str, Any] | None, position: int) -> bool:
    """Whether the unit at chain `position` was applied to this value already."""
    return value is not None and position <= value.get("q", 0)


def _most_mentioned(counts: dict[str, int], k: int) -> list[tuple[str, int]]:
    # Ties broken by name, so the published top list does not depend on arrival order.
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]
