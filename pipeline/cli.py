"""The `rating` command."""

from __future__ import annotations

import logging
import os
import signal
import traceback
from pathlib import Path
from typing import Optional

import click
import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from pipeline.catalog import CatalogNotFound, CatalogNotWritable
from pipeline.cli_output import console, error, existing_warehouse, glob_problem, note, unwritable, writable_warehouse
from pipeline.config import SettingError
from pipeline.io.warehouse import UnreadableFile
from schemas.outputs import OUTCOMES


class _Commands(TyperGroup):
    """The `rating` commands, with the operator mistakes every command can make turned into a
    message and exit code 2 (as for a bad option) instead of a traceback, a stored file that cannot
    be read into a message naming it and exit code 1, and every exit's exception chain let go of
    its frames (`_release_frames`)."""

    def invoke(self, ctx):
        try:
            return self._invoke(ctx)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit) as exc:
            _release_frames(exc)
            raise

    def _invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CatalogNotFound as exc:
            error(f"{exc}: pass --catalog or set RATING_CATALOG")
            raise typer.Exit(2) from None
        except CatalogNotWritable as exc:  # a read-only catalog directory, as an unwritable warehouse
            error(exc)
            raise typer.Exit(2) from None
        except UnreadableFile as exc:  # a warehouse file cut short or overwritten (pipeline.io.warehouse.reading)
            error(exc)
            raise typer.Exit(1) from None
        except SettingError as exc:  # read where it is used: RATING_PG_RETRY_DELAY when the flows are imported
            error(exc)
            raise typer.Exit(2) from None


def _release_frames(exc: BaseException) -> None:
    """Clear the local variables of every finished frame in the tracebacks of `exc` and of the errors
    it was raised from or while handling (`raise typer.Exit(1) from None` keeps the error as its
    `__context__`).

    A command that ends on an error it told the user about (exit code 1 or 2, SIGTERM's exit) may
    leave that error alive until the interpreter's exit: Prefect keeps a failed task's or flow's
    exception in its state and its result store's cache. Its traceback keeps the frames it passed
    through, and their locals, alive with it: the billing run's or a stage's DuckDB connection and
    relations. Still alive when the duckdb module is torn down, each makes nanobind print
    `nanobind: leaked N instances!` and some 40 lines more on stderr, after the command's own message.
    The chain is cut too (`__cause__`, `__context__`): an error of DuckDB's own kept alive makes the same report.
    Unexpected errors are left alone: their traceback is printed after this, with its frames' locals.
    """
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)  # skips a frame still running (this command's own)
        pending += [current.__cause__, current.__context__]
        # and let go of the errors themselves: a DuckDB error still alive then is a leak to nanobind too (a stored
        # file that cannot be read: UnreadableFile is raised from the reader's error, which Prefect would keep with it)
        current.__cause__ = current.__context__ = None


app = typer.Typer(cls=_Commands, no_args_is_help=True, add_completion=False, help="Usage rating and contract billing.")


#: Prefect settings `rating run` applies unless the environment sets them (local ephemeral mode needs none).
PREFECT_DEFAULTS = {
    # A cold start (new SQLite database, migrations) takes 10-20 s on 2 cores; Prefect gives up after 20 s.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # The temporary server phones home and logs an ERROR where there is no internet.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
#: Quiet Prefect's own chatter (temporary server start/stop, every task's state); --verbose keeps it.
PREFECT_QUIET = {
    "PREFECT_LOGGING_LOGGERS_PREFECT_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "INFO",
}


def prefect_environment(verbose: bool = False) -> None:
    """Apply the Prefect settings of a local command line run, unless the environment sets them,
    and make SIGTERM an orderly exit.

    Call before importing a flow: Prefect reads its settings on import.
    """
    for name, value in {**PREFECT_DEFAULTS, **({} if verbose else PREFECT_QUIET)}.items():
        os.environ.setdefault(name, value)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum, frame) -> None:
    """SIGTERM (`kill PID`, `timeout`) ends the command with exit code 143 through Python's exit, so
    its exit hooks run: Prefect's temporary server is stopped by one (SIGTERM's default action skips
    them and leaves that server running with parent 1). A flow's own SIGTERM handler marks the run
    crashed, then passes the signal on to this one."""
    raise SystemExit(128 + signum)


#: The installation's paths, as the commands that run flows take them (pipeline.config.Settings).
CATALOG = typer.Option(None, "--catalog", help="Catalog directory \\[env RATING_CATALOG, default data/sample/catalog]")
INBOX = typer.Option(None, "--inbox", help="Inbox of usage files \\[env RATING_INBOX, default data/sample/inbox]")
WAREHOUSE = typer.Option(None, "--warehouse", help="Warehouse directory \\[env RATING_WAREHOUSE, default ./warehouse]")
SOURCES = typer.Option(None, "--sources", help="Source configuration \\[env RATING_SOURCES, default <inbox>/sources.toml]")


class OperatorErrorsWithoutTraceback(logging.Filter):
    """Drop the traceback from Prefect's log record of a failed task or flow when the error is
    the operator's to fix (a catalog cell, a source setting, a billing request, a PostgreSQL server down, a stored
    file or the file ledger that cannot be read): its message
    says what and where, and the command prints it once more at the end. Other errors keep it."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pipeline.bill.invoices import BillingError
        from pipeline.catalog import CatalogError, CatalogNotFound
        from pipeline.ingest.numbers import NumberingPlanError
        from pipeline.io.billing_store import BillingStoreError
        from pipeline.io.file_ledger import FileLedgerError
        from pipeline.io.postgres import PostgresError
        from pipeline.io.readers.config import SourceConfigError
        from pipeline.lifecycle.audit import LifecycleError
        from pipeline.rerate import RerateError

        operator = (
            CatalogError, CatalogNotFound, SourceConfigError, NumberingPlanError, BillingError, BillingStoreError, LifecycleError,
            RerateError, PostgresError, UnreadableFile, FileLedgerError,
        )  # fmt: skip
        if record.exc_info and isinstance(record.exc_info[1], operator):
            record.exc_info, record.exc_text = None, None
        return True


#: Prefect's loggers of task and flow runs: they log a failed run's exception with its traceback.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


def quiet_operator_errors() -> None:
    """Install OperatorErrorsWithoutTraceback on Prefect's run loggers (once; after Prefect set its logging up)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OperatorErrorsWithoutTraceback) for f in logger.filters):
            logger.addFilter(OperatorErrorsWithoutTraceback())


@app.command()
def run(
    catalog: Optional[Path] = CATALOG,
    inbox: Optional[Path] = INBOX,
    warehouse: Optional[Path] = WAREHOUSE,
    sources: Optional[Path] = SOURCES,
    pg_url: Optional[str] = typer.Option(None, help="PostgreSQL URL to also write to \\[env RATING_PG_URL]"),
    reprocess: bool = typer.Option(
        False, "--reprocess",
        help="Read the inbox files the file ledger knows too (after fixing sources.toml or the catalog); "
        "records already stored by another run count as duplicates, never twice",
    ),  # fmt: skip
    allow_billed: bool = typer.Option(
        False, "--allow-billed", help="With --reprocess: replace a run even where billed records rate differently now (their invoices stay as they are)"
    ),
    settle: float = typer.Option(
        0, min=0, envvar="RATING_SETTLE",
        help="Skip files modified less than this many seconds ago (an upload still in progress); the next run reads them",
    ),  # fmt: skip
    max_records: int = typer.Option(
        0, min=0, envvar="RATING_MAX_RECORDS",
        help="Read new files (whole, two at a time) until they hold this many records and leave the others for the "
        "next run, so a backlog is rated in runs of bounded memory (0: no limit)",
    ),  # fmt: skip
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own log lines too"),
) -> None:
    """Rate the inbox with the `rate_usage` Prefect flow (local ephemeral mode, no server needed).

    Each file is rated once, known by its content: files rated before are skipped with the
    reason, and when every file is known the run does nothing and says so (exit code 0).
    """
    from pipeline.config import Settings

    settings = Settings.from_env(catalog=_s(catalog), inbox=_s(inbox), warehouse=_s(warehouse), sources=_s(sources))
    problems = [
        f"{what} {path} not found: {fix}"
        for what, path, ok, fix in (
            ("catalog directory", settings.catalog, settings.catalog.is_dir(), "pass --catalog or set RATING_CATALOG"),
            ("inbox directory", settings.inbox, settings.inbox.is_dir(), "pass --inbox or set RATING_INBOX"),
            ("source configuration", settings.sources, settings.sources.is_file(), "pass --sources or set RATING_SOURCES"),
        )
        if not ok
    ]
    # the warehouse, or a folder it would be made in, must not be a file
    blocked = next((p for p in (settings.warehouse, *settings.warehouse.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        where = "" if blocked == settings.warehouse else f" ({blocked}, a folder it would be made in)"
        problems.append(f"warehouse {settings.warehouse} is a file, not a directory{where}: pass --warehouse or set RATING_WAREHOUSE")
    else:
        problems += filter(None, [glob_problem(settings.warehouse)])
    if not problems:  # made (as the run would make it) only when every path is right
        problems += filter(None, [unwritable(settings.warehouse)])
    if problems:
        for problem in problems:
            error(problem)
        console.print("(the defaults are relative to the repository root: run `rating run` there)")
        raise typer.Exit(2)
    prefect_environment(verbose)
    if pg_url:
        # Through the environment, not a flow parameter: Prefect stores parameters, and URLs carry passwords.
        os.environ["RATING_PG_URL"] = pg_url
    from flows.rate_usage import rate_usage  # after the settings above: Prefect reads them on import

    quiet_operator_errors()
    console.print(f"rating {settings.inbox} (Prefect, local ephemeral server: ~20 s to start the first time)")
    try:
        summary = rate_usage(
            catalog=str(settings.catalog), inbox_dir=str(settings.inbox), warehouse_dir=str(settings.warehouse),
            sources=str(settings.sources), reprocess=reprocess, allow_billed=allow_billed, settle_s=settle,
            max_records=max_records,
        )  # fmt: skip
    except Exception as exc:  # Prefect has logged the traceback; the user needs the message and the exit code
        error(f"{type(exc).__name__}: {exc}", "run failed")
        raise typer.Exit(1) from None  # _Commands.invoke lets go of the error's frames (their DuckDB objects)
    _print_summary(summary)
    if summary.get("views"):  # the run is stored: a warning, exit 0 (docs/warehouse.md)
        note(summary["views"])
    files = summary["files"]
    if summary["run_id"] is not None and files["quarantined"] and not files["read"]:
        # stored and recorded, yet nothing of the hand-in was read: a scheduler must notice
        error(f"no file of the hand-in could be read: all {files['quarantined']:,} were quarantined (reasons above); "
              "fix the files or sources.toml, then run with --reprocess")  # fmt: skip
        raise typer.Exit(1)


@app.command()
def rerate(
    run_ids: Optional[list[str]] = typer.Option(None, "--run", help="A stored run to rate again (repeatable)"),
    periods: Optional[list[str]] = typer.Option(
        None, "--period", help="Rate again every run holding records of this UTC month, YYYY-MM (repeatable)"
    ),
    every: bool = typer.Option(False, "--all", help="Rate every stored run again"),
    catalog: Optional[Path] = CATALOG,
    warehouse: Optional[Path] = WAREHOUSE,
    pg_url: Optional[str] = typer.Option(None, help="PostgreSQL URL to also write to \\[env RATING_PG_URL]"),
    allow_billed: bool = typer.Option(
        False, "--allow-billed",
        help="Rate runs with billed usage too; invoices stay as they are, and every billed record whose amount changes is listed",
    ),  # fmt: skip
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own log lines too"),
) -> None:
    """Rate stored runs again from the warehouse with the current catalog (after a price fix, or
    device IDs imported for unassigned numbers), replacing their rows: nothing is doubled."""
    from pipeline.config import Settings
    from pipeline.rerate import RerateError

    settings = Settings.from_env(catalog=_s(catalog), warehouse=_s(warehouse))
    if not settings.catalog.is_dir():
        error(f"catalog directory {settings.catalog} not found: pass --catalog or set RATING_CATALOG")
        raise typer.Exit(2)
    if settings.warehouse.is_dir():  # the runs rated again replace their files in it (none: the plan says so)
        writable_warehouse(settings.warehouse)
    prefect_environment(verbose)
    if pg_url:
        os.environ["RATING_PG_URL"] = pg_url  # not a flow parameter: Prefect stores parameters, URLs carry passwords
    from flows.rerate import plan, rerate_usage
    from pipeline.io import warehouse as stored

    # a run that stopped while storing is finished first, as the flow does: else the check
    # below would count its tables half swapped in and refuse it as lacking rows
    for run_id in stored.finish_stopped(settings.warehouse):
        note(f"run {run_id} had stopped while storing its staged files: its storing was finished")
    try:  # the request's mistakes, before Prefect starts
        chosen = plan(settings.warehouse, run_ids or [], periods or [], every, allow_billed)
    except RerateError as exc:
        error(exc)
        raise typer.Exit(2) from None
    if not chosen.runs:
        console.print(f"nothing to rate again: no stored run holds records of {', '.join(periods or []) or 'any period'}")
        return
    quiet_operator_errors()
    runs = f"{len(chosen.runs)} stored run{'s' if len(chosen.runs) > 1 else ''}"
    console.print(f"rating {runs} again (Prefect, local ephemeral server: ~20 s to start the first time)")
    try:
        # the request, not the runs chosen above: the flow chooses again under the rating lock, so a
        # run of the period stored meanwhile (a scheduled `rating run`) is rated again too
        summary = rerate_usage(
            run_ids=run_ids or None, periods=periods or None, every=every, catalog=str(settings.catalog),
            warehouse_dir=str(settings.warehouse), allow_billed=allow_billed,
        )
    except Exception as exc:  # Prefect has logged the traceback; the user needs the message and the exit code
        error(f"{type(exc).__name__}: {exc}", "re-rating failed")
        raise typer.Exit(1) from None  # _Commands.invoke lets go of the errors' frames (their DuckDB objects)
    _print_rerated(summary)
    if summary.get("views"):  # the runs are stored: a warning, exit 0 (docs/warehouse.md)
        note(summary["views"])


def _print_rerated(summary: dict) -> None:
    table = Table(title="runs rated again (before → after)")
    table.add_column("run", no_wrap=True)
    for column in ("records", *OUTCOMES, "net amount"):  # every outcome: the row adds up to its records
        table.add_column(column, justify="right")
    for run in summary["runs"]:
        before, now = run["outcomes_before"], run["outcomes"]
        outcomes = (_change(before.get(o, 0), now.get(o, 0), "{:,}") for o in OUTCOMES)
        table.add_row(run["run_id"], f"{run['input_records']:,}", *outcomes, _change(run["net_before"], run["net_amount"], "{}"))
    console.print(table)
    for run in summary["runs"]:
        changed = run["billed_changes"]
        if changed:
            console.print(
                f"[yellow]billed[/yellow] run {run['run_id']}: {len(changed):,} billed records now rate differently; "
                "invoices are final: these differences are not billed"
            )
            table = Table("record", "invoice", "before", "now")
            for c in changed:  # the billed records that changed, each listed
                table.add_row(c["record_key"], c["invoice_id"], _rated_as(c["contract_before"], c["amount_before"], c["free_before"]),
                              _rated_as(c["contract_after"], c["amount_after"], c["free_after"]))  # fmt: skip
            console.print(table)
    for run_id, period in summary["later_runs"]:
        console.print(
            f"[yellow]warning[/yellow] run {run_id} also holds records of {period} but was not rated again: its free "
            f"quantities and tiers went on from the old figures (`rating rerate --period {period}` rates them all)"
        )
    console.print(f"warehouse: {summary['warehouse']} (Parquet); SQL views: {summary['analytics_db']}")
    pg = [run["postgres"] for run in summary["runs"] if run["postgres"] is not None]
    if pg:
        console.print(f"PostgreSQL: {sum(p.get('invoice_lines', 0) for p in pg):,} invoice lines written")


def _change(before, now, form: str) -> str:
    """A value that stayed, or `before → now`."""
    return form.format(now) if before == now else f"{form.format(before)} → {form.format(now)}"


def _rated_as(contract: str | None, amount, free: int | None) -> str:
    return "not rated" if contract is None else f"{contract} {amount}" + (f" ({free:,} free)" if free else "")


@app.command()
def serve(
    catalog: Optional[Path] = CATALOG,
    inbox: Optional[Path] = INBOX,
    warehouse: Optional[Path] = WAREHOUSE,
    sources: Optional[Path] = SOURCES,
    every: int = typer.Option(300, min=10, help="Rate the inbox every this many seconds"),
    bill_cron: str = typer.Option("0 4 1 * *", help="When to bill the month just ended (cron, UTC)"),
    settle: float = typer.Option(
        60, min=0, envvar="RATING_SETTLE",
        help="Scheduled runs skip files modified less than this many seconds ago (uploads in progress)",
    ),
    max_records: int = typer.Option(
        0, min=0, envvar="RATING_MAX_RECORDS", help="Each scheduled run reads new files until they hold this many records (0: no limit)"
    ),
) -> None:
    """Serve the scheduled runs on a Prefect server: `rate_usage` every --every seconds, and
    `bill_last_month` by --bill-cron (docs/scheduling.md). Runs until stopped."""
    from pipeline.config import Settings

    if not os.environ.get("PREFECT_API_URL"):
        console.print(
            "[red]error[/red]: `rating serve` needs a Prefect server: start one (`prefect server start`) and set "
            "PREFECT_API_URL (e.g. http://127.0.0.1:4200/api). Prefect's temporary local server has no scheduler."
        )
        raise typer.Exit(2)
    settings = Settings.from_env(catalog=_s(catalog), inbox=_s(inbox), warehouse=_s(warehouse), sources=_s(sources))
    prefect_environment()
    from prefect import serve as prefect_serve

    from flows.schedule import deployments

    quiet_operator_errors()
    prefect_serve(*deployments(settings, rate_every_s=every, bill_cron=bill_cron, settle_s=settle, max_records=max_records), pause_on_shutdown=False)


@app.command()
def generate(
    cdrs: int = typer.Option(100_000, min=0, help="Number of usage records"),
    contracts: int = typer.Option(1_000, min=1, help="Number of contracts"),
    out: Path = typer.Option(Path("data/generated"), file_okay=False, help="Output directory (created when missing)"),
    seed: int = typer.Option(42, min=0, help="Random seed: same seed, same data"),
) -> None:
    """Write a deterministic synthetic catalog and usage files of the given size."""
    from pipeline.io.synth_files import generate as write_synthetic

    try:
        summary = write_synthetic(out, cdrs=cdrs, contracts=contracts, seed=seed)
    except OSError as exc:  # --out below a file, or where nothing may be written
        error(f"cannot write to {out}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    console.print(summary)


@app.command()
def bench(
    cdrs: int = typer.Option(10_000_000, min=1, help="Number of usage records"),
    contracts: int = typer.Option(100_000, min=1, help="Number of contracts"),
    data: Path = typer.Option(Path("data/bench"), file_okay=False, help="Where generated benchmark data is kept"),
    seed: int = typer.Option(42, min=0, help="Random seed of the generated data"),
) -> None:
    """Generate data if needed, run the pipeline on it and print records/s per stage and peak RSS."""
    from flows.bench import run_bench

    report = run_bench(cdrs=cdrs, contracts=contracts, data=data, seed=seed)
    table = Table(title=f"rating bench: {cdrs:,} CDRs, {contracts:,} contracts")
    table.add_column("stage", min_width=12, overflow="fold")  # a narrow terminal folds its names, never cuts them
    for column in ("records", "seconds", "records/s", "CPU s", "cores", "page faults"):
        table.add_column(column, justify="right")
    for stage in report["stages"]:  # cores: the stage's CPU time over its wall time, how busy it kept the machine
        seconds = stage.seconds
        table.add_row(
            stage.stage, f"{stage.records:,}", f"{seconds:.3f}", f"{stage.records / seconds:,.0f}" if seconds else "-",
            f"{stage.cpu_seconds:.2f}", f"{stage.cpu_seconds / seconds:.2f}" if seconds else "-", f"{stage.page_faults:,}",
        )
    console.print(table)
    console.print(f"cores: the process's CPU time (every thread) over the stage's wall time; this machine has {os.cpu_count()}")
    console.print("page faults: the process's minor faults in the stage, one per page of memory it touched for the first time")
    n, to_lines, total = report["records"], report["seconds_to_invoice_lines"], report["seconds"]
    console.print(
        f"end to end, Parquet → invoice lines in the warehouse: {n:,} records in {to_lines:.2f} s = "
        f"[bold]{n / to_lines:,.0f} records/s[/bold]"
    )
    console.print(f"with the rated-usage detail stored too: {total:.2f} s = [bold]{n / total:,.0f} records/s[/bold]")
    kept = to_lines - report["seconds_catalog"] + report["seconds_kept_catalog"]
    kept += report["seconds_kept_device_index"] - report["seconds_device_index"]
    console.print(
        f"the same with the catalog and device index kept from an earlier run (as every `rating run` after the first "
        f"with an unchanged catalog): {kept:.2f} s to invoice lines = [bold]{n / kept:,.0f} records/s[/bold]"
    )
    as_run = to_lines - report["seconds_read"] + report["seconds_production_read"]
    console.print(
        f"the same with the production Parquet reader instead (every field checked, as `rating run` reads): "
        f"{as_run:.2f} s to invoice lines = [bold]{n / as_run:,.0f} records/s[/bold]"
    )
    console.print(f"outcomes: {report['outcomes']}; peak RSS {report['peak_rss_mb']:,.0f} MiB")


@app.command("sql")
def sql_query(
    query: str = typer.Argument(..., help="SQL over the analyst views, e.g. \"select * from invoice_lines limit 5\""),
    warehouse: Optional[Path] = WAREHOUSE,
) -> None:
    """Query the analyst DuckDB file of the warehouse (read-only) and print the result."""
    import duckdb

    from pipeline.config import Settings
    from pipeline.io.warehouse import ANALYTICS_DB, listable, unreadable

    db = Settings.from_env(warehouse=_s(warehouse)).warehouse / ANALYTICS_DB
    if not db.exists():
        error(f"no analyst database at {db}: run `rating run` (or `rating views`) first")
        raise typer.Exit(2)
    listable(db.parent)  # the views' globs read around a folder that cannot be listed: its rows would be missing
    con = duckdb.connect(str(db), read_only=True)
    try:
        shown = 0
        for statement in con.extract_statements(query):  # each statement's result, in order
            result = con.sql(statement.query)
            if result is None:  # a statement without rows (SET, PRAGMA …)
                continue
            table = Table(*(escape(c) for c in result.columns))
            for row in result.fetchall():  # a query result for the screen, not record processing
                table.add_row(*("" if v is None else escape(str(v)) for v in row))
            _print_whole(table)
            shown += 1
        if not shown:
            console.print("no result to show: no statement returns rows")
    except duckdb.Error as exc:
        # a stored file the views read cut short or overwritten: DuckDB names it, or (a damaged page) raises its plain Error;
        # another error naming no file is the query's own (a mistake, a file of its own missing), whatever else is damaged
        found = unreadable(exc, db.parent, search=type(exc) is duckdb.Error)
        if found is not None:
            raise found from None
        error(exc, "SQL error")
        raise typer.Exit(1)
    finally:
        con.close()


def _print_whole(table: Table) -> None:
    """A query result: to a terminal (or with COLUMNS set) as wide as that; to a pipe or a log at the
    table's own width, so no cell is cut (Rich would fit it into 80 columns: `V-1…`, `0.…`)."""
    if console.is_terminal or "COLUMNS" in os.environ:
        console.print(table)
        return
    from rich.console import Console

    whole = Console(width=1 << 20)
    whole.width = whole.measure(table).maximum
    whole.print(table)


@app.command()
def views(
    warehouse: Optional[Path] = WAREHOUSE,
) -> None:
    """(Re)create the analyst DuckDB file over the warehouse's Parquet files (after moving the warehouse, say)."""
    from pipeline.config import Settings
    from pipeline.io import views as analyst_views

    path = analyst_views.publish(existing_warehouse(Settings.from_env(warehouse=_s(warehouse)).warehouse))
    console.print(f"analyst database: {path}")


def _print_summary(summary: dict) -> None:
    files = summary["files"]
    if summary["run_id"] is None and not files["input"]:
        console.print(f"nothing to do: the inbox {summary['inbox']} holds no files")
        return
    if summary["run_id"] is None:
        console.print(f"nothing to do: all {files['input']:,} files in the inbox were dealt with before (--reprocess reads them again)")
        _print_files(summary)
        return
    console.print(f"run [bold]{summary['run_id']}[/bold]")
    console.print(
        f"files: {files['input']:,} in inbox = {files['read']:,} read + {files['quarantined']:,} quarantined"
        f" + {files['skipped']:,} skipped"
    )
    console.print(f"records: {summary['input_records']:,} in = the outcomes below")
    table = Table()
    table.add_column("outcome")
    table.add_column("records", justify="right")
    for outcome, records in summary["outcomes"].items():
        table.add_row(outcome, f"{records:,}")
    table.add_section()
    table.add_row("total", f"{sum(summary['outcomes'].values()):,}")
    console.print(table)
    _print_files(summary)
    console.print(f"net amount [bold]{summary['net_amount']}[/bold] in {summary['invoice_lines']:,} invoice lines")
    console.print(f"warehouse: {summary['warehouse']} (Parquet); SQL views: {summary['analytics_db']}")
    if summary["postgres"] is not None:
        console.print(f"PostgreSQL: {summary['postgres'].get('invoice_lines', 0):,} invoice lines written")
    if summary.get("deferred"):
        files = "file" if summary["deferred"] == 1 else "files"
        console.print(f"{summary['deferred']:,} new {files} left for the next run (--max-records): run again to rate them")


def _print_files(summary: dict) -> None:
    """The files not rated (quarantined, skipped) and the warnings, each with why."""
    for path, reason in summary["quarantined"]:
        note(f"{path}: {reason}", "quarantined")
    for path, reason in summary["skipped"]:
        console.print(f"skipped {escape(str(path))}: {escape(str(reason))}")
    for path, warning in summary["warnings"]:
        note(f"{path}: {warning}")
    if summary["skipped"] or summary["warnings"]:
        console.print(f"every file dealt with, and every skipped one: SQL views file_ledger, skipped_files in {summary['analytics_db']}")


def _s(path: Optional[Path]) -> Optional[str]:
    return str(path) if path is not None else None


def _register_commands() -> None:
    """Commands of the other stages live beside them; each module adds its own."""
    from pipeline import cli_billing, cli_ids, cli_pricing

    cli_ids.register(app)
    cli_pricing.register(app)
    cli_billing.register(app)


_register_commands()


if __name__ == "__main__":
    app()
