"""`lumina enrich`: a JSONL file of TextEvents to a JSONL file of MemoryUnits, no Kafka."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import IO

from tqdm import tqdm

from lumina.config import Settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import Incoming, Pipeline, StageFailure
from lumina.errors import InvalidEvent, ReasonCode

PROGRESS_MIN_BYTES = 1 << 20  # a bar only when the input is long enough to wait for


@dataclass
class EnrichCounts:
    read: int = 0
    units: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class Reject:
    """A line that became no unit: its number, reason code, message and exact bytes."""

    line_no: int
    reason: ReasonCode
    message: str
    raw: bytes


@dataclass
class LineBatch:
    """The lines read since the last flush: their events, the lines rejected among them, and
    their bytes. Rejects wait with the events so the rejects file stays in line order (a
    stage error is only known at the flush), and bytes so the bar counts finished lines."""

    events: list[tuple[int, Incoming]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    size_bytes: int = 0

    def full(self, batch_size: int) -> bool:
        # Held rejects count too, so a long run of bad lines is not held in memory.
        return len(self.events) >= batch_size or len(self.rejects) >= batch_size


def rejects_path_for(output: Path) -> Path:
    return output.with_name(output.stem + ".rejects.jsonl")


def _write_reject(out: IO[str], reject: Reject) -> None:
    record = {
        "line": reject.line_no,
        "reason": reject.reason.value,
        "message": reject.message,
        "original_b64": base64.b64encode(reject.raw).decode("ascii"),  # exact bytes, even non-UTF-8
    }
    out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _stage_reject(line_no: int, failure: StageFailure) -> Reject:
    message = f"{failure.stage}: {failure.message}"
    return Reject(line_no, ReasonCode.STAGE_ERROR, message, failure.incoming.raw or b"")


def _progress_bar(path: Path, progress: bool) -> tqdm:
    """A bar over the input's bytes, on stderr only for a long input and a terminal."""
    size = path.stat().st_size
    show = progress and size >= PROGRESS_MIN_BYTES and sys.stderr.isatty()
    return tqdm(total=size, unit="B", unit_scale=True, disable=not show, desc="enrich")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Numbered lines, each with its line ending (its bytes count towards the bar)."""
    with open(path, "rb") as handle:
        yield from enumerate(handle, start=1)


def _decode(line_no: int, raw: bytes, settings: Settings) -> Incoming | Reject:
    try:
        return Incoming.decode(raw, settings)
    except InvalidEvent as exc:
        return Reject(line_no, exc.reason, exc.message, raw)


@dataclass
class BatchWriter:
    """Enriches each batch and writes its units, then its rejects in line order."""

    pipeline: Pipeline
    units_out: IO[str]
    rejects_out: IO[str]
    bar: tqdm
    counts: EnrichCounts
    chain: ProvenanceChain = field(default_factory=ProvenanceChain)

    def write(self, batch: LineBatch) -> None:
        stage_rejects = self._enrich(batch.events)
        for reject in sorted([*batch.rejects, *stage_rejects], key=attrgetter("line_no")):
            _write_reject(self.rejects_out, reject)
        self.counts.rejected += len(batch.rejects) + len(stage_rejects)
        self.bar.update(batch.size_bytes)  # after the writes, so 100% means done

    def _enrich(self, events: list[tuple[int, Incoming]]) -> list[Reject]:
        """Writes the events' units; returns the stage errors as rejects."""
        if not events:
            return []
        result = self.pipeline.run([item for _, item in events], chain=self.chain)
        for unit in result.units:
            self.units_out.write(unit.to_json().decode() + "\n")
        self.counts.units += len(result.units)
        line_of = {id(item): line_no for line_no, item in events}
        return [_stage_reject(line_of[id(f.incoming)], f) for f in result.failures]


def enrich_file(
    source: Path,
    output: Path,
    settings: Settings,
    *,
    rejects: Path | None = None,
    progress: bool = True,
    pipeline: Pipeline | None = None,
) -> EnrichCounts:
    """Enrich every line, `settings.batch_size` events a batch; bad lines go to the rejects
    file with their line number and code, in line order.

    `pipeline` defaults to the settings' own."""
    pipeline = pipeline or Pipeline.from_settings(settings)
    counts = EnrichCounts()
    rejects = rejects or rejects_path_for(output)
    with (
        open(output, "w", encoding="utf-8") as units_out,
        open(rejects, "w", encoding="utf-8") as rejects_out,
        _progress_bar(source, progress) as bar,
    ):
        writer = BatchWriter(pipeline, units_out, rejects_out, bar, counts)
        batch = LineBatch()
        for line_no, line in _lines(source):
            batch.size_bytes += len(line)
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue  # blank lines are layout, not events
            counts.read += 1
            read = _decode(line_no, raw, settings)
            if isinstance(read, Reject):
                batch.rejects.append(read)
            else:
                batch.events.append((line_no, read))
            if batch.full(settings.batch_size):
                writer.write(batch)
                batch = LineBatch()
        writer.write(batch)  # the last events, and the rejects and bytes after them
    return counts
