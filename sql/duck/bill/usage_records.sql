-- The rated usage records the run bills: every record of a contract in bill_scope that started
-- (in the contract's time zone) on or before $until and that no committed run billed yet
-- (st_billed_usage), whatever its period, so late records land on the next invoice with their
-- own dates. A record_key is billed at most once, even if two rating runs stored it.
SELECT
    r.record_key,
    r.run_id AS rated_run_id,
    r.contract_id,
    r.tariff_id,
    CAST(r.period AS VARCHAR) AS period,
    r.article_id,
    r.unit,
    r.quantity,
    to_micro(r.amount) AS amount_micro,
    CAST(timezone(c.timezone, r.start_time) AS DATE) AS local_day
FROM rated_usage AS r
JOIN bill_scope AS s ON s.contract_id = r.contract_id
JOIN cat_contracts AS c ON c.contract_id = r.contract_id
ANTI JOIN st_billed_usage AS b ON b.record_key = r.record_key
WHERE CAST(timezone(c.timezone, r.start_time) AS DATE) <= CAST($until AS DATE)
QUALIFY row_number() OVER (PARTITION BY r.record_key ORDER BY r.run_id) = 1
