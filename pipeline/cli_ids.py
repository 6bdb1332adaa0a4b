"""The device-ID commands of `rating`: `id-search`, `import-ids` and `unassigned`.

`register(app)` adds them to the `rating` Typer app (pipeline/cli.py calls it). This module
is an edge: it reads the catalog directory, the import file and the warehouse and writes
device_ids.csv; the rules are in pipeline/assign (docs/assignment.md).
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Optional, get_args

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from pipeline.catalog import CatalogError, RawTable, problem_text
from pipeline.cli_output import console, error, existing_warehouse
from pipeline.io.catalog_files import catalog_text, csv_lines, file_error, read_catalog_csv, replace_csv
from schemas.usage import ID_TYPES


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
#: The ID types an option accepts (typer shows them and refuses others): schemas.usage.ID_TYPES.
IdType = Literal["phone", "ipv4", "ipv6", "mac", "string"]
assert get_args(IdType) == ID_TYPES
#: A first line with one of these makes an import file a CSV file (it must have the header).
_CSV_DELIMITERS = (",", ";")
#: What separates FROM and TO in a list of IDs: blanks of a line (tab, space, no-break space …), no line break.
_BLANKS = r"[\t\p{Zs}]+"


def register(app: typer.Typer) -> None:
    """Add the device-ID commands to the `rating` app."""
    app.command("id-search")(id_search)
    app.command("import-ids")(import_ids)
    app.command("unassigned")(unassigned)


def id_search(
    identifier: str = typer.Argument(..., help="A phone number (E.164 digits, + and separators allowed), IP address, MAC address or string ID"),
    at: Optional[str] = typer.Option(None, help="Point in time, UTC: YYYY-MM-DD[ HH:MM:SS] \\[default: now]"),
    id_type: Optional[IdType] = typer.Option(None, "--type", help="Only this ID type"),
    catalog: Optional[Path] = typer.Option(None, help="Catalog directory \\[env RATING_CATALOG, default data/sample/catalog]"),
) -> None:
    """Show the contract an identifier is assigned to at a time, and every catalog ID that covers it."""
    from pipeline.assign.catalog import within_contracts
    from pipeline.assign.search import id_matches
    from pipeline.io.catalog_files import load_catalog

    moment = _moment(at) if at else datetime.now(timezone.utc).replace(microsecond=0)
    directory = _catalog_dir(catalog)
    try:
        cat = load_catalog(directory)
    except CatalogError as exc:
        _report(exc.errors)
        _fail("the catalog is invalid: fix it and search again")
    path = directory / "device_ids.csv"
    lines = read_catalog_csv(path).frame.get_column("_line") if path.is_file() else None  # file lines, blank lines kept
    # as assignment sees them: each ID's validity within its contract's days
    matches = id_matches(within_contracts(cat.device_ids, cat.contracts), identifier, moment, id_type, lines)
    if not matches.height:
        console.print(f"no device ID matches {identifier!r}" + (f" as {id_type}" if id_type else ""))
        raise typer.Exit(1)
    winners = matches.filter(pl.col("wins"))
    when = moment.strftime("%Y-%m-%d %H:%M:%S")
    types = matches.get_column("id_type").unique(maintain_order=True)
    for kind in types:  # one line per ID type the text matches as: a record of each goes its own way
        record = f"a {kind} record of {escape(identifier)}" if types.len() > 1 else escape(identifier)
        won = winners.filter(pl.col("id_type") == kind)
        if not won.height:
            unassigned = "it is unassigned" if types.len() > 1 else "its records are unassigned"
            console.print(f"{record} matches device IDs, but none is valid at {when} UTC: {unassigned}")
            continue
        row = won.row(0, named=True)
        console.print(
            f"{record} is assigned to contract [bold]{escape(row['contract_id'])}[/bold] at {when} UTC: "
            f"{row['id_type']} ID {escape(row['matched_id'])} ({row['match']} match, device_ids.csv line {row['line']})"
        )
    table = Table(title="matching device IDs, most specific first")
    for column in ("contract", "type", "device ID", "match", "valid from", "valid until", f"valid at {when}", "line"):
        table.add_column(column)
    for row in matches.iter_rows(named=True):  # a handful of catalog rows, not records
        table.add_row(
            ("→ " if row["wins"] else "") + row["contract_id"], row["id_type"], row["matched_id"], row["match"],
            _time(row["valid_from"], "open"), _time(row["valid_until"], "open"), "yes" if row["valid_at"] else "no", str(row["line"]),
        )
    console.print(table)


def import_ids(
    file: Path = typer.Argument(..., help="Text file (one ID per line; FROM TO for a range) or CSV with a header (contract_id, id_value, …)"),
    contract: Optional[str] = typer.Option(None, help="Contract of every ID (text files; CSV without a contract_id column)"),
    id_type: IdType = typer.Option("phone", "--type", help="ID type where the file does not say"),
    valid_from: Optional[str] = typer.Option(None, help="Validity start (UTC) where the file does not say"),
    valid_until: Optional[str] = typer.Option(None, help="Validity end, exclusive (UTC), where the file does not say"),
    catalog: Optional[Path] = typer.Option(None, help="Catalog directory \\[env RATING_CATALOG, default data/sample/catalog]"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check only; write nothing"),
) -> None:
    """Add device IDs to the catalog: all of them or, if any is invalid or conflicts, none."""
    from pipeline.assign.catalog import merged_device_ids
    from pipeline.catalog import validated_catalog
    from pipeline.io.billing_files import catalog_lock
    from pipeline.io.catalog_files import read_raw_catalog

    directory = _catalog_dir(catalog)
    if not file.is_file():  # a path given wrong, as a bad option: exit code 2 (as import-special-prices)
        _fail(f"{file} {'is a directory' if file.is_dir() else 'not found'}: pass the path of the file to import", code=2)
    defaults = {"contract_id": contract, "id_type": id_type, "valid_from": valid_from, "valid_until": valid_until}
    try:
        imported = _import_file(file, defaults)
    except CatalogError as exc:
        _report(exc.errors)
        _fail(f"nothing imported: {file} cannot be read as an import file")
    except ValueError as exc:
        _fail(str(exc))
    # read to write under the catalog's edit lock, as the lifecycle commands: a change made meanwhile is kept
    with nullcontext() if dry_run else catalog_lock(directory):
        try:
            raw = read_raw_catalog(directory)
        except CatalogError as exc:
            _report(exc.errors)
            _fail("nothing imported: the catalog is invalid")
        if "device_ids" not in raw or "contracts" not in raw:
            _fail(f"{directory} has no device_ids.csv or contracts.csv: pass --catalog or set RATING_CATALOG")
        merged, problems, skipped = merged_device_ids(raw["device_ids"], imported, raw["contracts"])
        if problems.height:
            _report(problems)
            _fail(f"nothing imported: {problems.height} problem(s) in {file} (or the catalog); fix them and import again")
        target = directory / "device_ids.csv"
        with_lines = merged.with_columns(pl.int_range(2, merged.height + 2, dtype=pl.Int64).alias("_line"))
        try:  # the whole catalog as it would be: references, types, conflicts
            validated_catalog({**raw, "device_ids": RawTable(str(target), with_lines)})
        except CatalogError as exc:
            _report(exc.errors)
            _fail("nothing imported: the catalog would not be valid")
        added = merged.height - raw["device_ids"].frame.height
        note = f" ({skipped.height} already in the catalog)" if skipped.height else ""
        if dry_run:
            console.print(f"{added} device ID(s) would be imported into {target}{note}; nothing written (--dry-run)")
            return
        replace_csv(target, merged)
    console.print(f"imported {added} device ID(s) into {target}{note}")


def unassigned(
    warehouse: Optional[Path] = typer.Option(None, help="Warehouse directory \\[env RATING_WAREHOUSE, default ./warehouse]"),
    top: int = typer.Option(20, min=1, help="How many identifiers"),
    by: str = typer.Option("records", help="Order: records, volume (bytes) or duration (seconds)"),
) -> None:
    """The identifiers that matched no contract most often (or with the most usage), over all stored runs."""
    from pipeline.assign.report import ORDER_BY, top_unassigned
    from pipeline.config import Settings

    if by not in ORDER_BY:
        _fail(f"--by {by!r} is not one of {', '.join(ORDER_BY)}", code=2)
    root = existing_warehouse(Settings.from_env(warehouse=str(warehouse) if warehouse else None).warehouse)
    from pipeline.io.warehouse import reading, stored_paths

    files = stored_paths(root / "unassigned", "*.parquet")
    if not files:
        console.print(f"no unassigned records in {root}: nothing stored yet, or everything was assigned")
        return
    with reading(root):  # a stored unassigned file cut short or overwritten: named, exit 1 (pipeline/cli.py)
        report = top_unassigned(pl.scan_parquet(files), top, by)
    table = Table(title=f"top {top} unassigned identifiers by {by} ({root})")
    for column in ("id type", "identifier", "records", "seconds", "bytes", "first seen", "last seen", "runs", "latest reason"):
        table.add_column(column, justify="right" if column in ("records", "seconds", "bytes", "runs") else "left")
    for row in report.iter_rows(named=True):  # the top N of an aggregate, not records
        table.add_row(
            row["id_type"], row["subscriber_id"], f"{row['records']:,}", f"{row['duration_s'] or 0:,}", f"{row['volume_bytes'] or 0:,}",
            _time(row["first_seen"], ""), _time(row["last_seen"], ""), str(row["runs"]), row["reason"],
        )
    console.print(table)


def _import_file(path: Path, defaults: dict[str, str | None]) -> RawTable:
    """The rows of an import file as strings with their file line, defaults filled in.

    The first line that is neither blank nor a # comment decides the format: with a comma or a
    semicolon (or just `id_value`) it is a CSV file, whose header must name id_value (a file
    without that header is refused, never read as a list of IDs: its header line would be
    imported as an ID); otherwise the file is a list of IDs, one a line.
    """
    # lines as the CSV reader counts them (LF or CR LF): str.splitlines also ends one at U+2028, FF, NEL …
    lines = csv_lines(catalog_text(path, empty="the file is empty: no IDs to import"))
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    if any(d in first for d in _CSV_DELIMITERS) or first.strip() == "id_value":
        table = read_catalog_csv(path, comments=True)
        if "id_value" not in table.frame.columns:
            found = ", ".join(c for c in table.frame.columns if c != "_line")
            rule = f"a CSV import needs a header with an id_value column (found: {found}); the columns are those of device_ids.csv"
            raise file_error(path, lines.index(first) + 1, None, rule)
        frame = table.frame
    else:
        # one ID per line; "FROM TO" (or "FROM - TO") is a range; blank lines and # comments (a # at the
        # start or after a blank: SIM#1 is an ID) are skipped. Anything after TO stays in id_to, whose
        # check then names the line, rather than being dropped
        frame = (
            pl.DataFrame({"text": lines}, schema={"text": pl.String})
            .with_row_index("_line", offset=1)
            .with_columns(pl.col("text").str.replace(r"(^|\s)#.*$", "").str.strip_chars())
            .filter(pl.col("text").str.len_bytes() > 0)
            # blanks (spaces, tabs) only: a CR or U+2028 left inside a line joined two IDs into a range
            .with_columns(pl.col("text").str.replace(_BLANKS + "-" + _BLANKS, " ").str.replace_all(_BLANKS, " ").str.splitn(" ", 2).alias("_parts"))
            .select(
                pl.col("_line").cast(pl.Int64),
                pl.col("_parts").struct.field("field_0").alias("id_value"),
                pl.col("_parts").struct.field("field_1").alias("id_to"),
            )
        )
        if not defaults["contract_id"]:
            raise ValueError(f"{path} is a list of IDs: give the contract they belong to with --contract")
    unknown = [c for c in frame.columns if c not in ("_line", "contract_id", "id_type", "id_value", "id_to", "valid_from", "valid_until")]
    if unknown:
        raise ValueError(f"{path}: unknown column(s) {', '.join(unknown)}; the columns are those of device_ids.csv")
    for column, value in defaults.items():
        # a cell of blanks alone is an empty cell (docs/catalog.md): it takes the option's value too
        given = pl.when(pl.col(column).str.strip_chars() != "").then(pl.col(column)) if column in frame.columns else pl.lit(None, pl.String)
        frame = frame.with_columns(pl.coalesce(given, pl.lit(value, pl.String)).alias(column))
    lines = frame.filter(pl.col("contract_id").is_null()).get_column("_line")
    if lines.len():
        shown = ", ".join(str(line) for line in lines.head(20)) + (f" and {lines.len() - 20} more" if lines.len() > 20 else "")
        raise ValueError(f"{path}: line{'s' if lines.len() > 1 else ''} {shown} {'have' if lines.len() > 1 else 'has'} no contract_id: "
                         "fill the column or give --contract")
    if "id_to" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("id_to"))
    return RawTable(str(path), frame.select("contract_id", "id_type", "id_value", "id_to", "valid_from", "valid_until", "_line"))


def _report(problems: pl.DataFrame) -> None:
    """Each problem worded as the catalog's are (`file:line: column 'c': value 'v' breaks rule R`)."""
    for row in problems.select("file", "line", "column", "value", "rule").iter_rows():  # problems, not records
        error(problem_text(*row))


def _catalog_dir(catalog: Optional[Path]) -> Path:
    from pipeline.config import Settings

    directory = Settings.from_env(catalog=str(catalog) if catalog else None).catalog
    if not directory.is_dir():
        _fail(f"catalog directory {directory} not found: pass --catalog or set RATING_CATALOG", code=2)
    return directory


def _moment(text: str) -> datetime:
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    _fail(f"--at {text!r} is not YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)", code=2)


def _time(value: datetime | None, empty: str) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else empty


def _fail(message: str, code: int = 1) -> None:
    error(message)
    raise typer.Exit(code)
