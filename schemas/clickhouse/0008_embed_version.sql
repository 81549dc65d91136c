-- Dense search keeps to the vectors of the caller's embed stage version. Read from the
-- `stages` map, that filter was ~40% of a top-10 query's time (every entry of the map read
-- for each row of the candidate granules; bench/store.py's store of 100,000 units, p95 31
-- against 19 ms without the filter); a column of its own is a few bytes a row.
-- Parts written before this get the column at their next merge (`OPTIMIZE TABLE` forces
-- one); until then ClickHouse computes it from `stages` when read, so results are the same.
-- No MATERIALIZE COLUMN here: a mutation over a big store would hold up the store's opening.
ALTER TABLE memory_units
    ADD COLUMN IF NOT EXISTS embed_version LowCardinality(String) MATERIALIZED stages['embed'];
