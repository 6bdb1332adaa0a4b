"""Which stored runs a re-rating request rates again, in which order, and what it reports of billed usage."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

from pipeline.rerate import RerateError, billed_changes, billed_runs, chosen_runs, later_runs

STARTS = pl.DataFrame(
    {"run_id": ["rb", "ra", "rc"], "started_at": [datetime(2026, 10, d, tzinfo=timezone.utc) for d in (2, 5, 9)]}
)  # in the order the runs first started: rb, ra, rc (not by name)
PERIODS = pl.DataFrame(
    {"run_id": ["rb", "rb", "ra", "rc"], "period": ["2026-09", "2026-10", "2026-10", "2026-11"]}
)


@pytest.mark.parametrize(
    ("run_ids", "periods", "every", "chosen"),
    [
        (["rc", "rb"], [], False, ["rb", "rc"]),  # asked in any order, rated in the order they first started
        ([], ["2026-10"], False, ["rb", "ra"]),  # every run holding records of October
        ([], ["2026-09"], False, ["rb"]),
        ([], ["2026-09", "2026-11"], False, ["rb", "rc"]),
        ([], ["2027-01"], False, []),  # no run holds records of it: nothing to do
        ([], [], True, ["rb", "ra", "rc"]),
    ],
)
def test_chosen_runs_in_the_order_they_first_started(run_ids, periods, every, chosen):
    assert chosen_runs(STARTS, PERIODS, run_ids, periods, every) == chosen


@pytest.mark.parametrize(
    ("run_ids", "periods", "every", "message"),
    [
        ([], [], False, "one of --run, --period or --all \\(got none\\)"),
        (["ra"], ["2026-10"], False, "got --run, --period"),
        (["ra", "rx", "r"], [], False, "no stored run r, rx: "),
        ([], ["2026-13", "10/2026"], False, "YYYY-MM, e.g. 2026-10 \\(got 2026-13, 10/2026\\)"),
    ],
)
def test_a_request_that_cannot_be_done_says_why(run_ids, periods, every, message):
    with pytest.raises(RerateError, match=message):
        chosen_runs(STARTS, PERIODS, run_ids, periods, every)


@pytest.mark.parametrize(
    ("chosen", "later"),
    [
        (["rb"], [("ra", "2026-10")]),  # ra went on from rb's October units
        (["ra"], []),  # rb started before ra: it never carried ra's units
        (["rb", "ra"], []),
        (["rc"], []),
    ],
)
def test_later_runs_of_the_same_period_that_are_not_rated_again(chosen, later):
    assert later_runs(STARTS, PERIODS, chosen).rows() == later


def test_billed_runs_count_records_and_invoices_per_run():
    billed = pl.DataFrame(
        {"rated_run_id": ["ra", "ra", "ra", "rc"], "record_key": ["k1", "k2", "k3", "k9"], "invoice_id": ["I-2", "I-1", "I-2", "I-7"]}
    )
    assert billed_runs(billed, ["ra", "rb"]).rows() == [("ra", 3, ["I-1", "I-2"])]


def test_billed_changes_list_records_rated_differently_or_no_longer_rated():
    d = Decimal
    schema = {"record_key": pl.String, "contract_id": pl.String, "amount": pl.Decimal(18, 6), "free_quantity": pl.Int64}
    before = pl.DataFrame(
        [("k1", "V1", d("0.1"), 0), ("k2", "V1", d("0.2"), 0), ("k3", "V1", d("0.3"), 0), ("k4", "V1", d("0.4"), 0),
         ("k6", "V1", d("0.1"), 60)], schema=schema, orient="row",
    )  # fmt: skip  k5 was not rated before this re-rating (unassigned by an earlier one, say)
    after = pl.DataFrame(
        [("k1", "V1", d("0.1"), 0), ("k2", "V1", d("0.25"), 0), ("k4", "V2", d("0.4"), 0), ("k5", "V2", d("0.5"), 0),
         ("k6", "V1", d("0.1"), 0)], schema=schema, orient="row",
    )  # fmt: skip
    billed = pl.DataFrame({"record_key": ["k1", "k2", "k3", "k4", "k5", "k6"], "invoice_id": ["I-1", "I-1", "I-2", "I-2", "I-3", "I-3"]})
    assert billed_changes(before, after, billed).rows() == [
        ("k2", "I-1", "V1", d("0.200000"), 0, "V1", d("0.250000"), 0),
        ("k3", "I-2", "V1", d("0.300000"), 0, None, None, None),  # no longer rated
        ("k4", "I-2", "V1", d("0.400000"), 0, "V2", d("0.400000"), 0),  # the same amount, another contract
        ("k5", "I-3", None, None, None, "V2", d("0.500000"), 0),  # rated again after it was unassigned
        ("k6", "I-3", "V1", d("0.100000"), 60, "V1", d("0.100000"), 0),  # its free units went elsewhere; a minimum charge kept the amount
    ]
