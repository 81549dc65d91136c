-- Dead letters, one row per rejected message; keyed by where it was read so a
-- re-delivered rejection replaces its earlier copy.
CREATE TABLE IF NOT EXISTS dead_letters
(
    time             DateTime64(3, 'UTC'),
    reason           LowCardinality(String),
    message          String,
    stage            Nullable(String),
    original_b64     String,
    original_key_b64 Nullable(String),
    origin_topic     String,
    origin_partition Int32,
    origin_offset    Int64
)
ENGINE = ReplacingMergeTree
ORDER BY (origin_topic, origin_partition, origin_offset, reason);
