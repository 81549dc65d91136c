"""Builds the Faust app for a broker: consumer group, timeouts, serializers, web server."""

from __future__ import annotations

import faust

from lumina.config import Settings

PRODUCER_BATCH_BYTES = 512 * 1024
PRODUCER_LINGER_MS = 5
# Records handed over by one poll of the consumer. Faust stops fetching a partition whose
# agent queue (4,096 events) passes its high-pressure mark (4,096 / 1.25), but the records
# of a poll already taken are queued first, and a full queue blocks the hand-over for every
# topic. Unbounded, one poll of a backlog was ~13,000 events (1 MB a partition of ~300-byte
# events) against ~500 units (~8.6 kB each). With 500, and the partitions taking turns
# (lumina.streams.fair_fetch), units reach the state and sink agents during a backlog.
MAX_POLL_RECORDS = 500


def create_app(settings: Settings, brokers: str) -> faust.App:
    """A bare app; agents and views are attached by `lumina.worker`.

    Values stay raw bytes: the pydantic contracts in `lumina.schemas` are the one place
    that parses them, so a bad message reaches our decoder (and the dead-letter topic)
    instead of failing inside Faust's deserializer.
    """
    datadir = settings.home / "worker" / settings.consumer_group
    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return faust.App(
        settings.consumer_group,
        broker=[f"kafka://{b.strip()}" for b in brokers.split(",") if b.strip()],
        # RocksDB keeps table state on disk between runs, so a restart reads only the
        # changelog written since; memory:// re-reads every changelog from the start.
        store=f"{settings.table_store}://",
        datadir=str(datadir),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        # Short group timeouts: the embedded broker needs them, and a lone worker on real
        # Kafka joins in ~1 s instead of waiting out a 30 s rebalance.
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_rebalance_timeout=settings.session_timeout_s,
        producer_acks=-1,
        # A unit is ~8.6 kB: with aiokafka's 16 kB batches each went out nearly alone, one
        # produce request per unit. Batches of 512 kB (under a broker's default 1 MB message
        # limit), filled for up to 5 ms, carry a partition's share of a whole enrich batch.
        # Faust flushes the producer before every commit, so at-least-once is unchanged.
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_linger_ms=PRODUCER_LINGER_MS,
        broker_max_poll_records=MAX_POLL_RECORDS,
        web_enabled=True,
        web_bind=settings.api_host,
        web_host=settings.api_host,
        web_port=settings.api_port,
    )
