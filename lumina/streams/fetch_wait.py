"""How long the worker's fetches may wait at the broker for records to arrive.

A consumer's fetch names a maximum wait: a broker with no new records for it holds the
request that long. Apache Kafka answers a held fetch as soon as records arrive, so the wait
costs nothing there; Tansu, the embedded broker, holds it the whole time, so each event
waited for the fetch in flight: produce → consume took 133 ms p50 with aiokafka's default
500 ms, 25 ms with 100 and 7 ms with 20, against 4-5 ms on Kafka with any of them
(`bench/fetch_wait.py`). Faust fixes its worker consumer's wait at 1,500 ms;
`LUMINA_FETCH_MAX_WAIT_MS` sets it (Kafka's own default, 500, unless set), and `lumina up`
and `lumina demo` set it low (`EMBEDDED_FETCH_WAIT_MS`) on the embedded broker.

Faust creates the aiokafka consumer in its consumer thread (`_create_worker_consumer`,
faust-streaming 0.15.3); aiokafka reads the wait when the consumer starts. Both are
internals: check on an upgrade (tests/unit/test_streams_fetch_wait.py builds the real one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lumina.config import Settings

if TYPE_CHECKING:  # `lumina demo` reads the constant below without importing Faust
    import faust

# The worker's fetch wait on the embedded broker: produce → consume 4 ms p50 there
# (`bench/fetch_wait.py --broker tansu --waits 25`), and an idle worker then sends ~40
# empty fetches a second to a broker on the same machine.
EMBEDDED_FETCH_WAIT_MS = 25


def embedded_fetch_wait(settings: Settings) -> Settings:
    """`settings` for a worker on the embedded broker: the low fetch wait, unless
    `LUMINA_FETCH_MAX_WAIT_MS` was set."""
    if "fetch_max_wait_ms" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"fetch_max_wait_ms": EMBEDDED_FETCH_WAIT_MS})


def attach_fetch_wait(app: faust.App, wait_ms: int) -> None:
    """Make the worker's consumer ask the broker to hold a fetch at most `wait_ms`. Call
    before the worker starts."""
    thread = app.consumer._thread  # type: ignore[attr-defined]
    create = thread._create_worker_consumer

    def create_with_wait(transport: Any) -> Any:
        consumer = create(transport)
        consumer._fetch_max_wait_ms = wait_ms  # read by the fetcher aiokafka builds at start
        return consumer

    thread._create_worker_consumer = create_with_wait
