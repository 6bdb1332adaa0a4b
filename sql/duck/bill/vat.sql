-- VAT totals per invoice (contract), treatment and rate: VAT = round(net × rate) once per rate,
-- half away from zero. Reverse charge and exempt totals carry the settings' note.
SELECT
    l.contract_id,
    l.vat_code,
    l.vat_rate,
    sum(l.net_cents) AS net_cents,
    div_half_up(CAST(sum(l.net_cents) AS HUGEINT) * CAST(l.vat_rate * 10000 AS BIGINT), 10000) AS vat_cents,
    CASE l.vat_code WHEN 'reverse_charge' THEN any_value(s.reverse_charge_note) WHEN 'exempt' THEN any_value(s.exempt_note) END AS note
FROM bill_lines AS l
CROSS JOIN bil_billing_settings AS s
GROUP BY l.contract_id, l.vat_code, l.vat_rate
