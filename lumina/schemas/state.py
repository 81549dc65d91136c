"""Records the stream's memory publishes: activations, activity windows, consolidations,
role timelines and access events (the reinforcement loop's input).

Each is JSON on its own topic, keyed by scope like everything else, so a consumer (or the
store) sees the changes of one scope in order. `kind` names the record on the topics that
carry more than one kind.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EntityActivation(_Record):
    """How active an entity is in a scope after its latest mention (`lumina.activations`).

    `A ← A · 2^(-Δt / T½) + σ` over event time; `activation` is A just after the mention at
    `event_ms`. A reader decays it to time t with `A · 2^(-(t - event_ms) / T½)`.
    """

    kind: Literal["entity"] = "entity"
    scope: str
    entity: str = Field(description="Canonical name: lowercase, single spaces.")
    activation: float = Field(ge=0.0)
    half_life_s: float = Field(gt=0)
    mentions: int = Field(ge=1)
    event_ms: int = Field(description="Event time of the latest mention.")


class EntityCount(_Record):
    entity: str
    count: int = Field(ge=1)


class ActivityWindow(_Record):
    """Units of a scope in one tumbling event-time window, so far (`lumina.activations`)."""

    kind: Literal["window"] = "window"
    scope: str
    start_ms: int
    end_ms: int = Field(description="Exclusive.")
    units: int = Field(ge=0)
    salience_sum: float = Field(ge=0.0)
    top_entities: list[EntityCount] = Field(description="Most mentioned first, at most 10.")


class Consolidation(_Record):
    """One unit absorbed by another (`lumina.consolidations`).

    `exact`: same scope and content hash; the absorbed event made no unit of its own and
    the kept unit was reinforced. `absorbed_id` is the id the duplicate would have had.
    `near`: an embedding within the similarity threshold of a recent unit of the scope;
    the absorbed unit exists (stored, queryable) and this record points it at the kept one,
    which was reinforced.
    """

    kind: Literal["exact", "near"]
    scope: str
    kept_id: str
    absorbed_id: str
    similarity: float = Field(ge=-1.0, le=1.0)
    duplicates: int | None = Field(
        default=None, ge=1, description="Exact duplicates of the kept unit so far (exact only)."
    )
    event_ms: int = Field(description="Event time of the absorbed event.")


class TimelineChange(_Record):
    """A role of an actor changed value (`lumina.timelines`).

    Per (scope, who) the latest `where` and `what` are kept with `valid_from_ms`; a new
    value closes the previous one, which this record carries with its `valid_to_ms`, so
    "where was Alice on 3 May" is the interval that contains that day.
    """

    scope: str
    who: str
    role: Literal["where", "what"]
    value: str
    valid_from_ms: int
    unit_id: str
    previous_value: str | None = None
    previous_valid_from_ms: int | None = None
    previous_valid_to_ms: int | None = None


class AccessEvent(_Record):
    """A unit was used (`lumina.access`): retrieved by a query, or met again as a duplicate."""

    scope: str
    unit_id: str
    at_ms: int
    reason: Literal["retrieval", "duplicate", "near_duplicate"]
