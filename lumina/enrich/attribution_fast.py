"""attribution.fast.v1: token weights, salience and entities from word rarity, with no model.

Token weight, in [0, 1]:

    z = wordfreq.zipf_frequency(word, "en")            (log10 of occurrences per 10⁹ words)
    w = 0                                              if z ≥ STOPWORD_ZIPF (stopword)
    w = clip((STOPWORD_ZIPF − z) / (STOPWORD_ZIPF − RARE_ZIPF), 0, 1)
        + CAPITAL_BONUS   if capitalised and not sentence-initial, or an acronym (NASA)
        + DIGIT_BONUS     if it contains a digit (3pm, v2.3, 2024)
    clipped to 1.

Stopwords are not a hand list: a word is one when wordfreq says it occurs more than once
per thousand words (zipf ≥ 6.0, about the 110 most frequent English words: "the", "of",
"we", "because", …). Such words carry almost no information about what a text is about.

Salience σ, in [0, 1]: the mean of the top K token weights (zero-padded when a text has
fewer than K tokens, so "ok thanks" stays low), squashed by a concave curve that lifts
mid-range texts without exceeding 1:

    m = (Σ top-K weights) / K,    σ = (1 − e^(−γ·m)) / (1 − e^(−γ)),   K = 4, γ = 2.

Entities: DATE/TIME spans from `timex`; runs of capitalised tokens not at a sentence start,
joined over "of"/"de"/"&" and over capitalised stopwords that lead into a name ("New York");
a sentence-initial capitalised word joins only when it is a known speaker, starts a
multi-word name, follows a title, is followed by a speech verb ("Bob said"), or looks like
a named subject (uncommon as a lowercase word, zipf < NAME_ZIPF, and followed directly by
a word that is not a preposition or determiner). Runs are PERSON when they match a known
speaker (the event's author, or a configured roster), follow a title (Dr., Mrs.), or are
followed by a speech verb; PROPER otherwise. Nothing depends on the other events of the
batch, so an event enriches the same whichever batch it arrives in.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from functools import lru_cache
from itertools import compress
from operator import getitem

from wordfreq import zipf_frequency

from lumina.schemas import Entity, TokenWeight

from .stage import Draft, Stage, require_tokens
from .timex import find_timex
from .tokens import CLAUSE, NONE, SENTENCE, SpellingMemo, Tokens

__all__ = [
    "FastAttribution",
    "is_stopword",
    "known_names",
    "rarity",
    "salience",
    "word_weight",
    "zipf",
]

STOPWORD_ZIPF = 6.0
RARE_ZIPF = 2.0
NAME_ZIPF = 4.5
CAPITAL_BONUS = 0.25
DIGIT_BONUS = 0.15
TOP_K = 4
GAMMA = 2.0
MAX_ATTRIBUTED = 8

_SQUASH_NORM = 1.0 - math.exp(-GAMMA)
# Closed-class words: short fixed lists are the honest way to name a grammatical class.
TITLES = frozenset({"dr", "mr", "mrs", "ms", "prof", "sir", "dame", "rev", "capt", "gen"})
SPEECH_VERBS = frozenset(
    {"said", "says", "told", "tells", "asked", "asks", "wrote", "writes", "replied", "mentioned"}
)
NAME_JOINERS = frozenset({"of", "de", "da", "del", "van", "von", "&"})
PREPOSITIONS = frozenset(
    {
        "in", "at", "on", "to", "from", "near", "by", "with", "using", "via", "for", "of",
        "about", "into", "onto", "over", "under", "through", "after", "before", "during",
        "until", "since", "because", "due", "without", "within", "across", "around", "than",
        "as", "like", "per", "against", "between", "behind", "beside", "inside", "outside",
    }
)  # fmt: skip
DETERMINERS = frozenset(
    {"the", "a", "an", "this", "that", "these", "those", "my", "our", "your", "his", "her",
     "their", "its", "some", "any", "every", "each", "no"}
)  # fmt: skip
CONJUNCTIONS = frozenset({"and", "or", "but", "nor", "so", "yet"})


@lru_cache(maxsize=262_144)
def zipf(lower: str) -> float:
    """wordfreq's Zipf frequency of a lowercase word, cached: the hot path of this stage."""
    return zipf_frequency(lower, "en")


@lru_cache(maxsize=262_144)
def is_stopword(lower: str) -> bool:
    return zipf(lower) >= STOPWORD_ZIPF


@lru_cache(maxsize=262_144)
def rarity(lower: str) -> float:
    """The rarity term of the weight, in [0, 1]: 0 for a stopword, 1 at RARE_ZIPF or rarer."""
    z = zipf(lower)
    if z >= STOPWORD_ZIPF:
        return 0.0
    return min(1.0, (STOPWORD_ZIPF - z) / (STOPWORD_ZIPF - RARE_ZIPF))


def _is_capitalised(word: str) -> bool:
    return word[0].isupper()


def _is_acronym(word: str) -> bool:
    return len(word) >= 2 and word.isupper() and word.isalpha()


# Spelling → its weight after each kind of break, indexed by the break itself (NONE,
# CLAUSE, SENTENCE = 0, 1, 2), so that weighing a text is one C-level map(getitem, …) over
# the tokens and their breaks. Only a sentence start differs: a capital there is no bonus.
# A plain dict rather than lru_cache: one dict lookup per token is the cheapest there is.
_WEIGHTS: dict[str, tuple[float, float, float]] = {}
assert (NONE, CLAUSE, SENTENCE) == (0, 1, 2)  # the tuples above rely on it
_CACHE_LIMIT = 500_000
_AUTHOR_CACHE_LIMIT = 4096


def _spelling_weights(word: str) -> tuple[float, float, float]:
    by_break = _WEIGHTS.get(word)
    if by_break is not None:
        return by_break
    base = rarity(word.lower())
    if base == 0.0:
        by_break = (0.0, 0.0, 0.0)
    else:
        if any(c.isdigit() for c in word):
            base += DIGIT_BONUS
        acronym = _is_acronym(word)
        start = min(1.0, base + CAPITAL_BONUS) if acronym else min(1.0, base)
        mid = min(1.0, base + CAPITAL_BONUS) if acronym or word[0].isupper() else start
        by_break = (mid, mid, start)
    if len(_WEIGHTS) >= _CACHE_LIMIT:  # bounded: a long-running worker sees endless spellings
        _WEIGHTS.clear()
    _WEIGHTS[word] = by_break
    return by_break


def word_weight(word: str, *, sentence_initial: bool = False) -> float:
    """Attribution weight in [0, 1] of one word; see the module docstring for the formula."""
    return _spelling_weights(word)[SENTENCE if sentence_initial else NONE]


def token_weights(tokens: Tokens) -> list[float]:
    """Weights of every token, aligned with `tokens`."""
    try:
        return list(map(getitem, map(_WEIGHTS.__getitem__, tokens.words), tokens.breaks))
    except KeyError:  # a spelling not seen before
        return list(map(getitem, map(_spelling_weights, tokens.words), tokens.breaks))


def _squash(mean: float) -> float:
    return max(0.0, min(1.0, (1.0 - math.exp(-GAMMA * mean)) / _SQUASH_NORM))


def salience(weights: Iterable[float]) -> float:
    """σ in [0, 1] from all token weights of a text (formula in the module docstring)."""
    return _squash(sum(sorted(weights, reverse=True)[:TOP_K]) / TOP_K)


# Frozen TokenWeight objects are shared between units: validating a new one per token
# costs more than the rest of this stage, and the same (word, weight) pairs recur.
_TOKEN_WEIGHTS: dict[tuple[str, float], TokenWeight] = {}


def _token_weight(token: str, weight: float) -> TokenWeight:
    key = (token, weight)
    tw = _TOKEN_WEIGHTS.get(key)
    if tw is None:
        if len(_TOKEN_WEIGHTS) >= _CACHE_LIMIT:
            _TOKEN_WEIGHTS.clear()
        tw = _TOKEN_WEIGHTS[key] = TokenWeight(token=token, weight=round(weight, 4))
    return tw


def _top(tokens: Tokens, weights: list[float], order: list[int], k: int) -> list[TokenWeight]:
    out: list[TokenWeight] = []
    if k == 0:
        return out
    seen: set[str] = set()
    lower, words = tokens.lower, tokens.words
    cached = _TOKEN_WEIGHTS.get
    for i in order:
        w = weights[i]
        if w <= 0.0:
            break
        key = lower[i]
        if key not in seen:
            seen.add(key)
            out.append(cached((words[i], w)) or _token_weight(words[i], w))
            if len(out) == k:
                break
    return out


def _heaviest_first(weights: list[float]) -> list[int]:
    # sorted() is stable with reverse=True too, so equal weights keep text order.
    return sorted(range(len(weights)), key=weights.__getitem__, reverse=True)


def top_tokens(tokens: Tokens, weights: list[float], k: int = MAX_ATTRIBUTED) -> list[TokenWeight]:
    """The k heaviest distinct tokens (case-insensitive), heaviest first, ties by position."""
    return _top(tokens, weights, _heaviest_first(weights), k)


def known_names(authors: Iterable[str | None]) -> frozenset[str]:
    """Lowercase names of the speakers in a batch: each author and each part of it."""
    names: set[str] = set()
    for author in authors:
        if not author:
            continue
        lower = " ".join(author.lower().split())
        names.add(lower)
        names.update(part for part in lower.replace(".", " ").split() if len(part) > 1)
    return frozenset(names)


# English capitalises "I" and its contractions everywhere; they are the speaker, not a name.
FIRST_PERSON_I = frozenset({"i", "i'm", "i've", "i'll", "i'd"})
# The same with either apostrophe, so a token is tested without normalising it first.
_FIRST_PERSON_I_SPELLINGS = FIRST_PERSON_I | {w.replace("'", "\u2019") for w in FIRST_PERSON_I}


def _is_name_capital(word: str) -> bool:
    return word[0].isupper() and word.lower() != "i"


# Spelling → whether it is capitalised and so may be part of a name ("I" never is), cached:
# one C-level map over a text's tokens instead of a test per token.
NAME_CAPITALS: SpellingMemo[bool] = SpellingMemo(_is_name_capital, _CACHE_LIMIT)


def _is_capital_name(tokens: Tokens, i: int) -> bool:
    """Whether token i continues the previous one as a capitalised non-stopword ("York")."""
    return (
        i < len(tokens.words)
        and tokens.breaks[i] == NONE
        and _is_capitalised(tokens.words[i])
        and not is_stopword(tokens.lower[i])
    )


def _starts_name(tokens: Tokens, i: int, known: frozenset[str]) -> bool:
    """Whether the capitalised token i may open an entity run."""
    lower, words, breaks = tokens.lower, tokens.words, tokens.breaks
    if lower[i] in _FIRST_PERSON_I_SPELLINGS:
        return False
    nxt = i + 1
    if lower[i] in TITLES:
        return _is_capital_name(tokens, nxt)
    if is_stopword(lower[i]):
        # "New York", "The Hague" mid-sentence; a sentence-initial "The"/"So" never opens one.
        return breaks[i] != SENTENCE and _is_capital_name(tokens, nxt)
    if breaks[i] != SENTENCE or lower[i] in known or _is_capital_name(tokens, nxt):
        return True
    # Sentence-initial single word: accept only what looks like a named subject.
    if nxt >= len(words) or breaks[nxt] != NONE:
        return False
    if lower[nxt] in SPEECH_VERBS:
        return True  # "Bob said …"
    if zipf(lower[i]) >= NAME_ZIPF or lower[i].endswith(("ed", "ing", "ly")):
        return False
    if lower[nxt] == "and":  # "Alice and Bob …"
        return nxt + 1 < len(words) and _is_capitalised(words[nxt + 1])
    return not (
        lower[nxt] in PREPOSITIONS or lower[nxt] in DETERMINERS or lower[nxt] in CONJUNCTIONS
    )


# The model's own validator, called with a dict: the same checks and the same object as
# Entity(...), without BaseModel.__init__'s keyword packing (about a third cheaper).
_validate_entity = Entity.__pydantic_validator__.validate_python


def _entity(text: str, label: str, start: int, end: int) -> Entity:
    entity: Entity = _validate_entity({"text": text, "label": label, "start": start, "end": end})
    return entity


def find_entities(
    tokens: Tokens, known: frozenset[str] = frozenset()
) -> tuple[list[Entity], list[tuple[int, int]]]:
    """Entities with spans into `tokens.text`, and the token runs of the non-temporal ones."""
    text, words, lower, breaks = tokens.text, tokens.words, tokens.lower, tokens.breaks
    starts, ends = tokens.starts, tokens.ends
    entities: list[Entity] = []
    temporal: list[bool] = [False] * len(words)
    timexes = find_timex(text, lower)
    for t in timexes:
        entities.append(_entity(text[t.start : t.end], t.label, t.start, t.end))
        # Tokens overlapping the span: those ending after its start and starting before its end.
        for j in range(bisect_right(ends, t.start), bisect_left(starts, t.end)):
            temporal[j] = True
    runs: list[tuple[int, int]] = []
    n = len(words)
    capital = NAME_CAPITALS.all(words)
    next_free = 0
    # Most tokens are lowercase; visit only the capitalised ones.
    for i in compress(range(n), capital):
        if i < next_free or temporal[i] or not _starts_name(tokens, i, known):
            continue
        last = i
        j = i + 1
        while j < n and breaks[j] == NONE and not temporal[j]:
            if capital[j]:
                last = j
                j += 1
            elif (
                lower[j] in NAME_JOINERS and j + 1 < n and breaks[j + 1] == NONE and capital[j + 1]
            ):
                j += 1
            else:
                break
        runs.append((i, last))
        next_free = last + 1
    for first, last in runs:
        start, end = starts[first], ends[last]
        entities.append(_entity(text[start:end], _label(tokens, first, last, known), start, end))
    if timexes and runs:  # each kind is already in text order; only a mix needs sorting
        entities.sort(key=lambda e: e.start)
    return entities, runs


def _label(tokens: Tokens, first: int, last: int, known: frozenset[str]) -> str:
    lower = tokens.lower
    if lower[first] in TITLES:
        return "PERSON"
    parts = lower[first : last + 1]
    if " ".join(parts) in known or known.issuperset(parts):
        return "PERSON"
    if last + 1 < len(lower) and lower[last + 1] in SPEECH_VERBS:
        return "PERSON"
    return "PROPER"


class FastAttribution(Stage):
    """Lexical attribution from wordfreq rarity: weights, σ, top tokens and fast entities."""

    name = "attribution"
    version = "attribution.fast.v1"
    requires = ("tokens",)
    assigns = ("token_weights", "salience", "attribution", "entities")

    def __init__(self, speakers: Iterable[str] = ()) -> None:
        # Names that are always PERSON (e.g. a team roster), on top of each event's author.
        self.speakers = known_names(speakers)
        # Author → the names known for their events; a stream has few authors.
        self._known: dict[str | None, frozenset[str]] = {}

    def _known_names(self, author: str | None) -> frozenset[str]:
        # Only the event's own author, never its batch neighbours': a re-delivered event
        # lands in another batch and must come out the same.
        known = self._known.get(author)
        if known is None:
            if len(self._known) >= _AUTHOR_CACHE_LIMIT:
                self._known.clear()
            known = self._known[author] = self.speakers | known_names([author])
        return known

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        for draft in drafts:
            known = self._known_names(draft.event.author)
            tokens = require_tokens(draft, self.version)
            weights = token_weights(tokens)
            order = _heaviest_first(weights)
            draft.token_weights = weights
            draft.salience = _squash(sum(map(weights.__getitem__, order[:TOP_K])) / TOP_K)
            draft.attribution = _top(tokens, weights, order, MAX_ATTRIBUTED)
            draft.entities, _ = find_entities(tokens, known)
        return drafts
