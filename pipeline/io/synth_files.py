"""Writes the synthetic data set (`rating generate`): catalog CSVs and usage Parquet files.

Layout under `out`:
    catalog/<table>.csv       every table of schemas.catalog.TABLES
    usage/usage-0000.parquet  canonical usage records (USAGE_ARROW), ≤ ~2 M rows a file
    usage/sources.toml        one `parquet` source for them: `rating run --inbox out/usage` reads them
    usage/usage-sample.csv    optional: the first records as a generic CSV
The data itself comes from the pure functions in pipeline/synth; this module only
formats and writes it, one usage part at a time so memory stays bounded.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from pipeline.synth import NOISE, Noise, part_sizes, synth_catalog, usage_part
from schemas.catalog import TABLES

DATE_FORMAT = "%Y-%m-%d"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Columns the sample CSV leaves out: a CSV reader sets them from the file it reads.
SAMPLE_DROPS = ("source_file", "source_line")
#: Only low-cardinality columns are dictionary-encoded: keys and numbers would only pay for it.
DICTIONARY_COLUMNS = ["source", "source_file", "id_type", "article_key"]
#: The usage folder's sources.toml, so it is an inbox as it is (the records' own source is `synth`).
SOURCES_TOML = """\
# Written by `rating generate`: rate this folder with
#   rating run --catalog <out>/catalog --inbox <out>/usage
[sources.synth]
format = "parquet"
pattern = "usage-*.parquet"
"""


def write_catalog_csv(frame: pl.DataFrame, path: Path) -> None:
    """One catalog table as CSV: dates YYYY-MM-DD, timestamps UTC, decimals with 4 places, empty = null."""
    decimals = [
        pl.col(name).cast(pl.Decimal(dtype.precision, 4))
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal) and (dtype.scale or 0) > 4
    ]
    frame.with_columns(decimals).write_csv(path, date_format=DATE_FORMAT, datetime_format=TIMESTAMP_FORMAT)


def write_usage_sample_csv(frame: pl.DataFrame, path: Path) -> None:
    """Usage records as a generic CSV: canonical column names, UTC timestamps without zone suffix."""
    frame.drop(SAMPLE_DROPS).write_csv(path, datetime_format=TIMESTAMP_FORMAT)


def generate(
    out: Path,
    cdrs: int,
    contracts: int,
    seed: int = 42,
    files: int | None = None,
    csv_sample: int = 0,
    noise: Noise = NOISE,
) -> dict:
    """Generate and write a deterministic synthetic catalog and usage data set under `out`.

    Same arguments, same bytes (CSV) and same Parquet content. Earlier usage-*.parquet
    files in `out/usage` are removed first so a smaller run does not leave stale parts.
    Returns counts per table (and `usage`), the files written and the seconds taken.
    """
    started = time.perf_counter()
    out = Path(out)
    catalog_dir, usage_dir = out / "catalog", out / "usage"
    catalog_dir.mkdir(parents=True, exist_ok=True)
    usage_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*usage_dir.glob("usage-[0-9]*.parquet"), usage_dir / "usage-sample.csv"]:
        stale.unlink(missing_ok=True)
    (usage_dir / "sources.toml").write_text(SOURCES_TOML, encoding="utf-8")

    catalog = synth_catalog(contracts, seed)
    written: list[str] = []
    for name in TABLES:  # the eight catalog tables
        path = catalog_dir / f"{name}.csv"
        write_catalog_csv(catalog.tables[name], path)
        written.append(str(path))
    written.append(str(usage_dir / "sources.toml"))

    sample: list[pl.DataFrame] = []
    wanted = csv_sample
    carry = None
    first_row = 0
    for part, rows in enumerate(part_sizes(cdrs, files)):  # one output file at a time
        name = f"usage-{part:04d}.parquet"
        table, carry = usage_part(catalog, part, rows, first_row, name, carry, noise)
        pq.write_table(table, usage_dir / name, compression="zstd", use_dictionary=DICTIONARY_COLUMNS)
        written.append(str(usage_dir / name))
        if wanted > 0:
            head = pl.from_arrow(table.slice(0, wanted))
            sample.append(head)
            wanted -= head.height
        first_row += rows
    if csv_sample > 0:
        path = usage_dir / "usage-sample.csv"
        write_usage_sample_csv(pl.concat(sample), path)
        written.append(str(path))

    counts = {name: catalog.tables[name].height for name in TABLES}
    counts["usage"] = cdrs
    return {"tables": counts, "files": written, "seconds": round(time.perf_counter() - started, 3)}
