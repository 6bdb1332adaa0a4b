"""The bench's generated data: made whole or made again, never taken half-written (generator audit)."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq

from flows.bench import bench_data


def rows(folder) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (folder / "usage").glob("*.parquet"))


def test_bench_data_is_generated_once_and_reused(tmp_path):
    folder = bench_data(1_000, 20, tmp_path)
    assert (folder.name, rows(folder)) == ("1000-20-42", 1_000)
    stamp = (folder / "catalog" / "contracts.csv").stat().st_mtime_ns
    assert bench_data(1_000, 20, tmp_path) == folder
    assert (folder / "catalog" / "contracts.csv").stat().st_mtime_ns == stamp  # reused, not made again
    assert not list(tmp_path.glob("*.partial"))


def test_a_half_written_folder_is_made_again(tmp_path):
    """An interrupted generation left fewer records (or no catalog); the next bench ran on them under the asked-for title."""
    folder = bench_data(1_000, 20, tmp_path)
    part = next((folder / "usage").glob("*.parquet"))
    pq.write_table(pq.read_table(part).slice(0, 400), part)  # as if stopped part-way
    shutil.rmtree(folder / "catalog")
    (folder / "catalog").mkdir()
    again = bench_data(1_000, 20, tmp_path)
    assert rows(again) == 1_000 and (again / "catalog" / "contracts.csv").is_file()
