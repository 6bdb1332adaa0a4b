"""PostgreSQL: the one module that talks to it (ADBC for bulk binary COPY, psycopg.sql for quoting).

Why money is staged as integers: the ADBC PostgreSQL driver has had several bugs that silently
stored wrong NUMERIC values on ingest (apache/arrow-adbc#3485: scales not a multiple of 4;
#4507: integer parts that are multiples of 10^9). So money never passes through its NUMERIC
encoder: each table is binary-COPYed into a TEMP staging table with money as bigint minor units
(micro-units for DECIMAL(18,6), cents for DECIMAL(18,2), ...), and the server turns them back
into exact NUMERIC while moving the rows into `rating.<table>` (sql/postgres/money_from_units.sql).
Reading renders NUMERIC as text on the server for the same reason.

All SQL is in sql/postgres/*.sql; identifiers are quoted with psycopg.sql.Identifier and the
table names accepted are exactly schemas/outputs.py TABLES.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc

import sql
from schemas.outputs import TABLES

SCHEMA = "rating"

#: PostgreSQL's information_schema type names of the types the pipeline stores, as Arrow types.
_ARROW_OF_PG = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class StoredTables:
    """One PostgreSQL schema's tables and the Arrow schemas that declare them.

    The staging, reading and catalog code below serves any such set (schema `rating` here,
    the billing schemas in pipeline.io.postgres_billing), so each piece exists once.
    """

    schema: str  #: the PostgreSQL schema
    arrow: Mapping[str, pa.Schema]  #: exactly the tables it holds, each with its Arrow schema
    pg_types: Mapping[str, pa.DataType]  #: information_schema type names it uses (besides numeric)
    declared_in: str  #: the module that declares the Arrow schemas
    ddl: str  #: the SQL file that creates the tables
    ensure: str  #: the call that creates them, for error hints
    label: str = "table"  #: how messages name one of its tables


RATING = StoredTables(
    SCHEMA, TABLES, _ARROW_OF_PG, "schemas/outputs.py", "sql/postgres/schema.sql", "ensure_schema(url)"
)


class PostgresError(RuntimeError):
    """Something about PostgreSQL the user must act on; the message says what."""


class PostgresUnavailable(PostgresError):
    """The driver is not installed or the server cannot be reached."""


class PostgresWriteError(PostgresError):
    """A run could not be written; the transaction was rolled back, nothing changed."""


def ensure_schema(url: str) -> None:
    """Check that the tables already there are the declared ones (checked_tables), then create
    schema `rating` and its tables and indexes (sql/postgres/schema.sql) where missing.

    The check comes first: the DDL's CREATE INDEX on a table of an older release that lacks an
    indexed column would fail with the driver's error instead of naming the column."""
    checked_tables(url, RATING)
    with _connection(url) as (conn, _):
        with conn.cursor() as cur:
            cur.execute(_template("lock_schema").as_string(None))
            for statement in sql.statements("postgres/schema"):
                cur.execute(statement)
        conn.commit()


def checked_tables(url: str, tables: StoredTables) -> None:
    """Refuse (PostgresError, naming each column) tables of an older release: the DDL only creates
    what is missing, so a table made before a column was added, or with another money scale,
    would fail a run's write late, or round its money without a word; so would a column that is
    NOT NULL there but may be empty now, or a NOT NULL column no longer declared (never written)."""
    stored = _stored_schemas(url, tables)
    problems = []
    for name, declared in tables.arrow.items():
        have = stored.get(name)
        for field in declared if have is not None else []:
            if field.name not in have.names:
                problems.append(f"{tables.schema}.{name}.{field.name} is missing (declared {field.type})")
            elif have.field(field.name).type != field.type:
                problems.append(f"{tables.schema}.{name}.{field.name} is {have.field(field.name).type}, declared {field.type}")
            elif field.nullable and not have.field(field.name).nullable:
                problems.append(f"{tables.schema}.{name}.{field.name} is NOT NULL, declared nullable")
        for field in have if have is not None else []:
            if field.name not in declared.names and not field.nullable:
                problems.append(f"{tables.schema}.{name}.{field.name} is NOT NULL and not declared")
    if problems:
        raise PostgresError(
            f"the tables in schema {tables.schema} differ from {tables.declared_in}: " + "; ".join(problems)
            + f". {tables.ddl} creates only missing tables: migrate these columns (ALTER TABLE) or drop the tables"
        )


def write_run(url: str, run_id: str, tables: Mapping[str, pa.Table | Iterator[pa.Table]]) -> dict[str, int]:
    """Replace run `run_id`'s rows in each given table, all in one transaction; rows written per table.

    Re-writing a run replaces its rows (never doubles them); any failure rolls everything back.
    Every row's `run_id` must be `run_id`. Tables not given are left alone. A table given as an
    iterator of parts (warehouse.stored_run's per-record detail, file by file) is checked and
    sent a part at a time, so it is never held whole; a whole table is checked before connecting.
    """
    staged = [
        (RATING, name, [_staged(RATING, name, run_id, table)] if isinstance(table, pa.Table) else _staged_parts(RATING, name, run_id, table))
        for name, table in tables.items()
    ]
    written = _write(url, run_id, run_id, staged, what="run")
    return {name: rows for (_, name), rows in written.items()}


def mirror_missing(url: str, warehouse: Path) -> list[str]:
    """Write every run stored in `warehouse` that schema `rating` lacks or holds as an earlier
    execution of it (its `runs` row finished at another time: a `--reprocess` or re-rating whose
    own write failed, the server down), each in its transaction; returns their run ids."""
    from pipeline.io import warehouse as stored

    runs = read_table(url, "runs")
    mirrored = dict(zip(runs.column("run_id").to_pylist(), runs.column("finished_at").to_pylist()))
    stale = [run_id for run_id, finished in stored.run_starts(warehouse).select("run_id", "finished_at").iter_rows()  # runs, not records
             if mirrored.get(run_id) != finished]  # fmt: skip
    for run_id in stale:
        write_run(url, run_id, stored.stored_run(warehouse, run_id, in_parts=("rated_usage",)))
    return stale


def read_table(url: str, table: str, run_id: str | None = None) -> pa.Table:
    """A stored table (or one run's rows of it) with its schemas/outputs.py Arrow schema, in no set order."""
    return _read(url, RATING, table, run_id)


def stored_schemas(url: str) -> dict[str, pa.Schema]:
    """The Arrow schema of every table in schema `rating` as the server has it, to check against TABLES.

    Reads only the catalog (a few dozen rows of column metadata), never record data.
    """
    return _stored_schemas(url, RATING)


def redacted(url: str) -> str:
    """`url` with its password replaced by `***`, fit for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is not None:
        userinfo = f"{parts.username or ''}:***@"
        parts = parts._replace(netloc=userinfo + parts.netloc.rpartition("@")[2])
        url = urlunsplit(parts)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def _write(
    url: str, run_id: str, lock: str, staged: list[tuple[StoredTables, str, Iterable[pa.Table]]], *, what: str
) -> dict[tuple[str, str], int]:
    """Replace run `run_id`'s rows in each staged table, all in one transaction; rows written per (schema, table).

    Args:
        lock: the key writers of this run serialise on (sql/postgres/lock_run.sql).
        staged: (tables, name, its parts from `_staged`: one or more) in write order.
        what: how messages name the run ("run", "billing run").
    """
    written: dict[tuple[str, str], int] = {}
    with _connection(url) as (conn, pgsql):
        where, hint = "locking the run", ""
        try:
            with conn.cursor() as cur:
                cur.execute(_template("lock_run").as_string(None), parameters=(lock,))
                for tables, name, parts in staged:
                    where = f"table {tables.schema}.{name}"
                    hint = f"; create the tables first with {tables.ensure}"
                    target = pgsql.Identifier(tables.schema, name)
                    staging = f"stage_{tables.schema}_{name}"
                    cur.execute(_template("delete_run").format(table=target).as_string(None), parameters=(run_id,))
                    schema = tables.arrow[name]
                    sent = 0
                    for table in parts:
                        cur.adbc_ingest(staging, table, mode="append" if sent else "replace", temporary=True)
                        sent += 1
                    if not sent:  # an iterator of no parts: the table has no rows of the run (staged empty, as _staged makes one)
                        cur.adbc_ingest(staging, _staged(tables, name, run_id, schema.empty_table()), mode="replace", temporary=True)
                    cur.execute(_insert_staged(schema, target, pgsql.Identifier("pg_temp", staging)).as_string(None))
                    written[(tables.schema, name)] = cur.rowcount
            conn.commit()
        except _driver_errors() as exc:
            _roll_back(conn)
            missing_table = getattr(exc, "sqlstate", None) == "42P01"
            raise PostgresWriteError(
                f"writing {what} {run_id!r} to {redacted(url)} failed at {where}: {_redact_text(str(exc), url)}"
                f"{hint if missing_table else ''}. Rolled back: the database holds what it held before."
            ) from exc
        except BaseException:
            _roll_back(conn)
            raise
    return written


def _roll_back(conn: Any) -> None:
    """Roll back a failed write. On a connection the server ended (a restart, a failover: between the
    parts of a run's detail, say) there is nothing to roll back, the server dropped the transaction:
    the driver's 'Failed to rollback: no connection to the server' must not replace the write's own error."""
    try:
        conn.rollback()
    except _driver_errors():
        pass


def _read(url: str, tables: StoredTables, table: str, run_id: str | None) -> pa.Table:
    """`tables.schema`.`table` (or one run's rows of it) with its Arrow schema; money read as text (see above)."""
    schema = _schema(tables, table)
    with _connection(url) as (conn, pgsql):
        values = pgsql.SQL(", ").join(
            _template("money_as_text").format(column=pgsql.Identifier(f.name))
            if pa.types.is_decimal(f.type)
            else pgsql.Identifier(f.name)
            for f in schema
        )
        query = _template("select_table" if run_id is None else "select_run").format(
            table=pgsql.Identifier(tables.schema, table), values=values
        )
        with conn.cursor() as cur:
            try:
                cur.execute(query.as_string(None), parameters=None if run_id is None else (run_id,))
                got = cur.fetch_arrow_table()
            except _driver_errors() as exc:
                raise PostgresError(
                    f"reading {tables.schema}.{table} from {redacted(url)} failed: {_redact_text(str(exc), url)}"
                ) from exc
        conn.rollback()
    return pa.Table.from_arrays([got.column(f.name).cast(f.type) for f in schema], schema=schema)


def _stored_schemas(url: str, tables: StoredTables) -> dict[str, pa.Schema]:
    """Every table's Arrow schema as the server has it, from a catalog query (a few dozen rows of column metadata)."""
    with _connection(url) as (conn, _):
        with conn.cursor() as cur:
            cur.execute(_template("schema_columns").as_string(None), parameters=(tables.schema,))
            columns = cur.fetch_arrow_table().to_pylist()
        conn.rollback()
    fields: dict[str, list[pa.Field]] = {}
    for c in columns:
        fields.setdefault(c["table_name"], []).append(pa.field(c["column_name"], _arrow_type(tables, c), c["nullable"]))
    return {name: pa.schema(f) for name, f in fields.items()}


def _staged_parts(tables: StoredTables, name: str, run_id: str, parts: Iterable[pa.Table]) -> Iterator[pa.Table]:
    """_staged of each part, as it is taken."""
    for part in parts:
        yield _staged(tables, name, run_id, part)


def _staged(tables: StoredTables, name: str, run_id: str, table: pa.Table) -> pa.Table:
    """`table` in the stored schema's column order and types, money as int64 minor units."""
    schema = _schema(tables, name)
    what = f"{tables.label} {name!r}"
    missing = [c for c in schema.names if c not in table.column_names]
    extra = [c for c in table.column_names if c not in schema.names]
    if missing or extra:
        raise ValueError(
            f"{what} does not match {tables.declared_in}: missing columns {missing}, unknown columns {extra}"
        )
    given = {f.name: f.type for f in table.schema}
    money = [f.name for f in schema if pa.types.is_decimal(f.type)]
    inexact = {c: str(given[c]) for c in money if not pa.types.is_decimal(given[c])}
    if inexact:
        raise TypeError(f"{what}: money columns {sorted(inexact)} must be exact decimals, not {inexact}")
    try:
        # NOT NULL is left to the server (the DDL), which names the column; here only types.
        table = table.select(schema.names).cast(pa.schema([f.with_nullable(True) for f in schema]))
    except (pa.ArrowException, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as {tables.declared_in} says: {exc}") from exc
    own = pc.fill_null(pc.equal(table["run_id"], pa.scalar(run_id)), False)
    foreign = table.num_rows - (pc.sum(own).as_py() or 0)
    if foreign:
        raise ValueError(
            f"{what}: {foreign} rows have a run_id other than {run_id!r}; a run writes only its own rows"
        )
    for i, field in enumerate(schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, _minor_units(table.column(i), field.type))
    return table


def _minor_units(column: pa.ChunkedArray, money: pa.Decimal128Type) -> pa.ChunkedArray:
    """Exact DECIMAL(p,s) as int64 units of 10^-s (p <= 18 always fits); the cast refuses any overflow."""
    if money.precision > 18:
        raise TypeError(f"DECIMAL({money.precision},{money.scale}) does not fit int64 minor units")
    factor = pa.scalar(Decimal(10) ** money.scale, pa.decimal128(money.scale + 1, 0))
    return pc.cast(pc.multiply(column, factor), pa.int64())


def _insert_staged(schema: pa.Schema, target: Any, staging: Any) -> Any:
    """INSERT INTO `target` SELECT from `staging`, turning int64 minor units back into exact NUMERIC."""
    from psycopg import sql as pgsql

    values = [
        _template("money_from_units").format(
            column=pgsql.Identifier(f.name), unit=pgsql.Literal(Decimal(1).scaleb(-f.type.scale))
        )
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


def _schema(tables: StoredTables, name: str) -> pa.Schema:
    if name not in tables.arrow:
        raise ValueError(f"unknown {tables.label} {name!r}; the stored ones are {sorted(tables.arrow)}")
    return tables.arrow[name]


def _arrow_type(tables: StoredTables, column: dict) -> pa.DataType:
    if column["data_type"] == "numeric":
        return pa.decimal128(column["numeric_precision"], column["numeric_scale"])
    if column["data_type"] in tables.pg_types:
        return tables.pg_types[column["data_type"]]
    raise PostgresError(
        f"{tables.schema}.{column['table_name']}.{column['column_name']} has type {column['data_type']!r}, "
        f"which {tables.declared_in} never uses; fix {tables.ddl} or the table"
    )


def _template(name: str) -> Any:
    """sql/postgres/<name>.sql without its comment lines, as a psycopg.sql.SQL to format."""
    from psycopg import sql as pgsql

    lines = [line for line in sql.load(f"postgres/{name}").splitlines() if not line.lstrip().startswith("--")]
    return pgsql.SQL("\n".join(lines).strip())


def _driver_errors() -> type[Exception]:
    from adbc_driver_manager import Error

    return Error


@contextmanager
def _connection(url: str) -> Iterator[tuple[Any, Any]]:
    """An ADBC connection (autocommit off) and psycopg.sql; errors say what to install or start."""
    try:
        from adbc_driver_postgresql import dbapi
        from psycopg import sql as pgsql
    except ImportError as exc:
        raise PostgresUnavailable(
            f"the PostgreSQL drivers are not installed ({exc.name} is missing): "
            "pip install adbc-driver-postgresql 'psycopg[binary]' (both are dependencies in pyproject.toml)"
        ) from exc
    try:
        conn = dbapi.connect(url, autocommit=False)
    except dbapi.Error as exc:
        raise PostgresUnavailable(
            f"cannot connect to PostgreSQL at {redacted(url)}: {_redact_text(str(exc), url).strip()} "
            "Start the server (or fix the URL) and try again."
        ) from None
    try:
        yield conn, pgsql
    finally:
        conn.close()


def _redact_text(text: str, url: str) -> str:
    """A driver message with any echo of the URL (or a `password=` setting) redacted."""
    return re.sub(r"(password=)[^&\s]*", r"\1***", text.replace(url, redacted(url)))
