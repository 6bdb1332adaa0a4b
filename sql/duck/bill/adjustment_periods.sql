-- The billing periods (contract, period) whose minimum revenue and cost cap the run settles:
-- periods that have ended by $until (a single invoice in the middle of a month leaves that
-- month to the run that closes it) with usage billed by this run, or billed so far only by runs
-- that ended before the period did (so no run has settled it yet). Earlier runs' lines come
-- from st_invoice_items and st_invoices (real and test).
-- A period without any usage line (this run's or an earlier one's) is settled only as the run's
-- own period: the month of $until, when $until is its last day (a period run's month; a single
-- invoice up to a month's end). It is settled for each contract in scope that is active on at
-- least one of its days (bill_contract_days: from the later of start_date and billing_from to its
-- end_date, or the last module end when every module of it has ended, cancelled) and carries
-- `tariff_id`, the usage tariff of the contract's last active day in it (cat_usage_tariffs,
-- else contracts.tariff_id), whose whole minimum revenue is then due (docs/billing.md). For
-- periods with usage `tariff_id` is NULL: their lines carry their tariffs.
WITH billed AS (
    SELECT contract_id, period, NULL AS billed_until
    FROM bill_candidates
    WHERE line_kind = 'usage'
    UNION ALL
    SELECT i.contract_id, i.period, v.billed_until
    FROM st_invoice_items AS i
    JOIN st_invoices AS v ON v.invoice_id = i.invoice_id
    SEMI JOIN bill_scope AS s ON s.contract_id = i.contract_id
    WHERE i.line_kind = 'usage'
),
periods AS (
    SELECT contract_id, period, last_day(period_start(period)) AS period_end,
           bool_or(billed_until IS NULL) AS billed_now, max(billed_until) AS settled_until
    FROM billed
    GROUP BY contract_id, period
),
own_period AS (
    SELECT strftime(CAST($until AS DATE), '%Y-%m') AS period,
           date_trunc('month', CAST($until AS DATE)) AS period_start, CAST($until AS DATE) AS period_end
    WHERE last_day(CAST($until AS DATE)) = CAST($until AS DATE)
),
idle AS (
    SELECT c.contract_id, o.period,
           least(o.period_end, coalesce(d.active_until, o.period_end)) AS last_active,
           c.tariff_id AS own_tariff
    FROM cat_contracts AS c
    JOIN bill_contract_days AS d USING (contract_id)
    SEMI JOIN bill_scope USING (contract_id)
    CROSS JOIN own_period AS o
    WHERE d.active_from <= least(o.period_end, coalesce(d.active_until, o.period_end))
      AND coalesce(d.active_until, o.period_end) >= o.period_start
      AND NOT EXISTS (SELECT 1 FROM billed AS b WHERE b.contract_id = c.contract_id AND b.period = o.period)
)
SELECT contract_id, period, CAST(NULL AS VARCHAR) AS tariff_id
FROM periods
WHERE period_end <= CAST($until AS DATE) AND (billed_now OR settled_until < period_end)
UNION ALL
SELECT i.contract_id, i.period, coalesce(u.tariff_id, i.own_tariff)
FROM idle AS i
LEFT JOIN cat_usage_tariffs AS u
    ON u.contract_id = i.contract_id AND coalesce(u.valid_from, DATE '0001-01-01') <= i.last_active
    AND (u.valid_until IS NULL OR i.last_active < u.valid_until)
