"""Scheduled runs (flows/schedule.py): the deployments `rating serve` serves, and billing the month just ended."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import billing_factory as f
from flows.schedule import bill_last_month, deployments, previous_month
from pipeline import cli
from pipeline.config import Settings


@pytest.mark.parametrize(
    ("day", "period"),
    [(date(2026, 11, 1), "2026-10"), (date(2026, 11, 23), "2026-10"), (date(2026, 1, 1), "2025-12"), (date(2026, 3, 31), "2026-02")],
)
def test_the_month_before(day, period):
    assert previous_month(day) == period


def test_the_deployments_rate_every_few_minutes_and_bill_the_month_just_ended(tmp_path):
    settings = Settings(catalog=tmp_path / "catalog", inbox=tmp_path / "inbox", warehouse=tmp_path / "wh",
                        sources=tmp_path / "inbox" / "sources.toml", pg_url="postgresql://secret@host/db")  # fmt: skip
    rating, billing = deployments(settings, rate_every_s=120, bill_cron="0 5 2 * *")
    assert (rating.name, rating.schedules[0].schedule.interval) == ("rate-usage", dt.timedelta(seconds=120))
    assert (billing.name, billing.schedules[0].schedule.cron, billing.schedules[0].schedule.timezone) == ("bill-last-month", "0 5 2 * *", "UTC")
    assert rating.parameters == {"catalog": str(tmp_path / "catalog"), "warehouse_dir": str(tmp_path / "wh"),
                                 "inbox_dir": str(tmp_path / "inbox"), "sources": str(tmp_path / "inbox" / "sources.toml"),
                                 "settle_s": 60, "max_records": 0}  # fmt: skip  # a file uploaded in the last minute waits for the next run
    assert billing.parameters == {"catalog": str(tmp_path / "catalog"), "warehouse_dir": str(tmp_path / "wh")}
    assert "secret" not in repr(rating.parameters) + repr(billing.parameters)  # URLs carry passwords: environment only
    assert (rating.concurrency_limit, billing.concurrency_limit) == (1, 1)


def test_serving_without_a_prefect_server_says_how_to_start_one(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 2 and "needs a Prefect server: start one (`prefect server start`)" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "env", "settle", "most"),
    [
        ([], {}, 60, 0),
        ([], {"RATING_SETTLE": "300", "RATING_MAX_RECORDS": "5000000"}, 300, 5_000_000),
        (["--settle", "30", "--max-records", "100"], {"RATING_SETTLE": "300", "RATING_MAX_RECORDS": "5000000"}, 30, 100),
    ],
)
def test_serve_takes_its_settle_time_and_most_records_from_the_options_then_the_environment(monkeypatch, args, env, settle, most):
    """README: settings come from options, then RATING_* variables, then defaults; `serve` ignored
    RATING_SETTLE (its scheduled runs waited 60 s whatever the variable said)."""
    import prefect

    served = {}
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.setattr(cli, "prefect_environment", lambda: None)
    monkeypatch.setattr(prefect, "serve", lambda *deployments, **_: served.update(
        settle_s=deployments[0].parameters["settle_s"], max_records=deployments[0].parameters["max_records"]
    ))  # fmt: skip
    result = CliRunner().invoke(cli.app, ["serve", *args], env=env)
    assert result.exit_code == 0, result.output
    assert served == {"settle_s": settle, "max_records": most}


@pytest.mark.prefect
def test_the_scheduled_billing_bills_the_month_before_its_day(prefect_harness, tmp_path):
    catalog = f.write_catalog(tmp_path / "catalog", billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])})
    warehouse = tmp_path / "warehouse"
    f.store_rated(warehouse, f.rated([
        {"record_key": "r1", "contract_id": "C1", "start_time": datetime(2026, 10, 5, 9, tzinfo=timezone.utc), "quantity": 60, "amount": Decimal("3.00")}
    ]))  # fmt: skip
    summary = bill_last_month(catalog=str(catalog), warehouse_dir=str(warehouse), today=date(2026, 11, 1))
    assert (summary["run_id"], summary["invoices"]) == ("period-2026-10", 1)
    assert Path(summary["warehouse"]) == warehouse
