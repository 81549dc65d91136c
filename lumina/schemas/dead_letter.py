"""DeadLetter: an event that could not become a unit, kept with its original bytes."""

from __future__ import annotations

import base64

from pydantic import BaseModel, ConfigDict, Field

from lumina.errors import ReasonCode


class KafkaOrigin(BaseModel):
    """Where a record was read from."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


class DeadLetter(BaseModel):
    """Published to `lumina.dead-letter`; nothing is lost, the bytes can be replayed."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    reason: ReasonCode = Field(description="Stable reason code (see docs/reason-codes).")
    message: str = Field(description="Human explanation of what was wrong.")
    original_b64: str = Field(description="The original message value, base64.")
    original_key_b64: str | None = None
    origin: KafkaOrigin | None = None
    stage: str | None = Field(default=None, description="The stage that raised, for stage_error.")
    time_ms: int = Field(description="When the worker rejected it (epoch ms).")

    @classmethod
    def from_raw(
        cls,
        raw: bytes,
        *,
        reason: ReasonCode,
        message: str,
        time_ms: int,
        key: bytes | None = None,
        origin: KafkaOrigin | None = None,
        stage: str | None = None,
    ) -> DeadLetter:
        return cls(
            reason=reason,
            message=message,
            original_b64=base64.b64encode(raw).decode("ascii"),
            original_key_b64=None if key is None else base64.b64encode(key).decode("ascii"),
            origin=origin,
            stage=stage,
            time_ms=time_ms,
        )

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)
