"""The `rerate_usage` flow: stored runs rated again from the warehouse with the current catalog.

After a catalog correction (a price fixed, a device ID imported for numbers that went
unassigned, a special price added) the operator rates the affected runs again. Each run is
rated from its own stored records (every accepted record and every duplicate, whole; its
rejected lines as their stored cells) under its own run id, so its rows are replaced in the
warehouse and in PostgreSQL, never doubled, and its ledger must add up to the input it had.
No inbox file is read again (`rating run --reprocess` does that, after a change of sources.toml).

Invoices are final: a run with billed usage is rated again only on request (`allow_billed`),
and then every billed record whose amount changed is reported, not billed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import refresh_views
from flows.rate_usage import Batch, load_catalog_task, rate_batch, store, to_postgres
from pipeline import rerate
from pipeline.catalog import Catalog
from pipeline.config import Settings
from pipeline.io import billing_store, warehouse
from pipeline.io.postgres import PostgresError
from pipeline.ledger import ConservationError, run_record, totals
from pipeline.rerate import RerateError


@dataclass
class Plan:
    """What a re-rating request comes to: the runs in order, and what of theirs was billed."""

    runs: list[str]
    #: (rated_run_id, record_key, invoice_id) of every billed usage record of the chosen runs
    billed: pl.DataFrame
    #: (run_id, period) of later runs of the same periods that are not rated again
    later: pl.DataFrame


def plan(warehouse_dir: Path, run_ids: list[str], periods: list[str], every: bool, allow_billed: bool) -> Plan:
    """The runs to rate again and what was billed of them; raises RerateError for a request that
    cannot be done as asked (no selection, an unknown run, billed usage without `allow_billed`).
    Reads only small tables: `rating rerate` calls it before Prefect starts, the flow again."""
    if not (Path(warehouse_dir) / "runs").is_dir():
        raise RerateError(f"{warehouse_dir} holds no stored run: rate usage first (`rating run`), or pass --warehouse")
    starts, periods_of = warehouse.run_starts(warehouse_dir), warehouse.run_periods(warehouse_dir)
    chosen = rerate.chosen_runs(starts, periods_of, run_ids, periods, every)
    billed = pl.from_arrow(billing_store.billed_usage(warehouse_dir, chosen))
    counted = starts.filter(pl.col("run_id").is_in(chosen)).select("run_id", "input_records").rows()
    incomplete = [(r, n, m) for r, n in counted if (m := warehouse.stored_records(warehouse_dir, r)) != n]
    if incomplete:
        lines = "; ".join(f"run {r}: {n} input records when it was rated, its stored tables hold {m}" for r, n, m in incomplete)
        raise RerateError(f"the warehouse lacks rows of these runs: {lines}. Rate their files again (`rating run --reprocess`) "
                          "or leave them out; nothing was rated again")  # fmt: skip
    held = rerate.billed_runs(billed, chosen)
    if held.height and not allow_billed:
        lines = "; ".join(f"run {r}: {n} records on {len(inv)} invoices ({rerate.invoice_list(inv)})" for r, n, inv in held.iter_rows())
        raise RerateError(
            f"usage of these runs is billed already: {lines}. Invoices are final: re-rating changes the rated "
            "amounts but not what was billed. Pass --allow-billed to rate them again anyway (every billed record "
            "whose amount changes is listed), or choose runs without billed usage"
        )
    return Plan(runs=chosen, billed=billed, later=rerate.later_runs(starts, periods_of, chosen))


@task(cache_policy=NO_CACHE)
def read_stored_run(warehouse_dir: Path, run_id: str) -> warehouse.StoredInput:
    """A stored run's records, rejected lines and quarantined files, as it read them."""
    return warehouse.stored_input(warehouse_dir, run_id)


@task(cache_policy=NO_CACHE)
def rated_amounts(warehouse_dir: Path, run_id: str) -> pl.DataFrame:
    """(record_key, contract_id, amount, free_quantity) of a stored run's rated records, before it is rated again."""
    return warehouse.rated_amounts(warehouse_dir, run_id)


def _rerated(cat: Catalog, run_id: str, settings: Settings, billed: pl.DataFrame, logger, done: list[str]) -> dict:
    """One stored run rated again and stored in place of its earlier rows (`done`: the runs of this
    request rated again before it, for the messages of a failure)."""
    stored = read_stored_run(settings.warehouse, run_id)
    batch = Batch(
        usage=stored.usage, rejects=stored.rejects, quarantined=stored.quarantined, hashes=[],
        files=stored.input_files, read=stored.input_files - len(stored.quarantined), rejected_sums=stored.rejected_sums,
    )  # fmt: skip
    mine = billed.filter(pl.col("rated_run_id") == run_id)
    before = rated_amounts(settings.warehouse, run_id) if mine.height else None
    result = rate_batch(batch, cat, run_id, settings.warehouse)
    try:
        sums = totals(result.ledger)
        if sums != stored.input_sums:
            earlier = f"; the runs before it in this request were: {', '.join(done)}" if done else ""
            raise ConservationError(
                f"run {run_id}: its input was {stored.input_sums} (records, seconds, bytes) when it was rated, but its "
                f"stored tables hold {sums}: the warehouse lacks or changed some of its rows; it was not rated again{earlier}"
            )
        changes = None
        if before is not None:
            after = result.rated_usage().select("record_key", "contract_id", "amount", "free_quantity")
            changes = rerate.billed_changes(before, after, mine)
        net = result.net_amount
        runs = run_record(run_id, stored.started_at, datetime.now(timezone.utc), stored.input_files, result.input_records, net)
        rows = store(result, runs, stored.quarantined, settings.warehouse, views=False)  # the flow refreshes them, once
        try:
            pg_rows = to_postgres(run_id, settings.pg_url, settings.warehouse) if settings.pg_url else None
        except warehouse.UnreadableFile as exc:
            # a stored file the catch-up read (another run's) cannot be read: the operator's to restore, named,
            # logged without a traceback, exit 1, as every command that reads it (docs/warehouse.md)
            raise warehouse.UnreadableFile(f"run {run_id} is rated again in the warehouse, but PostgreSQL was not written: {exc}") from exc
        except Exception as exc:
            # the server down or tables of an older release are the operator's to fix: a PostgresError, logged
            # without a traceback as `rating run` and `rating bill` do; anything else is a bug and keeps it
            kind = PostgresError if isinstance(exc, PostgresError) else RuntimeError
            raise kind(
                f"run {run_id} is rated again in the warehouse, but PostgreSQL was not written ({type(exc).__name__}: {exc}); "
                "run the same command again once PostgreSQL is reachable: it rates the run again and writes both"
            ) from exc
        logger.info("run %s rated again: net %s (was %s)", run_id, net, stored.net_amount)
        return {
            "run_id": run_id,
            "input_records": result.input_records,
            "outcomes_before": stored.outcomes,
            "outcomes": result.counts(),
            "net_before": stored.net_amount,
            "net_amount": net,
            "invoice_lines": rows.get("invoice_lines", 0),
            "billed_changes": [] if changes is None else changes.to_dicts(),
            "postgres": pg_rows,
        }
    finally:
        result.con.close()


@flow(name="rerate_usage", log_prints=True)
def rerate_usage(
    run_ids: list[str] | None = None,
    periods: list[str] | None = None,
    every: bool = False,
    catalog: str | None = None,
    warehouse_dir: str | None = None,
    pg_url: str | None = None,
    allow_billed: bool = False,
) -> dict:
    """Rate stored runs again with the current catalog, replacing their rows; returns what changed per run.

    Args:
        run_ids: these runs; periods: every run holding records of these UTC months (YYYY-MM);
            every: every stored run. Exactly one. The runs go in the order they first started.
        allow_billed: rate runs with billed usage too (their billed records keep their invoices).
    """
    logger = get_run_logger()
    settings = Settings.from_env(catalog=catalog, warehouse=warehouse_dir, pg_url=pg_url)
    done: list[dict] = []
    views, storing = None, False
    try:
        # the rating lock: no rating run stores meanwhile; the billing lock: no billing run bills the old amounts meanwhile
        with warehouse.locked(settings.warehouse), billing_store.locked(settings.warehouse):
            for run_id in warehouse.recover(settings.warehouse):
                logger.warning("run %s had stopped while storing its staged files: its storing was finished", run_id)
            chosen = plan(settings.warehouse, run_ids or [], periods or [], every, allow_billed)
            if not chosen.runs:
                logger.info("nothing to rate again: no stored run holds records of %s", ", ".join(periods or []) or "any period")
            cat = load_catalog_task(settings.catalog, settings.warehouse) if chosen.runs else None
            storing = bool(chosen.runs)  # runs may be stored from here on: their views are refreshed below, whatever follows
            for run_id in chosen.runs:  # a loop over runs
                done.append(_rerated(cat, run_id, settings, chosen.billed, logger, [d["run_id"] for d in done]))
            for run_id, period in chosen.later.iter_rows():
                logger.warning("run %s also holds records of %s but was not rated again: its free quantities and tiers "
                               "went on from the old figures (rate %s again with --period %s)", run_id, period, run_id, period)  # fmt: skip
    finally:
        # the runs' stores leave the views alone: built here if they need it, once, after the last run stored (or the one
        # that failed: those stored before it are in place), so a build that fails is tried, logged and reported once
        if storing:
            views = refresh_views(settings.warehouse, logger)
    return {
        "runs": done,
        "later_runs": chosen.later.rows(),
        "warehouse": str(settings.warehouse),
        "analytics_db": str(settings.warehouse / warehouse.ANALYTICS_DB),
        "views": views,
    }
