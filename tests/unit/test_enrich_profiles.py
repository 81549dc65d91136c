"""Which stages and embedder a profile gives, and the rule `auto` applies (profiles.py)."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from lumina.config import Settings
from lumina.enrich.attribution_fast import FastAttribution
from lumina.enrich.attribution_spacy import SpacyAttribution
from lumina.enrich.profiles import _warn_fallback, attribution_stages, uses_minilm, uses_spacy
from lumina.enrich.roles_rules import RuleRoles
from lumina.enrich.tokenizer import RegexTokenizer
from lumina.errors import ConfigError

FAST_STAGES = [RegexTokenizer, FastAttribution, RuleRoles]
MISSING_MODEL = "en_core_web_zz_missing"

# Skipped only without spaCy itself: with it, the models extra installed the model too, so a
# model that cannot load must fail these tests rather than skip them.
needs_spacy = pytest.mark.skipif(
    importlib.util.find_spec("spacy") is None, reason="the models extra is not installed"
)


def kinds(settings: Settings) -> list[type]:
    return [type(stage) for stage in attribution_stages(settings)]


def test_fast_profile_is_rules_and_the_static_embedder() -> None:
    fast = Settings(profile="fast")
    assert kinds(fast) == FAST_STAGES
    assert not uses_spacy(fast) and not uses_minilm(fast)


@needs_spacy
def test_full_profile_is_spacy_and_minilm_when_installed() -> None:
    full = Settings(profile="full")
    assert kinds(full) == [SpacyAttribution]
    assert uses_spacy(full) and uses_minilm(full)


@needs_spacy
def test_explicit_choices_override_each_half_of_the_profile() -> None:
    assert kinds(Settings(profile="fast", attribution="spacy")) == [SpacyAttribution]
    mixed = Settings(profile="full", attribution="fast", embedder="static")
    assert kinds(mixed) == FAST_STAGES
    assert not uses_minilm(mixed)
    assert uses_minilm(Settings(profile="fast", embedder="minilm"))


def test_auto_falls_back_to_the_fast_half_when_the_model_is_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # `auto` follows the profile only where the full half can load; the stream keeps going,
    # and the log says why the full profile is not what runs.
    full = Settings(profile="full", spacy_model=MISSING_MODEL)
    _warn_fallback.cache_clear()  # another test may have warned about this model already
    with caplog.at_level(logging.WARNING, logger="lumina.enrich.profiles"):
        assert not uses_spacy(full)
        assert kinds(full) == FAST_STAGES
    warnings = [r.getMessage() for r in caplog.records if MISSING_MODEL in r.getMessage()]
    assert len(warnings) == 1, warnings  # once, however often the profile is resolved
    assert "fast attribution" in warnings[0]


def test_an_explicit_spacy_never_falls_back() -> None:
    with pytest.raises(ConfigError, match=MISSING_MODEL):
        attribution_stages(Settings(attribution="spacy", spacy_model=MISSING_MODEL))
