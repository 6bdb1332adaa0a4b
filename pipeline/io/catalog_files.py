"""Reading a catalog directory (one CSV file per table, every cell as text) and replacing its files:
one at a time (replace_csv) or a change of several together (put_in_place_together, finish_change)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import polars as pl

from pipeline.catalog import ERRORS_SCHEMA, Catalog, CatalogError, CatalogNotFound, CatalogNotWritable, RawTable, validated_catalog
from pipeline.catalog.billing import validated_billing, with_usage_tariffs
from pipeline.price.catalog import PricedCatalog, validated_pricing, with_pricing
from schemas.billing import CATALOG_TABLES as BILLING_TABLES
from schemas.catalog import TABLES
from schemas.pricing import CATALOG_TABLES as PRICING_TABLES


T = TypeVar("T")

#: The billing files that say which tariff usage is rated with (docs/billing.md, "Tariff change").
USAGE_TARIFF_FILES = ("modules", "module_tariffs")
#: Every CSV file a catalog directory may hold: the tables, and the lifecycle commands' audit log.
KNOWN_FILES = frozenset({*TABLES, *PRICING_TABLES, *BILLING_TABLES, "audit_log"})


def read_raw_catalog(directory: Path, names: Iterable[str] = TABLES) -> dict[str, RawTable]:
    """Every `<name>.csv` found in `directory` (default: the core tables), read by read_catalog_csv.

    Raises CatalogNotFound when `directory` is not a directory, and CatalogError listing every
    file that cannot be read as a catalog CSV.
    """
    found, stray = files_read(Path(directory), names)
    tables, problems = {}, [_unknown_file(path) for path in stray]
    for name, (path, text_from) in found.items():  # the catalog's files, not records
        try:
            table = read_catalog_csv(text_from)
            tables[name] = table if text_from == path else replace(table, file=str(path))
        except CatalogError as exc:
            problems.append(exc.errors)
    if problems:
        raise CatalogError(pl.concat(problems))
    return tables


def files_read(directory: Path, names: Iterable[str] = TABLES) -> tuple[dict[str, tuple[Path, Path]], list[Path]]:
    """What read_raw_catalog(directory, names) reads, once a catalog change stopped between its
    files is finished: by table found, its file and the file its text comes from (the change's
    staged file, named as the file it replaces or creates, when this process cannot write the directory);
    and the CSV files no table is named after (looked for with the core tables only).

    Raises CatalogNotFound when `directory` is not a directory.
    """
    if not directory.is_dir():
        raise CatalogNotFound(directory)
    pending: dict[str, Path] = {}
    try:
        finish_change(directory)  # a change stopped between its files: read it whole
    except OSError:  # a catalog this process cannot write: its next writer finishes it; read the change's staged files
        pending = staged_targets(directory)
    stray = []
    if names is TABLES:  # the core tables are read by every command: the one place to notice a stray file
        stray = [path for path in sorted(directory.glob("*.csv")) if path.stem not in KNOWN_FILES and not path.name.startswith(".")]
    found = {}
    for name in names:  # the catalog's files
        path = directory / f"{name}.csv"
        # a dangling link is a problem, not an absent file; a file the stopped change creates is read from its staged file
        if not path.exists() and not path.is_symlink() and path.name not in pending:
            continue
        found[name] = (path, pending.get(path.name, path))
    return found, stray


def _record_lines(lines: list[str], first: int, comments: bool) -> list[int]:
    """The line each CSV record of `lines` starts on (the first is line `first`): csv counts the
    lines a record spans; comment lines (`#` first, as Polars drops them) are no records. Catalog
    rows, not usage records, and only for a file with such a field or comment."""
    kept = [(first + i, text) for i, text in enumerate(lines) if not (comments and text.startswith("#"))]
    numbers = [number for number, _ in kept]
    reader = csv.reader(text.replace("\r", " ") for _, text in kept)  # lines are counted, cells unused
    starts, consumed = [], 0
    for _ in reader:
        starts.append(numbers[consumed])
        consumed = reader.line_num
    return starts


def csv_lines(text: str) -> list[str]:
    r"""The lines of `text` as the CSV parser sees them: ended by LF or CRLF. str.splitlines also
    ends a line at VT, FF, FS, GS, RS, NEL, U+2028 and U+2029, which are text in a CSV cell.

    >>> csv_lines("a,b\r\n1,x\u2028y\n\n")
    ['a,b', '1,x\u2028y', '']
    """
    lines = text.split("\n")
    if lines[-1] == "":  # the line break that ends the last line starts none
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _unknown_file(path: Path) -> pl.DataFrame:
    """The problem of a CSV file no table is named after: a misspelt name would drop its rows unseen."""
    rule = "no catalog table has this name: name the file after its table (docs/catalog.md) or move it out of the catalog directory"
    return file_error(path, None, None, rule).errors


def read_catalog_csv(path: Path, *, comments: bool = False) -> RawTable:
    """A catalog-format CSV file (UTF-8, comma-separated, a header line) as strings, with a `_line`
    column (1-based file line; the header is line 1).

    The one reader of catalog files and of the CSV files imported into the catalog. A file that
    cannot be read as such raises CatalogError with one problem naming the file, the line where
    known, and what is wrong: empty, not UTF-8 text, not comma-separated, or not valid CSV.

    Args:
        comments: lines starting with `#` are comments, and blank or comment lines may come
            before the header (import files); catalog files have none.
    """
    path = Path(path)
    text = catalog_text(path)
    lines = csv_lines(text)
    header_at = next((i for i, line in enumerate(lines) if _is_content(line, comments)), None)  # stops at the header
    if header_at is None:
        raise file_error(path, 1, None, "the file is empty: it needs its header line")
    cells = next(csv.reader([lines[header_at].replace("\r", " ")]), [])  # a stray CR is text to Polars, an error to csv
    if len(cells) == 1 and any(d in cells[0] for d in _OTHER_DELIMITERS):
        rule = f"the header is one column {_short(cells[0])!r}: the delimiter must be a comma"
        raise file_error(path, header_at + 1, None, rule)
    twice = sorted(name for name, count in Counter(c.strip() for c in cells).items() if count > 1)
    if twice:
        raise file_error(path, header_at + 1, None, f"the header names {', '.join(repr(c) for c in twice)} twice: each column once")
    try:
        frame = pl.read_csv(text.encode("utf-8"), infer_schema=False, comment_prefix="#" if comments else None)
    except pl.exceptions.PolarsError as exc:
        line, rule = _csv_problem(lines, len(cells), exc)
        raise file_error(path, line, None, rule) from None
    # a header name is read without its blanks, as every cell is (`prefix, zone_id` aligned by hand);
    # two names the same but for blanks were refused above
    frame = frame.rename({c: c.strip() for c in frame.columns})
    first = header_at + 2
    if frame.height == len(lines) - header_at - 1:  # a row per line after the header
        short = _short_lines(lines[header_at + 1 :], len(cells), first)
        if short.height:
            rule = f"fewer fields than the header's {len(cells)} columns"
            raise CatalogError(short.select(pl.lit(str(path)).alias("file"), "line", pl.lit(None, pl.String).alias("column"),
                                            pl.lit(None, pl.String).alias("value"), pl.lit(rule).alias("rule")))
        frame = frame.with_columns(pl.int_range(first, first + frame.height, dtype=pl.Int64).alias("_line"))
    else:  # a quoted field holds a line break, or comments were dropped: each row is numbered by its first line
        frame = frame.with_columns(pl.Series("_line", _record_lines(lines[header_at + 1 :], first, comments), dtype=pl.Int64))
    # a blank line (a trailing one, say) is no row: numbered first, so the lines after it keep their numbers;
    # so is a line of blanks alone (`   `, ` , ,`), whose cells are empty cells
    cells = pl.exclude("_line").str.strip_chars().fill_null("") == ""
    blank = pl.all_horizontal(cells) if frame.width > 1 else pl.lit(False)
    return RawTable(file=str(path), frame=frame.filter(~blank))


def _short_lines(lines: list[str], columns: int, first: int) -> pl.DataFrame:
    """The `line` (numbered from `first`) of each record with fewer fields than the header's `columns`
    (a file whose records are one line each): Polars would read the missing cells as empty ones.
    A quoted field (one that starts with a quote) is counted as one; a quote inside an unquoted
    field is text (`Monitor 24" wide`), as the CSV parser reads it; blank lines are no records."""
    text = pl.Series("text", lines, dtype=pl.String)
    fields = text.str.replace_all(r'(^|,)"(?:[^"]|"")*"', "${1}").str.count_matches(",", literal=True) + 1
    short = (fields < columns) & (text.str.strip_chars() != "")
    return pl.DataFrame({"line": short.arg_true().cast(pl.Int64) + first})


def catalog_text(path: Path, empty: str = "the file is empty: it needs its header line") -> str:
    """The text of a catalog or import file (UTF-8, a byte order mark allowed); raises CatalogError
    when the file is not UTF-8 text, is empty (the rule `empty`), or its lines end in CR alone."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:  # a directory of that name, a dangling link, no permission
        raise file_error(path, None, None, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        rule = f"not UTF-8 text (byte 0x{data[exc.start]:02X}): save the file as UTF-8"
        raise file_error(path, line, None, rule) from None
    if not text.strip():
        raise file_error(path, 1, None, empty)
    if "\r" in text and "\n" not in text:  # one line to the CSV parser (csv_lines), and to a list of IDs
        raise file_error(path, 1, None, "lines end in a carriage return alone (old Mac text): save the file with LF or CRLF line endings")
    return text


def _is_content(line: str, comments: bool) -> bool:
    return not comments or bool(line.strip()) and not line.lstrip().startswith("#")


#: Delimiters a header line of one column gives away: the file was saved with another delimiter than a comma.
_OTHER_DELIMITERS = (";", "\t", "|")


def file_error(path: Path, line: int | None, value: str | None, rule: str) -> CatalogError:
    """A CatalogError with one problem of a whole file (no column)."""
    return CatalogError(pl.DataFrame([(str(path), line, None, value, rule)], schema=ERRORS_SCHEMA, orient="row"))


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _csv_problem(text_lines: list[str], columns: int, exc: Exception) -> tuple[int | None, str]:
    """Where and why Polars could not read a file as CSV: a line with more fields than the header
    (found among the lines without quotes), or Polars' own first message line."""
    if "more fields" in str(exc):
        lines = pl.Series("text", text_lines, dtype=pl.String)
        fields = lines.str.count_matches(",", literal=True) + 1
        longer = (fields > columns) & ~lines.str.contains('"', literal=True)
        first = longer.arg_true()
        line = int(first[0]) + 1 if first.len() else None
        return line, f"more fields than the header's {columns} columns"
    if "not properly escaped" in str(exc):  # a quote opened and never closed: from its line to the end is one field
        odd = pl.Series("text", text_lines, dtype=pl.String).str.count_matches('"', literal=True) % 2 == 1
        first = odd.arg_true()
        if first.len():
            return int(first[0]) + 1, 'a quoted field is not closed: this line has an odd number of "'
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None, f"not a valid CSV file ({message})"


def load_catalog(directory: Path) -> Catalog:
    """The validated catalog in `directory`, carrying its usage-tariff timeline when the directory
    has modules.csv / module_tariffs.csv (validated as the billing catalog validates them);
    raises CatalogError naming every bad file or cell, CatalogNotFound without the directory."""
    return _with_modules(directory, validated_catalog(read_raw_catalog(directory)))


def _with_modules(directory: Path, catalog: Catalog) -> Catalog:
    modules = read_raw_catalog(directory, USAGE_TARIFF_FILES)
    return with_usage_tariffs(catalog, validated_billing(modules, catalog)) if modules else catalog


def load_priced_catalog(directory: Path) -> PricedCatalog:
    """load_catalog's catalog carrying the directory's validated pricing tables (any may be absent):
    what the main job rates with (docs/pricing.md). The problems of the modules and of the pricing
    files are listed together. Kept between runs by pipeline.io.catalog_cache."""
    catalog = validated_catalog(read_raw_catalog(directory))
    with_modules, pricing = validated_together(
        lambda: _with_modules(directory, catalog), lambda: validated_pricing(read_raw_catalog(directory, PRICING_TABLES), catalog)
    )
    return with_pricing(with_modules, pricing)


#: The tables load_priced_catalog reads, a read_raw_catalog call each: the core tables, the
#: usage-tariff files (_with_modules), the pricing tables; its cache's key is made of their files.
PRICED_CATALOG_READS = (TABLES, USAGE_TARIFF_FILES, PRICING_TABLES)


def validated_together(*steps: Callable[[], T]) -> list[T]:
    """Each step's result; the catalog families validated against one core catalog (billing, pricing)
    are all checked, and their problems raised as one CatalogError, so none waits for another's fix."""
    results, problems = [], []
    for step in steps:  # a few catalog families, not records
        try:
            results.append(step())
        except CatalogError as exc:
            problems.append(exc.errors)
    if problems:
        raise CatalogError(pl.concat(problems))
    return results


def replace_csv(path: Path, frame: pl.DataFrame) -> None:
    """Replace a catalog file by a complete new version: readers see the old or the new one, never half.

    The new file keeps the old one's permissions (or the umask's, for a new file).
    """
    put_in_place([(staged_csv(path, frame), Path(path))])


def staged_csv(path: Path, frame: pl.DataFrame) -> Path:
    """The new version of the catalog file `path`, written whole beside it (a hidden temporary file,
    on disk, with the old file's permissions or the umask's): what put_in_place (or
    put_in_place_together) renames over it.
    Raises CatalogNotWritable (OSError otherwise), leaving nothing behind, when it cannot be written there."""
    return staged_text(path, frame.write_csv())


def staged_text(path: Path, text: str, appended: bool = False) -> Path:
    """staged_csv for a text already made (a change's journal), or, `appended`, for the file's
    present bytes with `text` after them (the audit log with a change's rows: copied in blocks,
    byte for byte, so a long log costs no memory and its earlier rows never change)."""
    path = Path(path)
    umask = os.umask(0)
    os.umask(umask)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise CatalogNotWritable(path, exc) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            if appended and path.exists():
                with open(path, "rb") as earlier:
                    shutil.copyfileobj(earlier, handle)
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def put_in_place(staged: list[tuple[Path, Path]]) -> None:
    """Rename each staged file (staged_csv) over its target; a staged file not put in place is removed."""
    try:
        for tmp, path in staged:  # a few catalog files
            os.replace(tmp, path)
    finally:
        discard(staged)


def discard(staged: list[tuple[Path, Path]]) -> None:
    """Remove the staged files not put in place (all of them after a failure before any rename)."""
    for tmp, _ in staged:  # a few catalog files
        tmp.unlink(missing_ok=True)


#: A catalog change of several files: the staged files and the files they replace, in the catalog
#: directory. Written once every file is staged, it commits the change; it goes once all are in place.
CHANGE_JOURNAL = ".catalog-change.json"


def put_in_place_together(directory: Path, staged: list[tuple[Path, Path]]) -> None:
    """put_in_place for the files of one change: all of them or none, also when the process dies
    between two renames (SIGKILL, a power cut): the journal commits the change, and the next reader
    of the catalog finishes it (finish_change). A change stopped before its journal changed nothing."""
    directory = Path(directory)
    try:
        journal = staged_text(directory / CHANGE_JOURNAL, json.dumps([[tmp.name, path.name] for tmp, path in staged]))
        os.replace(journal, directory / CHANGE_JOURNAL)
    except BaseException:
        discard(staged)
        raise
    finish_change(directory, locked=True)


def finish_change(directory: Path, locked: bool = False) -> None:
    """Put the files of a committed change in place that are not yet (a change stopped between its
    renames). Only the holder of the catalog's edit lock (`locked`) removes the journal, and the
    staged files of changes that died before theirs (staged_leftovers): a reader could otherwise
    remove the journal of a change made after the one it read, or its staged files."""
    journal = Path(directory) / CHANGE_JOURNAL
    renames = _renames(journal)
    for tmp, target in renames or []:  # a few catalog files
        try:
            os.replace(Path(directory) / tmp, Path(directory) / target)
        except FileNotFoundError:
            pass  # in place already
    if locked:
        journal.unlink(missing_ok=True)
        for path in staged_leftovers(directory):  # the lock holder's own staged files are in place by now
            path.unlink(missing_ok=True)


#: The name staged_text gives a staged copy of a catalog file or of a journal: the name after a dot, a dot,
#: and tempfile's 8 random characters. A user's own hidden files (`.modules.csv.swp`, `.prices.csv.orig`) differ.
_STAGED_NAME = re.compile(
    r"\.(?:" + "|".join(re.escape(name) for name in sorted([*(f"{n}.csv" for n in KNOWN_FILES), CHANGE_JOURNAL])) + r")\.[a-z0-9_]{8}"
)


def _renames(journal: Path) -> list[list[str]] | None:
    """The [staged, target] names a change's journal lists; None without one. Raises CatalogError for a
    journal that cannot be read: never written so (staged whole, then renamed), so a hand edit or a broken disk."""
    try:
        renames = json.loads(journal.read_text(encoding="utf-8"))
        shaped = isinstance(renames, list) and all(isinstance(r, list) and len(r) == 2 and all(isinstance(n, str) for n in r) for r in renames)
        problem = None if shaped else "not a list of [staged, target] file names"
    except FileNotFoundError:
        return None
    except ValueError as exc:
        problem = str(exc)
    if problem is not None:
        raise file_error(journal, None, None, f"a catalog change's journal that cannot be read ({problem}): compare the catalog "
                         "files with audit_log.csv, then remove it")
    return renames


def staged_targets(directory: Path) -> dict[str, Path]:
    """The staged files of a committed change not yet in place, by the name of the file each replaces
    (finish_change would rename them): what a reader that cannot finish the change reads instead."""
    renames = _renames(Path(directory) / CHANGE_JOURNAL) or []
    return {target: Path(directory) / tmp for tmp, target in renames if (Path(directory) / tmp).exists()}


def staged_leftovers(directory: Path) -> list[Path]:
    """Staged files (staged_text) of changes that died before their journal: hidden copies of catalog
    files (`.modules.csv.<random>`) and of a journal. Read by nothing; the holder of the edit lock,
    every writer of the catalog, removes them once a stopped change is finished (finish_change).
    Only files named as staged_text names them: the catalog directory may hold the user's own."""
    return [p for p in Path(directory).glob(".*") if _STAGED_NAME.fullmatch(p.name) and p.is_file() and not p.is_symlink()]
