-- Serialise writers of the same run: two concurrent replacements of one run_id must not both
-- see "no rows yet" and double the run. Held until the transaction ends. $1: run_id.
SELECT pg_advisory_xact_lock(hashtext('rating.run:' || $1::text))
