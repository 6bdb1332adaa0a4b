"""The coded price plans, contracts and device IDs (pipeline/price/coded.py), as literal tables.

Three contracts: K1 (customer C2, no price list, tariff T-B, UTC), K2 and K3 (customer C1, price
list PL, tariff T-A, Vienna; K3 has special prices). T-A has time bands, a catch-all zone and
a local zone; T-B has none. K2's second device-ID slice carries T-B after a tariff change. Keys
are plain integers here; area codes cover [4331000, 4331999] and [4390000, 4390999].
"""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from pipeline.price import build_rate_card
from pipeline.price.coded import contract_dim, dev_dim, plan_dim
from tests.price.factory import K_MIN, K_SEC, calls, priced, rate_priced

OWN = pl.DataFrame({
    "contract_id": ["K2", "K1", "K3"],
    "customer_id": ["C1", "C2", "C1"],
    "tariff_id": ["T-A", "T-B", "T-A"],
    "timezone": ["Europe/Vienna", "UTC", "Europe/Vienna"],
    "price_list_id": ["PL", None, "PL"],
    "vat_code": ["normal", "reverse_charge", "normal"],
})  # fmt: skip
TARIFFS = pl.DataFrame({
    "tariff_no": [1, 2], "tariff_id": ["T-A", "T-B"], "banded": [True, False], "holiday_bands": [False, False],
    "hset_no": [0, 0], "catchall_zone_no": [7, 0], "local_zone_no": [3, 0],
}, schema_overrides={c: pl.Int32 for c in ("tariff_no", "hset_no", "catchall_zone_no", "local_zone_no")})  # fmt: skip
CUST = pl.DataFrame({"cust_no": [1], "customer_id": ["C1"]}, schema_overrides={"cust_no": pl.Int32})
TZ = pl.DataFrame({"tz_no": [1, 2], "timezone": ["Europe/Vienna", "UTC"]}, schema_overrides={"tz_no": pl.Int32})
AREAS = pl.DataFrame({"area_lo": [4390000, 4331000], "area_hi": [4390999, 4331999]})
INTERVALS = pl.DataFrame({
    "dev_no": [1, 2, 3, 4, 5, 6, 7, 8],
    "lo": [4331600, 4331600, 4930000, None, 4399000, 4331500, 4200000, 4331600],
    "hi": [4331699, 4331699, 4930999, None, 4399999, 4332500, 4200100, 4331699],
    "contract_id": ["K2", "K2", "K1", "K3", "K3", "K3", "K3", "K9"],
    "tariff_id": [None, "T-B", None, None, None, None, None, None],
})  # fmt: skip


def test_a_plan_is_a_tariff_with_a_price_list_numbered_by_tariff_then_list_none_first():
    """K2's slice under T-B makes the plan (T-B, PL), beside K1's (T-B, none)."""
    expected = pl.DataFrame(
        {"plan_no": [1, 2, 3], "tariff_no": [1, 2, 2], "tariff_id": ["T-A", "T-B", "T-B"], "price_list_id": ["PL", None, "PL"]},
        schema_overrides={"plan_no": pl.Int32, "tariff_no": pl.Int32},
    )
    assert_frame_equal(plan_dim(OWN, INTERVALS, TARIFFS), expected)


def test_contracts_are_numbered_in_contract_id_order_with_their_plan_customer_zone_and_special_flag():
    plans = plan_dim(OWN, INTERVALS, TARIFFS)
    expected = pl.DataFrame({
        "contract_no": [1, 2, 3],
        "contract_id": ["K1", "K2", "K3"],
        "customer_id": ["C2", "C1", "C1"],
        "tariff_id": ["T-B", "T-A", "T-A"],
        "tariff_no": [2, 1, 1],
        "plan_no": [2, 1, 1],
        "cust_no": [0, 1, 1],  # C2 has no prices of its own
        "special": [False, False, True],
        "tz_no": [2, 1, 1],
        "timezone": ["UTC", "Europe/Vienna", "Europe/Vienna"],
        "vat_code": ["reverse_charge", "normal", "normal"],
    }, schema_overrides={c: pl.Int32 for c in ("contract_no", "tariff_no", "plan_no", "cust_no", "tz_no")})  # fmt: skip
    assert_frame_equal(contract_dim(OWN, plans, TARIFFS, CUST, TZ, pl.Series(["K3", "K3"])), expected)


def test_a_device_id_slice_takes_its_tariffs_plan_and_an_area_code_only_when_all_its_numbers_lie_in_one():
    plans = plan_dim(OWN, INTERVALS, TARIFFS)
    contracts = contract_dim(OWN, plans, TARIFFS, CUST, TZ, pl.Series(["K3"]))
    got = dev_dim(INTERVALS, contracts, plans, TARIFFS, AREAS)
    expected = pl.DataFrame({
        "dev_no": [1, 2, 3, 4, 5, 6, 7],  # 8: its contract K9 is no contract of the catalog
        "contract_no": [2, 2, 1, 3, 3, 3, 3],
        "tariff_no": [1, 2, 2, 1, 1, 1, 1],
        "plan_no": [1, 3, 2, 1, 1, 1, 1],  # 2: T-B with K2's price list
        "cust_no": [1, 1, 0, 1, 1, 1, 1],
        "special": [False, False, False, True, True, True, True],
        "tz_no": [1, 1, 2, 1, 1, 1, 1],
        "banded": [True, False, False, True, True, True, True],
        "holiday_bands": [False] * 7,
        "hset_no": [0] * 7,
        "catchall_zone_no": [7, 0, 0, 7, 7, 7, 7],
        "local_zone_no": [3, 0, 0, 3, 3, 3, 3],
        # 1: inside 4331xxx; 2, 3: no local zone; 4: no key (an IPv6 ID); 5: past the area below it;
        # 6: reaches past its area's end; 7: below every area
        "area_lo": [4331000, None, None, None, None, None, None],
        "area_hi": [4331999, None, None, None, None, None, None],
    }, schema_overrides={c: pl.Int32 for c in ("contract_no", "tariff_no", "plan_no", "cust_no", "tz_no", "hset_no", "catchall_zone_no", "local_zone_no")})  # fmt: skip
    assert_frame_equal(got, expected)


def test_without_a_catalog_the_rate_card_codes_the_contracts_registered_on_the_connection():
    """build_rate_card(con) reads the core catalog and the device-ID slices from `con` (no pricing
    tables): the same tables as from the catalog's frames and the index's slices."""
    cat = priced()  # the core catalog, no pricing tables
    result = rate_priced(pl.concat([calls(K_MIN, ("2026-10-01 10:00:00", 60)), calls(K_SEC, ("2026-10-01 11:00:00", 30))]), cat)
    con = result.con
    made = {name: con.table(name).pl() for name in ("plan_dim", "contract_dim", "dev_dim")}
    assert made["contract_dim"].get_column("contract_id").to_list() == ["K-EX", "K-MIN", "K-RC", "K-SEC"]
    build_rate_card(con)
    for name, frame in made.items():
        assert_frame_equal(con.table(name).pl(), frame)
