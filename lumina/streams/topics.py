"""The topics Lumina reads and writes, named from the configured prefix."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from lumina.config import Settings
from lumina.schemas import KafkaOrigin


@dataclass(frozen=True)
class Topics:
    events: faust.TopicT  # TextEvent JSON in, key = scope
    units: faust.TopicT  # MemoryUnit JSON out, key = scope
    dead_letter: faust.TopicT  # DeadLetter JSON, key = original key
    activations: faust.TopicT  # EntityActivation / ActivityWindow JSON, key = scope
    consolidations: faust.TopicT  # Consolidation JSON, key = scope
    timelines: faust.TopicT  # TimelineChange JSON, key = scope
    access: faust.TopicT  # AccessEvent JSON, key = scope (the reinforcement loop)

    @classmethod
    def declare(cls, app: faust.App, settings: Settings) -> Topics:
        def topic(name: str) -> faust.TopicT:
            return app.topic(
                settings.topic(name),
                key_type=bytes,
                value_type=bytes,
                partitions=settings.partitions,
                replicas=settings.replication_factor,
            )

        return cls(
            events=topic("events"),
            units=topic("units"),
            dead_letter=topic("dead-letter"),
            activations=topic("activations"),
            consolidations=topic("consolidations"),
            timelines=topic("timelines"),
            access=topic("access"),
        )


def origin_of(event: faust.EventT) -> KafkaOrigin:
    """Where a record was read: its topic, partition, offset and timestamp."""
    message = event.message
    return KafkaOrigin(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )
