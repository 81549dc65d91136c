"""The units sink as it runs in the worker: from the JSON bytes on `lumina.units` to rows
in chDB, in batches of 5,000, against two baselines in the same run.

Run: .venv/bin/python bench/sink.py [--units 200000] [--no-merges | --no-merge-graphs]

Units are enriched first (fast profile, LoCoMo turn pairs as in bench/store.py) and kept as
the bytes the enrich agent publishes (`MemoryUnit.to_json`); enrichment is not timed. The
heap is then settled as the worker settles it (lumina/heap.py). The same batches go through
three sinks, one after the other, each into a fresh chDB store of its own:
- pydantic: `MemoryUnit.model_validate_json` per unit, into the shipped store;
- wide parts: the shipped sink (`parse_units`: the msgspec mirror, pydantic only for what it
  refuses) into a store that keeps ClickHouse's default part format (Wide over 10 MB);
- shipped: the shipped sink into the shipped store (Compact parts under 128 MiB).
Every sink then runs `insert_units` (Arrow table, INSERT with the HNSW graph left to
merges). Background merges run as they would in the worker, building the HNSW graphs of the
parts they make; `--no-merges` stops them in each store, to time the sink alone, and
`--no-merge-graphs` lets them merge without building graphs, to show what the graphs cost.
One run, everything on the same two cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import CHUNK, LOCOMO, chunk_events, corpus, log

from lumina.agents.sink import parse_units
from lumina.config import Settings
from lumina.enrich import enrich
from lumina.heap import settle_heap
from lumina.schemas import MemoryUnit
from lumina.store import open_store
from lumina.store.arrow import unit_arrow_table

# ClickHouse's own `min_bytes_for_wide_part`, which migration 0007 raised to 128 MiB.
CLICKHOUSE_WIDE_PART_BYTES = 10 * 2**20

SINKS = {
    "pydantic": "pydantic per unit, shipped store",
    "wide": "shipped sink, Wide parts (ClickHouse default)",
    "shipped": "shipped sink and store (Compact parts)",
}


def run_sink(
    which: str, batches: list[list[tuple[bytes, bytes | None]]], merges: str
) -> tuple[float, float, float]:
    """Seconds parsing, building Arrow tables and inserting them, all batches through one
    sink into a store of its own (so none pays for another's background merges)."""
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
    parse_s = arrow_s = insert_s = 0.0
    try:
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
            store.insert_unit_table(table)
            parse_s += parsed - started
            arrow_s += built - parsed
            insert_s += time.perf_counter() - built
            del units, table
        stored = store.query_rows("SELECT count() FROM memory_units")[0][0]
        expected = sum(len(raws) for raws in batches)
        if stored != expected:
            raise SystemExit(f"{which}: {stored:,} rows stored, {expected:,} expected")
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)
    return parse_s, arrow_s, insert_s


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

    n = args.units
    print(
        f"\nunits sink, JSON bytes -> chDB, batches of {CHUNK:,}, {n:,} units "
        f"({size:,.0f} B/unit), merges {merges}; units/s"
    )
    print(f"  {'':<48} {'sink':>7} {'parse':>7} {'Arrow':>7} {'INSERT':>7}")
    for which, label in SINKS.items():
        rates = [n / s for s in (sum(took[which]), *took[which])]
        print(f"  {label:<48} " + " ".join(f"{r:>7,.0f}" for r in rates))
    shipped = sum(took["shipped"])
    print(
        f"  shipped / pydantic: {sum(took['pydantic']) / shipped:.2f}x   "
        f"shipped / wide parts: {sum(took['wide']) / shipped:.2f}x   target >= 20,000 units/s"
    )


if __name__ == "__main__":
    main()
