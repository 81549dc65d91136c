"""shape.hrr.v1: the holographic shape of a unit, its 6W roles bound to their fillers.

    shape = normalize( Σ_r  w_r · (R_r ⊛ f_r) )      over the roles r that have a filler

- R_r = `role_vector(r, dim)`: unitary, so `unbind(shape, R_r)` recovers w_r · f_r plus
  noise from the other roles, and clean-up against filler symbols names the filler.
- f_r = `symbol_vector(canonical_filler(text), dim, namespace="filler")`. A multi-word
  filler ("the design review", "New York") is ONE symbol, not a sum of word symbols:
  roles are recalled by exact filler, and a probe for "new york" must not half-match
  "new build" or "York". `canonical_filler` lowercases, collapses whitespace, trims
  punctuation and drops a leading article, so "the Office", "office" and "Office." are
  one symbol.
- w_r = the mean attribution weight of the filler's content tokens in the text (tokens of
  weight 0, i.e. stopwords, are left out so "the" does not dilute "the office"); a filler
  not found in the text (the author as `who`) is weighed word by word with the same
  lexical formula. Floor 0.1, so a filled role never vanishes; a missing role adds
  nothing. The weights are rounded to 4 decimals before use, so the stored weights
  reproduce the stored vector exactly.

A text with no filled role at all gets the zero vector.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from lumina.core.hrr import bind, normalize, superpose
from lumina.core.symbols import ROLES, role_vector, symbol_vector

from .attribution_fast import word_weight
from .stage import Draft, Stage

__all__ = ["FILLER_NAMESPACE", "HrrShape", "canonical_filler", "compose", "probe", "role_weight"]

FILLER_NAMESPACE = "filler"
WEIGHT_FLOOR = 0.1
_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_TRIM = " \t\"'“”‘’()[]{}.,;:!?-–—"


def canonical_filler(filler: str) -> str:
    """The symbol name of a filler: lowercase, single spaces, no edge punctuation or article."""
    text = " ".join(filler.lower().split()).strip(_TRIM)
    stripped = _ARTICLE.sub("", text)
    return stripped or text


def _roles_matrix(dim: int) -> np.ndarray:
    return np.stack([role_vector(r, dim) for r in ROLES])


def compose(
    fillers: Sequence[Mapping[str, str]], weights: Sequence[Mapping[str, float]], dim: int
) -> np.ndarray:
    """Shapes (n, dim) for n role → filler maps and their role → weight maps."""
    n = len(fillers)
    filler_vecs = np.zeros((n, len(ROLES), dim), dtype=np.float32)
    w = np.zeros((n, len(ROLES)), dtype=np.float32)
    for i, (roles, role_weights) in enumerate(zip(fillers, weights, strict=True)):
        for j, role in enumerate(ROLES):
            filler = roles.get(role)
            if filler:
                filler_vecs[i, j] = symbol_vector(canonical_filler(filler), dim, FILLER_NAMESPACE)
                w[i, j] = role_weights.get(role, 1.0)
    # One batched FFT over (n, 6, dim): binding every role of every draft at once.
    bound = bind(_roles_matrix(dim)[None, :, :], filler_vecs)
    return normalize(superpose(bound, w))


def probe(roles: Mapping[str, str], dim: int = 1024) -> np.ndarray:
    """A query shape with equal weights for the given roles (e.g. who=…, where=…).

    Its cosine with a unit's shape grows with the number of roles whose fillers match,
    so ranking units by that cosine finds "what did Alice do in Berlin" without a parser.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {ROLES}")
    return compose([roles], [dict.fromkeys(roles, 1.0)], dim)[0]


def role_weight(draft: Draft, filler: str) -> float:
    """w_r of one filler in one draft (see the module docstring), rounded to 4 decimals."""
    tokens = draft.tokens
    weight = None
    if tokens is not None and draft.token_weights:
        start = draft.text.lower().find(filler.lower())
        if start >= 0:
            end = start + len(filler)
            inside = [
                w
                for s, e, w in zip(tokens.starts, tokens.ends, draft.token_weights, strict=True)
                if s < end and e > start and w > 0.0
            ]
            weight = sum(inside) / len(inside) if inside else 0.0
    if weight is None:  # not in the text: the author as `who`
        parts = [word_weight(p) for p in filler.split()]
        parts = [p for p in parts if p > 0.0]
        weight = sum(parts) / len(parts) if parts else 0.0
    return round(max(WEIGHT_FLOOR, min(1.0, weight)), 4)


class HrrShape(Stage):
    """Binds each draft's roles into one HRR vector, the whole batch in one FFT."""

    name = "shape"
    version = "shape.hrr.v1"
    requires = ("roles", "tokens", "token_weights")
    assigns = ("shape", "shape_weights")

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        fillers = [d.roles.filled() for d in drafts]
        weights = [
            {role: role_weight(d, filler) for role, filler in f.items()}
            for d, f in zip(drafts, fillers, strict=True)
        ]
        shapes = compose(fillers, weights, self.dim)
        for draft, shape, w in zip(drafts, shapes, weights, strict=True):
            draft.shape = shape
            draft.shape_weights = w
        return drafts
