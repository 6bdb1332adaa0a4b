-- What the analyst database was built with (pipeline.io.views.publish, read by pipeline.io.views.stale):
-- the warehouse its views read (by absolute path), the fingerprint of the views' definitions, per
-- view over stored files whether it reads files (true) or the empty schema file of its table (false),
-- and the empty schema files (in <warehouse>/_schema) there were.
CREATE SCHEMA meta;
CREATE TABLE meta.built_with (
    warehouse VARCHAR NOT NULL,
    definitions VARCHAR NOT NULL,
    view_name VARCHAR NOT NULL,
    has_files BOOLEAN NOT NULL
);
CREATE TABLE meta.schema_files (
    file_name VARCHAR NOT NULL
);
