"""The validated catalog kept between runs (pipeline/io/catalog_cache.py): a hit is exactly what
load_priced_catalog returns, any change to what validation reads misses, a damaged entry is made
again, and an invalid catalog is never stored."""

from __future__ import annotations

import shutil
from dataclasses import fields, is_dataclass, replace
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from pandera.config import config_context

from pipeline.catalog import CatalogError, RawTable
from pipeline.catalog.billing import BillingCatalog
from pipeline.io import catalog_cache as cache
from pipeline.io import catalog_files
from pipeline.io import billing_files
from pipeline.io.billing_files import CATALOGS_READS, load_catalogs
from pipeline.io.catalog_files import PRICED_CATALOG_READS, load_priced_catalog
from pipeline.price import PricedCatalog
from tests.price.factory import CORE, raw_pricing
from tests.factory import raw_catalog

SAMPLE = Path("data/sample/catalog")
ARTICLES = CORE["prices"]["article_id"]
#: tests/price/factory.py's core with what the sample lacks: volume tiers (T-SEC's data has no base
#: price then), a tariff change (a usage-tariff timeline), a holiday band, a promotion by the hour.
TIERED = {
    **{name: table.frame.drop("_line") for name, table in raw_catalog(**CORE).items()},
    **{name: table.frame.drop("_line") for name, table in raw_pricing(
        prices={"tariff_id": ["T-MIN"] * 6 + ["T-SEC"] * 5, "article_id": ARTICLES[:6] + ARTICLES[:4] + ARTICLES[5:6],
                "price": ["0.0600"] * 11},
        volume_tiers={"tariff_id": ["T-SEC", "T-SEC"], "article_id": ["A-GB", "A-GB"], "method": ["graduated"] * 2,
                      "from_quantity": ["0", "1000000000"], "price": ["0.05", "0.02"], "flat_fee": [None, "1.50"]},
        modules={"module_id": ["M-MIN"], "contract_id": ["K-MIN"], "name": ["Telephone"], "ordered_on": ["2025-01-01"]},
        module_tariffs={"module_id": ["M-MIN", "M-MIN"], "tariff_id": ["T-MIN", "T-SEC"], "valid_from": ["2025-01-01", "2026-10-15"],
                        "valid_until": ["2026-10-15", None]},
        tariff_pricing={"tariff_id": ["T-SEC"], "holiday_country": ["DE"], "holiday_subdiv": ["BE"]},
        time_bands={"tariff_id": ["T-SEC"] * 2, "band": ["day", "holiday"], "days": ["mon-sun", "holiday"],
                    "from_time": ["08:00", "00:00"], "until_time": ["20:00", "24:00"]},
        band_prices={"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "band": ["holiday"], "price": ["0.0100"]},
        promotions={"promotion_id": ["P1"], "tariff_id": ["T-MIN"], "article_id": ["A-MOB"], "price": ["0.0300"],
                    "valid_from": ["2026-10-01 06:00:00"], "valid_until": ["2026-10-02"]},
    ).items()},
}


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory) -> Path:
    """One folder per module and worker that every test's copy of the sample is made in, under the same
    name: the catalogs loaded once (`fresh`, `fresh_billing`) name the same files as each test's."""
    return tmp_path_factory.mktemp("sample")


def _pristine(home: Path) -> Path:
    shutil.rmtree(home / "catalog", ignore_errors=True)
    return Path(shutil.copytree(SAMPLE, home / "catalog"))


@pytest.fixture
def sample(sample_home) -> Path:
    """A pristine copy of the sample catalog, the test's own (the one before it removed)."""
    return _pristine(sample_home)


@pytest.fixture(scope="module")
def fresh(sample_home) -> PricedCatalog:
    """load_priced_catalog of the sample as `sample` names it, loaded once: a validation of the sample
    takes 0.6-1 s, and the byte a test changes (a final line break made a blank) changes no table."""
    return load_priced_catalog(_pristine(sample_home))


@pytest.fixture(scope="module")
def fresh_billing(sample_home) -> tuple[PricedCatalog, BillingCatalog]:
    """load_catalogs of the sample as `sample` names it, loaded once (as `fresh`)."""
    return load_catalogs(_pristine(sample_home))


@pytest.fixture
def tiered(tmp_path) -> Path:
    directory = tmp_path / "tiered"
    directory.mkdir()
    for name, frame in TIERED.items():
        frame.write_csv(directory / f"{name}.csv")
    return directory


@pytest.fixture
def validations(monkeypatch) -> list[Path]:
    """The directories the cache had validated (load_priced_catalog called), in order."""
    calls = []
    monkeypatch.setattr(cache, "load_priced_catalog", lambda d: calls.append(d) or load_priced_catalog(d))
    return calls


def differences(a: object, b: object, at: str = "catalog") -> list[str]:
    """Where two catalogs differ: type, a frame's schema (Decimal scale, time zone) or values in
    order, any other field (the sources' file names too, which the catalog does not compare)."""
    if type(a) is not type(b):
        return [f"{at}: {type(a).__name__} != {type(b).__name__}"]
    if isinstance(a, pl.DataFrame):
        same = a.schema == b.schema and a.equals(b)  # equals alone takes 1 for 1.0, a scale for another
        return [] if same else [f"{at}: {a.schema} != {b.schema} or values"]
    if is_dataclass(a):
        return [d for f in fields(a) for d in differences(getattr(a, f.name), getattr(b, f.name), f"{at}.{f.name}")]
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{at}: keys {list(a)} != {list(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{at}[{k}]")]
    return [] if a == b else [f"{at}: {a!r} != {b!r}"]


def entries(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


@pytest.mark.parametrize("which", ["sample", "tiered"])
@pytest.mark.parametrize("path", ["cold: validated and stored", "warm: loaded"])
def test_a_cached_catalog_is_exactly_what_load_priced_catalog_returns(which, path, request, tmp_path, validations):
    directory = request.getfixturevalue(which)
    fresh = load_priced_catalog(directory)
    if path.startswith("warm"):
        cache.cached_priced_catalog(directory, tmp_path / "cache")
    got = cache.cached_priced_catalog(directory, tmp_path / "cache")
    assert differences(got, fresh) == []
    assert validations == [directory]  # warm: validated by the first call alone
    assert len(entries(tmp_path / "cache")) == 1
    if which == "tiered":  # what the sample lacks is there
        assert (got.usage_tariffs.height, got.pricing.volume_tiers.height, got.pricing.promotions.get_column("valid_from").dtype) == (
            1, 2, pl.Datetime("us", "UTC"))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda c: c, []),
        (lambda c: replace(c, tariffs=c.tariffs.with_columns(pl.col("vat_rate").cast(pl.Decimal(6, 2)))), ["catalog.tariffs"]),
        (lambda c: replace(c, pricing=replace(c.pricing, promotions=c.pricing.promotions.with_columns(
            pl.col("valid_from").dt.convert_time_zone("Europe/Vienna")))), ["catalog.pricing.promotions"]),
        (lambda c: replace(c, zones=c.zones.reverse()), ["catalog.zones"]),
        (lambda c: replace(c, sources={**c.sources, "zones": RawTable("elsewhere/zones.csv", c.sources["zones"].frame)}),
         ["catalog.sources[zones].file"]),
    ],
)
def test_the_comparison_above_sees_a_scale_a_time_zone_a_row_order_and_a_file_name(change, where, fresh):
    assert [d.split(":")[0] for d in differences(fresh, change(fresh))] == where


#: Every file load_priced_catalog reads of the sample (it has no volume_tiers.csv).
SAMPLE_FILES = sorted(n for names in PRICED_CATALOG_READS for n in names if (SAMPLE / f"{n}.csv").exists())


def test_the_sample_has_every_file_the_loader_reads_but_volume_tiers():
    assert sorted({n for names in PRICED_CATALOG_READS for n in names} - set(SAMPLE_FILES)) == ["volume_tiers"]


def blank_last_byte(path: Path) -> None:
    """The file's last byte, its final line break, made a blank."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    path.write_bytes(data[:-1] + b" ")


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_one_changed_byte_in_any_file_the_loader_reads_misses(name, sample, tmp_path, validations, fresh):
    """The file's last byte, its final line break, made a blank: cells are read without blanks, so
    the tables stay the same, but a cache that skipped the file's bytes would not see a real change either."""
    cache.cached_priced_catalog(sample, tmp_path / "cache")
    blank_last_byte(sample / f"{name}.csv")
    got = cache.cached_priced_catalog(sample, tmp_path / "cache")
    assert validations == [sample, sample]
    assert differences(got, fresh) == []
    assert len(entries(tmp_path / "cache")) == 2


@pytest.mark.parametrize(
    ("name", "old", "new", "read"),
    [
        ("prices", b"T-MIN,A-NAT,0.0190", b"T-MIN,A-NAT,0.0191", lambda c: c.prices.get_column("price")[0]),
        ("band_prices", b"T-SEC,A-NAT,offpeak,0.0100", b"T-SEC,A-NAT,offpeak,0.0101", lambda c: c.pricing.band_prices.get_column("price")[0]),
        ("module_tariffs", b"M-1001,T-MIN,2025-01-01,\n", b"M-1001,T-MIN,2025-01-01,2026-11-01\nM-1001,T-SEC,2026-11-01,\n",
         lambda c: c.usage_tariffs.get_column("tariff_id").to_list()),
    ],
)
def test_a_changed_value_is_read_not_the_cached_one(name, old, new, read, sample, tmp_path):
    before = read(cache.cached_priced_catalog(sample, tmp_path / "cache"))
    path = sample / f"{name}.csv"
    assert old in path.read_bytes()
    path.write_bytes(path.read_bytes().replace(old, new, 1))
    after = read(cache.cached_priced_catalog(sample, tmp_path / "cache"))
    assert (before, after) == {
        "prices": (Decimal("0.019"), Decimal("0.0191")), "band_prices": (Decimal("0.01"), Decimal("0.0101")), "module_tariffs": ([], ["T-SEC"]),
    }[name]


@pytest.mark.parametrize(("change", "area_codes", "free_quantities"), [("a pricing file appears", 1, 1), ("a pricing file goes", 0, 0)])
def test_a_pricing_file_that_appears_or_goes_misses(change, area_codes, free_quantities, tiered, tmp_path, validations):
    (tiered / "free_quantities.csv").write_text("tariff_id,article_id,quantity\nT-SEC,A-NAT,6000\n")
    first = cache.cached_priced_catalog(tiered, tmp_path / "cache")
    assert (first.pricing.area_codes.height, first.pricing.free_quantities.height) == (0, 1)
    if change == "a pricing file appears":
        (tiered / "area_codes.csv").write_text("country_code,area_code,name\n43,316,Graz\n")
    else:
        (tiered / "free_quantities.csv").unlink()
    got = cache.cached_priced_catalog(tiered, tmp_path / "cache")
    assert (got.pricing.area_codes.height, got.pricing.free_quantities.height) == (area_codes, free_quantities)
    assert validations == [tiered, tiered]


def test_a_header_only_pricing_file_appearing_misses_although_its_table_stays_empty(tiered, tmp_path, validations):
    cache.cached_priced_catalog(tiered, tmp_path / "cache")
    (tiered / "area_codes.csv").write_text("country_code,area_code,name\n")
    assert cache.cached_priced_catalog(tiered, tmp_path / "cache").pricing.area_codes.height == 0
    assert validations == [tiered, tiered]


def test_a_stray_csv_file_appearing_fails_the_load_as_without_the_cache(sample, tmp_path):
    cache.cached_priced_catalog(sample, tmp_path / "cache")
    (sample / "promotion.csv").write_bytes((sample / "promotions.csv").read_bytes())
    with pytest.raises(CatalogError, match="promotion.csv: no catalog table has this name"):
        cache.cached_priced_catalog(sample, tmp_path / "cache")


@pytest.mark.parametrize(
    ("damage", "action"),
    [
        ("manifest missing", lambda e: (e / "manifest.json").unlink()),
        ("manifest garbage", lambda e: (e / "manifest.json").write_text("{not json")),
        ("manifest cut", lambda e: (e / "manifest.json").write_bytes((e / "manifest.json").read_bytes()[:-40])),
        ("a file missing", lambda e: (e / "pricing.band_prices.parquet").unlink()),
        ("a file truncated", lambda e: (e / "prices.parquet").write_bytes((e / "prices.parquet").read_bytes()[:100])),
        ("a file empty", lambda e: (e / "sources.zones.frame.parquet").write_bytes(b"")),
        ("a byte flipped", lambda e: _flip(e / "tariffs.parquet")),
        ("a valid file with another value", lambda e: _other_value(e / "prices.parquet")),
        ("every file gone", lambda e: [p.unlink() for p in e.iterdir()]),
    ],
)
def test_a_damaged_entry_is_validated_again_not_trusted(damage, action, sample, tmp_path, validations, fresh):
    cache_dir = tmp_path / "cache"
    cache.cached_priced_catalog(sample, cache_dir)
    (entry,) = cache_dir.iterdir()
    action(entry)
    assert differences(cache.cached_priced_catalog(sample, cache_dir), fresh) == []
    assert validations == [sample, sample]
    assert differences(cache.cached_priced_catalog(sample, cache_dir), fresh) == []  # stored whole again: loaded
    assert validations == [sample, sample]
    assert entries(cache_dir) == [entry.name]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _other_value(path: Path) -> None:
    """The file rewritten as it was written, the prices reversed: it reads fine."""
    pl.read_parquet(path).with_columns(pl.col("price").reverse()).write_parquet(path, compression="lz4", statistics=False)


def test_an_invalid_catalog_is_never_stored_and_fails_the_same_way_every_time(sample, tmp_path, validations):
    path = sample / "tariffs.csv"
    path.write_bytes(path.read_bytes().replace(b"T-MIN,Business per minute,EUR,60,", b"T-MIN,Business per minute,EUR,x,", 1))
    raised = []
    for _ in range(2):
        with pytest.raises(CatalogError) as caught:
            cache.cached_priced_catalog(sample, tmp_path / "cache")
        raised.append(caught.value)
    assert str(raised[0]) == str(raised[1]) == (
        f"catalog invalid (1 problem):\n{sample}/tariffs.csv:2: column 'first_increment_s': value 'x' breaks rule type Int64"
    )
    assert validations == [sample, sample]
    assert entries(tmp_path / "cache") == []


def test_a_catalog_changed_while_it_is_validated_is_not_stored(sample, tmp_path, monkeypatch):
    def changed_meanwhile(directory):
        catalog = load_priced_catalog(directory)
        (directory / "prices.csv").write_bytes((directory / "prices.csv").read_bytes().replace(b"0.0190", b"0.0191", 1))
        return catalog

    monkeypatch.setattr(cache, "load_priced_catalog", changed_meanwhile)
    cache.cached_priced_catalog(sample, tmp_path / "cache")
    assert entries(tmp_path / "cache") == []


@pytest.mark.parametrize(
    ("module", "load", "listed"),
    [(catalog_files, load_priced_catalog, PRICED_CATALOG_READS), (billing_files, load_catalogs, CATALOGS_READS)],
    ids=["rating", "billing"],
)
def test_the_key_covers_the_files_the_loader_reads(sample, monkeypatch, module, load, listed):
    """Each of its reads, in its order: a new read there must reach the key's list too."""
    reads, real = [], module.read_raw_catalog
    monkeypatch.setattr(module, "read_raw_catalog", lambda d, names=catalog_files.TABLES: reads.append(names) or real(d, names))
    load(sample)
    assert [list(names) for names in reads] == [list(names) for names in listed]
    assert reads[0] is catalog_files.TABLES  # the read that reports stray files


def test_a_changed_code_fingerprint_misses(sample, tmp_path, monkeypatch, validations, fresh):
    cache.cached_priced_catalog(sample, tmp_path / "cache")
    monkeypatch.setattr(cache, "_code_fingerprint", lambda: b"another release")
    assert differences(cache.cached_priced_catalog(sample, tmp_path / "cache"), fresh) == []
    assert validations == [sample, sample]
    assert len(entries(tmp_path / "cache")) == 2


@pytest.mark.parametrize("changed", ["pipeline/catalog/deep/rules.py", "schemas/catalog.py", "sql/duck/time_zones.sql", "a new file"])
def test_the_code_fingerprint_changes_with_any_source_file(changed, tmp_path, monkeypatch):
    files = ["pipeline/catalog/deep/rules.py", "schemas/catalog.py", "sql/duck/time_zones.sql", "sql/notes.txt"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"# {name}\n")
    monkeypatch.setattr(cache, "_CODE", ((tmp_path / "pipeline", "*.py"), (tmp_path / "schemas", "*.py"), (tmp_path / "sql", "*.sql")))
    before = cache._code_fingerprint.__wrapped__()
    (tmp_path / "sql/notes.txt").write_text("not code: no change")
    assert cache._code_fingerprint.__wrapped__() == before
    if changed == "a new file":
        (tmp_path / "pipeline/catalog/new.py").write_text("")
    else:
        (tmp_path / changed).write_text(f"# {changed}!\n")
    assert cache._code_fingerprint.__wrapped__() != before


@pytest.mark.parametrize("module", ["pl", "pyarrow", "pandera", "duckdb", "phonenumbers", "holidays"])
def test_the_code_fingerprint_changes_with_a_library_version(module, monkeypatch):
    before = cache._code_fingerprint.__wrapped__()
    monkeypatch.setattr(getattr(cache, module), "__version__", "0.0.0-other")
    assert cache._code_fingerprint.__wrapped__() != before


@pytest.mark.parametrize("change", ["pandera validation off", "pandera schema only", "another time zone name"])
def test_what_validation_reads_besides_files_and_code_is_in_the_key(change, sample, monkeypatch):
    before = cache.catalog_key(sample)
    if change == "another time zone name":
        monkeypatch.setattr(cache, "time_zones", lambda: frozenset({"Europe/Vienna"}))
        assert cache.catalog_key(sample) != before
        return
    settings = {"validation_enabled": False} if change == "pandera validation off" else {"validation_depth": "SCHEMA_ONLY"}
    with config_context(**settings):
        assert cache.catalog_key(sample) != before
    assert cache.catalog_key(sample) == before


def test_the_catalogs_file_names_follow_the_directory_as_given(sample, tmp_path, monkeypatch):
    """The sources name the files by the directory the load was given: the same files read under
    another name are another entry, each with its own names."""
    monkeypatch.chdir(sample.parent)
    relative = cache.cached_priced_catalog(Path(sample.name), tmp_path / "cache")
    absolute = cache.cached_priced_catalog(sample, tmp_path / "cache")
    again = cache.cached_priced_catalog(Path(sample.name), tmp_path / "cache")
    assert (relative.sources["zones"].file, absolute.sources["zones"].file, again.sources["zones"].file) == (
        "catalog/zones.csv", f"{sample}/zones.csv", "catalog/zones.csv")
    assert len(entries(tmp_path / "cache")) == 2


def test_a_cache_that_cannot_be_written_warns_and_the_run_gets_its_catalog(sample, tmp_path, fresh):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.warns(UserWarning, match="catalog cache .* not written"):
        got = cache.cached_priced_catalog(sample, blocked / "cache")
    assert differences(got, fresh) == []


def test_no_cache_directory_just_loads(sample, validations):
    cache.cached_priced_catalog(sample, None)
    cache.cached_priced_catalog(sample, None)
    assert validations == [sample, sample]


# The billing run's catalogs (load_catalogs: the core catalog with its pricing tables and usage
# tariffs, and the whole billing catalog), kept by the same rules.


@pytest.fixture
def billing_validations(monkeypatch) -> list[Path]:
    """The directories the cache had validated for billing (load_catalogs called), in order."""
    calls = []
    monkeypatch.setattr(cache, "load_catalogs", lambda d: calls.append(d) or load_catalogs(d))
    return calls


@pytest.mark.parametrize("path", ["cold: validated and stored", "warm: loaded"])
def test_cached_billing_catalogs_are_exactly_what_load_catalogs_returns(path, sample, tmp_path, billing_validations, fresh_billing):
    fresh = fresh_billing
    if path.startswith("warm"):
        cache.cached_catalogs(sample, tmp_path / "cache")
    got = cache.cached_catalogs(sample, tmp_path / "cache")
    assert differences(got[0], fresh[0]) + differences(got[1], fresh[1], "billing") == []
    assert billing_validations == [sample]
    assert len(entries(tmp_path / "cache")) == 1
    assert (got[1].addresses.height, got[1].positions.height) == (3, 6)  # the sample's billing files are there


#: Every file load_catalogs reads of the sample.
BILLING_SAMPLE_FILES = sorted({n for names in CATALOGS_READS for n in names if (SAMPLE / f"{n}.csv").exists()})


def test_the_billing_key_covers_the_billing_only_files_too():
    assert sorted(set(BILLING_SAMPLE_FILES) - set(SAMPLE_FILES)) == [
        "addresses", "article_terms", "billing_settings", "contract_terms", "pauses", "position_prices", "positions", "recipients",
        "tariff_terms", "users",
    ]


@pytest.mark.parametrize("name", BILLING_SAMPLE_FILES)
def test_one_changed_byte_in_any_file_load_catalogs_reads_misses(name, sample, tmp_path, billing_validations, fresh_billing):
    cache.cached_catalogs(sample, tmp_path / "cache")
    blank_last_byte(sample / f"{name}.csv")
    got = cache.cached_catalogs(sample, tmp_path / "cache")
    fresh = fresh_billing
    assert billing_validations == [sample, sample]
    assert differences(got[0], fresh[0]) + differences(got[1], fresh[1], "billing") == []
    assert len(entries(tmp_path / "cache")) == 2


def test_a_changed_billing_value_is_read_not_the_cached_one(sample, tmp_path):
    before = cache.cached_catalogs(sample, tmp_path / "cache")[1].addresses.get_column("city")[0]
    path = sample / "addresses.csv"
    path.write_bytes(path.read_bytes().replace(before.encode(), b"Graz-Umgebung", 1))
    assert cache.cached_catalogs(sample, tmp_path / "cache")[1].addresses.get_column("city")[0] == "Graz-Umgebung" != before


def test_rating_and_billing_keep_their_own_entries_side_by_side(sample, tmp_path, validations, billing_validations):
    for _ in range(2):
        priced = cache.cached_priced_catalog(sample, tmp_path / "cache")
        both = cache.cached_catalogs(sample, tmp_path / "cache")
    assert (type(priced).__name__, [type(c).__name__ for c in both]) == ("PricedCatalog", ["PricedCatalog", "BillingCatalog"])
    assert (validations, billing_validations) == ([sample], [sample])
    assert len(entries(tmp_path / "cache")) == 2


def test_an_invalid_billing_file_is_never_stored_and_fails_the_same_way_every_time(sample, tmp_path, billing_validations):
    path = sample / "positions.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[1].replace(",recurring,", ",sometimes,", 1) + "".join(lines[2:]))
    raised = []
    for _ in range(2):
        with pytest.raises(CatalogError, match="positions.csv:2: column 'billing_type'") as caught:
            cache.cached_catalogs(sample, tmp_path / "cache")
        raised.append(str(caught.value))
    assert raised[0] == raised[1]
    assert billing_validations == [sample, sample]
    assert entries(tmp_path / "cache") == []
