"""Lifecycle changes as pure functions: tariff change, add-on options, index adjustment, account
deletion, contract settings, roles and the audit rows, effective-dated reading."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

import billing_factory as f
from pipeline.lifecycle import (
    Actor,
    LifecycleError,
    PermissionDenied,
    added_option,
    audit_rows,
    catalog_on,
    checked_actor,
    contract_settings,
    deleted_account,
    index_adjusted,
    tariff_change,
)

MANAGER, CLIENT = Actor("mia", "Manager"), Actor("carl", "Client")
AT = datetime(2026, 6, 1, 9, 30, tzinfo=timezone.utc)


def catalogs(**billing):
    return f.catalogs(billing={
        "tariff_terms": {"tariff_id": ["T1", "T2"], "cancellation": ["monthly", "yearly"], "term_months": [None, "12"],
                         "notice_months": ["1", "3"], "proration": ["days", "days"], "public": ["true", "true"]},
        "article_terms": {"article_id": ["OPT", "FEE"], "cancellation": [None, None], "term_months": [None, None],
                          "notice_months": [None, None], "addon": ["true", "false"]},
        "modules": {"module_id": ["M1", "M3"], "contract_id": ["C1", "C3"], "name": ["Phone", "Phone"],
                    "ordered_on": ["2026-01-01", "2026-01-01"], "cancelled_on": [None, "2026-02-01"],
                    "end_date": [None, "2026-03-31"]},
        "positions": f.positions([
            ("P1", "C1", "FEE", "recurring", "monthly", None, None, None, None, "M1"),
            ("P2", "C2", "RENT", "recurring", "yearly", None, None),
            ("P3", "C3", "FEE", "recurring", "monthly", None, "2026-03-31", None, None, "M3"),
        ]),
        "position_prices": {"position_id": ["P3"], "kind": ["price"], "price": ["7.00"], "valid_from": [None],
                            "valid_until": [None], "reason": [None]},
        "addresses": {"contract_id": ["C1", "C1"], "valid_from": ["2026-01-01", "2026-07-01"], "name": ["Old", "New"],
                      "street": [None, None], "postal_code": [None, None], "city": [None, None], "country": [None, None]},
        **billing,
    })


@pytest.mark.parametrize(
    ("tariff", "to", "asked_on", "effective"),
    [
        ("T1", "T2", date(2026, 3, 10), date(2026, 5, 1)),  # monthly notice: ends 30 April, T2 from 1 May
        ("T2", "T1", date(2026, 3, 10), date(2027, 1, 1)),  # yearly from 1 January: after the first term
    ],
)
def test_a_tariff_change_takes_effect_at_the_next_allowed_date(tariff, to, asked_on, effective) -> None:
    cat, bil = catalogs(module_tariffs={"module_id": ["M1"], "tariff_id": [tariff], "valid_from": ["2026-01-01"], "valid_until": [None]})
    change = tariff_change(cat, bil, "C1", "M1", to, asked_on, CLIENT)
    assert change.tables["module_tariffs"][1].rows() == [
        ("M1", tariff, date(2026, 1, 1), effective), ("M1", to, effective, None),
    ]
    assert change.result.row(0) == ("M1", tariff, to, effective)


def test_a_tariff_change_to_another_currency_is_refused() -> None:
    cat, bil = catalogs()
    tariffs = cat.tariffs.with_columns(pl.when(pl.col("tariff_id") == "T2").then(pl.lit("USD")).otherwise("currency").alias("currency"))
    with pytest.raises(LifecycleError, match="tariff 'T2' bills USD, contract C1's tariff EUR: an invoice never mixes currencies"):
        tariff_change(replace(cat, tariffs=tariffs), bil, "C1", "M1", "T2", date(2026, 3, 10), CLIENT)


def test_a_first_tariff_change_records_the_contract_tariff_as_the_earlier_version() -> None:
    cat, bil = catalogs()
    change = tariff_change(cat, bil, "C1", "M1", "T2", date(2026, 3, 10), CLIENT)
    assert change.tables["module_tariffs"][1].rows() == [
        ("M1", "T1", date(2026, 1, 1), date(2026, 5, 1)), ("M1", "T2", date(2026, 5, 1), None),
    ]


@pytest.mark.parametrize(
    ("actor", "tariff", "effective", "billing", "error", "message"),
    [
        (CLIENT, "T2", date(2026, 3, 15), {}, PermissionDenied, "only the role Manager may set a tariff change date"),
        (MANAGER, "T1", None, {}, LifecycleError, "already runs under tariff 'T1'"),
        (MANAGER, "T9", None, {}, LifecycleError, "tariff 'T9' is not in tariffs.csv"),
        (MANAGER, "T2", None, {"module_tariffs": {"module_id": ["M1", "M1"], "tariff_id": ["T1", "T1"],
                                                  "valid_from": ["2026-01-01", "2026-09-01"], "valid_until": ["2026-09-01", None]}},
         LifecycleError, "already has a tariff version from 2026-09-01"),
        # ops audit: a module cancelled to 30 April got a version from 1 May, which never applies
        (MANAGER, "T2", None, {"modules": {"module_id": ["M1", "M3"], "contract_id": ["C1", "C3"], "name": ["Phone", "Phone"],
                                           "ordered_on": ["2026-01-01", "2026-01-01"], "cancelled_on": ["2026-03-01", "2026-02-01"],
                                           "end_date": ["2026-04-30", "2026-03-31"]}},
         LifecycleError, "module 'M1' ends 2026-04-30: a tariff from 2026-05-01 would never apply"),
    ],
)
def test_tariff_changes_that_are_refused(actor, tariff, effective, billing, error, message) -> None:
    cat, bil = catalogs(**billing)
    with pytest.raises(error, match=message):
        tariff_change(cat, bil, "C1", "M1", tariff, date(2026, 3, 10), actor, effective)


NOT_PUBLIC_T2 = {"tariff_id": ["T1", "T2"], "cancellation": ["monthly", "yearly"], "term_months": [None, "12"],
                 "notice_months": ["1", "3"], "proration": ["days", "days"], "public": ["true", "false"]}


@pytest.mark.parametrize(
    ("actor", "public", "refused"),
    [
        # DOMAIN §5: tariffs are public or not; a client chooses among the public ones only
        (CLIENT, "false", "only the role Manager may set a module's tariff to 'T2', which is not public (tariff_terms.csv); carl acts as Client"),
        (MANAGER, "false", None),
        (CLIENT, "true", None),
    ],
)
def test_only_a_manager_moves_a_module_to_a_tariff_that_is_not_public(actor, public, refused) -> None:
    cat, bil = catalogs(tariff_terms={**NOT_PUBLIC_T2, "public": ["true", public]})
    if refused is None:
        assert tariff_change(cat, bil, "C1", "M1", "T2", date(2026, 3, 10), actor).result.row(0) == ("M1", "T1", "T2", date(2026, 5, 1))
    else:
        with pytest.raises(PermissionDenied, match=re.escape(refused)):
            tariff_change(cat, bil, "C1", "M1", "T2", date(2026, 3, 10), actor)


def test_a_manager_adds_an_add_on_option() -> None:
    cat, bil = catalogs()
    change = added_option(cat, bil, "C1", "OPT", date(2026, 4, 1), MANAGER, module_id="M1")
    assert change.result.rows() == [("C1-OPT-20260401", "C1", "M1", "OPT", 1, "recurring", "monthly", None, date(2026, 4, 1), None)]
    assert change.tables["positions"][1]["position_id"].to_list() == ["P1", "P2", "P3", "C1-OPT-20260401"]


@pytest.mark.parametrize(
    ("actor", "article", "error", "message"),
    [
        (CLIENT, "OPT", PermissionDenied, "only the role Manager may set add-on options; carl acts as Client"),
        (MANAGER, "FEE", LifecycleError, "article 'FEE' is not an add-on option"),
        (MANAGER, "SETUP", LifecycleError, "article 'SETUP' is not an add-on option"),
    ],
)
def test_add_on_options_that_are_refused(actor, article, error, message) -> None:
    cat, bil = catalogs()
    with pytest.raises(error, match=message):
        added_option(cat, bil, "C1", article, date(2026, 4, 1), actor)


def test_an_index_adjustment_of_chosen_contracts() -> None:
    cat, bil = catalogs()
    change = index_adjusted(cat, bil, "1.032", date(2026, 7, 1), MANAGER, contracts=["C1", "C2"])
    assert change.result.select("position_id", "kind", "price", "valid_from").rows() == [
        ("P1", "list_index", Decimal("10.320000"), date(2026, 7, 1)),
        ("P2", "list_index", Decimal("123.840000"), date(2026, 7, 1)),
    ]
    twice = bil.replace(position_prices=change.tables["position_prices"][1])
    with pytest.raises(LifecycleError, match=r"\['P1', 'P2'\] already have a price version from 2026-07-01"):
        index_adjusted(cat, twice, "1.032", date(2026, 7, 1), MANAGER, contracts=["C1", "C2"])


def test_an_index_adjustment_before_an_index_applied_already_is_refused() -> None:
    """×1.10 from 1 September, then ×1.10 from 1 May: the September version was raised from 10.00, not
    from May's 11.00, and would win from September on (11.00 instead of 12.10): refused, nothing changed."""
    cat, bil = catalogs()
    september = index_adjusted(cat, bil, "1.10", date(2026, 9, 1), MANAGER, contracts=["C1"])
    bil = bil.replace(position_prices=september.tables["position_prices"][1])
    with pytest.raises(LifecycleError, match=r"positions \['P1'\] have an index from 2026-09-01, after 2026-05-01"):
        index_adjusted(cat, bil, "1.10", date(2026, 5, 1), MANAGER, contracts=["C1"])
    # a later index of other contracts does not stand in the way
    assert index_adjusted(cat, bil, "1.10", date(2026, 5, 1), MANAGER, contracts=["C2"]).result["position_id"].to_list() == ["P2"]


def test_an_index_adjustment_on_the_day_a_positions_own_new_price_starts_is_refused_and_says_so() -> None:
    own = {"position_id": ["P1"], "kind": ["price"], "price": ["9.00"], "valid_from": ["2027-01-01"], "valid_until": [None],
           "reason": [None]}  # fmt: skip
    cat, bil = catalogs(position_prices=own)
    with pytest.raises(LifecycleError, match=r"own from 2027-01-01: P1 \(price 9\.000000\)\. An index adjustment on the day"):
        index_adjusted(cat, bil, "1.032", date(2027, 1, 1), MANAGER)


@pytest.mark.parametrize(
    ("own_until", "valid_until"),
    [
        (None, None),  # an open own price: its index version is open too
        ("2027-01-01", date(2027, 1, 1)),  # a limited one: after it the list price applies again, not 8.80
    ],
)
def test_an_index_version_ends_where_the_price_it_raises_ends(own_until, valid_until) -> None:
    cat, bil = f.catalogs(billing={
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)]),
        "position_prices": {"position_id": ["P1"], "kind": ["price"], "price": ["8.00"], "valid_from": [None],
                            "valid_until": [own_until], "reason": [None]},
    })  # fmt: skip
    change = index_adjusted(cat, bil, "1.10", date(2026, 7, 1), MANAGER)
    assert change.result.select("position_id", "kind", "price", "valid_from", "valid_until").rows() == [
        ("P1", "index", Decimal("8.800000"), date(2026, 7, 1), valid_until),
    ]


def test_a_tariff_change_ends_the_index_of_the_old_tariffs_list_price() -> None:
    """P1 (module M1) was indexed from T1's list price; from the change T2's list price applies. P2 (no module) keeps its index."""
    cat, bil = catalogs()
    indexed = index_adjusted(cat, bil, "1.032", date(2026, 2, 1), MANAGER, contracts=["C1", "C2"])
    bil = bil.replace(position_prices=indexed.tables["position_prices"][1])
    change = tariff_change(cat, bil, "C1", "M1", "T2", date(2026, 3, 10), CLIENT)
    prices = change.tables["position_prices"][1].filter(pl.col("kind") == "list_index").sort("position_id")
    assert prices.select("position_id", "valid_from", "valid_until").rows() == [
        ("P1", date(2026, 2, 1), date(2026, 5, 1)),  # the change takes effect on 1 May (a month's notice)
        ("P2", date(2026, 2, 1), None),
    ]
    # an index from June of T1's list price, then the change from May: refused
    later = bil.replace(position_prices=index_adjusted(cat, bil, "1.05", date(2026, 6, 1), MANAGER, contracts=["C1"]).tables["position_prices"][1])
    with pytest.raises(LifecycleError, match=r"positions \['P1'\] have an index of tariff list prices from 2026-06-01, after the tariff change"):
        tariff_change(cat, later, "C1", "M1", "T2", date(2026, 3, 10), CLIENT)


def test_an_index_adjustment_beyond_64_bit_micro_products_is_exact() -> None:
    """10.00 × 1 000 000 is 10^7 × 10^12 in micro-units squared: beyond 2^63, so formed in 128 bits."""
    cat, bil = catalogs()
    change = index_adjusted(cat, bil, "1000000", date(2026, 7, 1), MANAGER, contracts=["C1", "C2"])
    assert change.result.select("position_id", "price").rows() == [("P1", Decimal("10000000.000000")), ("P2", Decimal("120000000.000000"))]


@pytest.mark.parametrize(
    ("actor", "factor", "contracts", "error", "message"),
    [
        (CLIENT, "1.032", None, PermissionDenied, "only the role Manager may set index adjustments"),
        (MANAGER, "1,032", None, LifecycleError, "is not a number"),
        (MANAGER, "-1", None, LifecycleError, "must be positive"),
        (MANAGER, "1.0000001", None, LifecycleError, "at most 6 decimals"),
        (MANAGER, "1.032", ["C1", "C9"], LifecycleError, r"contracts \['C9'\] are not in contracts.csv"),
    ],
)
def test_index_adjustments_that_are_refused(actor, factor, contracts, error, message) -> None:
    cat, bil = catalogs()
    with pytest.raises(error, match=message):
        index_adjusted(cat, bil, factor, date(2026, 7, 1), actor, contracts)


OWN_RENT = {
    "article_terms": {"article_id": ["RENT"], "cancellation": ["yearly"], "term_months": ["12"], "notice_months": ["3"]},
    "positions": f.positions([("P3", "C3", "FEE", "recurring", "monthly", None, "2026-03-31", None, None, "M3"),
                              ("P4", "C3", "RENT", "recurring", "monthly", None, "2026-12-31", None, None, "M3")]),
}


LOOSE_RENT = {
    "positions": f.positions([("P3", "C3", "FEE", "recurring", "monthly", None, "2026-03-31", None, None, "M3"),
                              ("P9", "C3", "RENT", "recurring", "monthly", None, None)]),
}


@pytest.mark.parametrize(
    ("customer", "on", "billing", "message"),
    [
        ("K1", date(2026, 9, 1), {}, "account 'K1' cannot be deleted on 2026-09-01: active module M1 \\(contract C1\\) ends never"),
        ("K3", date(2026, 3, 31), {}, "active module M3 \\(contract C3\\) ends 2026-03-31"),
        ("K2", date(2026, 9, 1), {}, "active contract C2 ends never"),
        # the module ended, but a position of an article with its own notice still runs (and bills)
        ("K3", date(2026, 4, 1), OWN_RENT, "active position P4 \\(contract C3, own notice\\) ends 2026-12-31"),
        # the module ended, but a position of no module still runs with the contract (and bills)
        ("K3", date(2026, 4, 1), LOOSE_RENT, "active position P9 \\(contract C3, no module\\) ends never"),
    ],
)
def test_an_account_with_an_active_module_is_not_deleted(customer, on, billing, message) -> None:
    cat, bil = catalogs(**billing)
    with pytest.raises(LifecycleError, match=message):
        deleted_account(cat, bil, customer, on)


@pytest.mark.parametrize(
    ("position", "refused"),
    [
        (("P8", "C3", "SETUP", "one_time", None, None, None), None),  # billed when the contract started
        (("P8", "C3", "SETUP", "one_time", None, "2026-06-01", None), "active position P8 (contract C3, no module) ends never"),  # still to come
        (("P9", "C3", "TRANSFER", "every_time", None, None, None), None),  # only on invoices the contract gets anyway
        (("P9", "C3", "RENT", "recurring", "never", None, None), None),  # an interval that makes no lines
        (("P9", "C3", "RENT", "recurring", "monthly", None, None), "active position P9 (contract C3, no module) ends never"),
    ],
)
def test_a_position_of_no_module_keeps_an_account_alive_only_while_it_still_bills(position, refused) -> None:
    positions = f.positions([("P3", "C3", "FEE", "recurring", "monthly", None, "2026-03-31", None, None, "M3"), position])
    cat, bil = catalogs(positions=positions)
    if refused is None:
        assert deleted_account(cat, bil, "K3", date(2026, 4, 1)).result.rows() == [("K3", 1, 1)]
    else:
        with pytest.raises(LifecycleError, match=re.escape(refused)):
            deleted_account(cat, bil, "K3", date(2026, 4, 1))


def test_an_account_whose_modules_ended_is_deleted_with_its_rows() -> None:
    cat, bil = catalogs()
    change = deleted_account(cat, bil, "K3", date(2026, 4, 1))
    removed = {name: old.height - new.height for name, (old, new) in change.tables.items()}
    assert removed == {"customers": 1, "contracts": 1, "modules": 1, "positions": 1, "position_prices": 1}
    assert change.tables["customers"][1]["customer_id"].to_list() == ["K1", "K2", "KT"]


def test_a_client_may_not_change_payment_terms() -> None:
    cat, bil = catalogs()
    change = contract_settings(cat, bil, "C1", {"payment_days": 30, "po_number": "PO-1"})
    with pytest.raises(PermissionDenied, match="only the role Manager may change contract_terms.payment_days of contract_id=C1; carl acts as Client"):
        audit_rows(change, CLIENT, "set-contract", AT)


@pytest.mark.parametrize(
    ("settings", "column"),
    [({"is_test": True}, "customers.is_test"), ({"billing_from": date(2026, 2, 1)}, "contract_terms.billing_from")],
)
def test_manager_only_fields_refuse_a_client(settings, column) -> None:
    cat, bil = catalogs()
    with pytest.raises(PermissionDenied, match=f"only the role Manager may change {column}"):
        audit_rows(contract_settings(cat, bil, "C1", settings), CLIENT, "set-contract", AT)


def test_the_audit_record_says_who_when_what_old_and_new() -> None:
    cat, bil = catalogs(contract_terms={"contract_id": ["C1"], "po_number": ["PO-0"], "payment_days": ["14"]})
    change = contract_settings(cat, bil, "C1", {"payment_days": 30, "po_number": "PO-1", "is_test": True})
    audit = audit_rows(change, MANAGER, "set-contract", AT)
    assert audit.rows() == [
        (AT, "mia", "Manager", "set-contract", "contract_terms", "contract_id=C1", "payment_days", "14", "30"),
        (AT, "mia", "Manager", "set-contract", "contract_terms", "contract_id=C1", "po_number", "PO-0", "PO-1"),
        (AT, "mia", "Manager", "set-contract", "customers", "customer_id=K1", "is_test", "false", "true"),
    ]
    client = audit_rows(contract_settings(cat, bil, "C1", {"po_number": "PO-2"}), CLIENT, "set-contract", AT)
    assert client.select("role", "column", "old_value", "new_value").rows() == [("Client", "po_number", "PO-0", "PO-2")]


@pytest.mark.parametrize(
    ("user", "role", "message"),
    [
        ("carl", "Admin", "role 'Admin' is unknown"),
        ("zoe", "Client", "user 'zoe' is not in users.csv"),
        ("carl", "Manager", "user 'carl' has the role Client in users.csv and may not act as Manager"),
    ],
)
def test_actors_are_checked_against_users(user, role, message) -> None:
    users = pl.DataFrame({"user_id": ["mia", "carl"], "role": ["Manager", "Client"]})
    with pytest.raises(PermissionDenied, match=message):
        checked_actor(users, user, role)
    assert checked_actor(users, "mia", "Client") == Actor("mia", "Client")


@pytest.mark.parametrize(
    ("day", "tariff", "address", "price"),
    [
        (date(2026, 4, 30), "T1", "Old", Decimal("10.000000")),
        (date(2026, 7, 1), "T2", "New", Decimal("20.000000")),
    ],
)
def test_the_catalog_reads_as_of_any_date(day, tariff, address, price) -> None:
    cat, bil = catalogs(module_tariffs={"module_id": ["M1", "M1"], "tariff_id": ["T1", "T2"],
                                        "valid_from": ["2026-01-01", "2026-05-01"], "valid_until": ["2026-05-01", None]})
    on = catalog_on(cat, bil, day)
    p1 = on["positions"].filter(pl.col("position_id") == "P1")
    assert (on["module_tariffs"]["tariff_id"].to_list(), on["addresses"]["name"].to_list(), p1["tariff_id"][0], p1["price"][0]) == (
        [tariff], [address], tariff, price,
    )


def test_a_client_may_not_delete_an_account() -> None:
    """DOMAIN §1: contract parties are the Manager's to change; deleting the account removes them."""
    cat, bil = catalogs()
    change = deleted_account(cat, bil, "K3", date(2026, 4, 1))
    refused = (
        "only the role Manager may change customers.is_test of customer_id=K3; customers.name of customer_id=K3; "
        "contracts.customer_id of contract_id=C3; contracts.start_date of contract_id=C3; modules.ordered_on of module_id=M3; carl acts as Client"
    )
    with pytest.raises(PermissionDenied, match=re.escape(refused)):
        audit_rows(change, CLIENT, "delete-account", AT)
    assert audit_rows(change, MANAGER, "delete-account", AT).height > 0
