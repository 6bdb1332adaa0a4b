"""The file ledger: every usage file is processed once, known by the SHA-256 of its content.

Stored in the warehouse as `<warehouse>/file_ledger.parquet`, one row per file dealt with
(content_hash, file_name, size_bytes, run_id, recorded_at, status, reason), replaced
atomically (write a temporary file beside it, then rename) under an exclusive lock, so a
crash or a second writer never leaves half a ledger. A flow uses it like this:

    ledger = FileLedger(warehouse)
    new, already_processed, renamed = ledger.classify(paths)   # before reading
    ...                                                          # read and rate `new` only
    rows = entries(run_id, new, quarantined={hash: reason})      # the run's ledger rows, before it stores
    ...                                                          # stored with its tables (COMMITTED, warehouse.write_run)
    ledger.add(rows)                                             # after the run's tables are stored (record: both at once)
    drop_committed(warehouse, run_id)                            # its committed rows are in the ledger now

* A run's ledger rows travel in its own commit (`<warehouse>/_file_ledger_pending/run-<run_id>.parquet`,
  staged with its other tables): a run killed after its commit and before `record` leaves them
  there, and the next rating run folds them into the ledger (`fold_committed`) before it decides
  which files are new, so it never reads that run's files again. Only runs not yet folded have
  such a file: the normal path removes it at once, and the ledger stays one file to read.
* Handing in a file whose content was processed before (under any name) is a no-op;
  `already_processed` says when, in which run and under which name.
* A file no reader could read is recorded as `quarantined` (with the reason): handing
  the same bytes in again is a no-op too, since it would fail the same way. After a fix
  of the configuration (a source pattern, a layout), `classify(paths, reprocess=True)`
  hands known files back as new; a file that is then read replaces its quarantine entry.
* A file with a known name but other content is new (`new`), with a warning in `renamed`:
  switches reuse names (Master.csv), and a corrected re-delivery is a different file.
* Two identical files in one hand-in: the first is new, the second already processed.

Records that appear again inside other files are a separate matter: the job counts them
as duplicates by record key (pipeline.ingest, pipeline.io.warehouse.seen_record_keys).

Analysts see the ledger as the `file_ledger` view and every skipped hand-in as the
`skipped_files` view (`add_views`, made by pipeline.io.views.publish).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl

from pipeline.io.inbox import content_hash
from pipeline.io.locks import exclusive
from pipeline.io.warehouse import SCHEMA_DIR, parquet_view_sql, permission_denied, stored_paths, write_parquet_atomically


class FileLedgerError(RuntimeError):
    """The ledger file cannot be read; the message says what to do."""


LEDGER_FILE = "file_ledger.parquet"
#: Where a run's ledger rows arrive with its commit (a table of warehouse.write_run's, one file per run),
#: until they are in LEDGER_FILE: by `record` and `drop_committed`, or by the next run's `fold_committed`.
COMMITTED = "_file_ledger_pending"
PROCESSED, QUARANTINED = "processed", "quarantined"
SCHEMA = {
    "content_hash": pl.String,
    "file_name": pl.String,
    "size_bytes": pl.Int64,
    "run_id": pl.String,
    "recorded_at": pl.Datetime("us", "UTC"),
    #: processed (read; its records are in the run's tables) or quarantined (no reader could read it)
    "status": pl.String,
    #: why it was quarantined; null for processed files
    "reason": pl.String,
}
#: Skipped files of each check of a hand-in: `<warehouse>/skipped_files/handin-<handin_id>.parquet` for a
#: check that rated nothing, `handin-<handin_id>-run-<run_id>.parquet` for one that rated run `run_id`.
SKIPPED_TABLE = "skipped_files"
SKIPPED_SCHEMA = {
    "handin_id": pl.String,
    "checked_at": pl.Datetime("us", "UTC"),
    #: the run that processed the rest of the hand-in; null when the whole hand-in was known
    "run_id": pl.String,
    "source_file": pl.String,
    "content_hash": pl.String,
    "size_bytes": pl.Int64,
    "reason": pl.String,
}


class LedgerFile(NamedTuple):
    """A file handed in: where it is, what it holds (SHA-256 hex) and how big it is."""

    path: Path
    content_hash: str
    size_bytes: int


@dataclass(frozen=True)
class Classified:
    """What to do with each file of a hand-in; unpacks as (new, already_processed, renamed_warnings)."""

    new: list[LedgerFile]
    already_processed: list[tuple[Path, str]]
    renamed_warnings: list[tuple[Path, str]]

    def __iter__(self):
        return iter((self.new, self.already_processed, self.renamed_warnings))


class FileLedger:
    """The processed files of a warehouse."""

    def __init__(self, warehouse: Path | str):
        self.warehouse = Path(warehouse)
        self.path = self.warehouse / LEDGER_FILE

    def entries(self) -> pl.DataFrame:
        """Every file dealt with (SCHEMA), oldest first."""
        if not self.path.exists():
            return pl.DataFrame(schema=SCHEMA)
        try:
            stored = pl.read_parquet(self.path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            todo = permission_denied(self.path, exc) or (
                "restore it from a backup, or move it away to start a new ledger (every file in the inbox is then read again, "
                "its records already stored counted as duplicates)")  # fmt: skip
            raise FileLedgerError(f"the file ledger {self.path} cannot be read ({type(exc).__name__}: {str(exc)[:200]}): {todo}") from None
        # ledgers written before files had a status held processed files only
        missing = {"status": pl.lit(PROCESSED), "reason": pl.lit(None, pl.String)}
        stored = stored.with_columns(value.alias(name) for name, value in missing.items() if name not in stored.columns)
        return stored.select(list(SCHEMA)).cast(SCHEMA)

    def classify(
        self, paths: Iterable[Path | str | LedgerFile], reprocess: bool = False, readable_name: Callable[[str], bool] | None = None
    ) -> Classified:
        """Sort a hand-in into files to process, files already processed (with why) and reused names (with a warning).

        Args:
            paths: the files, or LedgerFile for files already hashed (`describe`).
            reprocess: hand back files the ledger knows as new too (each with a warning saying
                so), for a fixed configuration or a corrected catalog; identical files within
                the hand-in are still processed once.
            readable_name: whether a source reads files of a name (sources.toml's patterns). A
                file quarantined for its name alone (no source read that name) is new again
                under a name a source reads: its content never failed.
        """
        files = [p if isinstance(p, LedgerFile) else describe(p) for p in paths]  # a loop over files, not records
        known = self.entries()
        relevant = known.filter(
            pl.col("content_hash").is_in([f.content_hash for f in files]) | pl.col("file_name").is_in([f.path.name for f in files])
        )
        # processed files, not records: a handful per hand-in; the latest entry of a name wins
        by_hash = {row["content_hash"]: row for row in relevant.iter_rows(named=True)}
        names = {row["file_name"]: row for row in relevant.iter_rows(named=True)}
        new: list[LedgerFile] = []
        already: list[tuple[Path, str]] = []
        renamed: list[tuple[Path, str]] = []
        first_in_batch: dict[str, LedgerFile] = {}
        for file in files:
            earlier = by_hash.get(file.content_hash)
            renamed_right = (
                earlier is not None and readable_name is not None and earlier["status"] == QUARANTINED
                and not readable_name(earlier["file_name"]) and readable_name(file.path.name)
            )  # fmt: skip
            if renamed_right:
                renamed.append((file.path, f"quarantined before as {earlier['file_name']}, a name no source reads: read now under this name"))
                earlier = None
            if earlier is not None and not reprocess:
                already.append((file.path, _processed_reason(file, earlier)))
                continue
            twin = first_in_batch.get(file.content_hash)
            if twin is not None:
                already.append((file.path, f"same content (sha256 {file.content_hash[:12]}…) as {twin.path.name} in this hand-in: processed once, as {twin.path.name}"))
                continue
            first_in_batch[file.content_hash] = file
            new.append(file)
            same_name = names.get(file.path.name)
            if earlier is not None:
                renamed.append(
                    (
                        file.path,
                        f"reprocessed on request: the same content (sha256 {file.content_hash[:12]}…) was {earlier['status']} "
                        f"in run {earlier['run_id']} on {earlier['recorded_at']:%Y-%m-%d %H:%M:%S} UTC",
                    )
                )
            elif same_name is not None:
                renamed.append(
                    (
                        file.path,
                        f"a different file named {file.path.name} was processed in run {same_name['run_id']} "
                        f"on {same_name['recorded_at']:%Y-%m-%d %H:%M:%S} UTC (sha256 {same_name['content_hash'][:12]}…); "
                        f"this one has other content (sha256 {file.content_hash[:12]}…) and is processed too",
                    )
                )
        return Classified(new, already, renamed)

    def record(
        self, run_id: str, files_with_hashes: Sequence[LedgerFile | tuple], quarantined: Mapping[str, str] | None = None
    ) -> int:
        """Record files as dealt with by `run_id`; returns how many entries were added or replaced.

        Args:
            files_with_hashes: LedgerFile (as `classify` returns them) or (path, content_hash[, size_bytes]).
            quarantined: content hash → reason, for the files of the run no reader could read.
        Recording a content hash again keeps its first entry (recording is idempotent), except
        that a quarantine entry gives way to a later one: a file read after a fix is processed,
        and one quarantined again for another reason keeps the latest reason.
        """
        return self.add(entries(run_id, files_with_hashes, quarantined))

    def add(self, rows: pl.DataFrame) -> int:
        """Add ledger rows (SCHEMA) by `record`'s rule; returns how many entries were added or replaced."""
        with _locked(self.warehouse):
            known = self.entries()
            added = rows.select(list(SCHEMA)).cast(SCHEMA).unique("content_hash", keep="first", maintain_order=True)
            final = known.filter(pl.col("status") == PROCESSED).select("content_hash")
            # the same status for the same reason (a quarantine's reason is never null; a processed entry is final)
            unchanged = known.join(added.select("content_hash", "status", "reason"), on=["content_hash", "status", "reason"], how="semi")
            added = added.join(pl.concat([final, unchanged.select("content_hash")]), on="content_hash", how="anti")
            if added.height:
                kept = known.join(added.select("content_hash"), on="content_hash", how="anti")
                write_parquet_atomically(pl.concat([kept, added]), self.path)
        return added.height


def entries(
    run_id: str, files_with_hashes: Sequence[LedgerFile | tuple], quarantined: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """The ledger rows (SCHEMA) `FileLedger.record` adds for a run's files (its arguments)."""
    now = datetime.now(timezone.utc)
    rows = [_entry(run_id, f, now, quarantined or {}) for f in files_with_hashes]  # files, not records
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def fold_committed(warehouse: Path | str) -> list[str]:
    """Record in the ledger the rows committed runs carried (COMMITTED) and that are not there yet (a
    run killed between its commit and `record`), then remove them; returns those runs, oldest first.

    Call it holding the rating lock (pipeline.io.warehouse.locked), after `warehouse.recover` (a run
    that stopped while swapping in gets its rows there by it) and before `classify`. Repeating it after
    a kill is harmless: recording a file again keeps its first entry.
    """
    folder = Path(warehouse) / COMMITTED
    pending = stored_paths(folder, "run-*.parquet")  # usually none: one per killed run
    if not pending:
        return []
    ledger = FileLedger(warehouse)
    committed = sorted(((_committed_rows(path), path) for path in pending), key=lambda found: (found[0].height > 0, found[0].get_column("recorded_at").min()))
    for rows, path in committed:  # runs, in the order they recorded: a later quarantine entry replaces an earlier one
        ledger.add(rows)
        path.unlink()
    return [path.stem.removeprefix("run-") for _, path in committed]


def _committed_rows(path: Path) -> pl.DataFrame:
    """The ledger rows a run committed in `path`; FileLedgerError, saying what to do, when they cannot be read."""
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        todo = permission_denied(path, exc) or (
            "restore the file from a backup, or move it away (that run's files are then read again by the next run: their "
            "records already stored counted as duplicates, their bad lines rejected again)")  # fmt: skip
        raise FileLedgerError(
            f"the file-ledger rows committed with run {path.stem.removeprefix('run-')}, {path}, cannot be read "
            f"({type(exc).__name__}: {str(exc)[:200]}): {todo}"
        ) from None


def drop_committed(warehouse: Path | str, run_id: str) -> None:
    """Remove run `run_id`'s committed ledger rows once `record` put them in the ledger."""
    (Path(warehouse) / COMMITTED / f"run-{run_id}.parquet").unlink(missing_ok=True)


def describe(path: Path | str) -> LedgerFile:
    """A file with its content hash and size, hashed once for the ledger and the run id."""
    path = Path(path)
    return LedgerFile(path, content_hash(path), path.stat().st_size)


def _processed_reason(file: LedgerFile, earlier: dict) -> str:
    under = "" if earlier["file_name"] == file.path.name else f" as {earlier['file_name']}"
    when = f"in run {earlier['run_id']} on {earlier['recorded_at']:%Y-%m-%d %H:%M:%S} UTC"
    if earlier["status"] == QUARANTINED:
        return (
            f"already quarantined: the same content (sha256 {file.content_hash[:12]}…) could not be read{under} {when} "
            f"({earlier['reason']}); hand in a corrected file, or fix the source configuration and run with --reprocess"
        )
    return f"already processed: the same content (sha256 {file.content_hash[:12]}…) was processed{under} {when}; nothing to do"


def _entry(run_id: str, file: LedgerFile | tuple, now: datetime, quarantined: Mapping[str, str]) -> tuple:
    path, digest, *size = file
    path = Path(path)
    size_bytes = size[0] if size else (path.stat().st_size if path.exists() else None)
    status = QUARANTINED if digest in quarantined else PROCESSED
    return (digest, path.name, size_bytes, run_id, now, status, quarantined.get(digest))


def skipped_table(handin_id: str, run_id: str | None, skipped: Sequence[tuple[LedgerFile, str]]) -> pl.DataFrame:
    """The skipped files of one hand-in (SKIPPED_SCHEMA): each file with why it was not read."""
    now = datetime.now(timezone.utc)
    rows = [(handin_id, now, run_id, f.path.name, f.content_hash, f.size_bytes, reason) for f, reason in skipped]
    return pl.DataFrame(rows, schema=SKIPPED_SCHEMA, orient="row")


def write_skipped(warehouse: Path | str, handin_id: str, skipped: pl.DataFrame, run_id: str | None = None) -> Path | None:
    """Store the skipped files of a check of a hand-in, replacing only the same check done again:
    the same hand-in rating the same run (a re-run, --reprocess of those files), or checked again
    with nothing to rate. A later no-op check of an inbox leaves the rows of the check that rated
    its run as they were."""
    name = f"handin-{handin_id}.parquet" if run_id is None else f"handin-{handin_id}-run-{run_id}.parquet"
    target = Path(warehouse) / SKIPPED_TABLE / name
    if skipped.height == 0:
        target.unlink(missing_ok=True)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomically(skipped, target)
    return target


def _view_sources(root: Path) -> dict[str, tuple[Path, dict]]:
    """The `file_ledger` and `skipped_files` views' files (a path or a pattern) and schemas."""
    return {
        LEDGER_FILE.removesuffix(".parquet"): (root / LEDGER_FILE, SCHEMA),
        SKIPPED_TABLE: (root / SKIPPED_TABLE / "*.parquet", SKIPPED_SCHEMA),
    }


def views_with_files(warehouse: Path | str) -> dict[str, bool]:
    """Per view of add_views, whether it has files to read: without, it reads an empty schema file
    (pipeline.io.views.with_files)."""
    return {name: bool(stored_paths(source.parent, source.name)) for name, (source, _) in _view_sources(Path(warehouse).resolve()).items()}


def add_views(con: duckdb.DuckDBPyConnection, warehouse: Path | str) -> dict[str, bool]:
    """The `file_ledger` and `skipped_files` views, on `con` (the analyst database pipeline.io.views.publish
    builds); returns per view whether it reads files (views_with_files)."""
    root = Path(warehouse).resolve()
    with_files = views_with_files(root)
    for name, (source, schema) in _view_sources(root).items():  # two fixed views
        if not with_files[name]:
            source = root / SCHEMA_DIR / f"{name}.parquet"
            source.parent.mkdir(parents=True, exist_ok=True)
            pl.DataFrame(schema=schema).write_parquet(source)
        con.execute(parquet_view_sql(name, str(source), partitioned=False))
    return with_files


@contextmanager
def _locked(warehouse: Path):
    """An exclusive lock on the warehouse's ledger for a read-modify-write."""
    with exclusive(warehouse / f".{LEDGER_FILE}.lock"):
        yield
