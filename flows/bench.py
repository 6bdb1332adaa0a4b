"""`rating bench`: the pipeline's speed on generated data, per stage and end to end.

Runs the pure core directly (no Prefect: its orchestration costs per task, not per
record) from canonical Parquet files to invoice lines stored in a scratch warehouse,
then stores the per-record detail (rated usage) as its own timed stage.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl

from pipeline.io import warehouse
from pipeline.io.catalog_files import load_catalog
from pipeline.io.synth_files import generate
from pipeline.job import RUN_TABLES, rate
from schemas.usage import USAGE_POLARS



def run_bench(cdrs: int, contracts: int, data: Path, seed: int = 42) -> dict:
    """Time each stage on `cdrs` records against `contracts` contracts; generate the data first if absent."""
    folder = Path(data) / f"{cdrs}-{contracts}-{seed}"
    if not (folder / "usage").exists():
        generate(folder, cdrs=cdrs, contracts=contracts, seed=seed)
    stages: list[tuple[str, int, float]] = []
    start = time.perf_counter()
    catalog = load_catalog(folder / "catalog")
    stages.append(("load catalog", catalog.device_ids.height, time.perf_counter() - start))
    t = time.perf_counter()
    usage = pl.read_parquet(sorted((folder / "usage").glob("*.parquet"))).cast(USAGE_POLARS)
    stages.append(("read Parquet", usage.height, time.perf_counter() - t))
    result = rate(usage, catalog, run_id="bench")
    stages.extend((s.stage, s.records, s.seconds) for s in result.timings)
    scratch = Path(tempfile.mkdtemp(prefix="rating-bench-"))
    try:
        t = time.perf_counter()
        warehouse.write_run({name: result.table(name) for name in RUN_TABLES}, scratch, "bench")
        stages.append(("write invoice lines + outcomes", usage.height, time.perf_counter() - t))
        to_invoice_lines = time.perf_counter() - start
        t = time.perf_counter()
        warehouse.write_run({"rated_usage": result.rated_usage()}, scratch, "bench")
        stages.append(("build + write rated-usage detail", result.counts()["rated"], time.perf_counter() - t))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "stages": stages,
        "records": usage.height,
        "seconds_to_invoice_lines": to_invoice_lines,
        "seconds": time.perf_counter() - start,
        "outcomes": result.counts(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
