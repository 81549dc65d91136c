"""The enrichment pipeline: stage order, ids, chain links and poison-event isolation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lumina.config import Settings
from lumina.core.provenance import GENESIS, ChainEntry, ProvenanceChain, verify_chain
from lumina.enrich import EnrichResult, Incoming, Pipeline, StageFailure
from lumina.enrich.affect import VaderAffect
from lumina.enrich.attribution_fast import FastAttribution
from lumina.enrich.embed import STATIC_MODEL_NAME, StaticEmbed, StaticEmbedder
from lumina.enrich.roles_rules import RuleRoles
from lumina.enrich.shape import HrrShape
from lumina.enrich.stage import Draft, Stage
from lumina.enrich.tokenizer import RegexTokenizer
from lumina.errors import ConfigError, ReasonCode
from lumina.schemas import KafkaOrigin, MemoryUnit, TextEvent

DIM = 1024
NOW_MS = 1_750_000_000_000


class Poison(Stage):
    """Raises on any batch that holds a text containing POISON."""

    name = "poison"
    version = "poison.test.v1"
    requires = ("tokens",)
    assigns = ()

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        for draft in drafts:
            if "POISON" in draft.text:
                raise RuntimeError("cannot digest this")
        return drafts


class Spoil(Stage):
    """Leaves a broken embedding (NaN, or 2-D) or salience on texts that ask for one."""

    name = "spoil"
    version = "spoil.test.v1"
    requires = ("embedding", "salience")
    assigns = ()

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        for draft in drafts:
            if "NAN" in draft.text and draft.embedding is not None:
                draft.embedding = np.full_like(draft.embedding, np.nan)
            elif "FLAT" in draft.text and draft.embedding is not None:
                draft.embedding = draft.embedding[None, :]
            elif "LOUD" in draft.text:
                draft.salience = 1.5
        return drafts


def _stages(embedder: StaticEmbedder, *extra: Stage) -> list[Stage]:
    return [
        RegexTokenizer(),
        *extra,
        FastAttribution(),
        RuleRoles(),
        VaderAffect(),
        StaticEmbed(embedder),
        HrrShape(DIM),
    ]


def _pipeline(embedder: StaticEmbedder, *extra: Stage, secret: str | None = None) -> Pipeline:
    from lumina.core.identity import IdentityKey

    return Pipeline(
        _stages(embedder, *extra),
        dim=DIM,
        half_life_s=3600.0,
        decay_floor=0.05,
        identity_key=IdentityKey.from_secret(secret) if secret else None,
        clock=lambda: NOW_MS,
    )


def _run(pipeline: Pipeline, *events: TextEvent) -> EnrichResult:
    return pipeline.run([Incoming(e) for e in events], ProvenanceChain())


def _event(
    text: str = "I met Alice at the office yesterday because the release slipped.", **fields: object
) -> TextEvent:
    values: dict[str, object] = {"scope": "team-a", "text": text, "author": "bob", **fields}
    return TextEvent.model_validate(values)


def test_pipeline_fills_all_13_components(embedder: StaticEmbedder) -> None:
    origin = KafkaOrigin(topic="lumina.events", partition=2, offset=41, timestamp_ms=NOW_MS - 5)
    event = _event(
        "  I met  Alice at the office yesterday because the release slipped! ",
        ts=NOW_MS - 60_000,
        session="s1",
        source="chat",
    )
    result = _pipeline(embedder).run([Incoming(event, origin, NOW_MS - 5)], ProvenanceChain())
    assert result.failures == []
    (unit,) = result.units
    assert len(unit.id) == 64  # 1
    assert len(unit.content_hash) == 64  # 2
    assert unit.provenance.origin == origin and unit.provenance.previous_link == GENESIS  # 3
    assert unit.provenance.session == "s1" and unit.provenance.author == "bob"
    assert unit.text == "I met Alice at the office yesterday because the release slipped!"  # 4
    assert unit.timestamps.event_ms == NOW_MS - 60_000  # 5
    assert unit.timestamps.ingest_ms == NOW_MS
    assert unit.timestamps.last_access_ms == unit.timestamps.event_ms
    assert 0.3 < unit.salience <= 1.0  # 6
    assert unit.attribution[0].token == "Alice"  # 7
    assert unit.roles.who == "bob" and unit.roles.where == "the office"  # 8
    assert unit.roles.when == "yesterday" and unit.roles.why == "the release slipped"
    assert {e.text for e in unit.entities} == {"Alice", "yesterday"}  # 9
    assert -1.0 <= unit.affect.valence <= 1.0  # 10
    assert len(unit.embedding) == 256  # 11
    assert unit.shape.dim == DIM and len(unit.shape.vector) == DIM  # 12
    assert set(unit.shape.weights) == set(unit.roles.filled())
    assert unit.decay.half_life_s == 3600.0 and unit.decay.strength == 1.0  # 13
    assert unit.decay.access_count == 0 and unit.decay.floor == 0.05
    assert unit.stages == {
        "tokens": "tokens.regex.v1",
        "attribution": "attribution.fast.v1",
        "roles": "roles.rules.v2",
        "affect": "affect.vader.v1",
        "embed": "embed.static.v1",
        "shape": "shape.hrr.v1",
    }
    # The unit survives the JSON round trip it takes through Kafka, by either encoder, and
    # the fast encoder writes the same JSON document as pydantic's.
    assert MemoryUnit.model_validate_json(unit.model_dump_json()) == unit
    assert MemoryUnit.model_validate_json(unit.to_json()) == unit
    assert json.loads(unit.to_json()) == json.loads(unit.model_dump_json())


def test_pipeline_event_time_falls_back_to_kafka_then_clock(embedder: StaticEmbedder) -> None:
    pipeline = _pipeline(embedder)
    result = pipeline.run(
        [Incoming(_event("first note")), Incoming(_event("second note"), kafka_ts_ms=123)],
        ProvenanceChain(),
    )
    assert [u.timestamps.event_ms for u in result.units] == [NOW_MS, 123]


def test_pipeline_same_event_twice_gets_the_same_id(embedder: StaticEmbedder) -> None:
    pipeline = _pipeline(embedder)
    event = _event(ts=NOW_MS)
    first = pipeline.run([Incoming(event)], ProvenanceChain()).units[0]
    # Re-sent: read again at another offset and time; the id must not change.
    again = pipeline.run(
        [Incoming(event, KafkaOrigin(topic="lumina.events", partition=0, offset=99), NOW_MS + 9)],
        ProvenanceChain(),
    ).units[0]
    assert first.id == again.id
    assert first.content_hash == again.content_hash


def test_pipeline_id_depends_on_scope_author_and_text(embedder: StaticEmbedder) -> None:
    pipeline = _pipeline(embedder)
    base = _event(ts=NOW_MS)
    ids = {
        u.id
        for u in _run(
            pipeline,
            base,
            base.model_copy(update={"scope": "team-b"}),
            base.model_copy(update={"author": "carol"}),
            base.model_copy(update={"text": "Something else entirely."}),
            base.model_copy(update={"ts": NOW_MS + 1}),
        ).units
    }
    assert len(ids) == 5


def test_pipeline_event_id_alone_decides_the_id_within_a_scope(embedder: StaticEmbedder) -> None:
    pipeline = _pipeline(embedder)
    a = _event("first wording", event_id="evt-1", ts=NOW_MS, author="bob")
    b = _event("second wording", event_id="evt-1", ts=NOW_MS + 5, author="carol")
    c = a.model_copy(update={"scope": "team-b"})
    ua, ub, uc = _run(pipeline, a, b, c).units
    assert ua.id == ub.id
    assert ua.id != uc.id


def test_pipeline_secret_keys_the_ids(embedder: StaticEmbedder) -> None:
    event = _event(ts=NOW_MS)
    plain = _run(_pipeline(embedder), event).units[0].id
    keyed = _run(_pipeline(embedder, secret="s3cret"), event).units[0].id
    assert plain != keyed


def test_pipeline_chain_verifies_per_scope(embedder: StaticEmbedder) -> None:
    events = [_event(f"note number {i}", scope=f"team-{i % 2}", ts=NOW_MS + i) for i in range(9)]
    chain = ProvenanceChain()
    units = _pipeline(embedder).run([Incoming(e) for e in events], chain).units
    for scope in ("team-0", "team-1"):
        entries = [
            ChainEntry(
                u.id, u.timestamps.event_ms, u.provenance.previous_link, u.provenance.chain_link
            )
            for u in units
            if u.scope == scope
        ]
        verdict = verify_chain(entries)
        assert verdict.ok, str(verdict)
        assert chain.head(scope) == entries[-1].link


def test_pipeline_chain_continues_across_batches(embedder: StaticEmbedder) -> None:
    pipeline = _pipeline(embedder)
    chain = ProvenanceChain()
    first = pipeline.run([Incoming(_event("one", ts=NOW_MS))], chain).units[0]
    second = pipeline.run([Incoming(_event("two", ts=NOW_MS + 1))], chain).units[0]
    assert second.provenance.previous_link == first.provenance.chain_link


def test_pipeline_poison_event_fails_alone(embedder: StaticEmbedder) -> None:
    pipeline = _pipeline(embedder, Poison())
    texts = ["all good here", "this one is POISON", "also fine", "still fine"]
    batch = [
        Incoming(_event(t, ts=NOW_MS + i), raw=f'{{"text": "{t}"}}'.encode())
        for i, t in enumerate(texts)
    ]
    chain = ProvenanceChain()
    result = pipeline.run(batch, chain)
    assert [u.text for u in result.units] == ["all good here", "also fine", "still fine"]
    (failure,) = result.failures
    assert isinstance(failure, StageFailure)
    assert failure.incoming is batch[1]
    assert failure.stage == "poison.test.v1"
    assert "cannot digest this" in failure.message
    # The chain links only the units that exist.
    entries = [
        ChainEntry(u.id, u.timestamps.event_ms, u.provenance.previous_link, u.provenance.chain_link)
        for u in result.units
    ]
    assert verify_chain(entries).ok
    letter = failure.to_dead_letter(time_ms=NOW_MS)
    assert letter.reason == ReasonCode.STAGE_ERROR
    assert letter.original == batch[1].raw
    assert letter.stage == "poison.test.v1"


def test_pipeline_stage_requiring_an_unassigned_field_fails_to_build(
    embedder: StaticEmbedder,
) -> None:
    stages = _stages(embedder)
    roles_first = [stages[0], stages[2], stages[1], *stages[3:]]  # roles before attribution
    with pytest.raises(ConfigError, match=r"'roles' \(roles.rules.v2\) requires entities"):
        Pipeline(roles_first, dim=DIM, half_life_s=1.0, decay_floor=0.0)


def test_pipeline_without_an_embedder_fails_to_build() -> None:
    stages = [RegexTokenizer(), FastAttribution(), RuleRoles(), VaderAffect(), HrrShape(DIM)]
    with pytest.raises(ConfigError, match="no stage assigns embedding"):
        Pipeline(stages, dim=DIM, half_life_s=1.0, decay_floor=0.0)


def test_pipeline_from_settings_runs_the_default_stages(
    embedder: StaticEmbedder, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, hrr_dim=512, half_life_s=60.0)
    pipeline = Pipeline.from_settings(settings, embedder=embedder, clock=lambda: NOW_MS)
    (unit,) = _run(pipeline, _event()).units
    assert unit.shape.dim == 512 and unit.decay.half_life_s == 60.0
    assert list(unit.stages) == ["tokens", "attribution", "roles", "affect", "embed", "shape"]


def test_pipeline_enrich_is_the_one_call_form(embedder: StaticEmbedder, tmp_path: Path) -> None:
    from lumina.enrich import enrich

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / STATIC_MODEL_NAME).symlink_to(embedder.path.resolve())
    units = enrich([_event("first"), _event("second")], Settings(home=tmp_path))
    assert [u.text for u in units] == ["first", "second"]
    assert units[1].provenance.previous_link == units[0].provenance.chain_link


def test_pipeline_unit_does_not_depend_on_its_batch(embedder: StaticEmbedder) -> None:
    # A re-delivered event lands in another batch: same id, same content, only the chain
    # position may differ.
    pipeline = _pipeline(embedder)
    events = [
        _event("Bob fixed the flaky test in Dublin.", author="alice", ts=NOW_MS),
        _event("thanks!", author="Bob", ts=NOW_MS + 1),
        _event("Carol moved the standup to 10:30 because of the outage.", ts=NOW_MS + 2),
    ]
    together = _run(pipeline, *events).units
    volatile = {"provenance": {"chain_link", "previous_link", "sequence"}}
    for event, unit in zip(events, together, strict=True):
        (alone,) = _run(pipeline, event).units
        assert alone.model_dump(mode="json", exclude=volatile) == unit.model_dump(
            mode="json", exclude=volatile
        )


@pytest.mark.parametrize("text", [":)", "👍👍", "...", "?!"])
def test_pipeline_text_without_words_is_a_unit_not_a_stage_error(
    embedder: StaticEmbedder, text: str
) -> None:
    # Chat has messages that are only an emoticon or an emoji; they are memories too.
    event = TextEvent(scope="s", author="Ann", text=text, ts=NOW_MS)
    result = _pipeline(embedder).run([Incoming(event)], ProvenanceChain())
    assert not result.failures, result.failures
    (unit,) = result.units
    assert unit.text == text and unit.roles.who == "Ann" and unit.salience == 0.0


def test_pipeline_unit_a_stage_spoiled_fails_alone_at_assembly(embedder: StaticEmbedder) -> None:
    pipeline = Pipeline(
        [*_stages(embedder), Spoil()], dim=DIM, half_life_s=3600.0, decay_floor=0.05
    )
    texts = ["fine one", "NAN vector", "fine two", "FLAT vector", "LOUD text", "fine three"]
    result = _run(pipeline, *(_event(t, ts=NOW_MS + i) for i, t in enumerate(texts)))
    assert [u.text for u in result.units] == ["fine one", "fine two", "fine three"]
    assert [f.incoming.event.text for f in result.failures] == [
        "NAN vector",
        "FLAT vector",
        "LOUD text",
    ]
    assert {f.stage for f in result.failures} == {"assemble"}
    assert "outside [0, 1]" in result.failures[-1].message
    for unit in result.units:  # the units still hold what validation would have made
        assert MemoryUnit.model_validate_json(unit.to_json()) == unit
        assert not unit.embedding.flags.writeable and unit.embedding.base is None
