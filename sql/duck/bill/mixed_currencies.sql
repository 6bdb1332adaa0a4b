-- Invoices that would mix currencies (docs/billing.md, "One currency"): each contract whose lines
-- are in another currency than its invoice (its tariff's), with those currencies. Usage rated
-- under one tariff and billed after the contract moved to a tariff in another currency is one.
SELECT i.contract_id, i.currency, string_agg(DISTINCT l.currency, ', ' ORDER BY l.currency) AS other
FROM bill_lines AS l
JOIN bill_invoices AS i USING (contract_id)
WHERE l.currency <> i.currency
GROUP BY ALL
ORDER BY ALL
