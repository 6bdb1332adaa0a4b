-- New price versions of an index adjustment by $factor from $effective (docs/billing.md):
-- each position's own price (its latest price/index version, else the list price) on that day
-- times the factor, as an `index` version from $effective until the end of the version it
-- raises (a list price: open-ended; after a limited own price the list price applies again,
-- not the indexed one); an override valid that day gets an
-- `override` version from $effective until its own end, at its price times the factor. Prices
-- are rounded half away from zero to 6 decimals. Earlier versions stay: earlier periods bill at
-- their own prices. Input: bill_prices for (position, $effective).
SELECT
    position_id,
    'index' AS kind,
    micro_to_amount(div_half_up(CAST(to_micro(base_price) AS HUGEINT) * to_micro($factor), 1000000)) AS price,
    CAST($effective AS DATE) AS valid_from,
    CASE WHEN base_source IN ('price', 'index') THEN base_until END AS valid_until,
    'index ×' || CAST($factor AS VARCHAR) || ' of the '
        || CASE base_source WHEN 'list' THEN 'list price ' WHEN 'index' THEN 'indexed price ' ELSE 'position price ' END
        || CAST(base_price AS VARCHAR) AS reason
FROM bill_prices
WHERE base_price IS NOT NULL
UNION ALL
SELECT
    position_id,
    'override',
    micro_to_amount(div_half_up(CAST(to_micro(override_price) AS HUGEINT) * to_micro($factor), 1000000)),
    CAST($effective AS DATE),
    override_until,
    override_reason || ' (index ×' || CAST($factor AS VARCHAR) || ')'
FROM bill_prices
WHERE override_price IS NOT NULL
ORDER BY position_id, kind
