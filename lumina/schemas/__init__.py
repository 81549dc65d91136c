"""Pydantic contracts: what goes into Lumina, what comes out, and what is rejected."""

from lumina.schemas.dead_letter import DeadLetter, KafkaOrigin
from lumina.schemas.events import TextEvent, decode_event
from lumina.schemas.units import (
    SCHEMA_VERSION,
    Affect,
    Decay,
    Entity,
    MemoryUnit,
    Provenance,
    Roles,
    Shape,
    Timestamps,
    TokenWeight,
)

__all__ = [
    "SCHEMA_VERSION",
    "Affect",
    "DeadLetter",
    "Decay",
    "Entity",
    "KafkaOrigin",
    "MemoryUnit",
    "Provenance",
    "Roles",
    "Shape",
    "TextEvent",
    "Timestamps",
    "TokenWeight",
    "decode_event",
]
