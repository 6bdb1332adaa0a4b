"""Settled rated_usage files: a committed billing run remembers the files every record of which is
billed, and later runs do not read them (pipeline.io.billing_store.register_state); the invoices
are the same as when every file is read."""

from __future__ import annotations

import functools
import os
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import billing_factory as f
from pipeline.io import billing_store

TABLES = ("invoices", "invoice_items", "invoice_vat", "billing_history", "billed_usage", "billing_problems")
#: T1's minimum revenue of 5.00 on calls, so periods settled over several runs look up earlier lines' tariffs
PRICING = {
    "tariff_pricing": {"tariff_id": ["T1"], "min_revenue": ["5"]},
    "tariff_articles": {"tariff_id": ["T1"], "article_id": ["CALL"], "min_revenue": ["true"]},
}


def call(key: str, contract: str, day: tuple[int, int], amount: str, tariff: str = "T1") -> dict:
    return {"record_key": key, "contract_id": contract, "start_time": datetime(2026, *day, 9, tzinfo=timezone.utc),
            "quantity": 60, "amount": Decimal(amount), "tariff_id": tariff}


def rate_run(warehouse: Path, run_id: str, rows: list[dict]) -> None:
    """Store a rating run's files as the rating flow does: written beside, then renamed over the old
    ones (a re-rating's file is a new file: another inode)."""
    table = f.rated([{**r, "run_id": run_id} for r in rows])
    for (period,), part in pl.from_arrow(table).group_by("period"):
        folder = warehouse / "rated_usage" / f"period={period}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(part.drop("period").to_arrow(), folder / ".tmp.parquet")
        os.replace(folder / ".tmp.parquet", folder / f"run-{run_id}_0.parquet")


#: The scenario, step by step: rating runs (run id, records) and billing runs (period, or contract and day).
STEPS = [
    ("rate", "rate-1", [call("a1", "C1", (1, 3), "0.50", "T2"), call("a2", "C2", (1, 4), "1.00"), call("a3", "CT", (1, 5), "0.70"),
                        call("b1", "C1", (2, 3), "2.00"), call("b2", "C2", (2, 4), "1.20")]),
    ("single", "C1", date(2026, 1, 20)),
    ("period", "2026-01"),
    # late January records, one of them (a2) stored again by this run; February rated again with one more record
    ("rate", "rate-2", [call("a2", "C2", (1, 4), "1.00"), call("a4", "C1", (1, 28), "0.30"), call("b3", "C3", (2, 9), "0.40")]),
    ("rate", "rate-1", [call("a1", "C1", (1, 3), "0.50", "T2"), call("a2", "C2", (1, 4), "1.00"), call("a3", "CT", (1, 5), "0.70"),
                        call("b1", "C1", (2, 3), "2.50"), call("b2", "C2", (2, 4), "1.20"), call("b4", "CT", (2, 6), "0.10")]),
    ("single", "C2", date(2026, 2, 10)),
    ("period", "2026-02"),
    # January re-rated after it was billed (--allow-billed): a new record in a settled file's place
    ("rate", "rate-1", [call("a1", "C1", (1, 3), "0.55", "T2"), call("a2", "C2", (1, 4), "1.00"), call("a3", "CT", (1, 5), "0.70"),
                        call("a5", "C2", (1, 30), "0.90")]),
    ("period", "2026-03"),
]


def play(warehouse: Path, steps=STEPS) -> dict[str, list]:
    """Run the steps on `warehouse`; every committed table (real and test) afterwards."""
    cat, bil = f.catalogs(pricing=PRICING)
    for kind, *args in steps:
        if kind == "rate":
            rate_run(warehouse, *args)
        elif kind == "single":
            f.bill(warehouse, cat, bil, contract=args[0], until=args[1])
        else:
            f.bill(warehouse, cat, bil, period=args[0])
    return {f"{'test/' if test else ''}{t}": f.stored(warehouse, t, test=test).rows()
            for t in TABLES for test in (False, True) if not test or t in ("invoices", "invoice_items", "billed_usage")}


#: every file settled before the last run, which still looks up C1's January lines (billed by a
#: single invoice before January ended) in them
ALL_SETTLED = [
    ("rate", "rate-1", [call("a1", "C1", (1, 3), "0.50", "T2"), call("a2", "C1", (1, 4), "1.00"), call("a3", "CT", (1, 5), "0.70")]),
    ("single", "C1", date(2026, 1, 20)),
    ("period", "2026-01"),
    ("period", "2026-02"),
]


def settled(warehouse: Path) -> list[str]:
    return sorted(pl.from_arrow(pa.concat_tables(
        [pq.read_table(m) for m in billing_store.committed_files(warehouse, billing_store.SETTLED)]
    )).get_column("path").to_list())


def test_billing_with_settled_files_left_out_makes_the_same_invoices_as_reading_every_file(tmp_path, monkeypatch) -> None:
    pruned = play(tmp_path / "pruned")
    with monkeypatch.context() as m:
        m.setattr(billing_store, "register_state", functools.partial(billing_store.register_state, prune=False))
        whole = play(tmp_path / "whole")
    assert pruned == whole
    billed = pl.from_arrow(billing_store.billed_usage(tmp_path / "pruned")).sort("record_key")
    assert billed.select("record_key", "rated_run_id", "run_id").rows() == [
        ("a1", "rate-1", "single-C1-2026-01-20"), ("a2", "rate-1", "period-2026-01"), ("a3", "rate-1", "period-2026-01"),
        ("a4", "rate-2", "period-2026-02"), ("a5", "rate-1", "period-2026-03"), ("b1", "rate-1", "period-2026-02"),
        ("b2", "rate-1", "single-C2-2026-02-10"), ("b3", "rate-2", "period-2026-02"), ("b4", "rate-1", "period-2026-02"),
    ]
    pruned = play(tmp_path / "pruned_all", ALL_SETTLED)
    with monkeypatch.context() as m:
        m.setattr(billing_store, "register_state", functools.partial(billing_store.register_state, prune=False))
        whole = play(tmp_path / "whole_all", ALL_SETTLED)
    assert pruned == whole
    assert settled(tmp_path / "pruned_all") == ["period=2026-01/run-rate-1_0.parquet"]
    # the files settled along the way: January's first file by the January run, again by C2's single
    # invoice (rate-1 stored it again: another file) and by March's run (re-rated); rate-2's and
    # February's by the February run
    assert settled(tmp_path / "pruned") == [
        *["period=2026-01/run-rate-1_0.parquet"] * 3, "period=2026-01/run-rate-2_0.parquet",
        "period=2026-02/run-rate-1_0.parquet", "period=2026-02/run-rate-2_0.parquet",
    ]


def test_a_settled_file_is_not_read_again(tmp_path) -> None:
    warehouse = tmp_path / "warehouse"
    play(warehouse, [STEPS[0], STEPS[2]])  # no single invoice: January is settled by its own run (see the next test)
    assert settled(warehouse) == ["period=2026-01/run-rate-1_0.parquet"]
    # its bytes spoiled, its size, inode and time kept: a run that read it would fail
    spoiled = warehouse / "rated_usage" / "period=2026-01" / "run-rate-1_0.parquet"
    stat = spoiled.stat()
    with open(spoiled, "r+b") as handle:
        handle.write(b"\0" * stat.st_size)
    os.utime(spoiled, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    play(warehouse, [("period", "2026-02")])
    assert f.stored(warehouse, "billed_usage", run_id="period-2026-02").get_column("record_key").to_list() == ["b1", "b2"]


def test_a_settled_file_rated_again_is_read_again(tmp_path) -> None:
    warehouse = tmp_path / "warehouse"
    play(warehouse, STEPS[:3])
    assert settled(warehouse) == ["period=2026-01/run-rate-1_0.parquet"]
    rate_run(warehouse, "rate-1", [call("a1", "C1", (1, 3), "0.50", "T2"), call("a2", "C2", (1, 4), "1.00"),
                                   call("a3", "CT", (1, 5), "0.70"), call("a6", "C1", (1, 29), "0.80")])
    play(warehouse, [("period", "2026-02")])
    assert sorted(f.stored(warehouse, "billed_usage", run_id="period-2026-02").get_column("record_key").to_list()) == ["a6", "b1", "b2"]


def test_files_rated_before_free_quantities_were_stored_bill_with_newer_ones(tmp_path):
    """A file without free_quantity (rated before 4d7ef92) read with a newer one had NULL free units:
    charged = quantity - free_quantity was NULL, and the February run of a variable_fixed position
    failed on a NULL net ('Casting field net_total with null values to non-nullable'; review of the
    settled files, read whole). Its records used no free units."""
    cat, bil = f.catalogs(billing={
        "positions": f.positions([("P1", "C1", "CALL", "variable_fixed", None, "2026-01-01", None)]),
        "position_prices": {"position_id": ["P1"], "kind": ["price"], "price": ["0.10"], "valid_from": ["2026-01-01"],
                            "valid_until": [None], "reason": [None]},
    })  # fmt: skip
    table = pl.from_arrow(f.rated([{**call("b1", "C1", (2, 3), "0.50"), "run_id": "rate-0"}]))
    folder = tmp_path / "rated_usage" / "period=2026-02"
    folder.mkdir(parents=True)
    table.drop("period", "free_quantity").write_parquet(folder / "run-rate-0_0.parquet")  # the old file
    rate_run(tmp_path, "rate-1", [call("a1", "C1", (1, 3), "0.50")])
    with_all = functools.partial(billing_store.register_state, prune=False)  # both files read together
    original = billing_store.register_state
    billing_store.register_state = with_all
    try:
        f.bill(tmp_path, cat, bil, period="2026-01")
        f.bill(tmp_path, cat, bil, period="2026-02")
    finally:
        billing_store.register_state = original
    usage = f.stored(tmp_path, "invoice_items").filter(pl.col("line_kind") == "usage")
    assert usage.select("period", "records", "quantity", "net_amount").rows() == [
        ("2026-01", 1, 60, Decimal("0.10")),
        ("2026-02", 1, 60, Decimal("0.10")),
    ]
