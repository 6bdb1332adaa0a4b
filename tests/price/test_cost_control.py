"""Cost control: flat prices, fixed prices and cost caps against the tariff's tolerance, and `rating cost-control`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from pipeline import engine
from pipeline.catalog.billing import validated_billing
from pipeline.cli_pricing import register
from pipeline.io.catalog_files import load_priced_catalog
from pipeline.price import cost_control
from tests.factory import raw_catalog
from tests.price.factory import CORE, K_EX, K_MIN, K_RC, K_SEC, calls, priced, raw_pricing, rate_priced

RULES = {
    "flat_prices": {"tariff_id": ["T-SEC"], "article_id": ["A-MOB"], "flat_price": ["0.10"], "reference_price": ["0.0900"]},
    "tariff_pricing": {"tariff_id": ["T-SEC"], "cost_cap": ["0.10"], "tolerance_pct": ["10"]},
    "tariff_articles": {"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "cost_cap": ["true"]},
}
USAGE = [
    (K_SEC, ("2026-10-01 10:00:00", 120, "4366123456")),  # flat usage worth 0.18 against a flat price of 0.10
    (K_RC, ("2026-10-01 10:00:00", 60, "4366123456")),  # worth 0.09: pays off
    (K_SEC, ("2026-10-02 10:00:00", 180)),  # 0.18 against a cap of 0.10: 80 % over
    (K_RC, ("2026-10-02 10:00:00", 105)),  # 0.105 → line 0.11: reached, 10 % over is within the tolerance
    (K_EX, ("2026-10-02 10:00:00", 60)),  # 0.06: below the cap
]
EXPECTED = [
    ("K-SEC", "flat_price", "A-MOB", None, 120, "0.18", "0.10", "80.00", "over_tolerance"),
    ("K-SEC", "cost_cap", None, None, 180, "0.18", "0.10", "80.00", "over_tolerance"),
    ("K-RC", "cost_cap", None, None, 105, "0.11", "0.10", "10.00", "cap_reached"),
]

# variable_fixed positions (docs/billing.md): A-NAT is rated at 0.06 per 60 s on both tariffs;
# the position bills round(price × charged / 60) instead. T-SEC has a 10 % tolerance, T-MIN none.
FIXED_PRICING = {"tariff_pricing": {"tariff_id": ["T-SEC"], "tolerance_pct": ["10"]}}
FIXED_BILLING = {
    "positions": {
        "position_id": ["P-0", "P-1", "P-2", "P-3", "P-4", "P-5"],
        "contract_id": ["K-EX", "K-SEC", "K-RC", "K-EX", "K-SEC", "K-MIN"],
        "article_id": ["A-NAT", "A-NAT", "A-NAT", "A-NAT", "A-MOB", "A-NAT"],
        "quantity": ["1"] * 6,
        "billing_type": ["variable_fixed"] * 6,
        "start_date": [None, None, None, "2026-10-01", None, None],
        "end_date": ["2026-09-30", None, None, None, None, None],
    },
    "position_prices": {
        "position_id": ["P-0", "P-1", "P-2", "P-3", "P-5"],
        "kind": ["price", "price", "price", "override", "price"],
        "price": ["0.001", "0.01", "0.055", "0.05", "0.059"],
        "valid_from": [None, None, None, "2026-10-01", None],
        "valid_until": [None, None, None, "2026-11-01", None],
        "reason": [None, None, None, "October promotion", None],
    },
}
FIXED_USAGE = [
    (K_SEC, ("2026-10-03 10:00:00", 600)),  # P-1: rated 0.60, billed 0.01 × 10 = 0.10: 500 % over
    (K_RC, ("2026-10-03 10:00:00", 600)),  # P-2: 0.60 against 0.55: 9.09 % is within the 10 %
    (K_EX, ("2026-10-03 10:00:00", 600)),  # P-3 (override 0.05): 0.60 against 0.50; P-0 ended in September
    (K_MIN, ("2026-10-03 10:00:00", 600)),  # P-5 on T-MIN, no tolerance: 0.60 against 0.59 is listed
]
FIXED_EXPECTED = [
    ("K-SEC", "fixed_price", "A-NAT", "P-1", 600, "0.60", "0.10", "500.00", "over_tolerance"),
    ("K-EX", "fixed_price", "A-NAT", "P-3", 600, "0.60", "0.50", "20.00", "over_tolerance"),
    ("K-MIN", "fixed_price", "A-NAT", "P-5", 600, "0.60", "0.59", "1.69", "over_tolerance"),
]


def records(usage=USAGE):
    return pl.concat([calls(s, row, source_line=[i], record_key=[f"r{i}"]) for i, (s, row) in enumerate(usage, start=1)])


def shown(report: pl.DataFrame) -> list[tuple]:
    return report.select(
        "contract_id", "rule", "article_id", "position_id", "quantity", pl.col("usage_value").cast(pl.String), pl.col("limit_amount").cast(pl.String),
        pl.col("excess_pct").cast(pl.String), "status",
    ).rows()


def test_cost_control_lists_flat_prices_and_cost_caps_beyond_the_tolerance():
    cat = priced(**RULES)
    con = engine.connect()
    con.register("rated_usage", rate_priced(records(), cat).table("rated_usage").pl())
    report = cost_control(con, cat, "2026-10")
    assert shown(report) == EXPECTED
    assert set(report.get_column("tolerance_pct")) == {Decimal("10.00")}


def test_cost_control_lists_fixed_prices_beyond_the_tolerance():
    cat = priced(**FIXED_PRICING)
    billing = validated_billing(raw_pricing(**FIXED_BILLING), cat)
    con = engine.connect()
    con.register("rated_usage", rate_priced(records(FIXED_USAGE), cat).table("rated_usage").pl())
    report = cost_control(con, cat, "2026-10", billing)
    assert shown(report) == FIXED_EXPECTED
    assert report.get_column("tolerance_pct").to_list() == [Decimal("10.00"), Decimal("10.00"), Decimal("0.00")]


def test_cost_control_without_a_billing_catalog_has_no_fixed_prices():
    cat = priced(**FIXED_PRICING)
    con = engine.connect()
    con.register("rated_usage", rate_priced(records(FIXED_USAGE), cat).table("rated_usage").pl())
    assert cost_control(con, cat, "2026-10").height == 0


def cost_control_command(tmp_path: Path, tables: dict[str, dict[str, list]], usage) -> tuple[str, pl.DataFrame]:
    """`rating cost-control --period 2026-10` over a catalog directory (CORE plus `tables`) and a
    warehouse holding `usage` rated: its output on one line and the report it stored."""
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for name, raw in raw_catalog(**CORE).items():
        raw.frame.drop("_line").write_csv(catalog / f"{name}.csv")
    for name, columns in tables.items():
        pl.DataFrame(columns, schema={c: pl.String for c in columns}).write_csv(catalog / f"{name}.csv")
    rated = rate_priced(records(usage), load_priced_catalog(catalog)).table("rated_usage").pl()
    period_dir = tmp_path / "warehouse" / "rated_usage" / "period=2026-10"
    period_dir.mkdir(parents=True)
    rated.drop("period").write_parquet(period_dir / "run-x_0.parquet")
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["cost-control", "--period", "2026-10", "--catalog", str(catalog), "--warehouse", str(tmp_path / "warehouse")])
    assert result.exit_code == 0, result.output
    stored = pl.read_parquet(tmp_path / "warehouse" / "cost_control" / "period=2026-10" / "cost_control.parquet")
    return " ".join(result.output.split()), stored


def test_rating_cost_control_prints_and_stores_the_report(tmp_path: Path):
    output, stored = cost_control_command(tmp_path, RULES, USAGE)
    assert "1 flat prices exceeded beyond tolerance, 2 cost caps reached (1 beyond tolerance)" in output
    assert shown(stored) == EXPECTED
    # printed to a pipe (a scheduled run's log), the table keeps whole cells
    assert "│ K-SEC │ C2 │ T-SEC │ flat_price │ A-MOB │ │ 0.18 │ 0.10 │ 80.00 │ 10.00 │ over_tolerance │" in output


@pytest.mark.parametrize(
    ("change", "old", "new", "validated", "flat_row"),
    [
        ("unchanged", None, None, 0, ("K-SEC", "flat_price", "A-MOB", None, 120, "0.18", "0.10", "80.00", "over_tolerance")),
        ("a flat price", "T-SEC,A-MOB,0.10,", "T-SEC,A-MOB,0.12,", 1,
         ("K-SEC", "flat_price", "A-MOB", None, 120, "0.18", "0.12", "50.00", "over_tolerance")),
    ],
)
def test_rating_cost_control_loads_an_unchanged_catalog_from_the_cache_and_validates_a_changed_one(
    tmp_path: Path, monkeypatch, change, old, new, validated, flat_row
):
    """The validated catalog `rating run` keeps in the warehouse (pipeline.io.catalog_cache) serves cost control too."""
    from pipeline.io import catalog_files

    cost_control_command(tmp_path, RULES, USAGE)  # the first command keeps the validated catalog in the warehouse
    validations, real = [], catalog_files.validated_catalog
    monkeypatch.setattr(catalog_files, "validated_catalog", lambda raw: validations.append(1) or real(raw))
    catalog, warehouse = tmp_path / "catalog", tmp_path / "warehouse"
    if old is not None:
        text = (catalog / "flat_prices.csv").read_text()
        assert old in text
        (catalog / "flat_prices.csv").write_text(text.replace(old, new, 1))
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["cost-control", "--period", "2026-10", "--catalog", str(catalog), "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    stored = pl.read_parquet(warehouse / "cost_control" / "period=2026-10" / "cost_control.parquet")
    assert (len(validations), shown(stored)[0]) == (validated, flat_row)


def test_rating_cost_control_stopped_while_writing_leaves_the_earlier_report_whole(tmp_path: Path, monkeypatch):
    """A report is written beside the stored one and renamed over it: a command that stops while
    writing (killed, disk full) leaves the earlier report readable, not a cut file."""
    _, stored = cost_control_command(tmp_path, RULES, USAGE)
    target = tmp_path / "warehouse" / "cost_control" / "period=2026-10" / "cost_control.parquet"

    def cut_short(frame, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 cut")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", cut_short)
    app = typer.Typer()
    register(app)
    catalog, warehouse = tmp_path / "catalog", tmp_path / "warehouse"
    result = CliRunner().invoke(app, ["cost-control", "--period", "2026-10", "--catalog", str(catalog), "--warehouse", str(warehouse)])
    assert result.exit_code != 0
    monkeypatch.undo()
    assert shown(pl.read_parquet(target)) == shown(stored) == EXPECTED
    assert [p.name for p in target.parent.iterdir()] == ["cost_control.parquet"]


def test_rating_cost_control_refuses_a_period_that_is_not_a_month(tmp_path: Path):
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["cost-control", "--period", "2026-13"])
    assert result.exit_code == 2
    assert "is not a month YYYY-MM" in result.output


def test_rating_cost_control_reads_the_fixed_prices_of_the_billing_catalog(tmp_path: Path):
    output, stored = cost_control_command(tmp_path, {**FIXED_PRICING, **FIXED_BILLING}, FIXED_USAGE)
    assert "3 fixed prices exceeded beyond tolerance" in output
    assert shown(stored) == FIXED_EXPECTED
