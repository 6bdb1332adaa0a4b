"""Arrow schemas of what the pipeline stores: every table an analyst can query.

Money: per-record amounts are DECIMAL(18,6); invoice-line amounts DECIMAL(18,2),
rounded half away from zero (docs/money.md).
"""

from __future__ import annotations

import re

import pyarrow as pa

from schemas.usage import USAGE_ARROW

AMOUNT = pa.decimal128(18, 6)
CENTS = pa.decimal128(18, 2)
RATE = pa.decimal128(6, 4)

#: A billing period as written on the command line and stored: a UTC month YYYY-MM of the years
#: 0001-9999 (a date can hold them; use fullmatch).
PERIOD = re.compile(r"(?!0000)\d{4}-(0[1-9]|1[0-2])")

#: The outcomes every input record ends in, exactly one each.
OUTCOMES = ("rated", "non_billable", "rejected", "unassigned", "unrateable", "duplicate")

#: A bad input row: which file, which line, which column, what value, which rule.
REJECTS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("column", pa.string(), nullable=False),
        pa.field("value", pa.string()),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)

#: A usage record that matched no contract, or was otherwise not rated: the
#: canonical record as it came in, plus why.
UNASSIGNED = pa.schema([pa.field("run_id", pa.string(), nullable=False), *USAGE_ARROW, pa.field("reason", pa.string(), nullable=False)])
UNRATEABLE = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        *USAGE_ARROW,
        pa.field("contract_id", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)
DUPLICATES = pa.schema([pa.field("run_id", pa.string(), nullable=False), *USAGE_ARROW, pa.field("first_seen_run", pa.string())])
NON_BILLABLE = pa.schema([pa.field("run_id", pa.string(), nullable=False), *USAGE_ARROW])

#: A priced usage record, with everything needed to explain its amount (docs/pricing.md):
#: amount = round(charged units × price / price_per) + fee, charged = quantity - free_quantity;
#: price_source is the precedence level that set the price (schemas.pricing.PRICE_SOURCES),
#: price_ref the file and key of the price row; tier and tier_before (units counted toward the
#: tiers before this record, when its order mattered) for volume tiers; fee = connect fee +
#: minimum-charge top-up + tier flat fees.
RATED_USAGE = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("period", pa.string(), nullable=False),
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("contract_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("tariff_id", pa.string(), nullable=False),
        pa.field("id_type", pa.string(), nullable=False),
        pa.field("subscriber_id", pa.string(), nullable=False),
        pa.field("matched_id", pa.string(), nullable=False),
        pa.field("match_kind", pa.string(), nullable=False),
        pa.field("counterparty", pa.string()),
        pa.field("start_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("duration_s", pa.int64()),
        pa.field("volume_bytes", pa.int64()),
        pa.field("article_key", pa.string(), nullable=False),
        pa.field("billable", pa.bool_(), nullable=False),
        pa.field("zone_id", pa.string()),
        pa.field("band", pa.string()),
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("quantity", pa.int64(), nullable=False),
        pa.field("free_quantity", pa.int64(), nullable=False),
        pa.field("price", AMOUNT, nullable=False),
        pa.field("price_per", pa.int64(), nullable=False),
        pa.field("price_source", pa.string(), nullable=False),
        pa.field("price_ref", pa.string(), nullable=False),
        pa.field("tier", pa.int64()),
        pa.field("tier_before", pa.int64()),
        pa.field("fee", AMOUNT, nullable=False),
        pa.field("amount", AMOUNT, nullable=False),
    ]
)

#: One usage invoice line per run, contract, billing period and article: the sum of its records'
#: amounts rounded once to cents; the VAT rate travels on it, with vat_code `normal`,
#: `reverse_charge` or `exempt` (0 %).
INVOICE_LINES = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("period", pa.string(), nullable=False),
        pa.field("contract_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("tariff_id", pa.string(), nullable=False),
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("article_name", pa.string(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("quantity", pa.int64(), nullable=False),
        pa.field("free_quantity", pa.int64(), nullable=False),
        pa.field("net_amount", CENTS, nullable=False),
        pa.field("vat_rate", RATE, nullable=False),
        pa.field("vat_code", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
    ]
)

#: Where every input record of a run went: one row per outcome.
LEDGER = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("duration_s", pa.int64(), nullable=False),
        pa.field("volume_bytes", pa.int64(), nullable=False),
    ]
)

#: One row per run: what went in and when.
RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("finished_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("input_files", pa.int64(), nullable=False),
        pa.field("input_records", pa.int64(), nullable=False),
        pa.field("net_amount", CENTS, nullable=False),
    ]
)

#: Tables a run stores, by name.
TABLES: dict[str, pa.Schema] = {
    "invoice_lines": INVOICE_LINES,
    "rated_usage": RATED_USAGE,
    "rejects": REJECTS,
    "unassigned": UNASSIGNED,
    "unrateable": UNRATEABLE,
    "duplicates": DUPLICATES,
    "non_billable": NON_BILLABLE,
    "ledger": LEDGER,
    "runs": RUNS,
}
