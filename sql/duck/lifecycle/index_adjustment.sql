-- New price versions of an index adjustment by $factor from $effective (docs/billing.md):
-- each position's own price (its latest price/index version, else the list price) on that day
-- times the factor, as an `index` version (`list_index` when it raises a list price, or an
-- indexed one) from $effective until the end of what it raises: an own version's end (after a
-- limited own price the list price applies again, not the indexed one), a list price's end in
-- prices.csv or the end of the module's tariff version (a tariff change brings the new tariff's
-- list price; `rating change-tariff` ends it too); an override valid that day gets an
-- `override` version from $effective until its own end, at its price times the factor. Prices
-- are rounded half away from zero to 6 decimals. Earlier versions stay: earlier periods bill at
-- their own prices. Input: bill_prices for (position, $effective).
SELECT
    position_id,
    CASE WHEN base_source IN ('list', 'list_index') THEN 'list_index' ELSE 'index' END AS kind,
    micro_to_amount(div_half_up(CAST(to_micro(base_price) AS HUGEINT) * to_micro($factor), 1000000)) AS price,
    CAST($effective AS DATE) AS valid_from,
    base_until AS valid_until,
    'index ×' || CAST($factor AS VARCHAR) || ' of the '
        || CASE base_source WHEN 'list' THEN 'list price ' WHEN 'list_index' THEN 'indexed list price ' WHEN 'index' THEN 'indexed price ' ELSE 'position price ' END
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
