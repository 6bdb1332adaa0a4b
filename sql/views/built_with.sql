-- What the analyst database was built with (pipeline.io.views.publish, read by pipeline.io.views.stale):
-- the warehouse its views read (by absolute path), the fingerprint of the views' definitions, and per
-- view over stored files whether it reads files (true) or the empty schema file of its table (false).
CREATE SCHEMA meta;
CREATE TABLE meta.built_with (
    warehouse VARCHAR NOT NULL,
    definitions VARCHAR NOT NULL,
    view_name VARCHAR NOT NULL,
    has_files BOOLEAN NOT NULL
);
