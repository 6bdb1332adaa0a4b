"""The `rating sql` and `rating views` commands over a small stored run."""

from __future__ import annotations

import logging
import sys

import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline import cli
from pipeline.bill.invoices import BillingError
from pipeline.catalog import CatalogError
from pipeline.cli import app
from pipeline.io.readers.config import SourceConfigError
from pipeline.ledger import ConservationError
from pipeline.io import warehouse
from pipeline.job import rate
from tests.factory import catalog, usage

runner = CliRunner()


def test_sql_prints_query_results_from_the_analyst_database(tmp_path):
    result = rate(usage(subscriber_id=["4331681272420", "4930123450"], duration_s=[61, 30]), catalog(), "run1")
    warehouse.write_run(result.stored_tables(), tmp_path, "run1")
    assert runner.invoke(app, ["views", "--warehouse", str(tmp_path)]).exit_code == 0
    out = runner.invoke(app, ["sql", "select contract_id, net_amount from invoice_lines order by 1", "--warehouse", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "K-MIN" in out.output and "0.12" in out.output and "K-SEC" in out.output and "0.03" in out.output


def test_sql_without_a_warehouse_says_what_to_do(tmp_path):
    out = runner.invoke(app, ["sql", "select 1", "--warehouse", str(tmp_path / "nothing")])
    assert out.exit_code == 2
    assert "rating run" in out.output


def test_a_bad_query_is_an_error_not_a_traceback(tmp_path):
    warehouse.publish_views(tmp_path)
    out = runner.invoke(app, ["sql", "select nope from invoice_lines", "--warehouse", str(tmp_path)])
    assert out.exit_code == 1
    assert "nope" in out.output


@pytest.mark.parametrize(
    ("error", "traceback_kept"),
    [
        (CatalogError(pl.DataFrame({"file": ["tariffs.csv"], "line": [2], "column": ["vat_rate"], "value": ["x"], "rule": ["r"]})), False),
        (SourceConfigError("sources.toml: [partner] format 'freeswich' is not a format"), False),
        (BillingError("period '2026-13' is not a month YYYY-MM"), False),
        (RuntimeError("a bug of ours"), True),
        (ConservationError("2 records lost"), True),
    ],
)
def test_prefect_logs_an_operators_error_without_its_traceback(error, traceback_kept):
    cli.quiet_operator_errors()
    cli.quiet_operator_errors()  # once is enough: a second call adds no second filter
    logger = logging.getLogger("prefect.task_runs")
    assert sum(isinstance(f, cli.OperatorErrorsWithoutTraceback) for f in logger.filters) == 1
    try:
        raise error
    except Exception:
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "Task run failed", None, sys.exc_info())
    assert logger.filter(record)
    assert (record.exc_info is not None) == traceback_kept
