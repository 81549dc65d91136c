"""Unit-test fixtures: the static embedding model, from the cache or distilled once."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from lumina.enrich.embed import STATIC_MODEL_NAME, StaticEmbedder, ensure_static_model
from tests.conftest import MODELS_HOME


def _cached_model() -> Path | None:
    """A static model an earlier run left: LUMINA_TEST_MODELS, then the `make setup` cache."""
    for folder in (os.environ.get("LUMINA_TEST_MODELS"), MODELS_HOME):
        if folder and (Path(folder) / STATIC_MODEL_NAME / "model.safetensors").is_file():
            return Path(folder) / STATIC_MODEL_NAME
    return None


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> StaticEmbedder:
    cached = _cached_model()
    if cached is not None:
        return StaticEmbedder(cached)
    if importlib.util.find_spec("torch") is None:
        pytest.skip("no cached static model and no torch to distill one (run `make setup`)")
    # Distilled once per session; every test module asking for it shares this folder.
    return StaticEmbedder(ensure_static_model(tmp_path_factory.getbasetemp() / "models"))
