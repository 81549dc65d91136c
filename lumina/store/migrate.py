"""Applies the numbered SQL migrations once each, recording them in `schema_migrations`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Protocol

# The vector dimension a store's HNSW index is built for when none is given: the fast
# profile's static model. Migrations write it where they say `{embedding_dim}`.
DEFAULT_EMBEDDING_DIM = 256

LEDGER_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
    "ENGINE = ReplacingMergeTree ORDER BY version"
)


class _Commands(Protocol):
    def command(self, sql: str) -> object: ...
    def query_rows(self, sql: str) -> list[tuple[Any, ...]]: ...


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every bundled migration, in order."""
    folder = resources.files("lumina.store.migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def render(sql: str, embedding_dim: int) -> str:
    """A migration with its parameters filled in (today only the vector dimension)."""
    if embedding_dim <= 0:
        raise ValueError(f"embedding dimension must be positive, got {embedding_dim}")
    return sql.replace("{embedding_dim}", str(int(embedding_dim)))


def export_ddl(folder: Path, embedding_dim: int = DEFAULT_EMBEDDING_DIM) -> list[Path]:
    """Write each migration as plain SQL, for users who manage their ClickHouse schema."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for _, name, sql in migration_files():
        path = folder / name
        path.write_text(render(sql, embedding_dim), encoding="utf-8")
        written.append(path)
    return written


def apply_migrations(store: _Commands, embedding_dim: int = DEFAULT_EMBEDDING_DIM) -> list[str]:
    """Apply what is missing; re-running is a no-op. Returns the names applied now.

    A migration is recorded after its last statement: one cut off midway runs again whole,
    so each statement is written to be safe to repeat (IF NOT EXISTS, IF EXISTS)."""
    store.command(LEDGER_DDL)
    done = {int(row[0]) for row in store.query_rows("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        for statement in _statements(render(sql, embedding_dim)):
            store.command(statement)
        store.command(f"INSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}')")
        applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    # Migrations hold plain DDL: no semicolons inside literals, so a split is safe.
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
