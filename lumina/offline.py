"""`lumina enrich`: a JSONL file of TextEvents to a JSONL file of MemoryUnits, no Kafka."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from lumina.config import Settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import Incoming, Pipeline
from lumina.errors import InvalidEvent, ReasonCode
from lumina.schemas import decode_event

PROGRESS_MIN_BYTES = 1 << 20  # a bar only when the input is long enough to wait for


@dataclass
class EnrichCounts:
    read: int = 0
    units: int = 0
    rejected: int = 0


def rejects_path_for(output: Path) -> Path:
    return output.with_name(output.stem + ".rejects.jsonl")


def _reject(out: IO[str], line_no: int, reason: ReasonCode, message: str, raw: bytes) -> None:
    record = {
        "line": line_no,
        "reason": reason.value,
        "message": message,
        "original_b64": base64.b64encode(raw).decode("ascii"),  # exact bytes, even non-UTF-8
    }
    out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _lines(path: Path, progress: bool) -> Iterator[tuple[int, bytes]]:
    size = path.stat().st_size
    show = progress and size >= PROGRESS_MIN_BYTES and sys.stderr.isatty()
    with (
        open(path, "rb") as handle,
        tqdm(total=size, unit="B", unit_scale=True, disable=not show, desc="enrich") as bar,
    ):
        for line_no, line in enumerate(handle, start=1):
            bar.update(len(line))
            yield line_no, line.rstrip(b"\r\n")


def enrich_file(
    source: Path,
    output: Path,
    settings: Settings,
    *,
    rejects: Path | None = None,
    batch_size: int = 256,
    progress: bool = True,
    pipeline: Pipeline | None = None,
) -> EnrichCounts:
    """Enrich every line; bad lines go to the rejects file with their line number and code.

    `pipeline` defaults to the settings' own."""
    pipeline = pipeline or Pipeline.from_settings(settings)
    chain = ProvenanceChain()
    counts = EnrichCounts()
    rejects = rejects or rejects_path_for(output)
    with (
        open(output, "w", encoding="utf-8") as units_out,
        open(rejects, "w", encoding="utf-8") as rejects_out,
    ):
        pending: list[tuple[int, Incoming]] = []

        def flush() -> None:
            result = pipeline.run([item for _, item in pending], chain=chain)
            for unit in result.units:
                units_out.write(unit.to_json().decode() + "\n")
            by_event = {id(item): n for n, item in pending}
            for failure in result.failures:
                line_no = by_event[id(failure.incoming)]
                message = f"{failure.stage}: {failure.message}"
                raw = failure.incoming.raw or b""
                _reject(rejects_out, line_no, ReasonCode.STAGE_ERROR, message, raw)
            counts.units += len(result.units)
            counts.rejected += len(result.failures)
            pending.clear()

        for line_no, raw in _lines(source, progress):
            if not raw.strip():
                continue  # blank lines are layout, not events
            counts.read += 1
            try:
                event = decode_event(
                    raw,
                    max_text_bytes=settings.max_text_bytes,
                    max_metadata_bytes=settings.max_metadata_bytes,
                )
            except InvalidEvent as exc:
                _reject(rejects_out, line_no, exc.reason, exc.message, raw)
                counts.rejected += 1
                continue
            pending.append((line_no, Incoming(event=event, raw=raw)))
            if len(pending) >= batch_size:
                flush()
        if pending:
            flush()
    return counts
