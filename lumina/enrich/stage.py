"""The stage contract: a Draft carries one event through named, versioned, batch-first stages."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from lumina.core.identity import normalize_text
from lumina.errors import StageError
from lumina.schemas import Affect, Entity, KafkaOrigin, Roles, TextEvent, TokenWeight

from .tokens import Tokens

# Fields every Draft has from birth; stages may require them without an earlier stage.
INITIAL_FIELDS: tuple[str, ...] = ("event", "text", "event_ms", "origin")

# A draft's roles and affect before a stage fills them: frozen models, so every draft can
# share one instance instead of validating a fresh one each.
_NO_ROLES = Roles()
_NO_AFFECT = Affect(valence=0.0, arousal=0.0)


@dataclass(slots=True)
class Draft:
    """One event on its way to a MemoryUnit; each stage fills the fields it assigns.

    Mutable on purpose: stages write into the draft instead of copying it per stage, which
    keeps a 256-event batch cheap. The pipeline never shares a draft between batches.
    """

    event: TextEvent
    text: str
    event_ms: int
    origin: KafkaOrigin | None = None
    tokens: Tokens | None = None
    # Aligned with `tokens`: the attribution weight in [0, 1] of every token, not just the top.
    token_weights: list[float] = field(default_factory=list)
    salience: float = 0.0
    attribution: list[TokenWeight] = field(default_factory=list)
    roles: Roles = _NO_ROLES
    entities: list[Entity] = field(default_factory=list)
    affect: Affect = _NO_AFFECT
    embedding: np.ndarray | None = None
    shape: np.ndarray | None = None
    shape_weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_event(
        cls, event: TextEvent, event_ms: int, origin: KafkaOrigin | None = None
    ) -> Draft:
        return cls(event=event, text=normalize_text(event.text), event_ms=event_ms, origin=origin)


class Stage(ABC):
    """A named, versioned step over a batch of drafts that declares what it reads and writes.

    `name` is the slot in the pipeline ("attribution"); `version` is the registry name of the
    implementation ("attribution.fast.v1") that every unit records, so a unit says exactly
    which code produced it. `requires` and `assigns` name Draft fields; the pipeline checks
    at build time that every required field is assigned by an earlier stage.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    assigns: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        """Fill this stage's fields on every draft of the batch and return the batch."""

    def one(self, draft: Draft) -> Draft:
        """Run on a single draft: a thin wrapper on the batch form."""
        return self([draft])[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.version}>"


def require_tokens(draft: Draft, stage: str) -> Tokens:
    """The draft's tokens; a clear error if a pipeline was assembled without a tokenizer."""
    if draft.tokens is None:
        raise StageError(stage, "the draft has no tokens: run the tokens stage first")
    return draft.tokens
