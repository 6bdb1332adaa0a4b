"""Contract lifecycle and billing: the catalog tables (pandera) and the stored billing tables (Arrow).

Catalog side: one model per file in the catalog directory (`<table>.csv`, next to the
files of schemas/catalog.py). Every billing file is optional: a missing file is an
empty table (billing_settings: one row of defaults). Columns are documented in
docs/billing.md. Date validity follows schemas/catalog.py: `valid_from` inclusive,
`valid_until` exclusive, empty means open; pauses name their first and last day.

Stored side: what a billing run writes (warehouse Parquet and Postgres), with money
as DECIMAL(18,2) on invoices and DECIMAL(18,6) for unit prices (docs/money.md).
"""

from __future__ import annotations

import pandera.polars as pandera
import polars as pl
import pyarrow as pa

from schemas.catalog import MONEY, RATE, UTC
from schemas.outputs import AMOUNT, CENTS
from schemas.outputs import RATE as ARROW_RATE

#: How a position is billed (DOMAIN §2). `recurring` covers "yearly" and "monthly / every N
#: months": its `interval` says how often.
BILLING_TYPES = ("one_time", "every_time", "recurring", "variable", "variable_fixed")

#: interval → (months per period, units per period (×N), unit shown on the line, produces lines).
#: `every_n_months` takes its months from the position's `every_months`.
INTERVALS: dict[str, tuple[int | None, int, str, bool]] = {
    "monthly": (1, 1, "month", True),
    "every_n_months": (None, 1, "period", True),
    "quarterly": (3, 1, "quarter", True),
    "quarterly_x3": (3, 3, "month", True),
    "half_yearly": (6, 1, "half-year", True),
    "half_yearly_x6": (6, 6, "month", True),
    "yearly": (12, 1, "year", True),
    "yearly_x12": (12, 12, "month", True),
    "future": (None, 0, "none", False),
    "never": (None, 0, "none", False),
    "external": (None, 0, "none", False),
}

CANCELLATION_RULES = ("none", "monthly", "yearly")
PRORATION = ("full", "days")
PRICE_KINDS = ("price", "override", "index", "list_index")
DELIVERY = ("email_attachment", "download_link")
ROLES = ("Manager", "Client")
#: What an invoice line is, in the order lines appear on an invoice.
LINE_KINDS = ("one_time", "recurring", "every_time", "usage", "adjustment")


class _Strict:
    strict = True
    coerce = False


class BillingSettings(pandera.DataFrameModel):
    """The general billing settings: exactly one row."""

    sequence_id: str = pandera.Field(str_matches=r"^[A-Za-z0-9]+$")
    test_sequence_id: str = pandera.Field(str_matches=r"^[A-Za-z0-9]+$")
    number_width: pl.Int64 = pandera.Field(ge=1, le=12)
    payment_days: pl.Int64 = pandera.Field(ge=0)
    payment_terms: str
    reverse_charge_note: str = pandera.Field(nullable=True)
    exempt_note: str = pandera.Field(nullable=True)

    Config = _Strict


class ContractTerms(pandera.DataFrameModel):
    """Billing settings of a contract; empty cells take the general settings."""

    contract_id: str = pandera.Field(unique=True, str_length={"min_value": 1})
    entered_on: pl.Date = pandera.Field(nullable=True)
    billing_from: pl.Date = pandera.Field(nullable=True)
    payment_days: pl.Int64 = pandera.Field(nullable=True, ge=0)
    payment_terms: str = pandera.Field(nullable=True)
    po_number: str = pandera.Field(nullable=True)
    sequence_id: str = pandera.Field(nullable=True, str_matches=r"^[A-Za-z0-9]+$")

    Config = _Strict


class TariffTerms(pandera.DataFrameModel):
    """A tariff's lifecycle rules: cancellation, minimum term, notice, proration of partial periods."""

    tariff_id: str = pandera.Field(unique=True)
    cancellation: str = pandera.Field(isin=list(CANCELLATION_RULES))
    term_months: pl.Int64 = pandera.Field(nullable=True, ge=1)
    notice_months: pl.Int64 = pandera.Field(ge=0)
    proration: str = pandera.Field(isin=list(PRORATION))
    public: bool

    Config = _Strict


class ArticleTerms(pandera.DataFrameModel):
    """An article's own notice (overrides its tariff's) and whether it is an add-on option."""

    article_id: str = pandera.Field(unique=True)
    cancellation: str = pandera.Field(nullable=True, isin=list(CANCELLATION_RULES))
    term_months: pl.Int64 = pandera.Field(nullable=True, ge=1)
    notice_months: pl.Int64 = pandera.Field(nullable=True, ge=0)
    addon: bool

    Config = _Strict


class Modules(pandera.DataFrameModel):
    """A service the customer ordered; it runs under one tariff at a time (module_tariffs)."""

    module_id: str = pandera.Field(unique=True, str_length={"min_value": 1})
    contract_id: str
    name: str
    ordered_on: pl.Date
    cancelled_on: pl.Date = pandera.Field(nullable=True)
    end_date: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


class ModuleTariffs(pandera.DataFrameModel):
    """Which tariff a module runs under, effective-dated; a tariff change adds a version."""

    module_id: str
    tariff_id: str
    valid_from: pl.Date
    valid_until: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


class Positions(pandera.DataFrameModel):
    """A billable line of a contract: article, quantity, billing type (and interval when recurring)."""

    position_id: str = pandera.Field(unique=True, str_length={"min_value": 1})
    contract_id: str
    module_id: str = pandera.Field(nullable=True)
    article_id: str
    quantity: pl.Int64 = pandera.Field(ge=0)
    billing_type: str = pandera.Field(isin=list(BILLING_TYPES))
    interval: str = pandera.Field(nullable=True, isin=list(INTERVALS))
    every_months: pl.Int64 = pandera.Field(nullable=True, ge=1)
    start_date: pl.Date = pandera.Field(nullable=True)
    end_date: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


class PositionPrices(pandera.DataFrameModel):
    """Price versions of a position. `price`/`index`: the position's own price from `valid_from`
    (the latest version wins; index adjustments add `index` versions); `override`: a special
    price with a reason, valid only within its dates. Without any, the tariff's list price applies."""

    position_id: str
    kind: str = pandera.Field(isin=list(PRICE_KINDS))
    price: MONEY = pandera.Field(ge=0)
    valid_from: pl.Date = pandera.Field(nullable=True)
    valid_until: pl.Date = pandera.Field(nullable=True)
    reason: str = pandera.Field(nullable=True)

    Config = _Strict


class Pauses(pandera.DataFrameModel):
    """A contract paused from its first to its last day (both inclusive): no fees then (docs/billing.md, Pauses)."""

    contract_id: str
    paused_from: pl.Date
    paused_through: pl.Date
    reason: str = pandera.Field(nullable=True)

    Config = _Strict


class Addresses(pandera.DataFrameModel):
    """A deviating billing address from `valid_from` on; an invoice prints the one valid on its date."""

    contract_id: str
    valid_from: pl.Date
    name: str
    street: str = pandera.Field(nullable=True)
    postal_code: str = pandera.Field(nullable=True)
    city: str = pandera.Field(nullable=True)
    country: str = pandera.Field(nullable=True, str_matches=r"^[A-Z]{2}$")

    Config = _Strict


class Recipients(pandera.DataFrameModel):
    contract_id: str
    email: str = pandera.Field(str_matches=r"^[^@\s]+@[^@\s]+$")
    delivery: str = pandera.Field(isin=list(DELIVERY))

    Config = _Strict


class Users(pandera.DataFrameModel):
    """Who may act through the CLI, and as which role at most (a Manager may also act as Client)."""

    user_id: str = pandera.Field(unique=True, str_length={"min_value": 1})
    role: str = pandera.Field(isin=list(ROLES))

    Config = _Strict


#: Billing catalog tables; each is read from `<name>.csv` in the catalog directory when present.
CATALOG_TABLES: dict[str, type[pandera.DataFrameModel]] = {
    "billing_settings": BillingSettings,
    "contract_terms": ContractTerms,
    "tariff_terms": TariffTerms,
    "article_terms": ArticleTerms,
    "modules": Modules,
    "module_tariffs": ModuleTariffs,
    "positions": Positions,
    "position_prices": PositionPrices,
    "pauses": Pauses,
    "addresses": Addresses,
    "recipients": Recipients,
    "users": Users,
}

#: Optional columns with the value an absent column takes.
DEFAULTS: dict[str, dict[str, object]] = {
    "billing_settings": {"number_width": "6", "reverse_charge_note": None, "exempt_note": None},
    "contract_terms": {
        "entered_on": None, "billing_from": None, "payment_days": None, "payment_terms": None,
        "po_number": None, "sequence_id": None,
    },
    "tariff_terms": {"term_months": None, "proration": "days", "public": "true"},
    "article_terms": {"cancellation": None, "term_months": None, "notice_months": None, "addon": "false"},
    "modules": {"cancelled_on": None, "end_date": None},
    "module_tariffs": {"valid_until": None},
    "positions": {"module_id": None, "interval": None, "every_months": None, "start_date": None, "end_date": None},
    "position_prices": {"valid_from": None, "valid_until": None, "reason": None},
    "pauses": {"reason": None},
    "addresses": {"street": None, "postal_code": None, "city": None, "country": None},
}

#: The settings used when billing_settings.csv is absent (and for its empty note cells).
SETTINGS_FALLBACK: dict[str, object] = {
    "sequence_id": "INV",
    "test_sequence_id": "TEST",
    "number_width": 6,
    "payment_days": 14,
    "payment_terms": "Payable within 14 days of the invoice date without deduction.",
    "reverse_charge_note": "Reverse charge: VAT is owed by the recipient of the service.",
    "exempt_note": "Not taxable: no VAT charged.",
}

#: (table, column) must refer to (table, column); targets may be core catalog tables.
REFERENCES: list[tuple[str, str, str, str]] = [
    ("contract_terms", "contract_id", "contracts", "contract_id"),
    ("tariff_terms", "tariff_id", "tariffs", "tariff_id"),
    ("article_terms", "article_id", "articles", "article_id"),
    ("modules", "contract_id", "contracts", "contract_id"),
    ("module_tariffs", "module_id", "modules", "module_id"),
    ("module_tariffs", "tariff_id", "tariffs", "tariff_id"),
    ("positions", "contract_id", "contracts", "contract_id"),
    ("positions", "module_id", "modules", "module_id"),
    ("positions", "article_id", "articles", "article_id"),
    ("position_prices", "position_id", "positions", "position_id"),
    ("pauses", "contract_id", "contracts", "contract_id"),
    ("addresses", "contract_id", "contracts", "contract_id"),
    ("recipients", "contract_id", "contracts", "contract_id"),
]

#: The columns that identify a row, for editing and for the audit log (core tables included).
KEYS: dict[str, tuple[str, ...]] = {
    "billing_settings": ("sequence_id",),
    "contract_terms": ("contract_id",),
    "tariff_terms": ("tariff_id",),
    "article_terms": ("article_id",),
    "modules": ("module_id",),
    "module_tariffs": ("module_id", "valid_from"),
    "positions": ("position_id",),
    "position_prices": ("position_id", "kind", "valid_from"),
    "pauses": ("contract_id", "paused_from"),
    "addresses": ("contract_id", "valid_from"),
    "recipients": ("contract_id", "email"),
    "users": ("user_id",),
    "customers": ("customer_id",),
    "contracts": ("contract_id",),
    "device_ids": ("contract_id", "id_type", "id_value", "valid_from"),
    "prices": ("tariff_id", "article_id", "valid_from"),
    # the pricing files a deleted account's rows are removed from (schemas.pricing.KEYS, with the validity)
    "customer_prices": ("customer_id", "article_id", "band", "valid_from"),
    "special_prices": ("contract_id", "kind", "number", "number_to", "article_id", "band", "valid_from"),
}

#: Fields only the role Manager may change (DOMAIN §1): contract parties, payment terms, the
#: contract period, the test account flag. Add-on options and a deviating cancellation date are
#: Manager-only actions, checked by the commands that do them.
MANAGER_ONLY: dict[str, tuple[str, ...]] = {
    "customers": ("name", "is_test"),
    "contracts": ("customer_id", "start_date", "end_date"),
    "contract_terms": ("payment_days", "payment_terms", "billing_from", "entered_on"),
    "modules": ("ordered_on",),
}

#: One row of the audit log (`audit_log.csv` in the catalog directory, append-only).
AUDIT_SCHEMA = {
    "changed_at": UTC,
    "user_id": pl.String,
    "role": pl.String,
    "command": pl.String,
    "table": pl.String,
    "key": pl.String,
    "column": pl.String,
    "old_value": pl.String,
    "new_value": pl.String,
}

# ---------------------------------------------------------------------------------------------
# What a billing run hands to and takes from the usage-adjustment hook (minimum revenue / cost
# cap, issue 4): all of the run's usage lines at once, one row per contract, period, tariff and
# article; it returns adjustment lines. Polars schemas, money exact.

USAGE_LINE_SCHEMA = {
    "contract_id": pl.String,
    "customer_id": pl.String,
    "tariff_id": pl.String,
    "period": pl.String,
    "article_id": pl.String,
    "records": pl.Int64,
    "quantity": pl.Int64,
    "net_amount": pl.Decimal(18, 2),
    "vat_rate": RATE,
    "vat_code": pl.String,
    "currency": pl.String,
}

ADJUSTMENT_SCHEMA = {
    "contract_id": pl.String,
    "tariff_id": pl.String,
    "period": pl.String,
    "article_id": pl.String,
    "article_name": pl.String,
    "net_amount": pl.Decimal(18, 2),
    "vat_rate": RATE,
    "vat_code": pl.String,
    "currency": pl.String,
    "note": pl.String,
}

# ---------------------------------------------------------------------------------------------
# Stored tables of a billing run.

DATE = pa.date32()

#: An invoice header: number, addressee, terms and totals.
INVOICES = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("sequence_id", pa.string(), nullable=False),
        pa.field("sequence_no", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("period", pa.string()),
        pa.field("invoice_date", DATE, nullable=False),
        pa.field("billed_until", DATE, nullable=False),
        pa.field("due_date", DATE, nullable=False),
        pa.field("contract_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("customer_number", pa.string()),
        pa.field("po_number", pa.string()),
        pa.field("bill_to_name", pa.string(), nullable=False),
        pa.field("bill_to_street", pa.string()),
        pa.field("bill_to_postal_code", pa.string()),
        pa.field("bill_to_city", pa.string()),
        pa.field("bill_to_country", pa.string()),
        pa.field("payment_terms", pa.string(), nullable=False),
        pa.field("payment_days", pa.int64(), nullable=False),
        pa.field("recipients", pa.string()),
        pa.field("vat_treatment", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("lines", pa.int64(), nullable=False),
        pa.field("net_total", CENTS, nullable=False),
        pa.field("vat_total", CENTS, nullable=False),
        pa.field("gross_total", CENTS, nullable=False),
    ]
)

#: An invoice line: a recurring charge, a one-time or every-time fee, usage, or an adjustment.
#: net_amount = round(unit_price × quantity × days_charged / days_basis) for fees; the sum of
#: the records' exact amounts, rounded once, for usage.
INVOICE_ITEMS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("line_no", pa.int64(), nullable=False),
        pa.field("contract_id", pa.string(), nullable=False),
        pa.field("line_kind", pa.string(), nullable=False),
        pa.field("billing_type", pa.string()),
        pa.field("interval", pa.string()),
        pa.field("position_id", pa.string()),
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("article_name", pa.string(), nullable=False),
        pa.field("period", pa.string(), nullable=False),
        pa.field("service_from", DATE, nullable=False),
        pa.field("service_to", DATE, nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("quantity", pa.int64(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("unit_price", AMOUNT),
        pa.field("price_per", pa.int64()),
        pa.field("days_charged", pa.int64()),
        pa.field("days_basis", pa.int64()),
        pa.field("price_source", pa.string()),
        pa.field("net_amount", CENTS, nullable=False),
        pa.field("vat_rate", ARROW_RATE, nullable=False),
        pa.field("vat_code", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("note", pa.string()),
    ]
)

#: VAT totals of an invoice per rate and treatment (reverse charge and exempt shown with a note).
INVOICE_VAT = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("vat_code", pa.string(), nullable=False),
        pa.field("vat_rate", ARROW_RATE, nullable=False),
        pa.field("net_amount", CENTS, nullable=False),
        pa.field("vat_amount", CENTS, nullable=False),
        pa.field("note", pa.string()),
    ]
)

#: What was billed per position and period: the source of billed-until and last invoice.
#: A period paused throughout is recorded with no invoice, so it is never billed later.
BILLING_HISTORY = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string()),
        pa.field("contract_id", pa.string(), nullable=False),
        pa.field("position_id", pa.string(), nullable=False),
        pa.field("billing_type", pa.string(), nullable=False),
        pa.field("period_start", DATE, nullable=False),
        pa.field("period_end", DATE, nullable=False),
        pa.field("days_charged", pa.int64()),
        pa.field("net_amount", CENTS, nullable=False),
    ]
)

#: Which rated usage records an invoice billed: a record is billed once, on one invoice.
BILLED_USAGE = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("contract_id", pa.string(), nullable=False),
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("rated_run_id", pa.string(), nullable=False),
    ]
)

#: What kept a position off an invoice (e.g. no price); it is billed once the catalog is fixed.
BILLING_PROBLEMS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("contract_id", pa.string(), nullable=False),
        pa.field("position_id", pa.string()),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)

#: One row per committed billing run.
BILLING_RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("period", pa.string()),
        pa.field("contract_id", pa.string()),
        pa.field("until", DATE, nullable=False),
        pa.field("invoice_date", DATE, nullable=False),
        pa.field("invoices", pa.int64(), nullable=False),
        pa.field("test_invoices", pa.int64(), nullable=False),
        pa.field("net_total", CENTS, nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

#: Tables a billing run stores, by name.
STORED: dict[str, pa.Schema] = {
    "invoices": INVOICES,
    "invoice_items": INVOICE_ITEMS,
    "invoice_vat": INVOICE_VAT,
    "billing_history": BILLING_HISTORY,
    "billed_usage": BILLED_USAGE,
    "billing_problems": BILLING_PROBLEMS,
    "billing_runs": BILLING_RUNS,
}

#: Tables a billing run also stores for test accounts, apart from the real ones (`test/<name>`).
TEST_TABLES = ("invoices", "invoice_items", "invoice_vat", "billing_history", "billed_usage")
