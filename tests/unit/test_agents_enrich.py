"""The enrich agent's batch logic on real Faust events (no broker: events built in memory)."""

from __future__ import annotations

import json
from pathlib import Path

import faust
import pytest
from faust.events import Event
from faust.types.tuples import Message

from lumina.agents.enrich import decode_batch, stage_dead_letters
from lumina.config import Settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import Pipeline
from lumina.enrich.embed import StaticEmbedder
from lumina.errors import ReasonCode
from lumina.streams.app import create_app

TOPIC = "lumina.events"


@pytest.fixture
def app(tmp_path: Path) -> faust.App:
    return create_app(Settings(home=tmp_path), "127.0.0.1:9")  # never connects


def event(app: faust.App, value: bytes, offset: int, key: bytes | None = b"s") -> Event:
    message = Message(TOPIC, 1, offset, 1_780_000_000.5, 0, [], key, value, None)
    return Event(app, key, value, None, message)


def test_agents_decode_batch_splits_units_from_dead_letters(app: faust.App) -> None:
    good = json.dumps({"scope": "s", "text": "We met in Oslo on Monday."}).encode()
    events = [
        event(app, good, 0),
        event(app, b"\xff", 1),
        event(app, b'{"scope": "s", "text": "x" ', 2),
        event(app, json.dumps({"scope": "s", "text": "y" * 50}).encode(), 3),
    ]
    batch = decode_batch(events, Settings(max_text_bytes=40), now_ms=7)
    assert [i.event.text for i in batch.incoming] == ["We met in Oslo on Monday."]
    assert batch.incoming[0].kafka_ts_ms == 1_780_000_000_500
    assert batch.sources == [events[0]]
    reasons = [letter.reason for _, letter in batch.dead]
    assert reasons == [ReasonCode.INVALID_UTF8, ReasonCode.INVALID_JSON, ReasonCode.TEXT_TOO_LARGE]
    for (key, letter), src in zip(batch.dead, events[1:], strict=True):
        assert key == b"s" and letter.original == src.message.value
        assert letter.origin is not None and letter.origin.offset == src.message.offset


def test_agents_stage_error_becomes_a_dead_letter_with_the_original_bytes(
    app: faust.App, embedder: StaticEmbedder
) -> None:
    from lumina.enrich.stage import Draft, Stage

    class FailsOnOslo(Stage):
        name, version, requires, assigns = "poison", "poison.test.v1", ("text",), ()

        def __call__(self, drafts: list[Draft]) -> list[Draft]:
            if any("Oslo" in d.text for d in drafts):
                raise RuntimeError("boom")
            return drafts

    settings = Settings()
    default = Pipeline.from_settings(settings, embedder=embedder)
    pipeline = Pipeline(
        [FailsOnOslo(), *default.stages], dim=1024, half_life_s=60.0, decay_floor=0.1
    )
    raws = [
        json.dumps({"scope": "s", "text": t}).encode()
        for t in ("Lunch at noon.", "We met in Oslo.", "Ship it Friday.")
    ]
    batch = decode_batch([event(app, r, i) for i, r in enumerate(raws)], settings, now_ms=7)
    result = pipeline.run(batch.incoming, chain=ProvenanceChain())
    assert [u.text for u in result.units] == ["Lunch at noon.", "Ship it Friday."]
    [(key, letter)] = stage_dead_letters(result, now_ms=7)
    assert letter.reason is ReasonCode.STAGE_ERROR and letter.stage == "poison.test.v1"
    assert letter.original == raws[1] and key == b"s"
