"""Settings read from LUMINA_* environment variables, frozen once loaded."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A worker's agents, in the order an event meets them: enrich turns events into units, state
# keeps the decaying memory, reinforce applies access events, sink writes to the store.
AGENTS = ("enrich", "state", "reinforce", "sink")


def agent_list(value: str) -> str:
    """`value` ("sink,state") as a worker's agents in their canonical order ("state,sink");
    ValueError if it names an unknown agent, none, or the sink beside others but not state."""
    named = {name.strip() for name in value.split(",") if name.strip()}
    unknown = named - set(AGENTS)
    if unknown or not named:
        raise ValueError(f"worker agents are some of {', '.join(AGENTS)}; got {value!r}")
    # Both read the units topic, and a consumer group gives each partition to one member:
    # in two workers of one group, each would see only some of the units. A worker that
    # only sinks reads in a group of its own (`Settings.consumer_group`).
    if "sink" in named and named != {"sink"} and "state" not in named:
        raise ValueError(
            "the state and sink agents both read the units topic: run the sink with the "
            "state agent, or alone"
        )
    return ",".join(name for name in AGENTS if name in named)


def default_home() -> Path:
    return Path(os.environ.get("LUMINA_HOME") or Path.home() / ".lumina").expanduser()


class Settings(BaseSettings):
    """Every knob Lumina has. Printing it never shows the secret."""

    model_config = SettingsConfigDict(env_prefix="LUMINA_", frozen=True, extra="ignore")

    home: Path = Field(default_factory=default_home, description="Caches and local state.")
    models_home: Path | None = Field(
        default=None, description="Model cache; default LUMINA_HOME/models."
    )
    kafka_brokers: str | None = Field(
        default=None,
        description="host:port[,host:port]; unset means the embedded broker (`lumina up`).",
    )
    clickhouse_dsn: str | None = Field(
        default=None,
        description="chdb:///abs/path or http(s)://user:password@host:port/db; "
        "unset means a chDB store under LUMINA_HOME.",
    )
    secret: SecretStr | None = Field(
        default=None, description="Key for keyed BLAKE3 unit ids; never logged."
    )
    max_text_bytes: int = Field(default=64 * 1024, gt=0)
    max_metadata_bytes: int = Field(default=4096, gt=0)
    topic_prefix: str = "lumina"
    partitions: int = Field(default=4, gt=0)
    replication_factor: int = Field(default=1, gt=0)
    group_id: str = "lumina"
    session_timeout_s: float = Field(default=6.0, gt=0)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    fetch_max_wait_ms: int = Field(
        default=500,
        gt=0,
        description="How long the broker may hold the worker's fetch while it has no records.",
    )
    batch_size: int = Field(default=256, gt=0)
    # How long an agent waits for its batch to fill. Faust's take waits this long even with
    # records in hand, so at a steady rate it is latency added to every event; under a
    # backlog batches fill at once and it costs nothing (bench/stream.py --batch-within).
    batch_within_s: float = Field(
        default=0.02, gt=0, description="How long an agent waits for its batch to fill."
    )
    sink_batch_size: int = Field(default=2000, gt=0)
    sink_within_s: float = Field(default=1.0, gt=0)
    hrr_dim: int = Field(default=1024, ge=64)
    profile: Literal["fast", "full"] = Field(
        default="fast", description="fast: fast attribution + static; full: spaCy + MiniLM."
    )
    attribution: Literal["fast", "spacy", "auto"] = "auto"
    embedder: Literal["static", "minilm", "auto"] = "auto"
    spacy_model: str = "en_core_web_sm"
    minilm_precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto", description="auto: bfloat16 where the CPU has it natively, else fp32."
    )
    half_life_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    decay_floor: float = Field(default=0.05, ge=0, le=1)
    reinforce_alpha: float = Field(
        default=0.5, ge=0, description="Each access stretches a unit's half-life by (1 + α)."
    )
    half_life_max_s: float = Field(default=365 * 24 * 3600.0, gt=0)
    activation_half_life_s: float = Field(
        default=24 * 3600.0, gt=0, description="Half-life of entity activation."
    )
    window_s: float = Field(default=3600.0, gt=0, description="Tumbling activity window size.")
    window_expiry_s: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="Activity windows older than this go."
    )
    near_duplicate_threshold: float = Field(
        default=0.92,
        ge=-1,
        le=1,
        description="Cosine at which a new unit absorbs into a recent one.",
    )
    near_duplicate_window_s: float = Field(
        default=24 * 3600.0, gt=0, description="How recent a unit must be to absorb a new one."
    )
    table_store: Literal["rocksdb", "memory"] = Field(
        default="rocksdb",
        description="Where Faust tables live between changelog reads; memory rebuilds all.",
    )
    search_dense_weight: float = Field(
        default=1.0, ge=0, description="Weight of the embedding ranking in hybrid search."
    )
    search_lexical_weight: float = Field(
        default=1.0, ge=0, description="Weight of the BM25 ranking in hybrid search."
    )
    search_strength_weight: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Share of a hit's score that is its strength now (decay, reinforcement).",
    )
    search_rrf_k: int = Field(
        default=60, gt=0, description="Reciprocal-rank fusion constant: 1 / (k + rank)."
    )
    search_candidates: int = Field(
        default=100, gt=0, description="Candidates each ranking contributes to the fusion."
    )
    search_hnsw_ef: int = Field(
        default=1024,
        ge=16,
        le=100_000,
        description="HNSW candidate list size per search (recall against latency).",
    )
    worker_agents: str = Field(
        default=",".join(AGENTS),
        description="The agents this worker runs, comma-separated, of enrich, state, "
        "reinforce and sink; a worker that runs only the sink reads in GROUP_ID-sink.",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=6066, gt=0, lt=65536)
    embedded_port: int = Field(default=19092, gt=0, lt=65536)
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    settle_heap: bool = Field(
        default=True,
        description="Freeze the worker's start-up heap out of garbage collection and collect "
        "less often (lumina.heap); false keeps CPython's defaults.",
    )

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("worker_agents", mode="after")
    @classmethod
    def _known_agents(cls, value: str) -> str:
        return agent_list(value)

    @property
    def agents(self) -> frozenset[str]:
        return frozenset(self.worker_agents.split(","))

    @property
    def consumer_group(self) -> str:
        """The worker's consumer group, also its Faust app id. Workers that only sink read
        every unit in a group of their own, as a store's loader would; all others share
        LUMINA_GROUP_ID, where each topic's partitions are split between its readers."""
        return f"{self.group_id}-sink" if self.worker_agents == "sink" else self.group_id

    @property
    def store_dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{self.home / 'store'}"

    @property
    def models_dir(self) -> Path:
        return self.models_home or self.home / "models"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
