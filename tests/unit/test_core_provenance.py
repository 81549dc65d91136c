"""Per-scope provenance chains: appending, verifying and detecting tampering."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from lumina.core.identity import unit_id
from lumina.core.provenance import (
    GENESIS,
    ChainEntry,
    ProvenanceChain,
    chain_link,
    verify_chain,
)

T0 = 1_767_225_600_000


def build(scope: str, n: int, chain: ProvenanceChain | None = None) -> list[ChainEntry]:
    chain = chain if chain is not None else ProvenanceChain()
    return [chain.append(scope, unit_id(scope, [("offset", i)]), T0 + 1_000 * i) for i in range(n)]


def test_provenance_appended_chain_verifies() -> None:
    entries = build("team-a", 6)
    verdict = verify_chain(entries)
    assert verdict.ok and verdict.checked == 6 and verdict.first_broken is None
    assert entries[0].previous == GENESIS
    assert all(e.previous == p.link for p, e in itertools.pairwise(entries))
    assert str(verdict) == "chain ok: 6 entries verified"


def test_provenance_head_tracks_last_link() -> None:
    chain = ProvenanceChain()
    assert chain.head("new-scope") == GENESIS
    entries = build("s", 3, chain)
    assert chain.head("s") == entries[-1].link == chain.heads["s"]


def test_provenance_tampered_link_names_that_entry() -> None:
    entries = build("team-a", 5)
    entries[2] = dataclasses.replace(entries[2], link="f" * 64)
    verdict = verify_chain(entries)
    assert not verdict.ok
    assert verdict.first_broken == 2 and verdict.unit_id == entries[2].unit_id
    assert verdict.reason == "link does not recompute"
    assert "entry 2" in str(verdict) and entries[2].unit_id in str(verdict)


def test_provenance_tampered_time_is_caught() -> None:
    entries = build("team-a", 4)
    entries[1] = dataclasses.replace(entries[1], time_ms=entries[1].time_ms + 1)
    verdict = verify_chain(entries)
    assert (verdict.first_broken, verdict.reason) == (1, "link does not recompute")


def test_provenance_reordering_is_caught() -> None:
    entries = build("team-a", 5)
    entries[1], entries[3] = entries[3], entries[1]
    verdict = verify_chain(entries)
    assert not verdict.ok
    assert verdict.first_broken == 1 and verdict.unit_id == entries[1].unit_id
    assert verdict.reason == "previous link does not match"


def test_provenance_dropped_entry_is_caught() -> None:
    entries = build("team-a", 5)
    del entries[2]
    assert verify_chain(entries).first_broken == 2


def test_provenance_scopes_are_independent() -> None:
    chain = ProvenanceChain()
    a_alone = build("a", 3)
    interleaved_a = []
    for i in range(3):
        interleaved_a.append(chain.append("a", unit_id("a", [("offset", i)]), T0 + 1_000 * i))
        chain.append("b", unit_id("b", [("offset", i)]), T0 + 1_000 * i)
    assert interleaved_a == a_alone
    assert chain.head("a") != chain.head("b")
    assert verify_chain(interleaved_a).ok


def test_provenance_verify_resumes_from_a_known_head() -> None:
    entries = build("s", 6)
    assert verify_chain(entries[3:], start=entries[2].link).ok
    assert verify_chain(entries[3:]).first_broken == 0


def test_provenance_malformed_entry_is_reported_not_raised() -> None:
    entries = build("s", 2)
    entries[1] = dataclasses.replace(entries[1], unit_id="not-hex")
    verdict = verify_chain(entries)
    assert verdict.first_broken == 1 and verdict.reason is not None
    assert verdict.reason.startswith("malformed entry")


def test_provenance_chain_link_rejects_non_canonical_hex() -> None:
    good = unit_id("s", [])
    assert len(chain_link(GENESIS, good, -5)) == 64
    with pytest.raises(ValueError):
        chain_link(GENESIS, good.upper(), 0)
    with pytest.raises(ValueError):
        chain_link(GENESIS, good[:-2], 0)


def test_provenance_link_depends_on_every_input() -> None:
    uid, other = unit_id("s", [("n", 1)]), unit_id("s", [("n", 2)])
    base = chain_link(GENESIS, uid, T0)
    assert chain_link("1" * 64, uid, T0) != base
    assert chain_link(GENESIS, other, T0) != base
    assert chain_link(GENESIS, uid, T0 + 1) != base


def test_provenance_chain_counts_positions_per_scope() -> None:
    chain = ProvenanceChain()
    sequences = []
    for i in range(3):
        placed = chain.place("s", unit_id("s", [("n", i)]), T0 + i)
        assert chain.place("s", placed.entry.unit_id, T0 + i) == placed  # placing is not recording
        assert chain.record("s", placed)
        sequences.append(placed.sequence)
    assert sequences == [1, 2, 3]
    assert chain.place("other", unit_id("other", [("n", 0)]), T0).sequence == 1


def test_provenance_relinking_a_known_unit_keeps_its_place() -> None:
    # A restarted worker re-processes units it had already linked (at-least-once delivery):
    # seeded with what it stored, the chain gives them their old place and does not fork.
    first = ProvenanceChain()
    ids = [unit_id("s", [("n", i)]) for i in range(4)]
    for i, uid in enumerate(ids):
        first.record("s", first.place("s", uid, T0 + i))
    resumed = ProvenanceChain(
        heads=dict(first.heads), lengths=dict(first.lengths), linked=dict(first.linked)
    )
    again = [resumed.place("s", uid, T0 + i) for i, uid in enumerate(ids[2:], start=2)]
    assert again == [first.linked[uid] for uid in ids[2:]]
    assert not any(resumed.record("s", p) for p in again)
    assert resumed.head("s") == first.head("s") and resumed.lengths["s"] == 4
    new = resumed.place("s", unit_id("s", [("n", 4)]), T0 + 4)
    assert new.entry.previous == first.head("s") and new.sequence == 5


def test_provenance_relinking_units_past_a_lost_head_moves_the_head() -> None:
    # A SIGKILL kept the links of units 3 and 4 (written first) but lost the head moves
    # after them: re-processing 3 and 4 must bring the head along, or unit 5 would be
    # linked after 2 and give position 3 a second time (seen on Kafka, tests/integration/
    # test_e2e_recovery.py, with 512 kB producer batches).
    first = ProvenanceChain()
    ids = [unit_id("s", [("n", i)]) for i in range(5)]
    for i, uid in enumerate(ids[:4]):
        first.record("s", first.place("s", uid, T0 + i))
    lost_head = ProvenanceChain(
        heads={"s": first.linked[ids[1]].entry.link}, lengths={"s": 2}, linked=dict(first.linked)
    )
    for i, uid in enumerate(ids[2:4], start=2):
        assert not lost_head.record("s", lost_head.place("s", uid, T0 + i))
    new = lost_head.place("s", ids[4], T0 + 4)
    assert new.sequence == 5 and new.entry.previous == first.head("s")
