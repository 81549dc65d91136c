"""The units sink as it runs in the worker: from the JSON bytes on `lumina.units` to rows
in chDB, in batches of 5,000, against the previous sink (every unit through pydantic) in
the same run.

Run: .venv/bin/python bench/sink.py [--units 200000]

Units are enriched first (fast profile, LoCoMo turn pairs as in bench/store.py) and kept as
the bytes the enrich agent publishes (`MemoryUnit.to_json`); enrichment is not timed. The same
batches then go through each sink into a fresh chDB store of its own, one sink after the
other: the previous one (`MemoryUnit.model_validate_json` per unit) first, then the shipped
one (`parse_units`: the msgspec mirror, pydantic only for what it refuses); both then
`insert_units` (Arrow table, INSERT with the HNSW graph left to merges). Background merges
run as they would in the worker. One run, everything on the same two cores.
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
from lumina.schemas import MemoryUnit
from lumina.store import open_store


def run_sink(which: str, batches: list[list[tuple[bytes, bytes | None]]]) -> tuple[float, float]:
    """Seconds parsing and seconds inserting, all batches through one sink into a store of
    its own (so neither pays for the other's background merges)."""
    folder = Path(tempfile.mkdtemp(prefix=f"lumina-sink-bench-{which}-"))
    store = open_store(f"chdb://{folder / 'store'}")
    parse_s = insert_s = 0.0
    try:
        for raws in batches:
            started = time.perf_counter()
            if which == "shipped":
                units, rejects = parse_units(raws, 0)
                if rejects:
                    raise SystemExit(f"{len(rejects)} units dead-lettered: {rejects[0].message}")
            else:
                units = [MemoryUnit.model_validate_json(raw) for raw, _ in raws]
            parsed = time.perf_counter()
            store.insert_units(units)
            parse_s += parsed - started
            insert_s += time.perf_counter() - parsed
            del units
        stored = store.query_rows("SELECT count() FROM memory_units")[0][0]
        expected = sum(len(raws) for raws in batches)
        if stored != expected:
            raise SystemExit(f"{which}: {stored:,} rows stored, {expected:,} expected")
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)
    return parse_s, insert_s


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

    took: dict[str, tuple[float, float]] = {}
    for which in ("baseline", "shipped"):
        took[which] = run_sink(which, batches)
        log(f"{which} sink done")

    n = args.units
    shipped, baseline = sum(took["shipped"]), sum(took["baseline"])
    print(
        f"\nunits sink, JSON bytes -> chDB, batches of {CHUNK:,}, {n:,} units ({size:,.0f} B/unit)"
    )
    print(f"  {'':<44} {'units/s':>9} {'parse':>9} {'Arrow+INSERT':>13}")
    print(
        f"  {'shipped (msgspec mirror, insert_units)':<44} {n / shipped:>9,.0f} "
        f"{n / took['shipped'][0]:>9,.0f} {n / took['shipped'][1]:>13,.0f}"
    )
    print(
        f"  {'baseline (pydantic per unit, same insert)':<44} {n / baseline:>9,.0f} "
        f"{n / took['baseline'][0]:>9,.0f} {n / took['baseline'][1]:>13,.0f}"
    )
    print(f"  ratio shipped / baseline: {baseline / shipped:.2f}x   target >= 20,000 units/s")


if __name__ == "__main__":
    main()
