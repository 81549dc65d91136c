"""Writes the JSON Schema of every contract to the top-level `schemas/` folder."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from lumina.schemas.dead_letter import DeadLetter
from lumina.schemas.events import TextEvent
from lumina.schemas.units import MemoryUnit

CONTRACTS: dict[str, type[BaseModel]] = {
    "text_event": TextEvent,
    "memory_unit": MemoryUnit,
    "dead_letter": DeadLetter,
}


def render_schemas() -> dict[str, str]:
    """File name → JSON text, stable (sorted keys, trailing newline) so diffs are meaningful."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True)
        + "\n"
        for name, model in CONTRACTS.items()
    }


def export_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in render_schemas().items():
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
