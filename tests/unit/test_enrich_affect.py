"""affect.vader.v1: valence and arousal from the VADER lexicon."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lumina.enrich.affect import VaderAffect, affect_batch, affect_of
from lumina.enrich.stage import Draft
from lumina.schemas import TextEvent


def test_affect_clearly_positive_text_has_high_valence() -> None:
    assert affect_of("I love this, it's wonderful!").valence > 0.5


def test_affect_clearly_negative_text_has_low_valence() -> None:
    assert affect_of("This is terrible and I hate it").valence < -0.5


def test_affect_negation_flips_valence() -> None:
    assert affect_of("not good").valence < 0.0 < affect_of("good").valence


def test_affect_neutral_statement_is_calm() -> None:
    affect = affect_of("The meeting is at 3pm in room 4.")
    assert affect.valence == 0.0
    assert affect.arousal == 0.0


def test_affect_shouting_raises_arousal() -> None:
    assert affect_of("I LOVE this!!!").arousal > affect_of("I love this").arousal


def test_affect_mixed_feelings_are_aroused_but_not_extreme() -> None:
    mixed = affect_of("I love the food but hate the noise")
    assert mixed.arousal > abs(mixed.valence)
    assert mixed.arousal > affect_of("I love the food").arousal


def test_affect_batch_keeps_order() -> None:
    texts = ["awful, just awful", "the sky is blue", "best day ever!"]
    assert affect_batch(texts) == [affect_of(t) for t in texts]


def test_affect_stage_fills_every_draft() -> None:
    texts = ["great news!", "the server is down again, terrible"]
    drafts = [Draft.from_event(TextEvent(scope="s", text=t), 0) for t in texts]
    out = VaderAffect()(drafts)
    assert out[0].affect.valence > 0 > out[1].affect.valence


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_affect_ranges_hold_for_any_text(text: str) -> None:
    affect = affect_of(text)
    assert -1.0 <= affect.valence <= 1.0
    assert 0.0 <= affect.arousal <= 1.0
