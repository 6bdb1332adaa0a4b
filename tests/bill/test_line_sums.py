"""The usage invoice lines' sums (pipeline.bill.line_sums): one per period, contract and tariff-article,
in that order, whether their packed key fits 32 bits or needs 64."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.bill import line_sums

SUMMED = ("month_idx", "contract_no", "ta_no", "records", "quantity", "free_quantity", "amount_micro")


def priced(rows: list[tuple]) -> pa.Table:
    """Priced records as (month_idx, contract_no, ta_no, quantity, free_quantity, amount_micro); amount None: not rated."""
    columns = list(zip(*rows))
    types = (pa.int32(), pa.int32(), pa.int32(), pa.int64(), pa.int64(), pa.int64())
    names = ("month_idx", "contract_no", "ta_no", "quantity", "free_quantity", "amount_micro")
    return pa.table({n: pa.array(c, type=t) for n, c, t in zip(names, columns, types)})


@pytest.mark.parametrize(
    ("month", "contract", "ta"),
    [
        (24_321, 7, 3),  # 2 + 3 + 2 bits: a UInt32 key
        (24_321, 2**26 + 5, 2**18 + 1),  # 2 + 27 + 19 bits: an Int64 key
    ],
)
def test_lines_sum_their_records_by_period_contract_and_article(month, contract, ta):
    records = priced([
        (month, contract, ta, 60, 0, 1_500_000),
        (month - 2, contract, ta, 30, 30, 0),
        (month, 1, ta, 10, 0, 250_000),
        (month, contract, 1, 5, 0, 90_000),
        (month, contract, ta, 120, 60, 1_000_001),
        (month, contract, ta, 999, 0, None),  # unrateable: in no line
        (month - 1, 2, 2, 1, 0, 7),
    ])  # fmt: skip
    assert line_sums(records).select(SUMMED).rows() == [
        (month - 2, contract, ta, 1, 30, 30, 0),
        (month - 1, 2, 2, 1, 1, 0, 7),
        (month, 1, ta, 1, 10, 0, 250_000),
        (month, contract, 1, 1, 5, 0, 90_000),
        (month, contract, ta, 2, 180, 60, 2_500_001),
    ]


def test_no_rated_record_makes_no_line():
    assert line_sums(priced([(24_321, 1, 1, 60, 0, None)])).height == 0
