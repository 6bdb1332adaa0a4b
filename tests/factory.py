"""One factory for catalogs and usage records in tests: small literal tables in, typed frames out."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipeline.catalog import Catalog, RawTable, validated_catalog
from schemas.usage import USAGE_POLARS

BASE_CATALOG: dict[str, dict[str, list]] = {
    "customers": {
        "customer_id": ["C1", "C2"],
        "name": ["Alpenblick GmbH", "Donau AG"],
        "vat_treatment": ["normal", "normal"],
        "is_test": ["false", "false"],
    },
    "contracts": {
        "contract_id": ["K-MIN", "K-SEC"],
        "customer_id": ["C1", "C2"],
        "tariff_id": ["T-MIN", "T-SEC"],
        "start_date": ["2025-01-01", "2025-01-01"],
    },
    "device_ids": {
        "contract_id": ["K-MIN", "K-SEC"],
        "id_type": ["phone", "phone"],
        "id_value": ["43316812724", "4930123400"],
        "id_to": [None, "4930123499"],
    },
    "tariffs": {
        "tariff_id": ["T-MIN", "T-SEC"],
        "name": ["per minute", "per second"],
        "first_increment_s": ["60", "1"],
        "next_increment_s": ["60", "1"],
        "vat_rate": ["0.2000", "0.1900"],
    },
    "articles": {
        "article_id": ["A-NAT"],
        "name": ["Calls national"],
        "alt_name": ["Inlandsgespräche"],
        "unit": ["second"],
        "price_per": ["60"],
    },
    "zones": {"prefix": ["43", "49"], "zone_id": ["NAT", "NAT"], "zone_name": ["national", "national"]},
    "article_keys": {"article_key": ["voice"], "zone_id": ["NAT"], "article_id": ["A-NAT"]},
    "prices": {
        "tariff_id": ["T-MIN", "T-SEC"],
        "article_id": ["A-NAT", "A-NAT"],
        "price": ["0.0600", "0.0600"],
    },
}


#: Catalogs validated in this process, by their tables' text (see `catalog`).
_VALIDATED: dict[str, Catalog] = {}


def catalog(**tables: dict[str, list]) -> Catalog:
    """A validated catalog: BASE_CATALOG with whole tables replaced by the given ones.

    Validated once per process for the same tables (0.2-0.4 s each; most tests ask for a few
    catalogs many times): a Catalog is frozen and its Polars frames are never changed in place.
    A catalog that fails validation raises every time."""
    key = repr({**BASE_CATALOG, **tables})
    if key not in _VALIDATED:
        _VALIDATED[key] = validated_catalog(raw_catalog(**tables))
    return _VALIDATED[key]


def raw_catalog(**tables: dict[str, list]) -> dict[str, RawTable]:
    merged = {**BASE_CATALOG, **tables}
    raw = {}
    for name, columns in merged.items():
        frame = pl.DataFrame({c: [None if v is None else str(v) for v in vs] for c, vs in columns.items()}, schema={c: pl.String for c in columns})
        raw[name] = RawTable(f"{name}.csv", frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_line")))
    return raw


def usage(**columns: list) -> pl.DataFrame:
    """Canonical usage records; unspecified columns get defaults (voice calls on 2026-10-01 from line 1 on)."""
    n = len(next(iter(columns.values())))
    defaults = {
        "record_key": [f"r{i + 1}" for i in range(n)],
        "source": ["test"] * n,
        "source_file": ["calls.csv"] * n,
        "source_line": list(range(1, n + 1)),
        "id_type": ["phone"] * n,
        "subscriber_id": ["4331681272420"] * n,
        "counterparty": ["4312345678"] * n,
        "start_time": [at("2026-10-01 10:00:00")] * n,
        "duration_s": [60] * n,
        "volume_bytes": [None] * n,
        "article_key": ["voice"] * n,
        "billable": [True] * n,
    }
    return pl.DataFrame({**defaults, **columns}, schema=USAGE_POLARS)


def at(text: str) -> dt.datetime:
    """A UTC timestamp from 'YYYY-MM-DD HH:MM:SS'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
