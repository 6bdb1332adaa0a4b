"""`rating run`: checks its paths before starting Prefect, runs the flow, prints the run summary."""

from __future__ import annotations

import shutil
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
    monkeypatch.setattr(cli, "console", Console(width=200))  # one line per message, whatever the terminal
    result = CliRunner().invoke(cli.app, args)
    return result.exit_code, [line.rstrip() for line in result.output.splitlines()]


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
    code, lines = invoke(
        ["run", "--catalog", str(catalog), "--inbox", str(inbox), "--warehouse", str(warehouse)], monkeypatch
    )
    assert code == 0, "\n".join(lines)
    run_id = lines[1].removeprefix("run ")
    assert lines[2:] == [
        "files: 7 in inbox = 7 read + 0 quarantined",
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
        "net amount 58.50 in 19 invoice lines",
        f"warehouse: {warehouse} (Parquet); SQL views: {warehouse}/analytics.duckdb",
    ]
    assert len(run_id) == 16
    assert (warehouse / "analytics.duckdb").is_file()
