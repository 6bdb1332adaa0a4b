-- Level 3 of the price precedence (docs/pricing.md): a customer's own prices as candidates of
-- (customer, article, band), for the bands of every tariff the customer's contracts run under:
-- their own tariffs and those their device IDs change to (dev_dim). A band's own row beats one
-- for every band.
WITH tariffs AS (
    SELECT cust_no, tariff_no FROM contract_dim WHERE cust_no > 0
    UNION
    SELECT c.cust_no, d.tariff_no FROM dev_dim AS d JOIN contract_dim AS c USING (contract_no) WHERE c.cust_no > 0
),
bands AS (
    SELECT DISTINCT cust_no, 0 AS band_no, NULL AS band FROM tariffs
    UNION ALL
    SELECT DISTINCT x.cust_no, b.band_no, b.band
    FROM tariffs AS x JOIN tariff_dim AS t USING (tariff_no) JOIN band_dim AS b ON b.tariff_id = t.tariff_id
)
SELECT cd.cust_no AS owner_no, a.article_no, b.band_no, 3 AS src, CASE WHEN x.band IS NULL THEN 1 ELSE 0 END AS rank,
       to_micro(x.price) AS price_micro, day_us(x.valid_from, -1) AS from_us, day_us(x.valid_until, 1) AS until_us,
       'customer_prices:' || x.customer_id AS ref
FROM pr_customer_prices AS x
JOIN cust_dim AS cd USING (customer_id)
JOIN article_dim AS a USING (article_id)
JOIN bands AS b ON b.cust_no = cd.cust_no AND (x.band IS NULL OR x.band = b.band)
