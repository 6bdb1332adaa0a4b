"""The conservation ledger: every input record ends in exactly one outcome."""

from __future__ import annotations

import polars as pl

from schemas.outputs import OUTCOMES


class ConservationError(RuntimeError):
    """The outcomes of a run do not add up to its input: something was lost or doubled."""


def ledger(run_id: str, counts: dict[str, tuple[int, int, int]]) -> pl.DataFrame:
    """One row per outcome: records, seconds and bytes. `counts[outcome] = (records, seconds, bytes)`."""
    unknown = set(counts) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"unknown outcomes {sorted(unknown)}; known: {OUTCOMES}")
    return pl.DataFrame(
        {
            "run_id": [run_id] * len(OUTCOMES),
            "outcome": list(OUTCOMES),
            "records": [counts.get(o, (0, 0, 0))[0] for o in OUTCOMES],
            "duration_s": [counts.get(o, (0, 0, 0))[1] for o in OUTCOMES],
            "volume_bytes": [counts.get(o, (0, 0, 0))[2] for o in OUTCOMES],
        },
        schema={"run_id": pl.String, "outcome": pl.String, "records": pl.Int64, "duration_s": pl.Int64, "volume_bytes": pl.Int64},
    )


def totals(ledger_frame: pl.DataFrame) -> tuple[int, int, int]:
    """(records, seconds, bytes) of a ledger over all its outcomes: the run's whole input."""
    return tuple(int(v) for v in ledger_frame.select(pl.col("records", "duration_s", "volume_bytes").sum()).row(0))


def checked(ledger_frame: pl.DataFrame, input_records: int, input_seconds: int, input_bytes: int) -> pl.DataFrame:
    """The ledger itself if its outcomes add up to the input; raises ConservationError otherwise."""
    total = totals(ledger_frame)
    expected = (input_records, input_seconds, input_bytes)
    if total != expected:
        by_outcome = ", ".join(f"{o}={r}" for o, r in zip(ledger_frame["outcome"], ledger_frame["records"]))
        raise ConservationError(
            f"run {ledger_frame['run_id'][0]}: outcomes (records, seconds, bytes) = {total} "
            f"but input = {expected}; {by_outcome}"
        )
    return ledger_frame


def run_record(run_id: str, started_at, finished_at, input_files: int, input_records: int, net_amount) -> pl.DataFrame:
    """The `runs` row of a run (schemas/outputs.py RUNS)."""
    return pl.DataFrame(
        {
            "run_id": [run_id],
            "started_at": [started_at],
            "finished_at": [finished_at],
            "input_files": [input_files],
            "input_records": [input_records],
            "net_amount": [net_amount],
        },
        schema={
            "run_id": pl.String,
            "started_at": pl.Datetime("us", "UTC"),
            "finished_at": pl.Datetime("us", "UTC"),
            "input_files": pl.Int64,
            "input_records": pl.Int64,
            "net_amount": pl.Decimal(18, 2),
        },
    )
