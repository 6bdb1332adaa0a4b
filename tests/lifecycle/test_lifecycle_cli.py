"""The lifecycle commands through the CLI: catalog files changed in place, every change audited,
refusals leaving every file as it was."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

import billing_factory as f
from pipeline.cli_billing import register
from pipeline.io.billing_files import load_catalogs, read_audit

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "catalog"

BILLING = {
    "tariff_terms": {"tariff_id": ["T1", "T2"], "cancellation": ["monthly", "yearly"], "term_months": [None, "12"],
                     "notice_months": ["1", "3"], "proration": ["days", "days"], "public": ["true", "true"]},
    "article_terms": {"article_id": ["OPT"], "addon": ["true"]},
    "modules": {"module_id": ["M1"], "contract_id": ["C1"], "name": ["Phone"], "ordered_on": ["2026-01-01"]},
    "positions": f.positions([
        ("P1", "C1", "FEE", "recurring", "monthly", None, None, None, None, "M1"),
        ("P2", "C2", "FEE", "recurring", "monthly", None, None),
    ]),
    "users": {"user_id": ["mia", "carl"], "role": ["Manager", "Client"]},
}


@pytest.fixture
def catalog(tmp_path) -> Path:
    return f.write_catalog(tmp_path / "catalog", billing=BILLING)


def rating(catalog: Path, *args: str):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, [*args, "--catalog", str(catalog)])


def snapshot(catalog: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(catalog.glob("*.csv"))}


def test_cancel_changes_the_files_and_records_the_audit(catalog) -> None:
    before = snapshot(catalog)
    started = datetime.now(timezone.utc)
    result = rating(catalog, "cancel", "C1", "M1", "--on", "2026-06-01", "--user", "carl", "--role", "Client")
    assert result.exit_code == 0, result.output
    assert "2026-07-31" in result.output
    _, bil = load_catalogs(catalog)
    assert bil.modules.select("module_id", "cancelled_on", "end_date").cast(pl.String).rows() == [("M1", "2026-06-01", "2026-07-31")]
    assert bil.positions.select("position_id", "end_date").cast(pl.String).rows() == [("P1", "2026-07-31"), ("P2", None)]
    audit = read_audit(catalog)
    assert audit.drop("changed_at").rows() == [
        ("carl", "Client", "cancel", "modules", "module_id=M1", "cancelled_on", None, "2026-06-01"),
        ("carl", "Client", "cancel", "modules", "module_id=M1", "end_date", None, "2026-07-31"),
        ("carl", "Client", "cancel", "positions", "position_id=P1", "end_date", None, "2026-07-31"),
    ]
    assert started - timedelta(seconds=1) <= audit["changed_at"][0] <= datetime.now(timezone.utc)
    after = snapshot(catalog)
    assert {name for name in after if after[name] != before.get(name)} == {"modules.csv", "positions.csv", "audit_log.csv"}
    assert after["positions.csv"].decode().splitlines()[2] == before["positions.csv"].decode().splitlines()[2]  # P2 untouched


@pytest.mark.parametrize(
    ("contract", "module", "on", "audit"),
    [
        # DOMAIN §5: monthly, notice 1 June → 31 July; P-1001-DATA starts 1 October: cancelled before it started
        ("V-1001", "M-1001", "2026-06-01", [
            ("modules", "module_id=M-1001", "cancelled_on", None, "2026-06-01"),
            ("modules", "module_id=M-1001", "end_date", None, "2026-07-31"),
            ("positions", "position_id=P-1001-DATA", "end_date", None, "2026-09-30"),
        ]),
        ("V-1001", "M-1001", "2026-06-30", [
            ("modules", "module_id=M-1001", "cancelled_on", None, "2026-06-30"),
            ("modules", "module_id=M-1001", "end_date", None, "2026-07-31"),
            ("positions", "position_id=P-1001-DATA", "end_date", None, "2026-09-30"),
        ]),
        # T-SEC, yearly from 15 June 2024, last notice day 13 March: renewed to 14 June 2027; A-DATA's own
        # monthly notice (no term of its own) ends 31 July, before P-1002-DATA starts on 1 October
        ("V-1002", "M-1002", "2026-06-01", [
            ("modules", "module_id=M-1002", "cancelled_on", None, "2026-06-01"),
            ("modules", "module_id=M-1002", "end_date", None, "2027-06-14"),
            ("positions", "position_id=P-1002-DATA", "end_date", None, "2026-09-30"),
            ("positions", "position_id=P-1002-NAT", "end_date", None, "2027-06-14"),
        ]),
    ],
    ids=["1-june", "30-june", "yearly-renewed"],
)
def test_cancel_on_the_sample_catalog(tmp_path, contract, module, on, audit) -> None:
    catalog = Path(shutil.copytree(SAMPLE, tmp_path / "catalog"))
    result = rating(catalog, "cancel", contract, module, "--on", on, "--user", "bob", "--role", "Client")
    assert result.exit_code == 0, result.output
    assert read_audit(catalog).drop("changed_at").rows() == [("bob", "Client", "cancel", *row) for row in audit]
    _, bil = load_catalogs(catalog)  # the catalog as changed is still valid
    ends = {(t, k.split("=")[1]): new for t, k, c, _, new in audit if c == "end_date"}
    assert {("positions", p): str(e) for p, e in bil.positions.select("position_id", "end_date").rows() if e} | {
        ("modules", m): str(e) for m, e in bil.modules.select("module_id", "end_date").rows() if e
    } == ends


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cancel", "C1", "M1", "--on", "2026-06-01", "--end", "2026-06-10", "--user", "carl", "--role", "Client"],
         "only the role Manager may set a cancellation date that deviates"),
        (["set-contract", "C1", "--payment-days", "30", "--user", "carl", "--role", "Client"],
         "only the role Manager may change contract_terms.payment_days"),
        (["set-contract", "C1", "--test-account", "--user", "carl", "--role", "Client"],
         "only the role Manager may change customers.is_test"),
        (["add-option", "C1", "OPT", "--from", "2026-04-01", "--user", "carl", "--role", "Client"],
         "only the role Manager may set add-on options"),
        (["index-adjust", "--factor", "1.032", "--effective", "2026-07-01", "--user", "carl", "--role", "Manager"],
         "user 'carl' has the role Client in users.csv and may not act as Manager"),
        (["delete-account", "K1", "--on", "2026-09-01", "--user", "mia", "--role", "Manager"],
         "account 'K1' cannot be deleted on 2026-09-01: active module M1"),
        (["pause", "C1", "--from", "2026-03-10", "--through", "2026-03-01", "--user", "carl", "--role", "Client"],
         "paused_through must not be before paused_from"),
    ],
    ids=["deviating-end", "payment-terms", "test-flag", "add-on", "claimed-role", "delete-active", "invalid-pause"],
)
def test_refused_changes_leave_every_file_as_it_was(catalog, args, message) -> None:
    before = snapshot(catalog)
    result = rating(catalog, *args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert snapshot(catalog) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cancel", "C9", "M1", "--on", "2026-06-01"], "module 'M1' is not a module of contract 'C9' (modules.csv)"),
        (["change-tariff", "C1", "M1", "T9", "--on", "2026-03-10"], "tariff 'T9' is not in tariffs.csv"),
        (["add-option", "C9", "OPT", "--from", "2026-04-01"], "contract 'C9' is not in contracts.csv"),
        (["index-adjust", "--factor", "1.05", "--effective", "2026-07-01", "--contracts", "C9"], "contracts ['C9'] are not in contracts.csv"),
        (["delete-account", "K9", "--on", "2026-09-01"], "customer 'K9' is not in customers.csv"),
        (["set-contract", "C9", "--po-number", "PO-1"], "contract 'C9' is not in contracts.csv"),
        (["set-address", "C9", "--from", "2026-05-01", "--name", "Alpen Finance"], "contract 'C9' is not in contracts.csv"),
        (["pause", "C9", "--from", "2026-03-01", "--through", "2026-03-10"], "contract 'C9' is not in contracts.csv"),
    ],
    ids=["cancel", "change-tariff", "add-option", "index-adjust", "delete-account", "set-contract", "set-address", "pause"],
)
def test_an_id_the_catalog_lacks_is_a_command_line_mistake(catalog, args, message) -> None:
    """Exit 2 with the ID named, as for a bad option (README), not 1 as an invalid catalog naming a
    line of the file that the change would have written (`pauses.csv:3`)."""
    before = snapshot(catalog)
    result = rating(catalog, *args, "--user", "mia", "--role", "Manager")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert snapshot(catalog) == before


def test_billing_state_of_a_contract_the_catalog_lacks_is_a_command_line_mistake(catalog, tmp_path) -> None:
    """`billing-state --contract C9` (a typo) said nothing: an empty table and exit 0, as for a
    contract with nothing billed yet."""
    result = rating(catalog, "billing-state", "--contract", "C9", "--warehouse", str(tmp_path / "wh"))
    assert result.exit_code == 2, result.output
    assert "contract 'C9' is not in contracts.csv" in " ".join(result.output.split())


def test_billing_state_of_a_warehouse_that_is_a_file_is_a_command_line_mistake(catalog, tmp_path) -> None:
    """errors audit: `--warehouse FILE` said the warehouse does not exist, then 'not billed yet' for every position, exit 0."""
    (tmp_path / "wh.csv").write_text("x\n")
    result = rating(catalog, "billing-state", "--warehouse", str(tmp_path / "wh.csv"))
    assert result.exit_code == 2, result.output
    assert "wh.csv is a file, not a directory: check --warehouse (or RATING_WAREHOUSE)" in " ".join(result.output.split())


def test_a_change_whose_files_cannot_be_written_records_no_audit_rows(catalog, monkeypatch) -> None:
    """A catalog directory nothing new can be created in (a read-only mount, no permission, an immutable
    folder): the audit log must not record a pause that pauses.csv never got."""
    rating(catalog, "pause", "C1", "--from", "2026-03-01", "--through", "2026-03-10", "--user", "mia", "--role", "Manager")
    before = snapshot(catalog)  # audit_log.csv exists, as after any earlier change

    def refused(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted", str(catalog / ".pauses.csv.x"))

    monkeypatch.setattr("pipeline.io.catalog_files.tempfile.mkstemp", refused)
    result = rating(catalog, "pause", "C2", "--from", "2026-04-01", "--through", "2026-04-10", "--user", "mia", "--role", "Manager")
    assert result.exit_code != 0
    assert snapshot(catalog) == before


def test_every_lifecycle_command_writes_what_it_says(catalog) -> None:
    steps = [
        ["add-option", "C1", "OPT", "--from", "2026-04-01", "--module", "M1", "--user", "mia", "--role", "Manager"],
        ["index-adjust", "--factor", "1.05", "--effective", "2026-07-01", "--contracts", "C2", "--user", "mia", "--role", "Manager"],
        ["change-tariff", "C1", "M1", "T2", "--on", "2026-03-10", "--user", "carl", "--role", "Client"],
        ["set-address", "C1", "--from", "2026-05-01", "--name", "Alpen Finance", "--city", "Graz", "--country", "AT",
         "--user", "carl", "--role", "Client"],
        ["pause", "C2", "--from", "2026-08-01", "--through", "2026-08-14", "--reason", "holiday", "--user", "carl", "--role", "Client"],
        ["set-contract", "C1", "--po-number", "PO-9", "--user", "carl", "--role", "Client"],
        ["set-contract", "C2", "--payment-days", "30", "--test-account", "--user", "mia", "--role", "Manager"],
    ]
    for args in steps:  # one command after the other, as an operator would
        result = rating(catalog, *args)
        assert result.exit_code == 0, (args, result.output)
    cat, bil = load_catalogs(catalog)
    assert bil.positions.filter(pl.col("position_id") == "C1-OPT-20260401").select("module_id", "article_id").rows() == [("M1", "OPT")]
    assert bil.position_prices.select("position_id", "kind", "price").cast(pl.String).rows() == [("P2", "list_index", "10.500000")]
    assert bil.module_tariffs.cast(pl.String).rows() == [("M1", "T1", "2026-01-01", "2026-05-01"), ("M1", "T2", "2026-05-01", None)]
    assert bil.addresses.select("contract_id", "name", "country").rows() == [("C1", "Alpen Finance", "AT")]
    assert bil.pauses.select("contract_id", "reason").rows() == [("C2", "holiday")]
    assert bil.contract_terms.select("contract_id", "po_number", "payment_days").rows() == [("C1", "PO-9", None), ("C2", None, 30)]
    assert cat.customers.filter(pl.col("customer_id") == "K2")["is_test"].to_list() == [True]
    commands = read_audit(catalog).group_by("command", maintain_order=True).agg(pl.len())
    assert commands.rows() == [("add-option", 8), ("index-adjust", 5), ("change-tariff", 7), ("set-address", 5),
                               ("pause", 4), ("set-contract", 5)]


def test_billing_state_shows_positions_never_billed_here(catalog, tmp_path) -> None:
    billing = {**BILLING, "positions": f.positions([("P1", "C1", "FEE", "recurring", "external", None, None)])}
    catalog = f.write_catalog(tmp_path / "other", billing=billing)
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["billing-state", "--catalog", str(catalog), "--warehouse", str(tmp_path / "wh")])
    assert result.exit_code == 0, result.output
    assert "billed by an external provider" in " ".join(result.output.split())


ENDED_K3 = {
    **BILLING,
    "modules": {"module_id": ["M1", "M3"], "contract_id": ["C1", "C3"], "name": ["Phone", "Phone"],
                "ordered_on": ["2026-01-01", "2026-01-01"], "cancelled_on": [None, "2026-02-01"], "end_date": [None, "2026-03-31"]},
    "customer_prices": {"customer_id": ["K1", "K3", "K3"], "article_id": ["CALL"] * 3, "band": [None] * 3,
                        "price": ["0.05", "0.04", "0.03"], "valid_from": [None, None, "2026-02-01"],
                        "valid_until": [None, "2026-02-01", None]},
    "special_prices": {"contract_id": ["C3", "C1"], "kind": ["friends", "friends"], "number": ["43222", "43222"],
                       "number_to": [None, None], "article_id": ["CALL", "CALL"], "band": [None, None],
                       "price": ["0.01", "0.02"], "valid_from": [None, None], "valid_until": [None, None]},
}


@pytest.mark.parametrize(
    ("table", "kept", "audited"),
    [
        ("customer_prices", [("K1", "0.050000")], {"customer_id=K3, article_id=CALL, band=, valid_from=",
                                                   "customer_id=K3, article_id=CALL, band=, valid_from=2026-02-01"}),
        ("special_prices", [("C1", "0.020000")], {"contract_id=C3, kind=friends, number=43222, number_to=, article_id=CALL, band=, valid_from="}),
    ],
)
def test_delete_account_removes_its_customer_and_special_prices(tmp_path, table, kept, audited) -> None:
    """Docs: every catalog row of the customer and its contracts is removed; a price row left behind
    referred to a customer that no longer exists, and every later command refused the catalog."""
    catalog = f.write_catalog(tmp_path / "catalog", billing=ENDED_K3)
    (tmp_path / "warehouse").mkdir()  # nothing rated or billed
    result = rating(catalog, "delete-account", "K3", "--on", "2026-04-01", "--user", "mia", "--role", "Manager",
                    "--warehouse", str(tmp_path / "warehouse"))
    assert result.exit_code == 0, result.output
    cat, _ = load_catalogs(catalog)  # the catalog as changed is still valid
    assert getattr(cat.pricing, table).select(pl.nth(0), pl.col("price").cast(pl.String)).rows() == kept
    assert set(read_audit(catalog).filter(pl.col("table") == table)["key"]) == audited


@pytest.mark.parametrize(
    ("interval", "exit_code", "message"),
    [
        # README: a mistake on the command line is a message and exit code 2, before anything is read
        ("weekly", 2, "interval 'weekly' is unknown; give one of monthly, quarterly"),
        ("every_n_months", 2, "interval 'every_n_months' is unknown"),
        ("quarterly", 0, "option added"),
    ],
)
def test_add_option_refuses_an_unknown_interval_as_a_command_line_mistake(catalog, interval, exit_code, message) -> None:
    before = snapshot(catalog)
    result = rating(catalog, "add-option", "C1", "OPT", "--from", "2026-04-01", "--interval", interval, "--user", "mia", "--role", "Manager")
    assert result.exit_code == exit_code, result.output
    assert message in " ".join(result.output.replace("│", " ").split())
    assert (snapshot(catalog) == before) == (exit_code != 0)


ENDED_WITH_FEES = {
    **BILLING,
    "modules": {"module_id": ["M3", "MT"], "contract_id": ["C3", "CT"], "name": ["Phone", "Phone"],
                "ordered_on": ["2026-01-01", "2026-01-01"], "cancelled_on": ["2026-02-01", "2026-02-01"],
                "end_date": ["2026-03-31", "2026-03-31"]},
    "positions": f.positions([
        ("P3", "C3", "FEE", "recurring", "monthly", None, None, None, None, "M3"),
        ("PT", "CT", "FEE", "recurring", "monthly", None, None, None, None, "MT"),
    ]),
}
MARCH_CALL = [{"record_key": "k1", "contract_id": "C3", "customer_id": "K3", "start_time": datetime(2026, 3, 10, 9, tzinfo=timezone.utc),
               "quantity": 60, "amount": f.Decimal("0.060000")}]


@pytest.mark.parametrize(
    ("customer", "billed_periods", "exit_code", "message"),
    [
        # review: a warehouse that is not there (mistyped) hid the unbilled call
        ("K3", None, 2, "does not exist: check --warehouse (or RATING_WAREHOUSE)"),
        # nothing billed: January to March's fees (3 × 10.00) and March's call (0.06) would be lost with the catalog rows
        ("K3", [], 1, "account 'K3' cannot be deleted on 2026-04-01: not billed up to 2026-03-31: contract C3 has 4 lines (net 30.06 EUR)"),
        ("K3", ["2026-01", "2026-02"], 1, "contract C3 has 2 lines (net 10.06 EUR)"),
        ("K3", ["2026-03"], 0, "account K3 deleted"),
        # a test account is never billed for real: its test invoices do not hold the deletion up
        ("KT", [], 0, "account KT deleted"),
    ],
)
def test_delete_account_is_refused_while_fees_or_usage_are_unbilled(tmp_path, customer, billed_periods, exit_code, message) -> None:
    """DOMAIN §1 (nothing is lost): an account whose contracts ended but were not billed to their end
    was deleted, and no billing run could bill its last fees and usage any more."""
    catalog = f.write_catalog(tmp_path / "catalog", billing=ENDED_WITH_FEES)
    warehouse = tmp_path / "warehouse"
    if billed_periods is not None:
        f.store_rated(warehouse, f.rated(MARCH_CALL))
    cat, bil = load_catalogs(catalog)
    for period in billed_periods or []:
        f.bill(warehouse, cat, bil, period=period)
    before = snapshot(catalog)
    result = rating(catalog, "delete-account", customer, "--on", "2026-04-01", "--user", "mia", "--role", "Manager",
                    "--warehouse", str(warehouse))
    assert result.exit_code == exit_code, result.output
    assert message in " ".join(result.output.replace("│", " ").split())
    assert (snapshot(catalog) == before) == (exit_code != 0)


def test_delete_account_names_a_late_call_even_after_a_later_invoice_was_made(tmp_path) -> None:
    """A late March call stored after April's run (invoice dated 30 April): the check's own invoice,
    never stored, must not stop at the invoice-date order of the sequence; the call is named."""
    catalog = f.write_catalog(tmp_path / "catalog", billing=ENDED_WITH_FEES)
    warehouse = tmp_path / "warehouse"
    cat, bil = load_catalogs(catalog)
    f.bill(warehouse, cat, bil, period="2026-04")
    f.store_rated(warehouse, f.rated(MARCH_CALL), run_id="late")
    result = rating(catalog, "delete-account", "K3", "--on", "2026-04-01", "--user", "mia", "--role", "Manager",
                    "--warehouse", str(warehouse))
    assert result.exit_code == 1, result.output
    assert "contract C3 has 1 lines (net 0.06 EUR)" in " ".join(result.output.replace("│", " ").split())


class Killed(BaseException):
    """The process dying (SIGKILL, a power cut) at a rename: nothing after it runs."""


def killed_at_rename(monkeypatch, renames_done: int, catalog: Path, *args: str) -> None:
    """`rating <args>` on `catalog`, killed at its rename after `renames_done` renames (the change's journal's is the first)."""
    real_replace, done = os.replace, []

    def dies(src, dst):
        if len(done) == renames_done:
            raise Killed()
        done.append(dst)
        real_replace(src, dst)

    with monkeypatch.context() as m, pytest.raises(Killed):
        m.setattr("pipeline.io.catalog_files.os.replace", dies)
        rating(catalog, *args)


def read_only_load(monkeypatch, catalog: Path):
    """load_catalogs(catalog) by a process that cannot write the catalog (a read-only mount): it cannot finish a stopped change."""

    def read_only(src, dst):
        raise PermissionError(30, "Read-only file system")

    with monkeypatch.context() as m:
        m.setattr("pipeline.io.catalog_files.os.replace", read_only)
        return load_catalogs(catalog)


@pytest.mark.parametrize("renames_done", [0, 1, 2, 3])
def test_a_change_stopped_between_its_files_is_whole_or_absent_and_a_rerun_audits_it_once(catalog, monkeypatch, renames_done) -> None:
    """`rating cancel` appended its audit rows, then renamed modules.csv and positions.csv into place one
    by one: killed in between (crash audit, SIGKILL before the n-th rename), the audit log recorded a
    cancellation the files never got, or the module was cancelled and its position not; the cancel run
    again audited it a second time (6 rows for 3 changes)."""
    args = ["cancel", "C1", "M1", "--on", "2026-06-01", "--user", "carl", "--role", "Client"]
    reference = f.write_catalog(catalog.parent / "reference", billing=BILLING)
    assert rating(reference, *args).exit_code == 0
    before = snapshot(catalog)
    killed_at_rename(monkeypatch, renames_done, catalog, *args)
    _, bil = load_catalogs(catalog)  # what any command reads next: the change whole, or not at all
    cancelled = bil.modules.select("end_date").cast(pl.String).rows() == [("2026-07-31",)]
    ended = bil.positions.filter(pl.col("position_id") == "P1").select("end_date").cast(pl.String).rows() == [("2026-07-31",)]
    assert cancelled == ended
    assert (read_audit(catalog).height == 3) == cancelled
    assert rating(catalog, *args).exit_code == 0  # the operator runs it again
    after = snapshot(catalog)
    assert {n: after[n] for n in after if n != "audit_log.csv"} == {n: b for n, b in snapshot(reference).items() if n != "audit_log.csv"}
    assert read_audit(catalog).drop("changed_at").rows() == read_audit(reference).drop("changed_at").rows()
    assert before != after
    # the staged copies of a change that died before its journal are removed by the next writer
    assert sorted(p.name for p in catalog.glob(".*")) == sorted(p.name for p in reference.glob(".*")) == [".catalog.lock"]


@pytest.mark.parametrize(
    ("hidden", "kept"),
    [
        # the staged copies of changes that died (tempfile's 8 random characters): removed by the next writer
        (".modules.csv.iwo3j_s5", False),
        (".audit_log.csv.evhe24g3", False),
        ("..catalog-change.json.k2p_x9a0", False),
        # the user's own hidden files: an editor's swap, undo and lock files, backups, version control
        (".modules.csv.swp", True),
        (".modules.csv.un~", True),
        (".~lock.modules.csv#", True),
        (".prices.csv.orig", True),
        (".prices.csv.2026-11-01", True),
        (".notes.csv.iwo3j_s5", True),
        (".gitignore", True),
    ],
)
def test_the_next_writer_removes_staged_copies_and_keeps_the_users_hidden_files(catalog, hidden, kept) -> None:
    """The lock holder removed every hidden file with `.csv.` in its name: `rating cancel` deleted vim's
    swap file `.modules.csv.swp` (the unsaved edits of a session open on modules.csv) and its undo file,
    or failed with IsADirectoryError on a directory `.old.csv.d` (review of e23335e)."""
    (catalog / hidden).write_text("the user's\n", encoding="utf-8")
    result = rating(catalog, "cancel", "C1", "M1", "--on", "2026-06-01", "--user", "carl", "--role", "Client")
    assert result.exit_code == 0, result.output
    assert (catalog / hidden).exists() == kept


def test_a_hidden_directory_named_like_a_staged_copy_stays_and_the_change_is_made(catalog) -> None:
    (catalog / ".modules.csv.abcdefgh").mkdir()
    (catalog / ".old.csv.d").mkdir()
    result = rating(catalog, "cancel", "C1", "M1", "--on", "2026-06-01", "--user", "carl", "--role", "Client")
    assert result.exit_code == 0, result.output
    assert (catalog / ".modules.csv.abcdefgh").is_dir() and (catalog / ".old.csv.d").is_dir()


AUDIT_HEADER = "changed_at,user_id,role,command,table,key,column,old_value,new_value"
EARLIER_ROW = "2026-01-01T00:00:00.000000Z,mia,Manager,set-address,addresses,address_id=A1,street,"


@pytest.mark.parametrize(
    "earlier",
    [
        f"{AUDIT_HEADER}\n{EARLIER_ROW}Old Street 1,New Street 2\n",
        f"{AUDIT_HEADER}\r\n{EARLIER_ROW}Old Street 1,New Street 2\r\n",  # saved on Windows
        f'{AUDIT_HEADER}\n{EARLIER_ROW}"c/o Mia\r\nOld Street 1",New Street 2\n',  # a cell of two lines, CRLF inside
        f'{AUDIT_HEADER}\n{EARLIER_ROW}"c/o Mia\rOld Street 1",New Street 2\n',  # a cell with a CR alone
    ],
)
def test_a_change_keeps_the_audit_logs_earlier_rows_byte_for_byte(catalog, earlier) -> None:
    """The audit log is rewritten whole with a change's rows appended (a1d3fe7): its earlier rows were
    read with newline translation, so a log saved with CRLF line ends, or a cell holding a CR, had
    its past rows rewritten (every CRLF and CR made LF) by the next change; appending kept them."""
    (catalog / "audit_log.csv").write_bytes(earlier.encode("utf-8"))
    result = rating(catalog, "cancel", "C1", "M1", "--on", "2026-06-01", "--user", "carl", "--role", "Client")
    assert result.exit_code == 0, result.output
    after = (catalog / "audit_log.csv").read_bytes()
    assert after.startswith(earlier.encode("utf-8"))
    assert after.count(b"\n") == earlier.count("\n") + 3


@pytest.mark.parametrize(
    ("journal", "problem"),
    [
        ("", "Expecting value: line 1 column 1 (char 0)"),
        ('[[".modules.csv.abcd1234", "modules.csv"]', "Expecting ',' delimiter: line 1 column 42 (char 41)"),
        ("{}", "not a list of [staged, target] file names"),
        ('["ab"]', "not a list of [staged, target] file names"),
    ],
    ids=["empty", "cut", "object", "names-not-pairs"],
)
def test_a_change_journal_that_cannot_be_read_is_a_catalog_problem_naming_it(catalog, journal, problem) -> None:
    """A journal is staged whole and renamed in, so one that cannot be read was edited or broken:
    every command said so with a JSONDecodeError traceback (review), or read '{}'/'["ab"]' as renames."""
    (catalog / ".catalog-change.json").write_text(journal)
    before = snapshot(catalog)
    result = rating(catalog, "cancel", "C1", "M1", "--on", "2026-06-01", "--user", "carl", "--role", "Client")
    assert result.exit_code == 1, result.output
    assert f"{catalog}/.catalog-change.json: a catalog change's journal that cannot be read ({problem}): compare the catalog files " \
           "with audit_log.csv, then remove it" in " ".join(result.output.split())
    assert snapshot(catalog) == before


def test_a_reader_that_cannot_finish_a_stopped_change_reads_it_whole(catalog, monkeypatch) -> None:
    """A change killed after its journal and its first rename, read by a process that cannot write
    the catalog (a read-only mount): it read modules.csv new and positions.csv old, the module
    cancelled and its position not (review). It reads the change's staged files instead."""
    # killed after the journal's rename and modules.csv's
    killed_at_rename(monkeypatch, 2, catalog, "cancel", "C1", "M1", "--on", "2026-06-01", "--user", "carl", "--role", "Client")
    _, bil = read_only_load(monkeypatch, catalog)
    assert bil.modules.select("end_date").cast(pl.String).rows() == [("2026-07-31",)]
    assert bil.positions.filter(pl.col("position_id") == "P1").select("end_date").cast(pl.String).rows() == [("2026-07-31",)]
    assert (catalog / ".catalog-change.json").exists()  # the next writer finishes it


def test_a_reader_that_cannot_finish_a_stopped_change_reads_the_files_it_creates_too(catalog, monkeypatch) -> None:
    """`set-contract C2 --payment-days 30 --test-account` on a catalog without contract_terms.csv creates that
    file and changes customers.csv; killed after its journal, a process that cannot write the catalog read
    customers.csv's staged file (K2 a test account) but skipped contract_terms.csv's, its target being absent:
    half the change (no payment days)."""
    assert not (catalog / "contract_terms.csv").exists()
    # killed after the journal's rename, before any file's
    killed_at_rename(monkeypatch, 1, catalog, "set-contract", "C2", "--payment-days", "30", "--test-account", "--user", "mia", "--role", "Manager")
    cat, bil = read_only_load(monkeypatch, catalog)
    assert cat.customers.filter(pl.col("customer_id") == "K2")["is_test"].to_list() == [True]
    assert bil.contract_terms.select("contract_id", "payment_days").rows() == [("C2", 30)]
    assert not (catalog / "contract_terms.csv").exists()  # the next writer finishes it


def test_delete_account_drops_the_warehouses_kept_catalog_and_device_index(tmp_path) -> None:
    """Runs keep the validated catalog and the device index in <warehouse>/_cache (docs/catalog.md):
    up to three entries each, holding the deleted customer's rows until newer ones pushed them out."""
    catalog = f.write_catalog(tmp_path / "catalog", billing=ENDED_K3)
    cache = tmp_path / "warehouse" / "_cache"
    for kept in ("catalog/0123abcd/frames.parquet", "device_index/4567ef01/main.parquet", "elsewhere.txt"):
        (cache / kept).parent.mkdir(parents=True, exist_ok=True)
        (cache / kept).write_text("kept by an earlier run")
    result = rating(catalog, "delete-account", "K3", "--on", "2026-04-01", "--user", "mia", "--role", "Manager",
                    "--warehouse", str(tmp_path / "warehouse"))
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*")) == ["elsewhere.txt"]
