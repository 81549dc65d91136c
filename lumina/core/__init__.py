"""Pure core of Lumina: HRR algebra, deterministic symbols, decay, identity and provenance.

Depends on numpy and blake3 only; no I/O and no other lumina package.
"""

from __future__ import annotations

from lumina.core.decay import (
    activation_update,
    decay_strength,
    merge_half_life,
    merge_vectors,
    reinforce,
)
from lumina.core.hrr import CleanupMemory, bind, cosine, normalize, superpose, unbind
from lumina.core.identity import (
    IDENTITY_VERSION,
    IdentityKey,
    canonical_encoding,
    content_hash,
    normalize_text,
    unit_id,
)
from lumina.core.provenance import (
    GENESIS,
    ChainEntry,
    ChainVerdict,
    ProvenanceChain,
    chain_link,
    verify_chain,
)
from lumina.core.symbols import ROLES, role_vector, symbol_matrix, symbol_vector

__all__ = [
    "GENESIS",
    "IDENTITY_VERSION",
    "ROLES",
    "ChainEntry",
    "ChainVerdict",
    "CleanupMemory",
    "IdentityKey",
    "ProvenanceChain",
    "activation_update",
    "bind",
    "canonical_encoding",
    "chain_link",
    "content_hash",
    "cosine",
    "decay_strength",
    "merge_half_life",
    "merge_vectors",
    "normalize",
    "normalize_text",
    "reinforce",
    "role_vector",
    "superpose",
    "symbol_matrix",
    "symbol_vector",
    "unbind",
    "unit_id",
    "verify_chain",
]
