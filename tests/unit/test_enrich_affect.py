"""affect.vader.v1: valence and arousal from the VADER lexicon."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from lumina.enrich.affect import VaderAffect, _analyzer, affect_batch, affect_of
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


# Texts that walk every rule the faster analyzer re-does: emoji, negation one to three words
# back, "never so", "without doubt", "kind of", boosters, "but", "least", caps and "!"/"?".
VADER_EDGE_CASES = [
    "I do not love this at all!!!",
    "NOT good, but kind of great",
    "it was never so happy a day",
    "without doubt the best, without any doubt",
    "no good at all, no really not good",
    "I LOVE it 😀 and hate 😡 it",
    "at least it works, very least it fails",
    "it's sort of bad and kinda good",
    "It isn't horrible?? really??",
    "she wasn't really very happy",
    "this is the shit, the bomb, yeah right",
    "  padded text with a smile :) ",
    "kind",
]


@lru_cache(maxsize=1)
def _upstream() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def _vader_words() -> st.SearchStrategy[str]:
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE

    lexicon = sorted(_upstream().lexicon)[::40]
    rules = ["not", "never", "so", "this", "without", "doubt", "kind", "of", "but", "least", "at"]
    pool = lexicon + sorted(NEGATE) + sorted(BOOSTER_DICT) + rules + ["the", "table", "GREAT"]
    return st.sampled_from(pool)


def test_affect_matches_upstream_vader_on_edge_cases_and_demo() -> None:
    demo = resources.files("lumina.data").joinpath("demo_conversation.jsonl").read_text()
    texts = VADER_EDGE_CASES + [json.loads(line)["text"] for line in demo.splitlines()]
    upstream = _upstream()
    for text in texts:
        # compound is the one upstream score Lumina keeps (pos/neu/neg are not computed)
        assert (
            _analyzer().polarity_scores(text)["compound"]
            == upstream.polarity_scores(text)["compound"]
        ), text


@settings(max_examples=300, deadline=None)
@given(st.lists(_vader_words(), min_size=1, max_size=12), st.sampled_from(["", "!", "!!", "??"]))
def test_affect_matches_upstream_vader_on_word_salad(words: list[str], tail: str) -> None:
    text = " ".join(words) + tail
    expected = _upstream().polarity_scores(text)["compound"]
    assert _analyzer().polarity_scores(text)["compound"] == expected
