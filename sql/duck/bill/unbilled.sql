-- What a billing run made on this connection would bill for real, per contract (pipeline.bill.invoices.unbilled:
-- a customer's contracts billed up to a day, before their account is deleted). Test accounts' invoices are not real.
SELECT contract_id, count(*) AS invoices, sum(lines) AS lines, sum(net_total) AS net_total, min(currency) AS currency
FROM bill_out_invoices
WHERE NOT is_test
GROUP BY contract_id
