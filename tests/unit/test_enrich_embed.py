"""embed.static.v1: the static model distilled from the packaged MiniLM."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from lumina.enrich.embed import (
    StaticEmbed,
    StaticEmbedder,
    ensure_static_model,
)
from lumina.enrich.stage import Draft
from lumina.errors import ConfigError
from lumina.schemas import TextEvent


def test_embed_vectors_are_unit_norm_float32_of_dim_256(embedder: StaticEmbedder) -> None:
    vectors = embedder.encode(["The cat sat on the mat", "Quarterly revenue beat forecasts"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embed_paraphrases_are_closer_than_unrelated_sentences(embedder: StaticEmbedder) -> None:
    cat, cat2, stocks = embedder.encode(
        ["The cat sat on the mat", "A cat was sitting on a rug", "Stock markets fell sharply today"]
    )
    assert float(cat @ cat2) > float(cat @ stocks) + 0.2
    assert float(cat @ cat2) > float(cat2 @ stocks) + 0.2


def test_embed_batch_equals_one_by_one(embedder: StaticEmbedder) -> None:
    texts = ["deploy failed", "lunch at noon", "the invoice is overdue"]
    batch = embedder.encode(texts)
    singles = np.stack([embedder.encode([t])[0] for t in texts])
    assert np.allclose(batch, singles, atol=1e-6)


def test_embed_empty_batch_has_shape_zero_by_dim(embedder: StaticEmbedder) -> None:
    assert embedder.encode([]).shape == (0, 256)


def test_embed_stage_fills_every_draft(embedder: StaticEmbedder) -> None:
    drafts = [Draft.from_event(TextEvent(scope="s", text=t), 0) for t in ("hello", "goodbye")]
    out = StaticEmbed(embedder)(drafts)
    assert all(d.embedding is not None and d.embedding.shape == (256,) for d in out)


def test_embed_missing_model_folder_is_a_config_error_not_a_download(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a static model folder"):
        StaticEmbedder(tmp_path / "nothing-here")


def test_embed_without_model_or_torch_asks_for_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def no_torch(name: str, *args: object) -> object:
        return None if name == "torch" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", no_torch)
    with pytest.raises(ConfigError, match="make setup"):
        ensure_static_model(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_embed_matches_model2vec(embedder: StaticEmbedder) -> None:
    """The word-cached tokenization gives model2vec's own vectors, bit for bit."""
    tricky = [
        "",
        "   ",
        "Hello,  world!  Double  spaces and trailing ",
        "tabs\tand\nnewlines\r\nmixed in",
        "control\x1fchars\x00and\u200bzero width\ufeff",
        "café naïve e\u0301 \u0301leading combining mark ÅNGSTRÖM",
        "中文字符 mixed with English日本語",
        "emoji 🎉🎉 and ™ symbols ½ ﬁ ligature",
        "ΣΊΣΥΦΟΣ final sigma ΟΔΟΣ.",
        "unknownwordxyzqqq " * 3 + "\U0001f9ff\U000e0041",
        "a" * 250 + " " + "b" * 99,
        " ".join(["word-piece tokenization overflows"] * 400),  # beyond 512 tokens
        "hello " + ("x" * 150 + " ") * 21 + "world",  # "world" is past the character limit
    ]
    texts = [*tricky, *(f"note {i}: the deploy of build {i * 7} failed" for i in range(1500))]
    reference = embedder._model.encode(texts, use_multiprocessing=False, batch_size=1024)
    reference = np.asarray(reference, dtype=np.float32)
    reference /= np.maximum(np.linalg.norm(reference, axis=-1, keepdims=True), 1e-12)
    assert np.array_equal(embedder.encode(texts), reference)
    assert np.array_equal(embedder.encode(texts[::-1]), reference[::-1])  # cached words now
