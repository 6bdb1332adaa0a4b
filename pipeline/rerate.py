"""Re-rating: which stored runs to rate again, in which order, and what that changes of billed usage.

A stored run is rated again from its own stored records with the current catalog, under its
own run id, so its rows are replaced, never doubled (flows/rerate.py, docs/warehouse.md). These
functions decide on small frames of run ids, periods and record keys; they read nothing.
"""

from __future__ import annotations

import polars as pl

from schemas.outputs import PERIOD


class RerateError(RuntimeError):
    """A re-rating request that cannot be done as asked; the message says what to do."""


def chosen_runs(starts: pl.DataFrame, run_periods: pl.DataFrame, run_ids: list[str], periods: list[str], every: bool) -> list[str]:
    """The runs to rate again, in the order they first started: each goes on from the free
    quantities and tiers of the runs before it (warehouse.carried_usage), which are rated again first.

    Args:
        starts: (run_id, started_at) of every stored run (warehouse.run_starts).
        run_periods: (run_id, period) of the UTC months each run holds records of (warehouse.run_periods).
        run_ids, periods, every: what was asked for; exactly one of them.
    """
    asked = [name for name, given in (("--run", run_ids), ("--period", periods), ("--all", every)) if given]
    if len(asked) != 1:
        raise RerateError(f"say which runs to rate again: one of --run, --period or --all (got {', '.join(asked) or 'none'})")
    stored = set(starts.get_column("run_id"))
    if run_ids:
        unknown = sorted(set(run_ids) - stored)
        if unknown:
            raise RerateError(
                f"no stored run {', '.join(unknown)}: `rating sql \"select run_id, started_at from runs\"` lists them"
            )
        wanted = set(run_ids)
    elif periods:
        bad = [p for p in periods if not PERIOD.fullmatch(p)]
        if bad:
            raise RerateError(f"a period is a month as YYYY-MM, e.g. 2026-10 (got {', '.join(bad)})")
        wanted = set(run_periods.filter(pl.col("period").is_in(periods)).get_column("run_id"))
    else:
        wanted = stored
    return [r for r in starts.get_column("run_id") if r in wanted]


def billed_runs(billed: pl.DataFrame, chosen: list[str]) -> pl.DataFrame:
    """(run_id, records, invoices) of the chosen runs whose usage a committed billing run billed.

    Args:
        billed: (rated_run_id, record_key, invoice_id) of every billed usage record.
    """
    return (
        billed.filter(pl.col("rated_run_id").is_in(chosen))
        .group_by(pl.col("rated_run_id").alias("run_id"))
        .agg(pl.col("record_key").n_unique().alias("records"), pl.col("invoice_id").unique().sort().alias("invoices"))
        .sort("run_id")
    )


def invoice_list(invoices: list[str], shown: int = 3) -> str:
    """The first `shown` invoice ids, and an ellipsis for more: what a message names.

    >>> invoice_list(["RE-1", "RE-2", "RE-3", "RE-4"])
    'RE-1, RE-2, RE-3, …'
    """
    return ", ".join(invoices[:shown]) + (", …" if len(invoices) > shown else "")


def billed_changes(before: pl.DataFrame, after: pl.DataFrame, billed: pl.DataFrame) -> pl.DataFrame:
    """The billed records of one run that the re-rating rates differently: another amount, another
    contract or other free units (a free quantity used elsewhere now, though a minimum charge or a
    price of 0 keeps the amount), or no longer rated (now unassigned, say): (record_key,
    invoice_id, contract_before, amount_before, free_before, contract_after, amount_after,
    free_after), the `_after` columns null for a record no longer rated. Invoices are final: these
    differences are reported, not billed.

    Args:
        before, after: (record_key, contract_id, amount, free_quantity) of the run's rated records,
            as stored before this re-rating and as re-rated.
        billed: (record_key, invoice_id) of the run's billed records.
    """
    compared = ("contract", "amount", "free")

    def side(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
        named = {"contract": "contract_id", "amount": "amount", "free": "free_quantity"}
        return frame.select("record_key", *(pl.col(named[c]).alias(f"{c}_{suffix}") for c in compared))

    differs = [pl.col(f"{c}_after").ne_missing(pl.col(f"{c}_before")) for c in compared]
    return (
        billed.select("record_key", "invoice_id")
        .join(side(before, "before"), on="record_key", how="left")
        .join(side(after, "after"), on="record_key", how="left")
        .filter(pl.any_horizontal(differs))
        .sort("record_key")
    )


def later_runs(starts: pl.DataFrame, run_periods: pl.DataFrame, chosen: list[str]) -> pl.DataFrame:
    """(run_id, period) of the runs not chosen that started after a chosen run holding records of
    the same period: their free quantities and tiers went on from that run's old figures, so they
    are worth rating again too (`--period`)."""
    order = starts.with_row_index("at").select("run_id", "at")
    chosen_at = (
        run_periods.filter(pl.col("run_id").is_in(chosen)).join(order, on="run_id").group_by("period").agg(pl.col("at").min().alias("first"))
    )
    return (
        run_periods.filter(~pl.col("run_id").is_in(chosen))
        .join(order, on="run_id")
        .join(chosen_at, on="period")
        .filter(pl.col("at") > pl.col("first"))
        .select("run_id", "period")
        .sort("period", "run_id")
    )
