-- What the stream's memory publishes (lumina.activations, lumina.consolidations,
-- lumina.timelines), one table each. Every record is keyed by what it describes and
-- versioned by how far its state has advanced, so a re-delivered record replaces itself
-- and a newer state replaces an older one (read with FINAL or argMax).

-- Entity activation per (scope, entity) after its latest mention: A · 2^(-Δt / T½) + σ.
-- `mentions` only grows, so it orders the states of one entity.
CREATE TABLE IF NOT EXISTS entity_activations
(
    scope        String,
    entity       String,
    activation   Float64,
    half_life_s  Float64,
    mentions     UInt64,
    event_time   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(mentions)
ORDER BY (scope, entity);

-- Units per scope per tumbling event-time window; a window's count only grows.
CREATE TABLE IF NOT EXISTS activity_windows
(
    scope         String,
    window_start  DateTime64(3, 'UTC'),
    window_end    DateTime64(3, 'UTC'),
    units         UInt64,
    salience_sum  Float64,
    top_entities  Array(Tuple(entity String, count UInt64))
)
ENGINE = ReplacingMergeTree(units)
PARTITION BY toYYYYMM(window_start)
ORDER BY (scope, window_start);

-- One unit absorbed by another. `exact`: the duplicate made no unit (absorbed_id is the id
-- it would have had); `near`: the absorbed unit is stored and points at kept_id here.
CREATE TABLE IF NOT EXISTS consolidations
(
    scope        String,
    kind         LowCardinality(String),
    kept_id      String,
    absorbed_id  String,
    similarity   Float32,
    duplicates   UInt64,
    event_time   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(duplicates)
ORDER BY (scope, absorbed_id, kept_id, kind);

-- What was true when: per (scope, who, role) one row each time the value changed, from its
-- event time on. A value holds until the next row of its (scope, who, role); the view
-- role_intervals adds that end as valid_to, so history is never overwritten.
CREATE TABLE IF NOT EXISTS role_timelines
(
    scope       String,
    who         String,
    role        LowCardinality(String),
    value       String,
    valid_from  DateTime64(3, 'UTC'),
    unit_id     String
)
ENGINE = ReplacingMergeTree
ORDER BY (scope, who, role, valid_from);
