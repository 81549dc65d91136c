"""Near-duplicate consolidation: a new unit close to a recent one of its scope is absorbed.

"Close" is cosine ≥ `threshold` (default 0.92) between embeddings of the same embed stage
version, against the scope's units of the last `window_s` (default one day, event time),
at most `keep` of them (default 16, the most recent: the value is rewritten on every unit
of the scope, so it is kept small). The absorbed unit stays a unit,
stored and queryable; a consolidation record (kind `near`) points it at the kept unit, the
most similar earlier one, which is reinforced.

Deterministic on replay: each remembered unit carries its chain position, and a unit is
compared only with units before it in the chain, so re-processing it after a crash finds
the same kept unit. A replayed unit (at or before the last position seen) is reported again
as a repeat, which republishes the record but does not reinforce twice.

State, in the table it is given: per scope an index, `{"q": last position, "embed": version,
"units": [[id, position, event_ms, fingerprint], …]}`, and per remembered unit its
embedding, float16 as base64 (float16 keeps the cosine within ~1e-3), under
`scope ␟ "v" ␟ id ␟ fingerprint`, written once and deleted when the unit leaves the
index. The index is rewritten with every unit of its scope, so it holds no vectors: with
them inline (as before; such entries are still read) it was ~12.5 kB, rewritten to
RocksDB and the changelog per unit, more than the unit itself. A process keeps the
vectors it decoded, so a check reads only the index and, after a restart or a rebalance,
each vector once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

import numpy as np
from blake3 import blake3

from lumina.schemas import MemoryUnit
from lumina.state.keys import scoped

__all__ = ["NearDuplicates", "NearMatch", "vector_key"]

VECTOR = "v"  # the key part of a remembered unit's embedding
FINGERPRINT_CHARS = 16  # an entry's fourth element: longer, it is the encoded vector itself


@dataclass(frozen=True, slots=True)
class NearMatch:
    kept_id: str
    similarity: float
    repeat: bool  # this unit was checked before (a replay): do not reinforce again


def _encode(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float16).tobytes()).decode()


def vector_key(scope: str, unit_id: str, fingerprint: str) -> str:
    """Where a remembered unit's embedding is kept. The fingerprint (of the encoded vector)
    is part of the key: a unit id remembered twice with two vectors (an event id reused for
    another text) keeps both, each for its own index entry."""
    return scoped(scope, VECTOR, unit_id, fingerprint)


def _fingerprint(encoded: str) -> str:
    return blake3(encoded.encode()).hexdigest(length=8)


def _decode(text: str) -> np.ndarray:
    """The vector an encoded embedding holds, read-only (shared by later checks)."""
    vector = np.frombuffer(binascii.a2b_base64(text), dtype=np.float16).astype(np.float32)
    vector.flags.writeable = False
    return vector


# Embedding key → vector. A scope's recent embeddings are compared again for every unit the
# scope gets, ~16 per unit, and reading and decoding them each time was most of the check's
# time. A key names one encoded vector (its fingerprint is in it), so a vector kept here
# never goes stale. A vector leaves with its index entry, and when the cache is full the
# oldest written go first: a vector is written once and compared with its scope's next
# units, so the oldest are those of the scopes heard from least lately. 16,384 (~27 MiB)
# hold the recent units of ~1,000 busy scopes. (Emptying the cache when full, as before,
# made every scope read its vectors from RocksDB again: ~10% of an enriching worker's time
# at 1,000 scopes, in a profile of `bench/stream.py`.)
_VECTORS: dict[str, np.ndarray] = {}
_VECTORS_KEPT = 16_384
_VECTORS_EVICTED = _VECTORS_KEPT // 8  # at a time, so eviction is rare


def _keep(key: str, vector: np.ndarray) -> None:
    if len(_VECTORS) >= _VECTORS_KEPT:  # bounded: a long-running worker sees endless units
        for old in list(islice(_VECTORS, _VECTORS_EVICTED)):  # insertion order: oldest first
            del _VECTORS[old]
    _VECTORS[key] = vector


# Entries written before the vectors had keys of their own carry the encoded vector itself.
_decode_inline = lru_cache(maxsize=16_384)(_decode)


class NearDuplicates:
    def __init__(
        self,
        table: MutableMapping[str, Any],
        *,
        threshold: float = 0.92,
        window_s: float = 86_400.0,
        keep: int = 16,
    ) -> None:
        if not -1.0 <= threshold <= 1.0 or window_s <= 0 or keep < 1:
            raise ValueError("need -1 <= threshold <= 1, window_s > 0 and keep >= 1")
        self.table = table
        self.threshold = threshold
        self.window_ms = int(window_s * 1000)
        self.keep = keep

    def check(self, unit: MemoryUnit) -> NearMatch | None:
        """The recent unit this one duplicates, if any; remembers this unit either way."""
        scope, position = unit.provenance.scope, unit.provenance.sequence
        embed = unit.stages.get("embed", "")
        state = self.table.get(scope)
        if state is None or state["embed"] != embed:
            state = {"q": 0, "embed": embed, "units": []}
        repeat = position <= state["q"]
        now = unit.timestamps.event_ms
        earlier = [
            u
            for u in state["units"]
            if u[1] < position and u[0] != unit.id and abs(now - u[2]) <= self.window_ms
        ]
        match = None
        pairs = [(u, self._vector(scope, u)) for u in earlier]
        earlier = [u for u, vector in pairs if vector is not None]
        if earlier:
            vectors = np.stack([vector for _, vector in pairs if vector is not None])
            scores = vectors @ np.asarray(unit.embedding, dtype=np.float32)
            best = int(np.argmax(scores))  # first of equals: the earliest
            if float(scores[best]) >= self.threshold:
                match = NearMatch(earlier[best][0], round(float(scores[best]), 4), repeat)
        if not repeat:
            self._remember(scope, embed, state, unit)
        return match

    def _vector(self, scope: str, entry: list[Any]) -> np.ndarray | None:
        """The embedding of an index entry: from this process's memory, else the table.
        None if the table lost it: the entry is then not compared, rather than the batch
        failing again and again on state it cannot mend."""
        unit_id, fingerprint = entry[0], entry[3]
        if len(fingerprint) > FINGERPRINT_CHARS:
            return _decode_inline(fingerprint)
        key = vector_key(scope, unit_id, fingerprint)
        vector = _VECTORS.get(key)
        if vector is None:
            encoded = self.table.get(key)
            if encoded is None:
                return None
            vector = _decode(encoded)
            _keep(key, vector)
        return vector

    def _remember(self, scope: str, embed: str, state: dict[str, Any], unit: MemoryUnit) -> None:
        now = unit.timestamps.event_ms
        encoded = _encode(unit.embedding)
        fingerprint = _fingerprint(encoded)
        entry = [unit.id, unit.provenance.sequence, now, fingerprint]
        units = [*state["units"], entry]
        kept = [u for u in units if now - u[2] <= self.window_ms][-self.keep :]
        key = vector_key(scope, unit.id, fingerprint)
        self.table[key] = encoded
        _keep(key, _decode(encoded))
        # A vector goes when its entry leaves the index, unless a kept entry names the same
        # one (a unit remembered twice, at two positions).
        named = {(u[0], u[3]) for u in kept}
        for u in units:
            if (u[0], u[3]) not in named and len(u[3]) <= FINGERPRINT_CHARS:
                gone = vector_key(scope, u[0], u[3])
                self.table.pop(gone, None)
                _VECTORS.pop(gone, None)
                named.add((u[0], u[3]))  # deleted once
        self.table[scope] = {"q": unit.provenance.sequence, "embed": embed, "units": kept}
