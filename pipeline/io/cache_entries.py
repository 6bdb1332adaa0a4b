"""Entries of a cache kept between runs (the device index, the validated catalog): frames stored as
Parquet files in `<cache_dir>/<key>/`, where the key is a hash of everything the cached value is made from.

An entry is written to a temporary directory beside it and renamed into place, and every file's
size and checksum is in the entry's manifest, written last: a crashed or corrupted entry is
never trusted (stored_frames' reader gets None and makes the value again). The newest KEEP
entries stay (prune); older ones and temporary directories left by crashed runs are deleted.
Deleting a whole cache directory is always safe: the next run makes its entries again.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import uuid
import warnings
import zlib
from collections.abc import Collection, Mapping
from pathlib import Path

import polars as pl

from pipeline.threads import on_both_cores

#: Entries kept: a re-rating run with an older catalog should not evict the current one.
KEEP = 3
#: Where a warehouse keeps its caches, and the caches there (docs/warehouse.md).
WAREHOUSE_CACHES, CATALOG, DEVICE_INDEX = "_cache", "catalog", "device_index"
#: Temporary directories older than this (seconds) are left-overs of crashed runs.
STALE_TMP_S = 3600
MANIFEST = "manifest.json"


def stored_frames(entry: Path, parts: Collection[str] | None = None) -> tuple[dict[str, pl.DataFrame], dict] | None:
    """The entry's frames by part and its manifest, or None when it is missing, partial or does not match its manifest.

    Args:
        parts: the parts the entry must hold (default: the ones its manifest lists).
    """
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        files = {}
        for part in manifest["files"] if parts is None else parts:
            data = (entry / f"{part}.parquet").read_bytes()
            if [len(data), zlib.crc32(data)] != manifest["files"][part]:
                return None
            files[part] = data
        biggest_first = sorted(files, key=lambda part: -len(files[part]))
        # Polars releases the GIL; the big files first
        frames = dict(zip(biggest_first, on_both_cores(lambda part: pl.read_parquet(io.BytesIO(files[part])), biggest_first)))
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None  # json.JSONDecodeError is a ValueError
    return frames, manifest


def store_frames(entry: Path, frames: Mapping[str, pl.DataFrame], **notes: object) -> None:
    """Write the entry (a Parquet file per frame, then the manifest with `notes`) to a temporary
    directory beside it and rename it into place, replacing a bad one; raises OSError."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.parent / f".tmp-{entry.name}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        files = {}
        for part, frame in frames.items():  # a few tables
            buffer = io.BytesIO()
            frame.write_parquet(buffer, compression="lz4", statistics=False)
            data = buffer.getvalue()
            (tmp / f"{part}.parquet").write_bytes(data)
            files[part] = [len(data), zlib.crc32(data)]
        (tmp / MANIFEST).write_text(json.dumps({"key": entry.name, "files": files, **notes}), encoding="utf-8")
        if entry.exists():  # a bad entry (a good one would have loaded): out of the way first
            remove(entry)
        try:
            tmp.rename(entry)
        except OSError:
            if not entry.exists():
                raise
            # another run stored the same entry meanwhile: keep theirs
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def keep_entry(entry: Path, frames: Mapping[str, pl.DataFrame], cache: str, redo: str, **notes: object) -> None:
    """Store the entry (store_frames) and prune its cache directory; a cache that cannot be written
    costs speed, not the run: it only warns that the next run does `redo` again."""
    try:
        store_frames(entry, frames, **notes)
        prune(entry.parent, keep=entry.name)
    except OSError as error:
        warnings.warn(f"{cache} {entry} not written ({error}); the next run {redo}", stacklevel=3)


def remove(path: Path) -> None:
    """Delete a directory: renamed aside first, so no reader finds it half deleted."""
    aside = path.parent / f".tmp-removed-{uuid.uuid4().hex}"
    try:
        path.rename(aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def prune(cache_dir: Path, keep: str) -> None:
    """Delete all but the KEEP most recently used entries (`keep` always stays) and stale temporary directories."""
    entries = []
    for path in cache_dir.iterdir():
        try:
            used = path.stat().st_mtime
        except OSError:
            continue  # deleted by another run meanwhile
        if path.name.startswith(".tmp-"):
            if time.time() - used > STALE_TMP_S:
                shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and path.name != keep:
            entries.append((used, path))
    for _, path in sorted(entries, reverse=True)[KEEP - 1 :]:
        remove(path)


def touch(entry: Path) -> None:
    """Mark an entry as used now, so pruning keeps it."""
    try:
        os.utime(entry)
    except OSError:
        pass


def warehouse_cache(warehouse: Path, name: str) -> Path:
    """The directory of the cache `name` (CATALOG, DEVICE_INDEX) of the warehouse."""
    return Path(warehouse) / WAREHOUSE_CACHES / name


def forget_catalog(warehouse: Path) -> None:
    """Delete the warehouse's caches made from the catalog (the validated catalog, the device index):
    after an account's deletion they would hold its rows until newer entries pushed them out."""
    for name in (CATALOG, DEVICE_INDEX):
        remove(warehouse_cache(warehouse, name))
