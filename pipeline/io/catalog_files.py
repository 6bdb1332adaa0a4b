"""Reading a catalog directory: one CSV file per table, every cell as text."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from pipeline.catalog import Catalog, RawTable, validated_catalog
from schemas.catalog import TABLES


def read_raw_catalog(directory: Path) -> dict[str, RawTable]:
    """Every `<table>.csv` found in `directory`, as strings with a `_line` column (1-based file line)."""
    tables = {}
    for name in TABLES:
        path = Path(directory) / f"{name}.csv"
        if not path.exists():
            continue
        frame = pl.read_csv(path, infer_schema=False)
        frame = frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_line"))
        tables[name] = RawTable(file=str(path), frame=frame)
    return tables


def load_catalog(directory: Path) -> Catalog:
    """The validated catalog in `directory`; raises CatalogError naming every bad cell."""
    return validated_catalog(read_raw_catalog(directory))


def replace_csv(path: Path, frame: pl.DataFrame) -> None:
    """Replace a catalog file by a complete new version: readers see the old or the new one, never half.

    The new file keeps the old one's permissions (or the umask's, for a new file).
    """
    path = Path(path)
    umask = os.umask(0)
    os.umask(umask)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(frame.write_csv())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
