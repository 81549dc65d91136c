"""Faust tables and the one helper that keeps their changelog on the event's partition."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event

from lumina.config import Settings


def chain_heads_table(app: faust.App, settings: Settings) -> Any:
    """Scope → head of its provenance chain, recovered from the changelog on restart."""
    return app.Table(
        "chain-heads",
        default=None,
        partitions=settings.partitions,
        schema=faust.Schema(
            key_type=str, value_type=str, key_serializer="json", value_serializer="json"
        ),
        help="Head link of each scope's provenance chain.",
    )


@contextmanager
def writing_for(event: faust.EventT) -> Iterator[None]:
    """Make `event` the current one while table keys of its scope are written.

    A batch from `take_events` spans partitions, and Faust writes a table change to the
    changelog partition of the *current* event. Without this, a head for a scope read from
    partition 2 could land in partition 0's changelog and be lost to the worker that owns
    partition 2 after a rebalance. This keeps state next to its events whatever partitioner
    the producers used.
    """
    import weakref

    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
