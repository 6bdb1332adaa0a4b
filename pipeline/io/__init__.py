"""Readers and writers: every file format, the Parquet warehouse, Postgres. Nothing else touches disks."""
