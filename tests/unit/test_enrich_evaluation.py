"""The 6W accuracy harness: the gold file, the matcher, the scoring and the fast baseline."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from lumina.enrich.evaluation import (
    GOLD_PATH,
    KINDS,
    ROLES,
    GoldExample,
    SixWReport,
    evaluate,
    extractor_for,
    fast_extractor,
    format_markdown,
    format_side_by_side,
    load_gold,
    match,
    normalise,
    score_role,
    token_f1,
)
from lumina.enrich.pipeline import Incoming, Pipeline
from lumina.errors import ConfigError
from lumina.schemas import Roles, TextEvent

FIELDS = {"id", "kind", "author", "text", *ROLES}

# Regression guards, set after measuring the fast attributor (roles.rules.v2) on gold v2:
# micro F1 0.828, who 0.850, when 0.847. Each floor is about 0.05 under the measurement,
# rounded down. Raise them when the rules improve; never lower them to make a change pass.
FAST_MIN_MICRO_F1 = 0.77
FAST_MIN_WHO_F1 = 0.78
FAST_MIN_WHEN_F1 = 0.79


# --------------------------------------------------------------------------- the data files

HELDOUT_PATH = GOLD_PATH.with_name("sixw_heldout.jsonl")


@dataclass(frozen=True)
class DataFile:
    """A labelled file and the shape it must have; thresholds scale with its size."""

    path: Path
    id_prefix: str
    min_records: int
    min_per_kind: int
    min_per_role: int


DATA_FILES = [
    pytest.param(DataFile(GOLD_PATH, "g", 160, 30, 20), id="gold"),
    pytest.param(DataFile(HELDOUT_PATH, "h", 80, 15, 10), id="heldout"),
]


def _read(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module", params=DATA_FILES)
def data_file(request: pytest.FixtureRequest) -> DataFile:
    return request.param


@pytest.fixture(scope="module")
def data_records(data_file: DataFile) -> list[dict]:
    return _read(data_file.path)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return _read(GOLD_PATH)


@pytest.fixture(scope="module")
def gold() -> list[GoldExample]:
    return load_gold()


def test_data_file_has_enough_examples_of_every_kind(
    data_file: DataFile, data_records: list[dict]
) -> None:
    assert len(data_records) >= data_file.min_records
    kinds = Counter(r["kind"] for r in data_records)
    assert set(kinds) == KINDS
    assert all(count >= data_file.min_per_kind for count in kinds.values()), kinds


def test_data_records_have_exactly_the_specified_fields(
    data_file: DataFile, data_records: list[dict]
) -> None:
    id_pattern = re.compile(rf"{data_file.id_prefix}\d{{3}}")
    for r in data_records:
        assert set(r) == FIELDS, r.get("id")
        assert isinstance(r["id"], str) and id_pattern.fullmatch(r["id"]), r["id"]
        assert isinstance(r["text"], str) and r["text"].strip()
        for key in ("author", *ROLES):
            assert r[key] is None or (isinstance(r[key], str) and r[key].strip()), (r["id"], key)
        if r["what"] is not None:
            assert r["what"] == r["what"].lower(), r["id"]


def test_data_ids_are_unique(data_records: list[dict]) -> None:
    ids = [r["id"] for r in data_records]
    assert len(ids) == len(set(ids))


def test_every_role_is_labelled_often_enough(data_file: DataFile, data_records: list[dict]) -> None:
    for role in ROLES:
        assert sum(r[role] is not None for r in data_records) >= data_file.min_per_role, role


def test_news_has_no_author_and_chat_always_has_one(data_records: list[dict]) -> None:
    assert all(r["author"] is None for r in data_records if r["kind"] == "news")
    assert all(r["author"] for r in data_records if r["kind"] == "chat")


def test_data_file_loads_as_gold_examples(data_file: DataFile, data_records: list[dict]) -> None:
    assert [g.id for g in load_gold(data_file.path)] == [r["id"] for r in data_records]


def test_heldout_sentences_are_new() -> None:
    gold_texts = {r["text"].casefold() for r in _read(GOLD_PATH)}
    assert not [r["id"] for r in _read(HELDOUT_PATH) if r["text"].casefold() in gold_texts]


def test_load_gold_reads_every_record_into_roles(gold: list[GoldExample], records: list[dict]):
    assert [g.id for g in gold] == [r["id"] for r in records]
    first, raw = gold[0], records[0]
    assert (first.text, first.author, first.kind) == (raw["text"], raw["author"], raw["kind"])
    assert first.roles == Roles(**{role: raw[role] for role in ROLES})


def test_load_gold_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="gold set not found"):
        load_gold(tmp_path / "absent.jsonl")


def test_load_gold_rejects_repeated_ids_and_bad_fields(tmp_path: Path) -> None:
    row = {"id": "g1", "kind": "note", "author": None, "text": "Paid the bill."}
    row |= dict.fromkeys(ROLES)
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ValueError, match="repeats"):
        load_gold(path)
    path.write_text(json.dumps(row | {"kind": "tweet"}) + "\n")
    with pytest.raises(ValueError, match="kind"):
        load_gold(path)
    path.write_text(json.dumps({k: v for k, v in row.items() if k != "how"}) + "\n")
    with pytest.raises(ValueError, match="missing"):
        load_gold(path)


# --------------------------------------------------------------------------- the matcher


def test_exact_strings_match() -> None:
    assert token_f1("booked the flight", "booked the flight") == 1.0
    assert match("Frankfurt", "Frankfurt")


def test_determiner_and_case_and_end_punctuation_are_ignored() -> None:
    assert match("the office", "office")
    assert match("The Office.", "office")
    assert normalise("The office") == ["office"]


def test_leading_preposition_is_dropped() -> None:
    assert normalise("at 3pm") == ["3pm"]
    assert normalise("to the office") == ["office"]
    assert normalise("with a diff script") == ["diff", "script"]
    # A time connective that carries meaning stays.
    assert normalise("before lunch") == ["before", "lunch"]
    # Nothing left after dropping: the tokens are kept rather than lost.
    assert normalise("the") == ["the"]


def test_disjoint_strings_do_not_match() -> None:
    assert token_f1("budget cuts", "the old hosts kept failing") == 0.0
    assert token_f1("booked a hotel", "booked the flight") == pytest.approx(1 / 3)
    assert not match("booked a hotel", "booked the flight")
    assert not match("Berlin", "Frankfurt")


def test_partial_overlap_is_judged_by_token_f1() -> None:
    # The prediction's leading "the" goes: {staging, database, to, frankfurt} against
    # {moved, the, staging, database}, 2 shared of 4 each, F1 = 0.5: just a match.
    assert token_f1("the staging database to Frankfurt", "moved the staging database") == 0.5
    assert match("the staging database to Frankfurt", "moved the staging database")
    # One of three gold tokens, nothing extra: P = 1, R = 1/3, F1 = 0.5.
    assert match("Berlin", "Berlin and Munich")
    # One of four gold tokens after "within an" goes: P = 1, R = 1/4, F1 = 0.4.
    assert not match("hour", "within an hour of any outage")


def test_score_role_counts() -> None:
    assert score_role("Anna", "anna") == (1, 0, 0)
    assert score_role("Ben", "Anna") == (0, 1, 1)  # a wrong prediction is an FP and an FN
    assert score_role("Anna", None) == (0, 1, 0)
    assert score_role(None, "Anna") == (0, 0, 1)
    assert score_role("  ", "Anna") == (0, 0, 1)  # blank is absent
    assert score_role(None, None) == (0, 0, 0)


# --------------------------------------------------------------------------- the scoring

TINY = [
    GoldExample(
        "t1",
        "chat",
        "Anna",
        "I booked the flight to Berlin for next Monday.",
        Roles(who="Anna", what="booked the flight", when="next Monday"),
    ),
    GoldExample(
        "t2",
        "news",
        None,
        "The city council replaced the servers with a diff script because the old hosts "
        "kept failing.",
        Roles(who="city council", why="the old hosts kept failing", how="a diff script"),
    ),
]
TINY_PREDICTIONS = [
    # who TP; what TP (F1 0.75); when FN (missed); where FP (gold has none).
    Roles(who="anna", what="booked the flight to Berlin", where="Berlin"),
    # who TP (F1 0.67); why FP + FN (disjoint); how TP (preposition and article dropped).
    Roles(who="council", why="budget cuts", how="with a diff script"),
]


def _fixed(predictions: list[Roles]):
    def extract(examples: Sequence[GoldExample]) -> list[Roles]:
        return list(predictions)

    return extract


def test_counts_of_a_handmade_example() -> None:
    report = evaluate(_fixed(TINY_PREDICTIONS), TINY)
    counts = {role: (s.tp, s.fp, s.fn) for role, s in report.roles.items()}
    assert counts == {
        "who": (2, 0, 0),
        "what": (1, 0, 0),
        "when": (0, 0, 1),
        "where": (0, 1, 0),
        "why": (0, 1, 1),
        "how": (1, 0, 0),
    }
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (4, 2, 2)
    assert report.micro.precision == pytest.approx(4 / 6)
    assert report.micro.recall == pytest.approx(4 / 6)
    assert report.micro.f1 == pytest.approx(2 / 3)
    assert report["who"].f1 == 1.0
    assert (report["where"].precision, report["where"].recall, report["where"].f1) == (0, 0, 0)
    assert report.n == 2 and report.texts_per_s > 0
    assert {(m.id, m.role) for m in report.mismatches} == {
        ("t1", "when"),
        ("t1", "where"),
        ("t2", "why"),
    }


def test_perfect_extractor_scores_one_on_the_gold_set(gold: list[GoldExample]) -> None:
    report = evaluate(_fixed([g.roles for g in gold]), gold)
    assert report.micro.f1 == 1.0 and report.micro.fp == report.micro.fn == 0
    assert all(s.f1 == 1.0 for s in report.roles.values())


def test_extractor_returning_the_wrong_count_is_an_error() -> None:
    with pytest.raises(ValueError, match="returned 1 roles for 2"):
        evaluate(_fixed([Roles()]), TINY)


# --------------------------------------------------------------------------- extractors


@pytest.fixture(scope="module")
def fast_report(gold: list[GoldExample]) -> SixWReport:
    return evaluate(fast_extractor(None), gold)


def test_fast_attributor_accuracy_does_not_regress(fast_report: SixWReport) -> None:
    table = format_side_by_side({"fast": fast_report})
    assert fast_report.n >= 160
    assert fast_report.micro.f1 >= FAST_MIN_MICRO_F1, table
    assert fast_report["who"].f1 >= FAST_MIN_WHO_F1, table
    assert fast_report["when"].f1 >= FAST_MIN_WHEN_F1, table


def test_spacy_attributor_accuracy_does_not_regress(gold: list[GoldExample]) -> None:
    # Measured 0.883 micro-F1 and who 0.895 on the gold set (fast: 0.828, README); guards
    # sit below, like the fast ones.
    pytest.importorskip("spacy")
    report = evaluate(extractor_for("spacy", None), gold)
    table = format_side_by_side({"spacy": report})
    assert report.micro.f1 >= 0.83, table
    assert report["who"].f1 >= 0.84, table
    assert report["when"].f1 >= 0.87, table


def test_fast_extractor_gives_the_pipelines_roles(
    gold: list[GoldExample], embedder, lumina_env
) -> None:
    """The harness scores what units carry: the fast pipeline's roles, event for event."""
    from lumina.config import get_settings
    from lumina.core.provenance import ProvenanceChain

    sample = gold[:24]
    pipeline = Pipeline.from_settings(get_settings(), embedder=embedder)
    events = [
        TextEvent(scope="eval", author=g.author, text=g.text, ts=i) for i, g in enumerate(sample)
    ]
    result = pipeline.run([Incoming(e) for e in events], ProvenanceChain())
    assert not result.failures
    assert [u.roles for u in result.units] == fast_extractor(None)(sample)


def test_extractor_for_names() -> None:
    assert callable(extractor_for("fast", None))
    with pytest.raises(ConfigError, match="unknown attributor"):
        extractor_for("llm", None)


def test_extractor_for_spacy_without_the_module_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "lumina.enrich.attribution_spacy", None)
    with pytest.raises(ConfigError, match="spaCy attributor is not available"):
        extractor_for("spacy", None)


# --------------------------------------------------------------------------- formatting


def test_side_by_side_and_markdown_tables() -> None:
    report = evaluate(_fixed(TINY_PREDICTIONS), TINY)
    reports = {"fast": report, "spacy": report}
    text = format_side_by_side(reports)
    lines = text.splitlines()
    assert "fast" in lines[0] and "spacy" in lines[0]
    for row in (*ROLES, "micro"):
        assert any(line.startswith(row) for line in lines), row
    assert "0.667" in text and "txt/s" in text
    markdown = format_markdown(reports).splitlines()
    assert markdown[0].startswith("| role | fast P | fast R | fast F1 | spacy P")
    assert len(markdown) == 2 + len(ROLES) + 2  # header, rule, roles, micro, texts/s
    assert all(line.count("|") == markdown[0].count("|") for line in markdown)


def test_both_attributors_hold_their_accuracy_on_the_held_out_sentences(
    lumina_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Sentences labelled after the rules were tuned: `lumina eval sixw` on them prints both
    # attributors side by side (README: micro-F1 0.797 fast, 0.845 spaCy); the guards sit
    # ~0.05 below, and spaCy must stay the more accurate.
    pytest.importorskip("spacy")
    from lumina.cli import main

    assert main(["eval", "sixw", "--gold", str(HELDOUT_PATH)]) == 0
    printed = capsys.readouterr().out
    micro = re.search(r"^micro\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", printed, re.M)
    assert micro is not None, printed
    fast_f1, spacy_f1 = float(micro.group(3)), float(micro.group(6))
    assert fast_f1 >= 0.74, printed
    assert spacy_f1 >= 0.79, printed
    assert spacy_f1 > fast_f1, printed
    assert re.search(r"^n\s+88\s+88$", printed, re.M), printed
