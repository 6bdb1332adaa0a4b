"""Cost control: flat prices and cost caps against the tariff's tolerance, and `rating cost-control`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import typer
from typer.testing import CliRunner

from pipeline import engine
from pipeline.cli_pricing import load_priced_catalog, register
from pipeline.price import cost_control
from tests.factory import raw_catalog
from tests.price.factory import CORE, K_EX, K_RC, K_SEC, calls, priced, rate_priced

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
    ("K-SEC", "flat_price", "A-MOB", 120, "0.18", "0.10", "80.00", "over_tolerance"),
    ("K-SEC", "cost_cap", None, 180, "0.18", "0.10", "80.00", "over_tolerance"),
    ("K-RC", "cost_cap", None, 105, "0.11", "0.10", "10.00", "cap_reached"),
]


def records():
    return pl.concat([calls(s, row, source_line=[i], record_key=[f"r{i}"]) for i, (s, row) in enumerate(USAGE, start=1)])


def shown(report: pl.DataFrame) -> list[tuple]:
    return report.select(
        "contract_id", "rule", "article_id", "quantity", pl.col("usage_value").cast(pl.String), pl.col("limit_amount").cast(pl.String),
        pl.col("excess_pct").cast(pl.String), "status",
    ).rows()


def test_cost_control_lists_flat_prices_and_cost_caps_beyond_the_tolerance():
    cat = priced(**RULES)
    con = engine.connect()
    con.register("rated_usage", rate_priced(records(), cat).table("rated_usage").pl())
    report = cost_control(con, cat, "2026-10")
    assert shown(report) == EXPECTED
    assert set(report.get_column("tolerance_pct")) == {Decimal("10.00")}


def test_rating_cost_control_prints_and_stores_the_report(tmp_path: Path):
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for name, raw in raw_catalog(**CORE).items():
        raw.frame.drop("_line").write_csv(catalog / f"{name}.csv")
    for name, columns in RULES.items():
        pl.DataFrame(columns).write_csv(catalog / f"{name}.csv")
    rated = rate_priced(records(), load_priced_catalog(catalog)).table("rated_usage").pl()
    period_dir = tmp_path / "warehouse" / "rated_usage" / "period=2026-10"
    period_dir.mkdir(parents=True)
    rated.drop("period").write_parquet(period_dir / "run-x_0.parquet")
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["cost-control", "--period", "2026-10", "--catalog", str(catalog), "--warehouse", str(tmp_path / "warehouse")])
    assert result.exit_code == 0, result.output
    assert "1 flat prices exceeded beyond tolerance, 2 cost caps reached (1 beyond tolerance)" in " ".join(result.output.split())
    stored = pl.read_parquet(tmp_path / "warehouse" / "cost_control" / "period=2026-10" / "cost_control.parquet")
    assert shown(stored) == EXPECTED


def test_rating_cost_control_refuses_a_period_that_is_not_a_month(tmp_path: Path):
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["cost-control", "--period", "2026-13"])
    assert result.exit_code == 2
    assert "is not a month YYYY-MM" in result.output
