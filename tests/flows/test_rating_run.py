"""`rating run`: checks its paths before starting Prefect, runs the flow, prints the run summary; run again on
the same inbox it does nothing, says why, and exits 0."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from pipeline import cli

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def invoke(args: list[str], monkeypatch) -> tuple[int, list[str]]:
    """Exit code and output lines of `rating <args>`, with the caller's RATING_* and Prefect defaults pinned."""
    for name in ("RATING_CATALOG", "RATING_INBOX", "RATING_WAREHOUSE", "RATING_SOURCES", "RATING_PG_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**cli.PREFECT_DEFAULTS, **cli.PREFECT_QUIET}.items():
        monkeypatch.setenv(name, value)  # so `run` leaves the test process's environment as it found it
    monkeypatch.setattr(cli, "console", Console(width=200, soft_wrap=True))  # one line per message, whatever the terminal
    result = CliRunner().invoke(cli.app, args)
    return result.exit_code, [line.rstrip() for line in result.output.splitlines()]


def summary(lines: list[str], first: str) -> list[str]:
    """The summary `rating run` prints, from its line starting with `first`: without the flow's log lines
    before it (Prefect logs to this output when the test process set its logging up inside the runner)."""
    return lines[next(i for i, line in enumerate(lines) if line.startswith(first)) :]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("catalog", "error: catalog directory {path} not found: pass --catalog or set RATING_CATALOG"),
        ("inbox", "error: inbox directory {path} not found: pass --inbox or set RATING_INBOX"),
        ("sources", "error: source configuration {path} not found: pass --sources or set RATING_SOURCES"),
    ],
)
def test_missing_paths_fail_before_prefect_starts(missing, message, tmp_path, monkeypatch):
    paths = {"catalog": SAMPLE / "catalog", "inbox": SAMPLE / "inbox", "sources": SAMPLE / "inbox" / "sources.toml"}
    paths[missing] = tmp_path / "nowhere"
    args = ["run", *(arg for name, path in paths.items() for arg in (f"--{name}", str(path)))]
    code, lines = invoke([*args, "--warehouse", str(tmp_path / "warehouse")], monkeypatch)
    assert (code, lines[0]) == (2, message.format(path=tmp_path / "nowhere"))
    assert not (tmp_path / "warehouse").exists()


@pytest.mark.prefect
def test_rating_run_prints_the_summary(prefect_harness, tmp_path, monkeypatch):
    catalog = shutil.copytree(SAMPLE / "catalog", tmp_path / "catalog")
    inbox = shutil.copytree(SAMPLE / "inbox", tmp_path / "inbox")
    warehouse = tmp_path / "warehouse"
    args = ["run", "--catalog", str(catalog), "--inbox", str(inbox), "--warehouse", str(warehouse)]
    code, lines = invoke(args, monkeypatch)
    assert code == 0, "\n".join(lines)
    lines = summary(lines, "run ")
    run_id = lines[0].removeprefix("run ")
    assert lines[1:] == [
        "files: 7 in inbox = 7 read + 0 quarantined + 0 skipped",
        "records: 102 in = the outcomes below",
        "┏━━━━━━━━━━━━━━┳━━━━━━━━━┓",
        "┃ outcome      ┃ records ┃",
        "┡━━━━━━━━━━━━━━╇━━━━━━━━━┩",
        "│ rated        │      72 │",
        "│ non_billable │       9 │",
        "│ rejected     │       2 │",
        "│ unassigned   │      19 │",
        "│ unrateable   │       0 │",
        "│ duplicate    │       0 │",
        "├──────────────┼─────────┤",
        "│ total        │     102 │",
        "└──────────────┴─────────┘",
        "net amount 14.22 in 19 invoice lines",
        f"warehouse: {warehouse} (Parquet); SQL views: {warehouse}/analytics.duckdb",
    ]
    assert len(run_id) == 16
    assert (warehouse / "analytics.duckdb").is_file()



def flow_summary(tmp_path: Path, **fields) -> dict:
    """A summary as rate_usage returns it, of a warehouse under `tmp_path`: `fields` and no warnings,
    quarantined files or PostgreSQL."""
    return {
        "quarantined": [], "warnings": [], "warehouse": str(tmp_path / "warehouse"),
        "analytics_db": str(tmp_path / "warehouse" / "analytics.duckdb"), "postgres": None, **fields,
    }  # fmt: skip


def test_a_run_with_nothing_new_prints_why_and_exits_0(tmp_path, monkeypatch):
    """The no-op summary as the flow returns it (tests/flows/test_rate_usage.py runs the flow twice for real; a
    second flow run under the CLI runner in one process trips over Prefect's log handler bound to the first one's
    closed output)."""
    import flows.rate_usage

    inbox = tmp_path / "inbox"
    noop = flow_summary(
        tmp_path,
        run_id=None,
        files={"input": 2, "read": 0, "quarantined": 0, "skipped": 2},
        skipped=[
            (str(inbox / "Master.csv"), "already processed: the same content (sha256 3bb431c1afb4…) was processed in run r1 on 2026-11-22 10:00:00 UTC; nothing to do"),
            (str(inbox / "bad.csv.gz"), "already quarantined: the same content (sha256 0123456789ab…) could not be read in run r1 on 2026-11-22 10:00:00 UTC (empty file); hand in a corrected file, or fix the source configuration and run with --reprocess"),
        ],
        outcomes={},
        input_records=0,
        net_amount=Decimal("0.00"),
        invoice_lines=0,
    )
    given = {}
    monkeypatch.setattr(flows.rate_usage, "rate_usage", lambda **kwargs: given.update(kwargs) or noop)
    paths = ["--catalog", str(SAMPLE / "catalog"), "--inbox", str(SAMPLE / "inbox"), "--warehouse", str(tmp_path / "warehouse")]
    code, lines = invoke(["run", *paths, "--reprocess"], monkeypatch)
    assert (code, given["reprocess"]) == (0, True)
    assert summary(lines, "nothing to do") == [
        "nothing to do: all 2 files in the inbox were dealt with before (--reprocess reads them again)",
        f"skipped {inbox / 'Master.csv'}: {noop['skipped'][0][1]}",
        f"skipped {inbox / 'bad.csv.gz'}: {noop['skipped'][1][1]}",
        f"every file dealt with, and every skipped one: SQL views file_ledger, skipped_files in {tmp_path}/warehouse/analytics.duckdb",
    ]


@pytest.mark.parametrize(
    ("args", "env", "most", "left"),
    [([], {}, 0, 2), ([], {"RATING_MAX_RECORDS": "30"}, 30, 2), (["--max-records", "20"], {"RATING_MAX_RECORDS": "30"}, 20, 1)],
)
def test_a_run_that_left_files_for_the_next_says_so(tmp_path, monkeypatch, args, env, most, left):
    """--max-records (else RATING_MAX_RECORDS) goes to the flow; a run that left files says to run again."""
    import flows.rate_usage

    inbox = tmp_path / "inbox"
    later = "left for the next run: this run read 49 records, as many as it takes (--max-records 30)"
    run = flow_summary(
        tmp_path,
        run_id="0123456789abcdef",
        files={"input": 1 + left, "read": 1, "quarantined": 0, "skipped": left},
        skipped=[(str(inbox / "b.csv"), later), (str(inbox / "c.csv"), later)][:left],
        outcomes={"rated": 49},
        input_records=49,
        net_amount=Decimal("1.00"),
        invoice_lines=1,
        deferred=left,
    )
    given = {}
    monkeypatch.setattr(flows.rate_usage, "rate_usage", lambda **kwargs: given.update(kwargs) or run)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    paths = ["--catalog", str(SAMPLE / "catalog"), "--inbox", str(SAMPLE / "inbox"), "--warehouse", str(tmp_path / "warehouse")]
    code, lines = invoke(["run", *paths, *args], monkeypatch)
    assert (code, given["max_records"]) == (0, most)
    assert f"skipped {inbox / 'b.csv'}: {later}" in lines
    assert lines[-1] == {1: "1 new file", 2: "2 new files"}[left] + " left for the next run (--max-records): run again to rate them"


def test_an_empty_inbox_says_so_and_exits_0(tmp_path, monkeypatch):
    """A scheduled run over an empty inbox is normal; one on a wrong --inbox should be visible."""
    import flows.rate_usage

    inbox = tmp_path / "inbox"
    noop = {"run_id": None, "files": {"input": 0, "read": 0, "quarantined": 0, "skipped": 0}, "inbox": str(inbox)}
    monkeypatch.setattr(flows.rate_usage, "rate_usage", lambda **kwargs: noop)
    paths = ["--catalog", str(SAMPLE / "catalog"), "--inbox", str(SAMPLE / "inbox"), "--warehouse", str(tmp_path / "warehouse")]
    code, lines = invoke(["run", *paths], monkeypatch)
    assert (code, summary(lines, "nothing to do")) == (0, [f"nothing to do: the inbox {inbox} holds no files"])


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"input": 2, "read": 0, "quarantined": 2, "skipped": 0}, 1),  # nothing of the hand-in could be read
        ({"input": 2, "read": 1, "quarantined": 1, "skipped": 0}, 0),  # one file read: the run did its work
        ({"input": 3, "read": 0, "quarantined": 1, "skipped": 2}, 1),
    ],
    ids=["all-quarantined", "one-read", "the-new-one-quarantined"],
)
def test_a_run_whose_every_new_file_was_quarantined_exits_1(tmp_path, monkeypatch, files, code):
    """A scheduler must notice a hand-in of which nothing could be read (the summary as the flow returns it)."""
    import flows.rate_usage

    inbox = tmp_path / "inbox"
    quarantined = [(str(inbox / f"bad-{i}.csv"), "empty file") for i in range(files["quarantined"])]
    stored = {
        "run_id": "r1", "files": files, "quarantined": quarantined, "skipped": [], "warnings": [],
        "outcomes": {"rated": 0}, "input_records": 0, "net_amount": Decimal("0.00"), "invoice_lines": 0,
        "warehouse": str(tmp_path / "warehouse"), "analytics_db": str(tmp_path / "warehouse" / "analytics.duckdb"), "postgres": None,
    }  # fmt: skip
    monkeypatch.setattr(flows.rate_usage, "rate_usage", lambda **kwargs: stored)
    paths = ["--catalog", str(SAMPLE / "catalog"), "--inbox", str(SAMPLE / "inbox"), "--warehouse", str(tmp_path / "warehouse")]
    got, lines = invoke(["run", *paths], monkeypatch)
    assert got == code
    said = [line for line in lines if line.startswith("error: no file of the hand-in could be read")]
    assert said == ([f"error: no file of the hand-in could be read: all {files['quarantined']} were quarantined (reasons above); "
                     "fix the files or sources.toml, then run with --reprocess"] if code else [])  # fmt: skip


#: What the flow says when the analyst views could not be built (flows.refresh_views): the run is stored.
VIEWS_NOT_BUILT = ("the analyst views were not built anew (IOException: Could not write file \"{w}/.analytics.duckdb.building\": "
                   "No space left on device); what the run stored is in place: `rating views --warehouse {w}` builds them once "
                   "that is fixed (the next run tries again)")  # fmt: skip


@pytest.mark.parametrize(
    ("views", "code", "warnings"),
    [
        (None, 0, []),
        (VIEWS_NOT_BUILT, 0, ["warning " + VIEWS_NOT_BUILT]),  # stored: a warning, not a failed run
    ],
    ids=["views-built", "views-not-built"],
)
def test_a_run_whose_views_could_not_be_built_is_stored_and_exits_0_with_a_warning(tmp_path, monkeypatch, views, code, warnings):
    """The run's tables are stored and its files recorded; only the analyst database was not built anew: exit 1
    made a scheduler or an operator take the run for failed (the summary as the flow returns it)."""
    import flows.rate_usage

    views = views and views.format(w=tmp_path / "warehouse")
    stored = {
        "run_id": "r1", "files": {"input": 1, "read": 1, "quarantined": 0, "skipped": 0}, "quarantined": [], "skipped": [],
        "warnings": [], "outcomes": {"rated": 1}, "input_records": 1, "net_amount": Decimal("0.12"), "invoice_lines": 1,
        "warehouse": str(tmp_path / "warehouse"), "analytics_db": str(tmp_path / "warehouse" / "analytics.duckdb"), "postgres": None,
        "views": views,
    }  # fmt: skip
    monkeypatch.setattr(flows.rate_usage, "rate_usage", lambda **kwargs: stored)
    paths = ["--catalog", str(SAMPLE / "catalog"), "--inbox", str(SAMPLE / "inbox"), "--warehouse", str(tmp_path / "warehouse")]
    got, lines = invoke(["run", *paths], monkeypatch)
    assert (got, [line for line in lines if line.startswith("warning")]) == (code, [w.format(w=tmp_path / "warehouse") for w in warnings])
