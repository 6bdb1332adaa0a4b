-- A NUMERIC column read as the server's own text rendering (exact, e.g. '12345678.990000'),
-- so no client-side NUMERIC decoder is trusted with money. {column}: quoted identifier.
{column}::text AS {column}
