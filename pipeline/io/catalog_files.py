"""Reading a catalog directory: one CSV file per table, every cell as text."""

from __future__ import annotations

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
