"""affect.vader.v1: valence and arousal of a text from the VADER sentiment lexicon.

- valence ∈ [−1, 1]: VADER's `compound` score, the normalized sum of the lexicon valences of
  the words after VADER's rules (negation "not good", boosters "very", "but" shifts,
  ALL-CAPS and "!" emphasis).
- arousal ∈ [0, 1]: the same normalization applied to the *absolute* sentiment mass,
  `A = Σ|vᵢ| + e`, `arousal = A / √(A² + 15)`, where vᵢ are VADER's per-word valences after
  its rules and e its "!"/"?" emphasis. Positive and negative words both add to it instead
  of cancelling, so "I love the food but hate the noise" is aroused but of mixed valence,
  "The meeting is at 3pm" is 0, and "I LOVE this!!!" is above "I love this".
  VADER's own `1 − neu` share was not used: it is 1.0 for a lone "good" or "ok thanks",
  because it measures the share of the text that is emotional, not how strongly.

Limit, on purpose stated: VADER has valence only, so for a one-sided text arousal equals
|valence|; the two differ for mixed texts. "Calm but positive" versus "excited" needs a
valence–arousal lexicon (e.g. NRC-VAD) in a later affect stage.

The lexicon ships inside the vaderSentiment wheel; the analyzer is built once per process.
Speed: three of VADER's steps are re-done faster (see `_Analyzer`), with the same result to
the last bit; a test compares the two on every text it has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    N_SCALAR,
    NEGATE,
    SentimentIntensityAnalyzer,
    SentiText,
)

from lumina.schemas import Affect

from .stage import Draft, Stage

__all__ = ["VaderAffect", "affect_batch", "affect_of"]

# VADER's constant in x / √(x² + α): about the largest sum of valences a sentence reaches.
VADER_ALPHA = 15.0


def _negated(lower: str) -> bool:
    # VADER's `negated([word])` for one lowercase word, without its list building.
    return lower in NEGATE or "n't" in lower


class _Analyzer(SentimentIntensityAnalyzer):
    """VADER that also reports the absolute sentiment mass of the text as `intensity`.

    Same scores as upstream, about 40% sooner. Upstream walks every character to swap emoji
    for their names, lowercases the whole word list again for every negation check, and runs
    its valence rules for every word; here a text with no emoji skips the walk, a negation
    check lowercases only the one to three words it reads, and a word that is neither in the
    lexicon nor "kind" (of) nor a booster gets its 0 without the rules (upstream's rules give
    0 for it too). `test_affect_matches_upstream_vader` holds the two equal.
    """

    def __init__(self) -> None:
        super().__init__()
        # Upstream tests emoji one character at a time, so only 1-character keys ever match.
        self._emoji_chars = frozenset(key for key in self.emojis if len(key) == 1)

    def polarity_scores(self, text: str) -> dict[str, Any]:
        if not self._emoji_chars.isdisjoint(text):
            return dict(super().polarity_scores(text))
        text = text.strip()  # what upstream's emoji walk leaves of a text without emoji
        sentitext = SentiText(text)
        words = sentitext.words_and_emoticons
        last = len(words) - 1
        sentiments: list[float] = []
        for i, item in enumerate(words):
            lower = item.lower()
            if lower not in self.lexicon or lower in BOOSTER_DICT:
                sentiments.append(0)  # upstream's value for both, by different routes
            elif lower == "kind" and i < last and words[i + 1].lower() == "of":
                sentiments.append(0)
            else:
                sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)

    @staticmethod
    def _negation_check(valence: float, words: list[str], start_i: int, i: int) -> float:
        # Upstream's rules word for word; it reads at most words[i-3 .. i-1].
        def lower(k: int) -> str:
            return words[k].lower()

        if start_i == 0 and _negated(lower(i - 1)):
            valence *= N_SCALAR
        elif start_i == 1:
            if lower(i - 2) == "never" and lower(i - 1) in ("so", "this"):
                valence *= 1.25
            elif lower(i - 2) == "without" and lower(i - 1) == "doubt":
                pass
            elif _negated(lower(i - 2)):
                valence *= N_SCALAR
        elif start_i == 2:
            if (lower(i - 3) == "never" and lower(i - 2) in ("so", "this")) or lower(i - 1) in (
                "so",
                "this",
            ):
                valence *= 1.25
            elif lower(i - 3) == "without" and "doubt" in (lower(i - 2), lower(i - 1)):
                pass
            elif _negated(lower(i - 3)):
                valence *= N_SCALAR
        return valence

    def score_valence(self, sentiments: list[float], text: str) -> dict[str, Any]:
        scores: dict[str, Any] = super().score_valence(sentiments, text)
        mass = float(sum(abs(s) for s in sentiments))
        if mass > 0.0:
            mass += self._punctuation_emphasis(text)
        scores["intensity"] = mass / math.sqrt(mass * mass + VADER_ALPHA)
        return scores


@lru_cache(maxsize=1)
def _analyzer() -> _Analyzer:
    # Reading and parsing the 7,500-entry lexicon takes ~50 ms; do it once per process.
    return _Analyzer()


def affect_of(text: str) -> Affect:
    scores = _analyzer().polarity_scores(text)
    valence = max(-1.0, min(1.0, float(scores["compound"])))
    arousal = max(0.0, min(1.0, float(scores["intensity"])))
    return Affect(valence=round(valence, 4), arousal=round(arousal, 4))


def affect_batch(texts: Sequence[str]) -> list[Affect]:
    """One Affect per text, in order."""
    return [affect_of(text) for text in texts]


class VaderAffect(Stage):
    """Lexicon affect with VADER; about 35 µs per 20-word text."""

    name = "affect"
    version = "affect.vader.v1"
    requires = ("text",)
    assigns = ("affect",)

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        for draft, affect in zip(drafts, affect_batch([d.text for d in drafts]), strict=True):
            draft.affect = affect
        return drafts
