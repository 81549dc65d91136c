"""roles.rules.v2: who/what/when/where/why/how from surface rules over tokens and entities.

No parser: each role is one small function over the shared tokens, the entities of the
attribution stage and the `timex` expressions. The rules, in brief:

- who: the named subject of the first clause that has one ("Alice went …" → "Alice",
  "Alice and Bob argued" → "Alice and Bob"), else a common-noun subject without its
  determiner ("The city council approved …" → "city council"), or an indefinite pronoun as
  written ("Can someone review …" → "someone"). A name opening the text before a comma is
  the actor of "you" or of an imperative ("Sam, can you send …", "Ben, please book …").
  "I"/"we" and a clause without subject are the author, since a note or chat turn is about
  its speaker. Any other pronoun ("she", "it", "that", "you" unaddressed) names nobody the
  text says, so who stays empty rather than wrongly the author.
- what: the first verb after the subject (auxiliaries and -ly adverbs skipped) and the
  words up to the next clause break, preposition or date, lowercased ("met alice").
- when: the first date/time expression, extended over expressions joined to it
  ("tomorrow at 10:30").
- where: a place after in/at/to/from/near/…: a capitalised name that is not a person and
  has no digit ("in New York"), or a common place noun ("at the office", "at home").
- why: the clause after because/due to/so that/in order to/since (unless "since" is
  followed by a date, which is a `when`).
- how: an instrument after by/with/using/via ("using the canary pipeline"), else a manner
  adverb in -ly whose stem is an English word ("carefully" ← "careful").

Fillers are slices of the normalized text, trimmed of punctuation.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress

from lumina.schemas import Entity, Roles

from .attribution_fast import DETERMINERS, PREPOSITIONS, is_stopword, zipf
from .stage import Draft, Stage, require_tokens
from .timex import Timex, merge_when
from .tokens import NONE, Tokens

__all__ = ["RuleRoles", "extract_roles"]

MAX_FILLER_TOKENS = 8
# A word that opens a text before a comma is read as a name only when it is this rare as a
# lowercase word: "sam" 4.6, "grace" 4.6, "tom" 4.8 against "cool" 5.2, "sure" 5.7.
VOCATIVE_ZIPF = 5.0

# Short closed-class lists; naming a grammatical class by hand is fine, content words are not.
FIRST_PERSON = frozenset(
    {"i", "we", "i'm", "i've", "i'll", "i'd", "we're", "we've", "we'll", "we'd", "me", "us"}
)
DEMONSTRATIVES = frozenset({"this", "that", "these", "those"})
# A question's subject ("Who is presenting…?") names nobody the text says.
INTERROGATIVES = frozenset({"who", "what", "which", "whoever", "whom"})
# Indefinite pronouns name an actor the text leaves open, and the gold keeps them as written.
INDEFINITE_PRONOUNS = frozenset(
    {"someone", "somebody", "everyone", "everybody", "anyone", "anybody", "nobody"}
)
PRONOUNS = FIRST_PERSON | INDEFINITE_PRONOUNS | {
    "you", "he", "she", "they", "it", "you're", "he's", "she's", "they're", "it's", "you'll",
    "they'll", "he'll", "she'll", "it'll", "you've", "they've", "you'd", "he'd", "she'd",
    "they'd",
}  # fmt: skip
AUXILIARIES = frozenset(
    {
        "am", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "have",
        "has", "had", "will", "would", "shall", "should", "can", "could", "may", "might",
        "must", "not", "don't", "doesn't", "didn't", "won't", "can't", "isn't", "aren't",
        "wasn't", "weren't", "haven't", "hasn't", "hadn't", "wouldn't", "shouldn't",
        "couldn't", "never", "just", "also", "still", "already", "finally", "then", "gonna",
        "going", "want", "wanna", "need", "to",
    }
)  # fmt: skip
DISCOURSE = frozenset(
    {
        "ok", "okay", "yes", "yeah", "yep", "no", "nope", "lol", "hey", "hi", "hello", "thanks",
        "please", "so", "well", "oh", "and", "but", "then", "also", "reminder", "note", "fyi",
        "btw", "todo", "update", "anyway", "ah", "hmm", "ps",
    }
)  # fmt: skip
WHAT_STOPS = PREPOSITIONS | {"and", "but", "or", "so", "that", "because", "which", "who", "if"}
WHERE_PREPS = frozenset(
    {"in", "at", "to", "from", "near", "into", "inside", "outside", "around", "across",
     "toward", "towards", "onto", "behind", "beside", "opposite"}
)  # fmt: skip
# Common place nouns that take "the"/"my": a small closed set, extended only with care.
PLACE_NOUNS = frozenset(
    {
        "office", "home", "house", "school", "work", "gym", "hospital", "clinic", "airport",
        "station", "park", "store", "shop", "supermarket", "cafe", "café", "restaurant", "bar",
        "pub", "library", "kitchen", "garden", "hotel", "beach", "church", "lab", "warehouse",
        "campus", "downtown", "city", "building", "mall", "bank", "market", "studio",
        "apartment", "flat", "room", "classroom", "garage", "basement", "stadium", "museum",
        "theater", "theatre", "cinema", "court", "factory", "site", "venue", "center", "centre",
    }
)  # fmt: skip
_WHERE_CUES = WHERE_PREPS | {"home"}  # the tokens a `where` filler can follow or be
HOME_VERBS = frozenset(
    {"at", "from", "go", "goes", "went", "gone", "come", "came", "get", "got", "back", "stay",
     "stayed", "stays", "head", "headed", "drove"}
)  # fmt: skip
INSTRUMENT_PREPS = frozenset({"by", "with", "using", "via"})
# "with" + one of these is company, not an instrument ("met with the team").
COMPANY_NOUNS = frozenset(
    {"team", "group", "family", "friend", "friends", "colleague", "colleagues", "people",
     "kids", "children", "parents", "class", "client", "clients", "customer", "customers",
     "boss", "manager", "partner", "wife", "husband", "mom", "dad", "mother", "father"}
)  # fmt: skip
OBJECT_PRONOUNS = frozenset({"me", "you", "him", "her", "us", "them", "it", "everyone"})
BE_FORMS = frozenset({"is", "are", "was", "were", "be", "been", "being"})
# -ly words that comment on the sentence or a degree rather than describe a manner.
NOT_MANNER = frozenset(
    {
        "really", "actually", "probably", "finally", "usually", "recently", "likely", "only",
        "nearly", "mostly", "simply", "exactly", "certainly", "definitely", "totally",
        "basically", "literally", "apparently", "hopefully", "early", "daily", "weekly",
        "monthly", "yearly", "hourly", "lately", "currently", "highly", "extremely",
        "absolutely", "completely", "clearly", "obviously", "seriously", "honestly",
        "especially", "particularly", "generally", "eventually", "immediately", "previously",
        "originally", "initially", "rarely", "fully", "mainly", "merely", "barely", "hardly",
        "truly", "surely", "entirely", "largely", "fairly", "pretty", "supply", "apply",
        "reply", "family", "friendly", "ugly", "holy", "belly", "jelly", "rely", "ally",
    }
)  # fmt: skip
# The lookahead on the possible first letters, hoisted out of the alternation, lets the
# engine reject most positions at once instead of trying every phrase there.
CAUSAL = re.compile(
    r"\b(?=[bdotasi])(?:because\s+of|because|due\s+to|owing\s+to|thanks\s+to|as\s+a\s+result\s+of"
    r"|so\s+that|so\s+as\s+to|in\s+order\s+to|in\s+order\s+that|since)\s+(?P<reason>[^,;:.!?]+)",
    re.IGNORECASE,
)
# Every causal phrase above holds one of these (lowercase): the cheap test that lets most
# texts skip CAUSAL, whose case-insensitive scan tries every position of the text.
_CAUSAL_CUE = re.compile(
    r"because\s|due\s+to|owing\s+to|thanks\s+to|result\s+of|so\s+(?:that|as)|order\s+t|since\s"
)
_TRIM = " \t\"'“”‘’()[]{}.,;:!?-–—"


def _trim(text: str) -> str | None:
    text = text.strip(_TRIM)
    return text or None


def _token_at(offsets: list[int], char: int) -> int | None:
    """Index of the token whose start (or end) is `char`; offsets strictly increase."""
    i = bisect_left(offsets, char)
    return i if i < len(offsets) and offsets[i] == char else None


def _entity_index(tokens: Tokens, entities: Sequence[Entity]) -> dict[int, tuple[int, Entity]]:
    """First token index of each non-temporal entity → (last token index, entity)."""
    out: dict[int, tuple[int, Entity]] = {}
    for ent in entities:
        if ent.label in ("DATE", "TIME"):
            continue
        first, last = _token_at(tokens.starts, ent.start), _token_at(tokens.ends, ent.end)
        if first is not None and last is not None:
            out[first] = (last, ent)
    return out


def _temporal_mask(tokens: Tokens, spans: Sequence[Timex]) -> list[bool]:
    mask = [False] * len(tokens.words)
    for t in spans:
        # Tokens overlapping the span: ending after its start, starting before its end.
        for j in range(bisect_right(tokens.ends, t.start), bisect_left(tokens.starts, t.end)):
            mask[j] = True
    return mask


def _positions(lower: list[str], words: frozenset[str]) -> Iterable[int]:
    """Indexes of the tokens that are one of `words`, in order, found at C speed."""
    if words.isdisjoint(lower):
        return ()
    return compress(range(len(lower)), map(words.__contains__, lower))


def _verb_like(lower: str) -> bool:
    return lower in AUXILIARIES or (lower.endswith("ed") and len(lower) > 3)


class _Clause:
    """What the first clause with a subject or verb says: named subject, "I"/"we", another
    pronoun subject (as written), verb index, and the name the text addresses, if any."""

    __slots__ = ("addressee", "common_subject", "first_person", "named_subject", "pronoun", "verb")

    def __init__(self) -> None:
        self.addressee: str | None = None
        self.common_subject: str | None = None
        self.named_subject: str | None = None
        self.first_person = False
        self.pronoun: str | None = None
        self.verb: int | None = None


def _clause_bounds(tokens: Tokens) -> Iterator[tuple[int, int]]:
    """(first, end) token indexes of each clause, as pairs made on demand: the first clause
    usually decides."""
    # A clause opens at every token after a break. NONE is 0, the only false break, so
    # compress keeps exactly those tokens, at C speed.
    n = len(tokens.breaks)
    if n == 0:  # ":)" or an emoji alone: no words, no clause
        return iter(())
    starts = list(compress(range(n), tokens.breaks))
    ends = [*starts[1:], n]
    return zip(starts, ends, strict=True)


def _ends_noun_phrase(lower: list[str], first: int, end: int, hi: int) -> bool:
    """Whether lower[first:end], the words after a determiner, read as a whole noun phrase:
    no stopword in it ("This broke the build" has none), and what follows is a verb, a
    preposition or the clause's end ("The ranking uses salience": "ranking uses" is no
    phrase, the verb is inside it)."""
    if any(map(is_stopword, lower[first:end])):
        return False
    return end >= hi or _verb_like(lower[end]) or lower[end] in WHAT_STOPS


def _parse_clause(
    tokens: Tokens, lo: int, hi: int, temporal: list[bool], ents: dict[int, tuple[int, Entity]]
) -> _Clause | None:
    lower, words = tokens.lower, tokens.words
    i = lo
    # Leading material that is neither subject nor verb: "ok", "Tomorrow", "Carefully", "Can".
    while (
        i < hi
        and i not in ents
        and (
            lower[i] in DISCOURSE
            or temporal[i]
            or (lower[i].endswith("ly") and i + 1 < hi)
            or (lower[i] in AUXILIARIES and i + 1 < hi and lower[i + 1] in PRONOUNS)
        )
    ):
        i += 1
    if i >= hi:
        return None
    clause = _Clause()
    if i in ents:  # a named subject, possibly "Alice and Bob"
        last, _ = ents[i]
        if last + 2 < hi and lower[last + 1] == "and" and (last + 2) in ents:
            last = ents[last + 2][0]
        clause.named_subject = tokens.span_text(i, last)
        i = last + 1
    elif lower[i] in PRONOUNS or lower[i] in INTERROGATIVES:
        clause.first_person = lower[i] in FIRST_PERSON
        clause.pronoun = None if clause.first_person else words[i]
        i += 1
    elif lower[i] in DETERMINERS:
        i += 1
        first = i
        taken = 0
        while i < hi and taken < 2 and not _verb_like(lower[i]) and lower[i] not in WHAT_STOPS:
            i += 1
            taken += 1
        if taken == 0 and lower[first - 1] in DEMONSTRATIVES:
            clause.pronoun = words[first - 1]  # "That was fun": a pronoun, not a determiner
        elif taken and _ends_noun_phrase(lower, first, i, hi):
            clause.common_subject = tokens.span_text(first, i - 1)
    elif i + 1 < hi and _verb_like(lower[i + 1]) and not _verb_like(lower[i]):
        if lower[i + 1] != "to":  # "Glad to hear it", "Sorry to hear": no subject
            clause.common_subject = words[i]
        i += 1  # "Sales dropped": a bare noun subject followed by a verb
    # Skip a prepositional phrase inside the subject ("Our cluster in Frankfurt went down").
    if i < hi and lower[i] in PREPOSITIONS and clause.named_subject is None and i > lo:
        j = i + 1
        if j < hi and lower[j] in DETERMINERS:
            j += 1
        j = ents[j][0] + 1 if j in ents else j + 1
        if j < hi and lower[j] not in WHAT_STOPS and not temporal[j]:
            i = j
    while i < hi and (lower[i] in AUXILIARIES or (lower[i].endswith("ly") and i + 1 < hi)):
        i += 1
    if i >= hi or lower[i] in WHAT_STOPS or temporal[i] or not words[i][0].isalpha():
        return clause if clause.named_subject or clause.first_person else None
    clause.verb = i
    return clause


def _vocative(tokens: Tokens, hi: int, temporal: list[bool]) -> str | None:
    """The name that opens a text before a comma ("Sam, can you…" → "Sam"), when the first
    clause tokens[0:hi] is one to three capitalised words that read as a name: not a
    discourse word, a date or an -ly adverb, and not common as a lowercase word ("Great,"
    "Sure," are not names)."""
    if not 0 < hi <= 3 or hi >= len(tokens.breaks):
        return None
    if tokens.text[tokens.ends[hi - 1] : tokens.starts[hi]].strip() != ",":
        return None
    for k in range(hi):
        lower = tokens.lower[k]
        if (
            not tokens.words[k][0].isupper()
            or lower in DISCOURSE
            or temporal[k]
            or lower.endswith("ly")
            or zipf(lower) >= VOCATIVE_ZIPF
        ):
            return None
    return tokens.span_text(0, hi - 1)


def find_subject_and_verb(
    tokens: Tokens, temporal: list[bool], ents: dict[int, tuple[int, Entity]]
) -> _Clause:
    addressee: str | None = None
    for lo, hi in _clause_bounds(tokens):
        if lo == 0 and (addressee := _vocative(tokens, hi, temporal)):
            continue  # "Sam, …": the next clause says what Sam is asked or told
        clause = _parse_clause(tokens, lo, hi, temporal, ents)
        if clause is not None and (clause.verb is not None or clause.named_subject):
            clause.addressee = addressee
            return clause
    return _Clause()


def find_who(clause: _Clause, author: str | None) -> str | None:
    if clause.named_subject:
        return clause.named_subject
    if clause.addressee and (
        clause.pronoun.lower().startswith("you")
        if clause.pronoun
        else not (clause.first_person or clause.common_subject)
    ):
        return clause.addressee  # "Sam, can you send…", "Ben, please book…": Sam, Ben act
    if clause.pronoun is not None:
        # "she", "it", "you" point at someone the text does not name: no coreference here.
        return clause.pronoun if clause.pronoun.lower() in INDEFINITE_PRONOUNS else None
    if clause.common_subject:
        return clause.common_subject
    return _trim(author) if author else None


def find_what(tokens: Tokens, clause: _Clause, temporal: list[bool]) -> str | None:
    if clause.verb is None:
        return None
    lower, breaks = tokens.lower, tokens.breaks
    last = clause.verb
    j = last + 1
    while (
        j < len(lower)
        and breaks[j] == NONE
        and lower[j] not in WHAT_STOPS
        and not temporal[j]
        and j - clause.verb < MAX_FILLER_TOKENS // 2 + 1
    ):
        last = j
        j += 1
    return _trim(tokens.span_text(clause.verb, last).lower())


def find_when(text: str, spans: Sequence[Timex]) -> str | None:
    span = merge_when(text, list(spans))
    return None if span is None else _trim(text[span[0] : span[1]])


def find_where(
    tokens: Tokens, temporal: list[bool], ents: dict[int, tuple[int, Entity]]
) -> str | None:
    lower, breaks = tokens.lower, tokens.breaks
    n = len(lower)
    # A filler is "home", a named place or a place noun; most texts have none of them.
    has_place_noun = not PLACE_NOUNS.isdisjoint(lower)
    if not ents and not has_place_noun and "home" not in lower:
        return None
    # Only "home" and the place prepositions open a filler: visit just those tokens.
    for i in _positions(lower, _WHERE_CUES):
        if lower[i] == "home" and i > 0 and lower[i - 1] in HOME_VERBS:
            return "home"
        if lower[i] not in WHERE_PREPS or i + 1 >= n or breaks[i + 1] != NONE:
            continue
        j = i + 1
        if lower[j] in DETERMINERS and j + 1 < n and breaks[j + 1] == NONE:
            j += 1
        if j in ents and not temporal[j]:
            ent = ents[j][1]
            if ent.label != "PERSON" and not any(c.isdigit() for c in ent.text):
                return ent.text
            continue
        if not has_place_noun:
            continue
        # "at the office", "in the main office": up to two modifiers before a place noun
        for k in range(j, min(n, j + 3)):
            if k > j and breaks[k] != NONE:
                break
            if lower[k] in PLACE_NOUNS:
                return _trim(tokens.span_text(i + 1, k))
            if lower[k] in PREPOSITIONS or temporal[k]:
                break
    return None


def find_why(text: str, spans: Sequence[Timex]) -> str | None:
    # Case folding maps a few non-ASCII letters onto ASCII ones (ſ → s), which lower() does
    # not: only an ASCII text may be ruled out by the lowercase cue test.
    if text.isascii() and not _CAUSAL_CUE.search(text.lower()):
        return None
    for match in CAUSAL.finditer(text):
        start = match.start("reason")
        if match.group().lower().startswith("since") and any(t.start == start for t in spans):
            continue  # "since Monday" is a time, not a reason
        words = match.group("reason").split()
        return _trim(" ".join(words[: MAX_FILLER_TOKENS + 4]))
    return None


def find_how(
    tokens: Tokens, temporal: list[bool], ents: dict[int, tuple[int, Entity]]
) -> str | None:
    lower, words, breaks = tokens.lower, tokens.words, tokens.breaks
    n = len(lower)
    # Visit only the instrument prepositions, then only the -ly words: most texts have few.
    for i in _positions(lower, INSTRUMENT_PREPS):
        if i + 1 >= n or breaks[i + 1] != NONE:
            continue
        j = i + 1
        if temporal[j] or lower[j] in OBJECT_PRONOUNS:
            continue  # "by Friday" is a deadline; "with her" a companion
        if lower[i] == "with" and (j in ents or (j + 1 < n and (j + 1) in ents)):
            continue  # "with Carol", "with the Berlin team": company, not an instrument
        if (
            lower[i] == "by"
            and i >= 2
            and lower[i - 1].endswith("ed")
            and (lower[i - 2] in BE_FORMS)
        ):
            continue  # passive agent: "was approved by the board"
        last = j
        k = j + 1
        while (
            k < n
            and breaks[k] == NONE
            and lower[k] not in WHAT_STOPS
            and not temporal[k]
            and k - j < MAX_FILLER_TOKENS // 2
        ):
            last = k
            k += 1
        if lower[i] == "with" and lower[last] in COMPANY_NOUNS:
            continue  # "with the design team": company again
        return _trim(tokens.span_text(j, last))
    for i in compress(range(n), _manner_adverbs(lower)):
        if breaks[i] != NONE or not words[i][0].isupper():
            return words[i].lower()
    return None


# Lowercase word → whether it is a manner adverb, cached: the test reads wordfreq up to
# three times, and it would otherwise run on every token of every text.
_MANNER: dict[str, bool] = {}
_MANNER_CACHE_LIMIT = 262_144


def _manner_adverbs(lower: list[str]) -> list[bool]:
    try:
        return list(map(_MANNER.__getitem__, lower))
    except KeyError:  # a word not seen before
        return list(map(_cached_is_manner_adverb, lower))


def _cached_is_manner_adverb(lower: str) -> bool:
    flag = _MANNER.get(lower)
    if flag is None:
        if len(_MANNER) >= _MANNER_CACHE_LIMIT:  # bounded: a long-running worker sees endless words
            _MANNER.clear()
        flag = _MANNER[lower] = _is_manner_adverb(lower)
    return flag


def _is_manner_adverb(lower: str) -> bool:
    if len(lower) < 5 or not lower.endswith("ly") or lower in NOT_MANNER or is_stopword(lower):
        return False
    stem = lower[:-2]
    candidates = (stem, stem[:-1] + "y" if stem.endswith("i") else stem, lower[:-1] + "e")
    # "carefully" ← "careful", "happily" ← "happy", "gently" ← "gentle": a real adjective.
    return any(zipf(c) >= 3.0 for c in candidates if len(c) >= 3)


# The model's own validator, called with a dict: the same checks and the same object as
# Roles(...), without BaseModel.__init__'s keyword packing (about a third cheaper).
_validate_roles = Roles.__pydantic_validator__.validate_python


def extract_roles(tokens: Tokens, entities: Sequence[Entity], author: str | None) -> Roles:
    """The 6W roles of one text."""
    # The attribution stage already found the dates; its DATE/TIME entities are the spans.
    spans = [Timex(e.start, e.end, e.label) for e in entities if e.label in ("DATE", "TIME")]
    temporal = _temporal_mask(tokens, spans)
    ents = _entity_index(tokens, entities)
    clause = find_subject_and_verb(tokens, temporal, ents)
    roles: Roles = _validate_roles(
        {
            "who": find_who(clause, author),
            "what": find_what(tokens, clause, temporal),
            "when": find_when(tokens.text, spans),
            "where": find_where(tokens, temporal, ents),
            "why": find_why(tokens.text, spans),
            "how": find_how(tokens, temporal, ents),
        }
    )
    return roles


class RuleRoles(Stage):
    """Rule-based 6W roles over tokens and entities; no model, tens of microseconds a text."""

    name = "roles"
    version = "roles.rules.v2"
    requires = ("tokens", "entities")
    assigns = ("roles",)

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        for draft in drafts:
            tokens = require_tokens(draft, self.version)
            draft.roles = extract_roles(tokens, draft.entities, draft.event.author)
        return drafts
