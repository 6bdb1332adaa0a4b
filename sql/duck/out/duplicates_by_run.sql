-- The run's duplicates that other runs stored first: (first_seen_run, records), by run id. A
-- reprocessing run warns of them: a catalog correction reaches them only by `rating rerate`.
SELECT first_seen_run, count(*)
FROM out_duplicates
WHERE first_seen_run <> $run
GROUP BY 1
ORDER BY 1
