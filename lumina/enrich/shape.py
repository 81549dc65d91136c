"""shape.hrr.v1: the holographic shape of a unit, its 6W roles bound to their fillers.

    shape = normalize( Σ_r  w_r · (R_r ⊛ f_r) )      over the roles r that have a filler

- R_r = `role_vector(r, dim)`: unitary, so `unbind(shape, R_r)` recovers w_r · f_r plus
  noise from the other roles, and clean-up against filler symbols names the filler.
- f_r = `symbol_vector(canonical_filler(text), dim, namespace="filler")` (drawn in batches
  with `symbol_matrix`, which gives the same rows). A multi-word
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
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np

from lumina.core import hrr
from lumina.core.hrr import CleanupMemory, normalize
from lumina.core.symbols import ROLES, role_vector, symbol_matrix

from .attribution_fast import word_weight
from .stage import Draft, Stage

__all__ = [
    "FILLER_NAMESPACE",
    "HrrShape",
    "canonical_filler",
    "compose",
    "filler_memory",
    "probe",
    "role_weight",
    "unbind",
]

FILLER_NAMESPACE = "filler"
WEIGHT_FLOOR = 0.1
_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_TRIM = " \t\"'“”‘’()[]{}.,;:!?-–—"


def canonical_filler(filler: str) -> str:
    """The symbol name of a filler: lowercase, single spaces, no edge punctuation or article."""
    text = " ".join(filler.lower().split()).strip(_TRIM)
    stripped = _ARTICLE.sub("", text)
    return stripped or text


@lru_cache(maxsize=8)
def _role_spectra(dim: int) -> np.ndarray:
    """rfft of the six role vectors, (6, dim // 2 + 1); computed once per dimension."""
    return np.fft.rfft(np.stack([role_vector(r, dim) for r in ROLES]), axis=-1).astype(np.complex64)


class _SymbolCache:
    """Filler spectra (rfft of the filler vectors) by canonical name, bounded.

    `symbol_matrix` draws all missing names of a batch in one vectorized pass, several times
    faster than one `symbol_vector` call per name; what/why fillers are mostly new phrases.
    Spectra, not vectors, are kept because binding happens in the frequency domain: a cached
    filler then costs no FFT at all.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()  # spectra
        # The worker enriches in a thread while API threads build probes: one at a time here.
        self._lock = threading.Lock()

    def spectra(self, names: Sequence[str], dim: int) -> np.ndarray:
        with self._lock:
            return self._spectra(names, dim)

    def _spectra(self, names: Sequence[str], dim: int) -> np.ndarray:
        missing = [n for n in dict.fromkeys(names) if (n, dim) not in self._vectors]
        if missing:
            fresh = np.fft.rfft(symbol_matrix(missing, dim, FILLER_NAMESPACE), axis=-1)
            for name, spectrum in zip(missing, fresh.astype(np.complex64), strict=True):
                self._vectors[(name, dim)] = spectrum
        out = np.empty((len(names), dim // 2 + 1), dtype=np.complex64)
        for i, name in enumerate(names):
            key = (name, dim)
            out[i] = self._vectors[key]
            self._vectors.move_to_end(key)
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
        return out


_SYMBOLS = _SymbolCache()


def compose(
    fillers: Sequence[Mapping[str, str]], weights: Sequence[Mapping[str, float]], dim: int
) -> np.ndarray:
    """Shapes (n, dim) for n role → filler maps and their role → weight maps.

    Binding and superposition are linear, so the weighted sum is taken in the frequency
    domain and inverted once per shape: rfft(shape) = Σ_r w_r · rfft(R_r) · rfft(f_r). This
    equals normalize(superpose(bind(R, F), w)) up to float rounding, with one inverse FFT per
    shape instead of one per role.
    """
    n = len(fillers)
    rows: list[int] = []
    role_index: list[int] = []
    names: list[str] = []
    w: list[float] = []
    for i, (roles, role_weights) in enumerate(zip(fillers, weights, strict=True)):
        for j, role in enumerate(ROLES):
            filler = roles.get(role)
            if filler:
                rows.append(i)
                role_index.append(j)
                names.append(canonical_filler(filler))
                w.append(role_weights.get(role, 1.0))
    bins = dim // 2 + 1
    # One slot per (unit, role): each is filled at most once, so a reshape-and-sum adds them.
    slots = np.zeros((n * len(ROLES), bins), dtype=np.complex64)
    if names:
        filler_spectra = _SYMBOLS.spectra(names, dim)
        terms = np.asarray(w, dtype=np.float32)[:, None] * _role_spectra(dim)[role_index]
        slots[np.asarray(rows) * len(ROLES) + np.asarray(role_index)] = terms * filler_spectra
    spectrum = slots.reshape(n, len(ROLES), bins).sum(axis=1)
    return normalize(np.fft.irfft(spectrum, n=dim, axis=-1))


def probe(roles: Mapping[str, str], dim: int = 1024) -> np.ndarray:
    """A query shape with equal weights for the given roles (e.g. who=…, where=…).

    Its cosine with a unit's shape grows with the number of roles whose fillers match,
    so ranking units by that cosine finds "what did Alice do in Berlin" without a parser.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {ROLES}")
    return compose([roles], [dict.fromkeys(roles, 1.0)], dim)[0]


def filler_memory(fillers: Iterable[str], dim: int = 1024) -> CleanupMemory:
    """A clean-up memory over filler symbols (e.g. a scope's vocabulary), canonicalised."""
    names = sorted({canonical_filler(f) for f in fillers if f and f.strip()})
    return CleanupMemory(names, symbol_matrix(names, dim, FILLER_NAMESPACE))


def unbind(
    shape: np.ndarray, role: str, vocabulary: CleanupMemory | Iterable[str], k: int = 5
) -> list[tuple[str, float]]:
    """Read one role back out of a shape: the vocabulary's fillers ranked by similarity.

    `vocabulary` is a `filler_memory` or the filler strings themselves; build the memory
    once when many shapes are read against the same fillers (a scope's vocabulary)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {ROLES}")
    vector = np.asarray(shape, dtype=np.float32)
    dim = int(vector.shape[-1])
    if not isinstance(vocabulary, CleanupMemory):
        vocabulary = filler_memory(vocabulary, dim)
    return vocabulary.nearest(hrr.unbind(vector, role_vector(role, dim)), k)


def role_weight(draft: Draft, filler: str, lowered: str | None = None) -> float:
    """w_r of one filler in one draft (see the module docstring), rounded to 4 decimals."""
    tokens = draft.tokens
    weight = None
    if tokens is not None and draft.token_weights:
        start = (lowered if lowered is not None else draft.text.lower()).find(filler.lower())
        if start >= 0:
            # Tokens overlapping the filler: ending after its start, starting before its end.
            first = bisect_right(tokens.ends, start)
            last = bisect_left(tokens.starts, start + len(filler))
            inside = [w for w in draft.token_weights[first:last] if w > 0.0]
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
        weights = []
        for draft, filled in zip(drafts, fillers, strict=True):
            lowered = draft.text.lower()
            weights.append({r: role_weight(draft, f, lowered) for r, f in filled.items()})
        shapes = compose(fillers, weights, self.dim)
        for draft, shape, w in zip(drafts, shapes, weights, strict=True):
            draft.shape = shape
            draft.shape_weights = w
        return drafts
