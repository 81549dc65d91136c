"""HTTP endpoints the worker serves, so other processes can query a store it owns."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import faust

from lumina.core.symbols import ROLES
from lumina.errors import LuminaError, QueryInvalid, QueryRefused
from lumina.heap import CollectorClock
from lumina.store.retrieval import Filters
from lumina.store.search import MemorySearch
from lumina.streams.access import send_accesses
from lumina.streams.outbox import Outbox
from lumina.streams.topics import Topics


def _int(query: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise QueryRefused(f"{name} must be an integer") from exc


def filters_from(query: Mapping[str, str]) -> Filters:
    """`since_ms`, `until_ms`, `author`, `session` query parameters as Filters."""
    return Filters(
        since_ms=_int(query, "since_ms"),
        until_ms=_int(query, "until_ms"),
        author=query.get("author") or None,
        session=query.get("session") or None,
    )


def attach_api(
    app: faust.App, search: MemorySearch, topics: Topics, collector: CollectorClock
) -> None:
    """GET /api/search, /api/recall, /api/unbind, /api/sql, /api/stats, /api/partitions,
    /api/process.

    Search and recall results are accesses: they go to `lumina.access`, and the
    reinforcement agent makes those units last longer.
    """

    async def answer(web: Any, call: Any, *args: Any, accessed_in: str | None = None) -> Any:
        """Run `call` off the loop; errors become JSON; a result set of hits is published
        as accesses in scope `accessed_in`."""
        try:
            result = await asyncio.to_thread(call, *args)
        except QueryRefused as exc:
            return web.json({"error": str(exc), "kind": "refused"}, status=400)
        except QueryInvalid as exc:
            return web.json({"error": str(exc), "kind": "query"}, status=400)
        except LuminaError as exc:
            return web.json({"error": str(exc), "kind": "store"}, status=500)
        if accessed_in is not None:
            outbox = Outbox()

            async def send(key: bytes, value: bytes) -> None:
                outbox.add(topics.access, value, key)

            await send_accesses(send, accessed_in, [hit["id"] for hit in result["hits"]])
            await outbox.delivered()  # a refused access is an error, not a silent loss
        return web.json(result)

    def hits(found: list[Any]) -> dict[str, Any]:
        return {"hits": [hit.as_dict() for hit in found]}

    @app.page("/api/search")
    async def search_view(web: Any, request: Any) -> Any:
        q = request.query
        scope = q.get("scope", "")

        def run() -> dict[str, Any]:
            k = _int(q, "k", 10) or 10
            return hits(search.search(q.get("q", ""), scope, k, filters_from(q)))

        return await answer(web, run, accessed_in=scope)

    @app.page("/api/recall")
    async def recall_view(web: Any, request: Any) -> Any:
        q = request.query
        scope = q.get("scope", "")

        def run() -> dict[str, Any]:
            roles = {role: q[role] for role in ROLES if q.get(role)}
            return hits(search.recall(roles, scope, _int(q, "k", 10) or 10, filters_from(q)))

        return await answer(web, run, accessed_in=scope)

    @app.page("/api/unbind")
    async def unbind_view(web: Any, request: Any) -> Any:
        q = request.query

        def run() -> dict[str, Any]:
            k = _int(q, "k", 5) or 5
            fillers = search.unbind(q.get("id", ""), q.get("role", ""), q.get("scope", ""), k)
            return {"fillers": fillers}

        return await answer(web, run)

    @app.page("/api/sql")
    async def sql_view(web: Any, request: Any) -> Any:
        return await answer(web, search.sql, request.query.get("q", ""))

    @app.page("/api/partitions")
    async def partitions_view(web: Any, request: Any) -> Any:
        # Which input partitions this worker owns now: what scaling out by partitions moved.
        owned = sorted(
            tp.partition
            for tp in app.consumer.assignment()
            if tp.topic == topics.events.get_topic_name()
        )
        return web.json({"events": owned})

    @app.page("/api/stats")
    async def stats_view(web: Any, request: Any) -> Any:
        return await answer(web, search.stats)

    @app.page("/api/process")
    async def process_view(web: Any, request: Any) -> Any:
        # The garbage collector's share of the worker's time: what `settle_heap` saves.
        return web.json(collector.snapshot())
