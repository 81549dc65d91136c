"""Which stages and embedder a profile gives, and the rule `auto` applies (profiles.py)."""

from __future__ import annotations

import pytest

from lumina.config import Settings
from lumina.enrich.attribution_fast import FastAttribution
from lumina.enrich.attribution_spacy import SpacyAttribution, spacy_available
from lumina.enrich.profiles import attribution_stages, uses_minilm, uses_spacy
from lumina.enrich.roles_rules import RuleRoles
from lumina.enrich.tokenizer import RegexTokenizer
from lumina.errors import ConfigError

FAST_STAGES = [RegexTokenizer, FastAttribution, RuleRoles]
MISSING_MODEL = "en_core_web_zz_missing"

needs_spacy = pytest.mark.skipif(not spacy_available(), reason="the models extra is not installed")


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


def test_auto_falls_back_to_the_fast_half_when_the_model_is_missing() -> None:
    # `auto` follows the profile only where the full half can load; the stream keeps going.
    full = Settings(profile="full", spacy_model=MISSING_MODEL)
    assert not uses_spacy(full)
    assert kinds(full) == FAST_STAGES


def test_an_explicit_spacy_never_falls_back() -> None:
    with pytest.raises(ConfigError, match=MISSING_MODEL):
        attribution_stages(Settings(attribution="spacy", spacy_model=MISSING_MODEL))
