-- The rated usage records the run billed: every record of a contract in bill_scope that started
-- before the end of $until in the contract's time zone and that no committed run billed yet
-- (st_billed_usage), whatever its period, so late records land on the next invoice with their
-- own dates. A record_key is billed at most once, even if two rating runs stored it. A record
-- that started before the contract's billing_from is never billed: nothing before it is
-- (docs/billing.md).
-- The cut-offs are instants per contract (local midnight after $until, local midnight starting
-- billing_from), so no record needs a time-zone conversion; of a record_key stored by two rating runs only the lower run id's copy
-- is taken (found by one narrow aggregate, not a window over every record).
WITH cutoff AS (
    SELECT s.contract_id, c.timezone, timezone(c.timezone, CAST(CAST($until AS DATE) + 1 AS TIMESTAMP)) AS before,
           timezone(c.timezone, CAST(t.billing_from AS TIMESTAMP)) AS billed_from
    FROM bill_scope AS s
    JOIN cat_contracts AS c USING (contract_id)
    LEFT JOIN bil_contract_terms AS t USING (contract_id)
),
repeated AS (
    SELECT record_key, min(run_id) AS first_run
    FROM rated_usage
    GROUP BY record_key
    HAVING count(*) > 1
)
SELECT
    r.record_key,
    r.run_id AS rated_run_id,
    r.contract_id,
    r.tariff_id,
    CAST(r.period AS VARCHAR) AS period,
    r.article_id,
    r.unit,
    r.quantity,
    r.quantity - r.free_quantity AS charged,
    to_micro(r.amount) AS amount_micro,
    r.start_time,
    k.timezone
FROM rated_usage AS r
JOIN cutoff AS k
    ON k.contract_id = r.contract_id AND r.start_time < k.before AND (k.billed_from IS NULL OR r.start_time >= k.billed_from)
LEFT JOIN repeated AS d ON d.record_key = r.record_key
ANTI JOIN st_billed_usage AS b ON b.record_key = r.record_key
WHERE d.record_key IS NULL OR r.run_id = d.first_run
