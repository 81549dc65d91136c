"""Client for a running worker's HTTP API, found through its run file under LUMINA_HOME."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumina.errors import QueryInvalid, QueryRefused, StoreError

if TYPE_CHECKING:
    from lumina.store.retrieval import Filters

RUN_FILE = "worker.json"


@dataclass(frozen=True)
class WorkerHandle:
    pid: int
    api_url: str
    store_dsn: str

    def write(self, run_dir: Path) -> Path:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / RUN_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__), encoding="utf-8")
        tmp.replace(path)
        return path


def running_worker(run_dir: Path, store_dsn: str) -> WorkerHandle | None:
    """The live worker that owns `store_dsn`, or None (stale run files are ignored)."""
    path = run_dir / RUN_FILE
    try:
        handle = WorkerHandle(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if handle.store_dsn != store_dsn or not _alive(handle.pid):
        return None
    return handle


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def filter_params(filters: Filters | None) -> dict[str, Any]:
    """Filters as the worker's query parameters (see `lumina.api.filters_from`)."""
    if filters is None:
        return {}
    return {
        name: value
        for name, value in (
            ("since_ms", filters.since_ms),
            ("until_ms", filters.until_ms),
            ("author", filters.author),
            ("session", filters.session),
        )
        if value is not None
    }


class WorkerClient:
    """Same answers as `MemorySearch`, asked over HTTP."""

    def __init__(self, api_url: str, timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, **params: Any) -> Any:
        url = f"{self.api_url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
            error = body.get("error", f"HTTP {exc.code}")
            kinds = {"refused": QueryRefused, "query": QueryInvalid}
            raise kinds.get(body.get("kind"), StoreError)(error) from exc
        except urllib.error.URLError as exc:
            raise StoreError(f"the worker at {self.api_url} did not answer: {exc.reason}") from exc

    def search(
        self, text: str, scope: str, k: int = 10, filters: Filters | None = None
    ) -> list[dict[str, Any]]:
        params = filter_params(filters)
        return list(self._get("/api/search", q=text, scope=scope, k=k, **params)["hits"])

    def recall(
        self, roles: dict[str, str], scope: str, k: int = 10, filters: Filters | None = None
    ) -> list[dict[str, Any]]:
        params = {**roles, **filter_params(filters)}
        return list(self._get("/api/recall", scope=scope, k=k, **params)["hits"])

    def unbind(self, unit_id: str, role: str, scope: str, k: int = 5) -> list[dict[str, Any]]:
        return list(self._get("/api/unbind", id=unit_id, role=role, scope=scope, k=k)["fillers"])

    def sql(self, query: str) -> dict[str, Any]:
        return dict(self._get("/api/sql", q=query))

    def stats(self) -> dict[str, int]:
        return dict(self._get("/api/stats"))

    def process(self) -> dict[str, Any]:
        """The worker's garbage-collector figures (`lumina.heap.CollectorClock.snapshot`)."""
        return dict(self._get("/api/process"))

    def partitions(self) -> list[int]:
        """The input partitions the worker owns now."""
        return list(self._get("/api/partitions")["events"])
