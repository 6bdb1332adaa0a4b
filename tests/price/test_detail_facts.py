"""The rated facts of the per-record detail (pipeline/price/detail.py rated_facts): only the records
with an amount, the micro-unit amounts read as DECIMAL(18,6) exactly, by period and then rid."""

from __future__ import annotations

from decimal import Decimal as D

import pyarrow as pa
import pytest

from pipeline.price.detail import rated_facts
from pipeline.price.records import PRICING_COLUMNS

#: rid, month_idx, price_micro, fee_micro, amount_micro (None: unrateable) of priced records.
PRICED = [
    (0, 24321, 1, 0, 1),
    (1, 24320, 2_500_000, 0, -2_500_000),  # a credit
    (2, 24321, 10_000, 50_000, None),  # unrateable: left out
    (3, 24320, 999_999_999_999_999_999, 0, 999_999_999_999_999_999),  # the largest amount stored
    (4, 24321, 123_456, 7, 123_463),
]


def priced(rows: list[tuple]) -> pa.Table:
    """A pricing table (PRICING_COLUMNS) holding `rows`' codes and amounts, every other column 0."""
    columns = {name: pa.array([0] * len(rows), pa.int64()) for name in PRICING_COLUMNS}
    for i, name in enumerate(("rid", "month_idx", "price_micro", "fee_micro", "amount_micro")):
        columns[name] = pa.array([row[i] for row in rows], pa.int64())
    return pa.table(columns)


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4], [4, 2, 0, 3, 1]], ids=["input-order", "shuffled"])
def test_rated_facts_are_exact_amounts_by_period_then_rid(order):
    facts = rated_facts(priced([PRICED[i] for i in order]))
    assert facts.select("rid", "month_idx", "price", "fee", "amount").rows() == [
        (1, 24320, D("2.500000"), D("0.000000"), D("-2.500000")),
        (3, 24320, D("999999999999.999999"), D("0.000000"), D("999999999999.999999")),
        (0, 24321, D("0.000001"), D("0.000000"), D("0.000001")),
        (4, 24321, D("0.123456"), D("0.000007"), D("0.123463")),
    ]
    assert [str(facts.schema[c]) for c in ("price", "fee", "amount")] == ["Decimal(precision=18, scale=6)"] * 3
