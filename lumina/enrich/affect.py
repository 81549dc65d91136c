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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from lumina.schemas import Affect

from .stage import Draft, Stage

__all__ = ["VaderAffect", "affect_batch", "affect_of"]

# VADER's constant in x / √(x² + α): about the largest sum of valences a sentence reaches.
VADER_ALPHA = 15.0


class _Analyzer(SentimentIntensityAnalyzer):
    """VADER that also reports the absolute sentiment mass of the text as `intensity`."""

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
    """Lexicon affect with VADER; about 60 µs per 20-word text."""

    name = "affect"
    version = "affect.vader.v1"
    requires = ("text",)
    assigns = ("affect",)

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        for draft, affect in zip(drafts, affect_batch([d.text for d in drafts]), strict=True):
            draft.affect = affect
        return drafts
