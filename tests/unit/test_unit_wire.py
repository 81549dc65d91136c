"""The sink's msgspec mirror of MemoryUnit: same fields, never looser, same rows stored."""

from __future__ import annotations

import base64
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pytest
from pydantic import BaseModel, ValidationError

from lumina.agents.sink import parse_units
from lumina.config import Settings
from lumina.enrich import enrich
from lumina.errors import ReasonCode
from lumina.schemas import KafkaOrigin, MemoryUnit, TextEvent
from lumina.schemas.unit_wire import WireUnit, decode_units
from lumina.store import open_store
from lumina.store.arrow import unit_arrow_table

TEXTS = [
    ("alice", "I booked the flight to Munich for Tuesday morning."),
    ("bob", "The Berlin cluster latency report is ready because the run finished."),
    ("carol", "Quickly moved the staging database to Frankfurt using the new scripts."),
]


@pytest.fixture
def units(lumina_env: dict[str, str]) -> list[MemoryUnit]:
    events = [
        TextEvent(scope="wire", author=a, text=t, ts=1_780_000_000_000 + i, event_id=f"w-{i}")
        for i, (a, t) in enumerate(TEXTS)
    ]
    return enrich(events, Settings())


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _struct_of(annotation: Any) -> type[msgspec.Struct] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
            return arg
    return None


def _assert_mirrors(model: type[BaseModel], struct: type[msgspec.Struct]) -> None:
    fields = {f.name: f for f in msgspec.structs.fields(struct)}
    assert set(fields) == set(model.model_fields), (model.__name__, struct.__name__)
    forbids = model.model_config.get("extra") == "forbid"
    assert struct.__struct_config__.forbid_unknown_fields == forbids, struct.__name__
    for name, info in model.model_fields.items():
        assert fields[name].required == info.is_required(), (model.__name__, name)
        inner = _model_of(info.annotation)
        if inner is not None:
            mirror = _struct_of(fields[name].type)
            if mirror is None and isinstance(fields[name].type, types.GenericAlias):
                mirror = _struct_of(typing.get_args(fields[name].type)[0])
            assert mirror is not None, (model.__name__, name)
            _assert_mirrors(inner, mirror)


def test_wire_mirror_has_every_field_of_the_contract() -> None:
    # A field added to MemoryUnit (or a nested model) and not to the mirror would make the
    # sink refuse every unit; one dropped from the mirror would store units without it.
    _assert_mirrors(MemoryUnit, WireUnit)


def test_units_read_by_the_mirror_store_as_validated_ones(
    units: list[MemoryUnit], tmp_path: Path
) -> None:
    raws = [(u.to_json(), u.id.encode()) for u in units]
    read, rejects = parse_units(raws, now_ms=0)
    assert rejects == []
    assert all(isinstance(r, WireUnit) for r in read)
    assert unit_arrow_table(read).equals(unit_arrow_table(units))
    store = open_store(f"chdb://{tmp_path / 'store'}")
    try:
        store.insert_units(read)
        back = store.units_by_id("wire", [u.id for u in units])
        assert [back[u.id] for u in units] == units
    finally:
        store.close()


def _vector(values: list[float]) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode()


Mutation = Callable[[dict[str, Any]], None]

# Each breaks the contract in one place; the mirror must refuse what MemoryUnit refuses.
BROKEN: dict[str, Mutation] = {
    "salience above 1": lambda d: d.update(salience=1.5),
    "no id": lambda d: d.pop("id"),
    "unknown top-level field": lambda d: d.update(colour="red"),
    "unknown nested field": lambda d: d["roles"].update(whom="x"),
    "sequence 0": lambda d: d["provenance"].update(sequence=0),
    "weight below 0": lambda d: d["attribution"].append({"token": "x", "weight": -0.1}),
    "entity start below 0": lambda d: d["entities"].append(
        {"text": "x", "label": "GPE", "start": -1, "end": 1}
    ),
    "valence beyond -1": lambda d: d["affect"].update(valence=-1.01),
    "half-life 0": lambda d: d["decay"].update(half_life_s=0),
    "null shape weight": lambda d: d["shape"]["weights"].update(who=None),
    "stage name not a string": lambda d: d["stages"].update(embedding=3),
    "text not a string": lambda d: d.update(text=7),
    "embedding not base64": lambda d: d.update(embedding="not base64!"),
    "embedding of 6 bytes": lambda d: d.update(embedding=base64.b64encode(b"\x00" * 6).decode()),
    "embedding with NaN": lambda d: d.update(embedding=_vector([0.1, float("nan"), 0.2])),
    "shape with infinity": lambda d: d["shape"].update(vector=_vector([float("inf"), 0.0])),
    "scope null": lambda d: d["provenance"].update(scope=None),
    "not an object": lambda d: d.clear(),
}

# The contract's lax forms: the mirror refuses them, MemoryUnit takes them.
LAX: dict[str, Mutation] = {
    "embedding as a list of numbers": lambda d: d.update(embedding=[0.6, 0.8]),
    "sequence as a string": lambda d: d["provenance"].update(sequence="4"),
}


def _json(unit: MemoryUnit, mutate: Mutation) -> bytes:
    data = orjson.loads(unit.to_json())
    mutate(data)
    return orjson.dumps(data)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_the_mirror_refuses_what_the_contract_refuses(units: list[MemoryUnit], name: str) -> None:
    raw = _json(units[0], BROKEN[name])
    with pytest.raises(ValidationError):
        MemoryUnit.model_validate_json(raw)
    good = units[1].to_json()
    read, others = decode_units([good, raw, good])
    assert others == [1]
    assert len(read) == 2


def test_a_batch_keeps_lax_units_and_dead_letters_broken_ones(units: list[MemoryUnit]) -> None:
    good = [u.to_json() for u in units]
    lax = [_json(units[0], mutate) for mutate in LAX.values()]
    broken = [_json(units[1], mutate) for mutate in BROKEN.values()] + [b"{not json", b""]
    raws = [(raw, b"k") for raw in [*good, *lax, *broken]]
    read, rejects = parse_units(raws, now_ms=1)
    assert sum(isinstance(r, WireUnit) for r in read) == len(good)
    assert sum(isinstance(r, MemoryUnit) for r in read) == len(lax)
    assert [letter.reason for letter in rejects] == [ReasonCode.SCHEMA_VIOLATION] * len(broken)
    assert [letter.original for letter in rejects] == broken
    assert unit_arrow_table(read).num_rows == len(good) + len(lax)


def test_broken_units_are_dead_lettered_with_where_they_were_read(
    units: list[MemoryUnit], tmp_path: Path
) -> None:
    # The dead_letters table keeps one row per origin and reason: two broken units read at
    # two offsets must stay two rows, each pointing at its own record.
    good = units[0].to_json()
    broken = [_json(units[1], mutate) for mutate in list(BROKEN.values())[:2]]
    raws = [(good, b"k"), (broken[0], b"k"), (good, b"k"), (broken[1], b"k")]
    read, rejects = parse_units(
        raws,
        now_ms=1,
        origin_at=lambda i: KafkaOrigin(topic="lumina.units", partition=2, offset=40 + i),
    )
    assert len(read) == 2
    assert [(r.origin.topic, r.origin.offset) for r in rejects if r.origin] == [
        ("lumina.units", 41),
        ("lumina.units", 43),
    ]
    store = open_store(f"chdb://{tmp_path / 'store'}")
    try:
        store.insert_dead_letters(rejects)
        rows = store.query_rows(
            "SELECT origin_offset, original_b64 FROM dead_letters FINAL ORDER BY origin_offset"
        )
    finally:
        store.close()
    assert [(offset, base64.b64decode(b64)) for offset, b64 in rows] == [
        (41, broken[0]),
        (43, broken[1]),
    ]
