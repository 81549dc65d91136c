"""Shared machinery for Lumina's local brokers: ports, readiness probes, process cleanup, errors."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Self, TypeVar

__all__ = [
    "BrokerError",
    "BrokerStartError",
    "KafkaJarsMissing",
    "LocalBroker",
    "free_port",
    "port_is_open",
    "tail_of",
    "wait_for_metadata",
    "wait_for_port",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# How much of broker.log an error message quotes: enough for a Java stack trace's head.
_LOG_TAIL_LINES = 40


class BrokerError(Exception):
    """A local broker could not be found, prepared or driven; the message says what to do."""


class BrokerStartError(BrokerError):
    """The broker process died or did not answer Kafka metadata requests in time."""


class KafkaJarsMissing(BrokerError):
    """The Apache Kafka jars for the test broker are not under LUMINA_HOME."""


# Ports handed out by free_port() in this process: the OS may offer a just-closed port again,
# and two brokers started back to back (e.g. a listener and its controller) must not collide.
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now.

    The port is only probed, not reserved: another process may still grab it before the broker
    binds it, in which case the broker dies at start and ``start()`` says so.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        with _handed_out_lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise BrokerError("could not find a free TCP port on 127.0.0.1; free some ports and retry")


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Return True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str, port: int, deadline: float, alive: Callable[[], bool] | None = None
) -> bool:
    """Poll until ``host:port`` accepts TCP, ``deadline`` (monotonic) passes, or ``alive()`` fails.

    Returns True once the port accepts. ``alive`` is an optional callable returning False when
    the process that should open the port has died, so a crash is not waited out to the deadline.
    """
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        if port_is_open(host, port):
            return True
        time.sleep(0.05)
    return False


async def _metadata_answers(bootstrap: str, request_timeout: float) -> bool:
    # Imported here so importing lumina.brokers (e.g. for the CLI's --help) stays cheap.
    from aiokafka.client import AIOKafkaClient
    from aiokafka.errors import KafkaError

    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=max(1000, int(request_timeout * 1000)),
        # The client lives for one probe; stop it from keeping idle connections to the broker.
        connections_max_idle_ms=10_000,
    )
    try:
        await client.bootstrap()
        # A KRaft broker can answer before it has registered with its controller; only a
        # metadata reply that lists a broker means clients can produce and consume.
        return bool(client.cluster.brokers())
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await client.close()


def _run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion from synchronous code, even if this thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # start() may be called from inside a running loop (an async CLI command or test); asyncio.run
    # refuses to nest, so the probe gets its own loop in a short-lived thread.
    result: list[_T] = []
    error: list[BaseException] = []

    def runner() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # handed back to the caller's thread below
            error.append(exc)

    thread = threading.Thread(target=runner, name="lumina-broker-probe", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def wait_for_metadata(
    bootstrap: str, deadline: float, alive: Callable[[], bool] | None = None
) -> bool:
    """Poll until a Kafka client can fetch cluster metadata from ``bootstrap`` with a broker listed.

    Returns False if ``deadline`` (monotonic) passes or ``alive()`` turns False first.
    """
    # aiokafka logs every refused bootstrap at ERROR; while the broker boots those are expected,
    # so they are muted for the probe only.
    client_log = logging.getLogger("aiokafka")
    previous_level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if alive is not None and not alive():
                return False
            if _run_coroutine(_metadata_answers(bootstrap, min(remaining, 5.0))):
                return True
            time.sleep(0.2)
    finally:
        client_log.setLevel(previous_level)


def tail_of(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a text file, or a note if it cannot be read."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            # Broker lines are short; 64 KiB is plenty for 40 of them without reading a big log.
            fh.seek(max(0, size - 65536))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(could not read {path}: {exc})"
    picked = text.splitlines()[-lines:]
    return "\n".join(picked) if picked else f"({path} is empty)"


class LocalBroker:
    """A Kafka-protocol broker run as a child process on 127.0.0.1, for tests, demos and the CLI.

    Subclasses supply the command line (and any one-off preparation); this class owns spawning,
    readiness, logs and shutdown. Use as a context manager, or call ``start()`` and ``stop()``.
    With ``data_dir=None`` the broker works in a fresh temp dir that ``stop()`` deletes, so pass
    a directory to keep Kafka's data (or the log) between runs.
    """

    kind: ClassVar[str] = "local"
    host: str = "127.0.0.1"

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port: int = port if port is not None else free_port(self.host)
        # A data dir we made ourselves is ours to delete on a clean stop; a caller's never is.
        self._owns_data_dir = data_dir is None
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix=f"lumina-{self.kind}-"))
        self.data_dir: Path = Path(data_dir)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: IO[bytes] | None = None
        self._start_failed = False
        self.started_in: float | None = None  # seconds the last successful start() took

    # -- what subclasses provide ---------------------------------------------------------------

    def _command(self) -> Sequence[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    def _prepare(self, deadline: float) -> None:
        """One-off work before the spawn (e.g. formatting storage); may raise BrokerStartError."""

    # -- public API ----------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` string Kafka clients bootstrap from."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the broker's stdout, stderr (and, for Kafka, log4j output) go."""
        return self.data_dir / "broker.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _alive(self) -> bool:
        return self.is_running

    def start(self, timeout: float = 60) -> None:
        """Spawn the broker and block until a Kafka client can fetch metadata from it.

        Raises BrokerStartError (quoting the end of the broker's log) if the process exits or
        does not answer within ``timeout`` seconds; the process is stopped in that case.
        """
        if self.is_running:
            return
        started = time.monotonic()
        deadline = started + timeout
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if port_is_open(self.host, self.port):
            # Without this check a client would happily talk to whatever already holds the port.
            raise BrokerStartError(
                f"{self.kind} broker cannot start: {self.bootstrap} is already in use; "
                "stop whatever listens there or pass another port (port=None picks a free one)"
            )
        self._start_failed = False
        try:
            self._prepare(deadline)
            self._spawn()
            if not wait_for_port(self.host, self.port, deadline, self._alive):
                self._fail("did not open its port", timeout)
            if not wait_for_metadata(self.bootstrap, deadline, self._alive):
                self._fail("did not answer a Kafka metadata request", timeout)
        except BaseException:
            self._start_failed = True
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        log.info("%s broker up on %s in %.1fs", self.kind, self.bootstrap, self.started_in)

    def stop(self, timeout: float = 20) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``timeout`` seconds. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self._kill_at_exit)
            if proc.poll() is None:
                self._signal(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    log.warning("%s broker ignored SIGTERM for %ss; killing it", self.kind, timeout)
                    self._signal(proc, signal.SIGKILL)
                    proc.wait()
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        # A temp dir we made goes with the broker, except after a failed start: its broker.log
        # is what the BrokerStartError message points at.
        if self._owns_data_dir and not self._start_failed:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def wait(self) -> int:
        """Block until the broker process exits (for the foreground CLI); return its exit code."""
        if self._proc is None:
            raise BrokerError(f"{self.kind} broker is not running; call start() first")
        return self._proc.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<{type(self).__name__} {self.bootstrap} {state} data_dir={self.data_dir}>"

    # -- helpers -------------------------------------------------------------------------------

    def _open_log(self) -> IO[bytes]:
        if self._log_fh is None:
            # Append: a restart in the same data dir keeps the earlier run's lines for debugging.
            self._log_fh = self.log_path.open("ab")
        return self._log_fh

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            list(self._command()),
            stdin=subprocess.DEVNULL,
            stdout=self._open_log(),
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            env=self._env(),
            # Own process group: a Ctrl-C in the terminal reaches only the CLI, which then stops
            # the broker in order instead of both dying at once.
            start_new_session=True,
        )
        # A test run that crashes or forgets stop() must not leave a JVM holding ports and memory.
        atexit.register(self._kill_at_exit)

    def _kill_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=5)

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        try:
            os.killpg(proc.pid, sig)  # the group also reaches any helper the broker forked
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    def _fail(self, what: str, timeout: float) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is not None:
            cause = f"exited with code {proc.returncode}"
        else:
            cause = f"{what} within {timeout:g}s"
        raise BrokerStartError(
            f"{self.kind} broker on {self.bootstrap} {cause}. Last lines of {self.log_path}:\n"
            f"{tail_of(self.log_path)}\n"
            "If the log shows no error and the machine is just busy, pass a larger "
            "start(timeout=...)."
        )
