"""The shared tokenizer and the date/time expressions built on it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lumina.core.identity import normalize_text
from lumina.enrich.stage import Draft
from lumina.enrich.timex import find_timex, merge_when
from lumina.enrich.tokenizer import RegexTokenizer
from lumina.enrich.tokens import CLAUSE, NONE, SENTENCE, tokenize
from lumina.schemas import TextEvent


def test_tokens_keep_apostrophes_hyphens_times_and_versions() -> None:
    tokens = tokenize("Don't re-run v2.3 at 3pm, 10:30 or 2024-05-01; it's 1,200 x-rays.")
    assert tokens.words == [
        "Don't", "re-run", "v2.3", "at", "3pm", "10:30", "or", "2024-05-01", "it's", "1,200",
        "x-rays",
    ]  # fmt: skip


def test_tokens_mark_sentence_and_clause_breaks() -> None:
    tokens = tokenize("Dr. Smith called. Then, we left")
    assert tokens.words == ["Dr", "Smith", "called", "Then", "we", "left"]
    # "Dr." does not end a sentence; "called." does; the comma is a clause break.
    assert tokens.breaks == [SENTENCE, NONE, NONE, SENTENCE, CLAUSE, NONE]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_tokens_spans_slice_the_text(raw: str) -> None:
    text = normalize_text(raw)
    tokens = tokenize(text)
    assert len(tokens.words) == len(tokens.starts) == len(tokens.breaks)
    for word, start, end in zip(tokens.words, tokens.starts, tokens.ends, strict=True):
        assert text[start:end] == word
    assert tokens.starts == sorted(tokens.starts)


def test_tokens_stage_one_record_form_equals_batch_form() -> None:
    event = TextEvent(scope="s", text="Ship it on Friday.")
    one = RegexTokenizer().one(Draft.from_event(event, 0))
    (batch,) = RegexTokenizer()([Draft.from_event(event, 0)])
    assert one.tokens == batch.tokens


def _found(text: str) -> list[tuple[str, str]]:
    return [(text[t.start : t.end], t.label) for t in find_timex(text)]


def test_timex_finds_dates_and_times() -> None:
    assert _found("Call the dentist tomorrow at 10:30.") == [
        ("tomorrow", "DATE"),
        ("10:30", "TIME"),
    ]
    assert _found("Lunch on March 3rd, then 2024-05-01 and next Tuesday") == [
        ("March 3rd", "DATE"),
        ("2024-05-01", "DATE"),
        ("next Tuesday", "DATE"),
    ]
    assert _found("a couple of days ago, in 3 weeks, at 7, 5 p.m.") == [
        ("a couple of days ago", "DATE"),
        ("in 3 weeks", "DATE"),
        ("7", "TIME"),
        ("5 p.m.", "TIME"),
    ]


def test_timex_leaves_verbs_and_quantities_alone() -> None:
    assert _found("I may march with 7 people, at 7% growth") == []
    assert _found("We grew in May") == [("May", "DATE")]


def test_timex_when_spans_joined_expressions() -> None:
    text = "meet tomorrow at 10:30 and again on Friday"
    span = merge_when(text, find_timex(text))
    assert span is not None
    assert text[span[0] : span[1]] == "tomorrow at 10:30"


WORDS = [
    "we", "met", "at", "on", "in", "the", "a", "couple", "of", "few", "days", "ago", "next",
    "last", "this", "Monday", "friday", "March", "may", "3rd", "2024", "2024-05-01", "10:30",
    "3pm", "7", "noon", "tonight", "week", "year", "mid-March", "tomorrow's", "morning", "since",
    "3", "%", ",", ".",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=20))
def test_timex_token_shortcut_never_drops_an_expression(words: list[str]) -> None:
    # Skipping patterns by the tokens present must give exactly what scanning everything gives.
    text = normalize_text(" ".join(words))
    assert find_timex(text, tokenize(text).lower) == find_timex(text)
