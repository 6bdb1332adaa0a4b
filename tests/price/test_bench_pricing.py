"""The pricing bench (tests/price/bench_pricing.py) times the price stage again on the job's
connection: it must price the records as the job priced them, time bands and holidays included."""

from __future__ import annotations

import polars as pl

from pipeline.price import build_rate_card, priced_usage
from tests.price.bench_pricing import rated_keeping
from tests.price.factory import K_SEC, calls, priced
from tests.price.test_rules import BANDS


def test_the_pricing_bench_prices_again_what_the_job_priced_in_its_bands():
    records = pl.concat([
        calls(K_SEC, ("2026-10-01 10:00:00", 60), ("2026-10-01 05:59:59", 60), ("2026-10-03 10:00:00", 60), ("2026-10-04 10:00:00", 60)),
        calls("4977700000", ("2026-10-02 10:00:00", 60)),  # unassigned: no device ID
    ])  # fmt: skip
    cat = priced(**BANDS)
    result, located, intervals = rated_keeping(records, cat)
    assert intervals.height == cat.device_ids.height  # the device index's, handed to the rate card by the job
    build_rate_card(result.con, cat, intervals)
    again = pl.from_arrow(priced_usage(result.con, None, located))
    job = pl.from_arrow(result.priced)
    assert job.get_column("band_no").to_list() == [3, 2, 1, 4]  # peak, offpeak, holiday, weekend (band_dim: by name)
    assert again.get_column("band_no").to_list() == [3, 2, 1, 4]
    assert again.equals(job)
