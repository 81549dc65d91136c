"""Date and time expressions, shared by the `when` role and the DATE/TIME entities."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import reduce
from operator import or_
from typing import NamedTuple

__all__ = ["Timex", "find_timex", "merge_when"]

_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# Month names alone are matched case-sensitively: "may" and "march" are also verbs.
_MONTH_CAP = (
    r"(?-i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY_PART = r"(?:morning|afternoon|evening|night|noon|midnight|lunch(?:time)?|weekend)"
_UNIT = r"(?:second|minute|hour|day|week|fortnight|month|quarter|year|decade)s?"
# Patterns are compiled VERBOSE, so a literal space must be written \s.
_COUNT = (
    r"(?:\d+|(?:a\s+)?(?:couple\s+of|few)|an?|one|two|three|four|five|six|seven|eight|nine|ten"
    r"|several)"
)
_ORD = r"\d{1,2}(?:st|nd|rd|th)?"

# Each pattern opens with one word boundary and a lookahead on the possible first letters,
# hoisted out of the alternation: the regex engine then rejects most positions of a text at
# once instead of trying every alternative there (about 3× faster on chat-sized texts).

# Clock-level expressions are TIME; everything coarser than an hour is DATE.
_TIME = re.compile(
    r"""
      \b(?=[\dnmto])
      (?: \d{1,2}:\d{2}(?::\d{2})?(?:\s?(?:[ap]m\b|[ap]\.m\.))?   # 10:30, 10:30 pm
        | \d{1,2}\s?(?:[ap]m\b|[ap]\.m\.)                      # 3pm, 3 p.m.
        | (?:noon|midnight|tonight|overnight)\b
      )
    | (?<=\bat\s)\d{1,2}\b(?![:.,]?\d|\s?%|\s?(?:percent|per|people|of)\b)   # at 7
    """,
    re.VERBOSE | re.IGNORECASE,
)
_DATE = re.compile(
    rf"""
    \b(?=[\dtynlpceaofsiwm])
    (?: \d{{4}}-\d{{2}}-\d{{2}}(?:[tT]\d{{2}}:\d{{2}}(?::\d{{2}})?)?\b          # 2024-05-01
      | (?:the\s+day\s+(?:before|after)\s+)?(?:yesterday|today|tomorrow)
        (?:\s+{_DAY_PART})?\b
      | (?:this|next|last|past|coming|every)\s+                                # next Monday
        (?:{_WEEKDAY}|{_DAY_PART}|{_UNIT}|{_MONTH}\b)(?:\s+{_DAY_PART})?\b
      | {_COUNT}\s+{_UNIT}\s+(?:ago|later|from\s+now)\b                       # 2 days ago
      | (?:in|within|after)\s+{_COUNT}\s+{_UNIT}\b                             # in 3 weeks
      | {_WEEKDAY}(?:\s+{_DAY_PART})?\b                                        # Friday morning
    )
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Case-insensitive matching cannot rule out an alternative by its first character, so it
# tries every one of _DATE's at each word. On an ASCII text, matching the lowercased text
# case-sensitively finds the same spans (the pattern spells every letter in lowercase, the
# ISO "T" as [tT]) about twice as fast.
_DATE_LOWERCASE = re.compile(_DATE.pattern, re.VERBOSE)
_MONTH_DATE = re.compile(
    rf"""
    \b(?=[\dJFMASOND])
    (?: {_MONTH_CAP}\s+{_ORD}\b(?:,?\s+\d{{4}}\b)?        # March 3rd, 2024
      | {_ORD}\s+(?:of\s+)?{_MONTH_CAP}(?:\s+\d{{4}}\b)?   # 3rd of March
      | {_MONTH_CAP}\s+\d{{4}}\b                           # March 2024
    )
    """,
    re.VERBOSE | re.IGNORECASE,
)
# A full month name alone only after a temporal preposition ("in March", not "March on").
_BARE_MONTH = re.compile(
    r"\b(?=[isubfdelm])(?:in|since|until|by|from|during|before|after|early|late|mid)[\s-]+"
    r"((?-i:January|February|March|April|May|June|July|August|September|October|November"
    r"|December))\b",
    re.IGNORECASE,
)

# Words that may join two expressions into one `when` filler ("tomorrow at 10:30").
_JOINERS = re.compile(r"^[\s,]*(?:at|on|around|about|by|from|until|till|to|-|–)?[\s,]*$", re.I)


class Timex(NamedTuple):
    start: int
    end: int
    label: str  # "DATE" or "TIME"


# Words without which no pattern can match; a text of tokens that holds none of them and no
# digit skips the regexes, which are most of this module's cost.
_WEEKDAY_WORDS = {
    f"{d}day{s}"
    for d in ("mon", "tues", "wednes", "thurs", "fri", "satur", "sun")
    for s in ("", "s")
}
_UNITS = ("second", "minute", "hour", "day", "week", "fortnight", "month", "quarter", "year")
_UNIT_WORDS = {f"{u}{s}" for u in (*_UNITS, "decade") for s in ("", "s")}
_DAY_PART_WORDS = {
    "morning", "afternoon", "evening", "night", "noon", "midnight", "lunch", "lunchtime",
    "weekend", "tonight", "overnight",
}  # fmt: skip
_MONTH_WORDS = frozenset(
    {"january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
     "sept", "oct", "nov", "dec"}
)  # fmt: skip
_TIME_WORDS = frozenset({"noon", "midnight", "tonight", "overnight"})
_DATE_WORDS = frozenset(
    {"yesterday", "today", "tomorrow"} | _WEEKDAY_WORDS | _UNIT_WORDS | _DAY_PART_WORDS
    | _MONTH_WORDS
)  # fmt: skip
_DIGIT = re.compile(r"\d")
_WORD_PARTS = re.compile(r"[-'’]")

# Which word lists a token hits and whether it holds a digit, as bits, cached per lowercase
# token: one dict lookup per token instead of splitting "mid-March" or "tomorrow's" into
# parts and scanning the text for digits on every text.
_DATE_CUE, _TIME_CUE, _MONTH_CUE, _DIGIT_CUE = 1, 2, 4, 8
_CUES: dict[str, int] = {}
_CUE_CACHE_LIMIT = 262_144


def _token_cues(lower: str) -> int:
    cues = _CUES.get(lower)
    if cues is None:
        words = {lower} if lower.isalnum() else {lower, *_WORD_PARTS.split(lower)}
        cues = (
            (_DATE_CUE if not _DATE_WORDS.isdisjoint(words) else 0)
            | (_TIME_CUE if not _TIME_WORDS.isdisjoint(words) else 0)
            | (_MONTH_CUE if not _MONTH_WORDS.isdisjoint(words) else 0)
            | (_DIGIT_CUE if _DIGIT.search(lower) else 0)
        )
        if len(_CUES) >= _CUE_CACHE_LIMIT:  # bounded: a long-running worker sees endless words
            _CUES.clear()
        _CUES[lower] = cues
    return cues


def _cues(lower_tokens: Sequence[str]) -> int:
    """The cue bits of all tokens together."""
    try:
        if not any(map(_CUES.__getitem__, lower_tokens)):
            return 0  # the common case, decided at C speed
    except KeyError:  # a token not seen before
        pass
    return reduce(or_, map(_token_cues, lower_tokens), 0)


def find_timex(text: str, lower_tokens: Sequence[str] | None = None) -> list[Timex]:
    """Every date/time expression in `text`, left to right, without overlaps (longest wins).

    `lower_tokens`, the lowercased tokens of `tokenize(text)` when the caller has them, lets
    the patterns that cannot match (no digit and none of their words) be skipped: the regexes
    are most of the cost of this module, and most chat turns hold no date at all. The
    tokenizer makes a token of every digit, so the tokens also tell whether the text has one.
    """
    ascii_text = text.isascii()
    if lower_tokens is None:
        has_digit = _DIGIT.search(text) is not None
        date_words = time_words = month_words = True
    else:
        cues = _cues(lower_tokens)
        if not cues:
            return []  # the common case: no digit and no date word, so no pattern can match
        has_digit = bool(cues & _DIGIT_CUE)
        date_words = bool(cues & _DATE_CUE)
        time_words = bool(cues & _TIME_CUE)
        month_words = bool(cues & _MONTH_CUE)
    passes: list[tuple[re.Pattern[str], str, str]] = []  # pattern, text it reads, label
    if has_digit or date_words:
        passes.append(
            (_DATE_LOWERCASE, text.lower(), "DATE") if ascii_text else (_DATE, text, "DATE")
        )
    if has_digit or time_words:
        passes.append((_TIME, text, "TIME"))
    if has_digit and month_words:
        passes.append((_MONTH_DATE, text, "DATE"))
    found: list[Timex] = []
    for pattern, subject, label in passes:
        found.extend(Timex(m.start(), m.end(), label) for m in pattern.finditer(subject))
    if month_words:
        found.extend(Timex(m.start(1), m.end(1), "DATE") for m in _BARE_MONTH.finditer(text))
    if len(found) < 2:
        return found
    found.sort(key=lambda t: (t.start, -(t.end - t.start)))
    kept: list[Timex] = []
    for t in found:
        if kept and t.start < kept[-1].end:
            continue  # overlaps a longer or earlier expression
        kept.append(t)
    return kept


def merge_when(text: str, spans: list[Timex]) -> tuple[int, int] | None:
    """The `when` span: the first expression, extended over the ones joined to it.

    "tomorrow at 10:30" is one filler rather than "tomorrow" alone, because the two together
    name one moment; a second expression further away describes something else.
    """
    if not spans:
        return None
    start, end = spans[0].start, spans[0].end
    for t in spans[1:]:
        if not _JOINERS.match(text[end : t.start]):
            break
        end = t.end
    return start, end
