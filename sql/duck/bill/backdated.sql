-- Contracts the run refuses as backdated (docs/billing.md, "Backdating"): a contract without
-- contract_terms.entered_on counts as entered by its first invoice, so one never invoiced yet
-- (no invoice of it, real or test) whose first billable day (the later of start_date and
-- billing_from) lies more than two years before the run's last day would get those years of
-- fees at once. With entered_on, the catalog check (pipeline/catalog/billing.py) applies instead.
-- `reason` is what billing_problems and the refusal of a single invoice say.
SELECT
    c.contract_id,
    'contract ' || c.contract_id || ' is billable from '
        || strftime(greatest(c.start_date, coalesce(t.billing_from, c.start_date)), '%Y-%m-%d')
        || ', more than two years before ' || strftime(CAST($until AS DATE), '%Y-%m-%d')
        || ', and has no invoice yet: its first invoice would be backdated that far. Set contract_terms.billing_from'
        || ' to the day this system takes over its billing, or entered_on to the day it was entered'
        || ' (then the catalog check applies)' AS reason
FROM cat_contracts AS c
SEMI JOIN bill_scope USING (contract_id)
LEFT JOIN bil_contract_terms AS t USING (contract_id)
WHERE t.entered_on IS NULL
  AND greatest(c.start_date, coalesce(t.billing_from, c.start_date)) < CAST(CAST($until AS DATE) - INTERVAL 2 YEAR AS DATE)
  AND c.contract_id NOT IN (SELECT contract_id FROM st_invoices)
ORDER BY c.contract_id
