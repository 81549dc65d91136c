"""Enrichment: named, versioned, batch-first stages that turn TextEvents into MemoryUnits.

No Kafka and no ClickHouse here; everything runs in memory (`enrich(events)`).
"""

from __future__ import annotations

from lumina.enrich.pipeline import EnrichResult, Incoming, Pipeline, StageFailure, enrich

__all__ = ["EnrichResult", "Incoming", "Pipeline", "StageFailure", "enrich"]
