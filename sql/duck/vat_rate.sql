-- The VAT rate of an article billed under a tariff to a customer taxed normally, on a tax day
-- (docs/pricing.md): the article's override for the tariff, else its override for every tariff
-- (vat_overrides.csv), each valid on the day; else the article's own rate (articles.csv), else the
-- tariff's. A customer under reverse charge or not taxable pays 0 whatever this says (its vat_code).
-- The one place of this order: sql/duck/line_terms.sql (rated usage, taxed on its period's first
-- day) and sql/duck/bill/candidates.sql (every billed line, a fee on its first day of service) call it.
-- DuckDB binds a macro's tables when it is created, so PricingCatalog.register creates it on each
-- connection once `pr_vat_overrides` is there (a key's rows never overlap: one row at most is valid).
CREATE OR REPLACE MACRO vat_rate_of(of_article, of_tariff, on_day, article_rate, tariff_rate) AS CAST(coalesce(
    (SELECT v.vat_rate FROM pr_vat_overrides AS v
     WHERE v.article_id = of_article AND v.tariff_id = of_tariff AND valid_on(v.valid_from, v.valid_until, on_day)),
    (SELECT v.vat_rate FROM pr_vat_overrides AS v
     WHERE v.article_id = of_article AND v.tariff_id IS NULL AND valid_on(v.valid_from, v.valid_until, on_day)),
    article_rate,
    tariff_rate
) AS DECIMAL(6,4))
