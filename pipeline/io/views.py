"""The analyst database (`<warehouse>/analytics.duckdb`): every view over the warehouse, made in one place.

Rating runs, billing runs and `rating views` all rebuild it whole (docs/warehouse.md), one at a
time: a rating run's views never leave out the billing views, nor a billing run's the rating ones.
The new database is built beside the old one and renamed over it, so the live file is never
opened for writing: an analyst's client reading it (read-only, or holding it open) never makes a
run fail, and sees the old views or the new ones, never half of them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.io import billing_store, file_ledger, quarantine, warehouse
from pipeline.io.locks import exclusive


def publish(warehouse_dir: Path) -> Path:
    """(Re)create the analyst database with the views of every stored table; returns its path."""
    warehouse_dir = Path(warehouse_dir)
    path = warehouse_dir.resolve() / warehouse.ANALYTICS_DB
    building = path.with_name(f".{path.name}.building")
    with exclusive(warehouse_dir / ".views.lock"):
        building.unlink(missing_ok=True)
        # readable by DuckDB 1.4+ clients too (e.g. the `duckdb` command of the duckdb-cli package)
        con = duckdb.connect(str(building), config={"storage_compatibility_version": "v1.4.0"})
        try:
            warehouse.add_views(con, warehouse_dir)
            quarantine.add_view(con, warehouse_dir)
            file_ledger.add_views(con, warehouse_dir)
            billing_store.add_billing_views(con, warehouse_dir)
        finally:
            con.close()
        building.replace(path)
    return path
