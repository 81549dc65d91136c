"""Local Kafka-protocol brokers for tests, the demo and the CLI: real Apache Kafka or Tansu."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lumina.brokers.base import (
    BrokerError,
    BrokerStartError,
    KafkaJarsMissing,
    LocalBroker,
    free_port,
)
from lumina.brokers.kafka import DEFAULT_KAFKA_VERSION, KafkaBroker
from lumina.brokers.tansu import TansuBinaryMissing, TansuBroker

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "BrokerError",
    "BrokerKind",
    "BrokerStartError",
    "KafkaBroker",
    "KafkaJarsMissing",
    "LocalBroker",
    "TansuBinaryMissing",
    "TansuBroker",
    "free_port",
    "make_broker",
]

BrokerKind = Literal["kafka", "tansu"]


def make_broker(
    kind: BrokerKind, port: int | None = None, data_dir: Path | None = None
) -> LocalBroker:
    """Build (not start) a broker of ``kind`` on ``port`` (None: a free one) in ``data_dir``."""
    if kind == "kafka":
        return KafkaBroker(port=port, data_dir=data_dir)
    if kind == "tansu":
        return TansuBroker(port=port, data_dir=data_dir)
    raise BrokerError(f"unknown broker kind {kind!r}; use 'kafka' (real Apache Kafka) or 'tansu'")
