"""Search, recall and unbind on real chDB with real (static) embeddings: what a user sees."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lumina.config import Settings
from lumina.enrich import enrich
from lumina.enrich.embed import StaticEmbedder
from lumina.errors import QueryRefused
from lumina.schemas import MemoryUnit, TextEvent
from lumina.state.reinforcement import DecayState, reinforced_unit
from lumina.store import MemoryStore, open_store, retrieval
from lumina.store.retrieval import Filters
from lumina.store.search import MemorySearch, SearchWeights, fuse

DAY_MS = 86_400_000
NOW_MS = int(time.time() * 1000)

NOTES = [
    ("alice", "s1", "Alice flew to Munich for the Globex contract review."),
    ("bob", "s1", "Bob moved the staging database to Frankfurt because the hosts failed."),
    ("carol", "s2", "Carol booked the harbour restaurant in Lisbon for the team dinner."),
    ("alice", "s2", "Alice presented the quarterly roadmap in Berlin."),
    ("dave", "s3", "The invoice XQ-7731 from Initech is overdue by two weeks."),
    ("bob", "s3", "Bob fixed the flaky login test with a retry."),
    ("carol", "s1", "Carol met the Globex lawyers in Munich about the contract."),
    ("dave", "s2", "Dave is drafting the hiring plan for the Lisbon office."),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    store = open_store(f"chdb://{tmp_path / 'store'}")
    yield store
    store.close()


@pytest.fixture
def units(lumina_env: dict[str, str]) -> list[MemoryUnit]:
    events = [
        TextEvent(
            scope="team-a",
            author=author,
            session=session,
            text=text,
            ts=NOW_MS - (len(NOTES) - i) * DAY_MS,  # one a day, the last yesterday
            event_id=f"n{i}",
        )
        for i, (author, session, text) in enumerate(NOTES)
    ]
    return enrich(events, Settings())


@pytest.fixture
def search(store: MemoryStore, units: list[MemoryUnit]) -> MemorySearch:
    store.insert_units(units)
    return MemorySearch(store, StaticEmbedder.from_models_dir(Settings().models_dir))


def texts(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.text for h in hits]


def test_search_finds_a_rare_code_by_its_words(search: MemorySearch) -> None:
    """An identifier has no useful embedding; BM25 over the scope finds it."""
    (top, *_) = search.search("XQ-7731", "team-a", k=3)
    assert top.text.startswith("The invoice XQ-7731")
    assert top.lexical_rank == 1


def test_search_ranks_units_matching_both_ways_first(search: MemorySearch) -> None:
    hits = search.search("Globex contract in Munich", "team-a", k=8)
    assert {hits[0].text[:5], hits[1].text[:5]} == {"Alice", "Carol"}
    assert hits[0].dense_rank is not None and hits[0].lexical_rank is not None
    assert hits[0].score >= hits[1].score >= hits[-1].score


def test_search_filters_by_author_session_and_time(search: MemorySearch) -> None:
    by_alice = search.search("Munich Berlin Lisbon", "team-a", k=8, filters=Filters(author="alice"))
    assert by_alice and {h.author for h in by_alice} == {"alice"}
    in_s3 = search.search("invoice test", "team-a", k=8, filters=Filters(session="s3"))
    assert in_s3 and {h.session for h in in_s3} == {"s3"}
    recent = search.search(
        "Lisbon",
        "team-a",
        k=8,
        filters=Filters(since_ms=NOW_MS - DAY_MS - DAY_MS // 2, until_ms=NOW_MS),
    )
    assert texts(recent) == [NOTES[-1][2]]


def test_search_lifts_a_reinforced_unit_over_an_equal_one(
    store: MemoryStore, search: MemorySearch, units: list[MemoryUnit]
) -> None:
    twins = enrich(
        [
            TextEvent(scope="twins", text="Quarterly numbers are ready.", ts=NOW_MS - 30 * DAY_MS),
            TextEvent(
                scope="twins", text="The quarterly numbers are ready.", ts=NOW_MS - 30 * DAY_MS
            ),
        ],
        Settings(),
    )
    store.insert_units(twins)
    before = search.search("quarterly numbers ready", "twins", k=2)
    weaker = before[1]
    unit = next(u for u in twins if u.id == weaker.id)
    store.insert_units([reinforced_unit(unit, DecayState(unit.decay.half_life_s * 1.5, NOW_MS, 1))])
    after = search.search("quarterly numbers ready", "twins", k=2)
    assert after[0].id == weaker.id and after[0].access_count == 1
    assert after[0].strength > 0.99 > after[1].strength
    no_strength = MemorySearch(store, search.encoder, SearchWeights(strength=0.0))
    assert [h.id for h in no_strength.search("quarterly numbers ready", "twins", k=2)] == [
        h.id for h in before
    ]


def test_search_results_survive_redelivery_unchanged(
    store: MemoryStore, search: MemorySearch, units: list[MemoryUnit]
) -> None:
    first = search.search("Globex contract", "team-a", k=8)
    store.insert_units(units)  # the whole batch again, as after a crash before commit
    second = search.search("Globex contract", "team-a", k=8)
    assert [(h.id, h.relevance) for h in first] == [(h.id, h.relevance) for h in second]


def test_recall_ranks_the_unit_with_both_roles_first(
    search: MemorySearch, units: list[MemoryUnit]
) -> None:
    alice_munich = next(u for u in units if u.text.startswith("Alice flew"))
    assert (alice_munich.roles.who, alice_munich.roles.where) == ("Alice", "Munich")
    hits = search.recall({"who": "Alice", "where": "Munich"}, "team-a", k=3)
    assert hits[0].id == alice_munich.id
    assert hits[0].relevance > hits[1].relevance


def test_unbind_reads_the_where_back_out_of_a_stored_shape(
    search: MemorySearch, units: list[MemoryUnit]
) -> None:
    unit = next(u for u in units if u.text.startswith("Carol booked"))
    fillers = search.unbind(unit.id, "where", "team-a")
    assert fillers[0]["filler"] == unit.roles.where.lower()
    assert fillers[0]["similarity"] > fillers[1]["similarity"]


@pytest.mark.parametrize(
    "scope", ["team-a' OR '1'='1", "team-a\\' OR 1=1 --", "", "x" * 129, "team-%", "team-a\x00"]
)
def test_every_query_refuses_adversarial_scopes(search: MemorySearch, scope: str) -> None:
    with pytest.raises(QueryRefused):
        search.search("Munich", scope)
    with pytest.raises(QueryRefused):
        search.recall({"who": "Alice"}, scope)
    with pytest.raises(QueryRefused):
        search.unbind("x", "where", scope)


def test_no_query_reaches_into_another_scope(
    store: MemoryStore, search: MemorySearch, units: list[MemoryUnit]
) -> None:
    other = enrich([TextEvent(scope="team-b", text="Alice flew to Munich again.")], Settings())
    store.insert_units(other)
    team_a = {u.id for u in units}
    assert {h.id for h in search.search("Alice Munich", "team-a", k=50)} <= team_a
    assert {h.id for h in search.recall({"who": "Alice"}, "team-a", k=50)} <= team_a
    with pytest.raises(QueryRefused, match="no unit"):
        search.unbind(other[0].id, "where", "team-a")
    # A scope that is a prefix of another sees only its own units.
    assert search.search("Alice Munich", "team", k=50) == []


def test_queries_refuse_bad_arguments(search: MemorySearch) -> None:
    with pytest.raises(QueryRefused, match="empty"):
        search.search("  ", "team-a")
    with pytest.raises(QueryRefused, match="k must"):
        search.search("Munich", "team-a", k=0)
    with pytest.raises(QueryRefused, match="unknown role"):
        search.recall({"whom": "Alice"}, "team-a")
    with pytest.raises(QueryRefused, match="at least one role"):
        search.recall({}, "team-a")


def test_fuse_gives_one_to_a_unit_first_everywhere() -> None:
    fused = fuse([(1.0, ["a", "b"]), (1.0, ["a", "c"])], rrf_k=60)
    assert fused["a"] == (pytest.approx(1.0), [1, 1])
    assert fused["b"][1] == [2, None] and fused["b"][0] < fused["a"][0]


def test_bm25_anchors_on_the_rarest_words_within_the_row_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Candidates come from the rarest words until their postings fill the budget; the
    rarest word is always taken, however common."""
    monkeypatch.setattr(retrieval, "MAX_SCORED_ROWS", 100)
    df = {"the": 900, "contract": 60, "globex": 30, "munich": 50}
    assert retrieval.candidate_terms(df, list(df)) == ["globex", "munich"]
    assert retrieval.candidate_terms({"the": 900, "a": 950}, ["the", "a"]) == ["the"]


def test_lexical_candidates_come_from_the_rarest_word_within_the_budget(
    store: MemoryStore, units: list[MemoryUnit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for one word only, the candidates are the units holding the query's
    rarest word, though other units hold its other words; frequencies and the query's
    words come from ClickHouse as the text index sees them."""
    store.insert_units(units)
    monkeypatch.setattr(retrieval, "MAX_SCORED_ROWS", 1)
    ranked = retrieval.lexical_candidates(
        store, "team-a", "Carol Munich contract lawyers", 10, Filters()
    )
    assert [unit_id for unit_id, _ in ranked] == [units[6].id]  # "lawyers" is in one unit
    assert retrieval.term_rows(store, "team-a", ["munich", "lawyers", "zebra"]) == {
        "munich": 2,
        "lawyers": 1,
    }
    assert retrieval.query_terms(store, "Über die XQ-7731, über!") == [
        "Über",
        "die",
        "xq",
        "7731",
        "über",
    ]
