"""The units sink as it runs in the worker: from the JSON bytes on `lumina.units` to rows
in chDB, in batches of 5,000, against the previous sink (every unit through pydantic) in
the same run.

Run: .venv/bin/python bench/sink.py [--units 200000]

Units are enriched first (fast profile, LoCoMo turn pairs as in bench/store.py) and kept as
the bytes the enrich agent publishes (`MemoryUnit.to_json`); enrichment is not timed. Each
batch then goes through both sinks, in alternating order so background merges weigh on
both alike: the shipped one (`parse_units`, msgspec mirror, then `insert_units`) into
`memory_units`, the previous one (`MemoryUnit.model_validate_json` per unit, then the same
Arrow build and INSERT) into a copy of it. The HNSW graph is left to merges in both, as
shipped. One run, everything on the same two cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import CHUNK, DEFER, LOCOMO, chunk_events, corpus, insert_arrow, log

from lumina.agents.sink import parse_units
from lumina.config import Settings
from lumina.enrich import enrich
from lumina.schemas import MemoryUnit
from lumina.store import open_store
from lumina.store.arrow import unit_arrow_table

BASELINE = "baseline_units"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=LOCOMO)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    settings = Settings()
    codes, _, pool = corpus(args.data, args.units, 0, args.seed)
    batches: list[list[tuple[bytes, bytes | None]]] = []
    for start in range(0, args.units, CHUNK):
        units = enrich(chunk_events(codes[start : start + CHUNK], pool, start), settings)
        batches.append([(u.to_json(), u.id.encode()) for u in units])
    size = sum(len(raw) for batch in batches for raw, _ in batch) / args.units
    log(f"{args.units:,} units enriched, {size:,.0f} bytes of JSON a unit")

    folder = Path(tempfile.mkdtemp(prefix="lumina-sink-bench-"))
    store = open_store(f"chdb://{folder / 'store'}")
    store.command(f"CREATE TABLE {BASELINE} AS memory_units")
    took = {"parse": 0.0, "insert": 0.0, "base_parse": 0.0, "base_insert": 0.0}
    for number, raws in enumerate(batches):
        for which in ("shipped", "baseline")[:: 1 if number % 2 else -1]:
            started = time.perf_counter()
            if which == "shipped":
                units, rejects = parse_units(raws, 0)
                parsed = time.perf_counter()
                store.insert_units(units)
                took["parse"] += parsed - started
                took["insert"] += time.perf_counter() - parsed
            else:
                validated = [MemoryUnit.model_validate_json(raw) for raw, _ in raws]
                parsed = time.perf_counter()
                insert_arrow(store, BASELINE, unit_arrow_table(validated), DEFER)
                took["base_parse"] += parsed - started
                took["base_insert"] += time.perf_counter() - parsed
            assert not rejects if which == "shipped" else True
    stored = store.query_rows("SELECT count() FROM memory_units")[0][0]
    store.close()
    if stored != args.units:
        raise SystemExit(f"{stored:,} rows stored, {args.units:,} expected")

    n = args.units
    shipped = took["parse"] + took["insert"]
    baseline = took["base_parse"] + took["base_insert"]
    print(
        f"\nunits sink, JSON bytes -> chDB, batches of {CHUNK:,}, {n:,} units ({size:,.0f} B/unit)"
    )
    print(f"  {'':<44} {'units/s':>9} {'parse':>9} {'Arrow+INSERT':>13}")
    print(
        f"  {'shipped (msgspec mirror, insert_units)':<44} {n / shipped:>9,.0f} "
        f"{n / took['parse']:>9,.0f} {n / took['insert']:>13,.0f}"
    )
    print(
        f"  {'baseline (pydantic per unit, same insert)':<44} {n / baseline:>9,.0f} "
        f"{n / took['base_parse']:>9,.0f} {n / took['base_insert']:>13,.0f}"
    )
    print(f"  ratio shipped / baseline: {baseline / shipped:.2f}x   target >= 20,000 units/s")


if __name__ == "__main__":
    main()
