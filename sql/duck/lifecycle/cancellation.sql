-- End dates of cancellations (docs/billing.md, DOMAIN §5), one per row of cancel_requests
-- (id, rule, ordered_on, term_months, notice_months, notice_on):
--   none:    ends the day notice is given;
--   monthly: ends at the end of the month `notice_months` after the notice's month
--            (1 June → 31 July; 30 June → 31 July), not before a minimum term if one is set,
--            and always at a month's end: a term ending 14 January runs to 31 January;
--   yearly:  terms of `term_months` run from ordered_on, each ending the day before its
--            anniversary; notice must come by the day before the term end less notice_months
--            (term ends 7 August, 3 months → last notice day 6 May); later notice ends the
--            following term (the contract renewed).
-- Returned: end_date, last_notice_day (the last day notice gives this end date),
-- current_term_end (yearly) and renewed (the notice came too late for the current term).
WITH yearly_terms AS (
    SELECT
        id,
        add_months(ordered_on, term_months * k) - 1 AS term_end,
        add_months(add_months(ordered_on, term_months * k) - 1, -notice_months) - 1 AS last_notice_day
    FROM (
        SELECT
            *,
            unnest(range(
                greatest(1, date_diff('month', ordered_on, notice_on) // term_months),
                date_diff('month', ordered_on, notice_on) // term_months + 3 + notice_months // term_months
            )) AS k
        FROM cancel_requests
        WHERE rule = 'yearly'
    )
),
yearly AS (
    SELECT
        t.id,
        min(t.term_end) FILTER (WHERE t.term_end >= r.notice_on) AS current_term_end,
        min(t.term_end) FILTER (WHERE t.last_notice_day >= r.notice_on) AS end_date
    FROM yearly_terms AS t
    JOIN cancel_requests AS r USING (id)
    GROUP BY t.id
),
ends AS (
    SELECT
        r.*,
        y.current_term_end,
        CASE r.rule
            WHEN 'none' THEN r.notice_on
            WHEN 'monthly' THEN last_day(greatest(
                add_months(r.notice_on, r.notice_months),
                add_months(r.ordered_on, r.term_months) - 1
            ))
            WHEN 'yearly' THEN y.end_date
        END AS end_date
    FROM cancel_requests AS r
    LEFT JOIN yearly AS y USING (id)
)
SELECT
    *,
    CASE rule
        WHEN 'none' THEN end_date
        WHEN 'monthly' THEN last_day(add_months(end_date, -notice_months))
        WHEN 'yearly' THEN add_months(end_date, -notice_months) - 1
    END AS last_notice_day,
    coalesce(rule = 'yearly' AND end_date > current_term_end, FALSE) AS renewed
FROM ends
ORDER BY id
