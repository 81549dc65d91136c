-- Dense search keeps to the vectors of the caller's embed stage version. Read from the
-- `stages` map, that filter read every entry of the map for each row of the candidate
-- granules; a column of its own is a few bytes a row (`bench/store.py --sizes 100000`, every
-- part indexed: p95 33.9 ms before, 28.4 ms after, 2026-12-05).
-- Parts written before this get the column at their next merge (`OPTIMIZE TABLE` forces
-- one); until then ClickHouse computes it from `stages` when read, so results are the same.
-- No MATERIALIZE COLUMN here: a mutation over a big store would hold up the store's opening.
ALTER TABLE memory_units
    ADD COLUMN IF NOT EXISTS embed_version LowCardinality(String) MATERIALIZED stages['embed'];
