"""Plain-text tables for the terminal: search hits and SQL results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _clip(text: str | None, width: int) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_hits(hits: Sequence[dict[str, Any]]) -> None:
    if not hits:
        print("no results")
        return
    print(f"{'score':>6}  {'id':<12}  {'who':<10}  text")
    for hit in hits:
        print(
            f"{hit['score']:6.3f}  {hit['id'][:12]:<12}  {_clip(hit['who'], 10):<10}  "
            f"{_clip(hit['text'], 80)}"
        )


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_clip("-" if v is None else str(v), 60) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
