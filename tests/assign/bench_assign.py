"""Benchmark of contract assignment: key + assign stages of pipeline.job.rate on the bench data.

    cd /work/main && /work/venv/bin/python -m tests.assign.bench_assign [--reps 5] [--data data/bench/10000000-100000-42]

Times the stages as pipeline/job.py runs them on 10 M CDRs against 100 k contracts (~300 k
device IDs): keyed_usage; the device index, built and stored in an empty cache (cold: the
first run after a catalog change) and loaded from it on a fresh connection (warm: every
other run); located_usage; assigned_usage. Best of `reps` runs by wall clock and the range,
with CPU seconds (all threads) and the load average beside: the machine is shared, so a run
that overlapped someone else's shows a higher wall than CPU/2. Reading the Parquet files and
the catalog is not timed. Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pipeline  # noqa: F401  before Polars, as in `rating`: it tunes Polars' allocator
import polars as pl

from pipeline import engine
from pipeline.assign import assigned_usage, keyed_usage, located_usage
from pipeline.io.index_cache import cached_device_index
from pipeline.io.catalog_files import load_catalog
from pipeline.io.synth_files import generate
from pipeline.price import key_dim
from schemas.usage import USAGE_POLARS


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _connection(catalog):
    """A run's connection as pipeline.job.rate has it when assignment starts (the catalog registered)."""
    con = engine.connect()
    catalog.register(con)
    return con


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("data/bench/10000000-100000-42"))
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if not (args.data / "usage").exists():
        cdrs, contracts, seed = (int(x) for x in args.data.name.split("-"))
        generate(args.data, cdrs=cdrs, contracts=contracts, seed=seed)
    catalog = load_catalog(args.data / "catalog")
    usage = pl.read_parquet(sorted((args.data / "usage").glob("*.parquet"))).cast(USAGE_POLARS)
    keys = key_dim(catalog)
    n = usage.height
    print(f"{n:,} records, {catalog.contracts.height:,} contracts, {catalog.device_ids.height:,} device IDs; "
          f"load average {os.getloadavg()[0]:.2f}")
    runs: list[dict[str, tuple[float, float]]] = []
    loads = []
    for rep in range(args.reps):
        cache_dir = Path(tempfile.mkdtemp(prefix="bench-index-cache-"))
        try:
            cold_con, con = _connection(catalog), _connection(catalog)
            keyed, *t_key = _timed(lambda: keyed_usage(usage, keys))
            cold, *t_cold = _timed(lambda: cached_device_index(cold_con, catalog.device_ids, cache_dir=cache_dir))
            index, *t_warm = _timed(lambda: cached_device_index(con, catalog.device_ids, cache_dir=cache_dir))
            assert index.segments.equals(cold.segments) and index.main.equals(cold.main), "the loaded index differs from the built one"
            located, *t_locate = _timed(lambda: located_usage(con, keyed, index))
            _, *t_register = _timed(lambda: assigned_usage(con, located))
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
        loads.append(os.getloadavg()[0])
        times = {"key": t_key, "index build (cold)": t_cold, "index load (warm)": t_warm, "locate": t_locate, "register": t_register}
        per_record = [t_key, t_locate, t_register]
        times["per record"] = tuple(sum(t[i] for t in per_record) for i in range(2))
        times["key+assign, cached index"] = tuple(sum(t[i] for t in [*per_record, t_warm]) for i in range(2))
        times["key+assign, index built"] = tuple(sum(t[i] for t in [*per_record, t_cold]) for i in range(2))
        runs.append(times)
        assigned = located.get_column("dev_no").is_not_null().sum()
        print(f"run {rep + 1}: " + ", ".join(f"{k} {w:.3f} s (cpu {c:.3f})" for k, (w, c) in times.items())
              + f"; assigned {assigned:,}; load average {loads[-1]:.2f}", flush=True)
        cold_con.close()
        con.close()
    print(f"best of {args.reps} (range), load average {min(loads):.2f}-{max(loads):.2f}:")
    for name in runs[0]:
        walls = [r[name][0] for r in runs]
        rate = f"; {n / min(walls):,.0f} records/s ({n / max(walls):,.0f}-{n / min(walls):,.0f})" if name.startswith(("per record", "key+")) else ""
        print(f"  {name}: {min(walls):.3f} s ({min(walls):.3f}-{max(walls):.3f}){rate}")


if __name__ == "__main__":
    main()
