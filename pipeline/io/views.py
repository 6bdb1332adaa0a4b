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


def made_here(warehouse_dir: Path) -> bool:
    """Whether the analyst database exists with views over this warehouse's files: not one made at
    another place the warehouse was moved or copied from (its views read the files by absolute
    path). One that cannot be opened to look (an analyst's client holds it for writing) counts as
    not: publish builds the new one beside it."""
    path = Path(warehouse_dir).resolve() / warehouse.ANALYTICS_DB
    if not path.exists():
        return False
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        made = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'file_ledger'").fetchall()
    finally:
        con.close()
    return bool(made) and ("'" + str(path.parent).replace("'", "''") + "/") in made[0][0]
