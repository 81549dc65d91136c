"""The enrichment pipeline: runs the stages over a batch of events and assembles MemoryUnits.

Batch-first and broker-free: `Pipeline.run` takes events (with their Kafka origin when
there is one) and returns units plus per-event failures; `enrich(events)` is the one-call
form for the CLI and tests, like quix-streams' `sdf.test`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from lumina.config import Settings, get_settings
from lumina.core.identity import IdentityKey, content_hash, normalize_text, unit_id
from lumina.core.provenance import LinkedUnit, ProvenanceChain
from lumina.errors import ConfigError, ReasonCode, StageError
from lumina.schemas import (
    DeadLetter,
    Decay,
    KafkaOrigin,
    MemoryUnit,
    Provenance,
    Shape,
    TextEvent,
    Timestamps,
    decode_event,
)
from lumina.schemas.vectors import quantize, vector_rows

from .affect import VaderAffect
from .profiles import Encoder, attribution_stages, embed_stage, load_encoder
from .shape import HrrShape
from .stage import INITIAL_FIELDS, Draft, Stage

__all__ = [
    "ContentClaims",
    "Duplicate",
    "EnrichResult",
    "Incoming",
    "Pipeline",
    "StageFailure",
    "enrich",
    "event_identity",
]

log = logging.getLogger(__name__)

# Draft fields a MemoryUnit is assembled from; some stage must assign each of them.
ASSEMBLY_REQUIRES: tuple[str, ...] = (
    "salience", "attribution", "roles", "entities", "affect", "embedding", "shape",
    "shape_weights",
)  # fmt: skip
ASSEMBLE = "assemble"
Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Incoming:
    """One decoded event and where it came from; `raw` is kept for the dead-letter topic."""

    event: TextEvent
    origin: KafkaOrigin | None = None
    kafka_ts_ms: int | None = None
    raw: bytes | None = None

    @classmethod
    def decode(cls, raw: bytes, settings: Settings, origin: KafkaOrigin | None = None) -> Incoming:
        """The event in `raw` under the settings' size limits, with the bytes kept for a
        dead letter; raises InvalidEvent (with its reason code) on bad input."""
        event = decode_event(
            raw,
            max_text_bytes=settings.max_text_bytes,
            max_metadata_bytes=settings.max_metadata_bytes,
        )
        kafka_ts_ms = origin.timestamp_ms if origin is not None else None
        return cls(event=event, origin=origin, kafka_ts_ms=kafka_ts_ms, raw=raw)


@dataclass(frozen=True, slots=True)
class StageFailure:
    """An event on which a stage raised; `stage` is the stage's versioned registry name."""

    incoming: Incoming
    stage: str
    message: str

    def to_dead_letter(self, time_ms: int, key: bytes | None = None) -> DeadLetter:
        """The dead letter to publish; the original bytes, or the event's JSON if none."""
        raw = self.incoming.raw
        if raw is None:
            raw = self.incoming.event.model_dump_json(exclude_none=True).encode()
        return DeadLetter.from_raw(
            raw,
            reason=ReasonCode.STAGE_ERROR,
            message=self.message,
            time_ms=time_ms,
            key=key,
            origin=self.incoming.origin,
            stage=self.stage,
        )


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An event whose text its scope already has: no unit of its own, the kept one counts it."""

    incoming: Incoming
    kept_id: str
    absorbed_id: str
    duplicates: int
    event_ms: int
    repeat: bool  # absorbed before: a redelivery, already counted


class ContentClaim(Protocol):
    @property
    def kept_id(self) -> str: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def repeat(self) -> bool: ...


class ContentClaims(Protocol):
    """Who owns a (scope, content hash): `lumina.state.ContentIndex` in the worker."""

    def claim(self, scope: str, content_hash: str, unit_id: str) -> ContentClaim: ...


@dataclass(slots=True)
class EnrichResult:
    """Units in batch order (failed events and duplicates left out), one failure per failed
    event, and one entry per event absorbed as an exact duplicate."""

    units: list[MemoryUnit] = field(default_factory=list)
    failures: list[StageFailure] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)


def event_identity(event: TextEvent, text: str) -> list[tuple[str, str | int | None]]:
    """The fields a unit id is derived from (besides the scope).

    The producer's `event_id` when it gave one; otherwise the event's own fields: author,
    session, source, event time and the hash of the normalized text. Never the Kafka
    position (topic, partition, offset) or the broker's timestamp: a producer that re-sends
    the same event, or a consumer that re-reads it after a rebalance, must get the same id
    so that the store's ReplacingMergeTree collapses the copies. The flip side: two events
    with the same author, session, source and text and no `ts` nor `event_id` are one unit;
    producers that can repeat a text verbatim should send `ts` or `event_id`.
    """
    if event.event_id:
        return [("event_id", event.event_id)]
    return [
        ("author", event.author),
        ("session", event.session),
        ("source", event.source),
        ("ts", event.ts),
        ("content_hash", content_hash(text)),
    ]


def check_stage_order(stages: Sequence[Stage]) -> None:
    """Raise ConfigError unless each stage's inputs are assigned by an earlier stage."""
    available = set(INITIAL_FIELDS)
    names: set[str] = set()
    for position, stage in enumerate(stages):
        if stage.name in names:
            raise ConfigError(f"two stages are named {stage.name!r}; stage names must be unique")
        names.add(stage.name)
        missing = [f for f in stage.requires if f not in available]
        if missing:
            earlier = ", ".join(s.version for s in stages[:position]) or "none"
            raise ConfigError(
                f"stage {stage.name!r} ({stage.version}) requires {', '.join(missing)}, "
                f"which no earlier stage assigns (earlier stages: {earlier}); "
                f"put a stage that assigns {missing[0]!r} before {stage.name!r}"
            )
        available.update(stage.assigns)
    missing = [f for f in ASSEMBLY_REQUIRES if f not in available]
    if missing:
        raise ConfigError(
            f"no stage assigns {', '.join(missing)}, which every MemoryUnit needs; "
            f"stages: {', '.join(s.version for s in stages) or 'none'}"
        )


class Pipeline:
    """Stages in order plus the unit assembly: ids, chain links, timestamps and decay."""

    def __init__(
        self,
        stages: Sequence[Stage],
        *,
        dim: int,
        half_life_s: float,
        decay_floor: float,
        identity_key: IdentityKey | None = None,
        clock: Clock | None = None,
    ) -> None:
        check_stage_order(stages)
        for stage in stages:
            stage_dim = getattr(stage, "dim", None)
            if isinstance(stage, HrrShape) and stage_dim != dim:
                raise ConfigError(f"stage {stage.version} has dim {stage_dim}, pipeline has {dim}")
        self.stages: tuple[Stage, ...] = tuple(stages)
        self.dim = dim
        self.half_life_s = half_life_s
        self.decay_floor = decay_floor
        # Every unit starts from the same decay state: validated once, shared (it is frozen).
        self._decay = Decay(
            half_life_s=half_life_s, floor=decay_floor, strength=1.0, access_count=0
        )
        self.identity_key = identity_key
        self._clock: Clock = clock or wall_clock_ms
        self.versions: dict[str, str] = {s.name: s.version for s in self.stages}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        embedder: Encoder | None = None,
        clock: Clock | None = None,
    ) -> Pipeline:
        """The profile's pipeline: attribution (+ roles) → affect → embed → shape.

        Pass `embedder` to share one loaded model with search (see `profiles.load_encoder`).
        """
        embedder = embedder or load_encoder(settings)
        secret = settings.secret.get_secret_value() if settings.secret else None
        return cls(
            [
                *attribution_stages(settings),
                VaderAffect(),
                embed_stage(embedder),
                HrrShape(settings.hrr_dim),
            ],
            dim=settings.hrr_dim,
            half_life_s=settings.half_life_s,
            decay_floor=settings.decay_floor,
            identity_key=IdentityKey.from_secret(secret) if secret else None,
            clock=clock,
        )

    def run(
        self,
        batch: Sequence[Incoming],
        chain: ProvenanceChain,
        claims: ContentClaims | None = None,
    ) -> EnrichResult:
        """Enrich a batch; `chain` holds the scopes' heads and is advanced in batch order.

        With `claims`, an event whose (scope, text) another unit already owns becomes a
        `Duplicate` instead of a unit, and takes no place in the provenance chain.
        """
        now = self._clock()
        drafts = [
            Draft.from_event(
                inc.event,
                event_ms=_event_ms(inc, now),
                origin=inc.origin,
            )
            for inc in batch
        ]
        alive = list(range(len(batch)))
        result = EnrichResult()
        for stage in self.stages:
            alive = self._run_stage(stage, batch, drafts, alive, result.failures)
        embeddings, shapes = _vectors(drafts, alive, "embedding"), _vectors(drafts, alive, "shape")
        for position, i in enumerate(alive):
            draft = drafts[i]
            try:
                uid = self.unit_id_for(draft.event)
                if claims is not None:
                    scope = draft.event.scope
                    claim = claims.claim(scope, content_hash(draft.text), uid)
                    if claim.kept_id != uid:
                        result.duplicates.append(
                            Duplicate(
                                batch[i],
                                claim.kept_id,
                                uid,
                                claim.duplicates,
                                draft.event_ms,
                                claim.repeat,
                            )
                        )
                        continue
                # Placed, not recorded: the head moves only once the unit is valid, so a
                # unit that fails assembly leaves no orphan link behind.
                placed = chain.place(draft.event.scope, uid, draft.event_ms)
                unit = self._assemble(draft, placed, embeddings[position], shapes[position], now)
            except Exception as exc:  # a poison event must not take its batch down
                result.failures.append(StageFailure(batch[i], ASSEMBLE, _describe(exc)))
                continue
            chain.record(unit.provenance.scope, placed)
            result.units.append(unit)
        return result

    def _run_stage(
        self,
        stage: Stage,
        batch: Sequence[Incoming],
        drafts: list[Draft],
        alive: list[int],
        failures: list[StageFailure],
    ) -> list[int]:
        if not alive:
            return alive
        try:
            out = stage([drafts[i] for i in alive])
            if len(out) != len(alive):
                raise StageError(stage.version, f"returned {len(out)} drafts for {len(alive)}")
        except Exception as exc:
            # Rerun one draft at a time so only the poison event fails, not its batch.
            log.warning(
                "stage %s failed on a batch of %d, isolating: %s",
                stage.version,
                len(alive),
                _describe(exc),
            )
            survivors = []
            for i in alive:
                try:
                    (drafts[i],) = stage([drafts[i]])
                except Exception as one_exc:
                    failures.append(StageFailure(batch[i], stage.version, _describe(one_exc)))
                else:
                    survivors.append(i)
            return survivors
        for i, draft in zip(alive, out, strict=True):
            drafts[i] = draft
        return alive

    def unit_id_for(self, event: TextEvent) -> str:
        """The id the event's unit has (or will have, before any stage runs)."""
        return unit_id(
            event.scope, event_identity(event, normalize_text(event.text)), self.identity_key
        )

    def _assemble(
        self,
        draft: Draft,
        placed: LinkedUnit,
        embedding: np.ndarray | None,
        shape: np.ndarray | None,
        now_ms: int,
    ) -> MemoryUnit:
        """The unit of one enriched draft.

        Built with `model_construct`: every part is already validated (the event on arrival,
        the nested models by the stages that made them, the vectors per batch by `_vectors`,
        the decay state once), so validating the unit again only cost time. What no earlier
        step checks, the salience range, is checked here. External input (a unit read back
        from Kafka or the store) still goes through full validation.
        """
        event = draft.event
        uid = placed.entry.unit_id
        if embedding is None or shape is None:
            raise ValueError("a stage left the embedding or the shape unset, or not finite")
        if len(shape) != self.dim:
            raise ValueError(f"shape has {len(shape)} dimensions, the pipeline {self.dim}")
        salience = float(round(draft.salience, 4))  # a float, as validation would make it
        if not 0.0 <= salience <= 1.0:
            raise ValueError(f"salience {salience} is outside [0, 1]")
        return MemoryUnit.model_construct(
            id=uid,
            content_hash=content_hash(draft.text),
            provenance=Provenance(
                scope=event.scope,
                source=event.source,
                author=event.author,
                session=event.session,
                event_id=event.event_id,
                origin=draft.origin,
                chain_link=placed.entry.link,
                previous_link=placed.entry.previous,
                sequence=placed.sequence,
            ),
            text=draft.text,
            timestamps=Timestamps(
                event_ms=draft.event_ms, ingest_ms=now_ms, last_access_ms=draft.event_ms
            ),
            salience=salience,
            # Copies, as validation made them: the unit must not share a draft's containers.
            attribution=list(draft.attribution),
            roles=draft.roles,
            entities=list(draft.entities),
            affect=draft.affect,
            embedding=embedding,
            shape=Shape.model_construct(
                dim=self.dim, weights=dict(draft.shape_weights), vector=shape
            ),
            decay=self._decay,
            stages=dict(self.versions),
        )


def _vectors(drafts: Sequence[Draft], alive: Sequence[int], name: str) -> list[np.ndarray | None]:
    """One draft vector field of the batch, quantized and checked as a unit's Vector field.

    Rounding and checking the batch as one matrix is several times cheaper than row by row.
    A draft whose vector is missing, not one-dimensional, of another length than the rest or
    not finite (a misbehaving stage) gets None, for `_assemble` to reject: only it fails.
    """
    vectors = [getattr(drafts[i], name) for i in alive]
    whole = all(v is not None and np.ndim(v) == 1 for v in vectors)
    if whole and len({np.shape(v) for v in vectors}) == 1:
        return vector_rows(quantize(np.stack(vectors)))
    return [_one_vector(v) for v in vectors]


def _one_vector(vector: np.ndarray | None) -> np.ndarray | None:
    if vector is None or np.ndim(vector) != 1:
        return None
    return vector_rows(quantize(vector)[None, :])[0]


def _event_ms(incoming: Incoming, now_ms: int) -> int:
    """Event time: the producer's ts, else the Kafka message time, else now."""
    if incoming.event.ts is not None:
        return incoming.event.ts
    if incoming.kafka_ts_ms is not None:
        return incoming.kafka_ts_ms
    return now_ms


def _describe(exc: BaseException) -> str:
    if isinstance(exc, StageError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


_DEFAULT_PIPELINES: dict[tuple[object, ...], Pipeline] = {}


def enrich(events: Sequence[TextEvent], settings: Settings | None = None) -> list[MemoryUnit]:
    """Enrich events in memory with the default pipeline and a fresh provenance chain.

    For `lumina enrich` and tests. Raises StageError for the first event a stage rejects,
    since there is no dead-letter topic to send it to.
    """
    settings = settings or get_settings()
    key = (
        settings.models_dir, settings.hrr_dim, settings.half_life_s, settings.decay_floor,
        settings.profile, settings.attribution, settings.embedder, settings.spacy_model,
        settings.secret.get_secret_value() if settings.secret else None,
    )  # fmt: skip
    pipeline = _DEFAULT_PIPELINES.get(key)
    if pipeline is None:  # loading the static model once per settings, not per call
        pipeline = _DEFAULT_PIPELINES.setdefault(key, Pipeline.from_settings(settings))
    result = pipeline.run([Incoming(e) for e in events], ProvenanceChain())
    if result.failures:
        first = result.failures[0]
        raise StageError(first.stage, first.message)
    return result.units
