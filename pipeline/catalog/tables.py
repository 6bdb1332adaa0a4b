"""A set of catalog tables: the behaviour the billing and pricing catalogs share."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

import duckdb
import polars as pl


@dataclass(frozen=True)
class TableSet:
    """Frozen dataclass whose fields are Polars tables, registered on DuckDB as `<PREFIX>_<table>`."""

    PREFIX: ClassVar[str]

    def tables(self) -> dict[str, pl.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self, **tables: pl.DataFrame):
        """A copy with some tables replaced (catalog changes are computed this way)."""
        return replace(self, **tables)

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make every table queryable on `con` as `<PREFIX>_<table>`."""
        for name, frame in self.tables().items():
            con.register(f"{self.PREFIX}_{name}", frame.to_arrow())
