"""The 6W roles of a text from a spaCy parse (part of attribution.spacy.v2).

Works on a parsed `Doc` (tagger, parser, attribute_ruler and ner have run); imports nothing
from spaCy at run time, so the fast profile never pays for it. The rules, in brief:

- who: the subject of the main clause (nsubj; for a passive, the agent's "by" phrase), as
  a noun phrase without its determiner and its prepositional/relative attachments ("Our
  cluster in Frankfurt went down" → "Kubernetes cluster"). "I"/"we", a passive without
  agent and a clause without subject (imperatives, fragments) are the speaker's: the
  event's author fills who, except that a vocative names the addressee of "you" or of an
  imperative ("Sam, can you send…" → "Sam"). An indefinite pronoun is kept as written
  ("Can someone review…" → "someone"); any other pronoun ("she", "it", "you" without a
  vocative, "this") names nobody the text says, so who stays empty. Discourse words
  ("lol", "Reminder:") and dates are not subjects.
- main clause: the root of the first sentence with a verbal root, past a first-person
  frame ("I think we should postpone…" → "postpone"); in a verbless first sentence, its
  first clausal verb.
- what: the main verb, its particle and its direct object (or dative, attribute, adjective
  complement) as one lowercased surface slice ("booked the flight", "went down"). After a
  light verb (want/need/going…) the open complement is the main verb ("I need to book a
  flight" → "book a flight"). A verbless fragment has no what.
- when: DATE/TIME entities, the first one extended over those joined to it ("tomorrow at
  10:30"); else the fast path's `timex` patterns; else a during/after/before/until phrase
  (the preposition kept, but for "during": "after the review" is not "the review").
- where: the first place phrase (in/at/to/from/near/… + noun phrase) whose noun is a GPE,
  LOC or FAC entity; else one whose noun is an ORG entity or a common place noun ("at the
  office" → "office"); else any such phrase on the main verb or its subject whose noun is
  not a person, pronoun, time or amount ("to production"); else "home"; else the first
  GPE/LOC/FAC entity that does not modify a noun ("the London team" does).
- why: the clause or phrase governed by because (of), since (only as a subordinator:
  "since Monday" is a time), so that, so as to, in order to/that, due to, owing to,
  thanks to, and so as a subordinator ("so they can review it"): the dependency subtree
  that follows the connective, up to a clause break; else a purpose infinitive on the main
  verb ("queued overnight to buy the console" → "buy the console").
- how: an instrument phrase after by/with/using/via ("using the canary pipeline" →
  "canary pipeline"; not a passive agent, a deadline "by Friday", an amount "by 10%" or
  company "with Carol");
  else a manner adverb in -ly attached to a verb ("carefully").

Fillers are slices of the text, trimmed of punctuation and of a leading preposition,
connective, determiner or possessive pronoun, at most `MAX_FILLER_TOKENS` tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from lumina.schemas import Roles

from .roles_rules import (
    COMPANY_NOUNS,
    DISCOURSE,
    FIRST_PERSON,
    INDEFINITE_PRONOUNS,
    NOT_MANNER,
    PLACE_NOUNS,
    WHERE_PREPS,
)
from .timex import Timex, find_timex, merge_when

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

__all__ = ["MAX_FILLER_TOKENS", "TEXT_KEY", "doc_text", "remember_lowers", "roles_from_doc"]

# `doc.user_data` key of the text fillers are sliced from, when the parsed text differs from
# it (a re-parse with the first letter lowercased, see attribution_spacy); same length.
TEXT_KEY = "lumina.text"

MAX_FILLER_TOKENS = 8
MAX_WHY_TOKENS = 12

PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
ORG_LABELS = frozenset({"ORG"})
AMOUNT_LABELS = frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY"})
# A place phrase whose object is one of these is not a place ("to Maya", "at 3pm", "by 10%").
NOT_PLACE_LABELS = frozenset(
    {"PERSON", "NORP", "DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY", "PERCENT", "QUANTITY"}
)
TEMPORAL_LABELS = frozenset({"DATE", "TIME"})
SUBJECT_DEPS = frozenset({"nsubj", "csubj"})
# Attachments that are not part of the noun phrase a filler names.
NP_CUT_DEPS = frozenset(
    {"prep", "relcl", "acl", "appos", "punct", "advcl", "parataxis", "cc_preconj"}
)
# What follows the main verb in `what`.
WHAT_DEPS = frozenset({"prt", "dobj", "dative", "attr", "acomp", "oprd"})
# Verbs that only carry their open complement: "want to go", "going to ship".
# Hedging/reporting frames skipped to the clause they introduce, after "I"/"we" only.
FRAME_VERBS = frozenset(
    {"think", "guess", "believe", "feel", "suppose", "reckon", "hope", "suspect", "assume"}
)
# Verbs that do not head the clause of a verbless fragment ("the broken boiler").
NOT_CLAUSE_DEPS = frozenset({"amod", "compound", "acl", "relcl", "nmod", "poss", "pobj"})
LIGHT_VERBS = frozenset(
    {"want", "wants", "wanted", "wanna", "need", "needs", "needed", "going", "gonna", "have",
     "has", "had", "got", "gotta"}
)  # fmt: skip
TEMPORAL_PREPS = frozenset({"during", "after", "before", "until", "till"})
INSTRUMENT_PREPS = frozenset({"by", "with", "via"})
# Leading tokens a filler drops: determiners, possessive pronouns, prepositions, connectives.
LEADING_DROP_DEPS = frozenset({"det", "predet", "poss", "prep", "mark", "cc", "punct", "case"})
# Connectives → how many tokens they span after the first; the phrase they govern is `why`.
CAUSAL = {
    ("because", "of"): 2,
    ("because",): 1,
    ("due", "to"): 2,
    ("owing", "to"): 2,
    ("thanks", "to"): 2,
    ("so", "that"): 2,
    ("so", "as", "to"): 3,
    ("in", "order", "to"): 3,
    ("in", "order", "that"): 3,
    ("since",): 1,
    ("so",): 1,
}
_CAUSAL_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(CAUSAL, key=len, reverse=True):  # longest first
    _CAUSAL_BY_FIRST.setdefault(_phrase[0], []).append(_phrase)
_TRIM = " \t\"'“”‘’()[]{}.,;:!?-–—"
_CLAUSE_BREAK = frozenset(',;:()[]"“”—–!?.')


LOWER_KEY = "lumina.lower"


def remember_lowers(doc: Doc, lowers: list[str]) -> None:
    """Keep the doc's lowercase tokens, read by a pass over it made for another reason."""
    doc.user_data[LOWER_KEY] = lowers


def _lowers(doc: Doc) -> list[str]:
    """The doc's lowercase tokens, read once per doc: the role rules look for their cue words
    in this list and make a Token (`doc[i]`, a Python object each time) only at a cue."""
    lower = doc.user_data.get(LOWER_KEY)
    if lower is None:
        lower = doc.user_data[LOWER_KEY] = [t.lower_ for t in doc]
    return lower


def doc_text(doc: Doc) -> str:
    """The text to slice fillers from: the original, even for a case-folded re-parse."""
    text = doc.user_data.get(TEXT_KEY)
    return text if isinstance(text, str) else doc.text


def _trim(text: str) -> str | None:
    text = text.strip(_TRIM)
    return text or None


def _slice(doc: Doc, first: int, last: int, *, strip_leading: bool = True) -> str | None:
    """Text of tokens first..last, without leading determiners/prepositions/connectives."""
    if strip_leading:
        while first <= last and (
            doc[first].dep_ in LEADING_DROP_DEPS
            or doc[first].pos_ in ("DET", "ADP", "SCONJ", "CCONJ", "PUNCT")
        ):
            first += 1
    if first > last:
        return None
    start, end = doc[first].idx, doc[last].idx + len(doc[last])
    return _trim(doc_text(doc)[start:end])


def _noun_phrase(head: Token, limit: int = MAX_FILLER_TOKENS) -> tuple[int, int]:
    """First and last token index of `head`'s phrase without its prepositional, relative
    and appositive attachments ("the new intern from Paris" → "the new intern")."""
    cut: set[int] = set()
    for child in head.children:
        if child.dep_ in NP_CUT_DEPS:
            cut.update(t.i for t in child.subtree)
    kept = [t.i for t in head.subtree if t.i not in cut]
    first, last = min(kept), max(kept)
    after = [i for i in cut if head.i < i <= last]
    if after:
        last = min(after) - 1
    before = [i for i in cut if first <= i < head.i]
    if before:
        first = max(before) + 1
    doc = head.doc
    # A date the parser glued onto the phrase is `when`, not part of it ("Yesterday Reuters").
    while first < head.i and doc[first].ent_type_ in TEMPORAL_LABELS:
        first += 1
    while last > head.i and doc[last].ent_type_ in TEMPORAL_LABELS:
        last -= 1
    return first, min(last, first + limit - 1)


def _entity_at(doc: Doc) -> dict[int, Span]:
    """Token index → the entity that contains it."""
    return {i: ent for ent in doc.ents for i in range(ent.start, ent.end)}


# --------------------------------------------------------------------------- clause


def _main_verb(doc: Doc) -> Token | None:
    """The verb of the first sentence that has one: its root, past a first-person frame
    ("I think we should postpone…" → "postpone"), else its first clausal verb ("Quick
    update: I met…")."""
    for sent in doc.sents:
        root = sent.root
        if root.pos_ in ("VERB", "AUX"):
            return _past_frame(root)
        verb = next((t for t in sent if t.pos_ == "VERB" and t.dep_ not in NOT_CLAUSE_DEPS), None)
        if verb is not None:
            return verb
    return None


def _past_frame(verb: Token) -> Token:
    subject = next((c for c in verb.children if c.dep_ == "nsubj"), None)
    if verb.lower_ in FRAME_VERBS and subject is not None and subject.lower_ in FIRST_PERSON:
        ccomp = next((c for c in verb.children if c.dep_ == "ccomp" and c.i > verb.i), None)
        if ccomp is not None and ccomp.pos_ in ("VERB", "AUX"):
            return ccomp
    return verb


def vocative(doc: Doc) -> str | None:
    """A name that opens the text before a comma: "Sam, can you…" → "Sam"."""
    n = 0
    while n < min(len(doc), 4) and doc[n].pos_ == "PROPN":
        n += 1
    if 0 < n < len(doc) and doc[n].text == "," and doc[0].ent_type_ not in TEMPORAL_LABELS:
        return _slice(doc, 0, n - 1)
    return None


def _subject(verb: Token) -> Token | None:
    """The active subject, the passive agent, or the subject shared with a governing verb."""
    token: Token | None = verb
    for _ in range(3):  # "we stayed home and watched films": watched ← stayed's subject
        if token is None:
            return None
        passive = False
        for child in token.children:
            if child.dep_ in SUBJECT_DEPS:
                return child
            passive = passive or child.dep_ in ("nsubjpass", "csubjpass")
        if passive:
            agent = next((c for c in token.children if c.dep_ == "agent"), None)
            return next((c for c in agent.children if c.dep_ == "pobj"), None) if agent else None
        if token.dep_ not in ("conj", "xcomp") or token.head is token:
            return None
        token = token.head
    return None


def _is_real_subject(subject: Token, verb: Token) -> bool:
    """Not "I"/"we", a discourse word ("lol", "Reminder:") or a date, and not cut off from
    its verb by a colon or semicolon (the parser's guess across a break)."""
    if subject.lower_ in FIRST_PERSON:
        return False  # the author's own clause
    if subject.lower_ in DISCOURSE or subject.ent_type_ in TEMPORAL_LABELS:
        return False
    lo, hi = sorted((subject.i, verb.i))
    return not any(t.text in (":", ";") for t in subject.doc[lo:hi])


def find_who(verb: Token | None, author: str | None) -> str | None:
    subject = _subject(verb) if verb is not None else None
    if subject is None or verb is None or not _is_real_subject(subject, verb):
        if subject is None:
            # "Tom, please water…": the named addressee of an imperative acts.
            name = vocative(verb.doc) if verb is not None else None
            if name:
                return name
        return _trim(author) if author else None
    if subject.pos_ in ("PRON", "DET"):
        if subject.lower_ in INDEFINITE_PRONOUNS:
            return subject.text
        if subject.lower_ == "you":  # "Sam, can you send…": the named addressee acts
            return vocative(verb.doc)
        return None  # "she", "it", "this": no coreference here, and not the author
    first, last = _noun_phrase(subject)
    return _slice(subject.doc, first, last) or (_trim(author) if author else None)


def _content_verb(verb: Token) -> Token:
    """Past a light verb to its open complement: "need to book" → "book"."""
    if verb.lower_ in LIGHT_VERBS and not any(c.dep_ == "dobj" for c in verb.children):
        xcomp = next((c for c in verb.children if c.dep_ == "xcomp" and c.pos_ == "VERB"), None)
        if xcomp is not None:
            return xcomp
    return verb


def find_what(verb: Token | None) -> str | None:
    if verb is None:
        return None
    verb = _content_verb(verb)
    doc = verb.doc
    last = verb.i
    for child in verb.children:
        if child.dep_ not in WHAT_DEPS or child.i < verb.i:
            continue
        if child.dep_ == "prt":
            last = max(last, child.i)
        else:
            last = max(last, _noun_phrase(child, MAX_FILLER_TOKENS // 2)[1])
    if verb.pos_ == "AUX" and last == verb.i:
        return None  # a bare copula ("the meeting is at 3pm") says nothing as a what
    last = min(last, verb.i + MAX_FILLER_TOKENS - 1)
    # Stop at a clause break inside the slice ("booked it, then left").
    for i in range(verb.i + 1, last + 1):
        if doc[i].is_punct and doc[i].text in _CLAUSE_BREAK:
            last = i - 1
            break
    text = _slice(doc, verb.i, last, strip_leading=False)
    return text.lower() if text else None


# --------------------------------------------------------------------------- when


def find_when(doc: Doc, words: Sequence[str] | None = None) -> str | None:
    spans = [
        Timex(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in TEMPORAL_LABELS
    ]
    if not spans:  # the small model misses some clock times ("at 7"); the patterns do not
        spans = find_timex(doc_text(doc), words)
    merged = merge_when(doc_text(doc), spans)
    if merged is not None:
        return _trim(doc_text(doc)[merged[0] : merged[1]])
    for i, word in enumerate(_lowers(doc)):
        token = doc[i] if word in TEMPORAL_PREPS else None
        if token is not None and token.dep_ == "prep":
            pobj = next((c for c in token.children if c.dep_ == "pobj"), None)
            if pobj is not None:
                # Keep "after"/"before": "after the review" is not "the review".
                last = _noun_phrase(pobj)[1]
                return _slice(doc, token.i, last, strip_leading=token.lower_ == "during")
    return None


# --------------------------------------------------------------------------- where


def _place_phrases(doc: Doc) -> Iterable[tuple[Token, Token]]:
    """(preposition, its object) for every place preposition with an object, in order."""
    for i, word in enumerate(_lowers(doc)):
        token = doc[i] if word in WHERE_PREPS else None
        if token is not None and token.dep_ in ("prep", "dative", "agent"):
            pobj = next((c for c in token.children if c.dep_ == "pobj"), None)
            if pobj is not None:
                yield token, pobj


def _place_filler(pobj: Token, ents: dict[int, Span], labels: frozenset[str]) -> str | None:
    """The filler when `pobj`'s phrase names a place with one of `labels`."""
    ent = ents.get(pobj.i)
    if ent is not None:
        if ent.label_ in labels:
            return _slice(pobj.doc, ent.start, ent.end - 1)
        return None
    first, last = _noun_phrase(pobj)
    inner = {ents[i].label_ for i in range(first, last + 1) if i in ents}
    if inner & TEMPORAL_LABELS or not inner & labels:
        return None
    return _slice(pobj.doc, first, last)  # "the London office" → "London office"


def _clause_place(
    prep: Token, pobj: Token, anchors: set[int], ents: dict[int, Span], skip: set[int]
) -> str | None:
    """Any noun phrase after a place preposition that modifies the main clause (its verb or
    subject), when it is not a person, a pronoun, a time or an amount: "to production"."""
    if prep.head.i not in anchors or prep.i in skip or pobj.pos_ not in ("NOUN", "PROPN"):
        return None
    first, last = _noun_phrase(pobj)
    if any(i in ents and ents[i].label_ in NOT_PLACE_LABELS for i in range(first, last + 1)):
        return None
    return _slice(pobj.doc, first, last)


def find_where(
    doc: Doc, ents: dict[int, Span], verb: Token | None = None, skip: Iterable[int] = ()
) -> str | None:
    """`verb` is the main verb (its place phrases qualify even without a named place);
    `skip` holds token indexes of causal connectives ("in order to" is not a place)."""
    phrases = list(_place_phrases(doc))
    for _, pobj in phrases:
        filler = _place_filler(pobj, ents, PLACE_LABELS)
        if filler:
            return filler
    for _, pobj in phrases:
        filler = _place_filler(pobj, ents, ORG_LABELS)
        if filler:
            return filler
        if pobj.i not in ents and pobj.lower_ in PLACE_NOUNS:
            return _slice(doc, *_noun_phrase(pobj))
    if verb is not None:
        subject = _subject(verb)
        anchors = {verb.i, _content_verb(verb).i} | ({subject.i} if subject is not None else set())
        skipped = set(skip)
        for prep, pobj in phrases:
            filler = _clause_place(prep, pobj, anchors, ents, skipped)
            if filler:
                return filler
    for i, word in enumerate(_lowers(doc)):
        if word == "home" and doc[i].dep_ in ("advmod", "npadvmod", "pobj", "dobj"):
            return "home"
    for ent in doc.ents:
        # "the London team" names a team, not where the event happens.
        if ent.label_ in PLACE_LABELS and ent.root.dep_ not in ("compound", "amod", "poss"):
            return _slice(doc, ent.start, ent.end - 1)
    return None


# --------------------------------------------------------------------------- why


def _connective_at(lower: Sequence[str], i: int) -> int | None:
    """Index of the last token of a causal connective starting at token i, if one does;
    `lower` holds the doc's lowercase tokens (read once: each `doc[i]` makes a Token)."""
    for phrase in _CAUSAL_BY_FIRST.get(lower[i], ()):
        end = i + len(phrase)
        if tuple(lower[i:end]) == phrase:
            return end - 1
    return None


def connective_tokens(doc: Doc) -> set[int]:
    """Indexes of the tokens of every causal connective in `doc`."""
    lower = _lowers(doc)
    out: set[int] = set()
    for i, word in enumerate(lower):
        last = _connective_at(lower, i) if word in _CAUSAL_BY_FIRST else None
        if last is not None:
            out.update(range(i, last + 1))
    return out


def _purpose(verb: Token | None) -> str | None:
    """A bare purpose infinitive on the main verb: "queued overnight to buy the console"."""
    if verb is None:
        return None
    for child in _content_verb(verb).children:
        if (
            child.dep_ == "advcl"
            and child.pos_ == "VERB"
            and child.i > verb.i
            and any(c.dep_ == "aux" and c.lower_ == "to" for c in child.children)
        ):
            last = min(child.right_edge.i, child.i + MAX_WHY_TOKENS - 1)
            return _slice(verb.doc, child.i, _before_break(verb.doc, child.i, last))
    return None


def _before_break(doc: Doc, first: int, last: int) -> int:
    """`last`, or the token before the first clause-breaking punctuation after `first`."""
    for i in range(first + 1, last + 1):
        if doc[i].is_punct and doc[i].text in _CLAUSE_BREAK:
            return i - 1
    return last


def find_why(doc: Doc, verb: Token | None = None) -> str | None:
    lower = _lowers(doc)
    for i, word in enumerate(lower):
        conn_last = _connective_at(lower, i) if word in _CAUSAL_BY_FIRST else None
        if conn_last is None:
            continue
        token = doc[i]
        if token.lower_ in ("since", "so") and token.dep_ != "mark":
            continue  # "since Monday": a time; ", so we stayed": a result, not a reason
        start = conn_last + 1
        if start >= len(doc):
            continue
        if token.dep_ == "mark" and token.head.i >= start:
            head = token.head  # "because the price dropped": the clause the mark opens
        else:  # "due to a memory leak": climb from the first word while right of the connective
            head = doc[start]
            while head.head is not head and head.head.i > conn_last and head.head.dep_ != "ROOT":
                head = head.head
        last = _before_break(doc, start - 1, min(head.right_edge.i, start + MAX_WHY_TOKENS - 1))
        filler = _slice(doc, start, last)
        if filler:
            return filler
    return _purpose(verb)


# --------------------------------------------------------------------------- how


def _is_company(pobj: Token, ents: dict[int, Span]) -> bool:
    """ "with Carol", "with her", "with the design team": company, not an instrument."""
    if pobj.pos_ == "PRON" or pobj.lower_ in COMPANY_NOUNS:
        return True
    first, last = _noun_phrase(pobj)
    return any(i in ents and ents[i].label_ in ("PERSON", "NORP") for i in range(first, last + 1))


def _instrument(token: Token, ents: dict[int, Span]) -> str | None:
    doc = token.doc
    lower = token.lower_
    if lower == "using" and token.pos_ == "VERB":
        obj = next((c for c in token.children if c.dep_ == "dobj"), None)
        return _slice(doc, *_noun_phrase(obj)) if obj is not None else None
    if lower not in INSTRUMENT_PREPS or token.dep_ not in ("prep",):
        return None  # the passive agent "by the board" has dep `agent`, not `prep`
    for child in token.children:
        if child.dep_ == "pcomp" and child.pos_ == "VERB":  # "by restarting the server"
            return _slice(doc, child.i, min(child.right_edge.i, child.i + MAX_FILLER_TOKENS - 1))
        if child.dep_ != "pobj":
            continue
        first, last = _noun_phrase(child)
        labels = {ents[i].label_ for i in range(first, last + 1) if i in ents}
        if labels & TEMPORAL_LABELS or (
            lower == "by"
            and (labels & AMOUNT_LABELS or any(t.pos_ == "NUM" for t in doc[first : last + 1]))
        ):
            return None  # "by Friday": a deadline; "by half a point", "by 10%": an amount
        if lower == "with" and _is_company(child, ents):
            return None
        return _slice(doc, *_noun_phrase(child))
    return None


def _is_manner_adverb(token: Token) -> bool:
    lower = token.lower_
    return (
        token.pos_ == "ADV"
        and token.dep_ == "advmod"
        and len(lower) >= 5
        and lower.endswith("ly")
        and lower not in NOT_MANNER
        and not (token.head.pos_ in ("ADJ", "ADV") and token.head.dep_ != "ROOT")  # "very"
        and token.ent_type_ not in TEMPORAL_LABELS
    )


def find_how(doc: Doc, ents: dict[int, Span]) -> str | None:
    lower = _lowers(doc)
    for i, word in enumerate(lower):
        if word in INSTRUMENT_PREPS or word == "using":
            filler = _instrument(doc[i], ents)
            if filler:
                return filler
    for i, word in enumerate(lower):
        if len(word) >= 5 and word.endswith("ly") and _is_manner_adverb(doc[i]):
            return word
    return None


# --------------------------------------------------------------------------- all


def roles_from_doc(doc: Doc, author: str | None, words: Sequence[str] | None = None) -> Roles:
    """The 6W roles of one parsed text; `author` fills who when the text has no subject.

    `words`, the lowercased tokens of `tokenize(text)` when the caller has them, let the date
    patterns that cannot match be skipped (`find_timex`); the roles are the same without."""
    ents = _entity_at(doc)
    verb = _main_verb(doc)
    return Roles(
        who=find_who(verb, author),
        what=find_what(verb),
        when=find_when(doc, words),
        where=find_where(doc, ents, verb, connective_tokens(doc)),
        why=find_why(doc, verb),
        how=find_how(doc, ents),
    )


def roles_of_docs(docs: Sequence[Doc], authors: Sequence[str | None]) -> list[Roles]:
    return [roles_from_doc(d, a) for d, a in zip(docs, authors, strict=True)]
