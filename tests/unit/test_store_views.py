"""The stream memory's tables and the analytics views on real chDB, read as `lumina sql` reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lumina.agents.sink import activation_tables, consolidation_tables, timeline_tables
from lumina.config import Settings
from lumina.enrich import enrich
from lumina.errors import ReasonCode
from lumina.schemas import DeadLetter, TextEvent
from lumina.schemas.state import (
    ActivityWindow,
    Consolidation,
    EntityActivation,
    EntityCount,
    TimelineChange,
)
from lumina.store import MemoryStore, open_store

MAY_3 = 1_777_766_400_000  # 2026-05-03T00:00:00Z
HOUR = 3_600_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    store = open_store(f"chdb://{tmp_path / 'store'}")
    yield store
    store.close()


def sql(store: MemoryStore, query: str) -> list[tuple[object, ...]]:
    return store.read_only_sql(query)[1]


def insert(store: MemoryStore, tables: list[tuple[str, object]]) -> None:
    for name, table in tables:
        store.insert_table(name, table)  # type: ignore[arg-type]


def test_where_was_alice_on_3_may(store: MemoryStore) -> None:
    def moved(where: str, at_ms: int, unit: str) -> TimelineChange:
        return TimelineChange(
            scope="s", who="alice", role="where", value=where, valid_from_ms=at_ms, unit_id=unit
        )

    changes = [moved("Lisbon", MAY_3 - 48 * HOUR, "u1"), moved("Berlin", MAY_3 + 30 * HOUR, "u2")]
    insert(store, timeline_tables(changes))
    insert(store, timeline_tables(changes[:1]))  # re-delivered
    rows = sql(
        store,
        "SELECT value, valid_to IS NULL FROM role_intervals WHERE scope = 's' AND who = 'alice' "
        "AND role = 'where' ORDER BY valid_from",
    )
    assert rows == [("Lisbon", False), ("Berlin", True)]
    on_may_3 = sql(
        store,
        "SELECT value, unit_id FROM role_intervals WHERE scope = 's' AND who = 'alice' "
        "AND role = 'where' AND valid_from <= '2026-05-03 12:00:00' "
        "AND (valid_to IS NULL OR valid_to > '2026-05-03 12:00:00')",
    )
    assert on_may_3 == [("Lisbon", "u1")]


def test_active_entities_keep_the_latest_state_and_decay_to_now(store: MemoryStore) -> None:
    def mention(n: int, activation: float) -> EntityActivation:
        return EntityActivation(
            scope="s",
            entity="globex",
            activation=activation,
            half_life_s=86_400.0,
            mentions=n,
            event_ms=MAY_3 + n,
        )

    window = ActivityWindow(
        scope="s",
        start_ms=MAY_3,
        end_ms=MAY_3 + HOUR,
        units=2,
        salience_sum=1.5,
        top_entities=[EntityCount(entity="globex", count=2)],
    )
    insert(store, activation_tables([mention(2, 1.8), window, mention(1, 1.0)]))
    ((mentions, now),) = sql(
        store, "SELECT mentions, activation_now FROM active_entities WHERE scope = 's'"
    )
    assert mentions == 2 and 0 < now < 1.8  # months later, decayed by many half-lives
    assert sql(store, "SELECT units, top_entities FROM activity_windows FINAL") == [
        (2, [{"entity": "globex", "count": 2}])
    ]


def test_consolidations_count_exact_duplicates_once_each(store: MemoryStore) -> None:
    def exact(n: int) -> Consolidation:
        return Consolidation(
            kind="exact",
            scope="s",
            kept_id="k",
            absorbed_id="a",
            similarity=1.0,
            duplicates=n,
            event_ms=MAY_3 + n,
        )

    insert(store, consolidation_tables([exact(1), exact(2), exact(2)]))
    assert sql(store, "SELECT kept_id, duplicates FROM consolidations FINAL") == [("k", 2)]


def test_analytics_views_over_units_and_dead_letters(
    store: MemoryStore, lumina_env: dict[str, str]
) -> None:
    events = [
        TextEvent(scope="s", text="Alice met Globex in Munich.", ts=MAY_3 + HOUR),
        TextEvent(scope="s", text="Bob called Globex from Berlin.", ts=MAY_3 + 2 * HOUR),
        TextEvent(scope="s", text="Globex signed on Friday.", ts=MAY_3 + 30 * HOUR),
    ]
    units = enrich(events, Settings())
    store.insert_units(units)
    store.insert_units(units)  # re-delivered: no view counts twice
    days = sql(store, "SELECT day, units FROM units_per_day WHERE scope = 's' ORDER BY day")
    assert [(str(d), n) for d, n in days] == [("2026-05-03", 2), ("2026-05-04", 1)]
    top = sql(
        store,
        "SELECT entity, mentions FROM top_entities(scope = 's', since = '2026-05-03', "
        "until = '2026-05-04')",
    )
    assert top[0] == ("Globex", 2)
    strengths = sql(store, "SELECT strength_now FROM unit_strength WHERE scope = 's'")
    assert len(strengths) == 3 and all(0.0 < s <= 1.0 for (s,) in strengths)

    letter = DeadLetter.from_raw(b"{", reason=ReasonCode.INVALID_JSON, message="m", time_ms=MAY_3)
    store.insert_dead_letters([letter, letter])
    assert sql(store, "SELECT reason, letters FROM dead_letters_per_hour") == [("invalid_json", 1)]
