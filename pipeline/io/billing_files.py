"""The billing catalog files: reading them, and writing catalog changes made through the CLI.

Reading follows pipeline/io/catalog_files.py: every cell as text, validated in
pipeline.catalog.billing. Writing keeps each file as its author wrote it: rows a change
does not touch keep their original text and order; changed rows are written in the
canonical form (ISO dates, plain decimals, true/false); new rows go at the end. Every
change is validated as a whole catalog before any file is written; then every new file, and
`audit_log.csv` with the change's rows appended, is written beside its old one (a temp file), and
all are replaced together (renames committed by a journal, catalog_files.put_in_place_together):
a directory nothing can be written to fails before anything changed, and a process killed between
two renames leaves a change the next command finishes, never half a change or an audit record
of a change the files never got.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from pipeline.catalog import CatalogNotFound, CatalogNotWritable, RawTable, validated_catalog
from pipeline.catalog.billing import BillingCatalog, validated_billing, with_usage_tariffs
from pipeline.catalog.validation import as_text
from pipeline.io.catalog_files import (
    discard, finish_change, put_in_place_together, read_catalog_csv, read_raw_catalog, staged_csv, staged_text, validated_together,
)
from pipeline.price.catalog import PricedCatalog, validated_pricing, with_pricing
from schemas.billing import AUDIT_SCHEMA, CATALOG_TABLES, KEYS
from schemas.billing import DEFAULTS as BILLING_DEFAULTS
from schemas.catalog import DEFAULTS as CORE_DEFAULTS
from schemas.catalog import TABLES as CORE_TABLES
from schemas.pricing import CATALOG_TABLES as PRICING_TABLES
from schemas.pricing import DEFAULTS as PRICING_DEFAULTS

AUDIT_LOG = "audit_log.csv"
_ALL_MODELS = {**CORE_TABLES, **CATALOG_TABLES, **PRICING_TABLES}
_ALL_DEFAULTS = {**CORE_DEFAULTS, **BILLING_DEFAULTS, **PRICING_DEFAULTS}



def load_catalogs(directory: Path) -> tuple[PricedCatalog, BillingCatalog]:
    """The validated catalogs in `directory`: the core catalog carrying its pricing tables (the
    billing run's minimum revenue and cost cap) and usage-tariff timeline, and the billing
    catalog; raises CatalogError naming every bad cell."""
    catalog = validated_catalog(read_raw_catalog(directory))
    billing, pricing = validated_together(  # the problems of both listed at once
        lambda: validated_billing(read_raw_catalog(directory, list(CATALOG_TABLES)), catalog),
        lambda: validated_pricing(read_raw_catalog(directory, list(PRICING_TABLES)), catalog),
    )
    return with_pricing(with_usage_tariffs(catalog, billing), pricing), billing


#: The tables load_catalogs reads, a read_raw_catalog call each: the core tables, the billing
#: tables, the pricing tables; its cache's key is made of their files (pipeline.io.catalog_cache).
CATALOGS_READS = (CORE_TABLES, tuple(CATALOG_TABLES), tuple(PRICING_TABLES))


#: The billing files that say which positions bill usage at a fixed price, and at which price.
POSITION_FILES = ["modules", "module_tariffs", "positions", "position_prices"]


def load_positions(directory: Path, catalog: PricedCatalog) -> BillingCatalog:
    """The billing catalog's positions and their prices in `directory` (POSITION_FILES only; the
    other billing tables empty or defaulted), validated against `catalog`: what cost control's
    fixed prices need, without reading addresses, users or terms. Raises CatalogError."""
    return validated_billing(read_raw_catalog(directory, POSITION_FILES), catalog)


@contextmanager
def catalog_lock(directory: Path) -> Iterator[None]:
    """Hold the catalog directory's edit lock: one CLI change at a time, read to write.

    Raises CatalogNotFound when `directory` is not a directory (the lock file is never created elsewhere).
    """
    if not Path(directory).is_dir():
        raise CatalogNotFound(directory)
    try:
        handle = open(Path(directory) / ".catalog.lock", "a+")
    except OSError as exc:  # a read-only catalog directory: a message, not a traceback
        raise CatalogNotWritable(Path(directory) / ".catalog.lock", exc) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            finish_change(directory, locked=True)  # a change stopped between its files (put_in_place_together)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_changes(directory: Path, changes: Mapping[str, tuple[pl.DataFrame, pl.DataFrame]], audit: pl.DataFrame) -> None:
    """Apply a change to the catalog files: for each table, its (old, new) typed versions.

    `old` must be the table as loaded from `directory` (same rows, same order). A change
    without audit rows changes nothing and writes nothing. The catalog as changed is
    validated first, pricing files included (CatalogError, nothing written); then the audit rows are appended and
    each changed table's file replaced atomically.
    """
    directory = Path(directory)
    if audit.height == 0:
        return
    touched = set(audit["table"])
    changes = {name: pair for name, pair in changes.items() if name in touched}
    raw = read_raw_catalog(directory, list(changes))
    merged = {name: _merged(directory, name, raw.get(name), old, new) for name, (old, new) in changes.items()}
    core = {**read_raw_catalog(directory), **{n: merged[n] for n in merged if n in CORE_TABLES}}
    billing_raw = {**read_raw_catalog(directory, list(CATALOG_TABLES)), **{n: merged[n] for n in merged if n in CATALOG_TABLES}}
    pricing_raw = {**read_raw_catalog(directory, list(PRICING_TABLES)), **{n: merged[n] for n in merged if n in PRICING_TABLES}}
    checked = validated_catalog(core)
    validated_billing(billing_raw, checked)
    validated_pricing(pricing_raw, checked)  # its customer and contract prices refer to the core tables
    # every new file written beside its old one first, the audit log with its new rows too: a directory nothing
    # can be created in fails here, before anything changed; then all are put in place together
    staged: list[tuple[Path, Path]] = []
    try:
        for table in merged.values():
            staged.append((staged_csv(Path(table.file), table.frame.drop("_line")), Path(table.file)))
        staged.append((staged_audit(directory, audit), directory / AUDIT_LOG))
    except BaseException:  # nothing renamed: the staged files go
        discard(staged)
        raise
    put_in_place_together(directory, staged)


def staged_audit(directory: Path, audit: pl.DataFrame) -> Path:
    """The audit log with `audit` appended (created with its header when missing), staged beside it
    (staged_csv): it is put in place with the files whose change it records, never without them."""
    path = Path(directory) / AUDIT_LOG
    rows = audit.select(list(AUDIT_SCHEMA)).with_columns(pl.col("changed_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    # its earlier rows byte for byte (a CRLF log, a cell holding a CR), copied, not read
    return staged_text(path, rows.write_csv(include_header=not path.exists()), appended=True)


def read_audit(directory: Path) -> pl.DataFrame:
    """The audit log (empty when nothing was changed through the CLI yet)."""
    path = Path(directory) / AUDIT_LOG
    if not path.exists():
        return pl.DataFrame(schema=AUDIT_SCHEMA)
    frame = read_catalog_csv(path).frame.drop("_line")
    return frame.with_columns(
        pl.col("changed_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%.6fZ", time_unit="us").dt.replace_time_zone("UTC")
    ).cast(AUDIT_SCHEMA)


def _merged(directory: Path, name: str, raw: RawTable | None, old: pl.DataFrame, new: pl.DataFrame) -> RawTable:
    """The file's text table with `old` → `new` applied by key; untouched rows keep their text."""
    key = list(KEYS[name])
    columns = list(_ALL_MODELS[name].to_schema().columns)
    if raw is None:
        raw = RawTable(str(directory / f"{name}.csv"), pl.DataFrame(schema={**{c: pl.String for c in columns}, "_line": pl.Int64}))
        old = old.clear()
    if raw.frame.height != old.height:
        raise ValueError(f"{raw.file}: changed on disk while being edited ({raw.frame.height} rows, expected {old.height})")
    old_text, new_text = as_text(old.select(columns)), as_text(new.select(columns))
    changed = new_text.join(old_text, on=columns, how="anti", nulls_equal=True, maintain_order="left")
    removed = old_text.select(key).join(new_text.select(key), on=key, how="anti", nulls_equal=True)
    keyed = raw.frame.hstack(old_text.select(pl.col(k).alias(f"_k_{k}") for k in key))
    renamed = {k: f"_k_{k}" for k in key}
    gone = pl.concat([changed.select(key), removed]).rename(renamed)
    kept = keyed.join(gone, on=list(renamed.values()), how="anti", nulls_equal=True, maintain_order="left")
    lines = keyed.select("_line", *renamed.values())
    replaced = changed.join(
        lines, left_on=key, right_on=list(renamed.values()), how="left", nulls_equal=True, maintain_order="left"
    )
    next_line = (raw.frame["_line"].max() or 1) + 1
    replaced = replaced.with_columns(
        pl.coalesce("_line", pl.int_range(next_line, next_line + pl.len(), dtype=pl.Int64)).alias("_line")
    )
    header = list(raw.frame.drop("_line").columns)
    header += [c for c in columns if c not in header and replaced[c].is_not_null().any()]
    fill = {c: _ALL_DEFAULTS.get(name, {}).get(c) for c in header if c not in kept.columns}
    kept = kept.with_columns(pl.lit(v, pl.String).alias(c) for c, v in fill.items())
    frame = pl.concat([kept.select(*header, "_line"), replaced.select(*header, "_line")]).sort("_line")
    return RawTable(raw.file, frame)
