"""Priced catalogs for the pricing tests: a small core catalog plus literal pricing tables.

The core (CORE, on top of tests/factory.py's) has two tariffs and one contract per case:

    contract  customer (price list, VAT)       tariff               device ID                      time zone
    K-MIN     C1 (PL-KEY, normal)              T-MIN 60/60, 20 %    43316812724 (Graz, +extensions) Europe/Vienna
    K-SEC     C2 (—, normal)                   T-SEC 1/1, 19 %      4930123400–4930123499 (Berlin)  Europe/Berlin
    K-RC      C3 (—, reverse charge)           T-SEC                4989000                         UTC
    K-EX      C4 (—, exempt)                   T-SEC                4989111                         UTC

Zones: 43 NAT, 4366 MOB, 49 NAT, 4930 NAT; keys voice (NAT → A-NAT, MOB → A-MOB; LOCAL → A-LOCAL
with LOCAL_KEYS, for a tariff with local_zone LOCAL), sms → A-SMS (per 100 events), data → A-GB (per 10⁹ bytes), data-gib → A-GIB (per 2³⁰ bytes).
Every article costs 0.06 per price_per on both tariffs, except as said in a test.
"""

from __future__ import annotations

import polars as pl

from pipeline.catalog import RawTable
from pipeline.job import rate
from pipeline.price import PricedCatalog, validated_pricing, with_pricing
from tests.factory import at, catalog, usage

__all__ = ["CORE", "LOCAL_KEYS", "K_EX", "K_MIN", "K_RC", "K_SEC", "at", "calls", "priced", "raw_pricing", "rate_priced", "rated", "usage"]

#: A subscriber number of each contract.
K_MIN, K_SEC, K_RC, K_EX = "4331681272420", "4930123450", "4989000", "4989111"

ARTICLES = ["A-NAT", "A-MOB", "A-LOCAL", "A-SMS", "A-GB", "A-GIB"]

CORE: dict[str, dict[str, list]] = {
    "customers": {
        "customer_id": ["C1", "C2", "C3", "C4"],
        "name": ["Alpenblick GmbH", "Donau AG", "Kanzlei Schulz", "Verein Hilfe"],
        "price_list_id": ["PL-KEY", None, None, None],
        "vat_treatment": ["normal", "normal", "reverse_charge", "exempt"],
        "is_test": ["false"] * 4,
    },
    "contracts": {
        "contract_id": ["K-MIN", "K-SEC", "K-RC", "K-EX"],
        "customer_id": ["C1", "C2", "C3", "C4"],
        "tariff_id": ["T-MIN", "T-SEC", "T-SEC", "T-SEC"],
        "start_date": ["2025-01-01"] * 4,
        "timezone": ["Europe/Vienna", "Europe/Berlin", "UTC", "UTC"],
    },
    "device_ids": {
        "contract_id": ["K-MIN", "K-SEC", "K-RC", "K-EX"],
        "id_type": ["phone"] * 4,
        "id_value": ["43316812724", "4930123400", "4989000", "4989111"],
        "id_to": [None, "4930123499", None, None],
    },
    "articles": {
        "article_id": ARTICLES,
        "name": ["Calls national", "Calls mobile", "Local calls", "SMS", "Data", "Data (GiB)"],
        "alt_name": ["Inlandsgespräche", None, "Ortsgespräche", None, None, None],
        "unit": ["second", "second", "second", "event", "byte", "byte"],
        "price_per": ["60", "60", "60", "100", "1000000000", "1073741824"],
    },
    "zones": {
        "prefix": ["43", "4366", "49", "4930"],
        "zone_id": ["NAT", "MOB", "NAT", "NAT"],
        "zone_name": ["national", "mobile", "national", "national"],
    },
    "article_keys": {
        "article_key": ["voice", "voice", "sms", "data", "data-gib"],
        "zone_id": ["NAT", "MOB", None, None, None],
        "article_id": ["A-NAT", "A-MOB", "A-SMS", "A-GB", "A-GIB"],
    },
    "prices": {
        "tariff_id": ["T-MIN"] * 6 + ["T-SEC"] * 6,
        "article_id": ARTICLES * 2,
        "price": ["0.0600"] * 12,
    },
}


#: CORE's article keys with voice in the local zone LOCAL: a zone only a tariff_pricing.local_zone
#: defines (an article key in a zone no record can land in is a catalog error).
LOCAL_KEYS = {k: [*v[:2], l, *v[2:]] for (k, v), l in zip(CORE["article_keys"].items(), ("voice", "LOCAL", "A-LOCAL"))}


def raw_pricing(**tables: dict[str, list]) -> dict[str, RawTable]:
    """Pricing tables as a catalog directory holds them: every cell text, lines from 2."""
    raw = {}
    for name, columns in tables.items():
        frame = pl.DataFrame(
            {c: [None if v is None else str(v) for v in vs] for c, vs in columns.items()}, schema={c: pl.String for c in columns}
        )
        raw[name] = RawTable(f"{name}.csv", frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_line")))
    return raw


#: Priced catalogs validated in this process, by their tables' text (see `priced`).
_PRICED: dict[str, PricedCatalog] = {}


def priced(core: dict[str, dict[str, list]] | None = None, **tables: dict[str, list]) -> PricedCatalog:
    """CORE (whole tables replaced by `core`) with the given pricing tables, validated (once per process
    for the same tables, as tests/factory.py's `catalog`: a PricedCatalog is frozen)."""
    key = repr((core, tables))
    if key not in _PRICED:
        base = catalog(**{**CORE, **(core or {})})
        _PRICED[key] = with_pricing(base, validated_pricing(raw_pricing(**tables), base))
    return _PRICED[key]


def rate_priced(records: pl.DataFrame, cat: PricedCatalog):
    return rate(records, cat, "run")


def rated(result, *columns: str) -> pl.DataFrame:
    """The run's rated usage in input order (source_line), with the given columns."""
    frame = result.table("rated_usage").pl().sort("source_line")
    return frame.select(columns) if columns else frame


def calls(subscriber: str, *rows: tuple, **columns: list) -> pl.DataFrame:
    """Voice records of one subscriber: rows of (start 'YYYY-MM-DD HH:MM:SS' UTC, duration_s[, counterparty])."""
    starts = [at(r[0]) for r in rows]
    data = {
        "subscriber_id": [subscriber] * len(rows),
        "start_time": starts,
        "duration_s": [r[1] for r in rows],
        "counterparty": [r[2] if len(r) > 2 else "4312345678" for r in rows],
    }
    return usage(**{**data, **columns})
