"""Which attributor and embedder a profile uses, and loading the embedder once.

`fast`: regex tokens + wordfreq attribution + rule roles, and the static model2vec embedder.
`full`: spaCy attribution and roles, and MiniLM. `LUMINA_ATTRIBUTION` and `LUMINA_EMBEDDER`
override each half; their `auto` value follows the profile, and falls back to the fast half
when the full one's packages are not installed. An explicit `spacy` or `minilm` never falls
back: it fails with the package to install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from lumina.config import Settings

from .attribution_fast import FastAttribution
from .attribution_spacy import SpacyAttribution, spacy_available
from .embed import StaticEmbed, StaticEmbedder
from .roles_rules import RuleRoles
from .stage import Stage
from .tokenizer import RegexTokenizer


class Encoder(Protocol):
    """What search and the embed stage need from an embedding model."""

    version: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def uses_spacy(settings: Settings) -> bool:
    if settings.attribution == "auto":
        return settings.profile == "full" and spacy_available(settings.spacy_model)
    return settings.attribution == "spacy"


def uses_minilm(settings: Settings) -> bool:
    if settings.embedder == "auto":
        return settings.profile == "full" and importlib.util.find_spec("torch") is not None
    return settings.embedder == "minilm"


def load_encoder(settings: Settings) -> Encoder:
    """The profile's embedder; ingest and search must share it, so both call this."""
    if uses_minilm(settings):
        from .embed_minilm import MiniLMEmbedder  # imports torch: only when asked for

        return MiniLMEmbedder(precision=settings.minilm_precision)
    return StaticEmbedder.from_models_dir(settings.models_dir)


def attribution_stages(settings: Settings) -> list[Stage]:
    if uses_spacy(settings):
        return [SpacyAttribution.from_settings(settings)]
    return [RegexTokenizer(), FastAttribution(), RuleRoles()]


def embed_stage(encoder: Encoder) -> Stage:
    if isinstance(encoder, StaticEmbedder):
        return StaticEmbed(encoder)
    from .embed_minilm import MiniLMEmbed, MiniLMEmbedder

    if not isinstance(encoder, MiniLMEmbedder):
        raise TypeError(f"no embed stage for {type(encoder).__name__}")
    return MiniLMEmbed(encoder)
