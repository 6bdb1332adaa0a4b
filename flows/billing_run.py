"""The `billing_run` flow: catalogs + rated usage + committed runs → invoices, staged, committed, published.

Tasks work on whole runs (every contract at once), never on single contracts or records; the
billing itself is `pipeline.bill.invoices.billed`, pure and vectorised. One billing run at a
time per warehouse (a lock), and a committed run is never made again: asking for it again
returns it as stored (docs/billing.md, "Idempotency and crashes").
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import POSTGRES_RETRY_DELAY, refresh_views, retry_when_unreachable
from pipeline.bill.invoices import BillingRequest, BillingResult, billed, billing_request
from pipeline.catalog import Catalog
from pipeline.catalog.billing import BillingCatalog
from pipeline.config import Settings
from pipeline.io import billing_store, warehouse
from pipeline.io.cache_entries import CATALOG, warehouse_cache
from pipeline.io.catalog_cache import cached_catalogs
from pipeline.price import adjustment_rules


@task(cache_policy=NO_CACHE)
def load_catalogs_task(directory: Path, warehouse_dir: Path) -> tuple[Catalog, BillingCatalog]:
    """The core catalog with its pricing tables (minimum revenue, cost cap) and usage tariffs, and the billing catalog,
    validated once per change and kept in `<warehouse>/_cache/catalog` (pipeline.io.catalog_cache), as the rating runs keep theirs."""
    return cached_catalogs(directory, warehouse_cache(warehouse_dir, CATALOG))


@task(cache_policy=NO_CACHE)
def bill_task(catalog: Catalog, billing: BillingCatalog, request: BillingRequest, warehouse_dir: Path) -> BillingResult:
    """Every due contract's invoice, with the minimum-revenue and cost-cap adjustments of the
    catalog's pricing tables, on a fresh DuckDB connection over the warehouse."""
    with warehouse.reading(warehouse_dir):  # its queries read the rated usage registered by billing_connection
        return billed(billing_store.billing_connection(catalog, billing, warehouse_dir), request, adjustment_rules(catalog))


@task(cache_policy=NO_CACHE)
def stage_task(result: BillingResult, warehouse_dir: Path, created_at: datetime) -> dict[str, pa.Table]:
    """Write the run to its staging folder; returns what was staged (real tables, then test_…)."""
    tables = {**result.tables(), "billing_runs": result.run_record(created_at)}
    test_tables = result.tables(test=True)
    billing_store.stage_run(warehouse_dir, result.run_id, tables, test_tables, billing_store.newly_settled(result.con))
    return {**tables, **{f"test_{n}": t for n, t in test_tables.items()}}


@task(cache_policy=NO_CACHE)
def commit_task(run_id: str, warehouse_dir: Path) -> Path:
    return billing_store.commit_run(warehouse_dir, run_id)


@task(cache_policy=NO_CACHE)
def publish_task(warehouse_dir: Path) -> str | None:
    """Build the analyst database anew only where its views would read the wrong files (views.stale):
    a committed run's files are read by the views as they stand, unless they are its tables' first.
    Returns what kept them from being built (refresh_views): the run is committed all the same."""
    return refresh_views(warehouse_dir, get_run_logger())


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=POSTGRES_RETRY_DELAY, retry_condition_fn=retry_when_unreachable)
def to_postgres_task(run_id: str, warehouse_dir: Path, url: str) -> dict[str, int]:
    """Mirror a committed run into PostgreSQL (replacing that run's rows: safe to repeat), and
    every committed run PostgreSQL lacks (one whose own write failed)."""
    from pipeline.io import postgres_billing

    postgres_billing.ensure_billing_schema(url)
    written = postgres_billing.mirror_committed(url, warehouse_dir, run_id)
    for missing in postgres_billing.mirror_missing(url, warehouse_dir):
        get_run_logger().warning("billing run %s was not in PostgreSQL: written from the warehouse", missing)
    return written


@flow(name="billing_run", log_prints=True)
def billing_run(
    period: str | None = None,
    contract: str | None = None,
    until: date | None = None,
    invoice_date: date | None = None,
    catalog: str | None = None,
    warehouse_dir: str | None = None,
    pg_url: str | None = None,
) -> dict:
    """Bill a period (every due contract) or one contract up to a date; returns the run summary."""
    logger = get_run_logger()
    settings = Settings.from_env(catalog=catalog, warehouse=warehouse_dir, pg_url=pg_url)
    request = billing_request(period=period, contract=contract, until=until, invoice_date=invoice_date)
    # a rating run or re-rating stopped while swapping in its files: finish it first, or the run
    # would bill its old rated usage under the new invoice lines (the rating lock before the
    # billing lock, as everywhere)
    for run_id in warehouse.finish_stopped(settings.warehouse):
        logger.warning("rating run %s had stopped while storing its staged files: its storing was finished", run_id)
    with billing_store.locked(settings.warehouse):
        if billing_store.is_committed(settings.warehouse, request.run_id):
            logger.info("billing run %s is already committed: returning it as stored", request.run_id)
            created = False
        else:
            cat, bil = load_catalogs_task(settings.catalog, settings.warehouse)
            result = bill_task(cat, bil, request, settings.warehouse)
            stage_task(result, settings.warehouse, datetime.now(timezone.utc))
            commit_task(request.run_id, settings.warehouse)
            created = True
        views = publish_task(settings.warehouse)
        if settings.pg_url:
            to_postgres_task(request.run_id, settings.warehouse, settings.pg_url)
    return {**summary(settings.warehouse, request.run_id, created, bool(settings.pg_url)), "views": views}


def summary(warehouse: Path, run_id: str, created: bool, postgres: bool) -> dict:
    """What a committed run holds, for printing."""
    run = billing_store.read_committed(warehouse, "billing_runs", run_id=run_id).to_pylist()[0]
    problems = billing_store.read_committed(warehouse, "billing_problems", run_id=run_id)
    return {
        **run,
        "created": created,
        "problems": problems.column("reason").to_pylist(),
        "warehouse": str(warehouse),
        "postgres": postgres,
    }
