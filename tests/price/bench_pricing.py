"""Benchmark of the price and aggregate stages on the 10 M-record bench data, with tiers and free quantities.

    cd /work/main && /work/venv/bin/python -m tests.price.bench_pricing [--repeat 3] [--steps]

The bench catalog (data/bench/10000000-100000-42, generated if absent) has no pricing rules,
so a scratch copy gets some: 100 free minutes of national fixed and mobile calls per contract
and month on every tariff, graduated tiers on calls to Austria fixed, volume tiers on calls to
Germany fixed and mobile (their base prices removed: tiers replace them), a connect fee and a
minimum charge. The whole pipeline runs once (pipeline.job.rate); then the price stage
(build_rate_card + priced_usage, called as the job calls them: with the device index's intervals
and the located records it handed them) and the aggregate stage (invoice lines) are timed again
`--repeat` times on the same connection; the best and median times are printed, and each price
repeat's minor page faults (the fresh memory it touched). Each repeat
first lets go of the one before's priced records (a run prices once: two 10 M-record outputs never
share its memory).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from unittest.mock import patch

import pipeline  # noqa: F401  before Polars, as in `rating`: it tunes Polars' allocator
import polars as pl

from pipeline.assign import assigned_usage
from pipeline.bill import invoice_lines, line_sums
from pipeline.io.catalog_files import load_catalog
from pipeline.io.synth_files import generate
from pipeline import job
from pipeline.price import build_rate_card, priced_usage
from schemas.usage import USAGE_POLARS

DATA = Path("data/bench/10000000-100000-42")
TARIFFS = ("T-BIZ60", "T-BIZ1", "T-FLEX", "T-DE", "T-RES")
GRADUATED = ("V-AT_FIX",)
VOLUME = ("V-DE_FIX", "V-DE_MOB")


def pricing_files(folder: Path) -> None:
    """Write the benchmark's pricing tables next to a copy of the bench catalog."""
    rows = [(t, a) for t in TARIFFS for a in ("V-AT_FIX", "V-AT_MOB")]
    pl.DataFrame({"tariff_id": [t for t, _ in rows], "article_id": [a for _, a in rows], "quantity": [6000] * len(rows)}).write_csv(
        folder / "free_quantities.csv"
    )
    tiers = []
    for t in TARIFFS:
        for a in GRADUATED:
            tiers += [(t, a, "graduated", 0, "0.0200", None), (t, a, "graduated", 30000, "0.0150", None), (t, a, "graduated", 120000, "0.0100", "1.0000")]
        for a in VOLUME:
            tiers += [(t, a, "volume", 0, "0.0300", None), (t, a, "volume", 6000, "0.0250", "0.5000"), (t, a, "volume", 60000, "0.0200", None)]
    pl.DataFrame(tiers, schema=["tariff_id", "article_id", "method", "from_quantity", "price", "flat_fee"], orient="row").write_csv(
        folder / "volume_tiers.csv"
    )
    prices = pl.read_csv(folder / "prices.csv", infer_schema=False)
    prices.filter(~pl.col("article_id").is_in(GRADUATED + VOLUME)).write_csv(folder / "prices.csv")
    pl.DataFrame(
        {"tariff_id": list(TARIFFS), "article_id": ["V-AT_MOB"] * 5, "connect_fee": ["0.0500"] * 5, "min_charge": ["0.1000"] * 5,
         "min_revenue": ["false"] * 5, "cost_cap": ["true"] * 5}
    ).write_csv(folder / "tariff_articles.csv")
    pl.DataFrame({"tariff_id": list(TARIFFS), "cost_cap": ["50.00"] * 5, "tolerance_pct": ["10"] * 5}).write_csv(
        folder / "tariff_pricing.csv"
    )


def rated_keeping(usage: pl.DataFrame, catalog) -> tuple[job.RatingResult, pl.DataFrame, pl.DataFrame]:
    """pipeline.job.rate of `usage`, the frame the job handed pricing and the device-ID intervals it
    handed the rate card, kept to price again; `assigned_span` on the run's connection is registered
    again from the frame, as when the job priced (build_rate_card takes the days to convert to local
    time and the holiday years from it)."""
    handed = {}

    def card_keeping(con, catalog, intervals):
        handed["intervals"] = intervals
        return build_rate_card(con, catalog, intervals)

    def priced_keeping(con, earlier, located):
        handed["located"] = located
        return priced_usage(con, earlier, located)

    with patch.object(job, "build_rate_card", card_keeping), patch.object(job, "priced_usage", priced_keeping):
        result = job.rate(usage, catalog, run_id="bench")
    assigned_usage(result.con, handed["located"])
    return result, handed["located"], handed["intervals"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plain", action="store_true", help="no pricing tables (base prices only)")
    args = parser.parse_args()
    if not (DATA / "usage").exists():
        generate(DATA, cdrs=10_000_000, contracts=100_000, seed=42)
    from pipeline.io.catalog_files import load_priced_catalog

    scratch = Path(tempfile.mkdtemp(prefix="pricing-bench-"))
    try:
        shutil.copytree(DATA / "catalog", scratch, dirs_exist_ok=True)
        if not args.plain:
            pricing_files(scratch)
        catalog = load_priced_catalog(scratch) if not args.plain else load_catalog(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    usage = pl.read_parquet(sorted((DATA / "usage").glob("*.parquet"))).cast(USAGE_POLARS)
    result, located, intervals = rated_keeping(usage, catalog)
    print("pipeline.job.rate:", ", ".join(f"{t.stage} {t.seconds:.2f} s" for t in result.timings))
    con, n = result.con, result.timings[-1].records
    price, aggregate, faults = [], [], []
    result.priced = None  # each repeat prices alone, as a run does: no earlier pricing's output stays in memory
    for _ in range(args.repeat):
        priced = None
        con.unregister("pricing")
        clock = job.StageClock()
        build_rate_card(con, catalog, intervals)  # as the job calls it: the device index's intervals at hand
        priced = priced_usage(con, None, located)
        timed = clock.timing("price", n)
        price.append(timed.seconds)
        faults.append(timed.page_faults)
        start = time.perf_counter()
        invoice_lines(con, "bench", line_sums(priced))
        aggregate.append(time.perf_counter() - start)
    counted, split, tiered, spanning = con.sql(
        "SELECT count(*) FILTER (WHERE quantity IS NOT NULL AND ta_no IN (SELECT ta_no FROM ta_dim WHERE counted)), "
        "count(*) FILTER (WHERE free_quantity > 0 AND free_quantity < quantity), "
        "count(*) FILTER (WHERE tier_no IS NOT NULL), count(*) FILTER (WHERE tier_before IS NOT NULL) FROM pricing"
    ).fetchall()[0]
    print(f"{n:,} assigned records; {counted:,} count toward free quantities or tiers (walked in time order); "
          f"{split:,} split free/charged; {tiered:,} priced by a tier ({spanning:,} spanning two tiers)")
    for name, times in (("price", price), ("aggregate", aggregate)):
        best, median = min(times), statistics.median(times)
        print(f"{name:9s} best {best:.3f} s = {n / best / 1e6:.2f} M records/s; median {median:.3f} s = {n / median / 1e6:.2f} M records/s")
    # fresh memory a repeat touched: on this project's VM it costs about what filling it does (docs/performance.md)
    print("price page faults per repeat:", ", ".join(f"{f:,}" for f in faults))


if __name__ == "__main__":
    main()
