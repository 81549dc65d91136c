"""A batch's records, handed to the producer together and confirmed before the batch is.

Faust's `topic.send` does not surface a record the broker refuses: the refusal ends in a
future nobody awaits ("exception was never retrieved" in the log), the agent's batch is
acknowledged, and its events are committed without their output. That happened to every
unit of a batch when `lumina.units` refused them as too large (`max.message.bytes`). An
`Outbox` hands each record to the producer without waiting, then waits for the broker to
take all of them; a refusal (a record too large for the topic, a partition without a
leader for longer than the producer retries) raises there, inside the agent's batch, which
is then kept and tried again (`lumina.agents.retry`) instead of committed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust


class Outbox:
    def __init__(self) -> None:
        self.pending: list[asyncio.Future[Any]] = []

    async def send(self, topic: faust.TopicT, value: bytes, key: bytes | None = None) -> None:
        """Hand one record to the producer without waiting for the broker."""
        message = topic.as_future_message(key=key, value=value)
        self.pending.append(await topic.publish_message(message, wait=False))  # type: ignore[arg-type]

    async def delivered(self) -> None:
        """Wait until the broker has every record sent so far; the first refusal raises."""
        pending, self.pending = self.pending, []
        await asyncio.gather(*pending)
