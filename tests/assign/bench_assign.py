"""Benchmark of contract assignment: key + assign stages of pipeline.job.rate on the bench data.

    cd /work/main && /work/venv/bin/python -m tests.assign.bench_assign [--reps 5] [--data data/bench/10000000-100000-42]

Times the stages as pipeline/job.py runs them (keyed_usage; build_device_index +
located_usage; assigned_usage) on 10 M CDRs against 100 k contracts (~300 k device IDs),
best of `reps` runs by wall clock, with CPU seconds (all threads) beside: the machine is
shared, so a run that overlapped someone else's shows a higher wall than CPU/2. Reading the
Parquet files and the catalog is not timed. Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import polars as pl

from pipeline import engine
from pipeline.assign import assigned_usage, build_device_index, keyed_usage, located_usage
from pipeline.io.catalog_files import load_catalog
from pipeline.io.synth_files import generate
from pipeline.price import key_dim
from schemas.usage import USAGE_POLARS


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


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
    best: dict[str, tuple[float, float]] = {}
    for rep in range(args.reps):
        con = engine.connect()
        keyed, *t_key = _timed(lambda: keyed_usage(usage, keys))
        index, *t_index = _timed(lambda: build_device_index(con, catalog.device_ids))
        located, *t_locate = _timed(lambda: located_usage(con, keyed, index))
        _, *t_register = _timed(lambda: assigned_usage(con, located))
        times = {"key": t_key, "index": t_index, "locate": t_locate, "register": t_register}
        times["key+assign"] = tuple(sum(t[i] for t in times.values()) for i in range(2))
        times["per record"] = tuple(t_key[i] + t_locate[i] + t_register[i] for i in range(2))
        assigned = located.get_column("dev_no").is_not_null().sum()
        print(f"run {rep + 1}: " + ", ".join(f"{k} {w:.3f} s (cpu {c:.3f})" for k, (w, c) in times.items())
              + f"; assigned {assigned:,}", flush=True)
        for k, v in times.items():
            if k not in best or v[0] < best[k][0]:
                best[k] = v
        con.close()
    wall = best["key+assign"][0]
    print("best: " + ", ".join(f"{k} {w:.3f} s" for k, (w, _) in best.items()))
    print(f"key + assign (index build included): {n / wall:,.0f} records/s; "
          f"per-record part (key + locate + register): {n / best['per record'][0]:,.0f} records/s; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
