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
import string
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    allcap_differential,
    scalar_inc_dec,
)
from vaderSentiment.vaderSentiment import normalize as vader_normalize

from lumina.schemas import Affect

from .stage import Draft, Stage

__all__ = ["VaderAffect", "affect_batch", "affect_of"]

_PUNCTUATION = string.punctuation

# VADER's constant in x / √(x² + α): about the largest sum of valences a sentence reaches.
VADER_ALPHA = 15.0


def _negated(lower: str) -> bool:
    # VADER's `negated([word])` for one lowercase word, without its list building.
    return lower in NEGATE or "n't" in lower


class _Analyzer(SentimentIntensityAnalyzer):
    """VADER that also reports the absolute sentiment mass of the text as `intensity`.

    Same compound score as upstream, sooner. Upstream walks every character to swap emoji
    for their names, lowercases the whole word list again for every negation and idiom
    check, runs its valence rules for every word, and computes pos/neu/neg shares Lumina
    does not keep. Here a text with no emoji skips the walk, the words are lowercased once,
    a word that is neither in the lexicon nor "kind" (of) nor a booster gets its 0 without
    the rules (upstream's rules give 0 for it too), and only compound and intensity are
    scored. `test_affect_matches_upstream_vader` holds the compound scores equal.
    """

    def __init__(self) -> None:
        super().__init__()
        # Upstream tests emoji one character at a time, so only 1-character keys ever match.
        self._emoji_chars = frozenset(key for key in self.emojis if len(key) == 1)

    def polarity_scores(self, text: str) -> dict[str, Any]:
        if not self._emoji_chars.isdisjoint(text):
            return dict(super().polarity_scores(text))
        text = text.strip()  # what upstream's emoji walk leaves of a text without emoji
        words = _words_and_emoticons(text)
        lowered = [w.lower() for w in words]
        lexicon = self.lexicon
        # Only lexicon words that are not boosters score; upstream's rules give every other
        # word 0 (by different routes), so a text without one scores 0 without them.
        scored = [i for i, w in enumerate(lowered) if w in lexicon and w not in BOOSTER_DICT]
        if not scored:
            return {"compound": 0.0, "intensity": 0.0}
        is_cap_diff = allcap_differential(words)
        last = len(words) - 1
        sentiments: list[float] = [0] * len(words)
        for i in scored:
            if lowered[i] == "kind" and i < last and lowered[i + 1] == "of":
                continue
            sentiments[i] = self._valence(words, lowered, i, is_cap_diff)
        if "but" in lowered:  # upstream's check changes nothing without one
            sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)

    def _valence(self, words: list[str], lowered: list[str], i: int, is_cap_diff: bool) -> float:
        """Upstream's `sentiment_valence` for lexicon word i, rule for rule, on `lowered`."""
        lexicon = self.lexicon
        valence: float = lexicon[lowered[i]]
        if lowered[i] == "no" and i != len(words) - 1 and lowered[i + 1] in lexicon:
            valence = 0.0  # "no" negates the next word instead of counting itself
        if (
            (i > 0 and lowered[i - 1] == "no")
            or (i > 1 and lowered[i - 2] == "no")
            or (i > 2 and lowered[i - 3] == "no" and lowered[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[lowered[i]] * N_SCALAR
        if words[i].isupper() and is_cap_diff:
            valence = valence + C_INCR if valence > 0 else valence - C_INCR
        for start_i in range(3):
            before = i - (start_i + 1)
            if i > start_i and lowered[before] not in lexicon:
                scalar = scalar_inc_dec(words[before], valence, is_cap_diff)
                if start_i == 1 and scalar != 0:
                    scalar = scalar * 0.95
                if start_i == 2 and scalar != 0:
                    scalar = scalar * 0.9
                valence = valence + scalar
                valence = self._negation_check(valence, lowered, start_i, i)
                if start_i == 2:
                    valence = _idioms(valence, lowered, i)
        return self._least_check(valence, lowered, i)

    @staticmethod
    def _negation_check(valence: float, lowered: list[str], start_i: int, i: int) -> float:
        # Upstream's rules word for word, on words lowercased once; it reads at most
        # lowered[i-3 .. i-1].
        w = lowered
        if start_i == 0 and _negated(w[i - 1]):
            valence *= N_SCALAR
        elif start_i == 1:
            if w[i - 2] == "never" and w[i - 1] in ("so", "this"):
                valence *= 1.25
            elif w[i - 2] == "without" and w[i - 1] == "doubt":
                pass
            elif _negated(w[i - 2]):
                valence *= N_SCALAR
        elif start_i == 2:
            if (w[i - 3] == "never" and w[i - 2] in ("so", "this")) or w[i - 1] in ("so", "this"):
                valence *= 1.25
            elif w[i - 3] == "without" and "doubt" in (w[i - 2], w[i - 1]):
                pass
            elif _negated(w[i - 3]):
                valence *= N_SCALAR
        return valence

    def score_valence(self, sentiments: list[float], text: str) -> dict[str, Any]:
        """Upstream's compound score, and the intensity; the "!"/"?" emphasis read once."""
        if not sentiments:
            return {"compound": 0.0, "intensity": 0.0}
        emphasis = self._punctuation_emphasis(text)
        total = float(sum(sentiments))
        if total > 0:
            total += emphasis
        elif total < 0:
            total -= emphasis
        mass = float(sum(abs(s) for s in sentiments))
        if mass > 0.0:
            mass += emphasis
        return {
            "compound": round(vader_normalize(total), 4),
            "intensity": mass / math.sqrt(mass * mass + VADER_ALPHA),
        }


def _words_and_emoticons(text: str) -> list[str]:
    """Upstream's `SentiText` words: split on whitespace, each stripped of leading and
    trailing punctuation unless that leaves two characters or fewer (an emoticon)."""
    words = []
    for token in text.split():
        stripped = token.strip(_PUNCTUATION)
        words.append(token if len(stripped) <= 2 else stripped)
    return words


def _idioms(valence: float, lowered: list[str], i: int) -> float:
    """Upstream's `_special_idioms_check` on words lowercased once (it needs i >= 3)."""
    w = lowered
    one_zero = f"{w[i - 1]} {w[i]}"
    two_one_zero = f"{w[i - 2]} {w[i - 1]} {w[i]}"
    two_one = f"{w[i - 2]} {w[i - 1]}"
    three_two_one = f"{w[i - 3]} {w[i - 2]} {w[i - 1]}"
    three_two = f"{w[i - 3]} {w[i - 2]}"
    for seq in (one_zero, two_one_zero, two_one, three_two_one, three_two):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(w) - 1 > i:
        zero_one = f"{w[i]} {w[i + 1]}"
        if zero_one in SPECIAL_CASES:
            valence = SPECIAL_CASES[zero_one]
    if len(w) - 1 > i + 1:
        zero_one_two = f"{w[i]} {w[i + 1]} {w[i + 2]}"
        if zero_one_two in SPECIAL_CASES:
            valence = SPECIAL_CASES[zero_one_two]
    for n_gram in (three_two_one, three_two, two_one):  # "sort of", "kind of" boosters
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


@lru_cache(maxsize=1)
def _analyzer() -> _Analyzer:
    # Reading and parsing the 7,500-entry lexicon takes ~50 ms; do it once per process.
    return _Analyzer()


def affect_of(text: str) -> Affect:
    scores = _analyzer().polarity_scores(text)
    valence = max(-1.0, min(1.0, float(scores["compound"])))
    arousal = max(0.0, min(1.0, float(scores["intensity"])))
    # In range by the clamps above: what validation would check, already true.
    return Affect.model_construct(valence=round(valence, 4), arousal=round(arousal, 4))


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
