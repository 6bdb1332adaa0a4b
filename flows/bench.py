"""`rating bench`: the pipeline's speed on generated data, per stage and end to end.

Runs the pure core directly (no Prefect: its orchestration costs per task, not per
record) from canonical Parquet files to invoice lines stored in a scratch warehouse,
then stores the per-record detail (rated usage) as its own timed stage. Last, apart from the
end-to-end figures, it loads the catalog and the device index as every `rating run` after the
first with an unchanged catalog does (validated or built once, then kept:
pipeline.io.catalog_cache, pipeline.io.index_cache), and reads the same files again through the
production reader, as `rating run` does; it reports what a run would take with those loads and
that read instead.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from pipeline import engine
from pipeline.assign.catalog import within_contracts
from pipeline.catalog import Catalog
from pipeline.ingest.numbers import normalised_usage
from pipeline.io import warehouse
from pipeline.io.catalog_cache import cached_priced_catalog
from pipeline.io.catalog_files import load_catalog
from pipeline.io.index_cache import cached_device_index
from pipeline.io.readers import Source, read_usage_file, usage_batch
from pipeline.io.readers.config import numbering_plan_of
from pipeline.io.synth_files import generate
from pipeline.job import RUN_TABLES, StageClock, StageTiming, rate
from pipeline.threads import on_both_cores
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
    stages: list[StageTiming] = []
    start = time.perf_counter()
    clock = StageClock()
    catalog = load_catalog(folder / "catalog")
    stages.append(clock.timing("load catalog", catalog.device_ids.height))
    clock = StageClock()
    usage = pl.read_parquet(sorted((folder / "usage").glob("*.parquet"))).cast(USAGE_POLARS)
    stages.append(clock.timing("read Parquet", usage.height))
    result = rate(usage, catalog, run_id="bench")
    stages.extend(result.timings)
    scratch = Path(tempfile.mkdtemp(prefix="rating-bench-"))
    try:
        clock = StageClock()
        warehouse.write_run({name: result.stored_table(name) for name in RUN_TABLES}, scratch, "bench")
        stages.append(clock.timing("write invoice lines + outcomes", usage.height))
        to_invoice_lines = time.perf_counter() - start
        clock = StageClock()
        warehouse.write_run({"rated_usage": result.rated_usage_parts()}, scratch, "bench")
        stages.append(clock.timing("build + write rated-usage detail", result.counts()["rated"]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - start
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    outcomes, records = result.counts(), usage.height
    del result, usage  # the production read below gets their memory
    kept = kept_catalog(folder / "catalog")
    kept_index = kept_device_index(catalog)
    stages += [kept, kept_index]
    clock = StageClock()
    production = production_read(sorted((folder / "usage").glob("*.parquet")))
    stages.append(clock.timing("read through the production reader (as `rating run`)", production))
    timed = {t.stage: t.seconds for t in stages}
    return {
        "stages": stages,
        "records": records,
        "seconds_to_invoice_lines": to_invoice_lines,
        "seconds": seconds,
        "seconds_read": timed["read Parquet"],
        "seconds_production_read": stages[-1].seconds,
        "seconds_catalog": timed["load catalog"],
        "seconds_kept_catalog": kept.seconds,
        "seconds_device_index": timed["device index"],
        "seconds_kept_device_index": kept_index.seconds,
        "outcomes": outcomes,
        "peak_rss_mb": peak_rss_mb,
    }


def kept_catalog(directory: Path) -> StageTiming:
    """The time to load the catalog in `directory` as a `rating run` does once an earlier run kept it
    validated (pipeline.io.catalog_cache; the run that keeps it, untimed, comes first)."""
    cache = Path(tempfile.mkdtemp(prefix="rating-bench-catalog-"))
    try:
        cached_priced_catalog(directory, cache)
        clock = StageClock()
        catalog = cached_priced_catalog(directory, cache)
        return clock.timing("load catalog kept from an earlier run (as `rating run`)", catalog.device_ids.height)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def kept_device_index(catalog: Catalog) -> StageTiming:
    """The time to get the device index of `catalog` as a `rating run` does once an earlier run kept
    it (pipeline.io.index_cache; the run that keeps it, untimed, comes first), on a fresh connection
    as a run's own."""
    cache = Path(tempfile.mkdtemp(prefix="rating-bench-index-"))

    def get() -> StageTiming:
        con = engine.connect()
        try:
            catalog.register(con)
            clock = StageClock()
            cached_device_index(con, within_contracts(catalog.device_ids, catalog.contracts), cache_dir=cache)
            return clock.timing("load device index kept from an earlier run (as `rating run`)", catalog.device_ids.height)
        finally:
            con.close()

    try:
        get()
        return get()
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def production_read(files: list[Path]) -> int:
    """Read `files` as `rating run` reads a `format = "parquet"` source (every field checked, record
    keys prefixed with the source's name, numbers normalised); the records read, accepted or rejected.

    The bench itself reads the canonical files directly; this is what a real run pays instead."""
    source = Source(name="synth", format="parquet", pattern="*.parquet")
    results = on_both_cores(lambda path: read_usage_file(path, source), files)  # files, two at a time (as read_inbox)
    usage = usage_batch([r.usage for r in results])
    normalised_usage(usage, numbering_plan_of({source.name: source}))
    return usage.height + sum(r.rejected_records for r in results)
