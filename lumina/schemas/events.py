"""TextEvent, the input contract, and the decoder that turns raw bytes into one or a reason."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from lumina.errors import InvalidEvent, ReasonCode

Scope = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
MetadataValue = str | int | float | bool | None
MAX_METADATA_KEYS = 32
DEFAULT_MAX_TEXT_BYTES = 64 * 1024
DEFAULT_MAX_METADATA_BYTES = 4096


def parse_timestamp(value: Any) -> int:
    """RFC 3339 string or epoch milliseconds → epoch milliseconds (UTC)."""
    if isinstance(value, bool):  # bool is an int subclass; true is not a time
        raise ValueError("ts must be RFC 3339 text or epoch milliseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"ts {value!r} is not RFC 3339") from exc
        if parsed.tzinfo is None:
            raise ValueError(f"ts {value!r} has no time zone offset (RFC 3339 requires one)")
        return int(parsed.timestamp() * 1000)
    raise ValueError("ts must be RFC 3339 text or epoch milliseconds")


class TextEvent(BaseModel):
    """One text event as producers publish it to `lumina.events` (JSON, key = scope)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Scope = Field(description="Partition of memory: a user, a team, a tenant.")
    text: str = Field(min_length=1, description="The content; non-empty after trimming.")
    ts: int | None = Field(
        default=None,
        description="Event time as RFC 3339 or epoch milliseconds; "
        "absent means the Kafka message time.",
    )
    event_id: str | None = Field(default=None, max_length=256)
    source: str | None = Field(default=None, max_length=256)
    author: str | None = Field(default=None, max_length=256)
    session: str | None = Field(default=None, max_length=256)
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict,
        description=f"Flat key/value pairs, at most {MAX_METADATA_KEYS} keys "
        f"and {DEFAULT_MAX_METADATA_BYTES} bytes as JSON by default.",
    )

    @field_validator("ts", mode="before")
    @classmethod
    def _parse_ts(cls, value: Any) -> int | None:
        return None if value is None else parse_timestamp(value)

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty after trimming")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_bounded(cls, value: dict[str, MetadataValue]) -> dict[str, MetadataValue]:
        if len(value) > MAX_METADATA_KEYS:
            raise ValueError(f"metadata has {len(value)} keys, at most {MAX_METADATA_KEYS}")
        return value


def decode_event(
    raw: bytes,
    *,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES,
) -> TextEvent:
    """Decode one message value; raise InvalidEvent with a stable reason code if it is bad."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(ReasonCode.INVALID_UTF8, f"byte {exc.start} is not UTF-8") from exc
    try:
        payload = json.loads(decoded)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(ReasonCode.INVALID_JSON, f"not JSON: {exc.msg} at {exc.pos}") from exc
    if not isinstance(payload, dict):
        raise InvalidEvent(
            ReasonCode.INVALID_JSON, f"expected a JSON object, got {type(payload).__name__}"
        )
    text = payload.get("text")
    if isinstance(text, str):
        size = len(text.encode("utf-8"))
        if size > max_text_bytes:
            raise InvalidEvent(
                ReasonCode.TEXT_TOO_LARGE, f"text is {size} bytes, the limit is {max_text_bytes}"
            )
        if not text.strip():
            raise InvalidEvent(ReasonCode.EMPTY_TEXT, "text is empty after trimming")
    metadata = payload.get("metadata")
    if isinstance(metadata, dict):
        size = len(json.dumps(metadata, separators=(",", ":")).encode("utf-8"))
        if size > max_metadata_bytes:
            raise InvalidEvent(
                ReasonCode.SCHEMA_VIOLATION,
                f"metadata is {size} bytes as JSON, the limit is {max_metadata_bytes}",
            )
    try:
        return TextEvent.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidEvent(ReasonCode.SCHEMA_VIOLATION, problems) from exc
