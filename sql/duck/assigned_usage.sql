-- Assign each usage record to a contract: one ASOF join of the record's key onto the
-- disjoint segments of the device-ID index, then the most specific candidate whose
-- validity holds at the record's start time (valid_from inclusive, valid_until exclusive).
-- Reads `usage_in` (canonical usage) and `device_segments`; keeps every record, with
-- `hit` NULL and `unassigned_reason` set where no contract matched.
WITH keyed AS (
    SELECT u.*, CASE u.id_type WHEN 'phone' THEN phone_key(u.subscriber_id) END AS id_key
    FROM usage_in AS u
),
matched AS (
    SELECT
        k.*,
        s.seg_hi,
        CASE WHEN k.id_key <= s.seg_hi THEN s.cands END AS cands
    FROM keyed AS k
    ASOF LEFT JOIN device_segments AS s ON k.id_type = s.kind AND k.id_key >= s.seg_lo
),
picked AS (
    SELECT
        m.* EXCLUDE (seg_hi, cands),
        list_filter(
            m.cands,
            lambda c: (c.valid_from IS NULL OR m.start_time >= c.valid_from)
                  AND (c.valid_until IS NULL OR m.start_time < c.valid_until)
        )[1] AS hit,
        m.cands IS NOT NULL AS id_known
    FROM matched AS m
)
SELECT
    p.* EXCLUDE (hit, id_known),
    p.hit.contract_id AS contract_id,
    p.hit.matched_id AS matched_id,
    p.hit.match_kind AS match_kind,
    CASE
        WHEN p.hit IS NOT NULL THEN NULL
        WHEN p.id_key IS NULL THEN 'subscriber_id is not a valid ' || p.id_type || ' identifier'
        WHEN NOT p.id_known THEN 'no device ID matches ' || p.subscriber_id
        ELSE 'no device ID for ' || p.subscriber_id || ' is valid at ' || strftime(p.start_time, '%Y-%m-%d %H:%M:%S')
    END AS unassigned_reason
FROM picked AS p
