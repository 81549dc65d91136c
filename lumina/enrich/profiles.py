"""Which attributor and embedder a profile uses, and loading the embedder once.

`fast`: regex tokens + wordfreq attribution + rule roles, and the static model2vec embedder.
`full`: spaCy attribution and roles, and MiniLM. `LUMINA_ATTRIBUTION` and `LUMINA_EMBEDDER`
override each half; their `auto` value follows the profile, and falls back to the fast half
when the full one's packages are not installed, with a warning in the log (once per process
and model) naming what is missing. An explicit `spacy` or `minilm` never falls back: it
fails with the package to install.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from functools import cache
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


log = logging.getLogger(__name__)


@cache  # once per process and missing part: profiles are resolved for every pipeline built
def _warn_fallback(missing: str, fallback: str) -> None:
    log.warning("profile full: %s is not installed, so %s is used instead", missing, fallback)


def uses_spacy(settings: Settings) -> bool:
    if settings.attribution == "auto":
        if settings.profile != "full":
            return False
        if spacy_available(settings.spacy_model):
            return True
        # A mistyped LUMINA_SPACY_MODEL lands here too: say so rather than run fast silently.
        _warn_fallback(f"spaCy model {settings.spacy_model!r}", "the fast attribution")
        return False
    return settings.attribution == "spacy"


def uses_minilm(settings: Settings) -> bool:
    if settings.embedder == "auto":
        if settings.profile != "full":
            return False
        if importlib.util.find_spec("torch") is not None:
            return True
        _warn_fallback("torch (for MiniLM)", "the static embedder")
        return False
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
