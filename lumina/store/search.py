"""Query service shared by the Python API, the CLI and the worker's HTTP endpoint.

Hybrid search ranks a scope's units three ways and combines them:

    relevance = (w_d / (k + rank_dense) + w_l / (k + rank_lexical)) / ((w_d + w_l) / (k + 1))
    score     = (1 - β) · relevance + β · strength_now

`rank_dense` is the unit's place among the nearest embeddings (HNSW), `rank_lexical` its
place by BM25 over the scope; a unit missing from one list gets nothing from it. Reciprocal
rank fusion needs no calibration between cosine and BM25 scales, and relevance is 1 for a
unit first in both lists. `strength_now` is `max(floor, 2^(-Δt / T½))` since the unit's last
access, so memories that were used recently (reinforced) or are fresh rise, and stale ones
sink without vanishing. w_d, w_l, k and β are `LUMINA_SEARCH_*` settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from pydantic import TypeAdapter, ValidationError

from lumina.config import Settings
from lumina.core.symbols import ROLES
from lumina.enrich.shape import probe, unbind
from lumina.errors import QueryRefused
from lumina.schemas.events import Scope
from lumina.store.client import MemoryStore
from lumina.store.retrieval import (
    Filters,
    StoredHit,
    dense_candidates,
    lexical_candidates,
    role_fillers,
    shape_candidates,
    stored_hits,
    unit_shape,
)

_SCOPE = TypeAdapter(Scope)
MAX_K = 1000


class Encoder(Protocol):
    version: str  # the embed stage version its vectors carry in `stages['embed']`

    @property
    def dim(self) -> int: ...  # the vectors' dimension, which the store's index is built for

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _default(setting: str) -> Any:
    """The default of a `LUMINA_SEARCH_*` setting, so the weights and the settings agree."""
    return Settings.model_fields[setting].default


@dataclass(frozen=True)
class SearchWeights:
    dense: float = _default("search_dense_weight")
    lexical: float = _default("search_lexical_weight")
    strength: float = _default("search_strength_weight")
    rrf_k: int = _default("search_rrf_k")
    candidates: int = _default("search_candidates")
    hnsw_ef: int = _default("search_hnsw_ef")

    @classmethod
    def from_settings(cls, settings: Settings) -> SearchWeights:
        return cls(
            dense=settings.search_dense_weight,
            lexical=settings.search_lexical_weight,
            strength=settings.search_strength_weight,
            rrf_k=settings.search_rrf_k,
            candidates=settings.search_candidates,
            hnsw_ef=settings.search_hnsw_ef,
        )


@dataclass(frozen=True)
class SearchHit:
    """One result: the unit's latest version, its score and where the score came from."""

    id: str
    score: float
    relevance: float
    strength: float
    dense_rank: int | None
    lexical_rank: int | None
    text: str
    who: str | None
    what: str | None
    when: str | None
    where: str | None
    author: str | None
    session: str | None
    salience: float
    event_ms: int
    access_count: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def checked_scope(scope: str) -> str:
    """Scopes follow the TextEvent rule; anything else is refused before any SQL runs."""
    try:
        return _SCOPE.validate_python(scope)
    except ValidationError as exc:
        raise QueryRefused(f"invalid scope {scope!r}: use 1-128 of [A-Za-z0-9._:-]") from exc


def _checked_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise QueryRefused(f"k must be between 1 and {MAX_K}")
    return k


def _checked_role(role: str) -> str:
    if role not in ROLES:
        raise QueryRefused(f"unknown role {role!r}: roles are {', '.join(ROLES)}")
    return role


def fuse(
    rankings: Sequence[tuple[float, Sequence[str]]], rrf_k: int
) -> dict[str, tuple[float, list[int | None]]]:
    """Reciprocal rank fusion of weighted id rankings: id → (relevance in [0, 1], the
    1-based rank in each ranking or None)."""
    total = sum(weight for weight, _ in rankings)
    if total <= 0:
        raise QueryRefused("search weights are all zero: set LUMINA_SEARCH_*_WEIGHT")
    best = total / (rrf_k + 1)
    fused: dict[str, tuple[float, list[int | None]]] = {}
    for i, (weight, ids) in enumerate(rankings):
        for rank, unit_id in enumerate(ids, start=1):
            score, ranks = fused.get(unit_id, (0.0, [None] * len(rankings)))
            ranks[i] = rank
            fused[unit_id] = (score + weight / (rrf_k + rank), ranks)
    return {unit_id: (score / best, ranks) for unit_id, (score, ranks) in fused.items()}


class MemorySearch:
    """Hybrid search, holographic recall, unbinding, read-only SQL and counts over one store."""

    def __init__(
        self,
        store: MemoryStore,
        encoder: Encoder,
        weights: SearchWeights | None = None,
        hrr_dim: int = 1024,
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.weights = weights or SearchWeights()
        self.hrr_dim = hrr_dim

    @classmethod
    def from_settings(
        cls, store: MemoryStore, encoder: Encoder, settings: Settings
    ) -> MemorySearch:
        return cls(store, encoder, SearchWeights.from_settings(settings), settings.hrr_dim)

    def search(
        self, text: str, scope: str, k: int = 10, filters: Filters | None = None
    ) -> list[SearchHit]:
        if not text.strip():
            raise QueryRefused("search text is empty")
        scope, k, filters = checked_scope(scope), _checked_k(k), filters or Filters()
        w = self.weights
        n = max(w.candidates, k)
        vector = self.encoder.encode([text])[0]
        dense = dense_candidates(
            self.store,
            scope,
            vector.tolist(),
            n,
            filters,
            embed_version=self.encoder.version,
            ef=w.hnsw_ef,
        )
        lexical = lexical_candidates(self.store, scope, text, n, filters) if w.lexical else []
        fused = fuse(
            [(w.dense, [i for i, _ in dense]), (w.lexical, [i for i, _ in lexical])], w.rrf_k
        )
        stored = stored_hits(self.store, scope, list(fused))
        hits = [
            _hit(stored[unit_id], relevance, ranks, w.strength)
            for unit_id, (relevance, ranks) in fused.items()
            if unit_id in stored
        ]
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:k]

    def recall(
        self, roles: Mapping[str, str], scope: str, k: int = 10, filters: Filters | None = None
    ) -> list[SearchHit]:
        """Units whose holographic shape best matches the given role fillers."""
        roles = {_checked_role(role): filler for role, filler in roles.items() if filler}
        if not roles:
            raise QueryRefused("recall needs at least one role, e.g. --who Alice")
        scope, k, filters = checked_scope(scope), _checked_k(k), filters or Filters()
        query = probe(roles, self.hrr_dim)
        ranked = shape_candidates(self.store, scope, query.tolist(), k, filters)
        stored = stored_hits(self.store, scope, [i for i, _ in ranked])
        # The probe's cosine is the whole score: recall is by role, not by strength.
        return [_hit(stored[i], cosine, [None, None], 0.0) for i, cosine in ranked if i in stored]

    def unbind(self, unit_id: str, role: str, scope: str, k: int = 5) -> list[dict[str, Any]]:
        """Read one role back out of a stored unit's shape, cleaned up against the fillers
        that role has in the unit's scope: [{filler, similarity}], best first."""
        scope, role, k = checked_scope(scope), _checked_role(role), _checked_k(k)
        shape = unit_shape(self.store, scope, unit_id)
        if shape is None:
            raise QueryRefused(f"no unit {unit_id!r} in scope {scope!r}")
        vocabulary = role_fillers(self.store, scope, role)
        if not vocabulary:
            return []
        ranked = unbind(np.asarray(shape, dtype=np.float32), role, vocabulary, k)
        return [{"filler": filler, "similarity": round(score, 4)} for filler, score in ranked]

    def sql(self, query: str) -> dict[str, Any]:
        columns, rows = self.store.read_only_sql(query)
        return {"columns": columns, "rows": [list(map(_jsonable, r)) for r in rows]}

    def stats(self) -> dict[str, int]:
        units = self.store.query_rows("SELECT count() FROM memory_units FINAL")[0][0]
        dead = self.store.query_rows("SELECT count() FROM dead_letters FINAL")[0][0]
        return {"units": int(units), "dead_letters": int(dead)}


def _hit(
    stored: StoredHit, relevance: float, ranks: Sequence[int | None], strength_weight: float
) -> SearchHit:
    score = (1.0 - strength_weight) * relevance + strength_weight * stored.strength
    return SearchHit(
        id=stored.id,
        score=round(score, 6),
        relevance=round(relevance, 6),
        strength=round(stored.strength, 6),
        dense_rank=ranks[0],
        lexical_rank=ranks[1] if len(ranks) > 1 else None,
        text=stored.text,
        who=stored.who,
        what=stored.what,
        when=stored.when,
        where=stored.where,
        author=stored.author,
        session=stored.session,
        salience=stored.salience,
        event_ms=stored.event_ms,
        access_count=stored.access_count,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
