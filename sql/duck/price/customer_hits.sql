-- The customer's own price (level 3 of docs/pricing.md) of each record of a customer with prices
-- of its own, for the article and band the rate card gave it, valid at its start
-- (pipeline/price/records.py registers them as `customer_records`: pos, cust_no, article_no,
-- band_no, t_us). The pieces of cust_card are disjoint, so a record finds at most one.
SELECT r.pos, cc.price_micro, CAST(3 AS TINYINT) AS src, cc.ref_no
FROM customer_records AS r
JOIN cust_card AS cc
    ON cc.cust_no = r.cust_no AND cc.article_no = r.article_no AND cc.band_no = r.band_no
    AND r.t_us >= cc.from_us AND r.t_us < cc.until_us
WHERE cc.price_micro IS NOT NULL
