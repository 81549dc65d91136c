"""attribution.fast.v1: rarity weights, salience and fast entities."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lumina.core.identity import normalize_text
from lumina.enrich.attribution_fast import (
    FastAttribution,
    find_entities,
    is_stopword,
    known_names,
    salience,
    token_weights,
)
from lumina.enrich.stage import Draft
from lumina.enrich.tokenizer import RegexTokenizer
from lumina.enrich.tokens import tokenize
from lumina.schemas import TextEvent


def _weights(text: str) -> dict[str, float]:
    tokens = tokenize(text)
    return dict(zip(tokens.lower, token_weights(tokens), strict=True))


def _attribute(*texts: str, author: str | None = None) -> list[Draft]:
    drafts = [Draft.from_event(TextEvent(scope="t", text=t, author=author), 0) for t in texts]
    return FastAttribution()(RegexTokenizer()(drafts))


def test_attribution_rare_content_words_outweigh_function_words() -> None:
    w = _weights("The migration of the billing database finished overnight")
    for content in ("migration", "billing", "database"):
        assert w[content] > w["the"]
        assert w[content] > w["of"]
    assert w["the"] == 0.0 and w["of"] == 0.0


def test_attribution_rarer_word_weighs_more() -> None:
    w = _weights("the cat and the ocelot")
    assert w["ocelot"] > w["cat"] > 0.0


def test_attribution_stopwords_come_from_wordfreq_not_a_list() -> None:
    assert all(is_stopword(w) for w in ("the", "of", "and", "we", "because"))
    assert not any(is_stopword(w) for w in ("database", "invoice", "paris", "ocelot"))


def test_attribution_salience_content_rich_beats_function_words() -> None:
    rich, empty = _attribute(
        "Kubernetes rollout stalled after the etcd certificate expired in Frankfurt",
        "it is what it is and that is that",
    )
    assert rich.salience > 0.6
    assert empty.salience < 0.1
    assert rich.salience > empty.salience


def test_attribution_short_acknowledgement_has_low_salience() -> None:
    (ack,) = _attribute("ok thanks")
    (note,) = _attribute("Renew the TLS certificate for the payments gateway before Friday")
    assert ack.salience < note.salience


def test_attribution_top_tokens_are_heaviest_first_and_distinct() -> None:
    (draft,) = _attribute("Invoice invoice INVOICE for the Lisbon office, invoice overdue")
    tokens = [t.token.lower() for t in draft.attribution]
    weights = [t.weight for t in draft.attribution]
    assert len(tokens) == len(set(tokens)) <= 8
    assert weights == sorted(weights, reverse=True)
    assert "the" not in tokens and "for" not in tokens


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_attribution_weights_and_salience_stay_in_unit_interval(raw: str) -> None:
    tokens = tokenize(normalize_text(raw))
    weights = token_weights(tokens)
    assert all(0.0 <= w <= 1.0 for w in weights)
    assert 0.0 <= salience(weights) <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["Alice", "went", "to", "New", "York", "on", "Monday", "at", "3pm", "Dr.", "Smith",
             "the", "Bank", "of", "America", "said", "NASA", "Ünïcode", "café", ",", ".", "!"]
        ),
        min_size=1,
        max_size=25,
    )
)  # fmt: skip
def test_attribution_entity_spans_slice_to_entity_text(words: list[str]) -> None:
    text = normalize_text(" ".join(words))
    entities, _ = find_entities(tokenize(text), known_names(["alice"]))
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text


def test_attribution_entities_of_a_real_sentence() -> None:
    (draft,) = _attribute(
        "Yesterday Reuters reported that Bank of America opened an office in New York at 3pm.",
    )
    found = {(e.text, e.label) for e in draft.entities}
    assert ("Reuters", "PROPER") in found
    assert ("Bank of America", "PROPER") in found
    assert ("New York", "PROPER") in found
    assert ("Yesterday", "DATE") in found
    assert ("3pm", "TIME") in found
    for e in draft.entities:
        assert draft.text[e.start : e.end] == e.text


def test_attribution_sentence_start_common_word_is_not_an_entity() -> None:
    (draft,) = _attribute("Meeting with the design team. Sales dropped again.")
    assert [e.text for e in draft.entities] == []


def test_attribution_author_and_titled_names_are_person() -> None:
    drafts = _attribute(
        "Priya reviewed the budget with Dr. Okafor.",
        "Tomorrow we meet Priya in Lagos.",
        author="priya",
    )
    labels = [{e.text: e.label for e in d.entities} for d in drafts]
    assert labels[0]["Priya"] == "PERSON"
    assert labels[0]["Dr. Okafor"] == "PERSON"
    assert labels[1]["Priya"] == "PERSON"
    assert labels[1]["Lagos"] == "PROPER"


def test_attribution_configured_speakers_are_person() -> None:
    # "bob" is a common word, so at a sentence start only a roster vouches for the name.
    text = "Bob fixed the flaky test."
    drafts = [Draft.from_event(TextEvent(scope="t", text=text, author="alice"), 0)]
    plain = FastAttribution()(RegexTokenizer()(drafts))[0]
    assert plain.entities == []
    drafts = [Draft.from_event(TextEvent(scope="t", text=text, author="alice"), 0)]
    roster = FastAttribution(speakers=["Bob"])(RegexTokenizer()(drafts))[0]
    assert {e.text: e.label for e in roster.entities} == {"Bob": "PERSON"}


def test_attribution_does_not_depend_on_batch_neighbours() -> None:
    # A re-delivered event arrives in another batch; its unit must not change.
    texts = ["Bob fixed the flaky test.", "thanks!", "Carol moved it to Lisbon."]
    authors = ["alice", "Bob", "Carol"]
    events = [TextEvent(scope="t", text=t, author=a) for t, a in zip(texts, authors, strict=True)]
    together = FastAttribution()(RegexTokenizer()([Draft.from_event(e, 0) for e in events]))
    for event, draft in zip(events, together, strict=True):
        (alone,) = FastAttribution()(RegexTokenizer()([Draft.from_event(event, 0)]))
        assert alone.entities == draft.entities
        assert alone.token_weights == draft.token_weights
