"""The fast profile's hot path compiled to C with mypyc, and whether that build is current.

Four modules do all of fast attribution (tokens, dates, weights and entities, 6W rules).
They are plain typed Python, and `make setup` also compiles them with mypyc (part of mypy,
a dev dependency) into extension modules beside their sources; Python imports an
extension before a source file of the same name, so a worker, `lumina enrich` and the
tests all run the compiled ones. Without the build (a plain `pip install`, no compiler)
the same sources run as Python, slower and otherwise alike (the test suite passes either
way). `bench/enrich_speed.py` measures fast attribution both ways in one run (1.14-1.16x
faster compiled in the README's runs).

A compiled module shadows its source, so an edited source must be rebuilt: `make native`
runs `scripts/build_native.py`, which compiles only when a source changed, and
`test_native` fails while a build is stale. The build records each source's SHA-256 in
`build/native/sources.json`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

__all__ = [
    "MODULES",
    "RECORD",
    "compiled",
    "extension_paths",
    "source_digests",
    "source_path",
    "stale",
]

# The checkout holding the package (the build runs in place there).
SOURCE_ROOT = Path(__file__).resolve().parents[2]
# Order does not matter to mypyc; these import each other and nothing else compiled.
MODULES: tuple[str, ...] = (
    "lumina.enrich.tokens",
    "lumina.enrich.timex",
    "lumina.enrich.attribution_fast",
    "lumina.enrich.roles_rules",
)
RECORD = SOURCE_ROOT / "build" / "native" / "sources.json"


def source_path(module: str) -> Path:
    return SOURCE_ROOT.joinpath(*module.split(".")).with_suffix(".py")


def source_digests() -> dict[str, str]:
    """SHA-256 of each compiled module's source, as the build records them."""
    return {m: hashlib.sha256(source_path(m).read_bytes()).hexdigest() for m in MODULES}


def extension_paths(module: str) -> list[Path]:
    """The compiled extensions of `module` beside its source (none when not built)."""
    source = source_path(module)
    return sorted(source.parent.glob(f"{source.stem}.*.so"))


def compiled() -> dict[str, bool]:
    """Whether each module was imported from a compiled extension rather than its source."""
    return {m: not str(importlib.import_module(m).__file__).endswith(".py") for m in MODULES}


def stale() -> list[str]:
    """Modules running from an extension built from another version of their source."""
    running = [m for m, is_compiled in compiled().items() if is_compiled]
    if not running:
        return []
    built = json.loads(RECORD.read_text()) if RECORD.is_file() else {}
    current = source_digests()
    return [m for m in running if built.get(m) != current[m]]
