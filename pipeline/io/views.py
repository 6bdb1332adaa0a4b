"""The analyst database (`<warehouse>/analytics.duckdb`): every view over the warehouse, made in one place.

Rating runs, billing runs and `rating views` all rebuild it whole (docs/warehouse.md), one at a
time: a rating run's views never leave out the billing views, nor a billing run's the rating ones.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.io import billing_store, file_ledger, quarantine, warehouse
from pipeline.io.locks import exclusive


def publish(warehouse_dir: Path) -> Path:
    """(Re)create the analyst database with the views of every stored table; returns its path."""
    warehouse_dir = Path(warehouse_dir)
    with exclusive(warehouse_dir / ".views.lock"):
        path = warehouse.publish_views(warehouse_dir)
        quarantine.publish_view(warehouse_dir)
        file_ledger.publish_views(warehouse_dir)
        billing_store.publish_billing_views(warehouse_dir)
    return path


def publish_file_ledger(warehouse_dir: Path) -> None:
    """(Re)create just the `file_ledger` and `skipped_files` views, under the same lock as `publish`:
    the analyst database is one DuckDB file, which two writers at once would leave unopenable."""
    warehouse_dir = Path(warehouse_dir)
    with exclusive(warehouse_dir / ".views.lock"):
        file_ledger.publish_views(warehouse_dir)
