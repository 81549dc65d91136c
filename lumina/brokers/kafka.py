"""Single-node Apache Kafka 4.x in KRaft mode (broker and controller in one JVM) for tests."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from lumina.brokers.base import (
    BrokerError,
    BrokerStartError,
    KafkaJarsMissing,
    LocalBroker,
    free_port,
    tail_of,
)

__all__ = ["DEFAULT_KAFKA_VERSION", "KafkaBroker", "find_java", "kafka_libs", "lumina_home"]

# Keep in step with <kafka.version> in kafka/pom.xml: scripts/fetch_kafka.sh installs that
# version and this is the one KafkaBroker looks for (a test checks the two agree).
DEFAULT_KAFKA_VERSION = "4.4.0"

# Written by scripts/fetch_kafka.sh next to libs/ once every jar has been copied.
STAMP_NAME = ".fetched"

# The heap and GC flags suit a 2-core, shared test machine: a small starting heap, a cap well
# below what tests and ClickHouse need, and G1 so pauses stay short under test load.
# C1 only: this broker lives for a test or a bench run, on cores it shares with the workers.
# Under the default tiered JIT, C2's compiler threads took about half the broker's CPU during
# bench/stream.py's steady run at 500 events/s (warming up a broker a minute old, which a
# long-running broker is long past) and the two cores were saturated; with C1 only the
# broker needed 28-35% of a core instead of 51-57%, and p99 went from 282-732 ms to 134-321
# ms (four runs each). LUMINA_KAFKA_JVM_OPTS adds options after these, e.g.
# -XX:TieredStopAtLevel=4.
_BROKER_JVM_FLAGS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    # Listeners are IPv4 loopback only; this skips IPv6 probing at startup.
    "-Djava.net.preferIPv4Stack=true",
)

# The storage formatter is a short one-shot JVM: C1 only and the serial GC start fastest.
_TOOL_JVM_FLAGS = (
    "-Xmx256m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
)

# Used when LUMINA_HOME holds jars but not the file fetch_kafka.sh writes (e.g. copied by hand).
LOG4J2_CONFIG = """\
# Lumina's local Kafka: WARN and above to broker.log in the data dir, nothing to the console.
status = warn
name = lumina-kafka
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/broker.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
"""


def lumina_home(home: Path | None = None) -> Path:
    """Return ``home``, else ``$LUMINA_HOME``, else ``~/.lumina``."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get("LUMINA_HOME")
    return Path(env).expanduser() if env else Path.home() / ".lumina"


def kafka_libs(home: Path | None = None, version: str | None = None) -> Path:
    """Return the Kafka jars' directory, or raise KafkaJarsMissing saying how to get them."""
    home = lumina_home(home)
    version = version or DEFAULT_KAFKA_VERSION
    version_dir = home / "kafka" / version
    libs = version_dir / "libs"
    # The stamp, not the jar alone, proves the copy finished: an interrupted fetch leaves jars.
    broker_jar = libs / f"kafka_2.13-{version}.jar"
    if not (version_dir / STAMP_NAME).is_file() or not broker_jar.is_file():
        raise KafkaJarsMissing(
            f"Apache Kafka {version} jars are not in {libs}. Run `make setup` with Java 17 and "
            "Maven installed (apt-get install openjdk-17-jdk-headless maven), or run "
            f"`scripts/fetch_kafka.sh {home}` directly; if the jars live elsewhere, set "
            "LUMINA_HOME to that directory."
        )
    return libs


def find_java() -> str:
    """Return the ``java`` launcher ($JAVA_HOME/bin/java first, like Kafka's own scripts)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise BrokerError(
            "the Kafka test broker needs Java 17 or newer and no `java` is on PATH; "
            "install openjdk-17-jdk-headless (or set JAVA_HOME), or use the tansu broker instead"
        )
    return found


def _new_cluster_id() -> str:
    # Kafka cluster ids are a UUID in unpadded URL-safe base64, as `kafka-storage random-uuid`
    # prints; making one here saves a JVM start (~2 s). Like Kafka, reject ids starting with "-"
    # so the formatter's argument parser cannot read one as an option.
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cid.startswith("-"):
            return cid


class KafkaBroker(LocalBroker):
    """Real Apache Kafka 4.x in KRaft mode: one JVM that is broker and controller (node.id=1).

    Listens on 127.0.0.1 only. Storage persists in ``data_dir`` across restarts (formatted on
    the first start), so a given ``data_dir`` keeps its topics and committed offsets.
    """

    kind: ClassVar[str] = "kafka"

    def __init__(
        self,
        port: int | None = None,
        data_dir: Path | None = None,
        home: Path | None = None,
        version: str | None = None,
    ) -> None:
        self.home: Path = lumina_home(home)
        self.version: str = version or DEFAULT_KAFKA_VERSION
        # Checked now, not at start(), so fixtures can skip before spending a temp dir or a port.
        self.libs_dir: Path = kafka_libs(self.home, self.version)
        self.java: str = find_java()
        super().__init__(port=port, data_dir=data_dir)
        self.controller_port: int | None = None
        self._log4j: Path | None = None

    @property
    def log_dirs(self) -> Path:
        """Where Kafka keeps its partitions and the KRaft metadata log."""
        return self.data_dir / "kraft-logs"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.properties"

    def _log4j_config(self) -> Path:
        # Written beside the data, so the config always matches this code's version.
        path = self.data_dir / "log4j2.properties"
        path.write_text(LOG4J2_CONFIG, encoding="utf-8")
        return path

    def _server_properties(self, controller_port: int) -> str:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            # A static voter list, not `format --standalone`: standalone (KIP-853) also writes the
            # controller's endpoint into the metadata log, and the controller port is picked
            # afresh on every start, so the voter comes from this file alone and never goes stale.
            "controller.quorum.voters": f"1@{self.host}:{controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.log_dirs),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            # One node: every internal topic must have replication factor 1 or it never forms.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # The defaults (50 offsets partitions, 50 transaction partitions) make the first
            # consumer group wait seconds while the broker creates them on 2 cores.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.num.partitions": "1",
            # Tests join groups constantly; the default 3 s delay would be added to each.
            "group.initial.rebalance.delay.ms": "0",
            # Small segments and a short retention keep a long-lived dev data dir small.
            "log.segment.bytes": str(16 * 1024 * 1024),
            "log.retention.hours": "24",
            "log.retention.check.interval.ms": "60000",
            # The cleaner (needed for compacted __consumer_offsets) defaults to a 128 MiB buffer.
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
            # Fewer threads than the server defaults: this is a 2-core box shared with the tests.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "2",
        }
        lines = ["# Written by lumina.brokers.kafka on every start; edits are overwritten."]
        lines += [f"{key}={value}" for key, value in props.items()]
        return "\n".join(lines) + "\n"

    def _classpath(self) -> str:
        # The JVM expands a trailing "/*" itself, so no shell is needed.
        return str(self.libs_dir / "*")

    def _prepare(self, deadline: float) -> None:
        self.controller_port = free_port(self.host)
        self.config_path.write_text(self._server_properties(self.controller_port), encoding="utf-8")
        self._log4j = self._log4j_config()
        if (self.log_dirs / "meta.properties").is_file():
            return  # formatted on an earlier start; formatting again would refuse anyway
        command = [
            self.java,
            *_TOOL_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={self._log4j}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            self._classpath(),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            _new_cluster_id(),
            "--config",
            str(self.config_path),
        ]
        log_fh = self._open_log()
        log_fh.write(b"--- lumina: formatting KRaft storage ---\n")
        log_fh.flush()
        try:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                timeout=max(1.0, deadline - time.monotonic()),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerStartError(
                f"formatting Kafka storage in {self.log_dirs} timed out. Last lines of "
                f"{self.log_path}:\n{tail_of(self.log_path)}\n"
                "Pass a larger start(timeout=...) if the machine is busy."
            ) from exc
        if result.returncode != 0:
            raise BrokerStartError(
                f"formatting Kafka storage in {self.log_dirs} failed (exit {result.returncode}). "
                f"Last lines of {self.log_path}:\n{tail_of(self.log_path)}\n"
                "Fix what the log names; if it is a missing class or a broken jar, delete "
                f"{self.libs_dir.parent} and run `make setup` again."
            )

    def _command(self) -> Sequence[str]:
        return [
            self.java,
            *_BROKER_JVM_FLAGS,
            # After the defaults, so an option given twice takes the user's value.
            *os.environ.get("LUMINA_KAFKA_JVM_OPTS", "").split(),
            f"-Dlog4j2.configurationFile={self._log4j}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(self.config_path),
        ]
