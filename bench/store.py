"""Store at scale: sink speed into chDB, dense and hybrid search over 100,000 and 1,000,000
units of one scope, and size on disk, all measured in one run.

Run: .venv/bin/python bench/store.py [--sizes 100000,1000000] [--quick] [--keep]

Texts are real chat turns (LoCoMo dev, `../shared/data/locomo-dev.json` beside the repo),
two turns per text, pairs drawn without repetition by a seeded RNG, so every text and its
embedding is distinct. Queries are turns held out of every stored text. Units come from the
fast profile (`lumina.enrich.enrich`) in chunks of 5,000, each inserted straight away; only
the embeddings are kept (float32), for exact top-10 by numpy: recall@10 is measured against
that, independent of ClickHouse.

Sink: each of the first chunks is also inserted into two copies of `memory_units`, once with
the HNSW graph built at insert (ClickHouse's default) and once with it left to merges
(`exclude_materialize_skip_indexes_on_insert`); the deferred graphs are then built with
`MATERIALIZE INDEX`, which is what deferring moves off the sink path.

Search is measured twice per size: as filled (the newest parts may have no graph yet and
are scanned exactly) and after `MATERIALIZE INDEX` (every part has its graph).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lumina.config import Settings
from lumina.enrich import enrich
from lumina.enrich.profiles import load_encoder
from lumina.schemas import TextEvent
from lumina.store import MemoryStore, open_store
from lumina.store.arrow import unit_arrow_table
from lumina.store.client import LEFT_TO_MERGES
from lumina.store.retrieval import DEFAULT_HNSW_EF, Filters, dense_candidates
from lumina.store.search import MemorySearch, SearchWeights

REPO = Path(__file__).resolve().parents[1]
LOCOMO = REPO.parent / "shared" / "data" / "locomo-dev.json"
SCOPE = "bench-store"
CHUNK = 5000
INDEX = "embedding_hnsw"
BASE_MS = 1_777_593_600_000  # 2026-05-01 UTC: one month, one partition
DEFER = {"exclude_materialize_skip_indexes_on_insert": LEFT_TO_MERGES}  # as the sink inserts
AT_INSERT = {
    "materialize_skip_indexes_on_insert": 1,
    "exclude_materialize_skip_indexes_on_insert": "",
}
SYNC = "SETTINGS mutations_sync = 2"


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------------------
def locomo_turns(path: Path) -> list[tuple[str, str]]:
    """Distinct (speaker, text) chat turns, sorted so the draw below is deterministic."""
    data = json.loads(path.read_text())
    turns = {
        (turn["speaker"], turn["text"].strip())
        for sample in data
        for key, session in sample["conversation"].items()
        if key.startswith("session_") and isinstance(session, list)
        for turn in session
        if turn["text"].strip()
    }
    return sorted(turns, key=lambda t: t[1])


def corpus(path: Path, n: int, queries: int, seed: int) -> tuple[list[int], list[str], list[Any]]:
    """(pair codes of `n` stored texts, `queries` held-out query texts, the pool of turns)."""
    turns = locomo_turns(path)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(turns))
    held_out = [turns[i][1] for i in order[:queries]]
    pool = [turns[i] for i in order[queries:]]
    if n > len(pool) ** 2:
        raise SystemExit(f"{len(pool)} turns make at most {len(pool) ** 2:,} pairs, not {n:,}")
    codes = rng.choice(len(pool) ** 2, size=n, replace=False)
    return [int(c) for c in codes], held_out, pool


def chunk_events(
    codes: Sequence[int], pool: Sequence[tuple[str, str]], start: int
) -> list[TextEvent]:
    m = len(pool)
    events = []
    for offset, code in enumerate(codes):
        (speaker, first), (_, second) = pool[code // m], pool[code % m]
        i = start + offset
        events.append(
            TextEvent(
                scope=SCOPE,
                author=speaker,
                text=f"{first} {second}",
                ts=BASE_MS + i * 1000,
                event_id=f"store-bench-{i}",
            )
        )
    return events


# -- store helpers --------------------------------------------------------------------------
def insert_arrow(store: MemoryStore, table: str, arrow: pa.Table, settings: dict) -> float:
    """Seconds to INSERT an Arrow table of units into `table`, as `insert_units` does."""
    started = time.perf_counter()
    store.insert_table(table, arrow, settings)
    return time.perf_counter() - started


def has_graph(part: Path) -> bool:
    """A part's HNSW graph is a file of its own, or (when small) a member of the packed file."""
    name = f"skp_idx_{INDEX}.idx"
    packed = part / "skp_idx.packed"
    return (part / name).is_file() or (packed.is_file() and name.encode() in packed.read_bytes())


def parts_state(store: MemoryStore, table: str = "memory_units") -> tuple[int, int, int]:
    """(active parts, rows in them, rows in parts without an HNSW graph)."""
    rows = store.query_rows(
        "SELECT rows, path FROM system.parts WHERE database = currentDatabase() "
        "AND table = {t:String} AND active",
        {"t": table},
    )
    bare = sum(int(r) for r, path in rows if not has_graph(Path(path)))
    return len(rows), sum(int(r) for r, _ in rows), bare


def wait_for_merges(store: MemoryStore, table: str, limit_s: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        busy = store.query_rows(
            "SELECT count() FROM system.merges WHERE database = currentDatabase() "
            "AND table = {t:String}",
            {"t": table},
        )[0][0]
        if not busy:
            break
        time.sleep(1.0)
    return time.perf_counter() - started


def materialize(store: MemoryStore, table: str) -> float:
    started = time.perf_counter()
    store.command(f"ALTER TABLE {table} MATERIALIZE INDEX {INDEX} {SYNC}")
    return time.perf_counter() - started


def disk_bytes(folder: Path) -> int:
    return sum(
        (Path(root) / name).stat().st_size
        for root, _, names in os.walk(folder)
        for name in names
        if (Path(root) / name).is_file()
    )


# -- search ---------------------------------------------------------------------------------
@dataclass
class SearchFigures:
    label: str
    parts: int
    bare_rows: int
    p50: float
    p95: float
    cold_ms: float
    recall: float
    min_recall: float
    extra: dict[str, float] = field(default_factory=dict)


def exact_top(matrix: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by cosine distance: (row numbers per query, nearest first; the k-th
    distance per query, so a hit tied with the k-th counts in recall)."""
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    tops, kth = [], []
    for i in range(0, len(q), 32):
        sims = (matrix @ q[i : i + 32].T) / norms[:, None]  # rows × queries
        part = np.argpartition(-sims, k - 1, axis=0)[:k]
        for j in range(part.shape[1]):
            best = part[:, j][np.argsort(-sims[part[:, j], j])]
            tops.append(best)
            kth.append(1.0 - sims[best[-1], j])
    return np.array(tops), np.array(kth)


def cosine_distance(matrix: np.ndarray, row: int, query: np.ndarray) -> float:
    v = matrix[row]
    return 1.0 - float(v @ query) / max(float(np.linalg.norm(v) * np.linalg.norm(query)), 1e-12)


def timed(call: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = call(*args)
    return out, (time.perf_counter() - started) * 1000


def dense_figures(
    store: MemoryStore,
    label: str,
    vectors: np.ndarray,
    matrix: np.ndarray,
    row_of: dict[str, int],
    embed_version: str,
    warm: int,
    ef: int = DEFAULT_HNSW_EF,
) -> SearchFigures:
    def query(v: np.ndarray) -> list[tuple[str, float]]:
        return dense_candidates(
            store, SCOPE, v.tolist(), 10, Filters(), embed_version=embed_version, ef=ef
        )

    parts, _, bare = parts_state(store)
    _, cold = timed(query, vectors[0])
    for v in vectors[1 : 1 + warm]:
        query(v)
    latencies, found = [], []
    for v in vectors:
        hits, ms = timed(query, v)
        latencies.append(ms)
        found.append([unit_id for unit_id, _ in hits])
    _, kth = exact_top(matrix, vectors, 10)
    recalls = []
    for q, ids, cutoff in zip(vectors, found, kth, strict=True):
        good = sum(
            1
            for unit_id in ids
            if unit_id in row_of and cosine_distance(matrix, row_of[unit_id], q) <= cutoff + 1e-6
        )
        recalls.append(good / 10)
    p50, p95 = np.percentile(latencies, [50, 95])
    return SearchFigures(
        label, parts, bare, float(p50), float(p95), cold, float(np.mean(recalls)), min(recalls)
    )


def hybrid_latency(search: MemorySearch, texts: Sequence[str], warm: int) -> tuple[float, float]:
    for text in texts[:warm]:
        search.search(text, SCOPE, k=10)
    latencies = [timed(search.search, t, SCOPE, 10)[1] for t in texts]
    p50, p95 = np.percentile(latencies, [50, 95])
    return float(p50), float(p95)


# -- main -----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=LOCOMO)
    parser.add_argument("--sizes", default="100000,1000000", help="store sizes to search at")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sink-chunks", type=int, default=10, help="chunks in the sink A/B")
    parser.add_argument("--seed", type=int, default=20260501)
    parser.add_argument(
        "--ef", default="", help="also search with these HNSW candidate lists (e.g. 256,512)"
    )
    parser.add_argument("--quick", action="store_true", help="20,000 units, 2 sink chunks")
    parser.add_argument("--keep", action="store_true", help="keep the store folder")
    parser.add_argument("--dir", type=Path, default=None, help="parent folder of the store")
    args = parser.parse_args()
    sizes = [20000] if args.quick else sorted({int(s) for s in args.sizes.split(",")})
    sink_chunks = 2 if args.quick else args.sink_chunks
    total = sizes[-1]
    if not args.data.is_file():
        raise SystemExit(f"no {args.data}: the bench needs the LoCoMo dev set")

    settings = Settings()
    encoder = load_encoder(settings)
    codes, query_texts, pool = corpus(args.data, total, args.queries, args.seed)
    query_vectors = np.asarray(encoder.encode(query_texts), dtype=np.float32)
    folder = Path(tempfile.mkdtemp(prefix="lumina-store-bench-", dir=args.dir))
    store = open_store(f"chdb://{folder / 'store'}", embedding_dim=encoder.dim)
    search = MemorySearch(store, encoder, SearchWeights.from_settings(settings))
    print(
        f"data: {len(pool)} LoCoMo turns paired into {total:,} distinct texts, "
        f"{len(query_texts)} held-out turns as queries; store {folder}"
    )
    deferred = store.query_rows(
        "SELECT count() FROM system.settings "
        "WHERE name = 'exclude_materialize_skip_indexes_on_insert'"
    )[0][0]
    if not deferred:
        raise SystemExit("this ClickHouse has no exclude_materialize_skip_indexes_on_insert")
    for name in ("sink_at_insert", "sink_deferred"):
        store.command(f"CREATE TABLE {name} AS memory_units")

    matrix = np.empty((total, encoder.dim), dtype=np.float32)
    ids: list[str] = []
    enrich_s = insert_s = 0.0
    sink = {"arrow": 0.0, "sink_at_insert": 0.0, "sink_deferred": 0.0}
    sink_units = 0
    results: list[tuple[int, list[SearchFigures], dict[str, float]]] = []
    for start in range(0, total, CHUNK):
        events = chunk_events(codes[start : start + CHUNK], pool, start)
        started = time.perf_counter()
        units = enrich(events, settings)
        enrich_s += time.perf_counter() - started
        matrix[start : start + len(units)] = np.asarray([u.embedding for u in units], np.float32)
        ids.extend(u.id for u in units)
        if start // CHUNK < sink_chunks:
            order = ["sink_at_insert", "sink_deferred"]
            if (start // CHUNK) % 2:
                order.reverse()
            started = time.perf_counter()
            arrow = unit_arrow_table(units)
            sink["arrow"] += time.perf_counter() - started
            for name in order:
                sink[name] += insert_arrow(
                    store, name, arrow, AT_INSERT if name == "sink_at_insert" else DEFER
                )
            del arrow
            sink_units += len(units)
            if start // CHUNK == sink_chunks - 1:
                wait_for_merges(store, "sink_deferred", 120)
                bare = parts_state(store, "sink_deferred")[2]
                build = materialize(store, "sink_deferred")
                sink["build_s"], sink["build_rows"] = build, bare
                for name in ("sink_at_insert", "sink_deferred"):
                    store.command(f"DROP TABLE {name} SYNC")
                log(f"sink A/B done over {sink_units:,} units")
        started = time.perf_counter()
        store.insert_units(units)
        insert_s += time.perf_counter() - started
        del units, events
        done = start + CHUNK
        if done % 100_000 == 0:
            log(f"{done:,} units in, enrich {enrich_s:.0f} s, insert_units {insert_s:.0f} s")
        if done in sizes:
            figures, extra = measure(
                store, search, args, done, matrix, ids, query_texts, query_vectors, encoder
            )
            results.append((done, figures, extra))

    report(store, folder, sink, sink_units, results, enrich_s, insert_s, total)
    store.close()
    if args.keep:
        print(f"store kept at {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def measure(
    store: MemoryStore,
    search: MemorySearch,
    args: argparse.Namespace,
    size: int,
    matrix: np.ndarray,
    ids: list[str],
    query_texts: list[str],
    query_vectors: np.ndarray,
    encoder: Any,
) -> tuple[list[SearchFigures], dict[str, float]]:
    log(f"searching at {size:,} units")
    view = matrix[:size]
    row_of = {unit_id: i for i, unit_id in enumerate(ids[:size])}
    figures = [dense_figures(store, "as filled", query_vectors, view, row_of, encoder.version, 5)]
    bare = figures[0].bare_rows
    build = materialize(store, "memory_units")
    log(f"materialized the graph of {bare:,} rows in {build:.1f} s")
    figures.append(
        dense_figures(store, "all parts indexed", query_vectors, view, row_of, encoder.version, 5)
    )
    extra: dict[str, float] = {"build_s": build, "build_rows": bare}
    extra["hybrid_p50"], extra["hybrid_p95"] = hybrid_latency(search, query_texts, 5)
    for ef in [int(e) for e in args.ef.split(",") if e]:
        figures.append(
            dense_figures(
                store, f"ef_search {ef}", query_vectors, view, row_of, encoder.version, 5, ef
            )
        )
    return figures, extra


def report(
    store: MemoryStore,
    folder: Path,
    sink: dict[str, float],
    sink_units: int,
    results: list[tuple[int, list[SearchFigures], dict[str, float]]],
    enrich_s: float,
    insert_s: float,
    total: int,
) -> None:
    n = sink_units
    print(f"\nsink: units/s into chDB in batches of 5,000, over {n:,} units (same batches)")
    print(f"  {'':<42} {'INSERT':>9} {'+ Arrow':>9}")
    for label, name in (
        ("HNSW built at insert (ClickHouse default)", "sink_at_insert"),
        ("HNSW left to merges (exclude_..._on_insert)", "sink_deferred"),
    ):
        both = sink[name] + sink["arrow"]
        print(f"  {label:<42} {n / sink[name]:>9,.0f} {n / both:>9,.0f}")
    print(f"  (unit_arrow_table alone: {n / sink['arrow']:,.0f} units/s)")
    rows = int(sink["build_rows"])
    print(
        f"  deferred build: MATERIALIZE INDEX of {rows:,} rows without a graph took "
        f"{sink['build_s']:.1f} s ({rows / max(sink['build_s'], 1e-9):,.0f} rows/s)"
    )
    print(
        f"  MemoryStore.insert_units (as shipped)      {total / insert_s:10,.0f} units/s over "
        f"{total:,}   target >= 20,000"
    )
    print(
        f"  enrichment (fast profile, for scale)       {total / enrich_s:10,.0f} units/s; "
        "HNSW graphs are built by background merges (every merged part gets a new graph)"
    )
    print("\nsearch, one scope: dense top-10 (dense_candidates, n=10), 1 query at a time")
    print(
        f"  {'units':>9}  {'state':<18} {'parts':>5} {'rows w/o graph':>14} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'cold ms':>8} {'recall@10':>9} {'min':>5}"
    )
    for size, figures, _ in results:
        for f in figures:
            print(
                f"  {size:>9,}  {f.label:<18} {f.parts:>5} {f.bare_rows:>14,} {f.p50:>7.1f} "
                f"{f.p95:>7.1f} {f.cold_ms:>8.1f} {f.recall:>9.3f} {f.min_recall:>5.1f}"
            )
    print("  targets: p95 < 50 ms, recall@10 >= 0.95 (exact top-10 by numpy over the same vectors)")
    print("\nhybrid MemorySearch.search(text, scope, k=10): dense + BM25 + FINAL read of the hits")
    for size, _, extra in results:
        print(
            f"  {size:>9,}  p50 {extra['hybrid_p50']:7.1f} ms  p95 {extra['hybrid_p95']:7.1f} ms; "
            f"MATERIALIZE INDEX before it: {int(extra['build_rows']):,} rows in "
            f"{extra['build_s']:.1f} s"
        )
    parts = store.query_rows(
        "SELECT sum(rows), sum(bytes_on_disk), sum(data_compressed_bytes), "
        "sum(data_uncompressed_bytes), sum(secondary_indices_compressed_bytes) "
        "FROM system.parts WHERE database = currentDatabase() AND table = 'memory_units' "
        "AND active"
    )[0]
    n, on_disk, compressed, uncompressed, indexes = (int(x) for x in parts)
    scale = 1_000_000 / n
    du = disk_bytes(folder)
    gib = 1 << 30
    print(f"\nsize on disk, per 1,000,000 units (measured over {n:,})")
    print(
        f"  memory_units active parts: {on_disk * scale / gib:.2f} GiB on disk; columns "
        f"{compressed * scale / gib:.2f} GiB compressed, {uncompressed * scale / gib:.2f} GiB "
        f"uncompressed; skip indexes (HNSW + text) {indexes * scale / gib:.2f} GiB"
    )
    print(f"  store folder (du, all tables and logs): {du * scale / gib:.2f} GiB")


if __name__ == "__main__":
    main()
