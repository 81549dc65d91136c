"""Behaviour of the HRR algebra: binding, unbinding, superposition, clean-up and capacity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import ArrayLike

from lumina.core.hrr import CleanupMemory, bind, cosine, normalize, superpose, unbind
from lumina.core.symbols import ROLES, role_vector, symbol_matrix, symbol_vector

# No example database: runs stay independent and failing examples are not saved in the repo.
PROPERTY = settings(max_examples=40, deadline=None, database=None)

seeds = st.integers(min_value=0, max_value=2**32 - 1)
dims = st.sampled_from([64, 128, 256])
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)


def gaussian(seed: int, *shape: int) -> np.ndarray:
    dim = shape[-1]
    return np.random.default_rng(seed).normal(0.0, dim**-0.5, size=shape).astype(np.float32)


@PROPERTY
@given(role=names, seed=seeds, dim=dims)
def test_hrr_unbind_with_unitary_role_recovers_filler(role: str, seed: int, dim: int) -> None:
    r, f = role_vector(role, dim), gaussian(seed, dim)
    recovered = unbind(bind(r, f), r)
    assert cosine(recovered, f) > 0.99
    np.testing.assert_allclose(recovered, f, atol=1e-5)


@PROPERTY
@given(key=names, filler=names)
def test_hrr_unbind_with_random_key_is_well_above_chance(key: str, filler: str) -> None:
    k, f = symbol_vector(key, 1024, namespace="key"), symbol_vector(filler, 1024)
    # A Gaussian key is only approximately invertible (expected cosine ≈ 1/√2).
    assert cosine(unbind(bind(k, f), k), f) > 0.5


@PROPERTY
@given(seed=seeds, dim=dims)
def test_hrr_bind_is_commutative(seed: int, dim: int) -> None:
    a, b = gaussian(seed, 2, dim)
    np.testing.assert_allclose(bind(a, b), bind(b, a), atol=1e-6)


@PROPERTY
@given(seed=seeds, dim=dims)
def test_hrr_bind_distributes_over_superposition(seed: int, dim: int) -> None:
    a, b, c = gaussian(seed, 3, dim)
    np.testing.assert_allclose(bind(a, b + c), bind(a, b) + bind(a, c), atol=1e-5)


@PROPERTY
@given(seed=seeds, dim=dims)
def test_hrr_batched_matches_looped(seed: int, dim: int) -> None:
    a, b = gaussian(seed, 2, 5, dim)
    stacks = gaussian(seed + 1, 5, 3, dim)
    weights = np.array([0.5, -1.0, 2.0], dtype=np.float32)

    # Batched FFTs may take a different SIMD path than single ones, so allow float32 rounding.
    def close(actual: ArrayLike, expected: ArrayLike) -> None:
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)

    for op in (bind, unbind):
        close(op(a, b), [op(x, y) for x, y in zip(a, b, strict=True)])
    close(normalize(a), [normalize(x) for x in a])
    close(cosine(a, b), [cosine(x, y) for x, y in zip(a, b, strict=True)])
    close(superpose(stacks, weights), [superpose(s, weights) for s in stacks])


def test_hrr_bind_broadcasts_one_role_over_many_fillers() -> None:
    fillers = gaussian(7, 4, 128)
    r = role_vector("who", 128)
    np.testing.assert_allclose(bind(r, fillers), [bind(r, f) for f in fillers], atol=1e-6)


def test_hrr_bind_rejects_mismatched_dimensions() -> None:
    with pytest.raises(ValueError, match="last axis"):
        bind(np.ones(64), np.ones(128))


def test_hrr_outputs_are_float32() -> None:
    a, b = np.ones(64), np.arange(64.0)
    for out in (bind(a, b), unbind(a, b), normalize(a), superpose(np.stack([a, b]))):
        assert out.dtype == np.float32


def test_hrr_normalize_of_zero_stays_zero() -> None:
    batch = np.zeros((3, 64), dtype=np.float32)
    batch[1] = 3.0
    out = normalize(batch)
    assert not np.isnan(out).any()
    assert np.all(out[0] == 0) and np.all(out[2] == 0)
    assert np.linalg.norm(out[1]) == pytest.approx(1.0, abs=1e-6)
    assert np.all(normalize(np.zeros(64)) == 0)


def test_hrr_superpose_weights_and_shapes() -> None:
    stack = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(superpose(stack), [2.0, 2.0])
    np.testing.assert_allclose(superpose(stack, [2.0, 0.0, -1.0]), [1.0, -1.0])
    assert superpose(np.zeros((4, 3, 8))).shape == (4, 8)


def test_hrr_cosine_returns_float_for_vectors() -> None:
    value = cosine([1.0, 0.0], [1.0, 1.0])
    assert isinstance(value, float)
    assert value == pytest.approx(2**-0.5, rel=1e-6)


def test_hrr_cleanup_nearest_ranks_best_first() -> None:
    labels = [f"item-{i}" for i in range(50)]
    memory = CleanupMemory(labels, symbol_matrix(labels, 256))
    query = symbol_vector("item-7", 256) + 0.5 * symbol_vector("item-3", 256)
    top = memory.nearest(query, k=3)
    assert [name for name, _ in top[:2]] == ["item-7", "item-3"]
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert len(memory) == 50 and memory.names[7] == "item-7"
    assert len(memory.nearest(query, k=500)) == 50


def test_hrr_cleanup_batch_agrees_with_single_queries() -> None:
    labels = [f"item-{i}" for i in range(100)]
    memory = CleanupMemory(labels, symbol_matrix(labels, 256))
    queries = symbol_matrix(["item-4", "item-99", "item-0"], 256) + gaussian(3, 3, 256)
    idx, score = memory.nearest_batch(queries)
    for q, i, s in zip(queries, idx, score, strict=True):
        name, best = memory.nearest(q)[0]
        assert name == labels[i]
        assert best == pytest.approx(float(s), abs=1e-5)


def test_hrr_cleanup_rejects_name_count_mismatch() -> None:
    with pytest.raises(ValueError, match="one row per name"):
        CleanupMemory(["a", "b"], np.zeros((3, 8)))


def test_hrr_cleanup_recovers_six_role_fillers_from_10000_symbols() -> None:
    dim, n_symbols, trials = 1024, 10_000, 1_000
    labels = [f"filler-{i}" for i in range(n_symbols)]
    codebook = symbol_matrix(labels, dim)
    memory = CleanupMemory(labels, codebook)
    roles = np.stack([role_vector(role, dim) for role in ROLES])

    # The seed only picks which fillers go in each trial; the vectors come from BLAKE3.
    rng = np.random.default_rng(20260101)
    chosen = np.stack(
        [rng.choice(n_symbols, size=len(ROLES), replace=False) for _ in range(trials)]
    )
    fillers = codebook[chosen]  # (trials, 6, D)
    traces = normalize(superpose(bind(roles, fillers)))  # (trials, D)

    correct = np.empty_like(chosen, dtype=bool)
    for j, role in enumerate(roles):
        idx, _ = memory.nearest_batch(unbind(traces, role))
        correct[:, j] = idx == chosen[:, j]
    assert correct.all(axis=1).mean() >= 0.99
