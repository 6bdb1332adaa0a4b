-- The time zone names DuckDB's zone data (ICU) knows: DuckDB converts every local time (usage
-- readers, bands, billing days), so a contract or a usage source may name only these
-- (schemas.catalog.time_zones).
SELECT name FROM pg_timezone_names()
