"""Device IDs as catalog data: which rows do not parse, which give one ID to two contracts at once,
and what an import of device IDs would make of the catalog.

Used by catalog validation (pipeline/catalog, with the rules across tables: a conflict is judged
within the contracts' days) at load time and by `rating import-ids` (pipeline/cli_ids.py); both
name the rows by file and line.
"""

from __future__ import annotations

import pandera.polars as pandera
import polars as pl

from pipeline.assign.keys import FORMATS, id_intervals
from pipeline.catalog import ERRORS_SCHEMA, RawTable
from schemas.catalog import DEFAULTS, ID_TO_RULE, Contracts, DeviceIds


def device_id_conflicts(device_ids: pl.DataFrame, contracts: pl.DataFrame) -> pl.DataFrame:
    """Pairs of rows that give the same ID to two contracts at times when both could assign a record.

    The same ID: the same id_type and the same normalised value or range (`00:1A:…` is
    `00-1a-…`; a phone range of one number is that number). Each row's validity
    [valid_from, valid_until) is first cut to its contract's days, exactly as assignment cuts
    it (`within_contracts`): a number left open on a contract that ended and given to a new
    contract after that is no conflict. Two validities overlap when each starts before the
    other ends; an empty end is open; a row cut to no time at all clashes with nothing, and a
    row whose contract is not in `contracts` is left out (its reference is the problem).
    Nested or partly overlapping IDs are no conflict: the most specific one wins.

    Args:
        device_ids: DeviceIds rows with `_line` (and optionally `_file`, default device_ids.csv).
        contracts: Contracts rows (contract_id, start_date, end_date).
    Returns:
        One row per pair (the earlier line first): id_type, id_value, id_to, file, line,
        contract_id, other_file, other_line, other_contract_id, message.
    """
    rows = device_ids if "_file" in device_ids.columns else device_ids.with_columns(pl.lit("device_ids.csv").alias("_file"))
    rows = rows.select("_file", "_line", "contract_id", "id_type", "id_value", "id_to", "valid_from", "valid_until")
    effective = within_contracts(rows.join(contracts.select("contract_id"), on="contract_id", how="semi", maintain_order="left"), contracts)
    framed = id_intervals(effective).with_row_index("_row").filter(
        pl.col("lo").is_not_null() & (pl.col("valid_from") < pl.col("valid_until")).fill_null(True)
    )
    other = framed.select(
        pl.col("_row").alias("_other_row"), "space", "lo", "hi",
        pl.col("_file").alias("other_file"), pl.col("_line").alias("other_line"),
        pl.col("contract_id").alias("other_contract_id"),
        pl.col("valid_from").alias("_other_from"), pl.col("valid_until").alias("_other_until"),
    )
    starts_before = lambda a, b: a.is_null() | b.is_null() | (a < b)  # noqa: E731 - [a, …) starts before […, b) ends
    pairs = framed.join(other, on=["space", "lo", "hi"]).filter(
        (pl.col("_row") < pl.col("_other_row"))
        & (pl.col("contract_id") != pl.col("other_contract_id"))
        & starts_before(pl.col("valid_from"), pl.col("_other_until"))
        & starts_before(pl.col("_other_from"), pl.col("valid_until"))
    )
    return pairs.sort("_row", "_other_row").select(
        "id_type", "id_value", "id_to",
        pl.col("_file").alias("file"), pl.col("_line").alias("line"), "contract_id",
        "other_file", "other_line", "other_contract_id",
        pl.format(
            "{} ID {} is on contract {} ({}:{}) and on contract {} ({}:{}) at overlapping times within the contracts' days: "
            "end one's validity (or its contract) before the other's starts",
            "id_type", pl.coalesce(pl.format("{}-{}", "id_value", "id_to"), "id_value"),
            "contract_id", "_file", "_line", "other_contract_id", "other_file", "other_line",
        ).alias("message"),
    )


def device_id_conflict_errors(device_ids: pl.DataFrame, contracts: pl.DataFrame) -> pl.DataFrame:
    """Every conflict (`device_id_conflicts`) as a problem on both its rows, each naming the other.

    Args:
        device_ids: DeviceIds rows with `_line` (and optionally `_file`).
        contracts: Contracts rows (contract_id, start_date, end_date).
    Returns:
        Rows of (file, line, column, value, rule), as CatalogError reports them.
    """
    conflicts = device_id_conflicts(device_ids, contracts)
    return pl.concat(
        [
            conflicts.select("file", "line", "contract_id", pl.format("{} ({}:{})", "other_contract_id", "other_file", "other_line").alias("with")),
            conflicts.select(
                pl.col("other_file").alias("file"), pl.col("other_line").alias("line"), pl.col("other_contract_id").alias("contract_id"),
                pl.format("{} ({}:{})", "contract_id", "file", "line").alias("with"),
            ),
        ]
    ).select(
        "file", "line", pl.lit("contract_id").alias("column"), pl.col("contract_id").alias("value"),
        pl.format("one contract per ID at a time: the same ID is on contract {} at overlapping times within the contracts' days", "with").alias("rule"),
    ).cast(ERRORS_SCHEMA)


def device_id_problems(device_ids: pl.DataFrame, contracts: pl.DataFrame) -> pl.DataFrame:
    """Every ID that does not parse for its type, every bad id_to and every conflict, one row each.

    Args:
        device_ids: DeviceIds rows with `_line` (and optionally `_file`).
        contracts: Contracts rows (contract_id, start_date, end_date).
    Returns:
        Rows of (file, line, column, value, rule), as CatalogError reports them; a conflict
        is reported on both its lines, each naming the other.
    """
    rows = device_ids if "_file" in device_ids.columns else device_ids.with_columns(pl.lit("device_ids.csv").alias("_file"))
    framed = id_intervals(rows)
    formats = pl.col("id_type").replace_strict(FORMATS, default="one of " + ", ".join(FORMATS), return_dtype=pl.String)
    bad_value = framed.filter(~pl.col("value_ok")).select(
        pl.col("_file").alias("file"), pl.col("_line").alias("line"), pl.lit("id_value").alias("column"),
        pl.col("id_value").alias("value"), pl.format("{}: {}", "id_type", formats).alias("rule"),
    )
    bad_to = framed.filter(pl.col("value_ok") & ~pl.col("to_ok")).select(
        pl.col("_file").alias("file"), pl.col("_line").alias("line"), pl.lit("id_to").alias("column"),
        pl.col("id_to").alias("value"), pl.lit(ID_TO_RULE).alias("rule"),
    )
    return pl.concat([bad_value.cast(ERRORS_SCHEMA), bad_to.cast(ERRORS_SCHEMA), device_id_conflict_errors(rows, contracts)]).sort("file", "line", "column")


#: The columns of device_ids.csv, in the order `rating import-ids` writes them.
DEVICE_ID_COLUMNS = ["contract_id", "id_type", "id_value", "id_to", "valid_from", "valid_until"]


def within_contracts(device_ids: pl.DataFrame, contracts: pl.DataFrame) -> pl.DataFrame:
    """`device_ids` with each row's validity cut to its contract's days: from start_date 00:00
    UTC to the day after end_date (UTC days, as the usage-tariff changes). An ID outside them
    assigns nothing: usage after a contract ended (its number never closed in device_ids.csv) is
    never billed to it; like a number whose own ID ended, it falls back to the block around it,
    else it is unassigned. A row left with no time keeps an empty window."""
    days = contracts.select(
        "contract_id",
        pl.col("start_date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("_from"),
        (pl.col("end_date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + pl.duration(days=1)).alias("_until"),
    )
    bounded = device_ids.join(days, on="contract_id", how="left", maintain_order="left")
    return bounded.with_columns(
        pl.max_horizontal("valid_from", "_from").alias("valid_from"),
        pl.min_horizontal("valid_until", "_until").alias("valid_until"),
    ).select(device_ids.columns)


def merged_device_ids(
    existing: RawTable, imported: RawTable, contracts: RawTable
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The device IDs after an import, or why the import cannot be applied; nothing is half-applied.

    Args:
        existing: device_ids.csv as read (strings, `_line`).
        imported: the rows to add (strings, `_line` = their line in the import file), DeviceIds columns.
        contracts: contracts.csv as read (strings, `_line`); every imported row must name one of
            them, and conflicts are judged within the contracts' days (`device_id_conflicts`).
    Returns:
        (merged, problems, skipped): `merged` the string rows to write (existing rows as
        they were, then the new ones); `problems` (file, line, column, value, rule) – when it
        is not empty, nothing may be written; `skipped` the imported rows already in the
        catalog (the same contract, ID and validity), which are not added twice.
    """
    typed_old, old_errors = _typed(existing, DeviceIds, "device_ids")
    typed_new, new_errors = _typed(imported, DeviceIds, "device_ids")
    typed_contracts, contract_errors = _typed(contracts, Contracts, "contracts")
    # a contract with a bad cell cannot cut its IDs' validity: its IDs are judged once it is fixed
    days = typed_contracts.join(contract_errors.select(pl.col("line").alias("_line")), on="_line", how="anti")
    unknown = typed_new.filter(~pl.col("contract_id").is_in(typed_contracts.get_column("contract_id").implode())).select(
        pl.lit(imported.file).alias("file"), pl.col("_line").alias("line"), pl.lit("contract_id").alias("column"),
        pl.col("contract_id").alias("value"), pl.lit("must exist in contracts.contract_id").alias("rule"),
    )
    same = ["contract_id", "id_type", "lo", "hi", "valid_from", "valid_until"]
    # keyed together: a string ID's key is its rank among the strings keyed, so keys of two frames keyed
    # apart do not compare (SIM-2 in the file and SIM-1 in the catalog were both key 0: "already there")
    keyed = id_intervals(pl.concat([typed_old.drop("_line"), typed_new.drop("_line")]))
    old_keys = keyed.head(typed_old.height).select(same)
    new_framed = pl.concat([typed_new.select("_line"), keyed.tail(typed_new.height).select(same)], how="horizontal")
    already = new_framed.join(old_keys, on=same, how="semi", nulls_equal=True).get_column("_line")
    both = pl.concat(
        [
            typed_old.with_columns(pl.lit(existing.file).alias("_file")),
            typed_new.filter(~pl.col("_line").is_in(already.implode())).with_columns(pl.lit(imported.file).alias("_file")),
        ]
    )
    conflicts = device_id_conflicts(both, days).filter((pl.col("file") == imported.file) | (pl.col("other_file") == imported.file))
    clashes = conflicts.select(
        pl.when(pl.col("other_file") == imported.file).then(pl.col("other_file")).otherwise(pl.col("file")).alias("file"),
        pl.when(pl.col("other_file") == imported.file).then(pl.col("other_line")).otherwise(pl.col("line")).alias("line"),
        pl.lit("id_value").alias("column"),
        pl.coalesce(pl.format("{}-{}", "id_value", "id_to"), "id_value").alias("value"),
        pl.col("message").alias("rule"),
    )
    problems = pl.concat([old_errors, contract_errors, new_errors, unknown, clashes.cast(ERRORS_SCHEMA)]).unique(maintain_order=True)
    added = imported.frame.filter(~pl.col("_line").is_in(already.implode()))
    merged = pl.concat([_columns(existing.frame), _columns(added)])
    return merged, problems.sort("file", "line", "column"), imported.frame.filter(pl.col("_line").is_in(already.implode()))


def _typed(raw: RawTable, model: type[pandera.DataFrameModel], table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A catalog table's rows typed (with `_line`) and their problems, as catalog validation reports them."""
    from pipeline.catalog.validation import typed_table

    return typed_table(raw, model, DEFAULTS[table])


def _columns(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame`'s device-ID columns as strings, absent optional ones empty."""
    return frame.select(
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(pl.String).alias(c) for c in DEVICE_ID_COLUMNS
    )
