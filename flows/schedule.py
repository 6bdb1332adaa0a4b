"""Scheduled runs: `rate_usage` every few minutes and the billing of the month just ended, as
Prefect deployments that `rating serve` serves (docs/scheduling.md).

Serving needs a Prefect server (`prefect server start`): Prefect's temporary local server has
no scheduler, so nothing scheduled would ever run on it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.schedules import Cron

from flows.billing_run import billing_run
from flows.rate_usage import rate_usage
from pipeline.config import Settings

#: When the month just ended is billed: 04:00 UTC on the 1st (late records of it land on the
#: next invoice, docs/billing.md).
BILL_CRON = "0 4 1 * *"
#: How often the inbox is rated, in seconds.
RATE_EVERY_S = 300
#: A scheduled run leaves files modified less than this many seconds ago for the next run: a
#: partner may still be uploading them (a cut last line would be rated, and the whole record lost
#: as a duplicate once the file is complete).
SETTLE_S = 60


def previous_month(day: date) -> str:
    """The billing period (YYYY-MM) of the month before `day`'s."""
    month = day.year * 12 + day.month - 2
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


@flow(name="bill_last_month", log_prints=True)
def bill_last_month(catalog: str | None = None, warehouse_dir: str | None = None, today: date | None = None) -> dict:
    """Bill the month before the run's scheduled day (UTC), or before `today`: a scheduled run
    bills the month its schedule was meant for, even when it starts late. The PostgreSQL URL
    comes from RATING_PG_URL, never from a parameter (Prefect stores parameters)."""
    scheduled = flow_run.scheduled_start_time
    day = today or (scheduled.astimezone(timezone.utc).date() if scheduled else datetime.now(timezone.utc).date())
    period = previous_month(day)
    get_run_logger().info("billing %s (the month before %s)", period, day.isoformat())
    return billing_run(period=period, catalog=catalog, warehouse_dir=warehouse_dir)


def deployments(
    settings: Settings, rate_every_s: int = RATE_EVERY_S, bill_cron: str = BILL_CRON, settle_s: float = SETTLE_S, max_records: int = 0
) -> list:
    """The two deployments `rating serve` serves, with the installation's paths (absolute: a
    served run starts in a process of its own). One rating run at a time (a concurrency limit
    of 1, besides the warehouse's rating lock); a scheduled run leaves files modified in the last
    `settle_s` seconds for the next one (a partner may still be uploading them), and with
    `max_records` the files past that many records (a backlog: the runs after it rate the rest)."""
    paths = {
        "catalog": str(settings.catalog.resolve()),
        "warehouse_dir": str(settings.warehouse.resolve()),
    }
    rating = rate_usage.to_deployment(
        name="rate-usage",
        interval=rate_every_s,
        concurrency_limit=1,
        parameters={
            **paths, "inbox_dir": str(settings.inbox.resolve()), "sources": str(settings.sources.resolve()), "settle_s": settle_s,
            "max_records": max_records,
        },  # fmt: skip
        description=f"Rate {settings.inbox.resolve()} every {rate_every_s} s",
    )
    billing = bill_last_month.to_deployment(
        name="bill-last-month",
        schedule=Cron(bill_cron, timezone="UTC"),
        concurrency_limit=1,
        parameters=paths,
        description=f"Bill the month just ended ({bill_cron}, UTC)",
    )
    return [rating, billing]
