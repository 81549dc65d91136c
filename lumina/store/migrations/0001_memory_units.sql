-- Memory units: one row per (scope, id); re-delivery replaces, never duplicates.
-- version = access count << 42 | ingest time in ms (lumina.store.rows.unit_version), so a
-- reinforced copy of a unit wins a merge, and the newest copy among equals.
CREATE TABLE IF NOT EXISTS memory_units
(
    scope            String,
    id               String,
    version          UInt64,
    schema_version   UInt16,
    content_hash     String,
    text             String,
    source           Nullable(String),
    author           Nullable(String),
    session          Nullable(String),
    event_id         Nullable(String),
    origin_topic     Nullable(String),
    origin_partition Nullable(Int32),
    origin_offset    Nullable(Int64),
    chain_link       String,
    previous_link    String,
    event_time       DateTime64(3, 'UTC'),
    ingest_time      DateTime64(3, 'UTC'),
    last_access      DateTime64(3, 'UTC'),
    salience         Float32,
    attribution_tokens  Array(String),
    attribution_weights Array(Float32),
    role_who         Nullable(String),
    role_what        Nullable(String),
    role_when        Nullable(String),
    role_where       Nullable(String),
    role_why         Nullable(String),
    role_how         Nullable(String),
    entity_texts     Array(String),
    entity_labels    Array(LowCardinality(String)),
    entity_starts    Array(UInt32),
    entity_ends      Array(UInt32),
    valence          Float32,
    arousal          Float32,
    embedding        Array(Float32),
    shape            Array(Float32),
    shape_weights    Map(LowCardinality(String), Float32),
    half_life_s      Float64,
    decay_floor      Float32,
    strength         Float32,
    access_count     UInt32,
    stages           Map(LowCardinality(String), String)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (scope, id);
