-- What a usage invoice line of a tariff-article in a period says besides its sums and its contract
-- (pipeline.bill.invoice_lines), for each `line_groups` row (ta_no, month_idx) of a run's lines:
-- the period, tariff, article, its name and unit, the tariff's currency, and the VAT rate of a
-- customer taxed normally (sql/duck/vat_rate.sql) on the period's first day. A line of a customer
-- under reverse charge or not taxable has 0 (its vat_code says which). Minimum revenue and cost cap are not here: they act on a whole period's lines when it is
-- billed (pipeline.price.usage_adjustments).
WITH g AS (
    SELECT ta_no, month_idx, make_date(month_idx // 12, month_idx % 12 + 1, 1) AS first_day
    FROM line_groups
)
SELECT
    g.ta_no, g.month_idx, period_text(g.month_idx) AS period,
    ta.tariff_id, ta.article_id, ta.article_name, ta.unit, t.currency,
    vat_rate_of(ta.article_id, ta.tariff_id, g.first_day, a.vat_rate, t.vat_rate) AS vat_rate
FROM g
JOIN ta_dim AS ta USING (ta_no)
JOIN cat_tariffs AS t USING (tariff_id)
JOIN cat_articles AS a USING (article_id)
