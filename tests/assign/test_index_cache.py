"""The device index kept between runs (pipeline/io/index_cache.py): a hit assigns exactly as a fresh
build, any change to what the index is built from misses, and a damaged entry is rebuilt."""

from __future__ import annotations

import os
import time

import polars as pl
import pytest

from pipeline import engine
from pipeline.assign import keyed_usage, located_usage
from pipeline.io import index_cache as cache
from pipeline.assign.index import build_device_index
from pipeline.catalog import USAGE_TARIFFS
from pipeline.job import rate
from pipeline.price import key_dim
from tests.factory import at, catalog, usage

DEVICE_IDS = {
    "contract_id": ["K-SEC", "K-MIN", "K-SEC", "K-MIN", "K-MIN", "K-SEC"],
    "id_type": ["phone", "phone", "phone", "phone", "ipv4", "string"],
    "id_value": ["4331681", "43316812", "43316812700", "4331681555", "10.0.0.0", "router-7"],
    "id_to": [None, None, "43316812799", None, "10.0.0.99", None],
    "valid_from": [None, None, None, None, None, None],
    "valid_until": [None, None, None, at("2026-10-15 00:00:00"), None, None],
}
RECORDS = {
    "id_type": ["phone", "phone", "phone", "phone", "phone", "ipv4", "string", "phone"],
    "subscriber_id": ["4331681999", "43316812000", "4331681275099", "4331681555", "4331681555", "10.0.0.7", "router-7", "4999"],
    "start_time": [at(t) for t in ["2026-10-01 10:00:00"] * 3 + ["2026-10-14 23:59:59", "2026-10-15 00:00:00"] + ["2026-10-01 10:00:00"] * 3],
}
#: The contract of each record, by the catalog above: most specific ID valid at the start time.
CONTRACTS = ["K-SEC", "K-MIN", "K-SEC", "K-MIN", "K-SEC", "K-MIN", "K-SEC", None]
#: K-MIN's usage is rated with T-SEC from 2026-10-10: its device IDs are sliced there.
TARIFFS = pl.DataFrame(
    {"contract_id": ["K-MIN"], "module_id": ["M1"], "tariff_id": ["T-SEC"], "valid_from": [at("2026-10-10 00:00:00").date()], "valid_until": [None]},
    schema=USAGE_TARIFFS,
)


def device_ids(**changes: list) -> pl.DataFrame:
    return pl.DataFrame({**DEVICE_IDS, **changes}, schema={**{c: pl.String for c in DEVICE_IDS}, "valid_from": pl.Datetime("us", "UTC"), "valid_until": pl.Datetime("us", "UTC")})


def assigned(ids: pl.DataFrame, cache_dir, tariffs: pl.DataFrame | None = None) -> tuple[list[str | None], list[str | None]]:
    """(contract, tariff_id) of each record in RECORDS, with the index from `cache_dir` (None: built)."""
    con = engine.connect()
    index = cache.cached_device_index(con, ids, tariffs, cache_dir=cache_dir)
    located = located_usage(con, keyed_usage(usage(**RECORDS), key_dim(catalog())), index)
    dev = pl.DataFrame({"dev_no": located.get_column("dev_no")}).join(index.intervals, on="dev_no", how="left", maintain_order="left")
    return dev.get_column("contract_id").to_list(), dev.get_column("tariff_id").to_list()


def entries(cache_dir) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


@pytest.mark.parametrize("path", ["no cache", "cold: built and stored", "warm: loaded"])
def test_a_cached_index_assigns_like_a_fresh_build(path, tmp_path, monkeypatch):
    cache_dir = None if path == "no cache" else tmp_path / "cache"
    if path.startswith("warm"):
        assigned(device_ids(), cache_dir)
        monkeypatch.setattr(cache, "build_device_index", lambda *a, **k: pytest.fail("built, not loaded"))
    assert assigned(device_ids(), cache_dir)[0] == CONTRACTS
    assert len(entries(tmp_path / "cache")) == (0 if cache_dir is None else 1)


@pytest.mark.parametrize("table", ["device_intervals", "device_validity", "device_items", "device_segments"])
def test_a_loaded_index_leaves_the_connection_as_a_build_does(table, tmp_path):
    cache_dir = tmp_path / "cache"
    cache.cached_device_index(engine.connect(), device_ids(), cache_dir=cache_dir)
    built, loaded = engine.connect(), engine.connect()
    build_device_index(built, device_ids())
    cache.cached_device_index(loaded, device_ids(), cache_dir=cache_dir)
    kinds = "SELECT table_name, table_type FROM information_schema.tables ORDER BY table_name"
    assert loaded.sql(kinds).fetchall() == built.sql(kinds).fetchall()
    assert loaded.sql(f"DESCRIBE {table}").fetchall() == built.sql(f"DESCRIBE {table}").fetchall()
    assert loaded.sql(f"SELECT * FROM {table}").pl().sort(pl.all()).equals(built.sql(f"SELECT * FROM {table}").pl().sort(pl.all()))


@pytest.mark.parametrize(
    ("change", "ids", "tariffs", "contracts", "tariff_of_4th"),
    [
        ("nothing", device_ids(), None, CONTRACTS, None),
        ("an ID value", device_ids(id_value=["4331681", "43316812", "43316812700", "4331681555", "10.0.0.0", "router-8"]), None,
         CONTRACTS[:6] + [None, None], None),
        ("a range end", device_ids(id_to=[None, None, "43316812799", None, "10.0.0.5", None]), None, CONTRACTS[:5] + [None, "K-SEC", None], None),
        ("a contract", device_ids(contract_id=["K-SEC", "K-SEC", "K-SEC", "K-MIN", "K-MIN", "K-SEC"]), None,
         ["K-SEC", "K-SEC"] + CONTRACTS[2:], None),
        ("a later validity end", device_ids(valid_until=[None, None, None, at("2026-10-16 00:00:00"), None, None]), None,
         CONTRACTS[:4] + ["K-MIN"] + CONTRACTS[5:], None),
        ("an earlier validity end", device_ids(valid_until=[None, None, None, at("2026-10-14 00:00:00"), None, None]), None,
         CONTRACTS[:3] + ["K-SEC"] + CONTRACTS[4:], None),
        ("a validity start", device_ids(valid_from=[None, None, None, None, None, at("2026-10-02 00:00:00")]), None,
         CONTRACTS[:6] + [None, None], None),
        ("a usage tariff", device_ids(), TARIFFS, CONTRACTS, "T-SEC"),
    ],
)
def test_a_change_to_what_the_index_is_built_from_misses(change, ids, tariffs, contracts, tariff_of_4th, tmp_path):
    cache_dir = tmp_path / "cache"
    assigned(device_ids(), cache_dir)
    first = entries(cache_dir)
    got, tariff_ids = assigned(ids, cache_dir, tariffs)
    assert got == contracts
    assert tariff_ids[3] == tariff_of_4th
    assert (entries(cache_dir) == first) == (change == "nothing")


@pytest.mark.parametrize(
    ("damage", "action"),
    [
        ("manifest missing", lambda e: (e / "manifest.json").unlink()),
        ("manifest garbage", lambda e: (e / "manifest.json").write_text("{not json")),
        ("a file missing", lambda e: (e / "segments.parquet").unlink()),
        ("a file truncated", lambda e: (e / "main.parquet").write_bytes((e / "main.parquet").read_bytes()[:100])),
        ("a byte flipped", lambda e: _flip(e / "items.parquet")),
        ("a valid file with another value", lambda e: _other_value(e / "segments.parquet")),
        ("a file empty", lambda e: (e / "intervals.parquet").write_bytes(b"")),
        ("every file gone", lambda e: [p.unlink() for p in e.iterdir()]),
    ],
)
def test_a_damaged_entry_is_rebuilt_not_trusted(damage, action, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    assigned(device_ids(), cache_dir)
    (entry,) = cache_dir.iterdir()
    action(entry)
    built = []
    monkeypatch.setattr(cache, "build_device_index", lambda *a: built.append(1) or build_device_index(*a))
    assert assigned(device_ids(), cache_dir)[0] == CONTRACTS
    assert built == [1]
    assert assigned(device_ids(), cache_dir)[0] == CONTRACTS  # the rebuilt entry is whole again: loaded
    assert built == [1]
    assert entries(cache_dir) == [entry.name]


def _flip(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _other_value(path) -> None:
    """The file rewritten as it was written, one device ID number changed: it reads fine."""
    frame = pl.read_parquet(path).with_columns(pl.col("c1_dev").reverse())
    frame.write_parquet(path, compression="lz4", statistics=False)


def test_only_the_newest_entries_and_no_stale_temporary_directories_stay(tmp_path):
    cache_dir = tmp_path / "cache"
    (cache_dir / ".tmp-crashed").mkdir(parents=True)
    os.utime(cache_dir / ".tmp-crashed", (time.time() - cache.STALE_TMP_S - 1,) * 2)
    (cache_dir / ".tmp-running").mkdir()
    names = []
    for i in range(cache.KEEP + 2):
        ids = device_ids(id_value=["4331681", "43316812", "43316812700", "4331681555", "10.0.0.0", f"router-{i}"])
        cache.cached_device_index(engine.connect(), ids, cache_dir=cache_dir)
        names.append(cache.index_key(ids, None))
        os.utime(cache_dir / names[-1], (time.time() - 100 + i,) * 2)
    assert entries(cache_dir) == sorted([".tmp-running", *names[-cache.KEEP :]])


def test_a_cache_that_cannot_be_written_warns_and_the_run_goes_on(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.warns(UserWarning, match="device index cache"):
        assert assigned(device_ids(), blocked / "cache")[0] == CONTRACTS


def test_a_rating_run_with_a_cache_rates_as_one_without(tmp_path):
    cat = catalog(device_ids={k: [None if v is None else str(v) for v in vs] for k, vs in DEVICE_IDS.items() if not k.startswith("valid")})
    batch = usage(**RECORDS)
    runs = [rate(batch, cat, "run", index_cache=cache_dir) for cache_dir in (None, tmp_path / "c", tmp_path / "c")]
    lines = [r.table("invoice_lines").pl().sort(pl.all()) for r in runs]
    assert lines[1].equals(lines[0]) and lines[2].equals(lines[0])
    assert [r.ledger.sort("outcome").equals(runs[0].ledger.sort("outcome")) for r in runs] == [True] * 3
    assert len(entries(tmp_path / "c")) == 1
