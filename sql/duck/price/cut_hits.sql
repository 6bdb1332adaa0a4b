-- The rate-card piece valid at each record's start, for records whose rate-card cell's price
-- changes over time (pipeline/price/records.py registers them as `cut_records`: pos, card_key,
-- t_us). Pieces of a cell are disjoint, so a record finds at most one.
SELECT r.pos, c.card_no
FROM cut_records AS r
JOIN card_cut AS c ON c.card_key = r.card_key AND r.t_us >= c.from_us AND r.t_us < c.until_us
