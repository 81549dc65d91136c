"""The mypyc build of the fast path (`make native`): current, and what the tests run.

Without a build (no compiler, a plain pip install) the sources run as Python and both
tests pass trivially; `make test` builds first, so there they check the compiled modules.
"""

from lumina.enrich import native


def test_native_extensions_are_built_from_the_current_sources() -> None:
    # A compiled module shadows its source: an edit not rebuilt would go untested.
    assert native.stale() == [], "compiled from an older source: run `make native`"


def test_a_built_fast_path_is_the_one_imported() -> None:
    if not native.RECORD.is_file():
        return  # never built here: the sources run as Python
    assert all(native.compiled().values()), native.compiled()
