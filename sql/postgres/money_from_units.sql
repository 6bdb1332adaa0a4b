-- A money column staged as integer minor units (bigint) turned back into its exact NUMERIC:
-- bigint * 0.000001 has exactly scale 6, so the assignment to numeric(18,6) never rounds
-- (dividing by 1000000 instead would let PostgreSQL choose the result scale).
-- {column}: quoted identifier; {unit}: the literal 10^-scale, e.g. 0.000001.
{column} * {unit}
