"""The synthetic data generator: deterministic, valid catalog, usage with exactly the configured noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandera.polars as pandera
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipeline.io.catalog_files import load_catalog
from pipeline.io.readers import load_sources, source_for
from pipeline.io.synth_files import SAMPLE_DROPS, generate
from pipeline.synth import NOISE, Noise, part_sizes
from pipeline.synth.numbering import digits
from pipeline.synth.usage import durations, start_times
from schemas.catalog import REFERENCES, TABLES
from schemas.usage import USAGE_ARROW, UsageRecord

CDRS, CONTRACTS, FILES, SEED, SAMPLE = 20_000, 300, 2, 7, 25
ROWS_PER_FILE = part_sizes(CDRS, FILES)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    generate(folder, CDRS, CONTRACTS, seed=SEED, files=FILES, csv_sample=SAMPLE)
    return folder


def read_table(path: Path, model: type[pandera.DataFrameModel]) -> pl.DataFrame:
    """A catalog CSV read as text, then cast to the model's dtypes (dates and UTC timestamps parsed)."""
    raw = pl.read_csv(path, infer_schema=False)
    columns = []
    for name, column in model.to_schema().columns.items():  # the model's handful of columns
        dtype, col = column.dtype.type, pl.col(name)
        if dtype == pl.Date:
            col = col.str.to_date("%Y-%m-%d")
        elif isinstance(dtype, pl.Datetime):
            col = col.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", time_zone="UTC")
        elif dtype == pl.Boolean:
            col = col.replace_strict({"true": True, "false": False}, return_dtype=pl.Boolean)
        else:
            col = col.cast(dtype)
        columns.append(col)
    return raw.select(columns)


def catalog(out: Path, name: str) -> pl.DataFrame:
    return read_table(out / "catalog" / f"{name}.csv", TABLES[name])


def usage(out: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted((out / "usage").glob("usage-0*.parquet")))


@pytest.mark.parametrize(
    ("cdrs", "files", "expected"),
    [
        (0, None, [0]),
        (5, None, [5]),
        (10, 3, [4, 3, 3]),
        (7, 7, [1, 1, 1, 1, 1, 1, 1]),
        (4_000_001, None, [1_333_334, 1_333_334, 1_333_333]),
        (6_000_000, None, [2_000_000, 2_000_000, 2_000_000]),
    ],
)
def test_part_sizes(cdrs, files, expected):
    assert part_sizes(cdrs, files) == expected


@pytest.mark.parametrize(
    ("rows", "noise", "expected"),
    [
        (20_000, NOISE, {"duplicate": 100, "invalid": 10, "unassigned": 200, "no_zone": 20}),
        (1, NOISE, {"duplicate": 0, "invalid": 0, "unassigned": 0, "no_zone": 0}),
        (10, Noise(duplicate=0.5, invalid=0.5, unassigned=0.5, no_zone=0.5), {"duplicate": 5, "invalid": 4, "unassigned": 0, "no_zone": 0}),
    ],
)
def test_noise_counts(rows, noise, expected):
    assert noise.counts(rows) == expected


def test_same_arguments_same_data(out, tmp_path):
    generate(tmp_path, CDRS, CONTRACTS, seed=SEED, files=FILES, csv_sample=SAMPLE)
    for path in sorted((out / "catalog").glob("*.csv")) + [out / "usage" / "usage-sample.csv"]:
        assert path.read_bytes() == (tmp_path / path.relative_to(out)).read_bytes(), path.name
    for path in sorted((out / "usage").glob("*.parquet")):
        assert pq.read_table(path).equals(pq.read_table(tmp_path / "usage" / path.name)), path.name


def test_another_seed_other_data(out, tmp_path):
    generate(tmp_path, 1_000, CONTRACTS, seed=SEED + 1)
    assert (tmp_path / "catalog" / "device_ids.csv").read_bytes() != (out / "catalog" / "device_ids.csv").read_bytes()


@pytest.mark.parametrize("name", list(TABLES))
def test_catalog_csv_validates(out, name):
    model = TABLES[name]
    header = (out / "catalog" / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == list(model.to_schema().columns)
    frame = catalog(out, name)
    assert frame.height > 0
    model.validate(frame, lazy=True)


def test_catalog_loads_with_the_project_loader(out):
    assert load_catalog(out / "catalog").device_ids.height == catalog(out, "device_ids").height


@pytest.mark.parametrize(("table", "column", "target", "target_column"), REFERENCES)
def test_references_hold(out, table, column, target, target_column):
    source, dest = catalog(out, table), catalog(out, target)
    dangling = source.join(dest, left_on=column, right_on=target_column, how="anti")
    assert dangling.height == 0


@pytest.mark.parametrize(
    ("table", "low", "high"),
    [
        ("customers", 200, 200),
        ("contracts", CONTRACTS, CONTRACTS),
        ("device_ids", 2.5 * CONTRACTS, 3.5 * CONTRACTS),
        ("tariffs", 4, 8),
        ("zones", 3_000, 10_000),
        ("articles", 20, 40),
    ],
)
def test_catalog_sizes(out, table, low, high):
    assert low <= catalog(out, table).height <= high


def test_every_tariff_prices_every_article(out):
    prices, tariffs, articles = catalog(out, "prices"), catalog(out, "tariffs"), catalog(out, "articles")
    assert prices.select("tariff_id", "article_id").n_unique() == tariffs.height * articles.height
    assert catalog(out, "tariffs")["catchall_zone"].drop_nulls().len() == 1
    # at most 4 decimal places
    assert (prices["price"] * 10_000).cast(pl.Int64).cast(prices["price"].dtype).equals(prices["price"] * 10_000)


def test_device_ids_never_overlap_in_validity(out):
    ids = catalog(out, "device_ids").with_row_index("row").with_columns(pl.col("id_to").fill_null(""))
    pairs = ids.join(ids, on=["id_type", "id_value", "id_to"], suffix="_b").filter(pl.col("row") < pl.col("row_b"))
    far = pl.datetime(9999, 1, 1, time_zone="UTC")
    near = pl.datetime(1, 1, 1, time_zone="UTC")
    overlapping = pairs.filter(
        (pl.col("valid_from").fill_null(near) < pl.col("valid_until_b").fill_null(far))
        & (pl.col("valid_from_b").fill_null(near) < pl.col("valid_until").fill_null(far))
    )
    assert pairs.height > 0  # moved numbers exist ...
    assert overlapping.height == 0  # ... and never overlap
    moved = pairs.filter((pl.col("valid_until") == pl.col("valid_from_b")) & (pl.col("contract_id") != pl.col("contract_id_b")))
    assert moved.height == pairs.height


def test_device_ids_have_every_shape(out):
    ids = catalog(out, "device_ids")
    assert ids["id_value"].str.contains(r"^[1-9][0-9]{6,11}$").all()
    singles = ids.filter(pl.col("id_to").is_null()).select("contract_id", "id_value").unique()
    ranges = ids.filter(pl.col("id_to").is_not_null())
    # ranges: same length, ordered, 10/100/1000 numbers
    assert ranges.height > 0
    assert (ranges["id_value"].str.len_chars() == ranges["id_to"].str.len_chars()).all()
    sizes = ranges["id_to"].cast(pl.Int64) - ranges["id_value"].cast(pl.Int64) + 1
    assert set(sizes.unique()) <= {10, 100, 1000}
    # nesting: an ID of one contract heads an ID of another, up to three levels deep
    heads = []
    for length in sorted(singles["id_value"].str.len_chars().unique()):  # a handful of lengths
        inner = singles.with_columns(head=pl.col("id_value").str.slice(0, length))
        heads.append(inner.join(singles, left_on="head", right_on="id_value", suffix="_outer").filter(pl.col("id_value") != pl.col("head")))
    nested = pl.concat(heads)
    assert nested.filter(pl.col("contract_id") != pl.col("contract_id_outer")).height > 0
    assert nested.group_by("id_value").len()["len"].max() >= 2  # number in a sub-block in a block
    # validity: mostly open, some windows
    open_share = (ids["valid_from"].is_null() & ids["valid_until"].is_null()).mean()
    assert 0.7 < open_share < 0.98


def test_usage_files_have_the_canonical_schema(out):
    files = sorted((out / "usage").glob("usage-0*.parquet"))
    assert [f.name for f in files] == [f"usage-{i:04d}.parquet" for i in range(FILES)]
    for path, rows in zip(files, ROWS_PER_FILE):
        table = pq.read_table(path)
        assert table.schema.equals(USAGE_ARROW)
        assert table.num_rows == rows
        frame = pl.from_arrow(table)
        assert frame["source_file"].unique().to_list() == [path.name]
        assert frame["source_line"].to_list() == list(range(1, rows + 1))
    assert usage(out).height == CDRS


def test_the_usage_folder_is_an_inbox_rating_run_reads(out):
    """`rating run --catalog OUT/catalog --inbox OUT/usage` found no sources.toml: the generated
    files could be rated only after writing one by hand, which no doc said."""
    sources = load_sources(out / "usage" / "sources.toml")
    chosen = {path.name: source_for(path.name, sources) for path in sorted((out / "usage").iterdir())}
    assert {name: (s.name, s.format) if s else None for name, s in chosen.items()} == {
        "sources.toml": None,
        "usage-0000.parquet": ("synth", "parquet"),
        "usage-0001.parquet": ("synth", "parquet"),
        "usage-sample.csv": None,
    }


def test_only_the_deliberate_records_are_invalid(out):
    for path, rows in zip(sorted((out / "usage").glob("usage-0*.parquet")), ROWS_PER_FILE):
        with pytest.raises(pandera.errors.SchemaErrors) as failed:
            UsageRecord.validate(pl.read_parquet(path), lazy=True)
        bad_rows = failed.value.failure_cases["index"].drop_nulls().n_unique()
        assert bad_rows == NOISE.counts(rows)["invalid"]


def test_duplicates_repeat_an_earlier_record_exactly(out):
    records = usage(out)
    content = [c for c in records.columns if c not in ("source_file", "source_line")]
    assert records.height - records["record_key"].n_unique() == sum(NOISE.counts(r)["duplicate"] for r in ROWS_PER_FILE)
    repeated = records.filter(pl.len().over("record_key") > 1)
    assert repeated.group_by("record_key").agg(pl.struct(content).n_unique().alias("versions"))["versions"].max() == 1
    assert repeated.group_by("record_key").agg(pl.col("source_file").n_unique())["source_file"].max() == 2  # across files


def _headed(numbers: pl.Series, heads: pl.Series) -> np.ndarray:
    """Which numbers start with one of `heads` (a test-sized longest-prefix check)."""
    found = np.zeros(numbers.len(), dtype=bool)
    for length in heads.str.len_chars().unique():  # a handful of prefix lengths
        found |= numbers.str.slice(0, length).is_in(heads.filter(heads.str.len_chars() == length).implode()).to_numpy()
    return found


def test_unassigned_and_unzoned_shares_are_as_configured(out):
    records = usage(out).unique("record_key", keep="first", maintain_order=True)
    ids = catalog(out, "device_ids")
    matched = _headed(records["subscriber_id"], ids.filter(pl.col("id_to").is_null())["id_value"])
    for (length,), ranges in ids.filter(pl.col("id_to").is_not_null()).group_by(pl.col("id_value").str.len_chars()):
        lo = ranges["id_value"].cast(pl.Int64).to_numpy()
        hi = ranges["id_to"].cast(pl.Int64).to_numpy()[np.argsort(lo)]
        lo = np.sort(lo)
        head = records["subscriber_id"].str.slice(0, length).cast(pl.Int64).to_numpy()
        at = np.searchsorted(lo, head, side="right") - 1
        matched |= (at >= 0) & (head <= hi[at.clip(0)]) & (records["subscriber_id"].str.len_chars() >= length).to_numpy()
    assert (~matched).sum() == sum(NOISE.counts(r)["unassigned"] for r in ROWS_PER_FILE)
    zoned = _headed(records["counterparty"], catalog(out, "zones")["prefix"])
    assert (~zoned).sum() == sum(NOISE.counts(r)["no_zone"] for r in ROWS_PER_FILE)


def test_numbers_look_like_e164(out):
    records = usage(out)
    assert records["subscriber_id"].str.contains(r"^[1-9][0-9]{9,14}$").all()
    assert records["counterparty"].str.contains(r"^[1-9][0-9]{9,12}$").all()
    times = records["start_time"].filter(records["start_time"].dt.year() > 2000)
    assert str(times.dt.date().min()) >= "2026-08-01"
    assert str(times.dt.date().max()) <= "2026-10-31"


def test_csv_sample_is_the_first_records(out):
    sample = pl.read_csv(out / "usage" / "usage-sample.csv", infer_schema=False)
    assert sample.columns == [f.name for f in USAGE_ARROW if f.name not in SAMPLE_DROPS]
    assert sample.height == SAMPLE
    assert sample["start_time"].str.contains(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$").all()
    first = usage(out).head(SAMPLE)
    assert sample["record_key"].to_list() == first["record_key"].to_list()
    assert sample["start_time"].to_list() == first["start_time"].dt.strftime("%Y-%m-%d %H:%M:%S").to_list()


SAT_2026_08_01, MON_2026_08_03 = 1_785_542_400, 1_785_715_200


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (SAT_2026_08_01, SAT_2026_08_01 + 92 * 86_400),  # the usage window, starting on a Saturday
        (SAT_2026_08_01, SAT_2026_08_01 + 2 * 86_400),  # only a weekend
        (MON_2026_08_03 + 37_000, MON_2026_08_03 + 37_001),  # one second
        (MON_2026_08_03 + 86_399, MON_2026_08_03 + 86_401),  # across midnight
    ],
)
def test_start_times_stay_inside_their_interval(lo, hi):
    rng = np.random.Generator(np.random.PCG64(1))
    t = start_times(rng, np.full(5_000, lo), np.full(5_000, hi))
    assert t.min() >= lo
    assert t.max() < hi


def test_start_times_follow_office_hours():
    rng = np.random.Generator(np.random.PCG64(1))
    t = start_times(rng, np.full(50_000, MON_2026_08_03), np.full(50_000, MON_2026_08_03 + 7 * 86_400))
    hour = (t % 86_400) // 3_600
    weekend = ((t // 86_400 + 3) % 7) >= 5
    assert (hour == 8).mean() > 5 * (hour == 1).mean()  # 10:00 CEST is busier than 03:00
    assert weekend.mean() < 0.2  # two days of seven, thinned


@pytest.mark.parametrize(("values", "expected"), [([1, 9, 10, 99, 100], [1, 1, 2, 2, 3]), ([43_316_812_724, 10**14, 10**15 - 1], [11, 15, 15])])
def test_digits(values, expected):
    assert digits(np.array(values, dtype=np.int64)).tolist() == expected


def test_durations_are_seconds_with_some_zero():
    d = durations(np.random.Generator(np.random.PCG64(1)), 100_000)
    assert d.min() == 0 and d.max() <= 4 * 3600
    assert 0.02 < (d == 0).mean() < 0.06
    assert 30 < np.median(d) < 90
