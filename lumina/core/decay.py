"""Forgetting, reinforcement and merging formulas for memory units (parameters come from config)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lumina.core.hrr import normalize

__all__ = [
    "activation_update",
    "decay_strength",
    "merge_half_life",
    "merge_vectors",
    "reinforce",
]


def _float_or_array(x: np.ndarray) -> float | np.ndarray:
    return float(x) if x.ndim == 0 else x


def _check_half_life(half_life_s: ArrayLike) -> np.ndarray:
    half_life = np.asarray(half_life_s, dtype=np.float64)
    if np.any(half_life <= 0):
        raise ValueError("half-life must be positive")
    return half_life


def decay_strength(
    now_ms: ArrayLike, last_access_ms: ArrayLike, half_life_s: ArrayLike, floor: ArrayLike
) -> float | np.ndarray:
    """`max(floor, 2^(-dt / half_life))` with dt the seconds since the last access."""
    half_life = _check_half_life(half_life_s)
    # Integer subtraction first: epoch milliseconds lose precision if turned to float early.
    elapsed_ms = np.asarray(now_ms, dtype=np.int64) - np.asarray(last_access_ms, dtype=np.int64)
    # Clock skew between producers can put the last access "in the future"; that is fresh.
    dt_s = np.maximum(elapsed_ms, 0) / 1000.0
    return _float_or_array(np.maximum(floor, np.exp2(-dt_s / half_life)))


def reinforce(half_life_s: float, alpha: float, half_life_max_s: float) -> float:
    """Stretch a half-life by `(1 + alpha)` on recall, capped at `half_life_max_s`."""
    return float(min(half_life_s * (1.0 + alpha), half_life_max_s))


def activation_update(
    activation: ArrayLike, dt_s: ArrayLike, half_life_s: ArrayLike, salience: ArrayLike
) -> float | np.ndarray:
    """`A · 2^(-dt / T½) + σ`: decay the running activation, then add the new event's salience."""
    half_life = _check_half_life(half_life_s)
    # Events can arrive out of order; a negative gap must not amplify the activation.
    dt = np.maximum(np.asarray(dt_s, dtype=np.float64), 0.0)
    updated = np.asarray(activation, dtype=np.float64) * np.exp2(-dt / half_life) + salience
    return _float_or_array(np.asarray(updated))


def merge_vectors(vectors: ArrayLike, weights: ArrayLike) -> np.ndarray:
    """Unit-norm weighted mean of `vectors` (n, D) with non-negative `weights` (n,)."""
    vectors = np.asarray(vectors)
    weights = np.asarray(weights, dtype=np.float64)
    if vectors.ndim != 2 or weights.shape != (vectors.shape[0],):
        raise ValueError(f"need (n, D) vectors and (n,) weights: {vectors.shape}, {weights.shape}")
    if np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    # Dividing by the weight sum does not change the direction; normalising is enough.
    return normalize(weights @ vectors)


def merge_half_life(*half_lives: float) -> float:
    """The merged unit keeps the longer memory of its parts."""
    if not half_lives:
        raise ValueError("merge_half_life needs at least one half-life")
    return float(max(half_lives))
