-- The fees due by $until for the contracts in bill_scope and not billed yet (docs/billing.md):
--   one_time:   once, on the first invoice whose run reaches the fee's day: the position's first
--               active day that is not paused (a fee starting in a pause waits for the pause's
--               end; one with no unpaused active day is never billed); it is billed on that day;
--   recurring:  every period of the position's interval, anchored at the contract's billing_from
--               (else its start), each period starting on or before $until and overlapping the
--               active days [active_from, active_to] not yet billed (st_position_billed): after
--               billed-until, and before billed-from when the start was moved earlier after the
--               position was billed (those days are caught up, as partial periods where they are);
--               intervals that do not bill (future, never, external) produce nothing;
--   every_time: once per invoice, for positions active on $until when the contract is not
--               paused that day (used only for contracts that get an invoice anyway).
-- Active days and anchors: bill_position_days (sql/duck/bill/position_days.sql).
-- `fee_from` is the first billed day of a fee: where its price parts start (sql/duck/bill/fee_parts.sql;
-- paused days are counted per price part, charges.sql), and what names a fee of its position: one
-- period may come twice, as days caught up before billed-from and days after billed-until (its
-- start moved earlier and its end later after it was billed), each billing only its own days.
WITH pos AS (
    SELECT
        p.position_id,
        p.contract_id,
        p.article_id,
        p.billing_type,
        p.interval,
        p.quantity,
        coalesce(i.months, p.every_months) AS months,
        i.times,
        i.unit AS interval_unit,
        coalesce(i.bills, TRUE) AS bills,
        d.anchor,
        d.active_from,
        d.active_to,
        b.billed_until,
        b.billed_from
    FROM bil_positions AS p
    JOIN bill_scope USING (contract_id)
    JOIN bill_position_days AS d USING (position_id)
    LEFT JOIN bil_intervals AS i ON i.interval = p.interval
    LEFT JOIN st_position_billed AS b USING (position_id)
    WHERE p.billing_type IN ('one_time', 'recurring', 'every_time')
),
one_time AS (
    SELECT * FROM pos WHERE billing_type = 'one_time' AND billed_until IS NULL
),
one_time_days AS (
    -- The first unpaused day from active_from is active_from itself or the day after a pause
    -- (the day before it is paused then), so these candidates hold it.
    SELECT position_id, active_from AS day FROM one_time
    UNION
    SELECT o.position_id, CAST(z.paused_through + 1 AS DATE)
    FROM one_time AS o
    JOIN bil_pauses AS z ON z.contract_id = o.contract_id AND z.paused_through >= o.active_from
),
fee_days AS (
    -- the earliest candidate that is active and not paused; none: never billed
    SELECT d.position_id, min(d.day) AS fee_day
    FROM one_time_days AS d
    JOIN one_time AS o USING (position_id)
    ANTI JOIN bil_pauses AS z
        ON z.contract_id = o.contract_id AND d.day BETWEEN z.paused_from AND z.paused_through
    WHERE o.active_to IS NULL OR d.day <= o.active_to
    GROUP BY d.position_id
),
one_time_due AS (
    SELECT o.*, f.fee_day
    FROM one_time AS o
    JOIN fee_days AS f USING (position_id)
    WHERE f.fee_day <= CAST($until AS DATE)
),
recurring AS (
    -- the days not billed yet: after billed-until, and before billed-from (a start moved earlier)
    SELECT
        *,
        greatest(active_from, billed_until + 1) AS first_day,
        least(CAST($until AS DATE), active_to) AS last_start,
        active_to AS last_day
    FROM pos
    WHERE billing_type = 'recurring' AND bills
    UNION ALL
    SELECT
        *,
        active_from,
        least(CAST($until AS DATE), active_to, billed_from - 1),
        least(active_to, billed_from - 1)
    FROM pos
    WHERE billing_type = 'recurring' AND bills AND billed_from > active_from
),
indexed AS (
    -- date_diff('month') counts month boundaries: at most one more than the whole months
    -- between two days, so k is searched one period either side and filtered exactly below.
    SELECT
        *,
        unnest(range(
            greatest(0, date_diff('month', anchor, first_day) // months - 1),
            date_diff('month', anchor, last_start) // months + 2
        )) AS k
    FROM recurring
    WHERE first_day <= last_start
),
periods AS (
    SELECT
        *,
        add_months(anchor, k * months) AS period_start,
        add_months(anchor, (k + 1) * months) - 1 AS period_end
    FROM indexed
),
due AS (
    SELECT
        *,
        greatest(period_start, first_day) AS bill_from,
        least(period_end, last_day) AS bill_to
    FROM periods
    WHERE period_end >= first_day AND period_start <= last_start
)
SELECT
    'recurring' AS line_kind,
    d.position_id,
    d.contract_id,
    d.article_id,
    d.billing_type,
    d.interval,
    d.period_start,
    d.period_end,
    d.bill_from,
    d.bill_to,
    CAST(d.quantity * d.times AS BIGINT) AS quantity,
    d.interval_unit AS unit,
    CAST(date_diff('day', d.bill_from, d.bill_to) + 1 AS BIGINT) AS days_active,
    CAST(date_diff('day', d.period_start, d.period_end) + 1 AS BIGINT) AS days_period,
    d.bill_from AS fee_from
FROM due AS d

UNION ALL

SELECT
    'one_time', position_id, contract_id, article_id, billing_type, NULL,
    fee_day, fee_day, fee_day, fee_day,
    CAST(quantity AS BIGINT), 'piece', NULL, NULL, fee_day
FROM one_time_due

UNION ALL

SELECT
    'every_time', position_id, contract_id, article_id, billing_type, NULL,
    CAST($until AS DATE), CAST($until AS DATE), CAST($until AS DATE), CAST($until AS DATE),
    CAST(quantity AS BIGINT), 'piece', NULL, NULL, CAST($until AS DATE)
FROM pos AS p
ANTI JOIN bil_pauses AS z
    ON z.contract_id = p.contract_id AND CAST($until AS DATE) BETWEEN z.paused_from AND z.paused_through
WHERE billing_type = 'every_time'
    AND active_from <= CAST($until AS DATE)
    AND (active_to IS NULL OR active_to >= CAST($until AS DATE))
