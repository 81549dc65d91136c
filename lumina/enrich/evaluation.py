"""Measured 6W accuracy: score an attributor's roles against the hand-labelled gold set.

The gold set is `tests/data/sixw_gold.jsonl` (labelling guide: `tests/data/LABELLING.md`).
An extractor is any callable that maps a batch of examples (each has `.text` and `.author`)
to one `Roles` per example, in order. `evaluate` runs it once over the whole set, times the
call, and scores every role.

Matching rule (the same in LABELLING.md):

1. Normalise both strings: lowercase; strip punctuation at the ends; drop leading
   determiners (`the`, `a`, `an`) and leading prepositions (`at`, `on`, `in`, `by`, `with`,
   `via`, `using`, `to`, `from`, …) for as long as one leads; split on whitespace and strip
   punctuation at the ends of each token. If nothing is left, the tokens from before the
   dropping are used.
2. A prediction **matches** the gold if the token-overlap F1 of the two token multisets is
   at least `MATCH_THRESHOLD` (0.5). So "the office" matches "office", and
   "the staging database to Frankfurt" matches "moved the staging database": the tokens
   are {staging, database, to, frankfurt} and {moved, the, staging, database}, two shared
   of four each, F1 = 0.5, just at the threshold.

Per role and per example (a value is present if it is a non-blank string):

- TP: gold and prediction are both present and they match;
- FP: a prediction is present, and the gold is absent or does not match;
- FN: a gold value is present, and the prediction is absent or does not match.

A wrong prediction is therefore both an FP and an FN, the usual convention for span
extraction. Precision, recall and F1 are computed per role, and micro-averaged by summing
TP, FP and FN over the six roles.

Enrichment layer: no Kafka and no ClickHouse imports. Run it with
`python -m lumina.enrich.evaluation [fast] [spacy] [--markdown]`.
"""

from __future__ import annotations

import importlib
import json
import string
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumina.errors import ConfigError
from lumina.schemas import Roles, TextEvent

from .attribution_fast import FastAttribution
from .roles_rules import RuleRoles
from .stage import Draft
from .tokenizer import RegexTokenizer

if TYPE_CHECKING:
    from lumina.config import Settings

__all__ = [
    "GOLD_PATH",
    "KINDS",
    "MATCH_THRESHOLD",
    "ROLES",
    "Extractor",
    "GoldExample",
    "Mismatch",
    "RoleScore",
    "SixWReport",
    "evaluate",
    "extractor_for",
    "fast_extractor",
    "format_markdown",
    "format_side_by_side",
    "load_gold",
    "match",
    "normalise",
    "score_role",
    "token_f1",
]

ROLES: tuple[str, ...] = ("who", "what", "when", "where", "why", "how")
KINDS: frozenset[str] = frozenset({"chat", "news", "note", "instruction"})
MATCH_THRESHOLD = 0.5
# The repository's gold set: <repo>/tests/data/, beside the `lumina` package folder.
GOLD_PATH = Path(__file__).resolve().parents[2] / "tests" / "data" / "sixw_gold.jsonl"
EVAL_SCOPE = "eval"

DETERMINERS: frozenset[str] = frozenset({"the", "a", "an"})
# Leading prepositions that carry no meaning of their own once the role is known. Not
# "before", "after", "until", "since": dropping those would change a time's meaning.
PREPOSITIONS: frozenset[str] = frozenset(
    {
        "at", "on", "in", "into", "onto", "by", "with", "via", "using", "to", "from", "for",
        "over", "during", "through", "throughout", "across", "around", "near", "within",
        "inside", "of", "under", "behind",
    }
)  # fmt: skip
# ASCII punctuation plus the typographic quotes and dashes people paste into chat.
PUNCTUATION = string.punctuation + "‘’“”«»–—…"

Extractor = Callable[[Sequence["GoldExample"]], list[Roles]]


# --------------------------------------------------------------------------- gold set


@dataclass(frozen=True, slots=True)
class GoldExample:
    """One labelled sentence; `text` and `author` are what an extractor gets to see."""

    id: str
    kind: str
    author: str | None
    text: str
    roles: Roles


def _example(record: Any, where: str) -> GoldExample:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    expected = {"id", "kind", "author", "text", *ROLES}
    missing = expected - record.keys()
    extra = record.keys() - expected
    if missing or extra:
        missing_text, extra_text = sorted(missing) or "none", sorted(extra) or "none"
        raise ValueError(f"{where}: fields missing {missing_text}, unexpected {extra_text}")
    if record["kind"] not in KINDS:
        raise ValueError(f"{where}: kind {record['kind']!r} is not one of {sorted(KINDS)}")
    for key in ("id", "text"):
        if not isinstance(record[key], str) or not record[key].strip():
            raise ValueError(f"{where}: {key} must be a non-empty string")
    for key in ("author", *ROLES):
        value = record[key]
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{where}: {key} must be null or a non-empty string, got {value!r}")
    return GoldExample(
        id=record["id"],
        kind=record["kind"],
        author=record["author"],
        text=record["text"],
        roles=Roles(**{role: record[role] for role in ROLES}),
    )


def load_gold(path: Path | None = None) -> list[GoldExample]:
    """The gold examples in file order; the repository's set when `path` is None.

    Raises ConfigError if the file is absent (an installed wheel has no `tests/` folder)
    and ValueError, naming the line, if a record is malformed or an id repeats.
    """
    path = Path(path) if path is not None else GOLD_PATH
    if not path.is_file():
        raise ConfigError(
            f"6W gold set not found at {path}; it ships with the source repository "
            "(tests/data/sixw_gold.jsonl), not with the installed package: run from a checkout "
            "or pass the path explicitly"
        )
    examples: list[GoldExample] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON: {exc}") from exc
            example = _example(record, where)
            if example.id in seen:
                raise ValueError(f"{where}: id {example.id!r} repeats")
            seen.add(example.id)
            examples.append(example)
    if not examples:
        raise ValueError(f"{path}: no examples")
    return examples


# --------------------------------------------------------------------------- matching


def _tokens(text: str) -> list[str]:
    words = (w.strip(PUNCTUATION) for w in text.lower().strip().strip(PUNCTUATION).split())
    return [w for w in words if w]


def normalise(text: str) -> list[str]:
    """The tokens a role value is compared on (see the module docstring)."""
    tokens = _tokens(text)
    start = 0
    while start < len(tokens) and (tokens[start] in DETERMINERS or tokens[start] in PREPOSITIONS):
        start += 1
    return tokens[start:] or tokens


def token_f1(predicted: str, gold: str) -> float:
    """Token-overlap F1 of the normalised strings (multiset overlap), in [0, 1]."""
    p, g = normalise(predicted), normalise(gold)
    if not p or not g:
        return 0.0
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def match(predicted: str, gold: str, threshold: float = MATCH_THRESHOLD) -> bool:
    """True if the prediction counts as the gold value: token F1 ≥ `threshold`."""
    return token_f1(predicted, gold) >= threshold


def _present(value: str | None) -> bool:
    return value is not None and bool(value.strip())


def score_role(predicted: str | None, gold: str | None) -> tuple[int, int, int]:
    """(tp, fp, fn) for one role of one example."""
    has_pred, has_gold = _present(predicted), _present(gold)
    if has_pred and has_gold and match(predicted or "", gold or ""):
        return 1, 0, 0
    return 0, int(has_pred), int(has_gold)


# --------------------------------------------------------------------------- report


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


@dataclass(frozen=True, slots=True)
class RoleScore:
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int) -> RoleScore:
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
        return cls(tp, fp, fn, precision, recall, f1)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A role where the prediction was not a TP: for reading the errors, not for scoring."""

    id: str
    role: str
    gold: str | None
    predicted: str | None


@dataclass(frozen=True, slots=True)
class SixWReport:
    roles: dict[str, RoleScore]
    micro: RoleScore
    n: int
    seconds: float
    texts_per_s: float
    mismatches: tuple[Mismatch, ...] = field(default=(), repr=False)

    def __getitem__(self, role: str) -> RoleScore:
        return self.micro if role == "micro" else self.roles[role]


def evaluate(extract: Extractor, gold: Sequence[GoldExample]) -> SixWReport:
    """Run `extract` once over all of `gold`, time it, and score every role."""
    if not gold:
        raise ValueError("no gold examples to evaluate on")
    examples = list(gold)
    start = time.perf_counter()
    predictions = list(extract(examples))
    seconds = time.perf_counter() - start
    if len(predictions) != len(examples):
        raise ValueError(f"the extractor returned {len(predictions)} roles for {len(examples)}")
    counts = {role: [0, 0, 0] for role in ROLES}
    mismatches: list[Mismatch] = []
    for example, predicted in zip(examples, predictions, strict=True):
        for role in ROLES:
            gold_value, pred_value = getattr(example.roles, role), getattr(predicted, role)
            tp, fp, fn = score_role(pred_value, gold_value)
            for k, v in enumerate((tp, fp, fn)):
                counts[role][k] += v
            if fp or fn:
                mismatches.append(Mismatch(example.id, role, gold_value, pred_value))
    scores = {role: RoleScore.from_counts(*c) for role, c in counts.items()}
    micro = RoleScore.from_counts(*(sum(c[k] for c in counts.values()) for k in range(3)))
    return SixWReport(
        roles=scores,
        micro=micro,
        n=len(examples),
        seconds=seconds,
        texts_per_s=len(examples) / seconds if seconds > 0 else float("inf"),
        mismatches=tuple(mismatches),
    )


# --------------------------------------------------------------------------- extractors


def fast_extractor(settings: Settings | None = None) -> Extractor:
    """The fast pipeline's roles: tokens → attribution.fast → roles.rules, no embedder.

    Each example becomes `TextEvent(scope="eval", author=…, text=…)` and a Draft, exactly
    as the pipeline builds them, so the roles equal a unit's `roles` for the same event.
    `settings` is accepted for symmetry with the spaCy extractor; the fast stages take none.
    """
    del settings
    stages = (RegexTokenizer(), FastAttribution(), RuleRoles())

    def extract(examples: Sequence[GoldExample]) -> list[Roles]:
        drafts = [
            Draft.from_event(TextEvent(scope=EVAL_SCOPE, author=ex.author, text=ex.text), 0)
            for ex in examples
        ]
        for stage in stages:
            drafts = stage(drafts)
        return [draft.roles for draft in drafts]

    # Warm up (wordfreq loads its tables lazily) so that the timed call measures throughput,
    # not start-up, as the spaCy extractor loads its model before returning.
    extract([GoldExample("warm-up", "note", None, "Warm up the stages.", Roles())])
    return extract


def extractor_for(name: str, settings: Settings | None = None) -> Extractor:
    """The extractor of attributor `name`: "fast" or "spacy"."""
    if name == "fast":
        return fast_extractor(settings)
    if name == "spacy":
        try:
            module = importlib.import_module("lumina.enrich.attribution_spacy")
            factory = module.spacy_roles_extractor
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"the spaCy attributor is not available ({type(exc).__name__}: {exc}); "
                "install the `models` extra (spaCy and en_core_web_sm) or evaluate 'fast'"
            ) from exc
        return factory(settings)
    raise ConfigError(f"unknown attributor {name!r}: expected 'fast' or 'spacy'")


# --------------------------------------------------------------------------- formatting

_ROWS: tuple[str, ...] = (*ROLES, "micro")


def format_side_by_side(reports: dict[str, SixWReport]) -> str:
    """Plain text: one row per role and micro, P/R/F1 per attributor, then texts/s."""
    names = list(reports)
    cell = 6
    group = 3 * cell + 2
    widths = [max(group, len(name)) for name in names]
    head1 = f"{'':<6}" + "".join(f"  {n:^{w}}" for n, w in zip(names, widths, strict=True))
    labels = f"{'P':>{cell}} {'R':>{cell}} {'F1':>{cell}}"
    head2 = f"{'role':<6}" + "".join(f"  {labels:>{w}}" for w in widths)
    lines = [head1.rstrip(), head2, "-" * len(head2)]
    for row in _ROWS:
        cells = []
        for name, w in zip(names, widths, strict=True):
            s = reports[name][row]
            triple = f"{s.precision:>{cell}.3f} {s.recall:>{cell}.3f} {s.f1:>{cell}.3f}"
            cells.append(f"  {triple:>{w}}")
        lines.append(f"{row:<6}" + "".join(cells))
    lines.append("-" * len(head2))
    speed = "".join(
        f"  {f'{reports[n].texts_per_s:,.0f}':>{w}}" for n, w in zip(names, widths, strict=True)
    )
    lines.append(f"{'txt/s':<6}" + speed)
    size = "".join(f"  {reports[n].n:>{w}}" for n, w in zip(names, widths, strict=True))
    lines.append(f"{'n':<6}" + size)
    return "\n".join(lines)


def format_markdown(reports: dict[str, SixWReport]) -> str:
    """The same table as Markdown, for the README."""
    names = list(reports)
    header = "| role | " + " | ".join(f"{n} P | {n} R | {n} F1" for n in names) + " |"
    rule = "|---|" + "---:|" * (3 * len(names))
    lines = [header, rule]
    for row in _ROWS:
        cells = []
        for name in names:
            s = reports[name][row]
            cells += [f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}"]
        label = "**micro**" if row == "micro" else row
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    speed: list[str] = []
    for name in names:
        speed += [f"{reports[name].texts_per_s:,.0f}", "", ""]
    lines.append("| texts/s | " + " | ".join(speed) + " |")
    return "\n".join(lines)
