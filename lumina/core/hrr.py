"""Holographic Reduced Representations: binding, unbinding, superposition and clean-up."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["CleanupMemory", "bind", "cosine", "normalize", "superpose", "unbind"]


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray, int]:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"vectors must share the last axis: {a.shape} vs {b.shape}")
    return a, b, a.shape[-1]


def bind(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Circular convolution of `a` and `b` along the last axis (broadcasts)."""
    a, b, dim = _pair(a, b)
    spectrum = np.fft.rfft(a, axis=-1) * np.fft.rfft(b, axis=-1)
    return np.fft.irfft(spectrum, n=dim, axis=-1).astype(np.float32, copy=False)


def unbind(trace: ArrayLike, key: ArrayLike) -> np.ndarray:
    """Circular correlation: approximately undoes `bind(key, x)`, exactly if `key` is unitary."""
    trace, key, dim = _pair(trace, key)
    spectrum = np.fft.rfft(trace, axis=-1) * np.conj(np.fft.rfft(key, axis=-1))
    return np.fft.irfft(spectrum, n=dim, axis=-1).astype(np.float32, copy=False)


def superpose(vectors: ArrayLike, weights: ArrayLike | None = None) -> np.ndarray:
    """Weighted sum over axis -2: (n, D) -> (D,), (b, n, D) -> (b, D)."""
    vectors = np.asarray(vectors)
    if vectors.ndim < 2:
        raise ValueError(f"expected a stack of vectors (..., n, D), got shape {vectors.shape}")
    if weights is None:
        return vectors.sum(axis=-2, dtype=np.float32)
    weighted = np.asarray(weights)[..., None] * vectors
    return weighted.sum(axis=-2, dtype=np.float32)


def normalize(v: ArrayLike, eps: float = 1e-12) -> np.ndarray:
    """L2-normalise along the last axis; a zero vector stays zero rather than turning NaN."""
    v = np.asarray(v, dtype=np.float32)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, eps)


def cosine(a: ArrayLike, b: ArrayLike) -> np.ndarray | float:
    """Cosine similarity along the last axis; a float for single vectors, else an array."""
    a, b, _ = _pair(a, b)
    sim = np.sum(normalize(a) * normalize(b), axis=-1)
    return float(sim) if sim.ndim == 0 else sim


class CleanupMemory:
    """Maps a noisy vector back to the closest named vector of a fixed codebook."""

    def __init__(self, names: Sequence[str], vectors: ArrayLike) -> None:
        matrix = np.asarray(vectors)
        if matrix.ndim != 2 or matrix.shape[0] != len(names):
            raise ValueError(
                f"need one row per name: {len(names)} names, vectors of shape {matrix.shape}"
            )
        self._names = tuple(names)
        self._matrix = normalize(matrix)
        # Shared with every query; a stray in-place edit would silently corrupt recall.
        self._matrix.flags.writeable = False

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def matrix(self) -> np.ndarray:
        """The normalised (N, D) float32 codebook, read-only."""
        return self._matrix

    def __len__(self) -> int:
        return len(self._names)

    def nearest(self, query: ArrayLike, k: int = 1) -> list[tuple[str, float]]:
        """The `k` best (name, cosine) pairs for one query, best first."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        scores = self._matrix @ normalize(query)
        k = min(k, len(scores))
        # argpartition keeps this O(N) for a large codebook; only the top k get sorted.
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._names[i], float(scores[i])) for i in top]

    def nearest_batch(self, queries: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Best codebook index and cosine for each row of `queries` (B, D), in one matmul."""
        scores = normalize(queries) @ self._matrix.T
        idx = np.argmax(scores, axis=-1)
        return idx, np.take_along_axis(scores, idx[..., None], axis=-1)[..., 0]
