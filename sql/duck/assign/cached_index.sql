-- A device index loaded from the cache (pipeline/io/index_cache.py) recreates the tables
-- build_device_index creates, as they were: reads `cached_items(seg_no, item, rank)` and
-- `cached_segments` (the columns of device_segments.sql's output, already in seg_no order).
CREATE OR REPLACE TEMP TABLE device_items AS SELECT seg_no, item, rank FROM cached_items;
CREATE OR REPLACE TEMP TABLE device_segments AS SELECT * FROM cached_segments
