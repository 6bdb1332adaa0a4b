"""The `rate_usage` flow: inbox files → canonical usage → rated usage → invoice lines → warehouse (+ Postgres).

Tasks work on files or whole batches, never on single records. Everything record-level
happens in `pipeline.job.rate`, which is pure and vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipeline.catalog import Catalog
from pipeline.config import Settings
from pipeline.ingest import REJECT_SCHEMA
from pipeline.io import inbox, warehouse
from pipeline.io.catalog_files import load_catalog
from pipeline.io.readers import UnreadableFile, load_sources, read_usage_file, source_for
from pipeline.job import RatingResult, rate
from pipeline.ledger import run_record
from schemas.usage import USAGE_POLARS


@dataclass
class Batch:
    """What the readers made of the inbox: canonical usage, unparseable rows, quarantined files."""

    usage: pl.DataFrame
    rejects: pl.DataFrame
    quarantined: list[tuple[str, str]]
    hashes: list[str]
    files: int


@task(cache_policy=NO_CACHE)
def load_catalog_task(directory: Path) -> Catalog:
    return load_catalog(directory)


@task(cache_policy=NO_CACHE)
def read_inbox(inbox_dir: Path, sources_file: Path) -> Batch:
    """Read every usage file of the inbox; files that cannot be read at all are quarantined whole."""
    logger = get_run_logger()
    sources = load_sources(sources_file)
    usage, rejects, quarantined, hashes = [], [], [], []
    paths = inbox.inbox_files(inbox_dir)
    for path in paths:  # a loop over files, not records
        hashes.append(inbox.content_hash(path))
        source = source_for(path.name, sources)
        if source is None:
            quarantined.append((str(path), "no source in sources.toml matches this file name"))
            continue
        try:
            result = read_usage_file(path, source)
        except UnreadableFile as exc:
            quarantined.append((str(path), exc.reason))
            logger.warning("quarantined %s: %s", path, exc.reason)
            continue
        usage.append(result.usage)
        rejects.append(result.rejects)
    return Batch(
        usage=pl.concat(usage) if usage else pl.DataFrame(schema=USAGE_POLARS),
        rejects=pl.concat(rejects).cast(REJECT_SCHEMA) if rejects else pl.DataFrame(schema=REJECT_SCHEMA),
        quarantined=quarantined,
        hashes=hashes,
        files=len(paths),
    )


@task(cache_policy=NO_CACHE)
def rate_batch(batch: Batch, catalog: Catalog, run_id: str, warehouse_dir: Path) -> RatingResult:
    seen = warehouse.seen_record_keys(warehouse_dir, except_run=run_id)
    return rate(batch.usage, catalog, run_id, read_rejects=batch.rejects, seen=seen)


@task(cache_policy=NO_CACHE)
def store(result: RatingResult, runs: pl.DataFrame, warehouse_dir: Path) -> dict[str, int]:
    rows = warehouse.write_run(result.stored_tables(runs), warehouse_dir, result.run_id)
    warehouse.publish_views(warehouse_dir)
    return rows


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def to_postgres(result: RatingResult, runs: pl.DataFrame, url: str) -> dict[str, int]:
    from pipeline.io import postgres

    tables = {name: rel.to_arrow_table() for name, rel in result.stored_tables(runs).items() if name != "usage"}
    return postgres.write_run(url, result.run_id, tables)


@flow(name="rate_usage", log_prints=True)
def rate_usage(
    catalog: str | None = None,
    inbox_dir: str | None = None,
    warehouse_dir: str | None = None,
    sources: str | None = None,
    pg_url: str | None = None,
) -> dict:
    """Rate every file in the inbox and store the outcome; returns the run summary."""
    settings = Settings.from_env(catalog=catalog, inbox=inbox_dir, warehouse=warehouse_dir, sources=sources, pg_url=pg_url)
    started = datetime.now(timezone.utc)
    cat = load_catalog_task(settings.catalog)
    batch = read_inbox(settings.inbox, settings.sources)
    run_id = inbox.run_id_for(batch.hashes)
    result = rate_batch(batch, cat, run_id, settings.warehouse)
    runs = run_record(run_id, started, datetime.now(timezone.utc), batch.files, result.input_records, result.net_amount)
    rows = store(result, runs, settings.warehouse)
    if settings.pg_url:
        to_postgres(result, runs, settings.pg_url)
    return {
        "run_id": run_id,
        "files": batch.files,
        "quarantined": batch.quarantined,
        "outcomes": result.counts(),
        "input_records": result.input_records,
        "net_amount": result.net_amount,
        "invoice_lines": rows.get("invoice_lines", 0),
        "warehouse": str(settings.warehouse),
        "postgres": bool(settings.pg_url),
    }
