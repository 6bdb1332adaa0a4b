-- The price of each (position_id, day) in price_days (docs/billing.md), highest first:
--   1. a price override valid on the day (the latest starting one);
--   2. the position's own price version valid on the day (`price` or `index`; the latest wins);
--   3. the list price of the article in the tariff the position runs under on the day: its
--      module's tariff (bil_module_tariffs), else the contract's.
-- Also returned: the parts, so that an index adjustment can raise each of them, with base_until:
-- the end of the position's own version, or for a list price the end of its prices.csv row or
-- of the module's tariff version, whichever comes first (its index version ends there too).
WITH req AS (
    SELECT DISTINCT d.position_id, CAST(d.day AS DATE) AS day, p.contract_id, p.article_id, p.module_id, c.tariff_id AS contract_tariff
    FROM price_days AS d
    JOIN bil_positions AS p USING (position_id)
    JOIN cat_contracts AS c USING (contract_id)
),
tariffed AS (
    SELECT r.*, coalesce(mt.tariff_id, r.contract_tariff) AS tariff_id, mt.valid_until AS tariff_until
    FROM req AS r
    LEFT JOIN bil_module_tariffs AS mt
        ON mt.module_id = r.module_id AND mt.valid_from <= r.day AND (mt.valid_until IS NULL OR r.day < mt.valid_until)
),
versions AS (
    SELECT t.position_id, t.day, v.kind, v.price, v.reason, v.valid_from, v.valid_until, v.kind = 'override' AS is_override
    FROM tariffed AS t
    JOIN bil_position_prices AS v
        ON v.position_id = t.position_id
        AND valid_on(v.valid_from, v.valid_until, t.day)
    QUALIFY row_number() OVER (PARTITION BY t.position_id, t.day, is_override ORDER BY v.valid_from DESC NULLS LAST) = 1
),
listed AS (
    SELECT t.position_id, t.day, l.price, least(l.valid_until, t.tariff_until) AS list_until
    FROM tariffed AS t
    JOIN cat_prices AS l
        ON l.tariff_id = t.tariff_id AND l.article_id = t.article_id
        AND valid_on(l.valid_from, l.valid_until, t.day)
    QUALIFY row_number() OVER (PARTITION BY t.position_id, t.day ORDER BY l.valid_from DESC NULLS LAST) = 1
)
SELECT
    t.position_id,
    t.day,
    t.contract_id,
    t.article_id,
    t.tariff_id,
    o.price AS override_price,
    o.reason AS override_reason,
    o.valid_until AS override_until,
    coalesce(b.price, l.price) AS base_price,
    CASE WHEN b.price IS NOT NULL THEN b.kind WHEN l.price IS NOT NULL THEN 'list' END AS base_source,
    CAST(coalesce(o.price, b.price, l.price) AS DECIMAL(18,6)) AS price,
    CASE
        WHEN o.price IS NOT NULL THEN 'override: ' || o.reason
        WHEN b.price IS NOT NULL THEN b.kind
        WHEN l.price IS NOT NULL THEN 'list'
    END AS price_source,
    CASE WHEN b.price IS NOT NULL THEN b.valid_until ELSE l.list_until END AS base_until
FROM tariffed AS t
LEFT JOIN versions AS o ON o.position_id = t.position_id AND o.day = t.day AND o.is_override
LEFT JOIN versions AS b ON b.position_id = t.position_id AND b.day = t.day AND NOT b.is_override
LEFT JOIN listed AS l ON l.position_id = t.position_id AND l.day = t.day
