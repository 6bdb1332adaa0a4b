"""The bench's generated data: made whole or made again, never taken half-written (generator audit)."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
from typer.testing import CliRunner

from flows.bench import bench_data
from pipeline.cli import app


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


def test_rating_bench_reports_every_stage_and_the_read_a_real_run_pays(tmp_path):
    """The bench reads canonical Parquet directly; it also times the production reader, which a
    `rating run` pays instead (8 s more for 10 M rows when it was not reported)."""
    result = CliRunner().invoke(app, ["bench", "--cdrs", "2000", "--contracts", "40", "--data", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "┃ stage" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == ["stage", "records", "seconds", "records/s", "CPU s", "cores", "page faults"]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in result.output.splitlines() if line.count("│") == 8]
    stages = [row[0] for row in rows]
    assert stages == [
        "load catalog", "read Parquet", "validate", "deduplicate", "register catalog", "key", "device index", "assign", "zone + rate card", "price",
        "aggregate + outcomes + ledger", "write invoice lines + outcomes", "build + write rated-usage detail",
        "load catalog kept from an earlier run (as `rating run`)", "load device index kept from an earlier run (as `rating run`)",
        "read through the production reader (as `rating run`)",
    ]  # fmt: skip
    production = next(row for row in rows if "production reader (as" in row[0])
    assert production[1] == "2,000"  # every record read again, accepted or rejected
    # each stage's CPU time (the process's, every thread) and the cores it kept busy (CPU over wall time)
    cpu = {row[0]: float(row[4]) for row in rows}
    assert all(v >= 0 for v in cpu.values()) and cpu["read Parquet"] + cpu["price"] + cpu["aggregate + outcomes + ledger"] > 0
    assert all(row[5] == "-" or float(row[5]) >= 0 for row in rows)
    # and its minor page faults: the fresh memory it touched (reading a file's records into new columns takes some)
    faults = {row[0]: int(row[6].replace(",", "")) for row in rows}
    assert all(v >= 0 for v in faults.values()) and faults["read Parquet"] > 0
    assert sum(faults[name] for name in stages[2:11]) > 0  # the job's own stages (pipeline.job's timings) count theirs
    assert "the same with the production Parquet reader instead" in result.output
    assert "the same with the catalog and device index kept from an earlier run" in result.output
