"""The `rating` command."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Usage rating and contract billing.")
console = Console()


@app.command()
def run(
    catalog: Optional[Path] = typer.Option(None, help="Catalog directory [env RATING_CATALOG, default data/sample/catalog]"),
    inbox: Optional[Path] = typer.Option(None, help="Inbox of usage files [env RATING_INBOX, default data/sample/inbox]"),
    warehouse: Optional[Path] = typer.Option(None, help="Warehouse directory [env RATING_WAREHOUSE, default ./warehouse]"),
    sources: Optional[Path] = typer.Option(None, help="Source configuration [env RATING_SOURCES, default <inbox>/sources.toml]"),
    pg_url: Optional[str] = typer.Option(None, help="PostgreSQL URL to also write to [env RATING_PG_URL]"),
) -> None:
    """Rate the inbox with the `rate_usage` Prefect flow (local ephemeral mode, no server needed)."""
    from flows.rate_usage import rate_usage

    summary = rate_usage(
        catalog=_s(catalog), inbox_dir=_s(inbox), warehouse_dir=_s(warehouse), sources=_s(sources), pg_url=pg_url
    )
    _print_summary(summary)


@app.command()
def generate(
    cdrs: int = typer.Option(100_000, help="Number of usage records"),
    contracts: int = typer.Option(1_000, help="Number of contracts"),
    out: Path = typer.Option(Path("data/generated"), help="Output directory"),
    seed: int = typer.Option(42, help="Random seed: same seed, same data"),
) -> None:
    """Write a deterministic synthetic catalog and usage files of the given size."""
    from pipeline.io.synth_files import generate as write_synthetic

    summary = write_synthetic(out, cdrs=cdrs, contracts=contracts, seed=seed)
    console.print(summary)


@app.command()
def bench(
    cdrs: int = typer.Option(10_000_000, help="Number of usage records"),
    contracts: int = typer.Option(100_000, help="Number of contracts"),
    data: Path = typer.Option(Path("data/bench"), help="Where generated benchmark data is kept"),
    seed: int = typer.Option(42),
) -> None:
    """Generate data if needed, run the pipeline on it and print records/s per stage and peak RSS."""
    from flows.bench import run_bench

    report = run_bench(cdrs=cdrs, contracts=contracts, data=data, seed=seed)
    table = Table(title=f"rating bench: {cdrs:,} CDRs, {contracts:,} contracts")
    for column in ("stage", "records", "seconds", "records/s"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    for stage, records, seconds in report["stages"]:
        table.add_row(stage, f"{records:,}", f"{seconds:.3f}", f"{records / seconds:,.0f}" if seconds else "-")
    console.print(table)
    console.print(
        f"end to end (Parquet → invoice lines in the warehouse): {report['records']:,} records in "
        f"{report['seconds']:.2f} s = [bold]{report['records'] / report['seconds']:,.0f} records/s[/bold]; "
        f"peak RSS {report['peak_rss_mb']:,.0f} MiB"
    )


def _print_summary(summary: dict) -> None:
    table = Table(title=f"run {summary['run_id']}: {summary['files']} files, {summary['input_records']:,} records")
    table.add_column("outcome")
    table.add_column("records", justify="right")
    for outcome, records in summary["outcomes"].items():
        table.add_row(outcome, f"{records:,}")
    console.print(table)
    for path, reason in summary["quarantined"]:
        console.print(f"[yellow]quarantined[/yellow] {path}: {reason}")
    console.print(f"net amount {summary['net_amount']} in {summary['invoice_lines']} invoice lines")
    console.print(f"warehouse: {summary['warehouse']} (SQL: duckdb {summary['warehouse']}/analytics.duckdb)")
    if summary["postgres"]:
        console.print("written to PostgreSQL")


def _s(path: Optional[Path]) -> Optional[str]:
    return str(path) if path is not None else None
