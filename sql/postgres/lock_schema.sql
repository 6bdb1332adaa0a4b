-- Serialise schema creation: two flows starting at once must not both create the same table.
-- Held until the transaction ends.
SELECT pg_advisory_xact_lock(hashtext('rating.schema'))
