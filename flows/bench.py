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
import pyarrow.parquet as pq

from pipeline.io import warehouse
from pipeline.io.catalog_files import load_catalog
from pipeline.io.synth_files import generate
from pipeline.job import RUN_TABLES, rate
from schemas.usage import USAGE_POLARS


def bench_data(cdrs: int, contracts: int, data: Path, seed: int = 42) -> Path:
    """The folder of generated data for these arguments, generated when absent or not whole.

    The data are generated beside it and renamed into place when complete, so a generation that
    was interrupted never leaves a folder that a later bench would take for the real one; a folder
    whose Parquet files do not hold exactly `cdrs` records (or without its catalog) is made again.
    """
    folder = Path(data) / f"{cdrs}-{contracts}-{seed}"
    parts = sorted((folder / "usage").glob("*.parquet")) if (folder / "usage").is_dir() else []
    whole = (
        (folder / "catalog" / "contracts.csv").is_file()
        and sum(pq.ParquetFile(p).metadata.num_rows for p in parts) == cdrs
        and (cdrs == 0 or bool(parts))
    )
    if not whole:
        building = folder.with_name(folder.name + ".partial")
        shutil.rmtree(building, ignore_errors=True)
        generate(building, cdrs=cdrs, contracts=contracts, seed=seed)
        shutil.rmtree(folder, ignore_errors=True)
        building.rename(folder)
    return folder


def run_bench(cdrs: int, contracts: int, data: Path, seed: int = 42) -> dict:
    """Time each stage on `cdrs` records against `contracts` contracts; generate the data first if absent."""
    folder = bench_data(cdrs, contracts, data, seed)
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
