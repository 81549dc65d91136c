"""Assembles and runs a worker: Faust app, agents, tables, store and HTTP API."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import faust

from lumina.agents.enrich import attach_enrich_agent
from lumina.agents.reinforce import attach_reinforce_agent
from lumina.agents.sink import attach_sink_agents
from lumina.agents.state import attach_state_agent
from lumina.api import attach_api
from lumina.config import Settings
from lumina.enrich import Pipeline
from lumina.enrich.profiles import Encoder, load_encoder
from lumina.heap import CollectorClock, settle_heap
from lumina.remote import RUN_FILE, WorkerHandle
from lumina.store import MemoryStore, open_store
from lumina.store.search import MemorySearch
from lumina.streams.admin import ensure_topics
from lumina.streams.app import create_app
from lumina.streams.delivery import attach_delivery_guard
from lumina.streams.fair_fetch import attach_fair_fetch
from lumina.streams.fetch_wait import attach_fetch_wait
from lumina.streams.tables import StateTables
from lumina.streams.topics import Topics

log = logging.getLogger(__name__)


class SettledWorker(faust.Worker):
    """Faust's worker, which settles the heap once start-up (table recovery included) is over."""

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        frozen = settle_heap()
        log.info("start-up over: %d objects frozen out of garbage collection", frozen)


def build_worker(
    settings: Settings,
    brokers: str,
    store: MemoryStore,
    embedder: Encoder,
    collector: CollectorClock,
) -> faust.App:
    """`embedder` is loaded once and shared by ingest and search (its vectors must match)."""
    app = create_app(settings, brokers)
    topics = Topics.declare(app, settings)
    tables = StateTables.declare(app, settings)
    agents = settings.agents
    if "enrich" in agents:
        pipeline = Pipeline.from_settings(settings, embedder=embedder)
        attach_enrich_agent(app, topics, pipeline, tables, settings)
    if "state" in agents:
        attach_state_agent(app, topics, tables, settings)
    if "reinforce" in agents:
        attach_reinforce_agent(app, topics, tables, store, settings)
    if "sink" in agents:
        attach_sink_agents(app, topics, store, settings)
    search = MemorySearch.from_settings(store, embedder, settings)
    attach_api(app, search, topics, collector)
    attach_delivery_guard(app)
    attach_fair_fetch(app)
    attach_fetch_wait(app, settings.fetch_max_wait_ms)

    @app.task
    async def quiet_debug_logging() -> None:
        # The worker's logging set-up leaves the root logger at DEBUG and filters in the
        # handler, so every debug call in aiokafka and Faust (one per message sent) built a
        # log record first, only for the handler to drop it. Filter at the logger.
        logging.getLogger().setLevel(settings.log_level.upper())

    return app


def reset_local_state(settings: Settings) -> None:
    """Forget local table state: a fresh embedded broker has no changelog to match it."""
    shutil.rmtree(settings.home / "worker" / settings.consumer_group, ignore_errors=True)


def run_worker(
    settings: Settings,
    brokers: str,
    extend: Callable[[faust.App, MemoryStore], None] | None = None,
) -> int:
    """Run in the foreground until SIGINT/SIGTERM. Returns the exit code.

    `extend` adds agents or tasks of the caller's to the app before it starts (the store
    outage test uses it to take the store away under a running worker)."""
    collector = CollectorClock().install()
    ensure_topics(brokers, settings)
    embedder = load_encoder(settings)
    store = open_store(settings.store_dsn, embedding_dim=embedder.dim)
    app = build_worker(settings, brokers, store, embedder, collector)
    if extend is not None:
        extend(app, store)
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    run_file: Path = WorkerHandle(os.getpid(), api_url, settings.store_dsn).write(settings.run_dir)
    worker_class = faust.Worker
    if settings.settle_heap:
        # The models, the store and the app are built: the bulk of the heap, frozen before
        # the worker starts so table recovery does not traverse it; the rest at start-up's end.
        settle_heap()
        worker_class = SettledWorker
    worker = worker_class(app, loglevel=settings.log_level.upper(), quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        if run_file.exists() and run_file.name == RUN_FILE:
            run_file.unlink(missing_ok=True)
        store.close()
    return 0
