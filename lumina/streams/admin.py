"""Creates Lumina's topics before the worker starts, and checks the ones that exist."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from lumina.config import Settings
from lumina.errors import ConfigError

TOPIC_NAMES = (
    "events", "units", "dead-letter", "activations", "consolidations", "timelines", "access",
)  # fmt: skip


async def _ensure(brokers: str, settings: Settings) -> None:
    wanted = [settings.topic(name) for name in TOPIC_NAMES]
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            new = [NewTopic(t, settings.partitions, settings.replication_factor) for t in missing]
            with suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(new)
        present = [t for t in wanted if t in existing]
        for info in await admin.describe_topics(present) if present else []:
            count = len(info["partitions"])
            if count != settings.partitions:
                # Faust sizes table changelogs from LUMINA_PARTITIONS; a mismatch would
                # crash the agents later with a less helpful message.
                raise ConfigError(
                    f"topic {info['topic']} has {count} partitions but LUMINA_PARTITIONS is "
                    f"{settings.partitions}: set LUMINA_PARTITIONS={count}"
                )
    finally:
        await admin.close()


def ensure_topics(brokers: str, settings: Settings) -> None:
    """Create missing topics with LUMINA_PARTITIONS partitions; refuse a mismatch.

    Done before Faust starts so that a producer racing the worker cannot get the
    broker's auto-created default partition count instead.
    """
    asyncio.run(_ensure(brokers, settings))
