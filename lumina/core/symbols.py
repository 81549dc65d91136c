"""Deterministic symbol and role vectors derived from BLAKE3, identical on every machine."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from blake3 import blake3

__all__ = ["ROLES", "role_vector", "symbol_matrix", "symbol_vector"]

ROLES: tuple[str, ...] = ("who", "what", "when", "where", "why", "how")

# Names per Box–Muller pass in symbol_matrix; bounds the float64 temporaries to a few MB.
_CHUNK = 1024


def _check_dim(dim: int) -> None:
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")


def _stream(namespace: str, name: str, n_bytes: int) -> bytes:
    # XOF output instead of a seeded RNG: the bytes depend only on (namespace, name), never on
    # numpy's generator internals or Python's per-process hash() salt.
    return blake3(namespace.encode() + b"\x00" + name.encode()).digest(length=n_bytes)


def _uniforms(words: np.ndarray) -> np.ndarray:
    # The half-step offset keeps every value strictly inside (0, 1), so log() never sees 0.
    return (words.astype(np.float64) + 0.5) / 2.0**32


def _gaussian(buf: bytes, rows: int, dim: int) -> np.ndarray:
    """Box–Muller over little-endian uint32 words: `rows` N(0, 1/dim) vectors, float32."""
    pairs = (dim + 1) // 2
    words = np.frombuffer(buf, dtype="<u4").reshape(rows, 2, pairs)
    u1, u2 = _uniforms(words[:, 0]), _uniforms(words[:, 1])
    radius = np.sqrt(-2.0 * np.log(u1)) / np.sqrt(dim)
    angle = 2.0 * np.pi * u2
    normals = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)
    return normals[:, :dim].astype(np.float32)


def _symbol_bytes(dim: int) -> int:
    return 8 * ((dim + 1) // 2)


@lru_cache(maxsize=4096)
def _cached_symbol(name: str, dim: int, namespace: str) -> np.ndarray:
    vec = _gaussian(_stream(namespace, name, _symbol_bytes(dim)), 1, dim)[0]
    vec.flags.writeable = False
    return vec


def symbol_vector(name: str, dim: int = 1024, namespace: str = "symbol") -> np.ndarray:
    """The N(0, 1/dim) float32 vector for `name`; read-only because it is shared via a cache."""
    _check_dim(dim)
    return _cached_symbol(name, dim, namespace)


def symbol_matrix(names: Sequence[str], dim: int = 1024, namespace: str = "symbol") -> np.ndarray:
    """Rows equal to `symbol_vector(name)` for each name, as a fresh writable (N, dim) array."""
    _check_dim(dim)
    out = np.empty((len(names), dim), dtype=np.float32)
    n_bytes = _symbol_bytes(dim)
    for start in range(0, len(names), _CHUNK):
        chunk = names[start : start + _CHUNK]
        buf = b"".join(_stream(namespace, name, n_bytes) for name in chunk)
        out[start : start + len(chunk)] = _gaussian(buf, len(chunk), dim)
    return out


@lru_cache(maxsize=256)
def _cached_role(role: str, dim: int) -> np.ndarray:
    n_bins = dim // 2 + 1
    u = _uniforms(np.frombuffer(_stream("role", role, 4 * n_bins), dtype="<u4"))
    spectrum = np.exp(2j * np.pi * u)
    # A real signal needs a real DC bin (and a real Nyquist bin when dim is even); a random
    # sign keeps those bins at magnitude 1 while still depending on the role name.
    spectrum[0] = -1.0 if u[0] < 0.5 else 1.0
    if dim % 2 == 0:
        spectrum[-1] = -1.0 if u[-1] < 0.5 else 1.0
    vec = np.fft.irfft(spectrum, n=dim).astype(np.float32)
    vec.flags.writeable = False
    return vec


def role_vector(role: str, dim: int = 1024) -> np.ndarray:
    """A unitary float32 vector for `role`: every spectral magnitude is 1, so its norm is 1.

    Plate recommends unitary role vectors for role/filler binding: their correlation is an
    exact inverse, so `unbind(bind(R, f), R)` returns `f` and the only clean-up noise left in a
    trace comes from the other bound pairs. Read-only because it is shared via a cache.
    """
    _check_dim(dim)
    return _cached_role(role, dim)
