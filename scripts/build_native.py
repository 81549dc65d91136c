"""Compile the fast profile's hot path with mypyc, in place: `make native` (why: the
docstring of `lumina.enrich.native`).

Does nothing when every module is built from its current source (the build records their
SHA-256), so `make setup` runs it every time and it only compiles after an edit.
One mypyc group, so the modules call each other natively; its shared runtime library is
named inside the package (`lumina/enrich/fastpath__mypyc…so`), where the editable install
finds it. Debug info is left out: it doubles the compile time and nothing reads it.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_native() -> ModuleType:
    """`lumina.enrich.native` from its file: importing the package would load the very
    extensions this build overwrites."""
    spec = importlib.util.spec_from_file_location("_native", REPO / "lumina/enrich/native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def up_to_date(native: ModuleType) -> bool:
    if not native.RECORD.is_file():
        return False
    built = json.loads(native.RECORD.read_text())
    extensions = [native.extension_paths(m) for m in native.MODULES]
    return built == native.source_digests() and all(extensions)


def main() -> None:
    native = load_native()
    if up_to_date(native):
        print("native fast path: up to date")
        return
    from mypyc.build import mypycify
    from setuptools import setup

    os.chdir(REPO)
    sources = [str(native.source_path(m).relative_to(REPO)) for m in native.MODULES]
    print(f"native fast path: compiling {len(sources)} modules with mypyc (a few minutes)")
    setup(
        name="lumina-native",
        py_modules=[],
        ext_modules=mypycify(
            sources, group_name="lumina.enrich.fastpath", opt_level="3", debug_level="0"
        ),
        script_args=["--quiet", "build_ext", "--inplace", "--build-temp", "build/native"],
    )
    native.RECORD.parent.mkdir(parents=True, exist_ok=True)
    native.RECORD.write_text(json.dumps(native.source_digests(), indent=1) + "\n")


if __name__ == "__main__":
    main()
