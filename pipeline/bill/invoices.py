"""A billing run: due fees, unbilled usage and adjustments → numbered invoices with lines and VAT.

Pure: everything comes in as tables registered on a DuckDB connection (see `billed`) and
goes out as tables on it; pipeline/io/billing_store.py reads the state and stores the
result. The rules are in docs/billing.md.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl
import pyarrow as pa

import sql
from pipeline import engine
from pipeline.bill.queries import create_table, load_macros, run_script
from pipeline.bill.recurring import charges, fee_parts, fee_requests, position_prices
from pipeline.price.adjustments import AdjustmentRules, usage_adjustments
from schemas.billing import LINE_KINDS, STORED, TEST_TABLES, USAGE_LINE_SCHEMA
from schemas.outputs import PERIOD

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BillingError(ValueError):
    """A billing run cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class BillingRequest:
    """What a billing run bills: a whole period (all contracts) or one contract up to a date.

    `run_id` follows from the request alone, so asking again is the same run: a committed run
    is never made twice, a crashed one is made again from the same state.
    """

    run_id: str
    kind: str
    until: date
    invoice_date: date
    period: str | None = None
    contract_id: str | None = None


def billing_request(
    period: str | None = None,
    contract: str | None = None,
    until: date | None = None,
    invoice_date: date | None = None,
) -> BillingRequest:
    """The request for `rating bill --period YYYY-MM` or `rating bill --contract C --until DATE`.

    A period run bills every contract up to the period's last day; a single invoice bills one
    contract up to `until` (or the period's last day). The invoice date defaults to that day.
    """
    if period is not None:
        if not PERIOD.fullmatch(period):
            raise BillingError(f"period {period!r} is not a month YYYY-MM (e.g. 2026-10)")
        year, month = map(int, period.split("-"))
        period_end = date(year, month, calendar.monthrange(year, month)[1])
        if until is not None and contract is None:
            raise BillingError("--until goes with --contract (a single invoice); a period run bills up to the period's end")
        if until is not None and not period_end.replace(day=1) <= until <= period_end:
            raise BillingError(f"--until {until.isoformat()} lies outside --period {period}: give one of them, or a day of the period")
        until = until or period_end
    if contract is None:
        if period is None:
            raise BillingError("say what to bill: --period YYYY-MM, or --contract C --until YYYY-MM-DD")
        return BillingRequest(f"period-{period}", "period", until, invoice_date or until, period=period)
    if until is None:
        raise BillingError(f"a single invoice for contract {contract!r} needs --until YYYY-MM-DD (or --period)")
    tag = contract if _SAFE_ID.match(contract) else hashlib.sha256(contract.encode()).hexdigest()[:16]
    return BillingRequest(f"single-{tag}-{until.isoformat()}", "single", until, invoice_date or until, period, contract)


@dataclass
class BillingResult:
    """A billing run's tables on `con` (`bill_*`), shaped for storage by `tables`."""

    request: BillingRequest
    con: duckdb.DuckDBPyConnection

    @property
    def run_id(self) -> str:
        return self.request.run_id

    def tables(self, test: bool = False) -> dict[str, pa.Table]:
        """The stored tables (schemas.billing.STORED) of real invoices, or of test accounts' ones."""
        names = TEST_TABLES if test else tuple(n for n in STORED if n != "billing_runs")
        out = {}
        for name in names:
            rel = self.con.table(f"bill_out_{name}")
            if "is_test" in rel.columns:
                rel = rel.filter(f"{'' if test else 'NOT '}is_test")
            order = _ORDER[name]
            out[name] = rel.order(", ".join(order)).to_arrow_table().select(STORED[name].names).cast(STORED[name])
        return out

    def run_record(self, created_at: datetime) -> pa.Table:
        """The run's row of `billing_runs`."""
        real, test, net = engine.one_row(self.con, sql.load("duck/bill/run_totals"))
        r = self.request
        row = {
            "run_id": [r.run_id], "kind": [r.kind], "period": [r.period], "contract_id": [r.contract_id],
            "until": [r.until], "invoice_date": [r.invoice_date], "invoices": [real], "test_invoices": [test],
            "net_total": [net], "created_at": [created_at],
        }
        return pa.Table.from_pydict(row, schema=STORED["billing_runs"])


def unbilled(con: duckdb.DuckDBPyConnection, contract_ids: list[str], until: date, rules: AdjustmentRules) -> pl.DataFrame:
    """What single invoices up to `until` would still bill these contracts for real: one row per
    contract with something to bill (contract_id, invoices, lines, net_total, currency), none
    for a contract billed up to that day or billed as a test account only.

    Nothing is stored: each contract's invoice is made on `con` (set up as `billed` needs) and
    only read. The contracts are a handful (one customer's), not records.
    """
    found = []
    for contract_id in contract_ids:
        # dated last: no sequence's order refuses an invoice that is never stored
        billed(con, billing_request(contract=contract_id, until=until, invoice_date=date.max), rules)
        found.append(con.sql(sql.load("duck/bill/unbilled")).pl())
    schema = {"contract_id": pl.String, "invoices": pl.Int64, "lines": pl.Int64, "net_total": pl.Decimal(18, 2), "currency": pl.String}
    return pl.concat([frame.cast(schema) for frame in found]) if found else pl.DataFrame(schema=schema)


#: Row order of each stored table: the same run always writes the same files.
_ORDER = {
    "invoices": ("invoice_id",),
    "invoice_items": ("invoice_id", "line_no"),
    "invoice_vat": ("invoice_id", "vat_code", "vat_rate"),
    "billing_history": ("contract_id", "position_id", "period_start"),
    "billed_usage": ("invoice_id", "record_key"),
    "billing_problems": ("contract_id", "position_id", "reason"),
}


def billed(con: duckdb.DuckDBPyConnection, request: BillingRequest, rules: AdjustmentRules) -> BillingResult:
    """Make a billing run's invoices on `con`.

    `con` (from pipeline.engine.connect) must hold: the catalog (Catalog.register: `cat_*`),
    the billing catalog (BillingCatalog.register: `bil_*`), the rated usage not settled yet as
    `rated_usage` (schemas.outputs.RATED_USAGE; all of it will do) with its files as
    `rated_usage_files` (optional) and what committed runs stored: `st_history`
    (BILLING_HISTORY), `st_invoices` (INVOICES), `st_billed_usage` (BILLED_USAGE) and
    `st_invoice_items` (INVOICE_ITEMS), real and test alike
    (pipeline.io.billing_store.register_state does this).

    Args:
        rules: minimum revenue and cost cap of the catalog's tariffs
            (pipeline.price.adjustment_rules(catalog)); none when it has no pricing tables.
    """
    load_macros(con)
    scope = _scope(con, request)
    con.register("bill_scope", scope.to_arrow())
    con.execute(f"CREATE OR REPLACE TEMP VIEW bill_position_days AS {sql.load('duck/bill/position_days')}")
    backdated = create_table(con, "bill_backdated", "duck/bill/backdated", until=request.until).pl()
    if backdated.height:
        if request.contract_id is not None:
            raise BillingError(backdated.get_column("reason")[0])
        con.register("bill_scope", scope.join(backdated, on="contract_id", how="anti").to_arrow())
    run_script(con, "duck/bill/state")
    p = {
        "run_id": request.run_id, "until": request.until, "invoice_date": request.invoice_date,
        "kind": request.kind, "period": request.period, "line_kinds": list(LINE_KINDS),
    }
    create_table(con, "bill_usage", "duck/bill/usage_records", **p)
    create_table(con, "bill_usage_agg", "duck/bill/usage_aggregates")
    fee_requests(con, request.until)
    fee_parts(con)
    create_table(con, "price_days", "duck/bill/price_days")
    position_prices(con)
    charges(con)
    create_table(con, "bill_usage_lines", "duck/bill/usage_lines")
    create_table(con, "bill_candidates", "duck/bill/candidates")
    _adjustment_lines(con, request, rules)
    create_table(con, "bill_lines", "duck/bill/lines", **p)
    create_table(con, "bill_vat", "duck/bill/vat")
    create_table(con, "bill_addresses_on", "duck/bill/addresses_on", day=request.invoice_date)
    create_table(con, "bill_out_invoices", "duck/bill/invoices", **p)
    con.execute("CREATE OR REPLACE TEMP VIEW bill_invoices AS SELECT * FROM bill_out_invoices")
    earlier = con.sql(sql.load("duck/bill/dates_out_of_order")).fetchall()
    if earlier:
        raise BillingError("; ".join(
            f"sequence {seq} already holds {last_id} dated {last_date}" for seq, last_id, last_date in earlier
        ) + f": an invoice dated {request.invoice_date} would be numbered after it (numbers follow the invoice dates); "
            f"give --invoice-date {max(d for *_, d in earlier)} or later")
    mixed = con.sql(sql.load("duck/bill/mixed_currencies")).fetchall()
    if mixed:
        raise BillingError("; ".join(
            f"contract {c}'s invoice is in {cur} (its tariff's currency) but has lines in {other}"
            for c, cur, other in mixed
        ) + ": an invoice never mixes currencies (bill them before changing the contract's tariff)")
    create_table(con, "bill_out_invoice_items", "duck/bill/invoice_items")
    create_table(con, "bill_out_invoice_vat", "duck/bill/invoice_vat")
    create_table(con, "bill_out_billing_history", "duck/bill/history", **p)
    create_table(con, "bill_out_billed_usage", "duck/bill/billed_usage")
    create_table(con, "bill_out_billing_problems", "duck/bill/problems", **p)
    return BillingResult(request, con)


def position_states(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Each position's billing state (billed until, last invoice, what a never-billed interval
    means), from `bil_positions` and the committed history `st_history` registered on `con`."""
    return con.sql(sql.load("duck/bill/position_state")).pl()


def _scope(con: duckdb.DuckDBPyConnection, request: BillingRequest) -> pl.DataFrame:
    """The contracts the run bills: all, or the single invoice's one (which must exist)."""
    contracts = con.table("cat_contracts").select("contract_id").pl()
    if request.contract_id is None:
        return contracts
    scope = contracts.filter(pl.col("contract_id") == request.contract_id)
    if scope.height == 0:
        raise BillingError(f"contract {request.contract_id!r} is not in the catalog (contracts.csv)")
    return scope


def _rated_earlier(con: duckdb.DuckDBPyConnection) -> None:
    """View `bill_rated_earlier`: the rated usage in which usage_for_adjustments.sql finds the
    tariffs of earlier runs' lines: `rated_usage` and the files of the periods the run settles
    that a committed run settled (billing_store.register_state leaves those out of
    `rated_usage`; their records are billed, which is what that look-up reads)."""
    try:
        settled = con.sql(
            "SELECT file FROM rated_usage_files WHERE settled AND period IN (SELECT period FROM bill_adjustment_periods) ORDER BY file"
        ).fetchall()
    except duckdb.CatalogException:  # rated_usage registered without its files: it holds all records
        settled = []
    if not settled:
        con.execute("CREATE OR REPLACE TEMP VIEW bill_rated_earlier AS SELECT * FROM rated_usage")
        return
    columns = "contract_id, period, article_id, tariff_id, amount, record_key, run_id"
    earlier = con.read_parquet([f for (f,) in settled], hive_partitioning=True, union_by_name=True).select(columns)
    earlier.create_view("bill_rated_settled")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW bill_rated_earlier AS SELECT {columns} FROM rated_usage "
        f"UNION ALL SELECT {columns} FROM bill_rated_settled"
    )


def _adjustment_lines(con: duckdb.DuckDBPyConnection, request: BillingRequest, rules: AdjustmentRules) -> None:
    """Table `bill_adjustments`: minimum revenue and cost cap of the periods the run settles,
    computed on their whole usage (pricing's rule, pipeline.price.usage_adjustments), less
    what earlier runs billed of them (docs/billing.md, "Usage on invoices")."""
    create_table(con, "bill_contract_days", "duck/bill/contract_days")
    create_table(con, "bill_adjustment_periods", "duck/bill/adjustment_periods", until=request.until)
    _rated_earlier(con)
    usage = create_table(con, "bill_adjustment_basis", "duck/bill/usage_for_adjustments").pl().cast(USAGE_LINE_SCHEMA)
    con.register("bill_adjustments_full", usage_adjustments(usage, rules).to_arrow())
    create_table(con, "bill_adjustments", "duck/bill/adjustments")
