"""The local warehouse: Parquet tables hive-partitioned by period, plus an analyst DuckDB file.

Layout (docs/warehouse.md):
    <warehouse>/<table>/period=YYYY-MM/run-<run_id>_<i>.parquet   invoice_lines, rated_usage
    <warehouse>/<table>/run-<run_id>.parquet                       rejects, unassigned, ledger, …
    <warehouse>/analytics.duckdb                                   views over all of the above
Every accepted usage record is stored once, whole, in exactly one of rated_usage,
unassigned, unrateable and non_billable; the analyst view `usage` is their union in the
canonical shape, and it is what later runs re-rate and check duplicates against.
A run's files are written to a staging folder first and then swapped in for that
run's earlier files, so re-running a run replaces its rows and never doubles them. The staging
folder's manifest, written once every file is staged, commits the run: a run that stopped
before it left nothing, and one that stopped while swapping in is finished by `recover`, which
every rating run calls first, under the warehouse's rating lock (`locked`).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import sql
from pipeline.ingest import REJECT_SCHEMA
from pipeline.io.locks import exclusive
from pipeline.ledger import totals
from pipeline.price import CARRY_SCHEMA, carry_in
from schemas.outputs import TABLES
from schemas.usage import USAGE_POLARS

#: Tables partitioned by billing period; the rest are one file per run.
PERIOD_TABLES = ("invoice_lines", "rated_usage")
#: Tables that hold accepted usage records, each whole and each record in one of them.
USAGE_TABLES = ("rated_usage", "unassigned", "unrateable", "non_billable")
#: Stored schemas, by table.
SCHEMAS: dict[str, pa.Schema] = dict(TABLES)
#: Columns the stored tables gained with free quantities (4d7ef92), and what a file of the release
#: before holds in their place: it priced every record from its tariff's rate card, without free units,
#: bands, volume tiers or per-call fees (amount = round(quantity × price / price_per)), and recorded no
#: price row (price_ref empty). Read from such a file, the columns have these values. A column gained then
#: that is not here such a file cannot tell (an invoice line's tariff_id: it summed a contract's article over
#: its tariffs; its vat_code): a reader that needs one names the file (older_file).
OLDER_FILES: dict[str, dict[str, object]] = {
    "rated_usage": {"band": None, "free_quantity": 0, "price_ref": "", "tier": None, "tier_before": None, "fee": Decimal(0)},
    "invoice_lines": {"free_quantity": 0},
}
ANALYTICS_DB = "analytics.duckdb"
#: Where the empty schema files are that the views of tables without files read (the view modules write them).
SCHEMA_DIR = "_schema"
#: A period value that is a folder name as it stands (YYYY-MM is).
PLAIN = re.compile(r"[0-9A-Za-z-]+")
#: zstd level of the Parquet files Polars writes (the per-record detail, rated_usage): at level 1
#: 10 M rows take 5.0 s instead of 6.6 s at the default 3 (both cores busy either way), and the
#: files are 4 % larger. Polars writes the invoice lines too (pipeline.bill.invoice_lines: 1.5 M lines
#: in 0.3 s, DuckDB's writer 0.7 s). DuckDB's relation writer (the outcomes) keeps its default: its
#: Python write_parquet takes no level (SQL COPY does), and those files are small.
ZSTD_LEVEL = 1


class UnreadableFile(RuntimeError):
    """A stored Parquet file of the warehouse cannot be read (cut short by a power cut or a full disk,
    overwritten): the message names it, says what the reader said and what to do."""


#: What the readers raise on a Parquet file they cannot read (DuckDB, pyarrow, Polars); `unreadable`
#: turns one into UnreadableFile only when it finds the stored file that cannot be read.
READ_ERRORS = (duckdb.IOException, duckdb.InvalidInputException, pa.ArrowInvalid, OSError, pl.exceptions.ComputeError)


def _read_error(exc: BaseException) -> bool:
    """Whether `exc` is what a reader raises on a Parquet file it cannot read: READ_ERRORS (pyarrow's
    OSError on a footer it cannot decode, "Couldn't deserialize thrift"), or DuckDB's plain Error, which
    it raises on such a footer ("don't know what type"), not one of its subclasses (a binder error, …)."""
    return isinstance(exc, READ_ERRORS) or type(exc) is duckdb.Error
#: A path in a reader's message (DuckDB quotes the file it could not read).
_QUOTED_PARQUET = re.compile(r"""['"]([^'"]+\.parquet)['"]""")
#: DuckDB's error class in front of its message ("Invalid Input Error: ").
_DUCKDB_PREFIX = re.compile(r"^[A-Za-z ]+ Error: ")


def unreadable(exc: BaseException, warehouse: Path, search: bool = True, read: Iterable[Path] = ()) -> UnreadableFile | None:
    """The UnreadableFile a reader's error `exc` means, None when it is about no stored file of
    `warehouse` (a mistake of ours: its traceback is due). The file is the one DuckDB's message names,
    else (unless `search` is False: an error naming no file is a query's own then) the first stored file
    whose footer cannot be read, else the first that cannot be read whole (a damaged data page: Polars,
    pyarrow and DuckDB name none); first among the files `read` (the ones the command listed: `reading`),
    then among all: a damaged file elsewhere is not what the command failed on."""
    if warehouse is None or not _read_error(exc):
        return None
    root = Path(warehouse).resolve()
    # the files named, once each, in order (a path with a quote in it is cut at the quote: no such file)
    named = [p for p in dict.fromkeys(Path(p).resolve() for p in _QUOTED_PARQUET.findall(str(exc))) if p.is_file()]
    # a file DuckDB names is blamed only when it cannot be read: a schema mismatch names files that
    # read well (two releases' files), and a file outside the warehouse is not a stored file
    bad = [p for p in named if p.is_relative_to(root) and not _readable(p)]
    if not named and (not search or (isinstance(exc, OSError) and exc.errno is not None)):  # a query's, or the system's (a full disk)
        return None
    if not named:  # only on this error's way out: every stored file's footer (1.5 s with 1 000 runs), and when
        # all of them read, every file whole (a damaged page: the time of one full read)
        listed = sorted({f for f in (Path(f).resolve() for f in read) if f.is_relative_to(root) and f.is_file()})
        bad = _damaged(listed) or _damaged(_stored_files(root))
    if not bad:
        return None
    path = bad[0]
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    said = _DUCKDB_PREFIX.sub("", lines[0])
    more = f" ({len(bad) - 1} more stored files cannot be read)" if len(bad) > 1 else ""
    todo = permission_denied(path) or _what_to_do(path.relative_to(root))
    return UnreadableFile(f"stored file {path} cannot be read ({said}){more}: {todo}")


def _damaged(files: list[Path]) -> list[Path]:
    """Those of `files` whose footer cannot be read, else those that cannot be read whole."""
    return [f for f in files if not _footer_readable(f)] or [f for f in files if not _readable(f)]


def _stored_files(root: Path) -> list[Path]:
    """Every Parquet file the commands read below `root`: not the caches, not a staging folder."""
    found = (f for f in root.rglob("*.parquet") if not any(p.startswith(".") or p == "_cache" for p in f.relative_to(root).parts))
    return sorted(found)


def _footer_readable(path: Path) -> bool:
    try:
        with path.open("rb") as stream:  # by Python, as permission_denied opens it: a refused open is the same PermissionError
            pq.ParquetFile(stream).close()
    except (OSError, pa.ArrowException):
        return False
    return True


def _readable(path: Path) -> bool:
    """Whether the whole file reads: its footer and every row group, one at a time (an overwritten
    page breaks a file whose footer is whole)."""
    try:
        with path.open("rb") as stream, pq.ParquetFile(stream) as file:
            for group in range(file.num_row_groups):
                file.read_row_group(group)
    except (OSError, pa.ArrowException):
        return False
    return True


#: What to do about a stored file or folder the user running rating may not open or list: it need not be damaged.
_LET_THE_USER = "permission denied: let the user running rating {} it (`{}` shows its owner and mode), then run the command again"
PERMISSION_DENIED = _LET_THE_USER.format("read", "ls -l")
FOLDER_DENIED = _LET_THE_USER.format("list and enter", "ls -ld")


def stored_paths(folder: Path, pattern: str = "**/*.parquet") -> list[Path]:
    """The paths below `folder` that match `pattern`, sorted: none when `folder` does not exist (no
    run stored there yet). A folder below it that cannot be listed (another owner, mode 000) is an
    UnreadableFile: pathlib's glob and DuckDB's skip it without a word, and its files would vanish
    from what the commands read (a duplicate rated twice, a bill without that usage)."""
    listable(folder)
    found = sorted(Path(folder).glob(pattern))
    if (read := _LISTED.get()) is not None:
        read.extend(found)
    return found


def listable(folder: Path) -> None:
    """Raise UnreadableFile for the first folder below `folder` (itself included) that cannot be
    listed; the caches and staging folders (a dot or `_cache`) are not looked into: no command reads them there."""
    for _, folders, _ in os.walk(folder, onerror=_unlisted):
        folders[:] = [f for f in folders if not (f.startswith(".") or f == "_cache")]


def _unlisted(exc: OSError) -> None:
    """os.walk's error handler: a folder that is gone (or never was, or is a file) holds nothing, as
    for pathlib's glob; one whose listing is refused is named."""
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return
    if isinstance(exc, PermissionError):
        folder = _refused_folder(Path(exc.filename))
        raise UnreadableFile(f"stored folder {folder} cannot be listed ({exc.strerror}): {FOLDER_DENIED}") from None
    raise exc


def _refused_folder(path: Path) -> Path:
    """The folder to name for `path`, whose listing was refused: the outermost of it and the folders
    above it that cannot be entered (a warehouse of mode 000 refuses its table folders), else `path`."""
    return next((p for p in (*reversed(path.parents), path) if not _enterable(p)), path)


def _enterable(folder: Path) -> bool:
    try:
        os.stat(os.path.join(folder, os.curdir))  # looking up "." in it: what entering it takes (a Path drops the ".")
    except PermissionError:
        return False
    except OSError:
        pass
    return True


def permission_denied(path: Path, exc: BaseException | None = None) -> str | None:
    """PERMISSION_DENIED when `path` cannot be read for lack of permission: the reader's error `exc` is a
    PermissionError, or opening the file is refused (its owner or mode; for root too, on a file server that
    maps root to nobody), whatever the reader said; None otherwise (the caller's own advice then). One rule
    for every stored file a command names: the warehouse's tables, the file ledger's."""
    if isinstance(exc, PermissionError):
        return PERMISSION_DENIED
    try:
        path.open("rb").close()
    except PermissionError:
        return PERMISSION_DENIED
    except OSError:
        pass
    return None


def _what_to_do(relative: Path) -> str:
    """What an operator can do about the stored file at `relative` (below the warehouse) that cannot be read."""
    table = relative.parts[0]
    run = re.fullmatch(r"run-(.+?)(_[0-9]+)?\.parquet", relative.name)
    if table == "billing":
        return "restore it from a backup: a committed billing run is never written again (docs/billing.md)"
    if run is None:
        return "restore it from a backup, or move it away (docs/warehouse.md)"
    run_id = run.group(1)
    if table == "invoice_lines":
        return (f"restore it from a backup, or move it away and make run {run_id}'s invoice lines again from its stored records: "
                f"`rating rerate --run {run_id}` (docs/warehouse.md)")  # fmt: skip
    return (f"restore it from a backup, or move it away and rate run {run_id}'s input files again: `rating run --reprocess` "
            f"over the same files stores run {run_id} again, replacing its files (docs/warehouse.md)")  # fmt: skip


def older_file(path: Path, columns: Iterable[str]) -> UnreadableFile:
    """The error of a stored file of an older release without `columns`, whose values it cannot tell:
    its run's tables made again from its stored records, in this release's shape, hold them."""
    run = re.fullmatch(r"run-(.+?)(_[0-9]+)?\.parquet", Path(path).name)
    run_id = run.group(1) if run else "?"
    return UnreadableFile(
        f"stored file {path} was written by an older release, without {', '.join(columns)}: make run {run_id}'s tables "
        f"again from its stored records: `rating rerate --run {run_id}` (with --allow-billed if it was billed), "
        f"then run this command again (docs/warehouse.md)"
    )


def conformed(part: pa.Table, name: str, path: Path) -> pa.Table:
    """`part`, read from the stored file `path` of table `name`, in the table's schema: the columns an older
    release's file lacks filled with what it meant (OLDER_FILES), older_file where it cannot tell."""
    schema = SCHEMAS[name]
    missing = [c for c in schema.names if c not in part.column_names]
    untold = [c for c in missing if c not in OLDER_FILES.get(name, {})]
    if untold:
        raise older_file(path, untold)
    for column in missing:
        value = pa.scalar(OLDER_FILES[name][column], schema.field(column).type)
        part = part.append_column(column, pa.repeat(value, part.num_rows))
    return part.select(schema.names).cast(schema)


#: The stored files listed (stored_paths) inside the outermost `reading` under way: where an error
#: naming no file is looked for first (unreadable's `read`).
_LISTED: ContextVar[list[Path] | None] = ContextVar("listed", default=None)


@contextmanager
def reading(warehouse: Path) -> Iterator[None]:
    """Turn a reader's error about a stored file of `warehouse` that cannot be read into UnreadableFile
    (the commands print it: a message, exit code 1); any other error goes on as it is."""
    read = _LISTED.get()
    token = _LISTED.set([]) if read is None else None  # a `reading` inside another adds to the outer one's files
    try:
        yield
    except Exception as exc:
        found = unreadable(exc, warehouse, read=_LISTED.get() or ())
        if found is None:
            raise
        raise found from None
    finally:
        if token is not None:
            _LISTED.reset(token)


def reads_warehouse(function):
    """`function`, which reads the stored files of its argument `warehouse` (or `warehouse_dir`), with `reading` around it."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def read(*args, **kwargs):
        given = signature.bind_partial(*args, **kwargs).arguments
        with reading(given.get("warehouse", given.get("warehouse_dir"))):
            return function(*args, **kwargs)

    return read


@dataclass(frozen=True)
class Parts:
    """A period table given as Polars frames made one at a time (the per-record detail:
    pipeline.price.detail.rated_usage_parts): each is written before the next is made, so the
    table never needs memory for all its rows. A period's frames go to files of their own."""

    frames: Iterable[pl.DataFrame]


def write_run(tables: dict[str, duckdb.DuckDBPyRelation | pl.DataFrame | Parts], warehouse: Path, run_id: str) -> dict[str, int]:
    """Store a run's tables, replacing whatever an earlier execution of the same run stored.

    Args:
        tables: DuckDB relation, Polars frame or Parts (of a period table) per stored table name
            (schemas.outputs.TABLES or `usage`); period tables must have a `period` column.
    Returns: rows written per table.
    """
    warehouse = Path(warehouse)
    staging = warehouse / ".staging" / run_id
    shutil.rmtree(staging, ignore_errors=True)

    def written(names: Iterable[str]) -> dict[str, int]:
        return {name: _write_table(name, tables[name], staging / name, run_id) for name in names}

    # the largest frame (the invoice lines) is written in a thread while the other tables are written
    # here (Polars and DuckDB release the GIL; only this thread uses a relation's connection): the
    # bench's lines take 0.23 s, its outcomes 0.06-0.16 s, one after the other 0.30-0.39 s
    frames = {name: table.height for name, table in tables.items() if isinstance(table, pl.DataFrame)}
    largest = [max(frames, key=frames.__getitem__)] if frames else []
    with ThreadPoolExecutor(1) as pool:
        in_thread = pool.submit(written, largest)
        counts = written(name for name in tables if name not in largest)
        counts.update(in_thread.result())
    rows = {name: counts[name] for name in tables}
    manifest = {name: sorted(str(f.relative_to(staging / name)) for f in (staging / name).rglob("*.parquet")) for name in tables}
    _write_manifest(staging, manifest)  # from here on the run is stored: recover() finishes the swap
    _finish(staging, warehouse, run_id)
    return rows


def _write_table(name: str, table: duckdb.DuckDBPyRelation | pl.DataFrame | Parts, target: Path, run_id: str) -> int:
    """Write one table of a run into its staging folder `target`; the rows written."""
    target.mkdir(parents=True, exist_ok=True)
    if isinstance(table, Parts):
        _write_parts(table.frames, target, run_id)
    elif isinstance(table, pl.DataFrame):
        _write_frame(table, target, run_id, partitioned=name in PERIOD_TABLES)
    elif name in PERIOD_TABLES:
        _write_relation(table, target, run_id)
    else:
        table.write_parquet(str(target / f"run-{run_id}.parquet"), compression="zstd")
    return _count_rows(target)


@contextmanager
def locked(warehouse: Path) -> Iterator[None]:
    """Hold the warehouse's rating lock: one rating run at a time reads what is stored and stores."""
    with exclusive(Path(warehouse) / ".rating.lock"):
        yield


def recover(warehouse: Path) -> list[str]:
    """Finish the swap of every run that stopped after staging all its files (its manifest is
    written) and drop the staging of every run that stopped before; returns the runs finished.
    Call it holding `locked(warehouse)`: a run staging at that moment would lose its files."""
    root = Path(warehouse) / ".staging"
    finished = []
    for staging in sorted(root.iterdir()) if root.exists() else []:
        if (staging / MANIFEST).exists():
            _finish(staging, Path(warehouse), staging.name)
            finished.append(staging.name)
        else:
            shutil.rmtree(staging, ignore_errors=True)
    if root.exists() and not any(root.iterdir()):
        root.rmdir()
    return finished


#: The staging folder's list of a run's files per table; written last, it commits the run.
MANIFEST = "manifest.json"


def stopped_while_storing(warehouse: Path) -> bool:
    """Whether a run is committed but not wholly swapped in (a staging folder with its manifest):
    its tables are half old, half new until `recover` finishes it, or while a run swaps them in."""
    return any((Path(warehouse) / ".staging").glob(f"*/{MANIFEST}"))


def finish_stopped(warehouse: Path) -> list[str]:
    """Before stored tables are read outside a rating run (re-rating's check, a billing run, cost
    control): finish the runs that stopped while swapping in their files, under the rating lock
    (taken only when there is one), so nothing reads them half old, half new; returns them."""
    if not stopped_while_storing(warehouse):
        return []
    with locked(warehouse):
        return recover(warehouse)


def _write_manifest(staging: Path, manifest: dict[str, list[str]]) -> None:
    temp = staging / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest))
    temp.replace(staging / MANIFEST)


def _finish(staging: Path, warehouse: Path, run_id: str) -> None:
    """Swap a committed staging folder in, table by table; safe to repeat after it stopped
    anywhere: staged files replace their namesakes, and the run's other files of each table (an
    earlier execution's) go."""
    manifest = json.loads((staging / MANIFEST).read_text())
    for name, files in manifest.items():
        _swap_in(staging / name, warehouse / name, run_id, keep=set(files))
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.parent.rmdir()  # only when no other run is staging
    except OSError:
        pass


def _write_frame(frame: pl.DataFrame, target: Path, run_id: str, partitioned: bool) -> None:
    """A Polars frame as the same files DuckDB's writer makes: hive folders `period=…` without the
    period column inside, one file per period named after the run (_write_parts)."""
    if not partitioned:
        frame.write_parquet(target / f"run-{run_id}.parquet", compression="zstd", compression_level=ZSTD_LEVEL)
        return
    _write_parts([frame], target, run_id)


def _write_parts(frames: Iterable[pl.DataFrame], target: Path, run_id: str) -> None:
    """Frames of a period table, one after the other, as hive folders `period=…` without the
    period column inside: each frame's rows of a period in a file of their own, run-<id>_<k>.parquet,
    k counting the period's files from 0."""
    files: dict[str, int] = {}
    for frame in frames:
        _write_periods(frame, target, run_id, files)
        del frame  # let go of before the next frame is made: the loop would hold it meanwhile


def _write_periods(frame: pl.DataFrame, target: Path, run_id: str, files: dict[str, int]) -> None:
    """_write_parts of one frame; `files` counts each period's files so far. A frame grouped by
    period (the detail is) is written in slices, without copying it."""
    runs = frame.select(pl.col("period").rle()).unnest("period")
    if runs.get_column("value").is_unique().all():  # grouped by period already: slices, no copy
        offsets = runs.get_column("len").cum_sum() - runs.get_column("len")
        parts = {p: frame.slice(o, n).drop("period") for p, o, n in zip(runs["value"], offsets, runs["len"])}
    else:
        parts = {p: part for (p,), part in frame.partition_by("period", as_dict=True, include_key=False).items()}
    for period, part in parts.items():
        folder = target / f"period={period}"
        folder.mkdir(parents=True, exist_ok=True)
        k = files[period] = files.get(period, -1) + 1
        part.write_parquet(folder / f"run-{run_id}_{k}.parquet", compression="zstd", compression_level=ZSTD_LEVEL)


def _write_relation(relation: duckdb.DuckDBPyRelation, target: Path, run_id: str) -> None:
    """A DuckDB relation as _write_frame's files: one per period, each written by a query of its
    own (DuckDB's partitioned writer took 1.8 s for 1.5 M invoice lines in 3 periods, this 1.3 s).
    A NULL period or one that is not plain text for a folder name goes to that writer, which
    names such folders its own way (hive escaping, __HIVE_DEFAULT_PARTITION__)."""
    periods = [period for (period,) in relation.select("period").distinct().fetchall()]
    if not all(isinstance(period, str) and PLAIN.fullmatch(period) for period in periods):
        relation.write_parquet(str(target), partition_by=["period"], filename_pattern=f"run-{run_id}_{{i}}", compression="zstd")
        return
    for period in periods:
        folder = target / f"period={period}"
        folder.mkdir(parents=True, exist_ok=True)
        rows = relation.filter(duckdb.ColumnExpression("period") == duckdb.ConstantExpression(period))
        rows.select(duckdb.StarExpression(exclude=["period"])).write_parquet(str(folder / f"run-{run_id}_0.parquet"), compression="zstd")


def _swap_in(staged: Path, final: Path, run_id: str, keep: set[str]) -> None:
    """Move the staged files of a table in, then remove the run's files there that are not `keep`."""
    for new in staged.rglob("*.parquet") if staged.exists() else []:
        dest = final / new.relative_to(staged)
        dest.parent.mkdir(parents=True, exist_ok=True)
        new.replace(dest)
    for old in final.rglob(f"run-{run_id}*.parquet") if final.exists() else []:
        ours = old.name == f"run-{run_id}.parquet" or old.name.startswith(f"run-{run_id}_")  # not run r10's for r1
        if ours and str(old.relative_to(final)) not in keep:
            old.unlink()


def _count_rows(folder: Path) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.rglob("*.parquet"))


@reads_warehouse
def seen_record_keys(warehouse: Path, except_run: str, keys: pl.Series | None = None) -> pl.DataFrame:
    """(record_key, run_id) of every usage record accepted by runs other than `except_run`.

    Args:
        keys: only records of these keys (a batch's: all duplicate detection asks about). The
            stored keys are filtered as they are read, so memory follows the batch's repeats, not
            the warehouse's history (a run of 1 000 records over 24 M stored ones peaked at 5.5 GB
            with every stored key read, at 0.6 GB with these).
    """
    scans = _table_scans(warehouse, USAGE_TABLES, "record_key", "run_id")
    if not scans:
        return pl.DataFrame(schema={"record_key": pl.String, "run_id": pl.String})
    wanted = pl.col("run_id") != except_run
    if keys is not None:
        wanted = wanted & pl.col("record_key").is_in(keys.drop_nulls().unique().implode())
    return pl.concat(scans).filter(wanted).collect()


def _table_scans(warehouse: Path, tables: tuple[str, ...], *columns: str) -> list[pl.LazyFrame]:
    """`columns` of each of `tables` that has stored files, one scan per table (_scan)."""
    scans = [_scan(stored_paths(Path(warehouse) / name), *columns) for name in tables]
    return [scan for scan in scans if scan is not None]


def _scan(files: list[Path], *columns: str, table: str | None = None) -> pl.LazyFrame | None:
    """`columns` of the files of one table, in their order, as one scan (None: no file). One scan of
    the list, not one per file concatenated: a warehouse holds some ten files per stored run, and
    Polars' union of thousands of scans slows down beyond a few thousand (seen_record_keys over 6 000
    files: 4.6 s against 0.64 s). Columns a file holds besides the first one's (a later release's)
    are left out, as a select of each file would.

    Args:
        table: the stored table the files are of: a column an older release's file lacks is read as what
            it meant (OLDER_FILES), null where that file cannot tell (the caller checks).
    """
    if not files:
        return None
    if table is None:
        return pl.scan_parquet(files, hive_partitioning=False, extra_columns="ignore").select(columns)
    stored = pl.from_arrow(SCHEMAS[table].empty_table()).schema
    schema = pl.Schema({c: stored[c] for c in columns})
    older = OLDER_FILES.get(table, {})
    scan = pl.scan_parquet(files, schema=schema, hive_partitioning=False, extra_columns="ignore", missing_columns="insert")
    filled = (pl.col(c).fill_null(pl.lit(older[c], schema[c])) for c in columns if older.get(c) is not None)
    return scan.select(columns).with_columns(filled)


def _run_files(folder: Path, run_id: str) -> list[Path]:
    """Run `run_id`'s Parquet files of a table folder (not run r10's for r1), sorted."""
    return [f for f in stored_paths(folder, f"**/run-{run_id}*.parquet") if _of_run(f, run_id)]


def _of_run(path: Path, run_id: str) -> bool:
    """Whether `path` is one of run `run_id`'s files (`run-<id>.parquet`, `run-<id>_<n>.parquet`), not run r10's for r1."""
    return path.name == f"run-{run_id}.parquet" or path.name.startswith(f"run-{run_id}_")


def stored_run(warehouse: Path, run_id: str, in_parts: tuple[str, ...] = ()) -> dict[str, pa.Table | Iterator[pa.Table]]:
    """Run `run_id`'s rows of every table of schemas/outputs.py as stored, `period` of the period
    tables from their folders: what the run wrote, to mirror it again (pipeline.io.postgres).

    Args:
        in_parts: tables given as an iterator of their files' rows, each file read when the one
            before has been taken (at least one part, an empty one when the run has no rows there):
            the per-record detail is never held whole.
    """
    parts = {name: _stored_parts(Path(warehouse), name, run_id) for name in SCHEMAS}
    return {name: tables if name in in_parts else pa.concat_tables(list(tables)) for name, tables in parts.items()}


def _stored_parts(warehouse: Path, name: str, run_id: str) -> Iterator[pa.Table]:
    """stored_run's rows of table `name`, a file at a time (one empty part when there are none)."""
    schema = SCHEMAS[name]
    files = _run_files(warehouse / name, run_id)
    for f in files:
        with reading(warehouse):  # read when the part is taken, maybe after stored_run returned
            part = pq.read_table(f)
        if name in PERIOD_TABLES:
            period = f.parent.name.removeprefix("period=")
            part = part.append_column("period", pa.repeat(pa.scalar(period, pa.string()), part.num_rows))
        yield conformed(part, name, f)
    if not files:
        yield schema.empty_table()


#: Tables that hold a run's canonical records: the accepted ones and the duplicates.
INPUT_TABLES = (*USAGE_TABLES, "duplicates")


@dataclass
class StoredInput:
    """What a stored run read, as the warehouse keeps it: what re-rating rates again (flows/rerate.py)."""

    #: every canonical record the run read, accepted or duplicate, in the order it read them
    #: (inbox files by name, then line); rejected records are not among them
    usage: pl.DataFrame
    #: the cells of its rejected lines (REJECT_SCHEMA): a rejected record is stored only as these
    rejects: pl.DataFrame
    #: seconds and bytes of its rejected records, from its ledger (their durations are not stored)
    rejected_sums: tuple[int, int]
    #: its quarantined files, as pipeline.io.quarantine.quarantine_table takes them
    quarantined: list[dict]
    started_at: datetime
    input_files: int
    input_records: int
    net_amount: Decimal
    #: records per outcome, from its ledger
    outcomes: dict[str, int]
    #: (records, seconds, bytes) of its whole input, from its ledger: what its re-rating must add up to
    input_sums: tuple[int, int, int]


@reads_warehouse
def stored_input(warehouse: Path, run_id: str) -> StoredInput:
    """Run `run_id`'s input read back from its stored tables (raises FileNotFoundError for a run not stored)."""
    root = Path(warehouse)
    run_row = pl.read_parquet(root / "runs" / f"run-{run_id}.parquet").row(0, named=True)
    files = [f for name in INPUT_TABLES for f in _run_files(root / name, run_id)]
    columns = list(USAGE_POLARS.names())
    if files:
        scans = [pl.scan_parquet(f, hive_partitioning=False).select(columns) for f in files]
        usage = pl.concat(scans).collect().cast(USAGE_POLARS).sort("source_file", "source_line", maintain_order=True)
    else:
        usage = pl.DataFrame(schema=USAGE_POLARS)
    rejects = [pl.read_parquet(f).drop("run_id").cast(REJECT_SCHEMA) for f in _run_files(root / "rejects", run_id)]
    ledger = pl.read_parquet(root / "ledger" / f"run-{run_id}.parquet")
    rejected = ledger.filter(pl.col("outcome") == "rejected").select("duration_s", "volume_bytes")
    quarantined = [pl.read_parquet(f).drop("run_id").to_dicts() for f in _run_files(root / "quarantine", run_id)]
    return StoredInput(
        usage=usage,
        rejects=pl.concat(rejects) if rejects else pl.DataFrame(schema=REJECT_SCHEMA),
        rejected_sums=tuple(int(v) for v in rejected.row(0)) if rejected.height else (0, 0),
        quarantined=[row for rows in quarantined for row in rows],
        started_at=run_row["started_at"],
        input_files=run_row["input_files"],
        input_records=run_row["input_records"],
        net_amount=run_row["net_amount"],
        outcomes=dict(zip(ledger.get_column("outcome"), ledger.get_column("records"))),
        input_sums=totals(ledger),
    )


@reads_warehouse
def rated_amounts(warehouse: Path, run_id: str) -> pl.DataFrame:
    """(record_key, contract_id, amount, free_quantity) of run `run_id`'s rated records as stored."""
    files = _run_files(Path(warehouse) / "rated_usage", run_id)
    if not files:
        return pl.DataFrame(schema={"record_key": pl.String, "contract_id": pl.String, "amount": pl.Decimal(18, 6), "free_quantity": pl.Int64})
    return _scan(files, "record_key", "contract_id", "amount", "free_quantity", table="rated_usage").collect()


@reads_warehouse
def stored_records(warehouse: Path, run_id: str) -> int:
    """How many input records run `run_id`'s stored tables hold: its canonical records and its
    rejected lines (from the Parquet footers and the rejects' distinct lines, without reading the records)."""
    root = Path(warehouse)
    records = sum(pq.ParquetFile(f).metadata.num_rows for name in INPUT_TABLES for f in _run_files(root / name, run_id))
    rejects = _run_files(root / "rejects", run_id)
    if rejects:
        records += pl.scan_parquet(rejects).select(pl.struct("source_file", "source_line").n_unique()).collect().item()
    return records


@reads_warehouse
def run_starts(warehouse: Path) -> pl.DataFrame:
    """(run_id, started_at, finished_at, input_records) of every stored run, in the order the runs
    first started; finished_at is the last execution's (a re-run changes it)."""
    runs = stored_paths(Path(warehouse) / "runs", "run-*.parquet")
    if not runs:
        utc = pl.Datetime("us", "UTC")
        return pl.DataFrame(schema={"run_id": pl.String, "started_at": utc, "finished_at": utc, "input_records": pl.Int64})
    return pl.read_parquet(runs).select("run_id", "started_at", "finished_at", "input_records").sort("started_at", "run_id")


@reads_warehouse
def run_periods(warehouse: Path) -> pl.DataFrame:
    """(run_id, period): the UTC months (YYYY-MM) each stored run holds canonical records of."""
    scans = _table_scans(warehouse, INPUT_TABLES, "run_id", "start_time")
    if not scans:
        return pl.DataFrame(schema={"run_id": pl.String, "period": pl.String})
    return (
        pl.concat(scans)
        .select("run_id", pl.col("start_time").dt.convert_time_zone("UTC").dt.strftime("%Y-%m").alias("period"))
        .unique()
        .sort("run_id", "period")
        .collect()
    )


@reads_warehouse
def first_started(warehouse: Path, run_id: str):
    """When run `run_id` first ran (its stored `runs` row; a re-run keeps it), or None if it never stored."""
    path = Path(warehouse) / "runs" / f"run-{run_id}.parquet"
    listable(path.parent)
    return pl.read_parquet(path).get_column("started_at").min() if path.exists() else None


@reads_warehouse
def carried_usage(warehouse: Path, run_id: str, periods: list[str]) -> pl.DataFrame:
    """Units the runs before `run_id` rated in `periods`, per contract, tariff, article and period
    (from their usage invoice lines): what the run's free quantities and tiers go on from
    (pipeline.price.carry_in). "Before" is by first start: a re-run of a run carries what it carried
    the first time, never the units of runs that came after it (they carried its units already)."""
    folders = {p: Path(warehouse) / "invoice_lines" / f"period={p}" for p in sorted(set(periods))}
    # the run's own lines are never carried: not read (a re-rating makes them anew, even when they cannot be read)
    wanted = {p: files for p, folder in folders.items() if (files := [f for f in stored_paths(folder, "*.parquet") if not _of_run(f, run_id)])}
    if not wanted:
        return carry_in(pl.DataFrame(schema=CARRY_SCHEMA))
    mine = first_started(warehouse, run_id)
    before = pl.col("run_id") != run_id
    if mine is not None:
        before = before & (pl.col("started_at") < mine)
    runs = stored_paths(Path(warehouse) / "runs", "*.parquet")
    earlier = pl.scan_parquet(runs).select("run_id", "started_at").filter(before) if runs else pl.LazyFrame(schema={"run_id": pl.String})
    lines = pl.concat(
        [_scan(files, "run_id", "contract_id", "tariff_id", "article_id", "quantity", table="invoice_lines")
         .with_columns(pl.lit(p).alias("period")) for p, files in wanted.items()]
    )
    carried = lines.join(earlier, on="run_id", how="semi").collect()
    untold = carried.filter(pl.col("tariff_id").is_null())  # an older release's lines (a stored line has its tariff)
    if untold.height:
        first = untold.row(0, named=True)
        raise older_file(_run_files(folders[first["period"]], first["run_id"])[0], ["tariff_id"])
    return carry_in(carried)


def views_with_files(warehouse: Path) -> dict[str, bool]:
    """Per view of add_views, whether its table has files to read: without, it reads an empty
    schema file (pipeline.io.views.with_files)."""
    warehouse = Path(warehouse).resolve()
    return {name: bool(stored_paths(warehouse / name)) for name in SCHEMAS}


def add_views(con: duckdb.DuckDBPyConnection, warehouse: Path) -> dict[str, bool]:
    """One view per stored table of a rating run, over all runs, on `con` (the analyst database
    pipeline.io.views.publish builds); returns per view whether it reads files (views_with_files)."""
    warehouse = Path(warehouse).resolve()
    schema_dir = warehouse / SCHEMA_DIR
    schema_dir.mkdir(parents=True, exist_ok=True)
    with_files = views_with_files(warehouse)
    for name, schema in SCHEMAS.items():
        empty = schema_dir / f"{name}.parquet"
        pq.write_table(schema.empty_table(), empty)
        source = str(warehouse / name / "**" / "*.parquet") if with_files[name] else str(empty)
        partitioned = with_files[name] and name in PERIOD_TABLES
        older = empty if with_files[name] and name in OLDER_FILES else None
        con.execute(parquet_view_sql(name, source, partitioned, older_files=older))
    for statement in sql.statements("views/analyst"):
        con.execute(statement)
    return with_files


def parquet_view_sql(name: str, source: str, partitioned: bool, older_files: Path | None = None) -> str:
    """DDL of one analyst view over Parquet files. DuckDB cannot bind parameters in a view, so the
    path is quoted as a literal; view names are fixed names of stored tables (schemas/outputs.py,
    schemas/billing.py, the quarantine and the file ledger), never user input.

    Args:
        older_files: the empty schema file of table `name` (one of OLDER_FILES): the columns an older
            release's files lack are there whatever the files, holding what that release meant (NULL
            where it cannot tell).
    """
    select = f"SELECT * FROM read_parquet({_quoted(source)}{', hive_partitioning = true, union_by_name = true' if partitioned else ''})"
    if older_files is not None:
        filled = ", ".join(f'coalesce("{c}", {_quoted(v) if isinstance(v, str) else v}) AS "{c}"'
                           for c, v in OLDER_FILES[name].items() if v is not None)  # fmt: skip
        select = f"SELECT * REPLACE ({filled}) FROM ({select} UNION ALL BY NAME SELECT * FROM read_parquet({_quoted(str(older_files))}))"
    return f'CREATE OR REPLACE VIEW "{name}" AS {select}'


def _quoted(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def write_parquet_atomically(frame: pl.DataFrame, target: Path) -> None:
    """Replace `target` by `frame` as Parquet: readers see the old or the new file, never half. It
    gets the umask's permissions, as every other warehouse file (mkstemp's own are 0600: analysts
    running as another user could not read the views over it)."""
    umask = os.umask(0)
    os.umask(umask)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.fchmod(handle, 0o666 & ~umask)
    try:
        frame.write_parquet(temp)
        os.fsync(handle)  # on disk before the rename: a power cut leaves the old file or the new one, not a cut one
        os.close(handle)
        handle = None
        os.replace(temp, target)
    finally:
        if handle is not None:
            os.close(handle)
        if os.path.exists(temp):
            os.unlink(temp)
