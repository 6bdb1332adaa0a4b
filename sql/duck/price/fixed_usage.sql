-- Cost control's usage of `variable_fixed` positions (docs/pricing.md, Cost control): the rated
-- records of $period whose contract has a variable_fixed position for their article, in the shape
-- of bill_usage (duck/bill/usage_records.sql), so that duck/bill/usage_aggregates.sql picks the
-- position and duck/bill/usage_lines.sql prices the line exactly as billing does.
SELECT
    r.contract_id,
    r.tariff_id,
    CAST(r.period AS VARCHAR) AS period,
    r.article_id,
    r.unit,
    r.quantity,
    r.quantity - r.free_quantity AS charged,
    to_micro(r.amount) AS amount_micro,
    r.start_time,
    c.timezone
FROM rated_usage AS r
JOIN cat_contracts AS c USING (contract_id)
SEMI JOIN bil_positions AS p
    ON p.contract_id = r.contract_id AND p.article_id = r.article_id AND p.billing_type = 'variable_fixed'
WHERE r.period = $period
