-- What a usage invoice line of a tariff-article in a period says besides its sums and its contract
-- (pipeline.bill.invoice_lines), for each `line_groups` row (ta_no, month_idx) of a run's lines:
-- the period, tariff, article, its name and unit, the tariff's currency, and the VAT rate of a
-- customer taxed normally: the article's override for the tariff, its override for every tariff
-- (vat_overrides.csv), its own rate (articles.csv), the tariff's rate, as valid on the period's
-- first day. A line of a customer under reverse charge or not taxable has 0 (its vat_code says
-- which). Minimum revenue and cost cap are not here: they act on a whole period's lines when it is
-- billed (pipeline.price.usage_adjustments).
WITH g AS (
    SELECT ta_no, month_idx, make_date(month_idx // 12, month_idx % 12 + 1, 1) AS first_day
    FROM line_groups
)
SELECT
    g.ta_no, g.month_idx, period_text(g.month_idx) AS period,
    ta.tariff_id, ta.article_id, ta.article_name, ta.unit, t.currency,
    CAST(coalesce(vt.vat_rate, va.vat_rate, a.vat_rate, t.vat_rate) AS DECIMAL(6,4)) AS vat_rate
FROM g
JOIN ta_dim AS ta USING (ta_no)
JOIN cat_tariffs AS t USING (tariff_id)
JOIN cat_articles AS a USING (article_id)
LEFT JOIN pr_vat_overrides AS vt
    ON vt.article_id = ta.article_id AND vt.tariff_id = ta.tariff_id
    AND valid_on(vt.valid_from, vt.valid_until, g.first_day)
LEFT JOIN pr_vat_overrides AS va
    ON va.article_id = ta.article_id AND va.tariff_id IS NULL
    AND valid_on(va.valid_from, va.valid_until, g.first_day)
