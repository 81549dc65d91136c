"""The regex tokenizer all stages share: words with character spans and the breaks between."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = [
    "CLAUSE",
    "LOWERCASE",
    "NONE",
    "SENTENCE",
    "SpellingMemo",
    "Tokens",
    "tokenize",
]

# Break before a token: none, a clause break (comma, colon, dash…), or a sentence break.
NONE, CLAUSE, SENTENCE = 0, 1, 2

# A token is a word starting with a letter, or a digit-led shape. The two branches cannot
# start on the same character, so their order does not change the result; words, by far
# the commoner, come first. Digit-led shapes are tried only where a digit starts (the
# lookahead), and in order: the alternation takes the first branch that matches, so ISO
# dates and clock times come before plain numbers.
# The whole pattern is one capturing group so that `split` returns the gaps and the tokens
# alternately (gap, token, gap, …, token, gap): one pass of the regex engine yields words,
# gaps and, through the running sum of their lengths, every span.
# The word's quantifiers are possessive (*+): nothing after them can fail, so a backtrack
# point would never be used, and not saving one makes the commonest branch cheaper.
_TOKEN = re.compile(
    r"""
    ( [^\W\d]\w*+(?:['’-]\w+)*+(?:\.\d+)*+                         # words; don't, x-ray, v2.3
    | (?=\d)
      (?: \d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?)?          # ISO date, optional time
        | \d{1,2}:\d{2}(?::\d{2})?(?:\s?(?:[ap]m\b|[ap]\.m\.))?  # 10:30, 10:30pm, 10:30 a.m.
        | \d{1,2}\s?(?:[ap]m\b|[ap]\.m\.)                        # 3pm, 3 pm, 3 p.m.
        | \d+(?:[.,]\d+)*(?:st|nd|rd|th|s|k|m)?\b                  # 1,200  3.5  3rd  1990s
        | \d\w*                                                   # 4x4, 2fa
      )
    )
    """,
    re.VERBOSE | re.IGNORECASE,
)

# Most texts hold no digit. In those the digit-led branch never matches, `[^\W\d]` is any
# word character and the `.\d+` tail matches nothing, so this shorter pattern splits them
# exactly as _TOKEN does, and about a third faster.
_DIGIT = re.compile(r"\d")
_TOKEN_WITHOUT_DIGITS = re.compile(r"(\w++(?:['’-]\w+)*+)")

# A period after these does not end a sentence ("Dr. Smith", "J. Smith", "U.S. team").
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "vs", "etc", "approx", "dept", "inc"}
)
_SENTENCE_PUNCT = frozenset(".!?")
_CLAUSE_PUNCT = frozenset(',;:()[]"“”—–')


@dataclass(slots=True, frozen=True)
class Tokens:
    """Parallel lists, one entry per token, instead of one object per token (cheaper in bulk).

    `breaks[i]` says what separates token i from token i-1; token 0 always starts a sentence.
    """

    text: str
    words: list[str]
    lower: list[str]
    starts: list[int]
    ends: list[int]
    breaks: list[int]

    def __len__(self) -> int:
        return len(self.words)

    def sentence_initial(self, i: int) -> bool:
        return self.breaks[i] == SENTENCE

    def clause_initial(self, i: int) -> bool:
        return self.breaks[i] != NONE

    def span_text(self, first: int, last: int) -> str:
        """The original text from the start of token `first` to the end of token `last`."""
        return self.text[self.starts[first] : self.ends[last]]

    def index_at(self, char: int) -> int:
        """Index of the first token that ends after character `char` (len(self) if none)."""
        for i, end in enumerate(self.ends):
            if end > char:
                return i
        return len(self.ends)


def _ends_abbreviation(previous_lower: str) -> bool:
    """Whether a lone period after this word belongs to it ("Dr. Smith", "J. Smith")."""
    return previous_lower in _ABBREVIATIONS or len(previous_lower) == 1


def _gap_break(gap: str, previous_lower: str) -> int:
    kind = NONE
    for ch in gap:
        if ch in _SENTENCE_PUNCT:
            if ch == "." and gap.strip() == "." and _ends_abbreviation(previous_lower):
                continue  # "Dr. Smith", "J. Smith": the period belongs to the abbreviation
            return SENTENCE
        if ch in _CLAUSE_PUNCT:
            kind = CLAUSE
    if kind == NONE and " - " in gap:
        kind = CLAUSE
    return kind


# A lone period (". ") is a sentence break unless it ends an abbreviation: the one gap
# whose break depends on the word before it, resolved per text.
_PERIOD = -1

# Gap → its break, or _PERIOD. A handful of gaps (" ", ", ", ". ") make up nearly all of
# them, so one dict lookup per gap replaces the character scan.
_GAP_BREAKS: dict[str, int] = {" ": NONE}
_GAP_CACHE_LIMIT = 4096


def _gap_kind(gap: str) -> int:
    kind = _GAP_BREAKS.get(gap)
    if kind is None:
        # Outside a lone period, _gap_break never reads the word before the gap.
        kind = _PERIOD if gap.strip() == "." else _gap_break(gap, "")
        if len(_GAP_BREAKS) < _GAP_CACHE_LIMIT:  # bounded: gaps may hold any symbols
            _GAP_BREAKS[gap] = kind
    return kind


def _breaks(gaps: list[str], lower: list[str]) -> list[int]:
    """Break before each token; `gaps[i]` separates token i from token i + 1."""
    try:
        breaks = [SENTENCE, *map(_GAP_BREAKS.__getitem__, gaps)]
    except KeyError:  # a gap not seen before
        breaks = [SENTENCE, *map(_gap_kind, gaps)]
    while _PERIOD in breaks:
        i = breaks.index(_PERIOD)
        breaks[i] = NONE if _ends_abbreviation(lower[i - 1]) else SENTENCE
    return breaks


class SpellingMemo(Generic[T]):
    """A bounded memo of `compute` per spelling, with a C-speed path for a whole text.

    The fast-path stages ask the same questions of the same few thousand spellings over and
    over; a dict lookup answers them cheaper than recomputing, and `map` over a text's
    words answers them all at C speed when every spelling was seen before. Bounded, because
    a long-running worker sees endless new words: full, it starts over.
    """

    def __init__(self, compute: Callable[[str], T], limit: int = 262_144) -> None:
        self.compute = compute
        self.limit = limit
        self.known: dict[str, T] = {}

    def one(self, word: str) -> T:
        value = self.known.get(word)
        if value is None:
            if len(self.known) >= self.limit:
                self.known.clear()
            value = self.known[word] = self.compute(word)
        return value

    def all(self, words: list[str]) -> list[T]:
        try:
            return list(map(self.known.__getitem__, words))
        except KeyError:  # a spelling not seen before
            return list(map(self.one, words))


# Spelling → its lowercase form, shared: a lookup is cheaper than lowercasing, and every
# later set or dict lookup on a shared string reuses its cached hash.
LOWERCASE: SpellingMemo[str] = SpellingMemo(str.lower)


def tokenize(text: str) -> Tokens:
    """Split `text` (already normalized) into word tokens with spans and break markers."""
    # C-level passes only (split, slices, map, accumulate): this runs once per event and is
    # the stage's hot path. `parts` alternates gap, token, gap, …, token, gap.
    parts = (_TOKEN if _DIGIT.search(text) else _TOKEN_WITHOUT_DIGITS).split(text)
    words = parts[1::2]
    if not words:
        return Tokens(text, [], [], [], [], [])
    bounds = list(accumulate(map(len, parts)))  # where each part ends
    starts, ends = bounds[0:-1:2], bounds[1::2]
    lower = LOWERCASE.all(words)
    return Tokens(text, words, lower, starts, ends, _breaks(parts[2:-1:2], lower))
