-- What earlier runs of a period already used per group (contract, tariff-article, period), from
-- `carry_in(contract_id, tariff_id, article_id, period, quantity)`: their rated units count against the free
-- quantity first; what exceeded it has climbed the volume tiers.
SELECT group_key(c.contract_no, ta.ta_no, CAST(substr(k.period, 1, 4) AS INTEGER) * 12 + CAST(substr(k.period, 6, 2) AS INTEGER) - 1) AS gk,
       sum(k.quantity) AS q_before
FROM carry_in AS k
JOIN contract_dim AS c USING (contract_id)
JOIN ta_dim AS ta ON ta.tariff_id = k.tariff_id AND ta.article_id = k.article_id
GROUP BY 1
