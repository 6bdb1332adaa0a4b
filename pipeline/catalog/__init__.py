"""The catalog: customers, contracts, device IDs, tariffs, articles, zones and prices.

`validated_catalog` turns the raw string tables read from a catalog directory into
typed, validated tables, or raises `CatalogError` listing every problem with its
file, line, column, value and rule. Reference data is all-or-nothing: a run never
rates against a catalog that failed validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Mapping

import duckdb
import pandera.polars as pandera
import polars as pl
from pandera.errors import SchemaErrors

from pipeline.ingest.parse import NUL_RULE
from schemas.catalog import DATED, DEFAULTS, KEYS, REFERENCES, TABLES

#: The `column` of a problem with a whole row that names no column of its own.
ROW = "(row)"
ERRORS_SCHEMA = {"file": pl.String, "line": pl.Int64, "column": pl.String, "value": pl.String, "rule": pl.String}

#: When a contract's usage is rated with another tariff than contracts.tariff_id: the versions
#: of its usage module (modules.csv, module_tariffs.csv; pipeline.catalog.billing.usage_tariffs).
#: Days are UTC days, valid_from inclusive, valid_until exclusive (empty: open), as prices.csv.
USAGE_TARIFFS = {
    "contract_id": pl.String, "module_id": pl.String, "tariff_id": pl.String, "valid_from": pl.Date, "valid_until": pl.Date,
}


@dataclass(frozen=True)
class RawTable:
    """A catalog file as read: its name and its cells as strings (`line` is the 1-based file line)."""

    file: str
    frame: pl.DataFrame


class CatalogError(ValueError):
    """The catalog is invalid; `errors` has one row per problem.

    A problem with the whole file (empty, not UTF-8, not comma-separated, missing) has no
    column; one without a line is about the file as a whole.
    """

    def __init__(self, errors: pl.DataFrame):
        self.errors = errors.sort("file", "line", "column", nulls_last=False)
        head = self.errors.head(20)
        lines = [problem_text(*row) for row in head.select(*ERRORS_SCHEMA).rows()]  # at most 20 problems, not records
        more = f"\n… and {self.errors.height - 20} more" if self.errors.height > 20 else ""
        count = f"{self.errors.height} problem" + ("s" if self.errors.height != 1 else "")
        super().__init__(f"catalog invalid ({count}):\n" + "\n".join(lines) + more)


class CatalogNotFound(FileNotFoundError):
    """The catalog directory does not exist (an operator mistake: the wrong --catalog or RATING_CATALOG)."""

    def __init__(self, directory: object):
        self.directory = str(directory)
        super().__init__(f"catalog directory {self.directory} not found")


class CatalogNotWritable(OSError):
    """A catalog file cannot be written (no permission, a read-only mount): nothing was changed."""

    def __init__(self, path: object, exc: OSError):
        self.path = str(path)
        super().__init__(f"{self.path} cannot be written ({exc.strerror or exc}): nothing was changed in the catalog")


def problem_text(file: str, line: int | None, column: str | None, value: str | None, rule: str) -> str:
    """One problem as a line of text: `file:line: column 'c': value 'v' breaks rule R`, or for a
    problem with the whole file `file:line: R` (`file: R` without a line).

    >>> problem_text("tariffs.csv", 2, "first_increment_s", "x", "type Int64")
    "tariffs.csv:2: column 'first_increment_s': value 'x' breaks rule type Int64"
    >>> problem_text("customers.csv", 1, None, None, "the file is empty: it needs its header line")
    'customers.csv:1: the file is empty: it needs its header line'
    """
    where = f"{file}:{line}" if line else file
    if column is None:
        return f"{where}: {rule}"
    return f"{where}: column {column!r}: value {_shown(value)} breaks rule {rule}"


#: The most characters of a cell a problem shows: a longer one (a text pasted into the wrong column) would bury the rule.
SHOWN_CHARACTERS = 60


def _shown(value: str | None) -> str:
    """The cell as a problem shows it: quoted, a long one cut with its length said, none as `(empty)`."""
    if value is None:
        return "(empty)"
    if len(value) <= SHOWN_CHARACTERS + 1:
        return repr(value)
    quoted = repr(value[:SHOWN_CHARACTERS])
    return f"{quoted[:-1]}…{quoted[-1]} ({len(value)} characters)"


@dataclass(frozen=True)
class Catalog:
    """Validated, typed catalog tables (Polars), one attribute per catalog file."""

    customers: pl.DataFrame
    contracts: pl.DataFrame
    device_ids: pl.DataFrame
    tariffs: pl.DataFrame
    articles: pl.DataFrame
    zones: pl.DataFrame
    article_keys: pl.DataFrame
    prices: pl.DataFrame
    #: USAGE_TARIFFS; empty unless the catalog has module tariffs that change the usage tariff
    usage_tariffs: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=USAGE_TARIFFS))
    #: each table's file and the file line of each of its rows (a RawTable of `_line` alone): where a
    #: problem the pricing catalog finds in a core row is reported; empty for a catalog not read from files
    sources: Mapping[str, RawTable] = field(default_factory=dict, compare=False, repr=False)

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make every table queryable on `con` as `cat_<table>`, and the usage-tariff timeline as `cat_usage_tariffs`."""
        for name in TABLES:
            con.register(f"cat_{name}", getattr(self, name).to_arrow())
        con.register("cat_usage_tariffs", self.usage_tariffs.to_arrow())


def validated_catalog(raw: Mapping[str, RawTable]) -> Catalog:
    """Typed and validated catalog tables; raises CatalogError naming every bad cell."""
    missing = [name for name in TABLES if name not in raw]
    if missing:
        raise CatalogError(_errors([(f"{m}.csv", None, None, None, "file is required") for m in missing]))
    typed: dict[str, pl.DataFrame] = {}
    problems: list[pl.DataFrame] = []
    for name, model in TABLES.items():
        frame, errors = _typed_table(raw[name], model, DEFAULTS.get(name, {}))
        if frame is not None:
            typed[name] = frame
        problems.append(errors)
    checkable = _checkable(typed, pl.concat(problems), {name: raw[name].file for name in typed})  # rows without bad cells
    problems.append(_reference_errors(typed, raw))
    problems.append(_row_errors(checkable, raw))
    problems.append(_device_id_conflicts(checkable, raw))
    errors = pl.concat(problems)
    if errors.height:
        raise CatalogError(errors)
    sources = {name: RawTable(raw[name].file, typed[name].select("_line")) for name in TABLES}
    return Catalog(**{name: typed[name].drop("_line") for name in TABLES}, sources=sources)


def _typed_table(raw: RawTable, model: type[pandera.DataFrameModel], defaults: dict) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """The table typed and its problems; no table when its header is wrong (nothing in it can be read)."""
    schema = model.to_schema()
    frame = raw.frame
    unknown = [c for c in frame.columns if c not in schema.columns and c != "_line"]
    absent = [c for c in schema.columns if c not in frame.columns and c not in defaults]
    if unknown or absent:
        return None, _errors(
            [(raw.file, 1, c, None, "unknown column") for c in unknown]
            + [(raw.file, 1, c, None, "required column missing") for c in absent]
        )
    # every cell is read stripped (_parse): a cell of blanks alone (a column aligned by hand) is an empty
    # cell, never '' (an alt_name printed as nothing, an article key of the zone ''), and takes the default
    frame = frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)).alias(c) for c in schema.columns if c in frame.columns
    )
    # an optional column's default stands for the whole column when it is absent, and for an empty cell
    frame = frame.with_columns(
        pl.col(c).fill_null(pl.lit(v, pl.String)) if c in frame.columns else pl.lit(v, pl.String).alias(c) for c, v in defaults.items()
    )
    dtypes = {name: col.dtype.type for name, col in schema.columns.items()}
    typed = frame.select(pl.col("_line"), *(_parse(pl.col(c), dt).alias(c) for c, dt in dtypes.items()))
    cast_errors = pl.concat(
        [
            frame.filter(pl.col(c).is_not_null() & typed[c].is_null()).select(
                pl.lit(raw.file).alias("file"),
                pl.col("_line").alias("line"),
                pl.lit(c).alias("column"),
                pl.col(c).alias("value"),
                pl.lit(_rule_name(dt)).alias("rule"),
            )
            for c, dt in dtypes.items()
        ]
        # PostgreSQL's text cannot store a NUL: a name with one would stop every write of the runs that carry it
        + [
            frame.filter(pl.col(c).str.contains("\x00", literal=True)).select(
                pl.lit(raw.file).alias("file"), pl.col("_line").alias("line"), pl.lit(c).alias("column"), pl.col(c).alias("value"),
                pl.lit(NUL_RULE).alias("rule"),
            )
            for c, dt in dtypes.items()
            if dt == pl.String
        ]
    )
    try:
        model.validate(typed.drop("_line"), lazy=True)
        check_errors = pl.DataFrame(schema=ERRORS_SCHEMA)
    except SchemaErrors as exc:
        cases = exc.failure_cases.filter(pl.col("index").is_not_null()).with_columns(pl.col("index").cast(pl.Int64))
        written = [c for c in schema.columns if c in frame.columns]
        lines = frame.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("index"), pl.col("_line"), *(pl.col(c).alias(f"__written_{c}") for c in written)
        )
        check_errors = cases.join(lines, on="index").select(
            pl.lit(raw.file).alias("file"),
            pl.col("_line").alias("line"),
            _checked_column(schema.columns).alias("column"),
            _checked_value(written, schema.columns).alias("value"),
            pl.col("check").replace(_CHECK_WORDS).alias("rule"),
        )
        # a cell that failed to parse is reported once, as a parse error
        check_errors = check_errors.join(cast_errors.select("line", "column"), on=["line", "column"], how="anti")
    return typed, pl.concat([cast_errors, check_errors.cast(ERRORS_SCHEMA)])


#: pandera's names of its built-in checks that read as code, in the words a problem shows.
_CHECK_WORDS = {"not_nullable": "required: the cell is empty", "field_uniqueness": "unique: another row has the same value"}


def _checkable(typed: Mapping[str, pl.DataFrame], problems: pl.DataFrame, files: Mapping[str, str]) -> dict[str, pl.DataFrame]:
    """Each table without its rows that have a problem of their own (a cell that did not parse is
    null, a cell that broke its check may break a rule's arithmetic): the rows the rules across rows
    and columns can check. They are reported once those cells are fixed; every other row now."""
    return {
        name: frame.join(problems.filter(pl.col("file") == files[name]).select(pl.col("line").alias("_line")), on="_line", how="anti")
        for name, frame in typed.items()
    }


def _checked_column(columns: Collection[str]) -> pl.Expr:
    """The column a failed check names: its own, or for a check over the whole row (named
    `<column>_...`, e.g. end_date_not_before_start_date) the column its name starts with."""
    own = pl.col("column").is_in(list(columns))
    leading = [pl.when(pl.col("check").str.starts_with(f"{c}_")).then(pl.lit(c)) for c in sorted(columns, key=len, reverse=True)]
    return pl.when(own).then(pl.col("column")).otherwise(pl.coalesce(*leading, pl.lit(ROW)))


def _checked_value(written: Collection[str], columns: Collection[str]) -> pl.Expr:
    """The failing cell: pandera's failure case, or for a whole-row check its column's text as written."""
    column = _checked_column(columns)
    cells = [pl.when(column == c).then(pl.col(f"__written_{c}")) for c in written]
    return pl.when(pl.col("column").is_in(list(columns))).then(pl.col("failure_case")).otherwise(pl.coalesce(*cells, pl.lit(None, pl.String)))


def _reference_errors(typed: dict[str, pl.DataFrame], raw: Mapping[str, RawTable]) -> pl.DataFrame:
    """A row per reference to a row that does not exist; tables that could not be read are left out."""
    found = [pl.DataFrame(schema=ERRORS_SCHEMA)]
    for table, column, target, target_column in REFERENCES:
        if table not in typed or target not in typed:
            continue
        dangling = typed[table].join(
            typed[target].select(pl.col(target_column).alias(column)), on=column, how="anti"
        ).filter(pl.col(column).is_not_null())
        found.append(
            dangling.select(
                pl.lit(raw[table].file).alias("file"),
                pl.col("_line").alias("line"),
                pl.lit(column).alias("column"),
                pl.col(column).alias("value"),
                pl.lit(f"must exist in {target}.{target_column}").alias("rule"),
            )
        )
    return pl.concat(found)


def _row_errors(typed: dict[str, pl.DataFrame], raw: Mapping[str, RawTable]) -> pl.DataFrame:
    """Rules across rows: two rows of one key, validity windows that end before they start or overlap
    within a key (the same rules and wording as the pricing tables); tables that could not be read are left out."""
    from pipeline.catalog.validation import key_errors  # it builds on this module

    files = {name: raw[name].file for name in typed}
    return pl.concat([f.cast(ERRORS_SCHEMA) for f in key_errors(typed, files, {**DATED, **KEYS}, DATED)])


def _device_id_conflicts(typed: Mapping[str, pl.DataFrame], raw: Mapping[str, RawTable]) -> pl.DataFrame:
    """One contract per ID at a time, each device ID row's validity cut to its contract's days (as
    assignment cuts it), on the rows without bad cells of their own or of their contract; a row naming
    no contract is left out (the reference is reported). Both rows of a conflict are reported."""
    from pipeline.assign.catalog import device_id_conflict_errors  # it builds on this module

    if "device_ids" not in typed or "contracts" not in typed:
        return pl.DataFrame(schema=ERRORS_SCHEMA)
    ids = typed["device_ids"].with_columns(pl.lit(raw["device_ids"].file).alias("_file"))
    return device_id_conflict_errors(ids, typed["contracts"])


def _parse(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A string column as `dtype`, null where the text is not a valid value."""
    col = col.str.strip_chars()
    if dtype == pl.String:
        return col
    if dtype == pl.Boolean:
        return col.str.to_lowercase().replace_strict(_BOOLEANS, default=None, return_dtype=pl.Boolean)
    if dtype == pl.Date:  # %Y alone reads `26-10-15` as the year 26
        return pl.when(col.str.contains(_ISO_DATE + "$")).then(col.str.to_date("%Y-%m-%d", strict=False))
    if isinstance(dtype, pl.Datetime):
        naive = pl.coalesce(col.str.to_datetime(f, strict=False, time_unit="us") for f in _DATETIME_FORMATS)
        return pl.when(col.str.contains(_ISO_DATE + "([ T]|$)")).then(naive.dt.replace_time_zone("UTC"))
    if isinstance(dtype, pl.Decimal):  # more decimals than the scale would be rounded away: refused
        return pl.when(col.str.contains(_decimal_pattern(dtype.scale))).then(col).cast(dtype, strict=False)
    return col.cast(dtype, strict=False)


def _decimal_pattern(scale: int) -> str:
    """A plain decimal number with at most `scale` decimals (trailing zeros beyond them change nothing)."""
    return rf"^[+-]?[0-9]+(\.[0-9]{{1,{scale}}}0*)?$" if scale else r"^[+-]?[0-9]+(\.0*)?$"


_BOOLEANS = {"true": True, "t": True, "yes": True, "1": True, "false": False, "f": False, "no": False, "0": False}
#: The date every catalog date and timestamp starts with: four-digit year, two-digit month and day.
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def _rule_name(dtype: pl.DataType) -> str:
    if dtype == pl.Date:
        return "date YYYY-MM-DD"
    if isinstance(dtype, pl.Datetime):
        return "timestamp YYYY-MM-DD[ HH:MM:SS] (UTC)"
    if dtype == pl.Boolean:
        return "boolean true/false"
    if isinstance(dtype, pl.Decimal):
        return f"decimal number with at most {dtype.precision - dtype.scale} digits before the point and {dtype.scale} after it"
    return f"type {dtype}"


def _errors(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ERRORS_SCHEMA, orient="row")
