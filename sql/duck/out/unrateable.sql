-- Stored shape of unrateable usage: assigned, but no zone, article, price or quantity could price
-- it, or its amount is beyond what a stored amount holds. Never priced at zero: the reason says
-- which catalog row is missing. The tariff named is the one the record was rated with (its device
-- ID's, after a tariff change), not the contract's own. Reads `outcome_rows` (their rows of `pricing`,
-- sql/duck/out/unrateable_rows.sql) and `usage_rows` (those records of the batch).
SELECT
    $run_id AS run_id, u.* EXCLUDE (rid), c.contract_id,
    CASE
        WHEN p.ta_no IS NULL AND p.zone_no = 0 AND phone_key(u.counterparty) IS NOT NULL
            THEN 'no destination zone matches ' || u.counterparty
                 || ' and tariff ' || t.tariff_id || ' has no catch-all zone'
        -- digits that are no E.164 number (national form, a leading 0; more than 15 digits): a called
        -- number in no zone (pipeline.assign.keys.counterparty_key); another counterparty (a flow's
        -- peer address) is no called number: the article key's missing row is the reason below
        WHEN p.ta_no IS NULL AND p.zone_no = 0 AND TRY_CAST(u.counterparty AS BIGINT) IS NOT NULL
            THEN 'called number ' || u.counterparty || ' is not in international form (E.164 digits), so no destination zone matches it, '
                 || 'and tariff ' || t.tariff_id || ' has no catch-all zone'
        WHEN p.ta_no IS NULL AND coalesce(kz.article_id, ka.article_id) IS NULL
            THEN 'article key ' || u.article_key || ' has no article for zone ' || coalesce(z.zone_id, '(none)')
                 || ' (article_keys.csv)'
        WHEN p.ta_no IS NULL
            THEN 'tariff ' || t.tariff_id || ' has no price for article ' || coalesce(kz.article_id, ka.article_id)
                 || coalesce(' in band ' || b.band, '') || ' valid at ' || strftime(u.start_time AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S')
                 || ' UTC (prices.csv or the pricing tables)'
        WHEN p.quantity IS NOT NULL
            THEN 'amount beyond 999999999999.999999, the most one record may cost: ' || p.quantity || ' ' || ta.unit
                 || 's of article ' || ta.article_id || ' at ' || micro_to_amount(p.price_micro) || ' per ' || ta.price_per
                 || ' (tariff ' || t.tariff_id || ')'
        ELSE 'record has no ' || CASE ta.unit WHEN 'second' THEN 'duration' WHEN 'byte' THEN 'volume' ELSE 'quantity' END
             || ' for its article ' || ta.article_id || ' (unit ' || ta.unit || ')'
    END AS reason
FROM outcome_rows AS p
JOIN usage_rows AS u USING (rid)
JOIN contract_dim AS c ON c.contract_no = p.contract_no
JOIN dev_dim AS d ON d.dev_no = p.dev_no
JOIN tariff_dim AS t ON t.tariff_no = d.tariff_no
LEFT JOIN ta_dim AS ta ON ta.ta_no = p.ta_no
LEFT JOIN zone_dim AS z ON z.zone_no = p.zone_no
LEFT JOIN band_dim AS b ON b.band_no = p.band_no
LEFT JOIN cat_article_keys AS kz ON kz.article_key = u.article_key AND kz.zone_id = z.zone_id
LEFT JOIN cat_article_keys AS ka ON ka.article_key = u.article_key AND ka.zone_id IS NULL
-- in batch order: a run stores the same file each time it runs
ORDER BY rid
