"""The `rating sql` and `rating views` commands over a small stored run."""

from __future__ import annotations

from typer.testing import CliRunner

from pipeline.cli import app
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
