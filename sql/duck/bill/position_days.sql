-- Each position's anchor and active days (docs/billing.md, "Periods"), for every query that asks
-- which days a position bills (fee_requests.sql, backdated.sql): active from its start (else the
-- contract's), never before billing_from, to the earliest of its, its contract's and its
-- module's end; an article with its own notice (bil_article_terms.cancellation) is not held to
-- its module's end once the position has an end date of its own. An end date the day before the
-- start (a position cancelled before it started) leaves no active day.
SELECT
    p.position_id,
    coalesce(t.billing_from, c.start_date) AS anchor,
    greatest(coalesce(p.start_date, c.start_date), coalesce(t.billing_from, c.start_date)) AS active_from,
    least(
        p.end_date, c.end_date,
        CASE WHEN a.cancellation IS NOT NULL AND p.end_date IS NOT NULL THEN NULL ELSE m.end_date END
    ) AS active_to
FROM bil_positions AS p
JOIN cat_contracts AS c USING (contract_id)
LEFT JOIN bil_contract_terms AS t USING (contract_id)
LEFT JOIN bil_modules AS m ON m.module_id = p.module_id
LEFT JOIN bil_article_terms AS a ON a.article_id = p.article_id
