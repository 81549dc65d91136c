"""The provenance chain's table layout, so a restarted or rebalanced worker resumes it.

Per scope one key with the head and length of its chain, and one key per unit with its link,
previous link, position and time. A unit seen again (a redelivery after a crash) is found
by its id and keeps its place: `ProvenanceChain.place` gives it back instead of appending.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

from lumina.core.provenance import ChainEntry, LinkedUnit, ProvenanceChain
from lumina.schemas import MemoryUnit

from .keys import scoped

__all__ = ["resume_chain", "save_chain"]


def resume_chain(
    state: MutableMapping[str, Any], scopes: Sequence[str], ids: Sequence[tuple[str, str]]
) -> ProvenanceChain:
    """The chains of a batch's scopes as stored, with the batch's units already linked."""
    chain = ProvenanceChain()
    for scope in scopes:
        head = state.get(scope)
        if head is not None:
            chain.heads[scope], chain.lengths[scope] = head["head"], head["length"]
    for scope, uid in ids:
        link = state.get(scoped(scope, uid))
        if link is not None:
            entry = ChainEntry(uid, link["time_ms"], link["previous"], link["link"])
            chain.linked[uid] = LinkedUnit(entry, link["sequence"])
    return chain


def save_chain(
    state: MutableMapping[str, Any], chain: ProvenanceChain, units: Sequence[MemoryUnit]
) -> None:
    """Each new unit's link and each moved head (a scope's own key, which the worker's
    `BatchOverlay.flush` writes after the scope's other keys)."""
    for unit in units:
        key = scoped(unit.scope, unit.id)
        if state.get(key) is None:
            p = unit.provenance
            state[key] = {
                "link": p.chain_link,
                "previous": p.previous_link,
                "sequence": p.sequence,
                "time_ms": unit.timestamps.event_ms,
            }
    for scope in sorted({unit.scope for unit in units}):
        state[scope] = {"head": chain.heads[scope], "length": chain.lengths[scope]}
