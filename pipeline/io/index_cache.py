"""Keep the device index between runs: it changes only when the catalog's device IDs or usage tariffs do.

Building the index costs about half a second per 300 k IDs, every run; loading it back from
Parquet a fraction of that. An entry lives in `<cache_dir>/<key>/`, where the key is a hash of
exactly what build_device_index reads (the device_ids frame, the usage-tariff timeline) and of
the code and library versions that shape the index, so any changed value, or a new release,
misses. Entries are kept as pipeline.io.cache_entries keeps them: renamed into place whole, a
crashed or corrupted entry rebuilt, never trusted; the newest KEEP entries stay.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from functools import cache
from pathlib import Path

import duckdb
import polars as pl
import polars.selectors as cs

import sql
from pipeline.assign import index as index_module
from pipeline.assign import keys as keys_module
from pipeline.assign.index import DeviceIndex, build_device_index, device_segments_table, device_validity, registered_usage_tariffs
from pipeline.io.cache_entries import KEEP, STALE_TMP_S, keep_entry, stored_frames, touch

__all__ = ["KEEP", "STALE_TMP_S", "cached_device_index", "index_key"]
_PARTS = tuple(f.name for f in fields(DeviceIndex)) + ("items",)
#: What shapes the index besides its inputs: a change to any of these misses every entry.
_CODE = (
    Path(index_module.__file__),
    Path(keys_module.__file__),
    Path(sql.__file__).parent / "duck" / "interval_segments.sql",
    Path(sql.__file__).parent / "duck" / "device_segments.sql",
)


def cached_device_index(
    con: duckdb.DuckDBPyConnection,
    device_ids: pl.DataFrame,
    usage_tariffs: pl.DataFrame | None = None,
    cache_dir: Path | None = None,
) -> DeviceIndex:
    """build_device_index, or the same index loaded from `cache_dir`; `con` ends up the same either way.

    Args:
        usage_tariffs: as for build_device_index (default: `cat_usage_tariffs` on `con`, if registered).
        cache_dir: the directory of cache entries (created when missing); None: just build.
    """
    if usage_tariffs is None:
        usage_tariffs = registered_usage_tariffs(con)
    if cache_dir is None:
        return build_device_index(con, device_ids, usage_tariffs)
    entry = Path(cache_dir) / index_key(device_ids, usage_tariffs)
    loaded = _loaded(entry)
    if loaded is not None:
        index, items = loaded
        _register(con, index, items)
        touch(entry)
        return index
    index = build_device_index(con, device_ids, usage_tariffs)
    frames = {**{part: getattr(index, part) for part in _PARTS if part != "items"}, "items": con.table("device_items").pl()}
    keep_entry(entry, frames, "device index cache", "builds the index again")
    return index


def index_key(device_ids: pl.DataFrame, usage_tariffs: pl.DataFrame | None) -> str:
    """A content hash of the index's inputs: order, schema and every value count.

    Per row a 64-bit hash (Polars `hash_rows`, stable within a Polars version, which is part of
    the key), the rows' hashes in order through BLAKE2b: a change to any value misses unless
    its row hash collides (2**-64). No usage tariffs and an empty timeline build the same index.
    """
    digest = hashlib.blake2b(_code_fingerprint(), digest_size=16)
    empty = usage_tariffs is None or usage_tariffs.height == 0
    for frame in (device_ids, None if empty else usage_tariffs):
        if frame is None:
            digest.update(b"none;")
            continue
        digest.update(f"{list(frame.schema.items())!r};{frame.height};".encode())
        if any(isinstance(dtype, (pl.Enum, pl.Categorical)) for dtype in frame.schema.values()):
            frame = frame.with_columns(cs.enum().cast(pl.String), cs.categorical().cast(pl.String))  # Enums hash by code
        if frame.width:
            digest.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()


@cache
def _code_fingerprint() -> bytes:
    """The versions and sources that shape the index (read once per process)."""
    digest = hashlib.blake2b(f"polars {pl.__version__}; duckdb {duckdb.__version__};".encode(), digest_size=16)
    for path in _CODE:
        digest.update(path.read_bytes())
    return digest.digest()


def _loaded(entry: Path) -> tuple[DeviceIndex, pl.DataFrame] | None:
    """The entry's index and device_items, or None when it is missing, partial or does not match its manifest."""
    stored = stored_frames(entry, _PARTS)
    if stored is None:
        return None
    frames = stored[0]
    items = frames.pop("items")
    return DeviceIndex(**frames), items


def _register(con: duckdb.DuckDBPyConnection, index: DeviceIndex, items: pl.DataFrame) -> None:
    """Put on `con` what build_device_index puts there: device_intervals, device_validity, device_items, device_segments."""
    con.register("device_intervals", index.intervals.to_arrow())
    con.register("device_validity", device_validity(index.intervals).to_arrow())
    con.register("cached_items", items.to_arrow())
    con.register("cached_segments", device_segments_table(index).to_arrow())
    for statement in sql.statements("duck/assign/cached_index"):
        con.execute(statement)
    con.unregister("cached_items")
    con.unregister("cached_segments")


