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

Per scope one value: `{"q": last position, "embed": version, "units": [[id, position,
event_ms, float16 embedding as base64], …]}`. float16 keeps the cosine within ~1e-3.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from lumina.schemas import MemoryUnit

__all__ = ["NearDuplicates", "NearMatch"]


@dataclass(frozen=True, slots=True)
class NearMatch:
    kept_id: str
    similarity: float
    repeat: bool  # this unit was checked before (a replay): do not reinforce again


def _encode(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float16).tobytes()).decode()


@lru_cache(maxsize=16_384)
def _decode(text: str) -> np.ndarray:
    """The vector an encoded embedding holds, read-only; cached by its text.

    A scope's recent embeddings are decoded again for every unit the scope gets, ~16 per
    unit, and base64 plus the float16 conversion were half of the check's time. The text is
    the vector, so a cached entry can never go stale; 16,384 of them (~32 MiB with their
    keys) hold the recent units of ~1,000 busy scopes.
    """
    vector = np.frombuffer(binascii.a2b_base64(text), dtype=np.float16).astype(np.float32)
    vector.flags.writeable = False  # shared by every later check of the scope
    return vector


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
        if earlier:
            vectors = np.stack([_decode(u[3]) for u in earlier])
            scores = vectors @ np.asarray(unit.embedding, dtype=np.float32)
            best = int(np.argmax(scores))  # first of equals: the earliest
            if float(scores[best]) >= self.threshold:
                match = NearMatch(earlier[best][0], round(float(scores[best]), 4), repeat)
        if not repeat:
            units = [*state["units"], [unit.id, position, now, _encode(unit.embedding)]]
            units = [u for u in units if now - u[2] <= self.window_ms][-self.keep :]
            self.table[scope] = {"q": position, "embed": embed, "units": units}
        return match
