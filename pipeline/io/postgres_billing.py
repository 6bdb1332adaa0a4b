"""PostgreSQL for billing runs: schemas `billing` (real invoices) and `billing_test` (test accounts).

Built on pipeline.io.postgres (its connection, SQL templates and exact-money staging): each
table is binary-COPYed into a TEMP table with money as integer minor units and moved into
place by the server, and a run's rows in every billing table are replaced in one
transaction, so writing a committed run again (a retry, a re-run) changes nothing.
The billing tables live outside schema `rating`, whose tables are exactly schemas/outputs.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

import sql
from pipeline.io.postgres import (
    StoredTables,
    checked_tables,
    _connection,
    _read,
    _staged,
    _stored_schemas,
    _template,
    _write,
)
from schemas.billing import STORED, TEST_TABLES

SCHEMA = "billing"
TEST_SCHEMA = "billing_test"

#: Which tables each schema holds.
TABLES_OF: dict[str, tuple[str, ...]] = {SCHEMA: tuple(STORED), TEST_SCHEMA: TEST_TABLES}

_ARROW_OF_PG = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "date": pa.date32(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}
#: Each billing schema's tables, for pipeline.io.postgres's staging, reading and catalog code.
_TABLES = {
    schema: StoredTables(
        schema,
        {name: STORED[name] for name in names},
        _ARROW_OF_PG,
        "schemas/billing.py",
        "sql/postgres/billing.sql",
        "ensure_billing_schema(url)",
        label="billing table",
    )
    for schema, names in TABLES_OF.items()
}


def ensure_billing_schema(url: str) -> None:
    """Create schemas `billing` and `billing_test` and their tables where missing (idempotent),
    after checking the tables already there (checked_tables: an older release's table is refused
    naming each column, before a CREATE INDEX on a column it lacks could fail with the driver's error)."""
    for schema in (SCHEMA, TEST_SCHEMA):
        checked_tables(url, _TABLES[schema])
    with _connection(url) as (conn, pgsql):
        with conn.cursor() as cur:
            cur.execute(_template("lock_schema").as_string(None))
            for schema in (SCHEMA, TEST_SCHEMA):
                for statement in sql.statements("postgres/billing"):
                    cur.execute(pgsql.SQL(statement).format(schema=pgsql.Identifier(schema)).as_string(None))
            for statement in sql.statements("postgres/billing_runs"):
                cur.execute(statement)
        conn.commit()


def write_billing_run(
    url: str, run_id: str, tables: Mapping[str, pa.Table], test_tables: Mapping[str, pa.Table]
) -> dict[str, int]:
    """Replace run `run_id`'s rows in every given billing table (test accounts' in `billing_test`),
    all in one transaction; rows written per table (`billing_test.<name>` for test ones)."""
    real, test = _TABLES[SCHEMA], _TABLES[TEST_SCHEMA]
    staged = [(real, name, [_staged(real, name, run_id, t)]) for name, t in tables.items()]
    staged += [(test, name, [_staged(test, name, run_id, t)]) for name, t in test_tables.items()]
    written = _write(url, run_id, f"billing:{run_id}", staged, what="billing run")
    return {f"{schema}.{name}": rows for (schema, name), rows in written.items()}


def mirror_committed(url: str, warehouse: Path, run_id: str) -> dict[str, int]:
    """Write committed billing run `run_id` from the warehouse (replacing its rows: safe to repeat)."""
    from pipeline.io import billing_store

    tables = {name: billing_store.read_committed(warehouse, name, run_id=run_id) for name in STORED}
    test_tables = {name: billing_store.read_committed(warehouse, name, test=True, run_id=run_id) for name in TEST_TABLES}
    return write_billing_run(url, run_id, tables, test_tables)


def mirror_missing(url: str, warehouse: Path) -> list[str]:
    """Write every committed billing run that schema `billing` lacks (its own write failed, or
    its run was asked for again without a URL); returns their run ids."""
    from pipeline.io import billing_store

    mirrored = set(read_billing_table(url, "billing_runs").column("run_id").to_pylist())
    folder = Path(warehouse) / billing_store.BILLING / billing_store.RUNS
    committed = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.exists() else []
    missing = [run_id for run_id in committed if run_id not in mirrored]
    for run_id in missing:
        mirror_committed(url, warehouse, run_id)
    return missing


def read_billing_table(url: str, table: str, run_id: str | None = None, test: bool = False) -> pa.Table:
    """A billing table (or one run's rows of it) with its schemas/billing.py schema, in no set order."""
    return _read(url, _TABLES[TEST_SCHEMA if test else SCHEMA], table, run_id)


def stored_billing_schemas(url: str, test: bool = False) -> dict[str, pa.Schema]:
    """The Arrow schema of every table in `billing` (or `billing_test`) as the server has it."""
    schema = TEST_SCHEMA if test else SCHEMA
    return _stored_schemas(url, _TABLES[schema])
