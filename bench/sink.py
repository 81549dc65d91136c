"""The units sink as it runs in the worker: from the JSON bytes on `lumina.units` to rows
in chDB, in batches of 5,000, against baselines in the same run.

Run: .venv/bin/python bench/sink.py [--units 200000] [--no-merges | --no-merge-graphs]

Units are enriched first (fast profile, LoCoMo turn pairs as in bench/store.py) and kept as
the bytes the enrich agent publishes (`MemoryUnit.to_json`); enrichment is not timed. The
heap is then settled as the worker settles it (lumina/heap.py). The same batches go through
five sinks, one after the other, each into a fresh chDB store of its own. Four take each
batch one step after the other, so parsing, the Arrow table and the INSERT are timed apart:
- pydantic: `MemoryUnit.model_validate_json` per unit, into the shipped store;
- wide parts: the shipped sink (`parse_units`: the msgspec mirror, pydantic only for what it
  refuses) into a store that keeps ClickHouse's default part format (Wide over 10 MB);
- text index at insert: the shipped sink into the shipped store, each INSERT building the
  part's text index (as the store did before it left that index to merges, as the graph);
- shipped, one batch after another: the shipped sink into the shipped store (Compact parts
  under 128 MiB, both indexes left to merges), as the sink agent ran before it wrote behind.
The fifth is the sink agent's own loop: each batch read (`unit_rows`, in a thread) while
the batch before is written (`WriteBehind`, the INSERT in a thread). Every INSERT leaves the
HNSW graph to merges. Background merges run as they would in the worker, building the
HNSW graphs and text indexes of the parts they make; `--no-merges` stops them in each
store, to time the sink alone, and `--no-merge-graphs` lets them merge without building
graphs, to show what the graphs cost. One run, everything on the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import CHUNK, LOCOMO, chunk_events, corpus, log

from lumina.agents.sink import parse_units, unit_rows
from lumina.agents.write_behind import WriteBehind
from lumina.config import Settings
from lumina.enrich import enrich
from lumina.heap import settle_heap
from lumina.schemas import MemoryUnit
from lumina.store import MemoryStore, open_store
from lumina.store.arrow import unit_arrow_table
from lumina.store.client import LEFT_TO_MERGES

# ClickHouse's own `min_bytes_for_wide_part`, which migration 0007 raised to 128 MiB.
CLICKHOUSE_WIDE_PART_BYTES = 10 * 2**20

SINKS = {
    "pydantic": "pydantic per unit, shipped store",
    "wide": "shipped sink, Wide parts (ClickHouse default)",
    "text-at-insert": "shipped sink, text index built at insert",
    "shipped": "shipped sink and store, one batch after another",
}
WRITE_BEHIND = "shipped, next batch read while one is written"

Batches = list[list[tuple[bytes, bytes | None]]]


@contextmanager
def fresh_store(which: str, merges: str, expected: int) -> Iterator[MemoryStore]:
    """A store of its own for one sink (so none pays for another's background merges),
    checked to hold `expected` rows at the end."""
    folder = Path(tempfile.mkdtemp(prefix=f"lumina-sink-bench-{which}-"))
    store = open_store(f"chdb://{folder / 'store'}")
    if merges == "stopped":
        store.command("SYSTEM STOP MERGES memory_units")
    elif merges == "without graphs":
        store.command(
            "ALTER TABLE memory_units MODIFY SETTING "
            "exclude_materialize_skip_indexes_on_merge = 'embedding_hnsw'"
        )
    if which == "wide":
        store.command(
            "ALTER TABLE memory_units MODIFY SETTING "
            f"min_bytes_for_wide_part = {CLICKHOUSE_WIDE_PART_BYTES}"
        )
    try:
        yield store
        stored = store.query_rows("SELECT count() FROM memory_units")[0][0]
        if stored != expected:
            raise SystemExit(f"{which}: {stored:,} rows stored, {expected:,} expected")
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def run_sink(which: str, batches: Batches, merges: str) -> tuple[float, float, float]:
    """Seconds parsing, building Arrow tables and inserting them, all batches through one
    sink, one step after the other so each is timed alone."""
    parse_s = arrow_s = insert_s = 0.0
    with fresh_store(which, merges, sum(len(raws) for raws in batches)) as store:
        for raws in batches:
            started = time.perf_counter()
            if which == "pydantic":
                units = [MemoryUnit.model_validate_json(raw) for raw, _ in raws]
            else:
                units, rejects = parse_units(raws, 0)
                if rejects:
                    raise SystemExit(f"{len(rejects)} units dead-lettered: {rejects[0].message}")
            parsed = time.perf_counter()
            table = unit_arrow_table(units)  # what `insert_units` does, timed in two steps
            built = time.perf_counter()
            store.insert_unit_table(
                table, "embedding_hnsw" if which == "text-at-insert" else LEFT_TO_MERGES
            )
            parse_s += parsed - started
            arrow_s += built - parsed
            insert_s += time.perf_counter() - built
            del units, table
    return parse_s, arrow_s, insert_s


def run_write_behind(batches: Batches, merges: str) -> float:
    """Seconds for all batches through the units sink agent's own steps: `unit_rows` in a
    thread while the batch before is written (`WriteBehind`), each INSERT in a thread."""

    async def sink(store: MemoryStore) -> float:
        writes = WriteBehind()
        started = time.perf_counter()
        for raws in batches:
            rows, rejects = await asyncio.to_thread(unit_rows, raws, 0)
            if rejects:
                raise SystemExit(f"{len(rejects)} units dead-lettered: {rejects[0].message}")

            async def write(rows: pa.Table = rows) -> None:
                await asyncio.to_thread(store.insert_unit_table, rows)

            await writes.submit(write, "bench")
        await writes.drain()
        return time.perf_counter() - started

    with fresh_store("write-behind", merges, sum(len(raws) for raws in batches)) as store:
        return asyncio.run(sink(store))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=LOCOMO)
    parser.add_argument("--seed", type=int, default=11)
    which_merges = parser.add_mutually_exclusive_group()
    which_merges.add_argument(
        "--no-merges", action="store_true", help="stop background merges: the sink alone"
    )
    which_merges.add_argument(
        "--no-merge-graphs", action="store_true", help="merges build no HNSW graph"
    )
    args = parser.parse_args()
    merges = (
        "stopped" if args.no_merges else "without graphs" if args.no_merge_graphs else "running"
    )

    settings = Settings()
    codes, _, pool = corpus(args.data, args.units, 0, args.seed)
    batches: list[list[tuple[bytes, bytes | None]]] = []
    for start in range(0, args.units, CHUNK):
        units = enrich(chunk_events(codes[start : start + CHUNK], pool, start), settings)
        batches.append([(u.to_json(), u.id.encode()) for u in units])
    del units
    size = sum(len(raw) for batch in batches for raw, _ in batch) / args.units
    log(f"{args.units:,} units enriched, {size:,.0f} bytes of JSON a unit")
    settle_heap()

    took: dict[str, tuple[float, float, float]] = {}
    for which in SINKS:
        took[which] = run_sink(which, batches, merges)
        log(f"{which} sink done")
    behind_s = run_write_behind(batches, merges)
    log("write-behind sink done")

    n = args.units
    print(
        f"\nunits sink, JSON bytes -> chDB, batches of {CHUNK:,}, {n:,} units "
        f"({size:,.0f} B/unit), merges {merges}; units/s"
    )
    print(f"  {'':<48} {'sink':>7} {'parse':>7} {'Arrow':>7} {'INSERT':>7}")
    for which, label in SINKS.items():
        rates = [n / s for s in (sum(took[which]), *took[which])]
        print(f"  {label:<48} " + " ".join(f"{r:>7,.0f}" for r in rates))
    print(f"  {WRITE_BEHIND:<48} {n / behind_s:>7,.0f}")
    shipped = sum(took["shipped"])
    print(
        f"  one after another: / pydantic {sum(took['pydantic']) / shipped:.2f}x, "
        f"/ wide parts {sum(took['wide']) / shipped:.2f}x;  INSERT / text index at insert "
        f"{took['text-at-insert'][2] / took['shipped'][2]:.2f}x;  "
        f"write-behind / one after another {shipped / behind_s:.2f}x;  "
        "target >= 20,000 units/s"
    )


if __name__ == "__main__":
    main()
