-- memory_units rebuilt for search at scale (ClickHouse cannot change a table's partition key
-- in place): partitioned by month of event time, so old memories are dropped a partition at
-- a time; an HNSW index on the embedding for top-k similarity; a text index and term columns
-- for lexical (BM25) search. Rows already stored are copied over.
--
-- {embedding_dim} is the store's vector dimension (256 for the fast profile's static model,
-- 384 for MiniLM): a vector index serves one dimension, so one store holds one embedder's
-- vectors. A unit's event time never changes, so all versions of a unit share a partition
-- and ReplacingMergeTree still collapses them.
-- Safe to repeat after a cut at any statement: a half-built copy is dropped and built again
-- from memory_units, which holds every row before and after the exchange.
DROP TABLE IF EXISTS memory_units_rebuilt;

CREATE TABLE memory_units_rebuilt
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
    sequence         UInt64 DEFAULT 0,
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
    stages           Map(LowCardinality(String), String),
    -- Lexical search reads these instead of re-splitting the text: the words (lowercase,
    -- split at every non-letter, as the text index splits) and their count.
    terms            Array(String) MATERIALIZED splitByNonAlpha(lower(text)),
    term_count       UInt16 MATERIALIZED length(terms),
    INDEX embedding_hnsw embedding TYPE vector_similarity('hnsw', 'cosineDistance', {embedding_dim}) GRANULARITY 100000000,
    INDEX text_terms text TYPE text(tokenizer = splitByNonAlpha, preprocessor = lower(text))
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_time)
ORDER BY (scope, id);

INSERT INTO memory_units_rebuilt
    (scope, id, version, schema_version, content_hash, text, source, author, session, event_id,
     origin_topic, origin_partition, origin_offset, chain_link, previous_link, sequence,
     event_time, ingest_time, last_access, salience, attribution_tokens, attribution_weights,
     role_who, role_what, role_when, role_where, role_why, role_how,
     entity_texts, entity_labels, entity_starts, entity_ends, valence, arousal,
     embedding, shape, shape_weights, half_life_s, decay_floor, strength, access_count, stages)
SELECT
     scope, id, version, schema_version, content_hash, text, source, author, session, event_id,
     origin_topic, origin_partition, origin_offset, chain_link, previous_link, sequence,
     event_time, ingest_time, last_access, salience, attribution_tokens, attribution_weights,
     role_who, role_what, role_when, role_where, role_why, role_how,
     entity_texts, entity_labels, entity_starts, entity_ends, valence, arousal,
     embedding, shape, shape_weights, half_life_s, decay_floor, strength, access_count, stages
FROM memory_units;

EXCHANGE TABLES memory_units AND memory_units_rebuilt;

DROP TABLE IF EXISTS memory_units_rebuilt;
