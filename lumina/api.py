"""HTTP endpoints the worker serves, so other processes can query a store it owns."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust

from lumina.errors import LuminaError, QueryRefused
from lumina.schemas.state import AccessEvent
from lumina.store.search import MemorySearch
from lumina.streams.topics import Topics


def attach_api(app: faust.App, search: MemorySearch, topics: Topics) -> None:
    """GET /api/search?q=&scope=&k=, GET /api/sql?q=, GET /api/stats, GET /api/partitions.

    Every search hit is an access: it goes to `lumina.access`, and the reinforcement agent
    makes the unit last longer.
    """

    async def publish_accesses(scope: str, hits: list[dict[str, Any]]) -> None:
        now_ms = int(time.time() * 1000)
        for hit in hits:
            access = AccessEvent(scope=scope, unit_id=hit["id"], at_ms=now_ms, reason="retrieval")
            await topics.access.send(key=scope.encode(), value=access.model_dump_json().encode())

    async def answer(web: Any, call: Any, *args: Any, then: Any = None) -> Any:
        """Run `call` off the loop; errors become JSON; `then` sees a successful result."""
        try:
            result = await asyncio.to_thread(call, *args)
        except QueryRefused as exc:
            return web.json({"error": str(exc), "kind": "refused"}, status=400)
        except LuminaError as exc:
            return web.json({"error": str(exc), "kind": "store"}, status=500)
        if then is not None:
            await then(result)
        return web.json(result)

    @app.page("/api/search")
    async def search_view(web: Any, request: Any) -> Any:
        query = request.query
        try:
            k = int(query.get("k", "10"))
        except ValueError:
            return web.json({"error": "k must be an integer", "kind": "refused"}, status=400)

        scope = query.get("scope", "")

        def run(text: str, scope: str, k: int) -> dict[str, Any]:
            return {"hits": [hit.as_dict() for hit in search.search(text, scope, k)]}

        async def reinforce(result: dict[str, Any]) -> None:
            await publish_accesses(scope, result["hits"])

        return await answer(web, run, query.get("q", ""), scope, k, then=reinforce)

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
