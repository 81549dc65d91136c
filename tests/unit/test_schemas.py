"""Contracts: every bad input gets its stable reason code; exported schemas match the models."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from lumina.errors import InvalidEvent, ReasonCode
from lumina.schemas import DeadLetter, Shape, TextEvent, decode_event
from lumina.schemas.export import render_schemas
from lumina.schemas.vectors import quantize, vector_rows

REPO = Path(__file__).resolve().parents[2]


def reason_of(raw: bytes, **limits: int) -> ReasonCode:
    with pytest.raises(InvalidEvent) as caught:
        decode_event(raw, **limits)
    return caught.value.reason


def test_schemas_decode_valid_event_with_rfc3339_and_epoch_times() -> None:
    a = decode_event(b'{"scope": "u-1", "text": "hi", "ts": "2026-05-03T10:00:00+02:00"}')
    b = decode_event(b'{"scope": "u-1", "text": "hi", "ts": 1777795200000}')
    assert a.ts == b.ts == 1777795200000


def test_schemas_ts_absent_is_none_so_the_kafka_time_applies() -> None:
    assert decode_event(b'{"scope": "s", "text": "hello"}').ts is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", ReasonCode.INVALID_UTF8),
        (b"{nope", ReasonCode.INVALID_JSON),
        (b"[1, 2]", ReasonCode.INVALID_JSON),
        (b'{"text": "no scope"}', ReasonCode.SCHEMA_VIOLATION),
        (b'{"scope": "has space", "text": "x"}', ReasonCode.SCHEMA_VIOLATION),
        (b'{"scope": "s", "text": "x", "ts": "yesterday"}', ReasonCode.SCHEMA_VIOLATION),
        (b'{"scope": "s", "text": "x", "ts": "2026-05-03T10:00:00"}', ReasonCode.SCHEMA_VIOLATION),
        (b'{"scope": "s", "text": "x", "unknown": 1}', ReasonCode.SCHEMA_VIOLATION),
        (
            b'{"scope": "s", "text": "x", "metadata": {"nested": {"a": 1}}}',
            ReasonCode.SCHEMA_VIOLATION,
        ),
        (b'{"scope": "s", "text": " \\n\\t "}', ReasonCode.EMPTY_TEXT),
    ],
)
def test_schemas_bad_input_gets_its_reason_code(raw: bytes, reason: ReasonCode) -> None:
    assert reason_of(raw) == reason


def test_schemas_text_too_large_counts_utf8_bytes() -> None:
    text = "é" * 600  # 1,200 bytes, 600 characters
    raw = json.dumps({"scope": "s", "text": text}).encode()
    assert reason_of(raw, max_text_bytes=1000) == ReasonCode.TEXT_TOO_LARGE
    assert decode_event(raw, max_text_bytes=1200).text == text


def test_schemas_metadata_is_bounded() -> None:
    many = {f"k{i}": i for i in range(40)}
    assert reason_of(json.dumps({"scope": "s", "text": "x", "metadata": many}).encode()) == (
        ReasonCode.SCHEMA_VIOLATION
    )
    big = {"k": "v" * 5000}
    assert reason_of(json.dumps({"scope": "s", "text": "x", "metadata": big}).encode()) == (
        ReasonCode.SCHEMA_VIOLATION
    )


def test_schemas_dead_letter_keeps_the_original_bytes() -> None:
    raw = b"\x00\xffbinary junk"
    letter = DeadLetter.from_raw(raw, reason=ReasonCode.INVALID_UTF8, message="m", time_ms=1)
    again = DeadLetter.model_validate_json(letter.model_dump_json())
    assert again.original == raw
    assert again.reason is ReasonCode.INVALID_UTF8


def test_schemas_reason_codes_are_documented() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for code in ReasonCode:
        assert f"`{code.value}`" in readme, f"reason code {code.value} is not in the README"


def test_schemas_committed_json_schemas_match_the_models() -> None:
    for name, text in render_schemas().items():
        committed = REPO / "schemas" / name
        assert committed.exists(), f"{committed} missing: run `lumina schemas export`"
        assert committed.read_text(encoding="utf-8") == text, (
            f"{committed} is stale: run `lumina schemas export`"
        )


def test_schemas_text_event_is_frozen() -> None:
    event = TextEvent(scope="s", text="x")
    with pytest.raises(ValueError):
        event.text = "y"  # type: ignore[misc]


def test_schemas_committed_clickhouse_ddl_matches_the_migrations() -> None:
    from lumina.store.migrate import DEFAULT_EMBEDDING_DIM, migration_files, render

    for _, name, sql in migration_files():
        committed = REPO / "schemas" / "clickhouse" / name
        expected = render(sql, DEFAULT_EMBEDDING_DIM)
        assert committed.exists() and committed.read_text(encoding="utf-8") == expected, (
            f"{committed} is stale: run `lumina schemas export`"
        )


def test_schemas_vector_json_is_base64_float32_and_reads_back_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    values = quantize(rng.standard_normal(4096) / 64.0)
    shape = Shape(dim=4096, weights={"who": 0.5}, vector=values)
    encoded = json.loads(shape.model_dump_json())["vector"]
    # What a consumer in any language does: base64, then little-endian float32.
    assert np.array_equal(np.frombuffer(base64.b64decode(encoded), "<f4"), values)
    again = Shape.model_validate_json(shape.model_dump_json())
    assert again == shape and again.vector.dtype == np.float32


def test_schemas_vector_still_reads_schema_2_decimals() -> None:
    values = quantize(np.linspace(-1, 1, 64))
    text = json.dumps({"dim": 64, "weights": {}, "vector": [float(v) for v in values]})
    assert np.array_equal(Shape.model_validate_json(text).vector, values)


def test_schemas_vector_rows_hold_what_the_validator_would() -> None:
    matrix = np.arange(12, dtype=np.float64).reshape(3, 4) / 7.0
    matrix[1, 2] = np.inf
    first, broken, last = vector_rows(matrix)
    assert broken is None
    for row, source in ((first, matrix[0]), (last, matrix[2])):
        assert row is not None
        expected = Shape(dim=4, weights={}, vector=source).vector
        assert row.dtype == expected.dtype and np.array_equal(row, expected)
        assert not row.flags.writeable and row.base is None  # owned, not a view of the batch


def test_schemas_vector_is_read_only_and_owned_by_the_unit() -> None:
    values = np.ones(8, dtype=np.float32)
    shape = Shape(dim=8, weights={}, vector=values)
    values[0] = 5.0  # the caller's array changing later does not reach the unit
    assert shape.vector[0] == 1.0
    with pytest.raises(ValueError):
        shape.vector[0] = 2.0


@pytest.mark.parametrize(
    "bad",
    [[[1.0, 2.0]], [1.0, float("nan")], ["x"], [1.0, float("inf")], "x", "AAA=", "AADAfw=="],
)
def test_schemas_vector_rejects_non_vectors(bad: list[object]) -> None:
    with pytest.raises(ValidationError):
        Shape(dim=2, weights={}, vector=bad)
