-- Stored shape of unrateable usage: assigned, but no zone, article or price could price it.
SELECT
    $run_id AS run_id, u.* EXCLUDE (rid), c.contract_id,
    CASE
        WHEN p.card_no IS NULL AND p.zone_no = 0
            THEN 'no destination zone matches ' || coalesce(u.counterparty, '(no number)')
                 || ' and tariff ' || c.tariff_id || ' has no catch-all zone'
        WHEN p.card_no IS NULL
            THEN 'tariff ' || c.tariff_id || ' has no article or no price valid on '
                 || CAST(CAST(u.start_time AS DATE) AS VARCHAR) || ' for key ' || u.article_key
                 || ' in zone ' || z.zone_id
        ELSE 'record has no duration or volume for its article unit'
    END AS reason
FROM pricing AS p
JOIN usage_in AS u USING (rid)
JOIN contract_dim AS c ON c.contract_no = p.contract_no
LEFT JOIN zone_dim AS z ON z.zone_no = p.zone_no
WHERE p.amount_micro IS NULL
