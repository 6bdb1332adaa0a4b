"""The `rerate_usage` flow under Prefect's test harness: stored runs of the shipped sample rated again from
the warehouse after catalog corrections, replacing their rows in the warehouse and in PostgreSQL.

The sample (tests/flows/test_rate_usage.py says what it holds) rates into 72 rated, 9 non-billable,
2 rejected and 19 unassigned records, net 14.22 in 19 invoice lines; 4331799999 made two of the
unassigned calls, both to Germany (75 s and 45 s).
"""

from __future__ import annotations

import logging.handlers
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.ledger import ConservationError
from pipeline.rerate import RerateError
from tests.flows.test_rate_usage import (
    NET_AMOUNT,
    OUTCOMES,
    PARTNER_HEADER,
    SAMPLE,
    VIEW_ROWS,
    rows_of,
    run_flow,
    sample_inbox,
    stopped_before_rated_usage,
    view_rows,
)

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]

#: Every column of every stored row a run's re-rating must give back unchanged with an unchanged catalog.
STORED = {
    "rated_usage": "SELECT * EXCLUDE (period) FROM rated_usage ORDER BY record_key",
    "invoice_lines": "SELECT * FROM invoice_lines ORDER BY run_id, contract_id, article_id, period",
    "unassigned": "SELECT * FROM unassigned ORDER BY record_key",
    "non_billable": "SELECT * FROM non_billable ORDER BY record_key",
    "rejects": "SELECT * FROM rejects ORDER BY run_id, source_file, source_line, \"column\"",
    "ledger": "SELECT * FROM ledger ORDER BY run_id, outcome",
    "quarantine": "SELECT * FROM quarantine ORDER BY run_id, source_file",
    "started": "SELECT run_id, started_at, input_files, input_records, net_amount FROM runs ORDER BY run_id",
}


def rerate(warehouse: Path, catalog: Path, **request) -> dict:
    from flows.rerate import rerate_usage

    return rerate_usage(catalog=str(catalog), warehouse_dir=str(warehouse), **request)


def stored(warehouse: Path) -> dict[str, list[tuple]]:
    return {name: rows_of(warehouse, statement) for name, statement in STORED.items()}


def test_rerating_with_an_unchanged_catalog_gives_back_every_row_and_doubles_nothing(tmp_path):
    catalog, inbox = sample_inbox(tmp_path)  # with three files no reader can read: quarantined
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    before = stored(warehouse)
    summary = rerate(warehouse, catalog, every=True)
    (run,) = summary["runs"]
    assert (run["run_id"], run["outcomes"], run["outcomes_before"], run["net_amount"]) == (first["run_id"], OUTCOMES, OUTCOMES, NET_AMOUNT)
    assert run["input_records"] == 102 and run["billed_changes"] == [] and summary["later_runs"] == []
    assert stored(warehouse) == before
    assert view_rows(warehouse) == VIEW_ROWS


@pytest.mark.postgres
def test_an_imported_device_id_assigns_the_unassigned_calls_and_postgres_follows(tmp_path, postgres_url):
    from pipeline.io.postgres import read_table

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse, pg_url=postgres_url)
    with open(catalog / "device_ids.csv", "a", encoding="utf-8") as ids:  # as `rating import-ids` writes it
        ids.write("V-1004,phone,4331799999,,,\n")
    summary = rerate(warehouse, catalog, periods=["2026-10"], pg_url=postgres_url)
    (run,) = summary["runs"]
    assert run["run_id"] == first["run_id"]
    assert run["outcomes"] == {**OUTCOMES, "rated": 74, "unassigned": 17}
    # V-1004 (T-MIN, per started minute, A-DE 0.045): 10 min before, now + 2 min (75 s) + 1 min (45 s) = 0.585 → 0.59
    assert run["net_amount"] == NET_AMOUNT + Decimal("0.14")
    assert rows_of(warehouse, "SELECT count(*), sum(quantity), sum(net_amount) FROM invoice_lines WHERE contract_id = 'V-1004' "
                              "AND article_id = 'A-DE'") == [(1, 780, Decimal("0.59"))]  # fmt: skip
    assert rows_of(warehouse, "SELECT count(*) FROM unassigned WHERE subscriber_id = '4331799999'") == [(0,)]
    assert view_rows(warehouse) == {**VIEW_ROWS, "rated_usage": 74, "unassigned": 17}
    lines, rated = read_table(postgres_url, "invoice_lines", run["run_id"]), read_table(postgres_url, "rated_usage", run["run_id"])
    assert (lines.num_rows, sum(lines["net_amount"].to_pylist()), rated.num_rows) == (19, NET_AMOUNT + Decimal("0.14"), 74)


def test_billed_usage_is_rated_again_only_on_request_and_its_changes_are_listed(tmp_path):
    from flows.billing_run import billing_run
    from flows.rerate import plan

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    billing_run(period="2026-10", catalog=str(catalog), warehouse_dir=str(warehouse))
    real, test = rows_of(warehouse, "SELECT count(*) FROM billed_usage")[0][0], rows_of(warehouse, "SELECT count(*) FROM test_billed_usage")[0][0]
    billed = real + test  # the test account's record counts too: its invoice is final as well
    prices = catalog / "prices.csv"
    prices.write_text(prices.read_text().replace("T-MIN,A-EU,0.1200", "T-MIN,A-EU,0.1000"))  # a price fixed
    with pytest.raises(RerateError, match=f"billed already: run {first['run_id']}: {billed} records on 5 invoices .*--allow-billed"):
        plan(warehouse, [first["run_id"]], [], False, allow_billed=False)
    with pytest.raises(RerateError, match="billed already"):  # the flow refuses too, before rating anything
        rerate(warehouse, catalog, run_ids=[first["run_id"]])
    assert rows_of(warehouse, "SELECT sum(net_amount) FROM invoice_lines") == [(NET_AMOUNT,)]
    (run,) = rerate(warehouse, catalog, run_ids=[first["run_id"]], allow_billed=True)["runs"]
    # V-1001's one call to the EU: 6 min × 0.12 billed, 6 min × 0.10 now
    (invoice,) = rows_of(warehouse, "SELECT invoice_id FROM invoices WHERE contract_id = 'V-1001'")[0]
    assert [(c["invoice_id"], c["contract_before"], c["amount_before"], c["contract_after"], c["amount_after"])
            for c in run["billed_changes"]] == [(invoice, "V-1001", Decimal("0.720000"), "V-1001", Decimal("0.600000"))]  # fmt: skip
    assert run["net_amount"] == NET_AMOUNT - Decimal("0.12")
    billing_run(period="2026-11", catalog=str(catalog), warehouse_dir=str(warehouse))  # bills none of them again
    assert rows_of(warehouse, "SELECT count(*), count(DISTINCT record_key) FROM billed_usage") == [(real, real)]


def test_runs_are_rated_again_in_the_order_they_came_and_keep_their_duplicates(tmp_path):
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    with open(inbox / "partner-20261001.csv", "a", encoding="utf-8") as handle:  # re-delivered with one more call
        handle.write("P-0009;0316 812724;0316 123456;03.11.2026 09:00:00;30;Sprache\n")
    second = run_flow(catalog, inbox, warehouse)
    before = stored(warehouse)
    summary = rerate(warehouse, catalog, every=True)
    assert [(r["run_id"], r["outcomes"]["duplicate"], r["net_amount"]) for r in summary["runs"]] == [
        (first["run_id"], 0, NET_AMOUNT), (second["run_id"], 8, Decimal("0.02")),
    ]  # fmt: skip
    assert stored(warehouse) == before
    assert rows_of(warehouse, "SELECT count(*), count(DISTINCT record_key) FROM usage") == [(101, 101)]


def test_rating_the_first_of_two_runs_of_a_period_names_the_later_one(tmp_path):
    catalog = shutil.copytree(SAMPLE / "catalog", tmp_path / "catalog")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLE / "inbox" / "sources.toml", inbox)

    def hand_in(name: str, day: int, durations: list[int]) -> None:  # V-1002: 6000 free seconds of A-NAT a month
        rows = [f"{name}-{i};0316 81999;01 5551234;0{day}.10.2026 10:0{i}:00;{d};Sprache\n" for i, d in enumerate(durations)]
        (inbox / f"partner-2026100{day}.csv").write_text(PARTNER_HEADER + "".join(rows))

    hand_in("A", 5, [1800, 1800, 1800])
    first = run_flow(catalog, inbox, tmp_path / "wh")
    hand_in("B", 6, [600, 600])
    second = run_flow(catalog, inbox, tmp_path / "wh")
    lines = "SELECT run_id, quantity, free_quantity, net_amount FROM invoice_lines ORDER BY run_id"
    before = rows_of(tmp_path / "wh", lines)
    only_first = rerate(tmp_path / "wh", catalog, run_ids=[first["run_id"]])
    assert only_first["later_runs"] == [(second["run_id"], "2026-10")]
    both = rerate(tmp_path / "wh", catalog, periods=["2026-10"])
    assert [r["run_id"] for r in both["runs"]] == [first["run_id"], second["run_id"]] and both["later_runs"] == []
    # the second run still goes on from the first's 5400 free seconds: 600 of its 1200 s are free
    assert rows_of(tmp_path / "wh", lines) == before
    assert sorted((q, f) for _, q, f, _ in before) == [(1200, 600), (5400, 5400)]


def test_rerate_by_period_takes_a_run_of_the_period_stored_after_the_command_began(tmp_path, monkeypatch):
    """The command chose its runs before Prefect started and handed the flow their ids: a
    scheduled run of the period stored meanwhile was left out, and the warning told the user to
    run the very command they had run (flow audit). The flow now chooses again under the lock."""
    import flows.rerate as flow_module
    from pipeline.cli import app

    catalog = shutil.copytree(SAMPLE / "catalog", tmp_path / "catalog")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLE / "inbox" / "sources.toml", inbox)
    (inbox / "partner-20261005.csv").write_text(PARTNER_HEADER + "A-0;0316 81999;01 5551234;05.10.2026 10:00:00;60;Sprache\n")
    first = run_flow(catalog, inbox, tmp_path / "wh")
    real_plan, later = flow_module.plan, {}

    def plan_then_a_run_arrives(*args, **kwargs):
        chosen = real_plan(*args, **kwargs)
        if not later:  # the command's own choice, before the flow: then a scheduled run stores one more
            (inbox / "partner-20261006.csv").write_text(PARTNER_HEADER + "B-0;0316 81999;01 5551234;06.10.2026 10:00:00;60;Sprache\n")
            later.update(run_flow(catalog, inbox, tmp_path / "wh"))
        return chosen

    monkeypatch.setattr(flow_module, "plan", plan_then_a_run_arrives)
    out = CliRunner().invoke(app, ["rerate", "--period", "2026-10", "--catalog", str(catalog), "--warehouse", str(tmp_path / "wh")],
                             env={"COLUMNS": "300"})  # fmt: skip
    assert out.exit_code == 0, out.output
    assert first["run_id"] in out.output and later["run_id"] in out.output
    assert "was not rated again" not in out.output


def test_a_run_whose_stored_rows_are_incomplete_is_not_rated_again(tmp_path):
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    (warehouse / "unassigned" / f"run-{first['run_id']}.parquet").unlink()  # 19 records gone
    kept = sorted(p.name for p in (warehouse / "rated_usage").rglob("*.parquet"))
    with pytest.raises(RerateError, match=f"run {first['run_id']}: 102 input records when it was rated, its stored tables hold 83"):
        rerate(warehouse, catalog, every=True)
    assert sorted(p.name for p in (warehouse / "rated_usage").rglob("*.parquet")) == kept
    assert rows_of(warehouse, "SELECT sum(net_amount) FROM invoice_lines") == [(NET_AMOUNT,)]


def test_the_command_run_again_finishes_a_rerating_that_stopped_while_storing(tmp_path, monkeypatch):
    """The re-rating after an import of IDs stopped once its unassigned records were swapped in
    (17, were 19) and its rated ones were not (72, will be 74): the stored tables hold 100 of 102
    records. `rating rerate` run again finishes that storing first, as the flow does, instead of
    refusing the run as lacking rows."""
    from pipeline.cli import app
    from pipeline.io import warehouse as stored

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    with open(catalog / "device_ids.csv", "a", encoding="utf-8") as ids:
        ids.write("V-1004,phone,4331799999,,,\n")
    rerate_stopped_before_rated_usage(warehouse, catalog, monkeypatch)
    assert stored.stored_records(warehouse, first["run_id"]) == 100
    out = CliRunner().invoke(app, ["rerate", "--period", "2026-10", "--catalog", str(catalog), "--warehouse", str(warehouse)],
                             env={"COLUMNS": "300"})  # fmt: skip
    assert out.exit_code == 0, out.output
    assert f"run {first['run_id']} had stopped while storing its staged files: its storing was finished" in out.output
    assert view_rows(warehouse) == {**VIEW_ROWS, "rated_usage": 74, "unassigned": 17}
    assert rows_of(warehouse, "SELECT sum(net_amount) FROM invoice_lines") == [(NET_AMOUNT + Decimal("0.14"),)]


def test_a_billing_run_after_a_rerating_that_stopped_while_storing_bills_the_amounts_rated_again(tmp_path, monkeypatch):
    """After a price fix the re-rating stopped with the run's invoice lines swapped in and its rated
    records not: a billing run then finishes that storing before it reads the rated usage, so it
    bills V-1001's call to the EU at the fixed price (6 min × 0.10), not at the old one (× 0.12)
    that the storing would then replace under the invoice without a word."""
    from flows.billing_run import billing_run

    catalog, warehouse, first = rated_then_eu_price_fixed(tmp_path)
    rerate_stopped_before_rated_usage(warehouse, catalog, monkeypatch)
    billing_run(period="2026-10", catalog=str(catalog), warehouse_dir=str(warehouse))
    assert rows_of(warehouse, "SELECT net_amount FROM invoice_items WHERE contract_id = 'V-1001' AND article_id = 'A-EU'") == [
        (Decimal("0.60"),)
    ]
    assert rows_of(warehouse, "SELECT run_id, amount FROM rated_usage WHERE contract_id = 'V-1001' AND article_id = 'A-EU'") == [
        (first["run_id"], Decimal("0.600000"))
    ]
    assert not (warehouse / ".staging").exists()


def test_cost_control_after_a_rerating_that_stopped_while_storing_finishes_that_storing_first(tmp_path, monkeypatch):
    """`rating cost-control` reads the rated usage of a period, so it finishes a run that stopped
    while swapping in its files before it reads them (half old, half new otherwise)."""
    from pipeline.cli import app

    catalog, warehouse, first = rated_then_eu_price_fixed(tmp_path)
    rerate_stopped_before_rated_usage(warehouse, catalog, monkeypatch)
    out = CliRunner().invoke(app, ["cost-control", "--period", "2026-10", "--catalog", str(catalog), "--warehouse", str(warehouse)],
                             env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    assert f"run {first['run_id']} had stopped while storing its staged files: its storing was finished" in out.output
    assert not (warehouse / ".staging").exists()
    assert rows_of(warehouse, "SELECT amount FROM rated_usage WHERE contract_id = 'V-1001' AND article_id = 'A-EU'") == [(Decimal("0.600000"),)]


def rerate_stopped_before_rated_usage(warehouse: Path, catalog: Path, monkeypatch) -> None:
    """Re-rate October, stopped after the run's other tables were swapped in, before its rated_usage."""
    stopped_before_rated_usage(monkeypatch, lambda: rerate(warehouse, catalog, periods=["2026-10"]))


def rated_then_eu_price_fixed(tmp_path: Path) -> tuple[Path, Path, dict]:
    """The sample rated, then T-MIN's A-EU price fixed (0.12 → 0.10): (catalog, warehouse, the run's summary)."""
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    prices = catalog / "prices.csv"
    prices.write_text(prices.read_text().replace("T-MIN,A-EU,0.1200", "T-MIN,A-EU,0.1000"))
    return catalog, warehouse, first


@pytest.fixture(scope="module")
def rated_sample(prefect_harness, tmp_path_factory) -> tuple[Path, Path]:
    """The sample rated once into a warehouse no test changes: (catalog, warehouse)."""
    root = tmp_path_factory.mktemp("rated")
    catalog, inbox = sample_inbox(root)
    run_flow(catalog, inbox, root / "warehouse")
    return catalog, root / "warehouse"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "one of --run, --period or --all (got none)"),
        (["--run", "nope"], "no stored run nope"),
        (["--period", "2026-13"], "a period is a month as YYYY-MM"),
    ],
)
def test_the_command_refuses_a_request_it_cannot_do_before_prefect_starts(rated_sample, args, message):
    from pipeline.cli import app

    catalog, warehouse = rated_sample
    out = CliRunner().invoke(app, ["rerate", *args, "--catalog", str(catalog), "--warehouse", str(warehouse)], env={"COLUMNS": "300"})
    assert (out.exit_code, message in out.output) == (2, True), out.output


def test_the_command_says_when_the_warehouse_holds_no_run(tmp_path):
    from pipeline.cli import app

    out = CliRunner().invoke(app, ["rerate", "--all", "--catalog", str(SAMPLE / "catalog"), "--warehouse", str(tmp_path / "none")],
                             env={"COLUMNS": "300"})  # fmt: skip
    assert out.exit_code == 2 and "holds no stored run: rate usage first" in out.output


def test_reprocessing_an_inbox_of_two_runs_says_the_catalog_does_not_reach_them_and_names_rerate(tmp_path):
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    with open(inbox / "partner-20261001.csv", "a", encoding="utf-8") as handle:
        handle.write("P-0009;0316 812724;0316 123456;03.11.2026 09:00:00;30;Sprache\n")
    second = run_flow(catalog, inbox, warehouse)
    third = run_flow(catalog, inbox, warehouse, reprocess=True)  # every file of both runs: a run of its own
    assert third["outcomes"]["rated"] == 0 and third["outcomes"]["duplicate"] == 101
    notes = [w for path, w in third["warnings"] if Path(path) == inbox]
    first_id, second_id = sorted([first["run_id"], second["run_id"]])
    assert notes == [
        f"101 records read again were stored by other runs ({first_id}, {second_id}) and count as duplicates here: the "
        f"current catalog does not reach them. To rate them with it: rating rerate --run {first_id} --run {second_id}"
    ]
    assert run_flow(catalog, inbox, warehouse, reprocess=True)["warnings"][-1] == (inbox, notes[0])  # the same again


def test_a_run_whose_stored_seconds_changed_is_not_rated_again(tmp_path):
    import polars as pl

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    stored_file = warehouse / "unassigned" / f"run-{first['run_id']}.parquet"
    frame = pl.read_parquet(stored_file)
    frame.with_columns(pl.col("duration_s") + pl.when(pl.int_range(pl.len()) == 0).then(1000).otherwise(0)).write_parquet(stored_file)
    with pytest.raises(ConservationError, match=r"its input was \(102, 14125, \d+\) .* but its stored tables hold \(102, 15125, \d+\)"):
        rerate(warehouse, catalog, every=True)
    assert rows_of(warehouse, "SELECT sum(net_amount) FROM invoice_lines") == [(NET_AMOUNT,)]


def test_reprocessing_a_billed_run_is_refused_unless_allowed(tmp_path):
    from flows.billing_run import billing_run

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    billing_run(period="2026-10", catalog=str(catalog), warehouse_dir=str(warehouse))
    prices = catalog / "prices.csv"
    prices.write_text(prices.read_text().replace("T-MIN,A-EU,0.1200", "T-MIN,A-EU,0.1000"))
    with pytest.raises(RerateError, match=f"run {first['run_id']} would be replaced, but 1 of its 72 billed records would rate differently"):
        run_flow(catalog, inbox, warehouse, reprocess=True)
    assert rows_of(warehouse, "SELECT sum(net_amount) FROM invoice_lines") == [(NET_AMOUNT,)]
    again = run_flow(catalog, inbox, warehouse, reprocess=True, allow_billed=True)
    assert (again["run_id"], again["net_amount"]) == (first["run_id"], NET_AMOUNT - Decimal("0.12"))


def test_a_run_that_stopped_after_storing_and_was_billed_is_finished_by_the_next_run(tmp_path, monkeypatch):
    """Stored, then stopped before its files were recorded (a crash; PostgreSQL down no longer: its write
    comes after the recording), then billed: the next run records its files from its commit and reads
    nothing; reprocessed, it rates the same records the same, so it replaces the stored run instead of
    being refused."""
    from flows.billing_run import billing_run
    import flows.rate_usage as flow_module

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"

    def stopped(*args, **kwargs):
        raise ConnectionError("PostgreSQL is down")

    with monkeypatch.context() as patch:
        patch.setattr(flow_module, "record_files", stopped)
        with pytest.raises(ConnectionError):
            run_flow(catalog, inbox, warehouse)
    billing_run(period="2026-10", catalog=str(catalog), warehouse_dir=str(warehouse))
    assert run_flow(catalog, inbox, warehouse)["run_id"] is None  # its files are recorded from its commit
    again = run_flow(catalog, inbox, warehouse, reprocess=True)
    assert (again["outcomes"]["rated"], again["net_amount"]) == (72, NET_AMOUNT)
    assert rows_of(warehouse, "SELECT count(*), sum(net_amount) FROM invoice_lines") == [(19, NET_AMOUNT)]
    assert rows_of(warehouse, "SELECT count(*), count(DISTINCT run_id) FROM file_ledger") == [(10, 1)]


def test_reprocessing_a_run_names_the_later_runs_of_its_periods(tmp_path):
    """A later run of the same period went on from the replaced run's old free quantities and tiers:
    --reprocess says so and how to rate both again, as `rating rerate` does (sink audit)."""
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    more = tmp_path / "more"
    more.mkdir()
    shutil.copy(inbox / "sources.toml", more)
    (more / "partner-20261002.csv").write_text(PARTNER_HEADER + "Q-0001;0316 812724;0316 123456;02.10.2026 10:00:00;100;Sprache\n")
    later = run_flow(catalog, more, warehouse)
    again = run_flow(catalog, inbox, warehouse, reprocess=True)
    assert again["run_id"] == first["run_id"]
    said = [warning for _, warning in again["warnings"] if "also holds records" in warning]
    assert said == [
        f"run {later['run_id']} also holds records of 2026-10 but was not rated again: its free quantities and tiers went on "
        f"from run {first['run_id']}'s old figures (rating rerate --period 2026-10 rates both again)"
    ]


def test_a_run_that_replaces_a_stored_run_holds_the_billing_lock_while_it_rates(tmp_path, monkeypatch):
    """No billing run may bill a stored run between the check that it is unbilled and its replacement."""
    import fcntl

    import flows.rate_usage as flow_module

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    lock_file = warehouse / "billing" / ".lock"
    held_while_rating = []

    def probed(original):
        def rate_batch(*args, **kwargs):
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            with open(lock_file, "a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    held_while_rating.append(False)
                except BlockingIOError:
                    held_while_rating.append(True)
            return original(*args, **kwargs)

        return rate_batch

    monkeypatch.setattr(flow_module, "rate_batch", probed(flow_module.rate_batch))
    run_flow(catalog, inbox, warehouse)  # a new run: billing may go on meanwhile
    run_flow(catalog, inbox, warehouse, reprocess=True)  # the same run again: it replaces the stored one
    assert held_while_rating == [False, True]


def test_the_commands_table_lists_every_outcome_so_a_row_adds_up_to_its_records(tmp_path):
    """docs audit: the table had no non_billable or rejected column, so the sample's row (102 records)
    showed 72 + 19 = 91."""
    from pipeline.cli import app

    catalog, inbox = sample_inbox(tmp_path)
    first = run_flow(catalog, inbox, tmp_path / "warehouse")
    out = CliRunner().invoke(app, ["rerate", "--all", "--catalog", str(catalog), "--warehouse", str(tmp_path / "warehouse")],
                             env={"COLUMNS": "300"})  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = [line.replace("│", " ").replace("┃", " ").split() for line in out.output.splitlines() if "│" in line or "┃" in line]
    assert rows[0] == ["run", "records", "rated", "non_billable", "rejected", "unassigned", "unrateable", "duplicate", "net", "amount"]
    assert rows[1] == [first["run_id"], "102", "72", "9", "2", "19", "0", "0", "14.22"]



def test_postgres_down_is_an_operators_error_logged_without_its_traceback(tmp_path, monkeypatch):
    """`rating rerate` with the server down printed two tracebacks: the flow wrapped PostgresUnavailable
    in a RuntimeError, which Prefect logs with its traceback, where `rating run` and `rating bill`
    print the message alone (ops audit)."""
    import logging

    import flows.rerate as flow_module
    from pipeline import cli

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)

    def down(*args, **kwargs):
        from pipeline.io.postgres import PostgresUnavailable

        raise PostgresUnavailable("cannot connect to PostgreSQL at postgresql://rating:***@db.example/rating: connection refused")

    monkeypatch.setattr(flow_module, "to_postgres", down)
    with pytest.raises(Exception) as failed:
        rerate(warehouse, catalog, every=True, pg_url="postgresql://rating:s3cret@db.example/rating")
    assert (f"run {first['run_id']} is rated again in the warehouse, but PostgreSQL was not written "
            "(PostgresUnavailable: cannot connect to PostgreSQL") in str(failed.value)  # fmt: skip
    record = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "failed", None,
                               (type(failed.value), failed.value, failed.value.__traceback__))  # fmt: skip
    assert cli.OperatorErrorsWithoutTraceback().filter(record) and record.exc_info is None


def test_a_stored_file_the_postgres_catch_up_cannot_read_is_named_without_a_traceback(tmp_path, monkeypatch):
    """The catch-up after a re-rated run's PostgreSQL write reads every run PostgreSQL lacks from the warehouse;
    one of their files cut short raised UnreadableFile, which the flow wrapped in a RuntimeError: Prefect logged
    its traceback and `rating rerate` said "RuntimeError: …" where every other command names the file, exit 1."""
    import logging

    import flows.rerate as flow_module
    from pipeline import cli
    from pipeline.io import warehouse as stored

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    other = tmp_path / "other" / "rated_usage" / "period=2026-10" / "run-b_0.parquet"  # another run's file, cut short
    other.parent.mkdir(parents=True)
    other.write_bytes(b"PAR1 cut short")

    def catch_up_over_a_cut_file(*args, **kwargs):
        return stored.stored_run(tmp_path / "other", "b", in_parts=("rated_usage",))["rated_usage"].__next__()

    monkeypatch.setattr(flow_module, "to_postgres", catch_up_over_a_cut_file)
    with pytest.raises(stored.UnreadableFile) as failed:
        rerate(warehouse, catalog, every=True, pg_url="postgresql://rating:s3cret@db.example/rating")
    assert str(failed.value).startswith(
        f"run {first['run_id']} is rated again in the warehouse, but PostgreSQL was not written: stored file {other} cannot be read ("
    )
    record = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "failed", None,
                               (type(failed.value), failed.value, failed.value.__traceback__))  # fmt: skip
    assert cli.OperatorErrorsWithoutTraceback().filter(record) and record.exc_info is None


def test_a_run_an_older_release_stored_is_named_and_rated_again_in_this_releases_shape(tmp_path):
    """A run stored by the release before free quantities (its rated_usage and invoice_lines files without the
    columns added with them, schemas/outputs.py): a later run of its period stopped on a ColumnNotFound traceback
    while carrying its units; now it names the file and the re-rating that stores it anew, which reads it."""
    import pyarrow.parquet as pq

    from pipeline.io.warehouse import UnreadableFile

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    before = stored(warehouse)
    added = {"rated_usage": ["band", "free_quantity", "price_ref", "tier", "tier_before", "fee"],
             "invoice_lines": ["tariff_id", "free_quantity", "vat_code"]}  # fmt: skip
    for table, columns in added.items():  # the older release's files
        for path in (warehouse / table).rglob("*.parquet"):
            pq.write_table(pq.read_table(path).drop_columns(columns), path)
    (inbox / "partner-20261003.csv").write_text(PARTNER_HEADER + "P-0900;0316 812724;0316 123456;03.10.2026 09:00:00;30;Sprache\n")
    run_id = first["run_id"]
    with pytest.raises(UnreadableFile) as raised:
        run_flow(catalog, inbox, warehouse)
    assert str(raised.value) == (
        f"stored file {warehouse}/invoice_lines/period=2026-10/run-{run_id}_0.parquet was written by an older release, "
        f"without tariff_id: make run {run_id}'s tables again from its stored records: `rating rerate --run {run_id}` "
        "(with --allow-billed if it was billed), then run this command again (docs/warehouse.md)"
    )
    (run,) = rerate(warehouse, catalog, run_ids=[run_id])["runs"]
    assert (run["outcomes"], run["net_amount"]) == (OUTCOMES, NET_AMOUNT)
    assert stored(warehouse) == before  # every column back, in this release's shape
    later = run_flow(catalog, inbox, warehouse)
    assert (later["files"]["read"], later["outcomes"]["rated"]) == (1, 1)


def test_a_rerating_whose_views_cannot_be_built_is_stored_and_says_so(tmp_path, monkeypatch):
    """The runs are rated again and stored; only the analyst database could not be built (a full disk): the
    re-rating failed as if nothing were stored; now its summary says so (`views`, a warning of `rating rerate`)."""
    import duckdb

    from pipeline.io import views

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    (warehouse / "analytics.duckdb").unlink()  # so the re-rating builds it

    def full(warehouse_dir):
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(views, "_build", full)
    summary = rerate(warehouse, catalog, every=True)
    assert [(run["run_id"], run["net_amount"]) for run in summary["runs"]] == [(first["run_id"], NET_AMOUNT)]
    assert summary["views"] == (
        "the analyst views were not built anew (IOException: No space left on device); what the run stored is in place: "
        f"`rating views --warehouse {warehouse}` builds them once that is fixed (the next run tries again)"
    )


@pytest.mark.parametrize(("build", "attempts", "warnings"), [("fails", 1, 1), ("works", 1, 0)])
def test_a_rerating_refreshes_the_views_once_after_storing(tmp_path, monkeypatch, build, attempts, warnings):
    """Each run's store refreshed the views and the flow once more after its runs: a build that failed
    was tried twice and its warning logged twice. Now the flow refreshes them once, after its runs."""
    import duckdb

    from pipeline.io import views

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    run_flow(catalog, inbox, warehouse)
    (warehouse / "analytics.duckdb").unlink()  # so the re-rating builds it
    tried, real = [], views._build

    def counted(warehouse_dir):
        tried.append(warehouse_dir)
        if build == "fails":
            raise duckdb.IOException("No space left on device")
        return real(warehouse_dir)

    monkeypatch.setattr(views, "_build", counted)
    records = logging.handlers.BufferingHandler(capacity=10_000)
    prefect_logs = logging.getLogger("prefect")  # the run loggers' parent: Prefect's loggers do not reach the root one
    prefect_logs.addHandler(records)
    try:
        summary = rerate(warehouse, catalog, every=True)
    finally:
        prefect_logs.removeHandler(records)
    logged = [r for r in records.buffer if "the analyst views were not built anew" in r.getMessage()]
    assert (len(tried), len(logged), summary["views"] is None) == (attempts, warnings, build == "works")
