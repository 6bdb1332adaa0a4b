"""One factory for the billing and lifecycle tests: a small core catalog, billing tables, rated usage.

Catalog tables are given as the CSV files would hold them: dict-of-lists of text (None for
an empty cell), so they pass through the same parsing and validation as real files.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from flows.billing_run import bill_task, commit_task, stage_task
from pipeline.bill.invoices import billing_request
from pipeline.catalog import Catalog, RawTable, validated_catalog
from pipeline.catalog.billing import BillingCatalog, validated_billing, with_usage_tariffs
from pipeline.price import validated_pricing, with_pricing
from pipeline.io import billing_store
from schemas.outputs import RATED_USAGE

CREATED = datetime(2030, 1, 1, tzinfo=timezone.utc)

#: The core catalog every test starts from: a normal, a reverse-charge, an exempt and a test
#: customer; one contract each (C1 from 2026-01-01); a tariff at 20 % VAT; fee and usage articles.
CORE: dict[str, dict[str, list]] = {
    "customers": {
        "customer_id": ["K1", "K2", "K3", "KT"],
        "name": ["Alpen GmbH", "Berlin AG", "Charity e.V.", "Test Kunde"],
        "customer_number": ["100", "200", "300", "999"],
        "price_list_id": [None, None, None, None],
        "vat_treatment": ["normal", "reverse_charge", "exempt", "normal"],
        "is_test": ["false", "false", "false", "true"],
    },
    "contracts": {
        "contract_id": ["C1", "C2", "C3", "CT"],
        "customer_id": ["K1", "K2", "K3", "KT"],
        "tariff_id": ["T1", "T1", "T1", "T1"],
        "start_date": ["2026-01-01", "2026-01-01", "2026-01-01", "2026-01-01"],
        "end_date": [None, None, None, None],
        "timezone": ["Europe/Vienna", "UTC", "UTC", "UTC"],
    },
    "device_ids": {
        "contract_id": ["C1"], "id_type": ["phone"], "id_value": ["4311"], "id_to": [None],
        "valid_from": [None], "valid_until": [None],
    },
    "tariffs": {
        "tariff_id": ["T1", "T2"], "name": ["Basic", "Premium"], "currency": ["EUR", "EUR"],
        "first_increment_s": ["60", "60"], "next_increment_s": ["60", "60"],
        "vat_rate": ["0.2000", "0.2000"], "catchall_zone": [None, None],
    },
    "articles": {
        "article_id": ["FEE", "SETUP", "TRANSFER", "RENT", "CALL", "OPT", "BOOK"],
        "name": ["Basic fee", "Installation", "Bank transfer fee", "Device rent", "Calls", "Option", "E-book"],
        "alt_name": [None, None, None, None, "Gespräche", None, None],
        "unit": ["event", "event", "event", "event", "second", "event", "event"],
        "price_per": ["1", "1", "1", "1", "60", "1", "1"],
        "first_increment_s": [None] * 7, "next_increment_s": [None] * 7,
        "vat_rate": [None, None, None, None, None, None, "0.1000"],
    },
    "zones": {"prefix": ["43"], "zone_id": ["AT"], "zone_name": ["Austria"]},
    "article_keys": {"article_key": ["voice"], "zone_id": [None], "article_id": ["CALL"]},
    "prices": {
        "tariff_id": ["T1", "T1", "T1", "T1", "T1", "T1", "T1", "T2"],
        "article_id": ["FEE", "SETUP", "TRANSFER", "RENT", "CALL", "OPT", "BOOK", "FEE"],
        "price": ["10.00", "99.00", "1.50", "120.00", "0.06", "5.00", "3.00", "20.00"],
        "valid_from": [None] * 8,
        "valid_until": [None] * 8,
    },
}


def raw(name: str, columns: dict[str, list]) -> RawTable:
    """A catalog file as read: text cells and 1-based file lines."""
    frame = pl.DataFrame(columns, schema={c: pl.String for c in columns})
    return RawTable(f"{name}.csv", frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_line")))


def catalogs(
    billing: dict[str, dict[str, list]] | None = None, pricing: dict[str, dict[str, list]] | None = None, **core: dict[str, list]
) -> tuple[Catalog, BillingCatalog]:
    """The validated core catalog (CORE, with tables replaced by `core`; carrying the `pricing`
    tables and the usage tariffs of `billing`'s modules) and billing catalog, as load_catalogs makes them.

    Validated once per process for the same tables (most tests ask for a few catalogs many times):
    both catalogs are frozen and their Polars frames are never changed in place."""
    key = repr((billing, pricing, {**CORE, **core}))
    if key not in _VALIDATED:
        _VALIDATED[key] = _validated(billing, pricing, core)
    return _VALIDATED[key]


#: Catalogs validated in this process, by their tables' text (see `catalogs`).
_VALIDATED: dict[str, tuple[Catalog, BillingCatalog]] = {}


def _validated(
    billing: dict[str, dict[str, list]] | None, pricing: dict[str, dict[str, list]] | None, core: dict[str, dict[str, list]]
) -> tuple[Catalog, BillingCatalog]:
    catalog = validated_catalog({name: raw(name, cols) for name, cols in {**CORE, **core}.items()})
    bil = validated_billing({name: raw(name, cols) for name, cols in (billing or {}).items()}, catalog)
    priced = validated_pricing({name: raw(name, cols) for name, cols in (pricing or {}).items()}, catalog)
    return with_pricing(with_usage_tariffs(catalog, bil), priced), bil


def write_catalog(directory: Path, billing: dict[str, dict[str, list]] | None = None, **core: dict[str, list]) -> Path:
    """The same tables as CSV files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, cols in {**CORE, **core, **(billing or {})}.items():
        pl.DataFrame(cols, schema={c: pl.String for c in cols}).write_csv(directory / f"{name}.csv")
    return directory


def positions(rows: list[tuple]) -> dict[str, list]:
    """positions.csv from (position_id, contract_id, article_id, billing_type, interval, start, end[, quantity[, every_months[, module]]])."""
    cols = {k: [] for k in ("position_id", "contract_id", "module_id", "article_id", "quantity", "billing_type",
                           "interval", "every_months", "start_date", "end_date")}
    for row in rows:
        pid, contract, article, btype, interval, start, end, *rest = row
        quantity, every, module = (list(rest) + [None, None, None])[:3]
        for k, v in zip(cols, (pid, contract, module, article, quantity or "1", btype, interval, every, start, end)):
            cols[k].append(v)
    return cols


def rated(rows: list[dict]) -> pa.Table:
    """Rated usage records (schemas.outputs.RATED_USAGE); each row gives at least record_key,
    contract_id, start_time (UTC datetime), quantity and amount; the rest is defaulted (columns
    the schema adds later get a neutral value by type)."""
    by_type = {pa.string(): "", pa.int64(): 0, pa.bool_(): True, RATED_USAGE.field("amount").type: Decimal(0)}
    full = []
    for i, r in enumerate(rows):  # literal test rows
        start = r["start_time"]
        known = {
            "run_id": "rate-1", "period": start.strftime("%Y-%m"), "source": "cdr", "source_file": "in.csv",
            "source_line": i + 2, "customer_id": "K1", "tariff_id": "T1", "id_type": "phone",
            "subscriber_id": "4311", "matched_id": "4311", "match_kind": "prefix", "counterparty": "43222",
            "duration_s": r.get("quantity", 60), "volume_bytes": None, "zone_id": "AT", "article_id": "CALL",
            "article_key": "voice", "billable": True, "unit": "second", "price": Decimal("0.060000"), "price_per": 60,
            "price_source": "tariff", **r,
        }
        full.append({f.name: known.get(f.name, None if f.nullable else by_type.get(f.type)) for f in RATED_USAGE})
    return pa.Table.from_pylist(full, schema=RATED_USAGE)


def store_rated(warehouse: Path, table: pa.Table, run_id: str = "rate-1") -> None:
    """Store rated usage as the rating flow does: <warehouse>/rated_usage/period=P/run-<id>_0.parquet."""
    frame = pl.from_arrow(table)
    for (period,), part in frame.group_by("period"):
        folder = Path(warehouse) / "rated_usage" / f"period={period}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(part.drop("period").to_arrow(), folder / f"run-{run_id}_0.parquet")


def bill(
    warehouse: Path,
    catalog: Catalog,
    billing: BillingCatalog,
    period: str | None = None,
    contract: str | None = None,
    until: date | None = None,
    commit: bool = True,
) -> str:
    """One billing run through the flow's own tasks (without the Prefect engine); returns its run_id."""
    request = billing_request(period=period, contract=contract, until=until)
    if billing_store.is_committed(warehouse, request.run_id):
        return request.run_id
    result = bill_task.fn(catalog, billing, request, warehouse)
    stage_task.fn(result, warehouse, CREATED)
    if commit:
        commit_task.fn(request.run_id, warehouse)
    return request.run_id


def stored(warehouse: Path, table: str, test: bool = False, run_id: str | None = None) -> pl.DataFrame:
    """A committed billing table as Polars."""
    return pl.from_arrow(billing_store.read_committed(warehouse, table, test=test, run_id=run_id))


def ym(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def contracts_starting(**starts: str) -> dict[str, list]:
    """CORE's contracts.csv with the start dates given by contract id (`C1="2026-01-15"`)."""
    table = CORE["contracts"]
    return {**table, "start_date": [starts.get(c, s) for c, s in zip(table["contract_id"], table["start_date"])]}


def prices_with(rows: list[tuple]) -> dict[str, list]:
    """CORE's prices.csv plus (tariff_id, article_id, price, valid_from, valid_until) rows; a
    CORE row of the same tariff and article is replaced by them."""
    table, keys = CORE["prices"], {(r[0], r[1]) for r in rows}
    kept = [i for i, k in enumerate(zip(table["tariff_id"], table["article_id"])) if k not in keys]
    cols = {c: [table[c][i] for i in kept] for c in table}
    for row in rows:
        for c, v in zip(("tariff_id", "article_id", "price", "valid_from", "valid_until"), row):
            cols[c].append(v)
    return cols
