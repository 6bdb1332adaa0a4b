-- Minimum revenue and cost cap (DOMAIN §4, docs/pricing.md): adjustment lines per contract,
-- billing period and tariff, on the rounded usage lines of the articles flagged for them.
-- Inputs: adj_lines (schemas.billing.USAGE_LINE_SCHEMA), adj_tariffs (tariff_id, min_revenue,
-- cost_cap, vat_rate), adj_flags (tariff_id, article_id, min_revenue, cost_cap).
--
--   minimum revenue: + max(min_revenue - min-flagged, 0)                     (made first)
--   cost cap:        + min(cost_cap - (cap-flagged + counted top-up), 0)
-- The top-up is billed for the min-flagged articles; the part of it counted toward the cap is
-- the share of those articles' amount that is also cap-flagged (with no amount: the share of
-- the tariff's min-flagged articles that are also cap-flagged), rounded half away from zero.
-- With the same articles flagged for both, flagged + adjustments = clamp(flagged, min, cap);
-- with different articles for each, each limit acts on its own articles alone.
-- An adjustment is split over the VAT rates of its flagged lines in proportion to their
-- amounts (rounded half away from zero; the largest share takes the remainder, so the parts add
-- up exactly); without flagged amounts it takes the tariff's rate (0 under reverse charge or
-- exemption, like every line of the customer). A period without usage comes as one line with
-- no article and 0.00 (sql/duck/bill/usage_for_adjustments.sql): its tariff's whole minimum.
WITH lines AS (
    SELECT l.*, CAST(l.net_amount * 100 AS BIGINT) AS cents,
           coalesce(f.min_revenue, false) AS for_min, coalesce(f.cost_cap, false) AS for_cap
    FROM adj_lines AS l
    LEFT JOIN adj_flags AS f USING (tariff_id, article_id)
),
sums AS (
    SELECT l.contract_id, l.period, l.tariff_id, any_value(l.vat_code) AS vat_code, any_value(l.currency) AS currency,
           coalesce(sum(l.cents) FILTER (WHERE l.for_min), 0) AS min_base,
           coalesce(sum(l.cents) FILTER (WHERE l.for_cap), 0) AS cap_base,
           coalesce(sum(l.cents) FILTER (WHERE l.for_min AND l.for_cap), 0) AS both_base,
           div_half_up(to_micro(any_value(t.min_revenue)), 10000) AS min_cents,
           div_half_up(to_micro(any_value(t.cost_cap)), 10000) AS cap_cents,
           any_value(t.vat_rate) AS tariff_vat
    FROM lines AS l
    JOIN adj_tariffs AS t USING (tariff_id)
    WHERE t.min_revenue IS NOT NULL OR t.cost_cap IS NOT NULL
    GROUP BY l.contract_id, l.period, l.tariff_id
),
flag_counts AS (
    SELECT tariff_id, count(*) FILTER (WHERE min_revenue) AS n_min, count(*) FILTER (WHERE min_revenue AND cost_cap) AS n_both
    FROM adj_flags
    GROUP BY tariff_id
),
topped AS (
    SELECT s.*, coalesce(greatest(s.min_cents - s.min_base, 0), 0) AS min_adj, coalesce(f.n_min, 0) AS n_min, coalesce(f.n_both, 0) AS n_both
    FROM sums AS s
    LEFT JOIN flag_counts AS f USING (tariff_id)
),
amounts AS (
    SELECT *,
           CASE WHEN min_adj = 0 THEN 0
                WHEN min_base > 0 THEN div_half_up(CAST(min_adj AS HUGEINT) * both_base, min_base)
                WHEN n_min > 0 THEN div_half_up(CAST(min_adj AS HUGEINT) * n_both, n_min)
                ELSE 0
           END AS counted_min
    FROM topped
),
adjustments AS (
    SELECT *, 'MIN_REVENUE' AS article_id, min_adj AS adj, min_base AS base, min_cents AS limit_cents, 'for_min' AS flag
    FROM amounts WHERE min_adj <> 0
    UNION ALL
    SELECT *, 'COST_CAP', least(cap_cents - (cap_base + counted_min), 0), cap_base, cap_cents, 'for_cap'
    FROM amounts WHERE cap_cents IS NOT NULL AND cap_base + counted_min > cap_cents
),
-- the flagged cents per VAT rate of each adjustment
rates AS (
    SELECT a.contract_id, a.period, a.tariff_id, a.article_id, l.vat_rate, sum(l.cents) AS cents
    FROM adjustments AS a
    JOIN lines AS l
        ON l.contract_id = a.contract_id AND l.period = a.period AND l.tariff_id = a.tariff_id
        AND CASE a.flag WHEN 'for_min' THEN l.for_min ELSE l.for_cap END
    GROUP BY ALL
    HAVING sum(l.cents) <> 0
),
shares AS (
    SELECT a.*, coalesce(r.vat_rate, CASE WHEN a.vat_code = 'normal' THEN a.tariff_vat ELSE 0 END) AS vat_rate,
           r.cents AS rate_cents,
           row_number() OVER (PARTITION BY a.contract_id, a.period, a.tariff_id, a.article_id ORDER BY abs(r.cents) DESC NULLS LAST, r.vat_rate DESC) AS pos,
           CASE WHEN a.base <> 0 AND r.cents IS NOT NULL THEN div_half_up(CAST(a.adj AS HUGEINT) * r.cents, a.base) ELSE a.adj END AS share
    FROM adjustments AS a
    LEFT JOIN rates AS r USING (contract_id, period, tariff_id, article_id)
),
fixed AS (
    SELECT *, CASE WHEN pos = 1 THEN adj - (sum(share) OVER (PARTITION BY contract_id, period, tariff_id, article_id) - share) ELSE share END AS cents
    FROM shares
)
SELECT
    contract_id, tariff_id, period, article_id,
    CASE article_id WHEN 'MIN_REVENUE' THEN 'Minimum revenue' ELSE 'Cost cap' END AS article_name,
    cents_amount(cents) AS net_amount,
    CAST(vat_rate AS DECIMAL(6,4)) AS vat_rate, vat_code, currency,
    CASE article_id WHEN 'MIN_REVENUE' THEN 'minimum revenue ' ELSE 'cost cap ' END
        || CAST(cents_amount(limit_cents) AS VARCHAR) || ' ' || currency
        || ' on flagged usage ' || CAST(cents_amount(base) AS VARCHAR) || ' ' || currency
        || CASE WHEN article_id = 'COST_CAP' AND counted_min = min_adj AND min_adj <> 0 THEN ' plus the minimum-revenue adjustment'
                WHEN article_id = 'COST_CAP' AND counted_min <> 0
                THEN ' plus ' || CAST(cents_amount(counted_min) AS VARCHAR) || ' ' || currency || ' of the minimum-revenue adjustment'
                ELSE '' END AS note
FROM fixed
WHERE cents <> 0
ORDER BY contract_id, period, tariff_id, article_id DESC, vat_rate DESC
