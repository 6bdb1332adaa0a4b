-- Destination-zone prefixes as key intervals: the longest matching prefix wins.
SELECT
    'zone' AS kind,
    phone_key(prefix) AS lo,
    phone_prefix_hi(prefix) AS hi,
    phone_prefix_hi(prefix) - phone_key(prefix) AS width,
    {'zone_id': zone_id, 'zone_prefix': prefix} AS payload
FROM cat_zones
