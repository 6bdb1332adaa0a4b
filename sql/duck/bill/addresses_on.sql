-- The billing address of each contract valid on $day: the latest version starting on or
-- before it. A changed address therefore affects only documents dated from its start on.
SELECT contract_id, valid_from, name, street, postal_code, city, country
FROM bil_addresses
WHERE valid_from <= CAST($day AS DATE)
QUALIFY row_number() OVER (PARTITION BY contract_id ORDER BY valid_from DESC) = 1
