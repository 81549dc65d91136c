"""Exact duplicates: the pipeline with a content index, and the reinforcement ledger."""

from __future__ import annotations

from typing import Any

import pytest

from lumina.config import Settings
from lumina.core.provenance import ChainEntry, ProvenanceChain, verify_chain
from lumina.enrich import Incoming, Pipeline
from lumina.enrich.embed import StaticEmbedder
from lumina.schemas import TextEvent
from lumina.state import ContentIndex, DecayLedger
from lumina.state.reinforcement import DecayState, ingest_state, reinforced_unit

NOW = 1_780_000_000_000


@pytest.fixture
def pipeline(embedder: StaticEmbedder, tmp_path: Any) -> Pipeline:
    return Pipeline.from_settings(Settings(home=tmp_path), embedder=embedder, clock=lambda: NOW)


def events(*texts: str, scope: str = "s", ids: str = "e") -> list[Incoming]:
    return [
        Incoming(TextEvent(scope=scope, text=t, author="Ann", event_id=f"{ids}{i}", ts=NOW + i))
        for i, t in enumerate(texts)
    ]


def test_consolidation_exact_duplicate_makes_no_unit_and_counts(pipeline: Pipeline) -> None:
    index = ContentIndex({})
    chain = ProvenanceChain()
    batch = events("Lunch at Rosa's on Friday.", "Other text.", " Lunch at  Rosa's on Friday.")
    result = pipeline.run(batch[:2], chain, claims=index)
    assert len(result.units) == 2 and not result.duplicates
    # The same text again, later and in another batch, with its own event id.
    again = pipeline.run(events("Lunch at Rosa's on Friday.", "New.", ids="f"), chain, claims=index)
    (dup,) = again.duplicates
    assert dup.kept_id == result.units[0].id and dup.absorbed_id != dup.kept_id
    assert dup.duplicates == 1
    assert [u.text for u in again.units] == ["New."]
    # Whitespace differs, normalized text does not: a duplicate too. (Case is kept.)
    assert pipeline.run(batch[2:], chain, claims=index).duplicates[0].duplicates == 2
    # Duplicates take no place in the chain: it still verifies end to end.
    units = result.units + again.units
    entries = [
        ChainEntry(u.id, u.timestamps.event_ms, u.provenance.previous_link, u.provenance.chain_link)
        for u in units
    ]
    assert verify_chain(entries).ok


def test_consolidation_redelivery_of_the_kept_event_is_not_a_duplicate(pipeline: Pipeline) -> None:
    index = ContentIndex({})
    first = pipeline.run(events("Call Bo at noon."), ProvenanceChain(), claims=index)
    second = pipeline.run(events("Call Bo at noon."), ProvenanceChain(), claims=index)
    assert not second.duplicates and second.units[0].id == first.units[0].id


def test_consolidation_is_per_scope(pipeline: Pipeline) -> None:
    index = ContentIndex({})
    pipeline.run(events("Same words.", scope="a"), ProvenanceChain(), claims=index)
    other = pipeline.run(events("Same words.", scope="b"), ProvenanceChain(), claims=index)
    assert len(other.units) == 1 and not other.duplicates


def test_reinforcement_stretches_half_life_resets_clock_and_counts(pipeline: Pipeline) -> None:
    (unit,) = pipeline.run(events("Met Dana in Porto."), ProvenanceChain()).units
    ledger = DecayLedger({}, alpha=0.5, half_life_max_s=unit.decay.half_life_s * 2)
    first = ledger.access("s", unit.id, NOW + 60_000, ingest_state(unit))
    assert first == DecayState(unit.decay.half_life_s * 1.5, NOW + 60_000, 1)
    second = ledger.access("s", unit.id, NOW + 30_000)  # an older access keeps the clock
    assert second == DecayState(unit.decay.half_life_s * 2, NOW + 60_000, 2)  # capped
    version = reinforced_unit(unit, second)
    assert version.id == unit.id and version.decay.access_count == 2
    assert version.timestamps.last_access_ms == NOW + 60_000
    assert version.embedding.tolist() == unit.embedding.tolist()


def test_reinforcement_needs_a_starting_state() -> None:
    with pytest.raises(KeyError):
        DecayLedger({}, alpha=0.5, half_life_max_s=10.0).access("s", "u", NOW)


def test_consolidation_redelivered_duplicate_is_a_repeat_counted_once(pipeline: Pipeline) -> None:
    index = ContentIndex({})
    pipeline.run(events("Pay rent.", ids="a"), ProvenanceChain(), claims=index)
    (first,) = pipeline.run(
        events("Pay rent.", ids="b"), ProvenanceChain(), claims=index
    ).duplicates
    (again,) = pipeline.run(
        events("Pay rent.", ids="b"), ProvenanceChain(), claims=index
    ).duplicates
    assert (first.repeat, again.repeat) == (False, True)
    assert first.duplicates == again.duplicates == 1
