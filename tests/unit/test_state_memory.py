"""Stream memory over plain dicts: activation decay, activity windows, role timelines."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from lumina.schemas import Entity, Roles
from lumina.state import StreamMemory
from lumina.state.keys import scoped

HOUR_MS = 3_600_000
CHAIN = itertools.count(1)  # units are made in chain order, as the stream delivers them
DAY_S = 86_400.0
T0 = 1_780_000_000_000 - 1_780_000_000_000 % HOUR_MS  # an hour boundary


class Unit:
    """What the state reads of a unit (the `Remembered` protocol), built by hand."""

    def __init__(
        self,
        uid: str,
        at_ms: int,
        *,
        scope: str = "s",
        salience: float = 0.5,
        entities: tuple[tuple[str, str], ...] = (),
        **roles: str,
    ) -> None:
        self.id, self.salience = uid, salience
        self.roles = Roles(**roles)

        class _P:
            sequence = next(CHAIN)

        _P.scope = scope  # type: ignore[attr-defined]
        self.provenance = _P()
        self.entities = [Entity(text=t, label=lab, start=0, end=len(t)) for t, lab in entities]

        class _T:
            event_ms = at_ms

        self.timestamps = _T()


def memory(**state: dict[str, Any]) -> StreamMemory:
    return StreamMemory(
        state.get("activations", {}),
        state.get("windows", {}),
        state.get("index", {}),
        state.get("timelines", {}),
        half_life_s=DAY_S,
        window_s=3600,
        expiry_s=7 * DAY_S,
    )


def test_state_activation_decays_by_half_life_then_adds_salience() -> None:
    m = memory()
    m.apply(Unit("a", T0, salience=0.8, who="Alice"))
    changes = m.apply(Unit("b", T0 + 24 * HOUR_MS, salience=0.4, who="Alice"))
    record = changes.activations[scoped("s", "alice")]
    assert record.activation == pytest.approx(0.8 * 0.5 + 0.4)
    assert record.mentions == 2 and record.event_ms == T0 + 24 * HOUR_MS


def test_state_activation_counts_entities_and_where_but_not_dates() -> None:
    changes = memory().apply(
        Unit(
            "a",
            T0,
            entities=(("Berlin", "GPE"), ("Monday", "DATE"), ("Acme Corp", "ORG")),
            who="Bob",
            where="Berlin",
        )
    )
    assert sorted(r.entity for r in changes.activations.values()) == ["acme corp", "berlin", "bob"]


def test_state_late_unit_adds_without_decaying_or_moving_the_clock() -> None:
    m = memory()
    m.apply(Unit("a", T0 + 10 * HOUR_MS, salience=0.5, who="Ann"))
    record = m.apply(Unit("b", T0, salience=0.5, who="Ann")).activations[scoped("s", "ann")]
    assert record.activation == pytest.approx(1.0)
    assert record.event_ms == T0 + 10 * HOUR_MS


def test_state_windows_count_units_salience_and_top_entities_per_hour() -> None:
    m = memory()
    m.apply(Unit("a", T0 + 1, salience=0.25, who="Ann", where="Oslo"))
    m.apply(Unit("b", T0 + 2, salience=0.5, who="Ann"))
    changes = m.apply(Unit("c", T0 + HOUR_MS, salience=1.0, who="Bo"))
    (first,) = (w for w in m.windows.values() if w["units"] == 2)
    assert first["salience"] == pytest.approx(0.75)
    assert first["entities"] == {"ann": 2, "oslo": 1}
    (second,) = changes.windows.values()
    assert (second.start_ms, second.end_ms, second.units) == (T0 + HOUR_MS, T0 + 2 * HOUR_MS, 1)
    assert [(e.entity, e.count) for e in second.top_entities] == [("bo", 1)]


def test_state_windows_expire_after_a_week_and_late_units_are_counted_as_late() -> None:
    windows: dict[str, Any] = {}
    m = memory(windows=windows)
    m.apply(Unit("a", T0, who="Ann"))
    m.apply(Unit("b", T0 + 8 * 24 * HOUR_MS, who="Ann"))
    assert scoped("s", T0) not in windows  # older than the expiry: dropped
    late = m.apply(Unit("c", T0 + 5, who="Ann"))
    assert late.late_units == 1 and not late.windows


def test_state_scopes_do_not_share_state() -> None:
    m = memory()
    m.apply(Unit("a", T0, scope="one", who="Ann"))
    record = m.apply(Unit("b", T0, scope="two", who="Ann")).activations[scoped("two", "ann")]
    assert record.mentions == 1


def test_state_timeline_closes_the_previous_value_instead_of_erasing_it() -> None:
    m = memory()
    (first, _) = m.apply(Unit("a", T0, who="Alice", where="Berlin", what="moved")).timeline
    assert (first.role, first.value, first.previous_value) == ("where", "Berlin", None)
    m.apply(Unit("b", T0 + HOUR_MS, who="Alice", where="berlin"))  # same place: no change
    changes = m.apply(Unit("c", T0 + 3 * HOUR_MS, who="Alice", where="Lisbon")).timeline
    (moved,) = changes
    assert moved.value == "Lisbon" and moved.valid_from_ms == T0 + 3 * HOUR_MS
    assert moved.previous_value == "Berlin"
    assert (moved.previous_valid_from_ms, moved.previous_valid_to_ms) == (T0, T0 + 3 * HOUR_MS)


def test_state_timeline_ignores_values_older_than_the_current_one() -> None:
    m = memory()
    m.apply(Unit("a", T0 + HOUR_MS, who="Alice", where="Lisbon"))
    assert m.apply(Unit("b", T0, who="Alice", where="Berlin")).timeline == []


def test_state_replaying_the_same_units_gives_the_same_records() -> None:
    units = [
        Unit(str(i), T0 + i * 17 * 60_000, who=w, where=p, salience=0.1 * (i % 7))
        for i, (w, p) in enumerate([("Ann", "Oslo"), ("Bo", "Rome"), ("Ann", "Rome")] * 20)
    ]
    runs = []
    for _ in range(2):
        m = memory()
        runs.append([m.apply(u) for u in units])
    assert runs[0] == runs[1]


def test_state_applying_units_again_changes_nothing() -> None:
    # After a crash the stream is re-read from the last committed offset: units applied
    # before the crash come again, and must not count twice.
    activations: dict[str, Any] = {}
    windows: dict[str, Any] = {}
    timelines: dict[str, Any] = {}
    m = memory(activations=activations, windows=windows, timelines=timelines)
    units = [Unit(str(i), T0 + i * 60_000, who="Ann", where=p) for i, p in enumerate("ABCA")]
    for unit in units:
        m.apply(unit)
    before = [dict(d) for d in (activations, windows, timelines)]
    for unit in units[1:]:
        again = m.apply(unit)
        assert not again.activations and not again.windows and not again.timeline
    assert [dict(d) for d in (activations, windows, timelines)] == before
    assert activations[scoped("s", "ann")]["n"] == 4
