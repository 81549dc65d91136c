"""HTTP endpoints the worker serves, so other processes can query a store it owns."""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from lumina.errors import LuminaError, QueryRefused
from lumina.store.search import MemorySearch


def attach_api(app: faust.App, search: MemorySearch) -> None:
    """GET /api/search?q=&scope=&k=, GET /api/sql?q=, GET /api/stats."""

    async def answer(web: Any, call: Any, *args: Any) -> Any:
        try:
            result = await asyncio.to_thread(call, *args)
        except QueryRefused as exc:
            return web.json({"error": str(exc), "kind": "refused"}, status=400)
        except LuminaError as exc:
            return web.json({"error": str(exc), "kind": "store"}, status=500)
        return web.json(result)

    @app.page("/api/search")
    async def search_view(web: Any, request: Any) -> Any:
        query = request.query
        try:
            k = int(query.get("k", "10"))
        except ValueError:
            return web.json({"error": "k must be an integer", "kind": "refused"}, status=400)

        def run(text: str, scope: str, k: int) -> dict[str, Any]:
            return {"hits": [hit.as_dict() for hit in search.search(text, scope, k)]}

        return await answer(web, run, query.get("q", ""), query.get("scope", ""), k)

    @app.page("/api/sql")
    async def sql_view(web: Any, request: Any) -> Any:
        return await answer(web, search.sql, request.query.get("q", ""))

    @app.page("/api/stats")
    async def stats_view(web: Any, request: Any) -> Any:
        return await answer(web, search.stats)
