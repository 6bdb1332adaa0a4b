-- Device IDs of the catalog as key intervals, one per ID row (docs/assignment.md).
-- Reads `cat_device_ids`; emits the `intervals` shape of interval_segments.sql.
SELECT
    id_type AS kind,
    phone_key(id_value) AS lo,
    phone_prefix_hi(coalesce(id_to, id_value)) AS hi,
    phone_prefix_hi(coalesce(id_to, id_value)) - phone_key(id_value) AS width,
    {
        'contract_id': contract_id,
        'matched_id': CASE WHEN id_to IS NULL THEN id_value ELSE id_value || '-' || id_to END,
        'match_kind': CASE WHEN id_to IS NULL THEN 'prefix' ELSE 'range' END,
        'valid_from': valid_from,
        'valid_until': valid_until
    } AS payload
FROM cat_device_ids
WHERE id_type = 'phone'
