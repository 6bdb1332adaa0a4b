"""The file ledger: every usage file is processed once, known by the SHA-256 of its content.

Stored in the warehouse as `<warehouse>/file_ledger.parquet`, one row per processed file
(content_hash, file_name, size_bytes, run_id, recorded_at), replaced atomically (write a
temporary file beside it, then rename) under an exclusive lock, so a crash or a second
writer never leaves half a ledger. A flow uses it like this:

    ledger = FileLedger(warehouse)
    new, already_processed, renamed = ledger.classify(paths)   # before reading
    ...                                                          # read and rate `new` only
    ledger.record(run_id, new)                                  # after the run's tables are stored

* Handing in a file whose content was processed before (under any name) is a no-op;
  `already_processed` says when, in which run and under which name.
* A file with a known name but other content is new (`new`), with a warning in `renamed`:
  switches reuse names (Master.csv), and a corrected re-delivery is a different file.
* Two identical files in one hand-in: the first is new, the second already processed.

Records that appear again inside other files are a separate matter: the job counts them
as duplicates by record key (pipeline.ingest, pipeline.io.warehouse.seen_record_keys).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import polars as pl

from pipeline.io.inbox import content_hash

LEDGER_FILE = "file_ledger.parquet"
SCHEMA = {
    "content_hash": pl.String,
    "file_name": pl.String,
    "size_bytes": pl.Int64,
    "run_id": pl.String,
    "recorded_at": pl.Datetime("us", "UTC"),
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
        """Every processed file (SCHEMA), oldest first."""
        if not self.path.exists():
            return pl.DataFrame(schema=SCHEMA)
        return pl.read_parquet(self.path).cast(SCHEMA)

    def classify(self, paths: Iterable[Path | str]) -> Classified:
        """Sort a hand-in into files to process, files already processed (with why) and reused names (with a warning)."""
        files = [_described(Path(p)) for p in paths]  # a loop over files, not records
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
            if earlier is not None:
                already.append((file.path, _processed_reason(file, earlier)))
                continue
            twin = first_in_batch.get(file.content_hash)
            if twin is not None:
                already.append((file.path, f"same content (sha256 {file.content_hash[:12]}…) as {twin.path.name} in this hand-in: processed once, as {twin.path.name}"))
                continue
            first_in_batch[file.content_hash] = file
            new.append(file)
            same_name = names.get(file.path.name)
            if same_name is not None:
                renamed.append(
                    (
                        file.path,
                        f"a different file named {file.path.name} was processed in run {same_name['run_id']} "
                        f"on {same_name['recorded_at']:%Y-%m-%d %H:%M:%S} UTC (sha256 {same_name['content_hash'][:12]}…); "
                        f"this one has other content (sha256 {file.content_hash[:12]}…) and is processed too",
                    )
                )
        return Classified(new, already, renamed)

    def record(self, run_id: str, files_with_hashes: Sequence[LedgerFile | tuple]) -> int:
        """Record files as processed by `run_id`; returns how many were new to the ledger.

        Args:
            files_with_hashes: LedgerFile (as `classify` returns them) or (path, content_hash[, size_bytes]).
        Recording a content hash again keeps its first entry: recording is idempotent.
        """
        now = datetime.now(timezone.utc)
        rows = [_entry(run_id, f, now) for f in files_with_hashes]
        with _locked(self.warehouse):
            known = self.entries()
            added = pl.DataFrame(rows, schema=SCHEMA, orient="row").unique("content_hash", keep="first", maintain_order=True)
            added = added.join(known.select("content_hash"), on="content_hash", how="anti")
            if added.height:
                _write_atomically(pl.concat([known, added]), self.path)
        return added.height


def _described(path: Path) -> LedgerFile:
    return LedgerFile(path, content_hash(path), path.stat().st_size)


def _processed_reason(file: LedgerFile, earlier: dict) -> str:
    under = "" if earlier["file_name"] == file.path.name else f" as {earlier['file_name']}"
    return (
        f"already processed: the same content (sha256 {file.content_hash[:12]}…) was processed{under} in run "
        f"{earlier['run_id']} on {earlier['recorded_at']:%Y-%m-%d %H:%M:%S} UTC; nothing to do"
    )


def _entry(run_id: str, file: LedgerFile | tuple, now: datetime) -> tuple:
    path, digest, *size = file
    path = Path(path)
    size_bytes = size[0] if size else (path.stat().st_size if path.exists() else None)
    return (digest, path.name, size_bytes, run_id, now)


@contextmanager
def _locked(warehouse: Path):
    """An exclusive lock on the warehouse's ledger for a read-modify-write."""
    warehouse.mkdir(parents=True, exist_ok=True)
    with open(warehouse / f".{LEDGER_FILE}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(frame: pl.DataFrame, target: Path) -> None:
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        frame.write_parquet(temp)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
