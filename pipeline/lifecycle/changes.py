"""Contract lifecycle changes: tariff change, add-on options, index adjustment, account deletion,
contract settings, billing addresses and pauses.

Each function is pure: catalogs in, a `Change` out (old and new version of every table it
touches, plus what it computed). The CLI turns a Change into audit rows
(pipeline.lifecycle.audit.audit_rows, which also refuses Manager-only fields to clients) and
writes it (pipeline.io.billing_files.write_changes). Nothing here loops over records.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import polars as pl

import sql
from pipeline.bill.recurring import prices_on
from pipeline.catalog import Catalog
from pipeline.catalog.billing import BillingCatalog
from pipeline.lifecycle.audit import Actor, Change, LifecycleError, UnknownId, require_manager
from pipeline.lifecycle.cancellation import cancellation_dates, module_terms
from pipeline.price.catalog import pricing_of
from schemas.billing import INTERVALS

#: Billing types whose price an index adjustment raises (usage is priced by its tariff).
INDEXED_TYPES = ("one_time", "every_time", "recurring", "variable_fixed")


def tariff_change(
    catalog: Catalog,
    billing: BillingCatalog,
    contract_id: str,
    module_id: str,
    tariff_id: str,
    notice_on: date,
    actor: Actor,
    effective: date | None = None,
) -> Change:
    """Move a module to another tariff at the next allowed date: the day after the end a
    cancellation given on `notice_on` would have (at once under the rule `none`). A deviating
    `effective` date, and a tariff that is not public (tariff_terms.public, DOMAIN §5), are for a
    Manager only. Stored as a new module_tariffs version."""
    if catalog.tariffs.filter(pl.col("tariff_id") == tariff_id).height == 0:
        raise UnknownId(f"tariff {tariff_id!r} is not in tariffs.csv")
    if not billing.tariff_terms.filter((pl.col("tariff_id") == tariff_id) & pl.col("public").not_()).is_empty():
        require_manager(actor, f"a module's tariff to {tariff_id!r}, which is not public (tariff_terms.csv)")
    module = module_terms(catalog, billing, contract_id, module_id, notice_on)
    current = module["tariff_id"][0]
    currency = dict(catalog.tariffs.select("tariff_id", "currency").iter_rows())
    own = catalog.contracts.filter(pl.col("contract_id") == contract_id).get_column("tariff_id")
    if own.len() and currency.get(tariff_id) != currency.get(own[0]):
        raise LifecycleError(
            f"tariff {tariff_id!r} bills {currency.get(tariff_id)}, contract {contract_id}'s tariff "
            f"{currency.get(own[0])}: an invoice never mixes currencies"
        )
    if current == tariff_id:
        raise LifecycleError(f"module {module_id!r} already runs under tariff {tariff_id!r}")
    if effective is not None:
        require_manager(actor, "a tariff change date that deviates from the notice rules")
    else:
        request = module.select(
            pl.col("module_id").alias("id"), pl.col("cancellation").alias("rule"), "ordered_on", "term_months",
            "notice_months", pl.lit(notice_on).alias("notice_on"),
        )
        end = cancellation_dates(request)["end_date"][0]
        effective = notice_on if module["cancellation"][0] == "none" else end + timedelta(days=1)
    ends = module["end_date"][0]
    if ends is not None and effective > ends:
        raise LifecycleError(
            f"module {module_id!r} ends {ends}: a tariff from {effective} would never apply (the module is cancelled)"
        )
    versions = billing.module_tariffs
    mine = versions.filter(pl.col("module_id") == module_id)
    later = mine.filter(pl.col("valid_from") >= effective)
    if later.height:
        raise LifecycleError(
            f"module {module_id!r} already has a tariff version from {later['valid_from'].min()}; "
            "remove it from module_tariffs.csv before changing the tariff again"
        )
    if mine.height == 0:
        mine_open = module.select("module_id", pl.lit(current).alias("tariff_id"), pl.col("ordered_on").alias("valid_from"),
                                  pl.lit(None, pl.Date).alias("valid_until"))
        versions = pl.concat([versions, mine_open])
    is_current = (pl.col("module_id") == module_id) & (pl.col("valid_from") < effective) & (
        pl.col("valid_until").is_null() | (pl.col("valid_until") > effective)
    )
    closing = versions.filter(is_current)
    new_version = pl.DataFrame(
        {"module_id": [module_id], "tariff_id": [tariff_id], "valid_from": [effective],
         "valid_until": [closing["valid_until"][0] if closing.height else None]},
        schema=versions.schema,
    )
    changed = pl.concat([
        versions.with_columns(pl.when(is_current).then(pl.lit(effective)).otherwise(pl.col("valid_until")).alias("valid_until")),
        new_version,
    ])
    result = pl.DataFrame({"module_id": [module_id], "from_tariff": [current], "to_tariff": [tariff_id], "effective": [effective]})
    tables = {"module_tariffs": (billing.module_tariffs, changed)}
    prices = _list_indexes_ended(billing, module_id, effective)
    if prices is not None:
        tables["position_prices"] = (billing.position_prices, prices)
    return Change(tables, result)


def _list_indexes_ended(billing: BillingCatalog, module_id: str, effective: date) -> pl.DataFrame | None:
    """position_prices with the module's positions' `list_index` versions (an index of the old
    tariff's list price) ended at `effective`, where the new tariff's list price takes over; None
    when none runs past it. One that starts on or after `effective` is refused: it raised a list
    price the module will no longer have."""
    positions = billing.positions.filter(pl.col("module_id") == module_id).get_column("position_id")
    list_index = pl.col("position_id").is_in(positions.implode()) & (pl.col("kind") == "list_index")
    later = billing.position_prices.filter(list_index & (pl.col("valid_from") >= effective))
    if later.height:
        raise LifecycleError(
            f"positions {sorted(set(later['position_id']))} have an index of tariff list prices from {later['valid_from'].min()}, "
            f"after the tariff change on {effective}: remove those versions from position_prices.csv first"
        )
    spans = list_index & (pl.col("valid_from") < effective) & (pl.col("valid_until").is_null() | (pl.col("valid_until") > effective))
    if not billing.position_prices.select(spans.any()).item():
        return None
    return billing.position_prices.with_columns(pl.when(spans).then(pl.lit(effective)).otherwise(pl.col("valid_until")).alias("valid_until"))


def added_option(
    catalog: Catalog,
    billing: BillingCatalog,
    contract_id: str,
    article_id: str,
    start: date,
    actor: Actor,
    quantity: int = 1,
    interval: str = "monthly",
    module_id: str | None = None,
) -> Change:
    """Add an add-on option (an article keyed as add-on in article_terms.csv) to a contract, from
    `start`, as a recurring position. Manager only (DOMAIN §5)."""
    require_manager(actor, "add-on options")
    _contract(catalog, contract_id)
    addon = billing.article_terms.filter((pl.col("article_id") == article_id) & pl.col("addon"))
    if addon.height == 0:
        raise LifecycleError(f"article {article_id!r} is not an add-on option: mark it addon=true in article_terms.csv")
    position_id = f"{contract_id}-{article_id}-{start:%Y%m%d}"
    if billing.positions.filter(pl.col("position_id") == position_id).height:
        raise LifecycleError(f"option {article_id!r} was already added to contract {contract_id!r} from {start}")
    row = pl.DataFrame(
        {
            "position_id": [position_id], "contract_id": [contract_id], "module_id": [module_id], "article_id": [article_id],
            "quantity": [quantity], "billing_type": ["recurring"], "interval": [interval], "every_months": [None],
            "start_date": [start], "end_date": [None],
        },
        schema=billing.positions.schema,
    )
    return Change({"positions": (billing.positions, pl.concat([billing.positions, row]))}, row)


def index_adjusted(
    catalog: Catalog,
    billing: BillingCatalog,
    factor: str | Decimal,
    effective: date,
    actor: Actor,
    contracts: list[str] | None = None,
) -> Change:
    """Raise every position price of the chosen contracts (all when None) by `factor` from
    `effective`, as new price versions; earlier versions stay, so earlier periods bill (and
    re-rate) at their own prices. Manager only. Result: the new versions."""
    require_manager(actor, "index adjustments")
    factor = index_factor(factor)
    chosen = catalog.contracts.select("contract_id")
    if contracts is not None:
        asked = pl.DataFrame({"contract_id": contracts}, schema={"contract_id": pl.String})
        unknown = asked.join(chosen, on="contract_id", how="anti")["contract_id"].to_list()
        if unknown:
            raise UnknownId(f"contracts {unknown} are not in contracts.csv")
        chosen = asked
    positions = billing.positions.join(chosen, on="contract_id", how="semi").filter(
        pl.col("billing_type").is_in(INDEXED_TYPES)
        & (pl.col("end_date").is_null() | (pl.col("end_date") >= effective))
    )
    with prices_on(catalog, billing, positions, effective) as con:
        query = sql.load("duck/lifecycle/index_adjustment")
        added = con.sql(query, params={"factor": str(factor), "effective": effective}).pl()
    added = added.cast(billing.position_prices.schema)
    _refuse_same_day_versions(added, billing.position_prices, effective)
    _refuse_before_later_index(added, billing.position_prices, effective)
    return Change({"position_prices": (billing.position_prices, pl.concat([billing.position_prices, added]))}, added)


def _refuse_same_day_versions(added: pl.DataFrame, versions: pl.DataFrame, effective: date) -> None:
    """Refuse an index adjustment whose versions would start on the day another version of the same
    kind (override, or own price) starts: which one applies would be left to chance. Versions of an
    index are the adjustment applied already; others are a price change the index would meet."""
    group = (pl.col("kind") == "override").alias("_override")
    clash = versions.with_columns(group).join(added.with_columns(group).select("position_id", "_override", "valid_from"),
                                              on=["position_id", "_override", "valid_from"], how="semi")
    if not clash.height:
        return
    indexed = sorted(set(clash.filter(pl.col("kind").is_in(["index", "list_index"]))["position_id"]))
    if indexed:
        raise LifecycleError(f"positions {indexed} already have a price version from {effective}: "
                             "an index adjustment on that day was applied already")
    listed = ", ".join(f"{r['position_id']} ({r['kind']} {r['price']})" for r in clash.sort("position_id", "kind").iter_rows(named=True))
    raise LifecycleError(
        f"positions with a price version of their own from {effective}: {listed}. An index adjustment on the day "
        "a new price starts would leave open which of the two applies: apply it from another day, or set the "
        "raised price in that version; nothing was changed"
    )


def _refuse_before_later_index(added: pl.DataFrame, versions: pl.DataFrame, effective: date) -> None:
    """Refuse an index adjustment before one applied already to the same positions: the later index
    version raised the price without this one and wins from its day on, so this index would be lost
    from then (×1.10 from 1 September, then ×1.10 from 1 May: 11.00 from September, not 12.10)."""
    later = versions.filter(pl.col("kind").is_in(["index", "list_index"]) & (pl.col("valid_from") > effective)).join(
        added.select("position_id").unique(), on="position_id", how="semi"
    )
    if later.height:
        raise LifecycleError(
            f"positions {sorted(set(later['position_id']))} have an index from {later['valid_from'].min()}, after {effective}: "
            "that index did not raise this one and would win from its day on; remove the later index versions from "
            "position_prices.csv, apply this one, then the later one again; nothing was changed"
        )


def deleted_account(catalog: Catalog, billing: BillingCatalog, customer_id: str, on: date) -> Change:
    """Delete a customer's account with every catalog row of its contracts, refused while any
    module is active on `on` (not cancelled, or its end date not passed; a contract without
    modules counts as one module ending with the contract), a position of an article with its
    own notice still runs past its module, or a position of no module still bills (a recurring one,
    to its own or its contract's end; a one-time fee still to come). Its customer prices and its
    contracts' special prices go too. Invoices already made stay."""
    customers = catalog.customers.filter(pl.col("customer_id") == customer_id)
    if customers.height == 0:
        raise UnknownId(f"customer {customer_id!r} is not in customers.csv")
    contracts = catalog.contracts.filter(pl.col("customer_id") == customer_id)
    modules = billing.modules.join(contracts.select("contract_id"), on="contract_id", how="semi")
    bare = contracts.join(modules.select("contract_id"), on="contract_id", how="anti")
    # a position of an article with its own notice runs to its own end, past its module's
    own = billing.positions.join(contracts.select("contract_id"), on="contract_id", how="semi").join(
        billing.article_terms.filter(pl.col("cancellation").is_not_null()).select("article_id"), on="article_id", how="semi"
    ).filter(pl.col("end_date").is_not_null())
    # a position of no module runs to its own end, else its contract's (the billing run's active days),
    # if it still bills: a recurring one of an interval that makes lines, or a one-time fee still to
    # come (from `on`); an every-time fee bills only on invoices the contract gets anyway
    billed_intervals = [name for name, (*_, bills) in INTERVALS.items() if bills]
    to_come = (pl.col("billing_type") == "one_time") & (pl.col("start_date") >= on)
    loose = (
        billing.positions.filter(
            pl.col("module_id").is_null()
            & (((pl.col("billing_type") == "recurring") & pl.col("interval").is_in(billed_intervals)) | to_come)
        )
        .join(contracts.select("contract_id", pl.col("end_date").alias("_contract_end")), on="contract_id", how="inner")
        .with_columns(pl.min_horizontal("end_date", "_contract_end").alias("end_date"))
    )
    running = pl.concat([
        modules.select(pl.format("module {} (contract {})", "module_id", "contract_id").alias("what"), "end_date"),
        bare.select(pl.format("contract {}", "contract_id").alias("what"), "end_date"),
        own.select(pl.format("position {} (contract {}, own notice)", "position_id", "contract_id").alias("what"), "end_date"),
        loose.select(pl.format("position {} (contract {}, no module)", "position_id", "contract_id").alias("what"), "end_date"),
    ]).filter(pl.col("end_date").is_null() | (pl.col("end_date") >= on))
    if running.height:
        listed = ", ".join(running.select(pl.format("{} ends {}", "what", pl.col("end_date").cast(pl.String).fill_null("never"))).to_series())
        raise LifecycleError(
            f"account {customer_id!r} cannot be deleted on {on}: active {listed}. "
            "Cancel every module and delete the account after its end date."
        )
    ids = {
        "customer_id": customers.select("customer_id"),
        "contract_id": contracts.select("contract_id"),
        "module_id": modules.select("module_id"),
        "position_id": billing.positions.join(contracts.select("contract_id"), on="contract_id", how="semi").select("position_id"),
    }
    pricing = pricing_of(catalog)
    core = {"customers": catalog.customers, "contracts": catalog.contracts, "device_ids": catalog.device_ids,
            "customer_prices": pricing.customer_prices, "special_prices": pricing.special_prices}
    tables = {**core, **{n: t for n, t in billing.tables().items() if n not in ("billing_settings", "users")}}
    changes = {}
    for name, table in tables.items():  # a loop over catalog tables, not records
        column = next((c for c in ids if c in table.columns), None)
        if column is None or name in ("tariff_terms", "article_terms"):
            continue
        kept = table.join(ids[column], on=column, how="anti", maintain_order="left")
        if kept.height != table.height:
            changes[name] = (table, kept)
    result = pl.DataFrame({"customer_id": [customer_id], "contracts": [contracts.height], "modules": [modules.height]})
    return Change(changes, result)


def contract_settings(catalog: Catalog, billing: BillingCatalog, contract_id: str, settings: dict) -> Change:
    """Set a contract's billing settings (contract_terms.csv: payment_days, payment_terms,
    po_number, billing_from, entered_on, sequence_id) and its customer's fields
    (customers.csv: customer_number, is_test). Who may change which field is checked on the
    audit rows (Manager-only fields, DOMAIN §1)."""
    contract = _contract(catalog, contract_id)
    term_fields = {k: v for k, v in settings.items() if k in billing.contract_terms.columns and k != "contract_id"}
    customer_fields = {k: v for k, v in settings.items() if k in ("customer_number", "is_test")}
    unknown = set(settings) - set(term_fields) - set(customer_fields)
    if unknown:
        raise LifecycleError(f"unknown contract settings {sorted(unknown)}")
    changes: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = {}
    if term_fields:
        terms = billing.contract_terms
        if terms.filter(pl.col("contract_id") == contract_id).height == 0:
            terms = pl.concat([terms, pl.DataFrame({"contract_id": [contract_id]}).cast({"contract_id": pl.String})], how="diagonal")
        mine = pl.col("contract_id") == contract_id
        new_terms = terms.with_columns(
            pl.when(mine).then(pl.lit(v, terms.schema[k])).otherwise(pl.col(k)).alias(k) for k, v in term_fields.items()
        )
        changes["contract_terms"] = (billing.contract_terms, new_terms)
    if customer_fields:
        mine = pl.col("customer_id") == contract["customer_id"][0]
        customers = catalog.customers.with_columns(
            pl.when(mine).then(pl.lit(v, catalog.customers.schema[k])).otherwise(pl.col(k)).alias(k)
            for k, v in customer_fields.items()
        )
        changes["customers"] = (catalog.customers, customers)
    return Change(changes, pl.DataFrame({"contract_id": [contract_id], "fields": [", ".join(sorted(settings))]}))


def address_added(catalog: Catalog, billing: BillingCatalog, contract_id: str, valid_from: date, address: dict) -> Change:
    """A new billing address of a contract from `valid_from`: documents dated from then print it;
    earlier documents keep theirs."""
    _contract(catalog, contract_id)
    return _row_added(billing, "addresses", {"contract_id": contract_id, "valid_from": valid_from, **address})


def pause_added(
    catalog: Catalog, billing: BillingCatalog, contract_id: str, paused_from: date, paused_through: date, reason: str | None
) -> Change:
    """Pause a contract from its first to its last day: recurring fees are not charged for those days."""
    _contract(catalog, contract_id)
    return _row_added(
        billing, "pauses", {"contract_id": contract_id, "paused_from": paused_from, "paused_through": paused_through, "reason": reason}
    )


def _contract(catalog: Catalog, contract_id: str) -> pl.DataFrame:
    """The contract's row of contracts.csv; UnknownId when the catalog lacks it (a command-line mistake)."""
    contract = catalog.contracts.filter(pl.col("contract_id") == contract_id)
    if contract.height == 0:
        raise UnknownId(f"contract {contract_id!r} is not in contracts.csv")
    return contract


def _row_added(billing: BillingCatalog, table: str, values: dict) -> Change:
    old = billing.tables()[table]
    row = pl.DataFrame({c: [values.get(c)] for c in old.columns}, schema=old.schema)
    return Change({table: (old, pl.concat([old, row]))}, row)


def index_factor(factor: str | Decimal) -> Decimal:
    """An index factor as given (`1.032`); LifecycleError when it is not a positive number with at most 6 decimals."""
    try:
        value = Decimal(str(factor))
    except InvalidOperation:
        raise LifecycleError(f"index factor {factor!r} is not a number (e.g. 1.032)") from None
    if value <= 0 or value.as_tuple().exponent < -6:
        raise LifecycleError(f"index factor {factor} must be positive with at most 6 decimals (e.g. 1.032)")
    return value
