"""Decay, reinforcement, activation and merge formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumina.core.decay import (
    activation_update,
    decay_strength,
    merge_half_life,
    merge_vectors,
    reinforce,
)

PROPERTY = settings(max_examples=100, deadline=None, database=None)
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms: realistic epoch values, not small ints.
DAY_S = 86_400.0


def test_decay_strength_halves_at_one_half_life() -> None:
    assert decay_strength(NOW, NOW, DAY_S, 0.0) == pytest.approx(1.0)
    assert decay_strength(NOW + 86_400_000, NOW, DAY_S, 0.0) == pytest.approx(0.5)
    assert decay_strength(NOW + 2 * 86_400_000, NOW, DAY_S, 0.0) == pytest.approx(0.25)


def test_decay_strength_keeps_millisecond_precision_at_epoch_scale() -> None:
    # One millisecond against a one-second half-life must be visible, not lost to float rounding.
    assert decay_strength(NOW + 1, NOW, 1.0, 0.0) == pytest.approx(2**-0.001, rel=1e-12)


@PROPERTY
@given(
    elapsed_ms=st.integers(min_value=0, max_value=10**13),
    half_life_s=st.floats(min_value=1e-3, max_value=1e9),
    floor=st.floats(min_value=0.0, max_value=1.0),
)
def test_decay_strength_never_below_floor(
    elapsed_ms: int, half_life_s: float, floor: float
) -> None:
    strength = decay_strength(NOW + elapsed_ms, NOW, half_life_s, floor)
    assert floor <= strength <= 1.0


def test_decay_strength_future_access_counts_as_fresh() -> None:
    assert decay_strength(NOW, NOW + 60_000, DAY_S, 0.1) == 1.0


def test_decay_strength_is_vectorised() -> None:
    last = np.array([NOW, NOW - 86_400_000, NOW - 10 * 86_400_000, NOW + 5])
    out = decay_strength(NOW, last, DAY_S, 0.01)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [1.0, 0.5, 0.01, 1.0])


def test_decay_strength_rejects_non_positive_half_life() -> None:
    with pytest.raises(ValueError, match="positive"):
        decay_strength(NOW, NOW, 0.0, 0.0)


def test_decay_reinforce_grows_and_caps_at_max() -> None:
    assert reinforce(100.0, 0.5, 1_000.0) == pytest.approx(150.0)
    assert reinforce(900.0, 0.5, 1_000.0) == 1_000.0
    assert reinforce(1_000.0, 0.5, 1_000.0) == 1_000.0


def test_decay_activation_decays_then_adds_salience() -> None:
    assert activation_update(4.0, 10.0, 10.0, 1.0) == pytest.approx(3.0)
    assert activation_update(4.0, 0.0, 10.0, 0.5) == pytest.approx(4.5)
    assert activation_update(0.0, 1e6, 10.0, 0.7) == pytest.approx(0.7)


def test_decay_activation_out_of_order_event_does_not_amplify() -> None:
    assert activation_update(4.0, -30.0, 10.0, 1.0) == pytest.approx(5.0)


def test_decay_activation_is_vectorised() -> None:
    out = activation_update(np.array([2.0, 2.0]), np.array([0.0, 5.0]), 5.0, 1.0)
    np.testing.assert_allclose(out, [3.0, 2.0])


def test_decay_merge_returns_unit_norm_weighted_direction() -> None:
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    merged = merge_vectors(vectors, np.array([3.0, 1.0]))
    assert np.linalg.norm(merged) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(merged, np.array([3.0, 1.0, 0.0]) / np.sqrt(10.0), rtol=1e-6)
    assert merged.dtype == np.float32


def test_decay_merge_rejects_bad_weights() -> None:
    vectors = np.eye(2)
    with pytest.raises(ValueError):
        merge_vectors(vectors, np.array([1.0]))
    with pytest.raises(ValueError):
        merge_vectors(vectors, np.array([0.0, 0.0]))
    with pytest.raises(ValueError):
        merge_vectors(vectors, np.array([2.0, -1.0]))


def test_decay_merge_keeps_the_larger_half_life() -> None:
    assert merge_half_life(10.0, 400.0, 25.0) == 400.0
    assert merge_half_life(7.0) == 7.0
    with pytest.raises(ValueError):
        merge_half_life()
