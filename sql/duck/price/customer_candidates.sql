-- Level 3 of the price precedence (docs/pricing.md): a customer's own prices as candidates of
-- (customer, article, band), for the bands of every tariff the customer's contracts run under.
-- A band's own row beats one for every band.
WITH bands AS (
    SELECT DISTINCT cust_no, 0 AS band_no, NULL AS band FROM contract_dim WHERE cust_no > 0
    UNION ALL
    SELECT DISTINCT c.cust_no, b.band_no, b.band FROM contract_dim AS c JOIN band_dim AS b USING (tariff_id) WHERE c.cust_no > 0
)
SELECT cd.cust_no AS owner_no, a.article_no, b.band_no, 3 AS src, CASE WHEN x.band IS NULL THEN 1 ELSE 0 END AS rank,
       to_micro(x.price) AS price_micro, day_us(x.valid_from, -1) AS from_us, day_us(x.valid_until, 1) AS until_us,
       'customer_prices:' || x.customer_id AS ref
FROM pr_customer_prices AS x
JOIN cust_dim AS cd USING (customer_id)
JOIN article_dim AS a USING (article_id)
JOIN bands AS b ON b.cust_no = cd.cust_no AND (x.band IS NULL OR x.band = b.band)
