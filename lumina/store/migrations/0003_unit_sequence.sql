-- Schema 2 of MemoryUnit: each unit's position in its scope's provenance chain, from 1.
-- Rows written before it read 0 here: their position was not recorded.
ALTER TABLE memory_units ADD COLUMN IF NOT EXISTS sequence UInt64 DEFAULT 0 AFTER previous_link;
