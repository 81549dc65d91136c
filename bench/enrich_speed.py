"""Enrichment speed and memory, fast and full profiles side by side, in one run.

Run: .venv/bin/python bench/enrich_speed.py [--data PATH]

The heap is settled (`lumina.heap`: start-up objects frozen out of garbage collection,
fewer young collections) as in a worker and `lumina enrich`; fast units are also measured
first with CPython's default collector, as the baseline of that choice.

Texts are real chat turns (LoCoMo dev, `../shared/data/locomo-dev.json` beside the repo)
cut to exactly 20 words; without that file, the bundled demo conversation padded to 20
words. Every figure is measured in this run; ratios compare the two halves of a profile.

Fast attribution is also measured from the Python sources of the modules `make setup`
compiles with mypyc (`lumina.enrich.native`), in a child process: the build's baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lumina.config import Settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import Incoming, Pipeline, native
from lumina.enrich.attribution_spacy import load_spacy_model
from lumina.enrich.embed_minilm import MiniLMEmbedder
from lumina.enrich.profiles import attribution_stages, load_encoder
from lumina.enrich.stage import Draft
from lumina.heap import settle_heap
from lumina.schemas import TextEvent

REPO = Path(__file__).resolve().parents[1]
LOCOMO = REPO.parent / "shared" / "data" / "locomo-dev.json"
WORDS = 20

RSS_PROBE = """
import sys
from lumina.config import Settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import Incoming, Pipeline
from lumina.schemas import TextEvent
pipeline = Pipeline.from_settings(Settings(profile=sys.argv[1]))
text = "Bench text number {} about the trip from Lisbon to Berlin."
events = [TextEvent(scope="s", text=text.format(i)) for i in range(256)]
pipeline.run([Incoming(e) for e in events], chain=ProvenanceChain())
for line in open("/proc/self/status"):
    if line.startswith(("VmRSS", "VmHWM")):
        print(line.split()[0], int(line.split()[1]) // 1024)
"""


# Fast attribution with the mypyc-compiled modules (`lumina.enrich.native`) imported from
# their .py sources instead: the baseline of the build, in a child process because a
# module imported once stays what it is.
SOURCES_PROBE = """
import importlib.abc, importlib.util, json, sys
from pathlib import Path
sources = json.loads(sys.argv[1])  # module -> its .py file

class Sources(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in sources:
            return importlib.util.spec_from_file_location(name, sources[name])
        return None

sys.meta_path.insert(0, Sources())
from enrich_speed import attribution_rate, twenty_word_texts
from lumina.config import Settings
from lumina.enrich import native as loaded
from lumina.heap import settle_heap
assert not any(loaded.compiled().values())
texts = twenty_word_texts(Path(sys.argv[2]), int(sys.argv[3]))
settle_heap()
print(attribution_rate(Settings(profile="fast"), texts))
"""


def twenty_word_texts(path: Path, n: int) -> list[str]:
    if path.is_file():
        data = json.loads(path.read_text())
        turns = [
            turn["text"]
            for sample in data
            for key, session in sample["conversation"].items()
            if key.startswith("session_") and isinstance(session, list)
            for turn in session
        ]
    else:
        raw = resources.files("lumina.data").joinpath("demo_conversation.jsonl").read_text()
        turns = [json.loads(line)["text"] for line in raw.splitlines()]
    long = [" ".join(t.split()[:WORDS]) for t in turns if len(t.split()) >= WORDS]
    pool = long or [" ".join((t.split() * WORDS)[:WORDS]) for t in turns]
    return [pool[i % len(pool)] for i in range(n)]


def rate(call: Callable[[], object], count: int, rounds: int = 3) -> float:
    """Items per second, best of `rounds` (the least disturbed run on a shared machine)."""
    call()  # warm caches and lazy loads
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return count / best


def attribution_rate(settings: Settings, texts: Sequence[str]) -> float:
    stages = attribution_stages(settings)
    events = [TextEvent(scope="s", author="Ann", text=t) for t in texts]

    def run() -> None:
        drafts = [Draft.from_event(e, 0) for e in events]
        for stage in stages:
            drafts = stage(drafts)

    return rate(run, len(texts))


def unit_rates(settings: Settings, texts: Sequence[str], single: int) -> tuple[float, float, float]:
    pipeline = Pipeline.from_settings(settings)
    events = [
        TextEvent(scope="s", author="Ann", text=t, event_id=str(i)) for i, t in enumerate(texts)
    ]
    chain = ProvenanceChain()

    def batches() -> None:
        for i in range(0, len(events), 256):
            result = pipeline.run([Incoming(e) for e in events[i : i + 256]], chain=chain)
            if result.failures:
                raise SystemExit(f"{len(result.failures)} failures: figures would be meaningless")

    batch_rate = rate(batches, len(events), rounds=2)
    latencies = []
    for event in events[:single]:
        started = time.perf_counter()
        pipeline.run([Incoming(event)], chain=chain)
        latencies.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(latencies, [50, 99])
    return batch_rate, float(p50), float(p99)


class TimedPipeline(Pipeline):
    """The pipeline with a stopwatch on each stage; the rest of `run` is assembly."""

    spent: dict[str, float] = {}  # noqa: RUF012 - replaced per measurement

    def _run_stage(self, stage: Any, *args: Any) -> list[int]:
        started = time.perf_counter()
        try:
            return super()._run_stage(stage, *args)
        finally:
            self.spent[stage.name] = self.spent.get(stage.name, 0.0) + time.perf_counter() - started


def stage_breakdown(settings: Settings, texts: Sequence[str]) -> dict[str, float]:
    """Microseconds per unit in each stage, and in everything else ("assembly")."""
    pipeline = TimedPipeline.from_settings(settings)
    events = [
        TextEvent(scope="s", author="Ann", text=t, event_id=str(i)) for i, t in enumerate(texts)
    ]
    chain = ProvenanceChain()
    pipeline.run([Incoming(e) for e in events[:256]], chain)  # warm up
    pipeline.spent = {}
    started = time.perf_counter()
    for i in range(0, len(events), 256):
        pipeline.run([Incoming(e) for e in events[i : i + 256]], chain)
    total = time.perf_counter() - started
    out = {name: s * 1e6 / len(events) for name, s in pipeline.spent.items()}
    out["assembly"] = total * 1e6 / len(events) - sum(out.values())
    return out


def peak_rss_mib(profile: str) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, profile],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ).stdout
    values = {key.rstrip(":"): value for key, value in (line.split() for line in out.splitlines())}
    return int(values["VmRSS"]), int(values["VmHWM"])


def python_attribution_rate(data: Path, count: int) -> float:
    """Fast attribution from the Python sources, with nothing compiled (SOURCES_PROBE)."""
    sources = {m: str(native.source_path(m)) for m in native.MODULES}
    out = subprocess.run(
        [sys.executable, "-c", SOURCES_PROBE, json.dumps(sources), str(data), str(count)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": f"{REPO / 'bench'}{os.pathsep}{REPO}"},
    ).stdout
    return float(out.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=LOCOMO)
    args = parser.parse_args()
    fast, full = Settings(profile="fast"), Settings(profile="full")
    texts = twenty_word_texts(args.data, 5000)
    source = args.data.name if args.data.is_file() else "the demo conversation"
    print(f"texts: {len(texts)} of {WORDS} words from {source}\n")

    # The baseline first, with CPython's collector settings; then the heap is settled as a
    # worker and `lumina enrich` settle theirs once their models are loaded (lumina.heap).
    # Both with only the fast profile loaded, so they differ in the collector alone.
    default_gc = unit_rates(fast, texts, single=1)[0]
    settle_heap()
    fast_units = unit_rates(fast, texts, single=500)

    # While only the fast profile is loaded: a heap grown by spaCy and torch makes the
    # garbage collector's passes, which land on whatever allocates, longer.
    parts = stage_breakdown(fast, texts[:2048])
    line = ", ".join(f"{name} {us:.0f}" for name, us in parts.items())
    print(f"fast unit, µs per stage: {line} (total {sum(parts.values()):.0f})\n")

    fast_attr = attribution_rate(fast, texts[:2000])
    python_attr = python_attribution_rate(args.data, 2000)
    nlp = load_spacy_model(full.spacy_model)  # the stage's model (cached), settled with the rest
    settle_heap()
    spacy_attr = attribution_rate(full, texts[:500])
    spacy_model = rate(lambda: list(nlp.pipe(texts[:500], batch_size=full.batch_size)), 500)
    stock = load_spacy_model(full.spacy_model, tuned=False)
    spacy_stock = rate(lambda: list(stock.pipe(texts[:500], batch_size=full.batch_size)), 500)
    print(
        f"attribution  fast   {fast_attr:10,.0f} texts/s  target >= 20,000  (tokens+weights+roles)"
    )
    built = "mypyc build" if any(native.compiled().values()) else "not built here"
    print(
        f"  from Python sources {python_attr:6,.0f} texts/s  (no mypyc build; this run's "
        f"{built}: {fast_attr / python_attr:.2f}x)"
    )
    ratio = fast_attr / spacy_attr
    print(
        f"attribution  spaCy  {spacy_attr:10,.0f} texts/s  target >= 400    fast/spaCy {ratio:.0f}x"
    )
    share = spacy_attr / spacy_model
    print(
        f"  spaCy model alone {spacy_model:8,.0f} texts/s  (nlp.pipe, no Lumina code: the "
        f"ceiling; the stage runs at {share:.0%} of it)"
    )
    print(
        f"  stock pipeline    {spacy_stock:8,.0f} texts/s  (BLIS, attribute_ruler; same "
        f"annotations): the loaded one is {spacy_model / spacy_stock:.2f}x"
    )

    static, minilm = load_encoder(fast), load_encoder(full)
    static_rate = rate(lambda: static.encode(texts[:5000]), 5000)
    minilm_rate = rate(lambda: minilm.encode(texts[:500]), 500, rounds=2)
    minilm_fp32 = MiniLMEmbedder(precision="fp32")
    fp32_rate = rate(lambda: minilm_fp32.encode(texts[:500]), 500, rounds=2)
    print(f"embedding    static {static_rate:10,.0f} texts/s  target >= 20,000")
    ratio = static_rate / minilm_rate
    precision = "bf16" if getattr(minilm, "bf16", False) else "fp32"
    print(
        f"embedding    MiniLM {minilm_rate:10,.0f} texts/s  target >= 300     "
        f"static/MiniLM = {ratio:.0f}x  ({precision}; fp32 {fp32_rate:,.0f} texts/s, "
        f"{minilm_rate / fp32_rate:.1f}x)"
    )

    targets = {"fast": "  target >= 5,000/s, p99 < 10 ms", "full": ""}
    settle_heap()  # MiniLM is loaded now
    for name, settings, count, single in (("fast", fast, 5000, 500), ("full", full, 1000, 200)):
        batch, p50, p99 = (
            fast_units if name == "fast" else unit_rates(settings, texts[:count], single)
        )
        print(
            f"units        {name:<6} {batch:10,.0f} units/s in batches of 256; "
            f"one at a time p50 {p50:.2f} ms, p99 {p99:.2f} ms{targets[name]}"
        )
        if name == "fast":
            print(
                f"  the same with CPython's default collector (no settled heap), measured "
                f"first: {default_gc:,.0f} units/s; settled {batch / default_gc:.2f}x"
            )

    for profile in ("fast", "full"):
        rss, peak = peak_rss_mib(profile)
        print(f"memory       {profile:<6} RSS {rss} MiB after loading and a batch, peak {peak} MiB")


if __name__ == "__main__":
    main()
