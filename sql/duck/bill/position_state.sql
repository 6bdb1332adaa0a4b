-- Each position's billing state as of now: how far it is billed, on which invoice last, and
-- what its billing type or interval means when it is never billed here.
-- The last invoice is the latest one (by invoice date and number, as contract_billing_state),
-- not the one covering the latest day: days caught up later go on a later invoice.
WITH billed AS (
    SELECT
        h.position_id,
        max(h.period_end) AS billed_until,
        last(h.invoice_id ORDER BY i.invoice_date, i.sequence_no) FILTER (WHERE h.invoice_id IS NOT NULL) AS last_invoice_id,
        count(DISTINCT h.invoice_id) AS invoices
    FROM st_history AS h
    LEFT JOIN st_invoices AS i USING (invoice_id)
    GROUP BY h.position_id
)
SELECT
    p.contract_id,
    p.position_id,
    p.article_id,
    p.billing_type,
    p.interval,
    b.billed_until,
    b.last_invoice_id,
    coalesce(b.invoices, 0) AS invoices,
    CASE
        WHEN p.interval = 'future' THEN 'to be billed, start not known yet: nothing billed'
        WHEN p.interval = 'never' THEN 'never billed'
        WHEN p.interval = 'external' THEN 'billed by an external provider: nothing billed here'
        WHEN p.billing_type IN ('variable', 'variable_fixed') THEN 'billed with the usage lines'
        -- cancelled (or ended) after it was billed in advance: invoices are final, the days past
        -- its end stay billed until credited by hand (docs/billing.md, Lifecycle)
        WHEN b.billed_until > p.end_date THEN 'billed until ' || strftime(b.billed_until, '%Y-%m-%d')
            || ', past its end ' || strftime(p.end_date, '%Y-%m-%d') || ': billed in advance, not credited (invoices are final)'
        WHEN p.end_date < p.start_date THEN 'cancelled before it started: never billed'
        WHEN b.billed_until IS NULL THEN 'not billed yet'
        ELSE 'billed until ' || strftime(b.billed_until, '%Y-%m-%d')
    END AS state
FROM bil_positions AS p
LEFT JOIN billed AS b USING (position_id)
ORDER BY p.contract_id, p.position_id
