"""Ingest cost in-process: units/s in batches and per-unit latency one at a time.

Run: .venv/bin/python bench/ingest.py [--events N]
Prints the enrichment pipeline's throughput on the bundled conversation (repeated to N
events, each with its own event id) and the p50/p99 latency of enriching one event alone.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources

import numpy as np

from lumina.config import get_settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import Incoming, Pipeline
from lumina.schemas import TextEvent


def sample_events(n: int) -> list[TextEvent]:
    lines = resources.files("lumina.data").joinpath("demo_conversation.jsonl").read_text()
    base = [json.loads(line) for line in lines.splitlines() if line.strip()]
    return [TextEvent(**{**base[i % len(base)], "event_id": f"bench-{i}"}) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--single", type=int, default=500)
    args = parser.parse_args()

    settings = get_settings()
    started = time.perf_counter()
    pipeline = Pipeline.from_settings(settings)
    load_s = time.perf_counter() - started
    events = sample_events(args.events)
    pipeline.run([Incoming(e) for e in events[:64]], chain=ProvenanceChain())  # warm caches

    chain = ProvenanceChain()
    failures = 0
    started = time.perf_counter()
    for i in range(0, len(events), args.batch):
        result = pipeline.run([Incoming(e) for e in events[i : i + args.batch]], chain=chain)
        failures += len(result.failures)
    batch_s = time.perf_counter() - started
    if failures:  # a failing stage is fast: never report its speed as ours
        raise SystemExit(f"{failures} events failed a stage; figures would be meaningless")

    latencies = []
    for event in events[: args.single]:
        t0 = time.perf_counter()
        pipeline.run([Incoming(event)], chain=chain)
        latencies.append((time.perf_counter() - t0) * 1000)
    p50, p99 = np.percentile(latencies, [50, 99])

    print(f"pipeline stages       {', '.join(pipeline.versions.values())}")
    print(f"model load            {load_s:.2f} s")
    rate = len(events) / batch_s
    print(f"batched ({args.batch}/batch)    {rate:,.0f} units/s over {len(events)} events")
    print(f"one at a time         p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(latencies)} events")


if __name__ == "__main__":
    main()
