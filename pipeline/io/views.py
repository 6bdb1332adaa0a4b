"""The analyst database (`<warehouse>/analytics.duckdb`): every view over the warehouse, made in one place.

Its views read their Parquet files when queried (globs), so a run's new files need no new views.
A view must be made anew only when its source goes from no files (it reads an empty schema file,
`_schema/<name>.parquet`) to some or back (a glob without a match fails), when the warehouse
moved or was copied (the views read files by absolute path), or when what the views are defined
as changed (a new release). The database remembers what it was built with (`meta.built_with`,
sql/views/built_with.sql), and `refresh`, which rating and billing runs call after they store,
builds it anew only when `stale` finds one of these; `publish` (`rating views`) always does.

It is built whole, with the rating and billing views, one build at a time (the views lock). The
new database is built beside the old one and renamed over it, so the live file is never opened
for writing: an analyst's client reading it (read-only, or holding it open) never makes a run
fail, and sees the old views or the new ones, never half of them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa

import sql
from pipeline.io import billing_store, file_ledger, quarantine, warehouse
from pipeline.io.locks import exclusive
from schemas.billing import STORED
from schemas.outputs import TABLES

#: The analyst views' SQL; with the modules that make the views, what `definitions` fingerprints.
VIEW_SQL = ("views/analyst", "views/billing", "views/built_with")


def publish(warehouse_dir: Path) -> Path:
    """(Re)create the analyst database with the views of every stored table; returns its path."""
    with exclusive(Path(warehouse_dir) / ".views.lock"):
        return _build(warehouse_dir)


def refresh(warehouse_dir: Path) -> str | None:
    """Build the analyst database anew only if it is `stale`; returns why it was, None when it was kept."""
    with exclusive(Path(warehouse_dir) / ".views.lock"):
        why = stale(warehouse_dir)
        if why is not None:
            _build(warehouse_dir)
    return why


def with_files(warehouse_dir: Path) -> dict[str, bool]:
    """Per view over stored files (every one publish makes), whether its source has files now."""
    root = Path(warehouse_dir).resolve()
    found = {}
    for module_views in (warehouse.views_with_files, quarantine.views_with_files, file_ledger.views_with_files,
                         billing_store.views_with_files):  # fmt: skip
        found.update(module_views(root))
    return found


def definitions() -> str:
    """A fingerprint of what the views are defined as: the code of the modules that make them, the
    stored tables' schemas (their empty schema files) and the views' SQL. A new release changing
    any of them makes the database anew once (1.5 s with 1 000 stored runs)."""
    digest = hashlib.sha256()
    for code in (__file__, *(module.__file__ for module in (warehouse, quarantine, file_ledger, billing_store))):
        digest.update(Path(code).read_bytes())
    for schema in (*TABLES.values(), *STORED.values()):
        digest.update(schema.serialize().to_pybytes())
    for name in VIEW_SQL:
        digest.update(sql.load(name).encode())
    return digest.hexdigest()


def stale(warehouse_dir: Path) -> str | None:
    """Why the analyst database must be built anew, None when its views read what they should: it
    is missing, cannot be opened to look (an analyst's client holds it for writing: publish builds
    the new one beside it) or was built by a release that did not record what with; it was built
    at another place (the warehouse was moved or copied) or with other view definitions; or a
    view's source gained its first file or lost its last one since (by a run, a re-rating, a
    stopped run finished, or files removed by hand), or an empty schema file the views of tables
    without files read was removed by hand."""
    root = Path(warehouse_dir).resolve()
    built = _built_with(root / warehouse.ANALYTICS_DB)
    if built is None:
        return "no analyst database, or none that says what it was built with"
    place, defined_as, flags, schema_files = built
    if place != str(root):
        return f"built for the warehouse at {place}"
    if defined_as != definitions():
        return "the view definitions changed"
    gone = [name for name in schema_files if not (root / warehouse.SCHEMA_DIR / name).exists()]  # a few files
    if gone:
        return f"empty schema files gone from {warehouse.SCHEMA_DIR}: " + ", ".join(gone)
    now = with_files(root)
    changed = sorted(name for name in now.keys() | flags.keys() if now.get(name) != flags.get(name))
    if changed:
        return "files appeared in or went from " + ", ".join(changed)
    return None


def _built_with(path: Path) -> tuple[str, str, dict[str, bool], list[str]] | None:
    """(warehouse, definitions, has-files flag per view, empty schema files) the database at `path`
    was built with; None when it is missing, cannot be opened or does not say."""
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        rows = con.table("meta.built_with").fetchall()
        schema_files = [name for (name,) in con.table("meta.schema_files").fetchall()]
    except duckdb.Error:  # built by an earlier release
        return None
    finally:
        con.close()
    if not rows or len({(place, defined_as) for place, defined_as, _, _ in rows}) != 1:
        return None
    return rows[0][0], rows[0][1], {view: has_files for _, _, view, has_files in rows}, schema_files


@warehouse.reads_warehouse  # a stored file that cannot be read is named, not a traceback
def _build(warehouse_dir: Path) -> Path:
    """Build the analyst database beside the live one and rename it over it; the caller holds the views lock."""
    root = Path(warehouse_dir).resolve()
    path = root / warehouse.ANALYTICS_DB
    building = path.with_name(f".{path.name}.building")
    building.unlink(missing_ok=True)
    # readable by DuckDB 1.4+ clients too (e.g. the `duckdb` command of the duckdb-cli package)
    con = duckdb.connect(str(building), config={"storage_compatibility_version": "v1.4.0"})
    try:
        # each view's flag as its DDL used it, not looked up again: a file appearing meanwhile makes the next check rebuild
        flags = {
            **warehouse.add_views(con, root),
            **quarantine.add_view(con, root),
            **file_ledger.add_views(con, root),
            **billing_store.add_billing_views(con, root),
        }
        for statement in sql.statements("views/built_with"):
            con.execute(statement)
        built = pa.table({
            "warehouse": [str(root)] * len(flags),
            "definitions": [definitions()] * len(flags),
            "view_name": list(flags),
            "has_files": list(flags.values()),
        })  # fmt: skip
        con.from_arrow(built).insert_into("meta.built_with")
        # the views of tables without files read these: one deleted by hand makes the next check rebuild
        schema_files = sorted(p.name for p in (root / warehouse.SCHEMA_DIR).glob("*.parquet"))
        con.from_arrow(pa.table({"file_name": pa.array(schema_files, pa.string())})).insert_into("meta.schema_files")
    finally:
        con.close()
    building.replace(path)
    return path
