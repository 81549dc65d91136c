"""Enrichment: named, versioned, batch-first stages that turn TextEvents into MemoryUnits.

No Kafka and no ClickHouse here; everything runs in memory (`enrich(events)`).
"""

from __future__ import annotations

import os

# Lumina never fetches weights at run time. Said here, before any stage module can import
# the Hugging Face libraries, so a missing local file fails loudly instead of downloading.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from lumina.enrich.pipeline import EnrichResult, Incoming, Pipeline, StageFailure, enrich

__all__ = ["EnrichResult", "Incoming", "Pipeline", "StageFailure", "enrich"]
