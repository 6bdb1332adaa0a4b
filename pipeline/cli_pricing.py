"""The pricing commands of `rating`: `import-special-prices FILE` and `cost-control --period P`.

`register(app)` adds them to the `rating` Typer app (pipeline/cli.py). This module is an edge:
it reads the catalog directory and the warehouse and writes what the commands store; the
rules themselves are in pipeline/price.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from pipeline.catalog import CatalogError, CatalogNotFound
from pipeline.cli_output import console, error, note, writable_warehouse
from pipeline.io.catalog_files import read_catalog_csv, read_raw_catalog, replace_csv
from pipeline.io.warehouse import reading, stored_paths, write_parquet_atomically
from pipeline.price.catalog import validated_pricing
from schemas.outputs import PERIOD
from schemas.pricing import CATALOG_TABLES, DEFAULTS


#: Where `rating cost-control` stores its report, below the warehouse: one file per period.
COST_CONTROL_TABLE = "cost_control"


def register(app: typer.Typer) -> None:
    """Add the pricing commands to the `rating` app."""
    app.command("import-special-prices")(import_special_prices)
    app.command("cost-control")(cost_control_report)


def import_special_prices(
    file: Path = typer.Argument(..., help="CSV of special prices: contract_id, kind (friends|net), number[, number_to, article_id, band], price[, valid_from, valid_until]"),
    catalog: Optional[Path] = typer.Option(None, help="Catalog directory \\[env RATING_CATALOG, default data/sample/catalog]"),
) -> None:
    """Import special prices ("friends" numbers, "net" prefixes and ranges) into the catalog.

    The file holds the complete special prices of every contract it names: they replace that
    contract's rows in special_prices.csv; other contracts keep theirs. Nothing is written unless
    every row is valid; each problem is listed with its line, column, value and rule.
    """
    from pipeline.config import Settings
    from pipeline.io.billing_files import catalog_lock
    from pipeline.io.catalog_files import load_catalog

    directory = Settings.from_env(catalog=str(catalog) if catalog else None).catalog
    if not file.is_file():
        error(f"{file} {'is a directory' if file.is_dir() else 'not found'}: pass the path of the CSV to import")
        raise typer.Exit(2)
    # read to write under the catalog's edit lock, as the lifecycle commands: a change made meanwhile is kept
    with catalog_lock(directory):
        try:
            core = load_catalog(directory)
            raw = read_raw_catalog(directory, list(CATALOG_TABLES))
            incoming = read_catalog_csv(file)
            # validated together with the rest of the pricing catalog: bands, references, overlaps
            validated_pricing({**raw, "special_prices": incoming}, core)
        except CatalogError as exc:
            _print_problems(exc.errors)
            raise typer.Exit(1) from None
        columns = list(CATALOG_TABLES["special_prices"].to_schema().columns)
        new = _with_defaults(incoming.frame.drop("_line"), columns)
        target = Path(directory) / "special_prices.csv"
        existing = _with_defaults(read_catalog_csv(target).frame.drop("_line"), columns) if target.exists() else new.clear()
        kept = existing.join(new.select("contract_id").unique(), on="contract_id", how="anti")
        earlier = existing.join(new.select("contract_id").unique(), on="contract_id", how="semi")
        contracts = new.get_column("contract_id").n_unique()
        # rows compared whole (nulls equal): what the import adds and what it removes of those contracts
        added, removed = new.join(earlier, on=columns, how="anti", nulls_equal=True), earlier.join(new, on=columns, how="anti", nulls_equal=True)
        if not added.height and not removed.height and earlier.height == new.height:
            console.print(f"nothing changed: {target} already holds exactly these {new.height:,} special prices of {contracts:,} contracts")
            return
        merged = pl.concat([kept, new]).sort("contract_id", "kind", "number", nulls_last=False)
        replace_csv(target, merged)
    console.print(
        f"imported {new.height:,} special prices for {contracts:,} contracts into {target} "
        f"({added.height:,} rows new or changed, {removed.height:,} earlier rows of those contracts gone; "
        f"{kept.height:,} rows of other contracts kept)"
    )


def cost_control_report(
    period: str = typer.Option(..., help="Billing period YYYY-MM"),
    catalog: Optional[Path] = typer.Option(None, help="Catalog directory \\[env RATING_CATALOG, default data/sample/catalog]"),
    warehouse: Optional[Path] = typer.Option(None, help="Warehouse directory \\[env RATING_WAREHOUSE, default ./warehouse]"),
    limit: int = typer.Option(50, min=0, help="Rows to print (the stored table has all)"),
) -> None:
    """Flat prices, fixed prices and cost caps against the tolerance, for one period: print and store the report.

    Lists the contracts whose flat-price usage, valued at the reference price, exceeds the flat
    price by more than the tariff's tolerance, the variable_fixed positions whose usage, valued at
    the rated amounts, exceeds what their price bills by more than the tolerance, and the
    contracts whose cost cap was reached or exceeded.
    Stored as <warehouse>/cost_control/period=P/cost_control.parquet for SQL.
    """
    from pipeline import engine
    from pipeline.config import Settings
    from pipeline.io.billing_files import load_positions
    from pipeline.io.cache_entries import CATALOG, warehouse_cache
    from pipeline.io.catalog_cache import cached_priced_catalog
    from pipeline.price.cost_control import cost_control

    if not PERIOD.fullmatch(period):
        error(f"period {period!r} is not a month YYYY-MM (e.g. 2026-10)")
        raise typer.Exit(2)
    settings = Settings.from_env(catalog=str(catalog) if catalog else None, warehouse=str(warehouse) if warehouse else None)
    if not settings.catalog.is_dir():
        raise CatalogNotFound(settings.catalog)
    # the report is stored in it, and the validated catalog is kept there (as `rating run` keeps it): checked first,
    # so a mistyped --warehouse is never made by the cache
    writable_warehouse(settings.warehouse)
    try:
        priced = cached_priced_catalog(settings.catalog, warehouse_cache(settings.warehouse, CATALOG))
        positions = load_positions(settings.catalog, priced)
    except CatalogError as exc:
        _print_problems(exc.errors)
        raise typer.Exit(1) from None
    from pipeline.io.warehouse import finish_stopped

    for run_id in finish_stopped(settings.warehouse):  # else its rated usage is read half old, half new
        note(f"run {run_id} had stopped while storing its staged files: its storing was finished")
    files = stored_paths(settings.warehouse / "rated_usage" / f"period={period}", "*.parquet")
    if not files:
        console.print(f"[yellow]no rated usage for {period}[/yellow] in {settings.warehouse}: rate it first (`rating run`)")
    con = engine.connect()
    try:
        with reading(settings.warehouse):  # a rated_usage file that cannot be read: named, exit 1 (at its footer or a page)
            if files:
                con.read_parquet([str(f) for f in files], hive_partitioning=True, union_by_name=True).create_view("rated_usage")
            else:
                from schemas.outputs import RATED_USAGE

                con.register("rated_usage", RATED_USAGE.empty_table())
            report = cost_control(con, priced, period, positions)
    finally:
        con.close()
    target = settings.warehouse / COST_CONTROL_TABLE / f"period={period}" / "cost_control.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomically(report, target)  # a command stopped while writing leaves the earlier report whole
    _print_report(report, period, limit)
    console.print(f"stored {report.height:,} rows as {target} (query it with SQL: read_parquet('{target}'))")


def _with_defaults(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The rows with every column, each cell as the catalog reads it: without its blanks, a cell of
    blanks alone empty (` V-1001` is contract V-1001, whose earlier rows the import replaces)."""
    defaults = DEFAULTS["special_prices"]
    frame = frame.with_columns(pl.lit(defaults.get(c), pl.String).alias(c) for c in columns if c not in frame.columns)
    stripped = pl.col(columns).str.strip_chars()
    return frame.select(pl.when(stripped != "").then(stripped).name.keep())


def _print_problems(errors: pl.DataFrame) -> None:
    table = Table(title=f"{errors.height} problems: nothing was imported or computed", title_justify="left")
    for column in ("file", "line", "column", "value", "rule"):
        table.add_column(column)
    for row in errors.head(100).rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    if errors.height > 100:
        console.print(f"… and {errors.height - 100} more")


#: The width of the cost-control table printed to a log or a pipe: wide enough for its 11 columns.
PIPE_WIDTH = 200


def _print_report(report: pl.DataFrame, period: str, limit: int) -> None:
    flat = report.filter(pl.col("rule") == "flat_price").height
    fixed = report.filter(pl.col("rule") == "fixed_price").height
    caps = report.filter(pl.col("rule") == "cost_cap")
    over = caps.filter(pl.col("status") == "over_tolerance").height
    console.print(
        f"cost control {period}: {flat:,} flat prices exceeded beyond tolerance, {caps.height:,} cost caps reached "
        f"({over:,} beyond tolerance), {fixed:,} fixed prices exceeded beyond tolerance"
    )
    if report.height == 0:
        return
    table = Table()
    shown = ("contract_id", "customer_id", "tariff_id", "rule", "article_id", "position_id", "usage_value", "limit_amount", "excess_pct",
             "tolerance_pct", "status")
    for column in shown:
        table.add_column(column, justify="right" if column in ("usage_value", "limit_amount", "excess_pct", "tolerance_pct") else "left")
    for row in report.head(limit).select(shown).rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    # to a log or a pipe (no terminal, no COLUMNS) Rich would cut the cells to 80 columns ("V-1…")
    (console if console.is_terminal or "COLUMNS" in os.environ else Console(width=PIPE_WIDTH)).print(table)
    if report.height > limit:
        console.print(f"… {report.height - limit:,} more rows in the stored table")
