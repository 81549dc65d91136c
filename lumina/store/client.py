"""MemoryStore: one clickhouse-connect client over chDB (embedded) or a ClickHouse server."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.exceptions import ClickHouseError
from pydantic import ValidationError

from lumina.errors import ConfigError, QueryInvalid, QueryRefused, StoreError
from lumina.schemas import DeadLetter, MemoryUnit
from lumina.schemas.unit_wire import WireUnit
from lumina.store.arrow import unit_arrow_table
from lumina.store.migrate import DEFAULT_EMBEDDING_DIM, apply_migrations
from lumina.store.rows import (
    UNIT_COLUMNS,
    dead_letter_table,
    unit_from_row,
)

log = logging.getLogger(__name__)

# Read-only at the server: writes, DDL and settings changes are refused by ClickHouse itself,
# so no SQL parsing of ours stands between a user and a write.
READ_ONLY = {"readonly": 1}
# Errors are told apart by ClickHouse's code, never by their words: every error quotes the
# query, and with it the `SETTINGS readonly = 1` the client appended.
ERROR_CODE = re.compile(r"\bCode: (\d+)\.")
# A write, DDL or settings change refused in read-only mode.
READONLY = 164
# ClickHouse errors that say the query is wrong as written (what ClickHouse's own HTTP
# interface answers with 400 or 404): NO_SUCH_COLUMN_IN_TABLE, BAD_ARGUMENTS,
# NUMBER_OF_ARGUMENTS_DOESNT_MATCH, ILLEGAL_TYPE_OF_ARGUMENT, UNKNOWN_FUNCTION,
# UNKNOWN_IDENTIFIER, TYPE_MISMATCH, UNKNOWN_TABLE, SYNTAX_ERROR, UNKNOWN_DATABASE,
# ILLEGAL_AGGREGATION, NOT_AN_AGGREGATE.
QUERY_FAULTS = frozenset({16, 36, 42, 43, 46, 47, 53, 60, 62, 81, 184, 215})
# memory_units' indexes an INSERT leaves to merges (see `insert_units`).
LEFT_TO_MERGES = "embedding_hnsw,text_terms"


def _literal(value: str | int) -> str:
    """A setting's value as SQL."""
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def redact_dsn(dsn: str) -> str:
    """The DSN with its password replaced, for messages and logs."""
    parsed = urlparse(dsn)
    if parsed.password is None:
        return dsn
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


def check_dsn(dsn: str) -> str:
    parsed = urlparse(dsn)
    if parsed.scheme == "chdb":
        if not parsed.path.startswith("/"):
            raise ConfigError(f"chDB DSN needs an absolute path: chdb:///abs/path, got {dsn!r}")
        return dsn
    if parsed.scheme in ("http", "https"):
        return dsn
    raise ConfigError(
        f"unsupported store DSN {redact_dsn(dsn)!r}: use chdb:///abs/path or http(s)://…"
    )


class MemoryStore:
    """Migrations, batched inserts and queries. Thread-safe: one lock around the client,
    because chDB is one in-process engine and the worker calls it from executor threads."""

    def __init__(self, client: Any, dsn: str) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.dsn = dsn

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb:")

    # -- plumbing -------------------------------------------------------------------------
    def command(self, sql: str) -> object:
        with self._lock:
            return self._client.command(sql)

    def query_rows(
        self, sql: str, parameters: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._client.query(sql, parameters=parameters).result_rows)

    def migrate(self, embedding_dim: int = DEFAULT_EMBEDDING_DIM) -> list[str]:
        return apply_migrations(self, embedding_dim)

    def embedding_dim(self) -> int:
        """The vector dimension `memory_units`' HNSW index was built for."""
        rows = self.query_rows(
            "SELECT type_full FROM system.data_skipping_indices "
            "WHERE database = currentDatabase() AND table = 'memory_units' "
            "AND name = 'embedding_hnsw'"
        )
        if not rows:
            raise StoreError("memory_units has no embedding index: the store is not migrated")
        # vector_similarity('hnsw', 'cosineDistance', 256)
        return int(str(rows[0][0]).rstrip(")").rsplit(",", 1)[1])

    def close(self) -> None:
        with self._lock:
            self._client.close()

    # -- writes ---------------------------------------------------------------------------
    def insert_units(self, units: Sequence[MemoryUnit | WireUnit]) -> int:
        """Insert a batch as one part. Its HNSW graph and text index are not built here but
        by the merge that folds the part into a bigger one (or `MATERIALIZE INDEX`): a merge
        of a ReplacingMergeTree may drop rows, so it builds both anew from the merged rows
        and an index built at insert is thrown away. The graph cost the sink most of its
        time (bench/store.py), the text index 4-13% of the INSERT's (bench/sink.py).
        Search reads a part without them exactly (vectors, `hasAnyTokens` over the text),
        so a unit is found once inserted."""
        if not units:
            return 0
        return self.insert_unit_table(unit_arrow_table(units))

    def insert_unit_table(self, table: pa.Table, left_to_merges: str = LEFT_TO_MERGES) -> int:
        """Insert `unit_arrow_table` rows, as `insert_units` does (indexes left to merges;
        the benches name fewer to time what building one at insert costs)."""
        return self.insert_table(
            "memory_units", table, {"exclude_materialize_skip_indexes_on_insert": left_to_merges}
        )

    def insert_table(
        self, name: str, table: pa.Table, settings: Mapping[str, str | int] | None = None
    ) -> int:
        """Insert an Arrow table whose columns are named as `name`'s columns, with `settings`
        for this INSERT only."""
        if table.num_rows == 0:
            return 0
        with self._lock:
            if self.embedded:
                self._insert_in_place(name, table, settings or {})
            else:
                self._client.insert_arrow(name, table, settings=dict(settings or {}))
        return int(table.num_rows)

    def _insert_in_place(
        self, name: str, table: pa.Table, settings: Mapping[str, str | int]
    ) -> None:
        # chDB reads the Arrow table where it lies: its `Python()` table function finds
        # `arrow_rows` by name in the calling frames. clickhouse-connect's `insert_arrow`
        # writes it to a temporary file as Arrow IPC for chDB to parse back: the units sink
        # ran at 14,442 units/s that way, 21,203-27,793 this way (bench/sink.py, 2026-12-05).
        arrow_rows = table  # noqa: F841 (read by chDB, by name)
        columns = ", ".join(f"`{c}`" for c in table.column_names)
        given = ", ".join(f"{k} = {_literal(v)}" for k, v in settings.items())
        self._client.command(
            f"INSERT INTO {name} ({columns}) {f'SETTINGS {given} ' if given else ''}"
            f"SELECT {columns} FROM Python(arrow_rows)"
        )

    def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        return self.insert_table("dead_letters", dead_letter_table(letters))

    # -- reads ----------------------------------------------------------------------------
    def units_by_id(self, scope: str, ids: Sequence[str]) -> dict[str, MemoryUnit]:
        """The latest version of each stored unit of `scope` among `ids` (missing: absent)."""
        if not ids:
            return {}
        rows = self.query_rows(
            f"SELECT {', '.join(UNIT_COLUMNS)} FROM memory_units FINAL "
            "WHERE scope = {scope:String} AND id IN {ids:Array(String)}",
            {"scope": scope, "ids": list(ids)},
        )
        units = {}
        for row in rows:
            try:
                unit = unit_from_row(row)
            except ValidationError as exc:  # e.g. a row from before schema 2 (no sequence)
                log.warning("stored unit %s cannot be read back: %s", row[1], exc.errors()[0])
                continue
            units[unit.id] = unit
        return units

    def read_only_sql(self, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
        """Run user SQL with ClickHouse read-only settings; refusals become QueryRefused."""
        try:
            with self._lock:
                result = self._client.query(sql, settings=READ_ONLY)
        except ClickHouseError as exc:
            message = str(exc)
            found = ERROR_CODE.search(message)
            code = int(found.group(1)) if found else None
            if code == READONLY:
                raise QueryRefused(
                    "refused: `lumina sql` is read-only (no writes, DDL or settings changes)"
                ) from exc
            fault = QueryInvalid if code in QUERY_FAULTS else StoreError
            raise fault(message.strip().splitlines()[0]) from exc
        return list(result.column_names), list(result.result_rows)


def open_store(dsn: str, *, migrate: bool = True, embedding_dim: int | None = None) -> MemoryStore:
    """Open the store at `dsn` (`chdb:///abs/path` or `http(s)://…`), applying migrations.

    `embedding_dim` is the dimension of the vectors the caller writes or searches with: a new
    store builds its vector index for it, and a store built for another dimension is
    refused (its index cannot hold or compare them)."""
    check_dsn(dsn)
    if dsn.startswith("chdb:"):
        Path(urlparse(dsn).path).mkdir(parents=True, exist_ok=True)
    try:
        client = clickhouse_connect.get_client(dsn=dsn)
    except Exception as exc:  # the driver raises several types; say which store failed
        raise StoreError(f"cannot open the store at {redact_dsn(dsn)}: {exc}") from exc
    store = MemoryStore(client, dsn)
    if migrate:
        store.migrate(embedding_dim or DEFAULT_EMBEDDING_DIM)
    if embedding_dim is not None and (built := store.embedding_dim()) != embedding_dim:
        store.close()
        raise ConfigError(
            f"the store at {redact_dsn(dsn)} holds {built}-dimension vectors, but this profile's "
            f"embedder makes {embedding_dim}: use the profile that filled it, or another "
            "store (LUMINA_CLICKHOUSE_DSN)"
        )
    return store
