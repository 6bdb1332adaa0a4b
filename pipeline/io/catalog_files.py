"""Reading a catalog directory: one CSV file per table, every cell as text."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from pipeline.catalog import Catalog, RawTable, validated_catalog
from pipeline.catalog.billing import validated_billing, with_usage_tariffs
from pipeline.price.catalog import PricedCatalog, validated_pricing, with_pricing
from schemas.catalog import TABLES
from schemas.pricing import CATALOG_TABLES as PRICING_TABLES


#: The billing files that say which tariff usage is rated with (docs/billing.md, "Tariff change").
USAGE_TARIFF_FILES = ("modules", "module_tariffs")


def read_raw_catalog(directory: Path, names: Iterable[str] = TABLES) -> dict[str, RawTable]:
    """Every `<name>.csv` found in `directory` (default: the core tables), as strings with a `_line` column (1-based file line)."""
    tables = {}
    for name in names:
        path = Path(directory) / f"{name}.csv"
        if not path.exists():
            continue
        frame = pl.read_csv(path, infer_schema=False)
        frame = frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_line"))
        tables[name] = RawTable(file=str(path), frame=frame)
    return tables


def load_catalog(directory: Path) -> Catalog:
    """The validated catalog in `directory`, carrying its usage-tariff timeline when the directory
    has modules.csv / module_tariffs.csv (validated as the billing catalog validates them);
    raises CatalogError naming every bad cell."""
    catalog = validated_catalog(read_raw_catalog(directory))
    modules = read_raw_catalog(directory, USAGE_TARIFF_FILES)
    return with_usage_tariffs(catalog, validated_billing(modules, catalog)) if modules else catalog


def load_priced_catalog(directory: Path) -> PricedCatalog:
    """load_catalog's catalog carrying the directory's validated pricing tables (any may be absent):
    what the main job rates with (docs/pricing.md)."""
    catalog = load_catalog(directory)
    return with_pricing(catalog, validated_pricing(read_raw_catalog(directory, PRICING_TABLES), catalog))


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
