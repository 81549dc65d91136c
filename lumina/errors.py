"""One base exception and the closed catalogue of dead-letter reason codes."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why an event became a dead letter. A closed set: consumers may switch on it.

    Codes are stable strings; new codes are added, existing ones never change meaning.
    """

    INVALID_UTF8 = "invalid_utf8"  # the message value is not UTF-8
    INVALID_JSON = "invalid_json"  # UTF-8, but not a JSON object
    SCHEMA_VIOLATION = "schema_violation"  # JSON object that breaks the TextEvent contract
    TEXT_TOO_LARGE = "text_too_large"  # text longer than LUMINA_MAX_TEXT_BYTES
    EMPTY_TEXT = "empty_text"  # text empty after trimming
    STAGE_ERROR = "stage_error"  # a valid event on which an enrichment stage raised


REASON_DESCRIPTIONS: dict[ReasonCode, str] = {
    ReasonCode.INVALID_UTF8: "The message value is not valid UTF-8.",
    ReasonCode.INVALID_JSON: "The message value is not a JSON object.",
    ReasonCode.SCHEMA_VIOLATION: "The JSON object does not satisfy the TextEvent schema.",
    ReasonCode.TEXT_TOO_LARGE: "The text is longer than LUMINA_MAX_TEXT_BYTES (UTF-8 bytes).",
    ReasonCode.EMPTY_TEXT: "The text is empty after trimming whitespace.",
    ReasonCode.STAGE_ERROR: (
        "An enrichment stage raised on this event; the rest of its batch went on."
    ),
}


class LuminaError(Exception):
    """Base of every error Lumina raises on purpose."""


class ConfigError(LuminaError):
    """The configuration cannot work (bad DSN, missing model cache, …)."""


class InvalidEvent(LuminaError):
    """An input event that cannot become a memory unit; carries a stable reason code."""

    def __init__(self, reason: ReasonCode, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class StageError(LuminaError):
    """An enrichment stage failed on one event."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"stage {stage} failed: {message}")
        self.stage = stage
        self.message = message


class StoreError(LuminaError):
    """The memory store refused or failed a request."""


class QueryRefused(StoreError):
    """A query was refused before it reached the store (not read-only, bad scope, …)."""


class QueryInvalid(StoreError):
    """The store could not run a query as written: syntax, an unknown table, column or
    function, argument types. The query's fault, not the store's."""
