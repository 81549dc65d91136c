-- A sink batch (5,000 units, ~30 MB) was written as a Wide part: a file per column, its
-- marks and its sizes, over a hundred files an INSERT. Creating them was half the INSERT's
-- time here (ext4 inode allocation), and a store written batch by batch creates them all
-- day. Parts under 128 MiB are Compact now (every column in one file), so an INSERT writes
-- a handful of files; merges make the bigger parts Wide, as before (bench/sink.py).
ALTER TABLE memory_units MODIFY SETTING min_bytes_for_wide_part = 134217728;
