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
from pipeline.io import inbox, quarantine, warehouse
from pipeline.io.catalog_files import load_catalog
from pipeline.io.readers import UnreadableFile, load_sources, read_usage_file, source_for
from pipeline.job import RatingResult, rate
from pipeline.ledger import ConservationError, run_record
from schemas.usage import USAGE_POLARS


@dataclass
class Batch:
    """What the readers made of the inbox: canonical usage, unparseable rows, quarantined files."""

    usage: pl.DataFrame
    rejects: pl.DataFrame
    #: one dict per file no reader could read: source_file, content_hash, size_bytes, reason, path
    quarantined: list[dict]
    #: content hash of every inbox file, read or not: together they are the run's identity
    hashes: list[str]
    files: int
    read: int


@task(cache_policy=NO_CACHE)
def load_catalog_task(directory: Path) -> Catalog:
    return load_catalog(directory)


@task(cache_policy=NO_CACHE)
def read_inbox(inbox_dir: Path, sources_file: Path) -> Batch:
    """Read every usage file of the inbox; a file that cannot be read at all is quarantined whole, the others go on."""
    logger = get_run_logger()
    sources = load_sources(sources_file)
    usage, rejects, quarantined, hashes = [], [], [], []
    paths = inbox.inbox_files(inbox_dir)
    for path in paths:  # a loop over files, not records
        digest = inbox.content_hash(path)
        hashes.append(digest)
        source = source_for(path.name, sources)
        if source is None:
            reason = f"no source in {sources_file} has a pattern matching this file name"
        else:
            try:
                result = read_usage_file(path, source)
            except UnreadableFile as exc:
                reason = exc.reason
            except Exception as exc:  # a reader bug or an I/O error must not sink the other files
                logger.exception("reading %s as source %r failed", path, source.name)
                reason = f"{source.format} reader failed: {type(exc).__name__}: {exc}"
            else:
                usage.append(result.usage)
                rejects.append(result.rejects)
                continue
        logger.warning("quarantined %s: %s", path, reason)
        size = path.stat().st_size
        quarantined.append(
            {"source_file": path.name, "content_hash": digest, "size_bytes": size, "reason": reason, "path": str(path)}
        )
    return Batch(
        usage=pl.concat(usage) if usage else pl.DataFrame(schema=USAGE_POLARS),
        rejects=pl.concat(rejects).cast(REJECT_SCHEMA) if rejects else pl.DataFrame(schema=REJECT_SCHEMA),
        quarantined=quarantined,
        hashes=hashes,
        files=len(paths),
        read=len(usage),
    )


@task(cache_policy=NO_CACHE)
def rate_batch(batch: Batch, catalog: Catalog, run_id: str, warehouse_dir: Path) -> RatingResult:
    # Records stored by this same run earlier are not duplicates of themselves: a re-run replaces them.
    seen = warehouse.seen_record_keys(warehouse_dir, except_run=run_id)
    return rate(batch.usage, catalog, run_id, read_rejects=batch.rejects, seen=seen)


@task(cache_policy=NO_CACHE)
def store(result: RatingResult, runs: pl.DataFrame, quarantined: list[dict], warehouse_dir: Path) -> dict[str, int]:
    """Write the run's tables and quarantined files to the warehouse, replacing an earlier execution of the run."""
    tables = result.stored_tables(runs)
    tables[quarantine.TABLE] = result.con.from_arrow(quarantine.quarantine_table(result.run_id, quarantined))
    rows = warehouse.write_run(tables, warehouse_dir, result.run_id)
    warehouse.publish_views(warehouse_dir)
    quarantine.publish_view(warehouse_dir)
    return rows


def _unreachable(task, task_run, state) -> bool:
    """Retry only when the server could not be reached; a rejected write fails the same way again."""
    from pipeline.io.postgres import PostgresUnavailable

    try:
        state.result()
    except PostgresUnavailable:
        return True
    except Exception:
        return False
    return False


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_condition_fn=_unreachable)
def to_postgres(result: RatingResult, runs: pl.DataFrame, url: str) -> dict[str, int]:
    """Replace the run's rows in PostgreSQL (creating the schema on first use), in one transaction."""
    from pipeline.io import postgres

    postgres.ensure_schema(url)
    tables = {name: rel.to_arrow_table() for name, rel in result.stored_tables(runs).items()}
    return postgres.write_run(url, result.run_id, tables)


@flow(name="rate_usage", log_prints=True)
def rate_usage(
    catalog: str | None = None,
    inbox_dir: str | None = None,
    warehouse_dir: str | None = None,
    sources: str | None = None,
    pg_url: str | None = None,
) -> dict:
    """Rate every file in the inbox and store the outcome; returns the run summary.

    The run id is derived from the contents of the inbox files, so rating the same inbox
    again is the same run: its rows are replaced in the warehouse and in Postgres, never doubled.
    """
    logger = get_run_logger()
    settings = Settings.from_env(
        catalog=catalog, inbox=inbox_dir, warehouse=warehouse_dir, sources=sources, pg_url=pg_url
    )
    started = datetime.now(timezone.utc)
    cat = load_catalog_task(settings.catalog)
    batch = read_inbox(settings.inbox, settings.sources)
    if batch.read + len(batch.quarantined) != batch.files:
        raise ConservationError(
            f"{batch.files} inbox files but {batch.read} read and {len(batch.quarantined)} quarantined: a file was lost"
        )
    run_id = inbox.run_id_for(batch.hashes)
    logger.info(
        "run %s: %d files (%d read, %d quarantined), %d usage records, %d rejected rows",
        run_id, batch.files, batch.read, len(batch.quarantined), batch.usage.height, batch.rejects.height,
    )  # fmt: skip
    result = rate_batch(batch, cat, run_id, settings.warehouse)
    try:
        net_amount = result.net_amount
        runs = run_record(run_id, started, datetime.now(timezone.utc), batch.files, result.input_records, net_amount)
        rows = store(result, runs, batch.quarantined, settings.warehouse)
        pg_rows = to_postgres(result, runs, settings.pg_url) if settings.pg_url else None
        return {
            "run_id": run_id,
            "files": {"input": batch.files, "read": batch.read, "quarantined": len(batch.quarantined)},
            "quarantined": [(q["path"], q["reason"]) for q in batch.quarantined],
            "outcomes": result.counts(),
            "input_records": result.input_records,
            "net_amount": net_amount,
            "invoice_lines": rows.get("invoice_lines", 0),
            "warehouse": str(settings.warehouse),
            "analytics_db": str(settings.warehouse / warehouse.ANALYTICS_DB),
            "postgres": pg_rows,
        }
    finally:
        result.con.close()
