"""shape.hrr.v1: roles bound to fillers in one HRR vector that can be unbound and probed."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from wordfreq import top_n_list

from lumina.core.hrr import CleanupMemory, bind, cosine, normalize, superpose, unbind
from lumina.core.symbols import role_vector, symbol_matrix, symbol_vector
from lumina.enrich.attribution_fast import FastAttribution
from lumina.enrich.roles_rules import RuleRoles
from lumina.enrich.shape import HrrShape, canonical_filler, probe
from lumina.enrich.stage import Draft
from lumina.enrich.tokenizer import RegexTokenizer
from lumina.schemas import TextEvent

DIM = 1024

SENTENCES_WITH_A_PLACE = [
    ("I met Alice at the office yesterday because the release slipped.", "bob"),
    ("Alice went to Paris last week to visit her parents.", "bob"),
    ("Meeting with the design team at 3pm in Berlin.", "dave"),
    ("Lunch with Carol near Union Square on March 3rd.", "bob"),
    ("The board approved the merger on 2024-05-01 in New York.", "newsdesk"),
    ("Tomorrow I'm flying from London to Tokyo for the conference.", "frank"),
    ("Dr. Smith will review the scans at the hospital on Thursday.", "nurse"),
    ("Alice and Bob argued about the budget in the kitchen.", "carol"),
    ("lol yes, see you at the gym at 7", "alice"),
    ("Our Kubernetes cluster in Frankfurt went down overnight because of a bad certificate.",
     "sre"),
    ("Yesterday Reuters reported that Bank of America cut rates in New York.", "news"),
    ("Because it rained, we stayed home and watched films.", "bob"),
]  # fmt: skip


def _shape(texts_and_authors: list[tuple[str, str | None]]) -> list[Draft]:
    drafts = [
        Draft.from_event(TextEvent(scope="s", text=t, author=a), 0) for t, a in texts_and_authors
    ]
    for stage in (RegexTokenizer(), FastAttribution(), RuleRoles(), HrrShape(DIM)):
        drafts = stage(drafts)
    return drafts


@pytest.fixture(scope="module")
def filler_vocabulary() -> list[str]:
    return sorted({canonical_filler(w) for w in top_n_list("en", 10_000)})


def test_shape_unbinding_where_cleans_up_to_the_place(filler_vocabulary: list[str]) -> None:
    drafts = _shape(SENTENCES_WITH_A_PLACE)
    truth = {canonical_filler(f) for d in drafts for f in d.roles.filled().values()}
    names = sorted(set(filler_vocabulary) | truth)
    assert len(names) > 10_000
    memory = CleanupMemory(names, symbol_matrix(names, DIM, "filler"))
    for draft in drafts:
        assert draft.roles.where is not None, draft.text
        recovered = unbind(draft.shape, role_vector("where", DIM))
        (best, _), *_ = memory.nearest(recovered, 1)
        assert best == canonical_filler(draft.roles.where), draft.text


def test_shape_missing_role_gets_no_weight() -> None:
    (draft,) = _shape([("Please restart the worker tonight.", "alice")])
    assert draft.roles.where is None and draft.roles.why is None
    assert "where" not in draft.shape_weights and "why" not in draft.shape_weights
    assert set(draft.shape_weights) == set(draft.roles.filled())
    assert all(0.1 <= w <= 1.0 for w in draft.shape_weights.values())


def test_shape_is_unit_norm_and_zero_without_roles() -> None:
    filled, empty = _shape([("We shipped the release in Oslo.", "ann"), ("ok", None)])
    assert np.isclose(np.linalg.norm(filled.shape), 1.0, atol=1e-5)
    assert empty.roles.filled() == {}
    assert not np.any(empty.shape)


def test_shape_rarer_filler_gets_more_weight() -> None:
    (draft,) = _shape([("We met in Reykjavik at the office.", "ann")])
    (other,) = _shape([("We met at the office.", "ann")])
    assert draft.roles.where == "Reykjavik"
    assert draft.shape_weights["where"] > other.shape_weights["where"]


def test_shape_canonical_filler_merges_spellings() -> None:
    assert canonical_filler("the  Office.") == canonical_filler("office") == "office"
    assert canonical_filler("New   York") == "new york"
    assert canonical_filler("A") == "a"  # an article alone stays a symbol


def test_shape_probe_ranks_the_matching_unit_first() -> None:
    names = ["Alice", "Carol", "Priya", "Tomasz", "Lena", "Omar", "Yuki", "Marta"]
    places = [
        "Berlin",
        "Paris",
        "Tokyo",
        "Lisbon",
        "Oslo",
        "Nairobi",
        "Lima",
        "Seoul",
        "Dublin",
        "Prague",
    ]
    doings = [
        "reviewed the budget",
        "fixed the login bug",
        "presented the roadmap",
        "met the new client",
        "tested the mobile app",
    ]
    times = ["yesterday", "on Monday", "last week", "this morning"]
    rng = random.Random(7)
    combos = [
        c
        for c in itertools.product(names, doings, places, times)
        if c[0] != "Alice" or c[2] != "Berlin"
    ]
    rng.shuffle(combos)
    texts: list[tuple[str, str | None]] = [
        (f"{who} {doing} in {where} {when}.", "reporter")
        for who, doing, where, when in combos[:200]
    ]
    # First-person turns too, where `who` is the author (never Alice, to keep one match).
    texts += [
        (f"I {d} in {p} {t}.", rng.choice(names[1:]).lower())
        for d, p, t in itertools.islice(itertools.product(doings, places, times), 0, 200, 7)
    ]
    target_text = "Alice presented the roadmap in Berlin this morning."
    texts.append((target_text, "reporter"))
    rng.shuffle(texts)
    drafts = _shape(texts)
    assert len(drafts) >= 200
    matching = [d for d in drafts if d.roles.who == "Alice" and d.roles.where == "Berlin"]
    assert [d.text for d in matching] == [target_text]
    shapes = np.stack([d.shape for d in drafts])
    scores = cosine(shapes, probe({"who": "Alice", "where": "Berlin"}, DIM))
    ranked = np.argsort(-scores)
    assert drafts[ranked[0]].text == target_text
    # Units sharing only one of the two roles come next, above units sharing none.
    second = drafts[ranked[1]].roles
    assert second.who == "Alice" or second.where == "Berlin"


def test_shape_probe_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        probe({"whom": "Alice"}, DIM)


def test_shape_equals_the_documented_formula() -> None:
    # Downstream code may rebuild a shape from the stored roles and weights; it must match.
    (draft,) = _shape([("Alice deployed the billing service in Dublin on Friday.", "ops")])
    filled = draft.roles.filled()
    roles = list(filled)
    fillers = np.stack([symbol_vector(canonical_filler(filled[r]), DIM, "filler") for r in roles])
    keys = np.stack([role_vector(r, DIM) for r in roles])
    expected = normalize(superpose(bind(keys, fillers), [draft.shape_weights[r] for r in roles]))
    assert np.allclose(draft.shape, expected, atol=1e-5)
