"""Shared fixtures: the real cache home (models, Kafka jars) and a tmp home per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The cache `make setup` filled: models and Kafka jars live here, state never does.
CACHE_HOME = Path(os.environ.get("LUMINA_HOME") or Path.home() / ".lumina").expanduser().resolve()
MODELS_HOME = Path(os.environ.get("LUMINA_MODELS_HOME") or CACHE_HOME / "models")


@pytest.fixture(scope="session")
def cache_home() -> Path:
    return CACHE_HOME


@pytest.fixture
def lumina_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private LUMINA_HOME for state, sharing the model cache; also set for this process."""
    env = {"LUMINA_HOME": str(tmp_path / "home"), "LUMINA_MODELS_HOME": str(MODELS_HOME)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from lumina.config import get_settings

    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()
