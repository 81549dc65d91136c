"""Why spaCy is pinned: the same model under other spaCy 3.8 releases, speed and annotations.

Run: .venv/bin/python bench/spacy_versions.py [VERSION ...] [--texts N] [--rounds R]

Each VERSION (default 3.8.6 3.8.7 3.8.18) is installed with its own declared dependencies
into its own folder under ~/.cache/lumina/spacy-versions (pip, once) and run in a child
process with that folder ahead of the project's environment; the spaCy the project
installs runs the same way without it, as the baseline of the ratios. Every child loads
the model as the attribution stage does (`load_spacy_model`, tuned), times `nlp.pipe` on
500 LoCoMo chat turns cut to 20 words (best of 3 passes; each spaCy's best of `--rounds`
children), and fingerprints every annotation the stage reads (token text, POS, tag,
dependency, head, lemma, entity IOB and type, entity spans) on 3,000 turns and both 6W
gold sets, under the tuned and the stock pipeline.

Each child starts and joins one thread before timing: a worker is always multi-threaded,
and a single-threaded process makes a lock the GIL takes cheaper than it is in a worker.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
CACHE = Path.home() / ".cache" / "lumina" / "spacy-versions"
GOLD_SETS = ("sixw_gold.jsonl", "sixw_heldout.jsonl")


def child(texts_timed: int) -> None:
    """Runs inside the child process: prints one JSON line with the figures."""
    import spacy
    from enrich_speed import LOCOMO, twenty_word_texts

    from lumina.config import Settings
    from lumina.enrich.attribution_spacy import load_spacy_model

    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()

    name = Settings(profile="full").spacy_model
    texts = twenty_word_texts(LOCOMO, 3000)
    for gold in GOLD_SETS:
        lines = (REPO / "tests" / "data" / gold).read_text().splitlines()
        texts += [json.loads(line)["text"] for line in lines if line.strip()]
    digest = hashlib.sha256()
    for tuned in (True, False):
        nlp = load_spacy_model(name, tuned=tuned)
        for doc in nlp.pipe(texts, batch_size=256):
            tokens = [
                (t.text, t.pos_, t.tag_, t.dep_, t.head.i, t.lemma_, t.ent_iob_, t.ent_type_)
                for t in doc
            ]
            ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
            digest.update(json.dumps([tuned, tokens, ents]).encode())

    nlp = load_spacy_model(name)
    timed = texts[:texts_timed]
    list(nlp.pipe(timed[:100]))  # warm up
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        list(nlp.pipe(timed, batch_size=256))
        best = min(best, time.perf_counter() - started)
    print(
        json.dumps(
            {
                "spacy": spacy.__version__,
                "texts_per_s": len(timed) / best,
                "annotations": digest.hexdigest(),
                "texts_compared": len(texts),
            }
        )
    )


def install(version: str) -> Path:
    """The folder holding spaCy `version` and its declared dependencies (pip, once)."""
    target = CACHE / version
    if not (target / ".complete").is_file():
        print(f"installing spaCy {version} into {target} ...", flush=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--upgrade"),
                *("--no-warn-conflicts", "--target", str(target), f"spacy=={version}"),
            ],
            check=True,
        )
        (target / ".complete").touch()
    return target


def measure(texts: int, path: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--texts", str(texts)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("versions", nargs="*", default=["3.8.6", "3.8.7", "3.8.18"])
    parser.add_argument("--texts", type=int, default=500, help="texts timed per round")
    parser.add_argument("--rounds", type=int, default=2, help="visits of every spaCy")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.texts)
        return

    folders: list[Path | None] = [None, *(install(version) for version in args.versions)]
    # Rounds visit every spaCy in turn and each keeps its best: this machine's speed drifts
    # over minutes, and measuring each once in a row would hand the drift to the ratios.
    best: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        for i, folder in enumerate(folders):
            result = measure(args.texts, folder)
            if round_ == 0:
                best.append(result)
            elif result["texts_per_s"] > best[i]["texts_per_s"]:
                best[i]["texts_per_s"] = result["texts_per_s"]
    base = best[0]
    print(
        f"installed spaCy {base['spacy']}: {base['texts_per_s']:,.0f} texts/s, best of "
        f"{args.rounds} rounds ({base['texts_compared']:,} texts fingerprinted)"
    )
    for other in best[1:]:
        ratio = other["texts_per_s"] / base["texts_per_s"]
        same = "identical" if other["annotations"] == base["annotations"] else "DIFFERENT"
        print(
            f"spaCy {other['spacy']:<8} {other['texts_per_s']:>7,.0f} texts/s  "
            f"{ratio:4.2f}x the installed one  annotations {same}"
        )


if __name__ == "__main__":
    main()
