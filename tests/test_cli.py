"""The `rating sql` and `rating views` commands over a small stored run; operator mistakes on any command."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from functools import reduce
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline import cli
from pipeline.bill.invoices import BillingError
from pipeline.catalog import CatalogError
from pipeline.cli import app
from pipeline.io.file_ledger import FileLedgerError
from pipeline.io.postgres import PostgresUnavailable
from pipeline.io.readers.config import SourceConfigError
from pipeline.ledger import ConservationError
from pipeline.io import views, warehouse
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


def test_sql_to_a_pipe_or_a_log_shows_every_cell_whole(tmp_path):
    """docs/warehouse.md's `rating sql "select * from invoice_lines limit 5"` in a script or a cron
    log (no terminal, no COLUMNS): Rich fitted its 15 columns into 80 and printed `r…`, `K…`, `0.…`."""
    result = rate(usage(subscriber_id=["4331681272420", "4930123450"], duration_s=[61, 30]), catalog(), "run1")
    warehouse.write_run(result.stored_tables(), tmp_path, "run1")
    views.publish(tmp_path)
    out = runner.invoke(app, ["sql", "select * from invoice_lines order by contract_id", "--warehouse", str(tmp_path)])
    assert out.exit_code == 0, out.output
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.output.splitlines() if line.startswith("│")]
    assert [(r[0], r[1], r[10], r[14]) for r in rows] == [("run1", "K-MIN", "0.12", "2026-10"), ("run1", "K-SEC", "0.03", "2026-10")]
    assert "…" not in out.output


def test_sql_without_a_warehouse_says_what_to_do(tmp_path):
    out = runner.invoke(app, ["sql", "select 1", "--warehouse", str(tmp_path / "nothing")])
    assert out.exit_code == 2
    assert "rating run" in out.output


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("", "no result to show: no statement returns rows"),
        (";", "no result to show: no statement returns rows"),
        ("select '[red]x[/red] [sources.<name>]' as \"[b]v\"", "[red]x[/red] [sources.<name>]"),  # values are not markup
        ("select 'first-result' as a; select 'second-result' as b", "first-result"),  # every statement's result
        ("select 'first-result' as a; select 'second-result' as b", "second-result"),
    ],
    ids=["empty", "semicolon", "brackets", "two-statements-first", "two-statements-second"],
)
def test_sql_shows_what_a_query_returns_as_written(tmp_path, query, shown):
    views.publish(tmp_path)
    out = runner.invoke(app, ["sql", query, "--warehouse", str(tmp_path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert shown in out.output


def test_a_warehouse_path_with_braces_is_fine(tmp_path):
    """DuckDB reads { } in the views' paths as written; only * ? [ ] are patterns (diff review)."""
    braced = tmp_path / "wh{b}"
    braced.mkdir()
    out = runner.invoke(app, ["views", "--warehouse", str(braced)])
    assert out.exit_code == 0, out.output
    assert runner.invoke(app, ["sql", "select count(*) from invoice_lines", "--warehouse", str(braced)]).exit_code == 0


@pytest.mark.parametrize(
    ("command", "folder"),
    [
        (["sql", "select count(*) from rated_usage"], "rated_usage/period=2026-10"),
        (["sql", "select count(*) from invoice_lines"], "invoice_lines"),
        (["unassigned"], "unassigned"),
    ],
    ids=["sql-period-folder", "sql-table-folder", "unassigned"],
)
def test_a_stored_folder_that_cannot_be_listed_is_named_exit_1(tmp_path, monkeypatch, command, folder):
    """Mode 000 or another owner (listing refused, monkeypatched: root lists any folder): the views' globs read
    around it, the query's counts silently short; now the folder, permission denied and what to do, exit 1."""
    from tests.io.test_warehouse import FOLDER_PERMISSION, listing_refused

    result = rate(usage(subscriber_id=["4331681272420", "4930123450", "0000"], duration_s=[61, 30, 5]), catalog(), "run1")
    warehouse.write_run(result.stored_tables(), tmp_path, "run1")
    views.publish(tmp_path)
    listing_refused(monkeypatch, tmp_path / folder)
    out = runner.invoke(app, [*command, "--warehouse", str(tmp_path)])
    assert out.exit_code == 1, out.output
    assert out.output.strip() == f"error: stored folder {tmp_path / folder} cannot be listed (Permission denied): {FOLDER_PERMISSION}"


def test_a_bad_query_is_an_error_not_a_traceback(tmp_path):
    views.publish(tmp_path)
    out = runner.invoke(app, ["sql", "select nope from invoice_lines", "--warehouse", str(tmp_path)])
    assert out.exit_code == 1
    assert "nope" in out.output


@pytest.mark.parametrize(
    ("error", "traceback_kept"),
    [
        (CatalogError(pl.DataFrame({"file": ["tariffs.csv"], "line": [2], "column": ["vat_rate"], "value": ["x"], "rule": ["r"]})), False),
        (SourceConfigError("sources.toml: [partner] format 'freeswich' is not a format"), False),
        (BillingError("period '2026-13' is not a month YYYY-MM"), False),
        (PostgresUnavailable("cannot reach PostgreSQL at postgresql://rating:***@db/rating"), False),  # the server is down
        (FileLedgerError("the file ledger warehouse/file_ledger.parquet cannot be read (ComputeError: …): restore it from a backup, …"), False),
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
SAMPLE_CATALOG = Path(__file__).resolve().parents[1] / "data" / "sample" / "catalog"
MISSING = "catalog directory /nonexistent not found: pass --catalog or set RATING_CATALOG"
LIFECYCLE = ("--user", "mia", "--role", "Manager", "--catalog", "/nonexistent")


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["id-search", "43316812724", "--type", "phonee"], 2, "'phonee' is not one of 'phone', 'ipv4', 'ipv6', 'mac', 'string'"),
        (["unassigned", "--top", "-3"], 2, "Invalid value for '--top'"),
        (["unassigned", "--top", "0"], 2, "Invalid value for '--top'"),
        (["cancel", "V-1001", "M1", "--on", "2026-06-01", *LIFECYCLE], 2, MISSING),
        (["pause", "V-1001", "--from", "2026-06-01", "--through", "2026-06-30", *LIFECYCLE], 2, MISSING),
        (["set-contract", "V-1001", "--po-number", "PO-1", *LIFECYCLE], 2, MISSING),
        (["billing-state", "--catalog", "/nonexistent"], 2, MISSING),
        (["cost-control", "--period", "2026-10", "--catalog", "/nonexistent"], 2, MISSING),
        (["import-special-prices", "{empty}", "--catalog", "/nonexistent"], 2, MISSING),
        (["id-search", "43316812724", "--catalog", "/nonexistent"], 2, MISSING),
        (["import-ids", "{empty}", "--catalog", "/nonexistent"], 2, MISSING),
        (["import-special-prices", "{empty}", "--catalog", "{catalog}"], 1, "the file is empty: it needs its header line"),
        (["id-search", "43316812724", "--catalog", "{bad}"], 1, "customers.csv:1: the file is empty: it needs its header line"),
        (["cost-control", "--period", "2026-10", "--catalog", "{bad}", "--warehouse", "{tmp}"], 1, "the file is empty: it needs its header line"),
        (["set-contract", "V-1001", "--po-number", "PO-1", "--user", "mia", "--role", "Manager", "--catalog", "{bad}"], 1,
         "customers.csv:1: the file is empty: it needs its header line"),
        # a command that only reads the warehouse refuses a mistyped one instead of reporting (or creating) an empty one
        (["unassigned", "--warehouse", "{tmp}/typo"], 2, "/typo does not exist: check --warehouse (or RATING_WAREHOUSE)"),
        (["views", "--warehouse", "{tmp}/typo"], 2, "/typo does not exist: check --warehouse (or RATING_WAREHOUSE)"),
        (["cost-control", "--period", "2026-10", "--catalog", "{catalog}", "--warehouse", "{tmp}/typo"], 2,
         "/typo does not exist: check --warehouse (or RATING_WAREHOUSE)"),
        (["views", "--warehouse", "{empty}"], 2, "empty.csv is a file, not a directory: check --warehouse"),
        (["run", "--catalog", "{catalog}", "--warehouse", "{empty}"], 2, "empty.csv is a file, not a directory: pass --warehouse"),
        (["run", "--catalog", "{catalog}", "--warehouse", "{empty}/wh"], 2, "empty.csv, a folder it would be made in): pass --warehouse"),
        (["run", "--catalog", "{catalog}", "--warehouse", "{tmp}/wh[2026]"], 2, "its path holds [ ], which DuckDB's views read as a file pattern"),
        # a warehouse nothing can be written to (no permission, a read-only mount): told before Prefect starts, no traceback
        (["run", "--catalog", "{catalog}", "--warehouse", "/proc/rating-warehouse"], 2,
         "warehouse /proc/rating-warehouse cannot be written (No such file or directory): pass --warehouse or set RATING_WAREHOUSE"),
        (["bill", "--period", "2026-10", "--catalog", "{catalog}", "--warehouse", "/proc/self"], 2,
         "warehouse /proc/self cannot be written ("),
        (["cost-control", "--period", "2026-10", "--catalog", "{catalog}", "--warehouse", "/proc/self"], 2,
         "warehouse /proc/self cannot be written ("),
        (["rerate", "--all", "--catalog", "{catalog}", "--warehouse", "/proc/self"], 2,
         "warehouse /proc/self cannot be written ("),
        (["views", "--warehouse", "{globbed}"], 2, "its path holds [ ], which DuckDB's views read as a file pattern"),
        (["generate", "--seed", "-1", "--out", "{tmp}/generated"], 2, "Invalid value for '--seed'"),
        (["generate", "--cdrs", "10", "--contracts", "2", "--out", "{empty}/generated"], 2, "cannot write to"),
        # an error's text is printed as written, never read as markup
        (["cost-control", "--period", "[2026]-10", "--catalog", "{catalog}", "--warehouse", "{tmp}"], 2,
         "period '[2026]-10' is not a month YYYY-MM"),
        (["generate", "--contracts", "0", "--out", "{tmp}/generated"], 2, "Invalid value for '--contracts'"),
        (["generate", "--cdrs", "-5", "--out", "{tmp}/generated"], 2, "Invalid value for '--cdrs'"),
        (["generate", "--cdrs", "10", "--contracts", "2", "--out", "{empty}"], 2, "is a file"),
    ],
)
def test_an_operator_mistake_is_a_message_and_an_exit_code_not_a_traceback(tmp_path, args, exit_code, message):
    catalog = tmp_path / "catalog"
    shutil.copytree(SAMPLE_CATALOG, catalog)
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLE_CATALOG, bad)
    (bad / "customers.csv").write_bytes(b"")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "wh[1]").mkdir()
    places = {"{catalog}": str(catalog), "{bad}": str(bad), "{empty}": str(tmp_path / "empty.csv"), "{globbed}": str(tmp_path / "wh[1]"),
              "{tmp}": str(tmp_path)}  # fmt: skip
    args = [reduce(lambda arg, place: arg.replace(place, places[place]), places, a) for a in args]
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == exit_code, result.output
    assert message in " ".join(result.output.replace("│", " ").split())
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not an exception
    assert not (tmp_path / "generated").exists() and not (tmp_path / "typo").exists()


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (["import-ids", "{ids}", "--catalog", "{catalog}"], "device_ids.csv"),
        (["import-special-prices", "{prices}", "--catalog", "{catalog}"], "special_prices.csv"),
        (["pause", "V-1002", "--from", "2026-12-01", "--through", "2026-12-31", "--user", "alice", "--role", "Manager",
          "--catalog", "{catalog}"], "pauses.csv"),
    ],
    ids=["import-ids", "import-special-prices", "pause"],
)
def test_a_catalog_directory_nothing_can_be_written_to_is_a_message_not_a_traceback(tmp_path, monkeypatch, args, written):
    """A read-only mount or an immutable folder: the command says which file, and that nothing changed."""
    catalog = shutil.copytree(SAMPLE_CATALOG, tmp_path / "catalog")
    (tmp_path / "ids.csv").write_text("contract_id,id_value\nV-1001,4331699\n")
    (tmp_path / "prices.csv").write_text("contract_id,kind,number,price\nV-1001,friends,4312345678,0.0200\n")

    def refused(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("pipeline.io.catalog_files.tempfile.mkstemp", refused)
    before = {p.name: p.read_bytes() for p in catalog.iterdir() if p.name != ".catalog.lock"}  # a lock left in the sample by a run
    places = {"{catalog}": str(catalog), "{ids}": str(tmp_path / "ids.csv"), "{prices}": str(tmp_path / "prices.csv")}
    result = runner.invoke(app, [places.get(a, a) for a in args], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert " ".join(result.output.split()) == (
        f"error: {catalog / written} cannot be written (Operation not permitted): nothing was changed in the catalog"
    )
    assert {p.name: p.read_bytes() for p in catalog.iterdir() if p.name != ".catalog.lock"} == before


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["run", "--help"], "[env RATING_CATALOG, default data/sample/catalog]"),
        (["run", "--help"], "[env RATING_PG_URL]"),
        (["bill", "--help"], "[default: the last day billed]"),
    ],
)
def test_help_shows_the_bracketed_settings_of_an_option(command, shown):
    """Rich read `[env RATING_CATALOG, …]` as a style tag and dropped it from --help."""
    result = runner.invoke(app, command, env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert shown in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["unassigned", "--by", "bytes"], "'bytes' is not one of records, volume, duration"),
        (["id-search", "43316812724", "--at", "notadate"], "'notadate' is not YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)"),
        (["index-adjust", "--factor", "abc", "--effective", "2026-11-01", "--user", "u1", "--role", "Manager"],
         "index factor 'abc' is not a number (e.g. 1.032)"),
        (["pause", "V-1001", "--from", "2026-11-01", "--through", "2026-11-30", "--user", "u1", "--role", "Admin"],
         "role 'Admin' is unknown; act as one of Manager, Client"),
    ],
    ids=["unassigned-by", "id-search-at", "index-factor", "role"],
)
def test_a_mistake_in_the_command_line_exits_2(arguments, message):
    """The README promises exit code 2 for a mistake in the command line (1 is for the data)."""
    result = runner.invoke(app, arguments, env={"COLUMNS": "250"})
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


#: A command's process as far as SIGTERM goes: prefect_environment() as `rating run` calls it, an
#: atexit hook standing for Prefect's temporary server (its stop is one), then a flow's SIGTERM
#: bridge (Prefect's capture_sigterm: it crashes the run, then re-sends SIGTERM to the handler before it).
SIGTERMED = """
import atexit, pathlib, sys, time
from pipeline.cli import prefect_environment
from prefect.utilities.engine import capture_sigterm
prefect_environment()
atexit.register(lambda: pathlib.Path(sys.argv[1]).write_text("stopped"))
with capture_sigterm():
    print("ready", flush=True)
    time.sleep(60)
"""


def test_sigterm_stops_a_run_with_its_exit_hooks_so_prefects_temporary_server_stops_too(tmp_path):
    # docs/scheduling.md: "Stop a hung run with SIGTERM (...): it stops Prefect's temporary server
    # with it". That server is stopped by an atexit hook, which SIGTERM's default action skips.
    marker = tmp_path / "stopped"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "PREFECT_HOME": str(tmp_path / "prefect")}
    proc = subprocess.Popen([sys.executable, "-c", SIGTERMED, str(marker)], stdout=subprocess.PIPE, env=env, cwd=root)
    assert proc.stdout.readline().strip() == b"ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert marker.read_text() == "stopped"


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
#: nothing listens on port 1: the connection is refused at once
PG_DOWN = "postgresql://rating@127.0.0.1:1/rating"
PG_DOWN_SAID = (
    "cannot connect to PostgreSQL at postgresql://rating@127.0.0.1:1/rating: IO: [libpq] Failed to connect: "
    'connection to server at "127.0.0.1", port 1 failed: Connection refused'
)
#: contracts.csv of the sample with V-1002 starting in month 13: an invalid catalog
BAD_START = ("contracts.csv", "V-1002,C002,T-SEC,2024-06-15,", "V-1002,C002,T-SEC,2024-13-15,")


def _rating(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`rating ARGS` in a process of its own, as an operator or a scheduler runs it: against the
    session's Prefect server when a test started it (PREFECT_API_URL, as on a machine with a Prefect
    server), else with a temporary server of its own (10-20 s to start)."""
    from prefect.settings import PREFECT_API_URL

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "300"}
    if PREFECT_API_URL.value():
        env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def billed_sample(prefect_harness, tmp_path_factory) -> Path:
    """The README's sample: the flows of `rating run`, then `rating bill --period 2026-10` (invoices RE-000001 to
    RE-000004, dated 2026-10-31). Run here, on the session's Prefect server: the two commands, each in a process of
    its own with a Prefect server of its own, took 25 s (the tests run commands of their own over copies of it)."""
    from flows.billing_run import billing_run
    from flows.rate_usage import rate_usage

    root = tmp_path_factory.mktemp("billed-sample")
    catalog = shutil.copytree(SAMPLE / "catalog", root / "catalog")
    inbox = shutil.copytree(SAMPLE / "inbox", root / "inbox")
    with pytest.MonkeyPatch.context() as env:  # nothing taken from the caller's RATING_* settings
        for name in ("RATING_CATALOG", "RATING_INBOX", "RATING_WAREHOUSE", "RATING_SOURCES", "RATING_PG_URL"):
            env.delenv(name, raising=False)
        rated = rate_usage(catalog=str(catalog), inbox_dir=str(inbox), warehouse_dir=str(root / "wh"), sources=str(inbox / "sources.toml"))
        billed = billing_run(period="2026-10", catalog=str(catalog), warehouse_dir=str(root / "wh"))
    assert (rated["run_id"], billed["invoices"]) == (SAMPLE_RUN, 4)
    return root


@pytest.mark.parametrize(
    ("args", "edit", "message"),
    [
        (["bill", "--period", "2026-09"], None,
         "error: sequence RE already holds RE-000004 dated 2026-10-31: an invoice dated 2026-09-30 would be numbered after it "
         "(numbers follow the invoice dates); give --invoice-date 2026-10-31 or later"),
        (["bill", "--contract", "V-1001", "--until", "2026-09-30"], None,
         "error: sequence RE already holds RE-000004 dated 2026-10-31: an invoice dated 2026-09-30 would be numbered after it "
         "(numbers follow the invoice dates); give --invoice-date 2026-10-31 or later"),
        (["bill", "--period", "2026-10", "--pg-url", PG_DOWN], None,
         f"error: {PG_DOWN_SAID}"),
        (["bill", "--period", "2026-11"], BAD_START,  # 2026-10 is made: returned as stored, the catalog unread
         "error: catalog invalid (1 problem):"),
        (["run", "--inbox", "inbox", "--reprocess"], BAD_START,
         "run failed: CatalogError: catalog invalid (1 problem):"),
        (["rerate", "--period", "2026-10", "--allow-billed"], BAD_START,
         "re-rating failed: CatalogError: catalog invalid (1 problem):"),
        (["rerate", "--period", "2026-10", "--allow-billed", "--pg-url", PG_DOWN], None,
         "re-rating failed: PostgresError: run 1dda6dabf2f3264f is rated again in the warehouse, but PostgreSQL was not"),
    ],
    ids=["bill-dated-before-its-sequence", "single-invoice-dated-before-its-sequence", "bill-postgres-down", "bill-invalid-catalog",
         "run-invalid-catalog", "rerate-invalid-catalog", "rerate-postgres-down"],
)
def test_a_failed_command_ends_with_its_message_and_no_nanobind_leak_report(billed_sample, tmp_path, args, edit, message):
    """A failed `rating bill` printed its error and exited 1, then about 40 lines of `nanobind: leaked N instances!`,
    `leaked type "_duckdb.DuckDBPyConnection"`, `leaked function ...` at interpreter exit: Prefect keeps the failed
    run's exception (in its state and result store), and the exception's traceback kept the frame that held the
    billing run's DuckDB connection alive past the duckdb module's teardown."""
    shutil.copytree(billed_sample, tmp_path / "sample")
    if edit is not None:
        name, old, new = edit
        path = tmp_path / "sample" / "catalog" / name
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    done = _rating(*args, "--catalog", "catalog", "--warehouse", "wh", cwd=tmp_path / "sample")
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, said
    assert message in said
    assert ("nanobind" in done.stderr, "leaked" in done.stderr, "Traceback" in said) == (False, False, False), done.stderr


#: The sample's run, as `billed_sample` stored it, and three of its stored files.
SAMPLE_RUN = "1dda6dabf2f3264f"
RATED_FILE = f"wh/rated_usage/period=2026-10/run-{SAMPLE_RUN}_0.parquet"
LINES_FILE = f"wh/invoice_lines/period=2026-10/run-{SAMPLE_RUN}_0.parquet"
HISTORY_FILE = "wh/billing/runs/period-2026-10/billing_history.parquet"
UNASSIGNED_FILE = f"wh/unassigned/run-{SAMPLE_RUN}.parquet"
SETTLED_FILE = "wh/billing/runs/period-2026-10/settled_usage.parquet"
WHERE = ("--catalog", "catalog", "--warehouse", "wh")


def _corrupt(path: Path, how: str) -> None:
    """A stored file cut short (a power cut, a full disk), overwritten with something else, or with its data
    pages overwritten (16 bytes of every column chunk's first page, from its header on; the footer intact)."""
    data = path.read_bytes()
    if how == "page":
        meta = pq.ParquetFile(path).metadata
        pages = [meta.row_group(g).column(c).data_page_offset for g in range(meta.num_row_groups) for c in range(meta.num_columns)]
        data = bytearray(data)
        for start in pages:
            data[start + 2 : start + 18] = bytes(b ^ 0x5A for b in data[start + 2 : start + 18])
        path.write_bytes(bytes(data))
        return
    path.write_bytes(data[: len(data) // 2] if how == "cut" else b"not a parquet file\n" * 200)


@pytest.mark.parametrize(
    ("args", "file", "how", "reason", "fix"),
    [
        (["views"], RATED_FILE, "cut", "No magic bytes found at end of file", "rating run --reprocess"),
        (["views"], LINES_FILE, "garbage", "No magic bytes found at end of file", f"rating rerate --run {SAMPLE_RUN}"),
        (["views"], HISTORY_FILE, "cut", "No magic bytes found at end of file", "restore it from a backup"),
        (["cost-control", "--period", "2026-10"], RATED_FILE, "cut", "No magic bytes found at end of file", "rating run --reprocess"),
        (["cost-control", "--period", "2026-10"], RATED_FILE, "garbage", "No magic bytes found at end of file", "restore it from a backup"),
        (["billing-state"], RATED_FILE, "garbage", "No magic bytes found at end of file", "rating run --reprocess"),
        (["billing-state"], HISTORY_FILE, "cut", "No magic bytes found at end of file", "restore it from a backup"),
        (["rerate", "--run", SAMPLE_RUN, "--allow-billed"], RATED_FILE, "cut", "parquet: File out of specification: The file must end with PAR1",
         "rating run --reprocess"),
        (["unassigned"], UNASSIGNED_FILE, "cut", "parquet: File out of specification: The file must end with PAR1", "rating run --reprocess"),
        (["unassigned"], UNASSIGNED_FILE, "garbage", "parquet: File out of specification: The file must end with PAR1", "rating run --reprocess"),
        (["cost-control", "--period", "2026-10"], RATED_FILE, "page", "don't know what type:", "rating run --reprocess"),
        (["billing-state"], HISTORY_FILE, "page", "don't know what type:", "restore it from a backup"),
        (["billing-state"], SETTLED_FILE, "page", "Couldn't deserialize thrift: don't know what type:", "restore it from a backup"),
        (["unassigned"], UNASSIGNED_FILE, "page", "parquet: File out of specification: Invalid thrift: bad data", "rating run --reprocess"),
    ],
    ids=["views-rated", "views-lines", "views-history", "cost-control-rated-cut", "cost-control-rated-garbage", "billing-state-rated",
         "billing-state-history", "rerate-plan-rated", "unassigned-cut", "unassigned-garbage", "cost-control-rated-page",
         "billing-state-history-page", "billing-state-settled-page", "unassigned-page"],
)
def test_an_unreadable_stored_file_is_a_message_naming_it_not_a_traceback(billed_sample, tmp_path, args, file, how, reason, fix):
    """A Parquet file of the warehouse cut short or overwritten: `rating views`, `cost-control` and `billing-state` crashed with
    DuckDB's or Polars' traceback; the operator is told which file, what the reader said and what to do, exit code 1. A data
    page overwritten (the footer intact) was still a traceback: no reader names the file, and every footer reads."""
    shutil.copytree(billed_sample, tmp_path / "sample")
    root = tmp_path / "sample"
    _corrupt(root / file, how)
    where = ("--warehouse", str(root / "wh")) if args in (["views"], ["unassigned"]) else ("--catalog", str(root / "catalog"), "--warehouse", str(root / "wh"))
    result = runner.invoke(app, [*args, *where], env={"COLUMNS": "300"})
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not an exception
    assert f"error: stored file {root / file} cannot be read ({reason}" in said
    assert fix in said
    assert "Traceback" not in said


@pytest.mark.parametrize(
    ("args", "file", "how", "reason", "fix"),
    [
        (["run", "--inbox", "inbox", "--reprocess"], RATED_FILE, "cut",
         'parquet: File out of specification: expected parquet magic bytes "PAR1" or "PARE" in footer', "rating run --reprocess"),
        (["bill", "--period", "2026-11"], HISTORY_FILE, "cut", "No magic bytes found at end of file", "restore it from a backup"),
        (["bill", "--period", "2026-11"], HISTORY_FILE, "page", "don't know what type:", "restore it from a backup"),
        (["bill", "--period", "2026-11"], SETTLED_FILE, "page", "Couldn't deserialize thrift: don't know what type:", "restore it from a backup"),
    ],
    ids=["run-rated", "bill-history", "bill-history-page", "bill-settled-page"],
)
def test_a_flow_over_an_unreadable_stored_file_ends_with_a_message_naming_it(billed_sample, tmp_path, args, file, how, reason, fix):
    """The same for the commands that run a Prefect flow: Prefect logs the failed task without its traceback."""
    shutil.copytree(billed_sample, tmp_path / "sample")
    _corrupt(tmp_path / "sample" / file, how)
    done = _rating(*args, *WHERE, cwd=tmp_path / "sample")
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, said
    assert f"stored file {(tmp_path / 'sample' / file).resolve()} cannot be read ({reason}" in said
    assert fix in said
    assert ("Traceback" in said, "nanobind" in said) == (False, False), said


def test_a_rerating_makes_its_own_invoice_lines_anew_when_they_cannot_be_read(billed_sample, tmp_path):
    """What the message naming such a file says to do: `rating rerate --run <id>` carries the units of the runs
    before it only, so it never reads its own lines, and replaces the cut file (it stopped on it before)."""
    shutil.copytree(billed_sample, tmp_path / "sample")
    _corrupt(tmp_path / "sample" / LINES_FILE, "cut")
    done = _rating("rerate", "--run", SAMPLE_RUN, "--allow-billed", *WHERE, cwd=tmp_path / "sample")
    said = " ".join((done.stdout + done.stderr).split())
    assert (done.returncode, "Traceback" in said) == (0, False), said
    lines = pl.read_parquet(tmp_path / "sample" / LINES_FILE)
    assert (lines.height, str(lines.get_column("net_amount").sum())) == (19, "14.22")


@pytest.mark.parametrize(
    ("file", "how", "reason", "fix"),
    [
        (RATED_FILE, "cut", "No magic bytes found at end of file", "rating run --reprocess"),
        (RATED_FILE, "page", "don't know what type:", "rating run --reprocess"),
        (HISTORY_FILE, "page", "don't know what type:", "restore it from a backup"),
    ],
    ids=["rated-cut", "rated-page", "history-page"],
)
def test_sql_over_an_unreadable_stored_file_names_it(billed_sample, tmp_path, file, how, reason, fix):
    """`rating sql` over a view whose file was cut short or had a data page overwritten said 'SQL error: don't know what
    type:' (naming no file) or DuckDB's message with no word of what to do; now the message the other commands give."""
    shutil.copytree(billed_sample, tmp_path / "sample")
    root = tmp_path / "sample"
    assert runner.invoke(app, ["views", "--warehouse", str(root / "wh")]).exit_code == 0  # the views of this copy's files
    _corrupt(root / file, how)
    query = "select * from rated_usage" if file == RATED_FILE else "select * from billing_history"
    result = runner.invoke(app, ["sql", query, "--warehouse", str(root / "wh")], env={"COLUMNS": "300"})
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    assert f"error: stored file {root / file} cannot be read ({reason}" in said
    assert fix in said


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("select strptime('x', '%Y')", 'SQL error: Invalid Input Error: Could not parse string "x" according to format specifier "%Y"'),
        ("select * from read_parquet('{root}/nothing.parquet')", "SQL error: IO Error: No files found that match the pattern"),
    ],
    ids=["query-mistake", "query-file-missing"],
)
def test_sql_blames_a_query_mistake_on_the_query_not_on_an_unreadable_stored_file(billed_sample, tmp_path, query, message):
    """A query's own error, naming no stored file, while a stored file elsewhere cannot be read: it is the query's."""
    shutil.copytree(billed_sample, tmp_path / "sample")
    root = tmp_path / "sample"
    assert runner.invoke(app, ["views", "--warehouse", str(root / "wh")]).exit_code == 0
    _corrupt(root / RATED_FILE, "page")
    result = runner.invoke(app, ["sql", query.format(root=root), "--warehouse", str(root / "wh")], env={"COLUMNS": "300"})
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    assert message in said
    assert "stored file" not in said


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("wh/file_ledger.parquet",
         "the file ledger wh/file_ledger.parquet cannot be read (ComputeError: parquet: File out of specification: A Parquet file must "
         "contain a header and footer with at least 12 bytes): restore it from a backup, or move it away to start a new ledger"),
        ("wh/_file_ledger_pending/run-r7.parquet",
         "the file-ledger rows committed with run r7, wh/_file_ledger_pending/run-r7.parquet, cannot be read (ComputeError: parquet: "
         "File out of specification: A Parquet file must contain a header and footer with at least 12 bytes): restore the file from a backup"),
    ],
    ids=["ledger", "pending"],
)
def test_a_run_over_an_unreadable_file_ledger_ends_with_its_message_not_a_traceback(billed_sample, tmp_path, file, message):
    """The file ledger, or a killed run's pending ledger rows, cut short: the command ended with the message naming the
    file and what to do, but Prefect logged the failed task's and flow's tracebacks before it (FileLedgerError was not
    among the operator's errors)."""
    shutil.copytree(billed_sample, tmp_path / "sample")
    (tmp_path / "sample" / file).parent.mkdir(exist_ok=True)
    (tmp_path / "sample" / file).write_bytes(b"PAR1 cut")
    done = _rating("run", "--inbox", "inbox", *WHERE, cwd=tmp_path / "sample")
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, said
    assert f"run failed: FileLedgerError: {message}" in said
    assert ("Traceback" in said, "nanobind" in said) == (False, False), said


@pytest.mark.parametrize(
    "file",
    [
        "wh/billing/runs/period-2026-10/test/billing_history.parquet",
        "wh/billing/runs/period-2026-10/test/invoices.parquet",
        "wh/billing/runs/period-2026-10/test/invoice_items.parquet",
    ],
    ids=["test-history", "test-invoices", "test-invoice-items"],
)
def test_delete_accounts_check_of_unbilled_usage_names_an_unreadable_stored_file(billed_sample, tmp_path, file):
    """`rating delete-account` first checks the account's unbilled fees and usage over the committed billing runs'
    files: a test account's file of them cut short was read only by that check's queries, outside `reading`, so
    DuckDB's 'No magic bytes found' came out as a traceback instead of the message naming the file (exit 1)."""
    from datetime import date

    from pipeline.cli_billing import _refuse_unbilled
    from pipeline.io.billing_files import load_catalogs
    from pipeline.io.warehouse import UnreadableFile

    shutil.copytree(billed_sample, tmp_path / "sample")
    root = tmp_path / "sample"
    _corrupt(root / file, "cut")
    cat, bil = load_catalogs(root / "catalog")
    with pytest.raises(UnreadableFile) as raised:
        _refuse_unbilled(cat, bil, "C002", date(2026, 12, 1), root / "wh")
    said = str(raised.value)
    assert said.startswith(f"stored file {root / file} cannot be read (No magic bytes found at end of file"), said
    assert "restore it from a backup: a committed billing run is never written again" in said


@pytest.mark.parametrize(
    "command",
    [("run", "--inbox", str(SAMPLE / "inbox"), "--sources", str(SAMPLE / "inbox" / "sources.toml")), ("bill", "--period", "2026-10")],
    ids=["run", "bill"],
)
def test_a_bad_retry_delay_setting_is_a_message_and_exit_2_not_a_traceback(tmp_path, command):
    """RATING_PG_RETRY_DELAY is read when the flows are imported (pipeline.config.postgres_retry_delay):
    a value that is no number of seconds stopped the command with a traceback."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "300", "RATING_PG_RETRY_DELAY": "five"}
    (tmp_path / "wh").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *command, "--catalog", str(SAMPLE / "catalog"), "--warehouse", str(tmp_path / "wh")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    said = done.stdout + done.stderr
    assert (done.returncode, "Traceback" in said) == (2, False)
    assert "error: RATING_PG_RETRY_DELAY='five': give the seconds to wait before retrying PostgreSQL, a number >= 0" in " ".join(said.split())
