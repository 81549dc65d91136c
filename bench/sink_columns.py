"""What the units INSERT spends its time on, by column group: the same Arrow batches (as the
units sink builds them) into chDB tables that hold only some of `memory_units`' columns.

Run: .venv/bin/python bench/sink_columns.py [--units 20000]

Each group goes into a fresh store of its own (as in bench/sink.py: a store that has taken
inserts before writes slower, its dirty pages still being flushed), one pass over all
batches, merges stopped. A group's table keeps the sort key (scope, id, version) and its
columns, typed as in `memory_units`, as a ReplacingMergeTree with Compact parts;
`vectors, no codec` stores the two vector columns uncompressed. `memory_units as shipped`
is the sink's own INSERT; a `Null` table with every column times chDB reading the Arrow
batches alone. One process, everything on the same cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import CHUNK, LOCOMO, chunk_events, corpus, log

from lumina.agents.sink import unit_rows
from lumina.config import Settings
from lumina.enrich import enrich
from lumina.store import MemoryStore, open_store

KEY = ["scope", "id", "version"]
VECTORS = ["embedding", "shape"]
SHIPPED = "memory_units"


def create(store: MemoryStore, columns: list[str], codec: str, engine: str) -> str:
    """A table `grouped` with `columns`, typed as in memory_units."""
    rows = store.query_rows(
        "SELECT name, type FROM system.columns "
        "WHERE database = currentDatabase() AND table = 'memory_units'"
    )
    types = {str(name): str(kind) for name, kind in rows}
    body = ", ".join(f"{c} {types[c]}{codec if c in VECTORS else ''}" for c in columns)
    if engine == "Null":
        store.command(f"CREATE TABLE grouped ({body}) ENGINE = Null")
    else:
        store.command(
            f"CREATE TABLE grouped ({body}) ENGINE = ReplacingMergeTree(version) "
            "ORDER BY (scope, id) SETTINGS min_bytes_for_wide_part = 134217728"
        )
    return "grouped"


def insert_rate(columns: list[str], codec: str, engine: str, tables: list[pa.Table]) -> float:
    """Units/s for one pass of `tables` (cut to `columns`) into a fresh store's table."""
    folder = Path(tempfile.mkdtemp(prefix="lumina-sink-columns-"))
    store = open_store(f"chdb://{folder / 'store'}")
    try:
        store.command("SYSTEM STOP MERGES")
        if columns == [SHIPPED]:
            started = time.perf_counter()
            for table in tables:
                store.insert_unit_table(table)
        else:
            name = create(store, columns, codec, engine)
            cut = [t.select(columns) for t in tables]
            started = time.perf_counter()
            for table in cut:
                store.insert_table(name, table)
        return sum(t.num_rows for t in tables) / (time.perf_counter() - started)
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--data", type=Path, default=LOCOMO)
    args = parser.parse_args()

    codes, _, pool = corpus(args.data, args.units, 0, 11)
    batches = []
    for start in range(0, args.units, CHUNK):
        units = enrich(chunk_events(codes[start : start + CHUNK], pool, start), Settings())
        rows, rejects = unit_rows([(u.to_json(), u.id.encode()) for u in units], 0)
        if rejects:
            raise SystemExit(f"{len(rejects)} units dead-lettered: {rejects[0].message}")
        batches.append(rows)
    columns = batches[0].column_names
    others = [c for c in columns if c not in KEY and c not in VECTORS]
    log(f"{args.units:,} units in {len(batches)} Arrow batches of up to {CHUNK:,}")

    groups = {
        "memory_units as shipped": ([SHIPPED], "", ""),
        "all columns, plain table": (columns, "", ""),
        "key + vectors": (KEY + VECTORS, "", ""),
        "key + vectors, no codec": (KEY + VECTORS, " CODEC(NONE)", ""),
        "key + every other column": (KEY + others, "", ""),
        "Arrow read alone (Null)": (columns, "", "Null"),
    }
    print(f"\nINSERT by column group, {args.units:,} units, merges stopped; units/s")
    for label, (names, codec, engine) in groups.items():
        print(f"  {label:<28} {insert_rate(names, codec, engine, batches):>9,.0f}")


if __name__ == "__main__":
    main()
