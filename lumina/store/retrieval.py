"""The SQL of retrieval: candidates by embedding (HNSW), by words (BM25) and by shape, and the
latest version of the units they name. Ranking and fusion live in `lumina.store.search`.

Every query takes the scope as a bound parameter and filters on it first: the scope is the
leading key of `memory_units`, so ClickHouse reads only that scope's granules, and no value
of it can widen a query to another scope.

Candidate queries read without FINAL, because the vector and text indexes serve only plain
reads; a unit with several versions not merged yet can show up more than once, so
candidates are deduplicated by id here and their fields are then read with FINAL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lumina.config import Settings
from lumina.store.client import MemoryStore

# BM25 as Robertson and Spärck Jones weight it, with the usual k1 and b.
BM25_K1 = 1.2
BM25_B = 0.75
# A word in more than this share of a scope's units says little about any of them, and
# matching it would make every unit a lexical candidate: BM25 leaves it out.
MAX_TERM_SHARE = 0.25
# Words of a query looked up at most (a pasted page is not a query).
MAX_QUERY_TERMS = 32
# Rows BM25 scores at most per query, about: candidates are the rows holding the query's
# rarest words, taken rarest first until their postings add up to this (always at least the
# rarest word's), and each is scored on all the query's words. A query of common words is
# thus answered from its rarest one, not from a scan of most of the scope.
MAX_SCORED_ROWS = 20_000
# HNSW candidate list per dense search; see `dense_candidates`.
DEFAULT_HNSW_EF: int = Settings.model_fields["search_hnsw_ef"].default


@dataclass(frozen=True)
class Filters:
    """Narrowing within a scope: event time in [since, until), author, session."""

    since_ms: int | None = None
    until_ms: int | None = None
    author: str | None = None
    session: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        """An SQL condition (starting with AND, or empty) and its parameters."""
        parts: list[str] = []
        params: dict[str, Any] = {}
        if self.since_ms is not None:
            parts.append("event_time >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')")
            params["since"] = self.since_ms
        if self.until_ms is not None:
            parts.append("event_time < fromUnixTimestamp64Milli({until:Int64}, 'UTC')")
            params["until"] = self.until_ms
        if self.author is not None:
            parts.append("author = {author:String}")
            params["author"] = self.author
        if self.session is not None:
            parts.append("session = {session:String}")
            params["session"] = self.session
        return "".join(f" AND {p}" for p in parts), params


@dataclass(frozen=True)
class StoredHit:
    """What a result shows of a unit: its latest version, with its strength now."""

    id: str
    text: str
    who: str | None
    what: str | None
    when: str | None
    where: str | None
    author: str | None
    session: str | None
    salience: float
    event_ms: int
    access_count: int
    strength: float


def dense_candidates(
    store: MemoryStore,
    scope: str,
    vector: Sequence[float],
    n: int,
    filters: Filters,
    *,
    embed_version: str,
    ef: int = DEFAULT_HNSW_EF,
) -> list[tuple[str, float]]:
    """Up to `n` (id, cosine) of the scope nearest `vector`, nearest first, via HNSW.

    `ef` is the graph search's candidate list: over a million units here ClickHouse's 256
    found 92% of the exact top-10 and 1,024 finds 98%, for a few ms more (bench/store.py)."""
    condition, params = filters.where()
    rows = store.query_rows(
        "SELECT id, cosineDistance(embedding, {q:Array(Float32)}) AS distance "
        "FROM memory_units WHERE scope = {scope:String} "
        f"AND embed_version = {{embed:String}}{condition} "
        "ORDER BY distance LIMIT {n:UInt32} "
        "SETTINGS hnsw_candidate_list_size_for_search = {ef:UInt32}",
        # Versions of a unit not merged yet take extra rows: ask for a few more.
        {
            **params,
            "q": list(map(float, vector)),
            "scope": scope,
            "embed": embed_version,
            "n": 2 * n,
            "ef": ef,
        },
    )
    seen: dict[str, float] = {}
    for unit_id, distance in rows:
        seen.setdefault(str(unit_id), 1.0 - float(distance))
    return list(seen.items())[:n]


def corpus_stats(store: MemoryStore, scope: str) -> tuple[int, float]:
    """(rows, mean words per row) of a scope. Rows, not distinct ids: a version not merged
    yet counts twice until its merge, which moves idf by a hair, where counting distinct
    ids would read every id of the scope on every query."""
    rows = store.query_rows(
        "SELECT count(), avg(term_count) FROM memory_units WHERE scope = {scope:String}",
        {"scope": scope},
    )
    units, mean = rows[0]
    return int(units), float(mean) if units else 0.0


def query_terms(store: MemoryStore, text: str) -> list[str]:
    """The distinct words of a query, split and lowercased by ClickHouse as the text index
    splits and lowercases the stored text (Python's `lower` folds more than ASCII)."""
    rows = store.query_rows(
        "SELECT arraySlice(arrayDistinct(splitByNonAlpha(lower({text:String}))), 1, {n:UInt32})",
        {"text": text, "n": MAX_QUERY_TERMS},
    )
    return [str(term) for term in rows[0][0]]


def term_rows(store: MemoryStore, scope: str, terms: Sequence[str]) -> dict[str, int]:
    """Rows of the scope holding each term (its document frequency), counted from the
    text index's postings; terms the scope never uses are left out."""
    if not terms:
        return {}
    sql = " UNION ALL ".join(
        f"SELECT {i} AS i, count() AS n FROM memory_units "
        f"WHERE scope = {{scope:String}} AND hasAnyTokens(text, [{{t{i}:String}}])"
        for i in range(len(terms))
    )
    params: dict[str, Any] = {f"t{i}": term for i, term in enumerate(terms)}
    rows = store.query_rows(sql, {**params, "scope": scope})
    return {terms[int(i)]: int(n) for i, n in rows if int(n) > 0}


def idf_weights(term_df: dict[str, int], units: int) -> dict[str, float]:
    """BM25 idf of each term, leaving out those in more than MAX_TERM_SHARE of the units."""
    return {
        term: math.log(1.0 + (units - df + 0.5) / (df + 0.5))
        for term, df in term_df.items()
        if df <= MAX_TERM_SHARE * units or units < 8
    }


def candidate_terms(term_df: dict[str, int], weighted: Sequence[str]) -> list[str]:
    """The rarest of the weighted terms whose postings add up to about MAX_SCORED_ROWS."""
    chosen: list[str] = []
    rows = 0
    for term in sorted(weighted, key=lambda t: (term_df[t], t)):
        if chosen and rows + term_df[term] > MAX_SCORED_ROWS:
            break
        chosen.append(term)
        rows += term_df[term]
    return chosen


def lexical_candidates(
    store: MemoryStore, scope: str, text: str, n: int, filters: Filters
) -> list[tuple[str, float]]:
    """Up to `n` (id, BM25) of the scope for the words of `text`, best first."""
    units, mean_len = corpus_stats(store, scope)
    term_df = term_rows(store, scope, query_terms(store, text))
    idf = idf_weights(term_df, units)
    if not idf:
        return []
    condition, params = filters.where()
    rows = store.query_rows(
        "SELECT id, arraySum(arrayMap((t, w) -> w * countEqual(terms, t) * {k1p:Float64} "
        "/ (countEqual(terms, t) + {k1:Float64} * (1 - {b:Float64} + {b:Float64} * term_count "
        "/ {mean:Float64})), {terms:Array(String)}, {idf:Array(Float64)})) AS score "
        "FROM memory_units WHERE scope = {scope:String} "
        f"AND hasAnyTokens(text, {{anchors:Array(String)}}){condition} "
        "ORDER BY score DESC, id LIMIT 1 BY id LIMIT {n:UInt32}",
        {
            **params,
            "terms": list(idf),
            "idf": list(idf.values()),
            "anchors": candidate_terms(term_df, list(idf)),
            "k1": BM25_K1,
            "k1p": BM25_K1 + 1,
            "b": BM25_B,
            "mean": max(mean_len, 1.0),
            "scope": scope,
            "n": n,
        },
    )
    return [(str(unit_id), float(score)) for unit_id, score in rows]


def shape_candidates(
    store: MemoryStore, scope: str, probe: Sequence[float], n: int, filters: Filters
) -> list[tuple[str, float]]:
    """Up to `n` (id, cosine) of the scope whose shapes best match a role probe.

    Exact: a scan of the scope's shapes (no index on shapes; a scope of 100,000 units is
    about 0.4 GB of them)."""
    condition, params = filters.where()
    rows = store.query_rows(
        "SELECT id, 1 - cosineDistance(shape, {q:Array(Float32)}) AS score "
        f"FROM memory_units FINAL WHERE scope = {{scope:String}}{condition} "
        "ORDER BY score DESC, id LIMIT {n:UInt32}",
        {**params, "q": list(map(float, probe)), "scope": scope, "n": n},
    )
    return [(str(unit_id), float(score)) for unit_id, score in rows]


def stored_hits(store: MemoryStore, scope: str, ids: Sequence[str]) -> dict[str, StoredHit]:
    """The latest version of each of `ids` in `scope`, with its strength now computed in SQL
    by the same formula as the `unit_strength` view."""
    if not ids:
        return {}
    rows = store.query_rows(
        "SELECT id, text, role_who, role_what, role_when, role_where, author, session, "
        "salience, toUnixTimestamp64Milli(event_time), access_count, "
        "greatest(decay_floor, exp2(-greatest(dateDiff('millisecond', last_access, now64(3)), 0)"
        " / 1000 / half_life_s)) "
        "FROM memory_units FINAL WHERE scope = {scope:String} AND id IN {ids:Array(String)}",
        {"scope": scope, "ids": list(ids)},
    )
    return {
        str(r[0]): StoredHit(
            id=str(r[0]),
            text=str(r[1]),
            who=r[2],
            what=r[3],
            when=r[4],
            where=r[5],
            author=r[6],
            session=r[7],
            salience=float(r[8]),
            event_ms=int(r[9]),
            access_count=int(r[10]),
            strength=float(r[11]),
        )
        for r in rows
    }


def role_fillers(store: MemoryStore, scope: str, role: str) -> list[str]:
    """Every filler a role has in a scope: the clean-up vocabulary for unbinding it."""
    column = f"role_{role}"  # `role` is checked against ROLES by the caller
    rows = store.query_rows(
        f"SELECT DISTINCT {column} FROM memory_units "
        f"WHERE scope = {{scope:String}} AND {column} IS NOT NULL",
        {"scope": scope},
    )
    return sorted(str(r[0]) for r in rows)


def unit_shape(store: MemoryStore, scope: str, unit_id: str) -> list[float] | None:
    """The shape of a unit of `scope`, or None if the scope has no such unit."""
    rows = store.query_rows(
        "SELECT shape FROM memory_units WHERE scope = {scope:String} AND id = {id:String} LIMIT 1",
        {"scope": scope, "id": unit_id},
    )
    return list(rows[0][0]) if rows else None
