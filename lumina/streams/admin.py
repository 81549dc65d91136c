"""Creates Lumina's topics before the worker starts, and checks the ones that exist."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from lumina.config import Settings
from lumina.errors import ConfigError
from lumina.streams.tables import changelog_topics

TOPIC_NAMES = (
    "events", "units", "dead-letter", "activations", "consolidations", "timelines", "access",
)  # fmt: skip


# What Faust gives a (non-windowed) table's changelog when it creates one itself.
CHANGELOG_CONFIG = {"cleanup.policy": "compact"}


async def _ensure(brokers: str, settings: Settings) -> None:
    changelogs = changelog_topics(settings)
    wanted = [settings.topic(name) for name in TOPIC_NAMES] + changelogs
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            new = [
                NewTopic(
                    t,
                    settings.partitions,
                    settings.replication_factor,
                    topic_configs=CHANGELOG_CONFIG if t in changelogs else {},
                )
                for t in missing
            ]
            with suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(new)
            await _until_described(admin, missing)
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


async def _until_described(admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    """Wait until the broker describes every new topic with its partitions: creation
    returns before the metadata of a KRaft broker has them."""
    for _ in range(100):
        described = await admin.describe_topics(topics)
        if all(info["error_code"] == 0 and info["partitions"] for info in described):
            return
        await asyncio.sleep(0.1)
    raise ConfigError(f"the broker did not show the new topics {topics} within 10 s")


def ensure_topics(brokers: str, settings: Settings) -> None:
    """Create missing topics, and the tables' changelogs, with LUMINA_PARTITIONS
    partitions; refuse a mismatch.

    Done before Faust starts so that a producer racing the worker cannot get the
    broker's auto-created default partition count instead, and so that every changelog is
    in the consumer's first metadata: when Faust created them itself at start, on a
    loaded machine a table write could come before the consumer knew the changelog's
    partitions, and Faust crashed the agent (PartitionsMismatch, "has 0 partitions").
    """
    asyncio.run(_ensure(brokers, settings))
