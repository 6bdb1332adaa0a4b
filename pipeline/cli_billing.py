"""The billing and lifecycle commands of `rating`: bill, cancel, index-adjust, change-tariff,
add-option, delete-account, set-contract, set-address, pause, billing-state.

`register(app)` adds them to the `rating` Typer app (pipeline/cli.py calls it). Every command
that changes the catalog takes --user and --role (Manager or Client): the change is checked
against the role, written to the catalog files and recorded in audit_log.csv with who, role,
when, and every old and new value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from pipeline.catalog import Catalog, CatalogError, CatalogNotFound
from pipeline.catalog.billing import BillingCatalog
from pipeline.cli_output import error, existing_warehouse, note, writable_warehouse
from pipeline.config import Settings
from schemas.billing import INTERVALS, ROLES
from pipeline.lifecycle import (
    Actor,
    Change,
    LifecycleError,
    added_option,
    address_added,
    audit_rows,
    checked_actor,
    contract_settings,
    deleted_account,
    index_adjusted,
    index_factor,
    module_cancellation,
    pause_added,
    tariff_change,
    UnknownId,
)

console = Console(width=160)

DATE = ["%Y-%m-%d"]
CatalogOpt = typer.Option(None, "--catalog", help="Catalog directory \\[env RATING_CATALOG, default data/sample/catalog]")
WarehouseOpt = typer.Option(None, "--warehouse", help="Warehouse directory \\[env RATING_WAREHOUSE, default ./warehouse]")
UserOpt = typer.Option(..., "--user", help="Who makes the change (recorded in audit_log.csv)")
def _known_role(role: str) -> str:
    """A role the catalog knows; any other is a mistake in the command line (exit 2)."""
    if role not in ROLES:
        raise typer.BadParameter(f"role {role!r} is unknown; act as one of {', '.join(ROLES)}")
    return role


def _index_factor(factor: str) -> str:
    try:
        index_factor(factor)
    except LifecycleError as exc:
        raise typer.BadParameter(str(exc)) from None
    return factor


RoleOpt = typer.Option(..., "--role", help="Acting role: Manager or Client", callback=_known_role)

#: The intervals `add-option` takes: every interval of positions.csv but `every_n_months`, which
#: needs `every_months` (the command does not take it): those of a fixed length, and those that
#: bill nothing themselves (future, never, external).
OPTION_INTERVALS = [name for name, (months, *_, bills) in INTERVALS.items() if months is not None or not bills]


def _option_interval(interval: str) -> str:
    """An interval add-option can write; any other is a mistake in the command line (exit 2)."""
    if interval not in OPTION_INTERVALS:
        raise typer.BadParameter(f"interval {interval!r} is unknown; give one of {', '.join(OPTION_INTERVALS)}")
    return interval


def register(app: typer.Typer) -> None:
    """Add the billing and lifecycle commands to `app`."""
    for name, command in COMMANDS.items():
        app.command(name)(command)


def bill(
    period: Optional[str] = typer.Option(None, help="Bill every due contract for this month, YYYY-MM"),
    contract: Optional[str] = typer.Option(None, help="Bill this contract alone (a single invoice)"),
    until: Optional[datetime] = typer.Option(None, formats=DATE, help="Single invoice: bill up to this day"),
    invoice_date: Optional[datetime] = typer.Option(None, formats=DATE, help="Invoice date \\[default: the last day billed]"),
    catalog: Optional[Path] = CatalogOpt,
    warehouse: Optional[Path] = WarehouseOpt,
    pg_url: Optional[str] = typer.Option(None, help="PostgreSQL URL to also write to \\[env RATING_PG_URL]"),
) -> None:
    """Make invoices: `--period 2026-10` for every due contract, or `--contract C --until DATE` for one."""
    from pipeline.cli import prefect_environment

    settings = Settings.from_env(catalog=_s(catalog), warehouse=_s(warehouse))
    if not settings.catalog.is_dir():
        raise CatalogNotFound(settings.catalog)
    with _errors(exit_code=2):  # the command line's mistakes are told before Prefect starts (20 s)
        _check_bill(period, contract, _day(until), _day(invoice_date), settings.catalog)
    writable_warehouse(settings.warehouse)
    prefect_environment()
    if pg_url:
        os.environ["RATING_PG_URL"] = pg_url  # not a flow parameter: Prefect stores parameters, URLs carry passwords
    from flows.billing_run import billing_run
    from pipeline.cli import quiet_operator_errors
    from pipeline.io.warehouse import stored_paths

    quiet_operator_errors()

    with _errors(), _postgres_errors():
        summary = billing_run(
            period=period, contract=contract, until=_day(until), invoice_date=_day(invoice_date),
            catalog=_s(catalog), warehouse_dir=_s(warehouse),
        )
    state = "made" if summary["created"] else "already made; unchanged"
    console.print(
        f"billing run {summary['run_id']} ({state}): {summary['invoices']} invoices, net {summary['net_total']}; "
        f"{summary['test_invoices']} test invoices kept apart"
    )
    for reason in summary["problems"]:
        note(reason, "not billed")
    if not stored_paths(Path(summary["warehouse"]) / "rated_usage"):
        console.print("[yellow]warning[/yellow] the warehouse holds no rated usage: these invoices bill fees only")
    console.print(f"warehouse: {summary['warehouse']} (SQL: duckdb {summary['warehouse']}/analytics.duckdb)")
    if summary["postgres"]:
        console.print("written to PostgreSQL")
    if summary.get("views"):  # the run is committed: a warning, exit 0 (docs/warehouse.md)
        note(summary["views"])


#: How far ahead of today a billing run may reach: invoices are final and their numbers used up,
#: so a period typed wrong (2062-10 for 2026-10) must not bill years of fees ahead.
AHEAD_MONTHS = 1


def _check_bill(
    period: str | None, contract: str | None, until: date | None, invoice_date: date | None, catalog: Path
) -> None:
    """Refuse a bill command that cannot be what the operator meant (BillingError)."""
    from pipeline.bill.invoices import BillingError, billing_request
    from pipeline.io.catalog_files import read_catalog_csv

    request = billing_request(period=period, contract=contract, until=until, invoice_date=invoice_date)
    today = datetime.now(timezone.utc).date()
    month = today.year * 12 + today.month - 1 + AHEAD_MONTHS + 1
    latest = date(month // 12, month % 12 + 1, 1) - timedelta(days=1)
    if request.until > latest:
        raise BillingError(
            f"the run would bill up to {request.until.isoformat()}, more than {AHEAD_MONTHS} month past today "
            f"({today.isoformat()}, UTC): invoices are final, so check --period / --until"
        )
    if contract is not None:  # one file read, so a typed-wrong ID is told before Prefect starts (20 s)
        try:
            known = read_catalog_csv(catalog / "contracts.csv").frame
        except CatalogError:
            return  # the billing run reports the catalog's problems in full
        if "contract_id" in known.columns and not known.get_column("contract_id").str.strip_chars().is_in([contract]).any():
            raise BillingError(f"contract {contract!r} is not in the catalog (contracts.csv)")


def cancel(
    contract: str = typer.Argument(..., help="Contract ID"),
    module: str = typer.Argument(..., help="Module ID (modules.csv)"),
    on: datetime = typer.Option(..., formats=DATE, help="Day the notice is given"),
    end: Optional[datetime] = typer.Option(None, formats=DATE, help="Deviating end date (Manager only)"),
    user: str = UserOpt,
    role: str = RoleOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Cancel a module: its end date follows the tariff's (or an article's own) notice rules."""
    change = _apply("cancel", catalog, user, role, lambda c, b, a: module_cancellation(c, b, contract, module, on.date(), a, _day(end)))
    _show(change.result, f"cancelled {module} of {contract}")


def index_adjust(
    factor: str = typer.Option(..., help="Price factor, e.g. 1.032 for +3.2 %", callback=_index_factor),
    effective: datetime = typer.Option(..., formats=DATE, help="First day of the new prices"),
    contracts: Optional[str] = typer.Option(None, help="Comma-separated contract IDs \\[default: all]"),
    user: str = UserOpt,
    role: str = RoleOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Raise every position price of the chosen contracts by a factor, as new price versions (Manager only)."""
    chosen = [c.strip() for c in contracts.split(",") if c.strip()] if contracts else None
    change = _apply(
        "index-adjust", catalog, user, role, lambda c, b, a: index_adjusted(c, b, factor, effective.date(), a, chosen)
    )
    _show(change.result, f"index ×{factor} from {effective.date()}: {change.result.height} new price versions")


def change_tariff(
    contract: str = typer.Argument(..., help="Contract ID"),
    module: str = typer.Argument(..., help="Module ID"),
    tariff: str = typer.Argument(..., help="New tariff ID"),
    on: datetime = typer.Option(..., formats=DATE, help="Day the change is asked for"),
    effective: Optional[datetime] = typer.Option(None, formats=DATE, help="Deviating effective date (Manager only)"),
    user: str = UserOpt,
    role: str = RoleOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Move a module to another tariff at the next allowed date."""
    change = _apply(
        "change-tariff", catalog, user, role,
        lambda c, b, a: tariff_change(c, b, contract, module, tariff, on.date(), a, _day(effective)),
    )
    _show(change.result, "tariff change")


def add_option(
    contract: str = typer.Argument(..., help="Contract ID"),
    article: str = typer.Argument(..., help="Add-on article ID (article_terms.csv addon=true)"),
    start: datetime = typer.Option(..., "--from", formats=DATE, help="First day of the option"),
    quantity: int = typer.Option(1, min=1),
    interval: str = typer.Option("monthly", help="Billing interval of the option", callback=_option_interval),
    module: Optional[str] = typer.Option(None, help="Module the option belongs to"),
    user: str = UserOpt,
    role: str = RoleOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Add an add-on option to a contract (Manager only)."""
    change = _apply(
        "add-option", catalog, user, role,
        lambda c, b, a: added_option(c, b, contract, article, start.date(), a, quantity, interval, module),
    )
    _show(change.result, "option added")


def delete_account(
    customer: str = typer.Argument(..., help="Customer ID"),
    on: datetime = typer.Option(..., formats=DATE, help="Day of the deletion"),
    user: str = UserOpt,
    role: str = RoleOpt,
    catalog: Optional[Path] = CatalogOpt,
    warehouse: Optional[Path] = WarehouseOpt,
) -> None:
    """Delete an account and its contracts from the catalog (Manager only); refused while any module is active or anything is unbilled."""
    from pipeline.io.cache_entries import forget_catalog

    place = Settings.from_env(warehouse=_s(warehouse)).warehouse

    def deleted(cat: Catalog, bil: BillingCatalog, actor) -> Change:
        change = deleted_account(cat, bil, customer, on.date())
        # the unbilled usage is in the warehouse: a mistyped or missing one would hide it
        _refuse_unbilled(cat, bil, customer, on.date(), existing_warehouse(place))
        return change

    change = _apply("delete-account", catalog, user, role, deleted)
    forget_catalog(place)  # its caches hold the account's rows; the next run makes them again
    _show(change.result, f"account {customer} deleted")


def _refuse_unbilled(cat: Catalog, bil: BillingCatalog, customer: str, on: date, warehouse: Path) -> None:
    """Refuse to delete an account whose contracts still have fees or rated usage no invoice has
    billed up to the day before `on`: once the catalog forgets them, no billing run could."""
    from pipeline.bill.invoices import unbilled
    from pipeline.io.billing_store import billing_connection
    from pipeline.io.warehouse import reading
    from pipeline.price import adjustment_rules

    contracts = cat.contracts.filter(pl.col("customer_id") == customer).get_column("contract_id").sort().to_list()
    until = on - timedelta(days=1)
    con = billing_connection(cat, bil, warehouse)
    try:
        with reading(warehouse):  # the queries read the stored files billing_connection registered: one cut short is named, exit 1
            open_ = unbilled(con, contracts, until, adjustment_rules(cat))
    finally:
        con.close()
    if open_.height:
        listed = "; ".join(
            open_.select(
                pl.format("contract {} has {} lines (net {} {})", "contract_id", "lines", pl.col("net_total").cast(pl.String), "currency")
            ).to_series()
        )
        raise LifecycleError(
            f"account {customer!r} cannot be deleted on {on}: not billed up to {until}: {listed}. "
            f"Bill them first (rating bill --contract CONTRACT --until {until}, or the period run), then delete the account."
        )


def set_contract(
    contract: str = typer.Argument(..., help="Contract ID"),
    payment_days: Optional[int] = typer.Option(None, min=0, help="Payment target in days (Manager only)"),
    payment_terms: Optional[str] = typer.Option(None, help="Payment terms text (Manager only)"),
    po_number: Optional[str] = typer.Option(None, help="Purchase order number printed on invoices"),
    billing_from: Optional[datetime] = typer.Option(None, formats=DATE, help="First day billed (Manager only)"),
    sequence: Optional[str] = typer.Option(None, help="Invoice number sequence"),
    customer_number: Optional[str] = typer.Option(None, help="The customer's number"),
    test_account: Optional[bool] = typer.Option(None, "--test-account/--real-account", help="Test account flag (Manager only)"),
    user: str = UserOpt,
    role: str = RoleOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Change a contract's billing settings and its customer's number or test flag."""
    given = {
        "payment_days": payment_days, "payment_terms": payment_terms, "po_number": po_number,
        "billing_from": _day(billing_from), "sequence_id": sequence, "customer_number": customer_number,
        "is_test": test_account,
    }
    settings = {k: v for k, v in given.items() if v is not None}
    if not settings:
        raise typer.BadParameter("give at least one setting to change")
    change = _apply("set-contract", catalog, user, role, lambda c, b, a: contract_settings(c, b, contract, settings))
    _show(change.result, "contract settings changed")


def set_address(
    contract: str = typer.Argument(..., help="Contract ID"),
    valid_from: datetime = typer.Option(..., "--from", formats=DATE, help="First invoice date to print it"),
    name: str = typer.Option(...),
    street: Optional[str] = typer.Option(None),
    postal_code: Optional[str] = typer.Option(None),
    city: Optional[str] = typer.Option(None),
    country: Optional[str] = typer.Option(None, help="ISO country code, e.g. AT"),
    user: str = UserOpt,
    role: str = RoleOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Give a contract a (new) billing address from a date; earlier documents keep theirs."""
    address = {"name": name, "street": street, "postal_code": postal_code, "city": city, "country": country}
    change = _apply("set-address", catalog, user, role, lambda c, b, a: address_added(c, b, contract, valid_from.date(), address))
    _show(change.result, "billing address added")


def pause(
    contract: str = typer.Argument(..., help="Contract ID"),
    paused_from: datetime = typer.Option(..., "--from", formats=DATE, help="First paused day"),
    paused_through: datetime = typer.Option(..., "--through", formats=DATE, help="Last paused day"),
    reason: Optional[str] = typer.Option(None),
    user: str = UserOpt,
    role: str = RoleOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Pause a contract: recurring fees are not charged for the paused days."""
    change = _apply(
        "pause", catalog, user, role, lambda c, b, a: pause_added(c, b, contract, paused_from.date(), paused_through.date(), reason)
    )
    _show(change.result, "pause added")


def billing_state(
    contract: Optional[str] = typer.Option(None, help="Only this contract"),
    catalog: Optional[Path] = CatalogOpt,
    warehouse: Optional[Path] = WarehouseOpt,
) -> None:
    """Each position's billing state: billed until, last invoice, and what never-billed intervals mean."""
    from pipeline import engine
    from pipeline.bill.invoices import position_states
    from pipeline.io.billing_files import load_catalogs
    from pipeline.io.billing_store import register_state
    from pipeline.io.warehouse import reading

    settings = Settings.from_env(catalog=_s(catalog), warehouse=_s(warehouse))
    with _errors():
        cat, bil = load_catalogs(settings.catalog)
        if contract and not cat.contracts.get_column("contract_id").is_in([contract]).any():
            raise UnknownId(f"contract {contract!r} is not in contracts.csv")
    if settings.warehouse.exists() and not settings.warehouse.is_dir():
        existing_warehouse(settings.warehouse)  # a file where the warehouse should be: a mistyped --warehouse, exit 2
    if not settings.warehouse.is_dir():
        note(f"warehouse {settings.warehouse} does not exist: nothing was billed there (check --warehouse if something was)")
    with _errors(), reading(settings.warehouse):  # a stored file that cannot be read: named, exit 1 (pipeline/cli.py)
        con = engine.connect()
        cat.register(con)
        bil.register(con)
        register_state(con, settings.warehouse)
        states = position_states(con)
    if contract:
        states = states.filter(pl.col("contract_id") == contract)
    _show(states, "billing state")


COMMANDS: dict[str, Callable[..., None]] = {
    "bill": bill,
    "cancel": cancel,
    "index-adjust": index_adjust,
    "change-tariff": change_tariff,
    "add-option": add_option,
    "delete-account": delete_account,
    "set-contract": set_contract,
    "set-address": set_address,
    "pause": pause,
    "billing-state": billing_state,
}


def _apply(
    command: str, catalog: Optional[Path], user: str, role: str,
    make: Callable[[Catalog, BillingCatalog, Actor], Change],
) -> Change:
    """Load, check the actor, compute the change, audit it (refusing Manager-only fields), write it."""
    from pipeline.io.billing_files import catalog_lock, load_catalogs, write_changes

    directory = Settings.from_env(catalog=_s(catalog)).catalog
    with _errors(), catalog_lock(directory):
        cat, bil = load_catalogs(directory)
        actor = checked_actor(bil.users, user, role)
        change = make(cat, bil, actor)
        audit = audit_rows(change, actor, command, datetime.now(timezone.utc))
        write_changes(directory, change.tables, audit)
    console.print(f"{len(audit)} changed values recorded in {directory}/audit_log.csv")
    return change


class _errors:
    """Turn the errors a user can act on into a message and an exit code (no traceback): 1, or 2
    for a mistake in the command line itself (a bad --period, an ID the catalog lacks), as for a
    bad option."""

    def __init__(self, exit_code: int = 1):
        self.exit_code = exit_code

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        from pipeline.bill.invoices import BillingError
        from pipeline.io.billing_store import BillingStoreError

        if exc is not None and isinstance(exc, (LifecycleError, CatalogError, BillingError, BillingStoreError)):
            error(exc)
            raise typer.Exit(2 if isinstance(exc, UnknownId) else self.exit_code)
        return False


@contextmanager
def _postgres_errors() -> Iterator[None]:
    """PostgreSQL failing after the billing run was committed in the warehouse: a message, exit 1."""
    from pipeline.io.postgres import PostgresError

    try:
        yield
    except PostgresError as exc:
        error(f"{exc}\nThe billing run is committed in the warehouse; the next `rating bill` writes it to PostgreSQL.")
        raise typer.Exit(1) from None


def _show(frame: pl.DataFrame, title: str) -> None:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(column)
    for row in frame.cast(pl.String).fill_null("").rows():  # printing a small result, not record data
        table.add_row(*row)
    console.print(table)


def _day(value: Optional[datetime]) -> Optional[date]:
    return value.date() if value is not None else None


def _s(path: Optional[Path]) -> Optional[str]:
    return str(path) if path is not None else None
