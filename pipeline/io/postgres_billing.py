"""PostgreSQL for billing runs: schemas `billing` (real invoices) and `billing_test` (test accounts).

Built on pipeline.io.postgres (its connection, SQL templates and exact-money staging): each
table is binary-COPYed into a TEMP table with money as integer minor units and moved into
place by the server, and a run's rows in every billing table are replaced in one
transaction, so writing a committed run again (a retry, a re-run) changes nothing.
The billing tables live outside schema `rating`, whose tables are exactly schemas/outputs.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

import sql
from pipeline.io.postgres import (
    PostgresError,
    PostgresWriteError,
    _connection,
    _driver_errors,
    _minor_units,
    _redact_text,
    _template,
    redacted,
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


def ensure_billing_schema(url: str) -> None:
    """Create schemas `billing` and `billing_test` and their tables where missing (idempotent)."""
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
    staged = [(SCHEMA, name, _staged(name, run_id, t)) for name, t in tables.items()]
    staged += [(TEST_SCHEMA, name, _staged(name, run_id, t, test=True)) for name, t in test_tables.items()]
    written: dict[str, int] = {}
    with _connection(url) as (conn, pgsql):
        where = "locking the run"
        try:
            with conn.cursor() as cur:
                cur.execute(_template("lock_run").as_string(None), parameters=(f"billing:{run_id}",))
                for schema, name, table in staged:
                    where = f"table {schema}.{name}"
                    target = pgsql.Identifier(schema, name)
                    staging = f"stage_{schema}_{name}"
                    cur.execute(_template("delete_run").format(table=target).as_string(None), parameters=(run_id,))
                    cur.adbc_ingest(staging, table, mode="replace", temporary=True)
                    cur.execute(_insert(name, target, pgsql.Identifier("pg_temp", staging), pgsql).as_string(None))
                    written[f"{schema}.{name}"] = cur.rowcount
            conn.commit()
        except _driver_errors() as exc:
            conn.rollback()
            missing = getattr(exc, "sqlstate", None) == "42P01"
            hint = "; create the tables first with ensure_billing_schema(url)" if missing else ""
            raise PostgresWriteError(
                f"writing billing run {run_id!r} to {redacted(url)} failed at {where}: {_redact_text(str(exc), url)}{hint}. "
                "Rolled back: the database holds what it held before."
            ) from exc
        except BaseException:
            conn.rollback()
            raise
    return written


def read_billing_table(url: str, table: str, run_id: str | None = None, test: bool = False) -> pa.Table:
    """A billing table (or one run's rows of it) with its schemas/billing.py schema, in no set order."""
    schema = _schema(table, test)
    with _connection(url) as (conn, pgsql):
        values = pgsql.SQL(", ").join(
            _template("money_as_text").format(column=pgsql.Identifier(f.name))
            if pa.types.is_decimal(f.type)
            else pgsql.Identifier(f.name)
            for f in schema
        )
        query = _template("select_table" if run_id is None else "select_run").format(
            table=pgsql.Identifier(TEST_SCHEMA if test else SCHEMA, table), values=values
        )
        with conn.cursor() as cur:
            try:
                cur.execute(query.as_string(None), parameters=None if run_id is None else (run_id,))
                got = cur.fetch_arrow_table()
            except _driver_errors() as exc:
                raise PostgresError(f"reading billing table {table} from {redacted(url)} failed: {_redact_text(str(exc), url)}") from exc
        conn.rollback()
    return pa.Table.from_arrays([got.column(f.name).cast(f.type) for f in schema], schema=schema)


def stored_billing_schemas(url: str, test: bool = False) -> dict[str, pa.Schema]:
    """The Arrow schema of every table in `billing` (or `billing_test`) as the server has it."""
    with _connection(url) as (conn, _):
        with conn.cursor() as cur:
            cur.execute(_template("billing_columns").as_string(None), parameters=(TEST_SCHEMA if test else SCHEMA,))
            columns = cur.fetch_arrow_table().to_pylist()
        conn.rollback()
    fields: dict[str, list[pa.Field]] = {}
    for c in columns:  # a few dozen rows of column metadata
        fields.setdefault(c["table_name"], []).append(pa.field(c["column_name"], _arrow_type(c), c["nullable"]))
    return {name: pa.schema(f) for name, f in fields.items()}


def _schema(name: str, test: bool = False) -> pa.Schema:
    allowed = TABLES_OF[TEST_SCHEMA if test else SCHEMA]
    if name not in allowed:
        raise ValueError(f"unknown billing table {name!r}; the stored ones are {sorted(allowed)}")
    return STORED[name]


def _staged(name: str, run_id: str, table: pa.Table, test: bool = False) -> pa.Table:
    """`table` in its stored column order and types, money as int64 minor units, own run only."""
    schema = _schema(name, test)
    if set(table.column_names) != set(schema.names):
        raise ValueError(f"billing table {name!r} does not match schemas/billing.py: columns {sorted(table.column_names)}")
    table = table.select(schema.names).cast(pa.schema([f.with_nullable(True) for f in schema]))
    foreign = table.num_rows - (pc.sum(pc.fill_null(pc.equal(table["run_id"], pa.scalar(run_id)), False)).as_py() or 0)
    if foreign:
        raise ValueError(f"billing table {name!r}: {foreign} rows have a run_id other than {run_id!r}")
    for i, field in enumerate(schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, _minor_units(table.column(i), field.type))
    return table


def _insert(name: str, target: Any, staging: Any, pgsql: Any) -> Any:
    schema = STORED[name]
    values = [
        _template("money_from_units").format(column=pgsql.Identifier(f.name), unit=pgsql.Literal(Decimal(1).scaleb(-f.type.scale)))
        if pa.types.is_decimal(f.type)
        else pgsql.Identifier(f.name)
        for f in schema
    ]
    return _template("insert_staged").format(
        table=target,
        columns=pgsql.SQL(", ").join(pgsql.Identifier(c) for c in schema.names),
        values=pgsql.SQL(", ").join(values),
        staging=staging,
    )


def _arrow_type(column: dict) -> pa.DataType:
    if column["data_type"] == "numeric":
        return pa.decimal128(column["numeric_precision"], column["numeric_scale"])
    if column["data_type"] in _ARROW_OF_PG:
        return _ARROW_OF_PG[column["data_type"]]
    raise PostgresError(f"billing column {column['table_name']}.{column['column_name']} has unexpected type {column['data_type']!r}")
