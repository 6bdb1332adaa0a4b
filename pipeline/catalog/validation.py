"""The catalog validation pattern, public, for catalog tables defined outside schemas/catalog.py.

Thin wrappers over pipeline.catalog's helpers, so that other catalog families (billing,
lifecycle) report their problems exactly like the core catalog: one row per problem with
file, line, column, value and rule, raised together as one CatalogError.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import pandera.polars as pandera
import polars as pl

from pipeline.catalog import ERRORS_SCHEMA, Catalog, CatalogError, RawTable, _checkable, _errors, _typed_table

__all__ = [
    "ERRORS_SCHEMA",
    "as_text",
    "CatalogError",
    "checkable",
    "core_rows",
    "RawTable",
    "empty_table",
    "errors",
    "files_of",
    "key_errors",
    "overlap_errors",
    "reference_errors",
    "rule_errors",
    "typed_table",
    "typed_tables",
    "validity_overlaps",
]


def typed_table(raw: RawTable, model: type[pandera.DataFrameModel], defaults: Mapping[str, object]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`raw` parsed to the model's types (with its `_line` column) and its problems (ERRORS_SCHEMA);
    an empty table when its header is wrong (its problems say so)."""
    frame, problems = _typed_table(raw, model, dict(defaults))
    return (empty_table(model) if frame is None else frame), problems


def typed_tables(
    raw: Mapping[str, RawTable], models: Mapping[str, type[pandera.DataFrameModel]], defaults: Mapping[str, Mapping]
) -> tuple[dict[str, pl.DataFrame], list[pl.DataFrame]]:
    """Every table of an optional catalog family typed (a missing file: empty), and the cell problems found."""
    typed: dict[str, pl.DataFrame] = {}
    problems = [pl.DataFrame(schema=ERRORS_SCHEMA)]
    for name, model in models.items():
        if name in raw:
            typed[name], errs = typed_table(raw[name], model, defaults.get(name, {}))
            problems.append(errs)
        else:
            typed[name] = empty_table(model)
    return typed, problems


def empty_table(model: type[pandera.DataFrameModel]) -> pl.DataFrame:
    """An empty typed table of `model`, with a `_line` column: what a missing optional file reads as."""
    schema = model.to_schema()
    return pl.DataFrame(schema={"_line": pl.Int64, **{name: col.dtype.type for name, col in schema.columns.items()}})


def checkable(typed: Mapping[str, pl.DataFrame], problems: pl.DataFrame, files: Mapping[str, str]) -> dict[str, pl.DataFrame]:
    """Each table (typed, with `_line`) without the rows `problems` names: the rows the rules across
    rows and columns can check while other rows have bad cells, so every problem is listed at once."""
    return _checkable(typed, problems, files)


def errors(rows: list[tuple]) -> pl.DataFrame:
    """Problems given as (file, line, column, value, rule) tuples."""
    return _errors(rows)


def rule_errors(frame: pl.DataFrame, file: str, column: str, failing: pl.Expr, rule: str) -> pl.DataFrame:
    """One problem per row of `frame` (typed, with `_line`) where `failing` is true."""
    return frame.filter(failing.fill_null(False)).select(
        pl.lit(file).alias("file"),
        pl.col("_line").alias("line"),
        pl.lit(column).alias("column"),
        pl.col(column).cast(pl.String).alias("value"),
        pl.lit(rule).alias("rule"),
    )


def reference_errors(
    typed: Mapping[str, pl.DataFrame], files: Mapping[str, str], references: list[tuple[str, str, str, str]]
) -> pl.DataFrame:
    """A problem for every non-empty cell whose value is missing from the table it refers to.

    Args:
        typed: tables by name; the referring ones need `_line`.
        files: file name of each referring table, for the report.
        references: (table, column, target table, target column).
    """
    found = [pl.DataFrame(schema=ERRORS_SCHEMA)]
    for table, column, target, target_column in references:
        targets = typed[target].select(pl.col(target_column).alias(column)).unique()
        dangling = typed[table].filter(pl.col(column).is_not_null()).join(targets, on=column, how="anti")
        found.append(rule_errors(dangling, files[table], column, pl.lit(True), f"must exist in {target}.{target_column}"))
    return pl.concat(found)


def overlap_errors(frame: pl.DataFrame, file: str, group: list[str], start: str, end: str, end_inclusive: bool) -> pl.DataFrame:
    """A problem for each row that starts while an earlier row of the same group is still valid.

    `start` is inclusive; `end` is inclusive or exclusive as said; an empty end is open. Of two
    rows starting the same day, the later line is reported.
    """
    earlier = frame.select(*group, pl.col("_line").alias("_o_line"), pl.col(start).alias("_o_start"), pl.col(end).alias("_o_end"))
    o_start, o_line = pl.col("_o_start"), pl.col("_o_line")
    clashes = frame.join(earlier, on=group).filter(
        (o_line != pl.col("_line"))
        & ((o_start < pl.col(start)) | ((o_start == pl.col(start)) & (o_line < pl.col("_line"))))
        & (pl.col("_o_end").is_null() | _within(pl.col(start), pl.col("_o_end"), end_inclusive))
    )
    rule = f"overlaps an earlier row with the same {', '.join(group)}"
    return rule_errors(clashes.unique("_line", maintain_order=True), file, start, pl.lit(True), rule)


def validity_overlaps(frame: pl.DataFrame, file: str, key: list[str]) -> pl.DataFrame:
    """Rows of one key whose validity (`valid_from` inclusive, `valid_until` exclusive, empty: open)
    overlaps an earlier row's: an empty key cell is a value too, and an exact duplicate overlaps."""
    if frame.height < 2:
        return pl.DataFrame(schema=ERRORS_SCHEMA)
    filled = frame.with_columns(pl.col(k).fill_null("\x00") for k in key if frame.schema[k] == pl.String)
    if frame.schema["valid_from"] == pl.Date:
        filled = filled.with_columns(pl.col("valid_from").fill_null(pl.date(1, 1, 1)))
    found = overlap_errors(filled, file, key, "valid_from", "valid_until", False)
    # report the cell as the file has it (an empty valid_from stays empty)
    cells = frame.select(pl.col("_line").alias("line"), pl.col("valid_from").cast(pl.String).alias("value"))
    return found.drop("value").join(cells, on="line").select(list(ERRORS_SCHEMA))


def key_errors(
    typed: Mapping[str, pl.DataFrame], files: Mapping[str, str], keys: Mapping[str, Sequence[str]], dated: Collection[str]
) -> list[pl.DataFrame]:
    """The rules of a table's key (tables typed, with `_line`; a table not in `typed` is left out):
    in a dated table (`dated`), a validity that ends on or before it starts, or that overlaps an
    earlier row of its key; in another, two rows with the same key (one would win silently)."""
    found = [pl.DataFrame(schema=ERRORS_SCHEMA)]
    for name, key in keys.items():
        if name not in typed:
            continue
        if name in dated:
            found.append(rule_errors(typed[name], files[name], "valid_until", pl.col("valid_until") <= pl.col("valid_from"),
                                     "valid_until must be after valid_from"))
            found.append(validity_overlaps(typed[name], files[name], list(key)))
        else:
            found.append(rule_errors(typed[name], files[name], key[-1], pl.struct(*key).is_duplicated(),
                                     f"two rows with the same {', '.join(key)}"))
    return found


def _within(day: pl.Expr, earlier_end: pl.Expr, end_inclusive: bool) -> pl.Expr:
    return day <= earlier_end if end_inclusive else day < earlier_end


def core_rows(catalog: Catalog, name: str) -> tuple[pl.DataFrame, str]:
    """A core table with `_line`, and its file: where a problem another catalog finds in its rows is
    reported. A catalog not read from files (Catalog.sources empty) numbers its rows from line 2."""
    frame, source = getattr(catalog, name), catalog.sources.get(name)
    if source is None or source.frame.height != frame.height:
        return frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_line")), f"{name}.csv"
    return frame.with_columns(source.frame.get_column("_line")), source.file


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Typed catalog cells as the text the catalog parser reads back (ISO dates, true/false, …)."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S"),
        pl.all().exclude(pl.Datetime).cast(pl.String),
    )


def files_of(raw: Mapping[str, RawTable], names: list[str]) -> dict[str, str]:
    """The file each table was read from, `<name>.csv` for tables not read."""
    return {name: raw[name].file if name in raw else f"{name}.csv" for name in names}

