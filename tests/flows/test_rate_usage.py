"""The `rate_usage` flow end to end under Prefect's test harness: the shipped sample inbox (plus three files
no reader can read) rated into a scratch warehouse, then handed in again (a no-op: the file ledger knows every
file), then reprocessed on request, and into a real PostgreSQL.

Expected figures come from reading the sample files (docs/formats.md lists what each one holds):
100 canonical records + 2 rejected lines; 9 unbilled calls (no answer, busy, 0 s); 19 records that
match no device ID (the traffic of 167.112.17.41 and .46, just outside the DOMAIN range .42–.45 that
contract V-1001 holds, and 4331799999 twice and 4930123500 once); the remaining 72 rated, among them
the traffic of .42–.45 and of 2001:db8:17::42 (inside V-1003's 2001:db8:17::/48), and the partner's
national-format numbers (`0316 812724`, `0664 1234567`), which the source's `country = "AT"` makes E.164.

The amounts are priced with every pricing file of the sample catalog (docs/pricing.md); LINES says, per
line, which rule gives its amount, worked out by hand from the sample files.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.prefect

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
RUN_ENV = ("RATING_CATALOG", "RATING_INBOX", "RATING_WAREHOUSE", "RATING_SOURCES", "RATING_PG_URL")

#: Added to the sample inbox: each is quarantined whole, with the reader's reason.
BROKEN = {
    "Master-pbx-graz-20261201.csv.gz": (b"not gzip at all\n", "named .gz but not gzip-compressed"),
    "freeswitch-berlin-20261102.csv": (b"", "empty file"),
    "notes.txt": (b"hello\n", "no source in {sources} has a pattern matching this file name"),
}

OUTCOMES = {"rated": 72, "non_billable": 9, "rejected": 2, "unassigned": 19, "unrateable": 0, "duplicate": 0}
FILES = {"input": 10, "read": 7, "quarantined": 3, "skipped": 0}
NET_AMOUNT = Decimal("14.22")

#: The invoice lines of October 2026: (contract, article) → (records, quantity, free quantity, net amount).
#: Per minute (T-MIN: 60/60) a call is charged in started minutes, per second (T-SEC: 1/1) by the second;
#: each record to 6 decimals, each line's sum rounded half-up to cents.
LINES = {
    # V-1001, T-MIN, customer C001 (end_customer price list: no rows)
    ("V-1001", "A-DATA"): (35, 7213573188, 0, Decimal("3.61")),  # 7.213573188 GB × 0.50 (prices.csv)
    # friends 4930123456 at 0.01: 4 + 3 + 1 min (the partner's "0049 30 123456" among them) = 0.08;
    # tariff 0.045: 1 + 15 + 60 min = 3.42 (4915…, 4917… are DE-MOB, keyed to A-DE too): 3.545 → 3.55
    ("V-1001", "A-DE"): (7, 5100, 0, Decimal("3.55")),
    ("V-1001", "A-EU"): (1, 360, 0, Decimal("0.72")),  # 333 s → 6 min × 0.12
    # promotion AUTUMN26 0.069 until 15 Oct: 1 min + 2 min, then tariff 0.089: 2 min; + connect fee 0.05 each:
    # 0.119 + 0.188 + 0.228 = 0.535 → 0.54
    ("V-1001", "A-MOB"): (3, 300, 0, Decimal("0.54")),
    ("V-1001", "A-NAT"): (1, 660, 0, Decimal("0.21")),  # 612 s → 11 min × 0.019
    ("V-1001", "A-WORLD"): (1, 60, 0, Decimal("0.99")),  # 1 s → 1 min × 0.99
    # V-1002, T-SEC, customer C002 on price list key_account
    ("V-1002", "A-DE"): (1, 59, 0, Decimal("0.03")),  # price list 0.035: 59 s = 0.034417
    ("V-1002", "A-EU"): (2, 911, 0, Decimal("1.67")),  # tariff 0.11: 301 s + 610 s = 1.670167
    ("V-1002", "A-NAT"): (4, 345, 345, Decimal("0.00")),  # inside the 6000 s free per period
    ("V-1002", "A-WORLD"): (1, 1260, 0, Decimal("0.00")),  # flat price: covered by the flat fee
    # V-1003, T-SEC, customer C003 (reverse charge)
    ("V-1003", "A-DATA"): (3, 401489, 0, Decimal("0.00")),  # 401 489 bytes × 0.40 per GB = 0.00016
    ("V-1003", "A-DE"): (4, 590, 0, Decimal("0.30")),  # customer price 0.03 (no called number in its net range): 0.295
    ("V-1003", "A-EU"): (1, 900, 0, Decimal("1.65")),  # tariff 0.11: 15 min
    ("V-1003", "A-NAT"): (1, 180, 180, Decimal("0.00")),  # free
    ("V-1003", "A-WORLD"): (2, 1700, 0, Decimal("0.00")),  # flat
    # V-1004, T-MIN: 4331681555 from 2026-10-15 00:00 UTC
    ("V-1004", "A-DE"): (1, 600, 0, Decimal("0.45")),  # 10 min × 0.045
    ("V-1004", "A-MOB"): (1, 240, 0, Decimal("0.41")),  # after the promotion: 4 min × 0.089 + 0.05 = 0.406
    ("V-1004", "A-NAT"): (2, 120, 0, Decimal("0.04")),  # 45 s and 60 s → 2 min × 0.019 = 0.038
    ("V-1005", "A-DE"): (1, 60, 0, Decimal("0.05")),  # 1 min × 0.045 (a test account is rated; billing skips it)
}
#: Rated records by the rule that priced them (docs/pricing.md, price precedence).
PRICE_SOURCES = {"special_friends": 3, "customer": 4, "promotion": 2, "price_list": 5, "tariff": 55, "flat": 3}

#: Rows per analyst view after one run (and after a re-run of it: replaced, not doubled).
VIEW_ROWS = {
    "invoice_lines": 19,
    "rated_usage": 72,
    "usage": 100,
    "rejects": 2,
    "unassigned": 19,
    "unrateable": 0,
    "duplicates": 0,
    "non_billable": 9,
    "ledger": 6,
    "runs": 1,
    "quarantine": 3,
    "file_ledger": 10,
    "skipped_files": 0,
}


def sample_inbox(root: Path) -> tuple[Path, Path]:
    """A copy of the sample catalog and inbox under `root`, with the BROKEN files added to the inbox."""
    catalog = shutil.copytree(SAMPLE / "catalog", root / "catalog")
    inbox = shutil.copytree(SAMPLE / "inbox", root / "inbox")
    for name, (content, _) in BROKEN.items():
        (inbox / name).write_bytes(content)
    return catalog, inbox


def stopped_before_rated_usage(monkeypatch, store: Callable[[], object]) -> None:
    """Run `store` (a rating run or a re-rating), stopping it as a crash would after its other tables
    were swapped in and before its rated_usage was: the warehouse is left half old, half new, the
    run's manifest committed."""
    from pipeline.io import warehouse as stored

    swap_in = stored._swap_in

    def crash(staged, final, run_id, keep):
        if final.name == "rated_usage":
            raise OSError("the machine went down")
        return swap_in(staged, final, run_id, keep)

    with monkeypatch.context() as patched:
        patched.setattr(stored, "_swap_in", crash)
        with pytest.raises(OSError, match="went down"):
            store()


def run_flow(catalog: Path, inbox: Path, warehouse: Path, pg_url: str | None = None, reprocess: bool = False, **more) -> dict:
    """One run of the flow with nothing taken from the caller's RATING_* environment."""
    from flows.rate_usage import rate_usage

    with pytest.MonkeyPatch.context() as env:
        for name in RUN_ENV:
            env.delenv(name, raising=False)
        return rate_usage(
            catalog=str(catalog), inbox_dir=str(inbox), warehouse_dir=str(warehouse), pg_url=pg_url, reprocess=reprocess, **more
        )


def view_rows(warehouse: Path) -> dict[str, int]:
    return {name: rows_of(warehouse, f'SELECT count(*) FROM "{name}"')[0][0] for name in VIEW_ROWS}


def rows_of(warehouse: Path, statement: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    try:
        return con.sql(statement).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def runs(prefect_harness, tmp_path_factory) -> Iterator[dict]:
    """One inbox rated, handed in again (all known), then reprocessed; the summaries and what the views held."""
    root = tmp_path_factory.mktemp("flow")
    catalog, inbox = sample_inbox(root)
    warehouse = root / "warehouse"
    found = {"warehouse": warehouse, "first": run_flow(catalog, inbox, warehouse)}
    found["rows_after_first"] = view_rows(warehouse)
    found["again"] = run_flow(catalog, inbox, warehouse)
    found["rows_after_again"] = view_rows(warehouse)
    found["skipped_after_again"] = rows_of(warehouse, "SELECT count(*), count(DISTINCT handin_id), count(run_id) FROM skipped_files")
    found["reprocessed"] = run_flow(catalog, inbox, warehouse, reprocess=True)
    yield found


def test_outcome_counts(runs):
    first = runs["first"]
    assert first["outcomes"] == OUTCOMES
    assert first["input_records"] == sum(OUTCOMES.values()) == 102


def test_quarantined_files_are_counted_and_stored(runs):
    warehouse, first = runs["warehouse"], runs["first"]
    assert first["files"] == FILES
    sources = Path(first["quarantined"][0][0]).parent / "sources.toml"
    expected = {name: reason.format(sources=sources) for name, (_, reason) in BROKEN.items()}
    assert {Path(path).name: reason for path, reason in first["quarantined"]} == expected
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    stored = con.sql("SELECT run_id, source_file, size_bytes, reason FROM quarantine ORDER BY source_file").fetchall()
    con.close()
    assert stored == [
        (first["run_id"], name, len(content), expected[name]) for name, (content, _) in sorted(BROKEN.items())
    ]


def test_ledger_adds_up_to_the_stored_input(runs):
    """The ledger's records, seconds and bytes add up to what came in: the stored usage plus the rejected lines."""
    warehouse = runs["warehouse"]
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    ledger = dict(con.sql("SELECT outcome, records FROM ledger").fetchall())
    totals = con.sql("SELECT sum(records), sum(duration_s), sum(volume_bytes) FROM ledger").fetchall()[0]
    stored = con.sql(
        "SELECT count(*) + (SELECT count(DISTINCT (source_file, source_line)) FROM rejects), "
        "sum(duration_s), sum(volume_bytes) FROM usage"
    ).fetchall()[0]
    con.close()
    assert ledger == OUTCOMES
    assert totals == stored == (102, 14125, 8211449156)


def test_invoice_lines_are_parquet_partitioned_by_period(runs):
    warehouse, first = runs["warehouse"], runs["first"]
    files = sorted(p.relative_to(warehouse).as_posix() for p in (warehouse / "invoice_lines").rglob("*.parquet"))
    assert files == [f"invoice_lines/period=2026-10/run-{first['run_id']}_0.parquet"]
    assert pq.read_table(warehouse / files[0]).num_rows == first["invoice_lines"] == VIEW_ROWS["invoice_lines"]


def test_analyst_views_answer_sql(runs):
    warehouse, first = runs["warehouse"], runs["first"]
    assert runs["rows_after_first"] == VIEW_ROWS
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    total = con.sql("SELECT sum(net_amount) FROM invoice_lines").fetchall()[0][0]
    run = con.sql("SELECT run_id, input_files, input_records, net_amount FROM runs").fetchall()
    sample = con.sql("SELECT * FROM invoice_lines LIMIT 5").fetchall()
    con.close()
    assert total == first["net_amount"] == NET_AMOUNT
    assert run == [(first["run_id"], FILES["input"], 102, NET_AMOUNT)]
    assert len(sample) == 5


def test_invoice_lines_are_priced_with_the_pricing_files(runs):
    warehouse = runs["warehouse"]
    lines = rows_of(
        warehouse, "SELECT contract_id, article_id, records, quantity, free_quantity, net_amount FROM invoice_lines"
    )
    assert {(c, a): tuple(rest) for c, a, *rest in lines} == LINES
    assert sum(amount for *_, amount in LINES.values()) == NET_AMOUNT
    sources = rows_of(warehouse, "SELECT price_source, count(*) FROM rated_usage GROUP BY ALL")
    assert dict(sources) == PRICE_SOURCES


def test_national_numbers_of_the_partner_are_stored_as_e164(runs):
    warehouse = runs["warehouse"]
    stored = rows_of(
        warehouse,
        "SELECT record_key, subscriber_id, counterparty, contract_id, price_source FROM rated_usage "
        "WHERE record_key IN ('partner:P-0001', 'partner:P-0002') ORDER BY 1",
    )
    assert stored == [
        ("partner:P-0001", "43316812724", "4930123456", "V-1001", "special_friends"),  # written 0316 812724, 0049 30 123456
        ("partner:P-0002", "43316812724", "436641234567", "V-1001", "promotion"),  # written (0316) 812724, 0664 1234567
    ]


def test_the_same_inbox_again_is_a_no_op_that_says_why(runs):
    warehouse, first, again = runs["warehouse"], runs["first"], runs["again"]
    assert again["run_id"] is None
    assert again["files"] == {"input": 10, "read": 0, "quarantined": 0, "skipped": 10}
    assert (again["outcomes"], again["input_records"], again["net_amount"], again["warnings"]) == ({}, 0, Decimal("0.00"), [])
    reasons = {Path(path).name: reason.split(":")[0] for path, reason in again["skipped"]}
    assert reasons == {
        **{name: "already quarantined" for name in BROKEN},
        **{p.name: "already processed" for p in (SAMPLE / "inbox").iterdir() if p.name != "sources.toml"},
    }
    assert all(f"in run {first['run_id']} on " in reason for _, reason in again["skipped"])
    assert runs["rows_after_again"] == {**VIEW_ROWS, "skipped_files": 10}  # nothing else changed
    assert runs["skipped_after_again"] == [(10, 1, 0)]  # one hand-in, no run
    statuses = rows_of(warehouse, "SELECT status, count(*), any_value(run_id) FROM file_ledger GROUP BY ALL ORDER BY 1")
    assert statuses == [("processed", 7, first["run_id"]), ("quarantined", 3, first["run_id"])]


def test_reprocessing_the_same_inbox_replaces_its_rows(runs):
    warehouse, first, reprocessed = runs["warehouse"], runs["first"], runs["reprocessed"]
    assert reprocessed["run_id"] == first["run_id"]
    assert reprocessed["files"] == FILES
    assert reprocessed["outcomes"] == OUTCOMES  # its own earlier records are not duplicates of themselves
    assert reprocessed["net_amount"] == NET_AMOUNT
    assert sorted(Path(path).name for path, _ in reprocessed["warnings"]) == sorted(
        [*BROKEN, *(p.name for p in (SAMPLE / "inbox").iterdir() if p.name != "sources.toml")]
    )
    assert all(w.startswith("reprocessed on request: ") for _, w in reprocessed["warnings"])
    # the no-op check before it keeps its 10 skipped files: this check (rating the run) skipped none
    assert view_rows(warehouse) == {**VIEW_ROWS, "skipped_files": 10}
    assert rows_of(warehouse, "SELECT count(*), count(run_id) FROM skipped_files") == [(10, 0)]
    assert not (warehouse / ".staging").exists()


def test_the_validated_catalog_is_kept_in_the_warehouse_for_the_next_run(runs, monkeypatch):
    """The first run validated the catalog and stored it; the reprocessing run found it (one entry)."""
    from pipeline.io import catalog_cache

    warehouse = runs["warehouse"]
    catalog = warehouse.parent / "catalog"
    assert [p.name for p in (warehouse / "_cache" / "catalog").iterdir()] == [catalog_cache.catalog_key(catalog)]
    monkeypatch.setattr(catalog_cache, "load_priced_catalog", lambda d: pytest.fail("validated, not loaded"))
    assert catalog_cache.cached_priced_catalog(catalog, warehouse / "_cache" / "catalog").contracts.height == 5


def test_a_crashed_run_records_no_file_and_is_simply_run_again(prefect_harness, tmp_path, monkeypatch):
    """Stopped after staging its Parquet files, before its manifest committed them: nothing of it is
    stored or recorded. (A run stopped after its commit has its files recorded: the test below.)"""
    from pipeline.io import warehouse as stored

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    commit = stored._write_manifest

    def crash(staging, manifest):  # after the run's Parquet files were written, before its commit
        raise OSError("disk full")

    monkeypatch.setattr(stored, "_write_manifest", crash)
    with pytest.raises(OSError, match="disk full"):
        run_flow(catalog, inbox, warehouse)
    assert not (warehouse / "file_ledger.parquet").exists()
    assert not (warehouse / "invoice_lines").exists()
    monkeypatch.setattr(stored, "_write_manifest", commit)
    summary = run_flow(catalog, inbox, warehouse)
    assert (summary["files"], summary["outcomes"], summary["net_amount"]) == (FILES, OUTCOMES, NET_AMOUNT)
    assert view_rows(warehouse) == VIEW_ROWS


def test_a_run_that_stopped_while_storing_is_finished_by_the_next_one_and_never_doubled(prefect_harness, tmp_path, monkeypatch):
    """The run's invoice lines were swapped in, its records not: a new file arrives (a new run
    id), and the next run first finishes the stopped one and records its files from its commit,
    so it reads only the new file: the stopped run's records are neither rated nor rejected again."""
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    stopped_before_rated_usage(monkeypatch, lambda: run_flow(catalog, inbox, warehouse))
    (inbox / "partner-20261102.csv").write_text(
        "Satznummer;A-Nummer;Zielnummer;Beginn;Dauer (s);Dienst\nP-0100;0316 812724;0316 123456;03.11.2026 09:00:00;30;Sprache\n",
        encoding="utf-8",
    )
    second = run_flow(catalog, inbox, warehouse)
    assert (second["files"]["read"], second["outcomes"]["rated"], second["outcomes"]["duplicate"]) == (1, 1, 0)
    assert rows_of(warehouse, "SELECT count(*), count(DISTINCT run_id) FROM rejects") == [(2, 1)]
    assert rows_of(warehouse, "SELECT count(*), sum(net_amount) FROM invoice_lines") == [(20, NET_AMOUNT + Decimal("0.02"))]
    assert rows_of(warehouse, "SELECT count(*) FROM rated_usage") == [(73,)]


def test_a_run_whose_views_cannot_be_built_is_stored_and_the_next_run_builds_them(prefect_harness, tmp_path, monkeypatch):
    """The analyst database could not be built (a full disk): the run failed, as if nothing were stored, though its
    tables and files were; now its summary says so (`views`, a warning of `rating run`), and the next run builds it."""
    from pipeline.io import views

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"

    def full(warehouse_dir):
        raise duckdb.IOException(f'Could not write file "{warehouse_dir}/.analytics.duckdb.building": No space left on device')

    with monkeypatch.context() as patched:
        patched.setattr(views, "_build", full)
        first = run_flow(catalog, inbox, warehouse)
    assert (first["files"], first["outcomes"], first["net_amount"]) == (FILES, OUTCOMES, NET_AMOUNT)
    assert first["views"] == (
        f'the analyst views were not built anew (IOException: Could not write file "{warehouse}/.analytics.duckdb.building": '
        f"No space left on device); what the run stored is in place: `rating views --warehouse {warehouse}` builds them once "
        "that is fixed (the next run tries again)"
    )
    assert not (warehouse / "analytics.duckdb").exists()
    again = run_flow(catalog, inbox, warehouse)  # every file dealt with: nothing read, the views built
    assert (again["run_id"], again["files"]["skipped"], again["views"]) == (None, 10, None)
    assert view_rows(warehouse) == {**VIEW_ROWS, "skipped_files": 10}


def test_a_rating_run_keeps_the_billing_views(runs):
    """The analyst database a rating run rebuilds has the billing views too (empty before any billing run)."""
    views = {name for (name,) in rows_of(runs["warehouse"], "SELECT view_name FROM duckdb_views() WHERE NOT internal")}
    assert {"invoices", "invoice_items", "billing_history", "contract_billing_state", "test_invoices"} <= views


def test_a_new_file_under_a_known_name_is_rated_with_a_warning_and_its_old_records_are_duplicates(prefect_harness, tmp_path):
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    partner = inbox / "partner-20261001.csv"
    with open(partner, "a", encoding="utf-8") as handle:  # the partner re-delivers with one more call
        handle.write("P-0009;0316 812724;0316 123456;03.11.2026 09:00:00;30;Sprache\n")
    second = run_flow(catalog, inbox, warehouse)
    assert second["files"] == {"input": 10, "read": 1, "quarantined": 0, "skipped": 9}
    assert [Path(path).name for path, _ in second["warnings"]] == [partner.name]
    assert f"a different file named {partner.name} was processed in run {first['run_id']}" in second["warnings"][0][1]
    assert second["outcomes"] == {"rated": 1, "non_billable": 0, "rejected": 0, "unassigned": 0, "unrateable": 0, "duplicate": 8}
    assert second["net_amount"] == Decimal("0.02")  # 30 s → 1 min × 0.019 (V-1001, A-NAT, November)
    assert rows_of(warehouse, "SELECT count(*), count(DISTINCT first_seen_run) FROM duplicates") == [(8, 1)]
    assert rows_of(warehouse, "SELECT count(*), count(DISTINCT run_id) FROM file_ledger") == [(11, 2)]


def test_a_dangling_link_is_skipped_with_its_reason_and_a_misnamed_copy_never_stands_in_for_the_file(prefect_harness, tmp_path):
    """A link that leads nowhere and a directory (the inbox is read flat) are counted and skipped
    with why (the next run looks again), never passed over; a copy under a name no source matches sorts first ('copy-of-…' < 'freeswitch-…'),
    yet the file its source matches is the one read, and the copy is its skipped twin (sink audit)."""
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    (inbox / "Master-pbx-graz-20261201.csv").symlink_to(tmp_path / "gone.csv")
    freeswitch = inbox / "freeswitch-berlin-20261001.csv"
    (inbox / f"copy-of-{freeswitch.name}").write_bytes(freeswitch.read_bytes())
    (inbox / "2026-12").mkdir()
    (inbox / "2026-12" / "Master-pbx-graz-20261202.csv").write_text("")
    first = run_flow(catalog, inbox, warehouse)
    assert first["files"] == {"input": 13, "read": 7, "quarantined": 3, "skipped": 3}
    assert (first["outcomes"], first["net_amount"]) == (OUTCOMES, NET_AMOUNT)
    skipped = {Path(path).name: reason for path, reason in first["skipped"]}
    assert skipped["Master-pbx-graz-20261201.csv"].startswith("cannot read the file (No such file or directory)")
    assert skipped["2026-12"].startswith("a directory: the inbox is read flat")
    assert skipped[f"copy-of-{freeswitch.name}"].startswith("same content (sha256 ")
    assert skipped[f"copy-of-{freeswitch.name}"].endswith(f"processed once, as {freeswitch.name}")
    assert rows_of(warehouse, "SELECT count(*) FROM skipped_files WHERE content_hash IS NULL") == [(2,)]
    second = run_flow(catalog, inbox, warehouse)  # the link is still dangling: said again, nothing else to do
    assert second["run_id"] is None and [Path(p).name for p, r in second["skipped"] if r.startswith("cannot read")] == ["Master-pbx-graz-20261201.csv"]
    assert [Path(p).name for p, r in second["skipped"] if r.startswith("a directory")] == ["2026-12"]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (b"partner-M\xfcller.csv", "partner-M\\xfcller.csv"),  # latin-1 from a Windows share: one byte, not UTF-8
        (b"Master-\xff\xfe.csv", "Master-\\xff\\xfe.csv"),
    ],
    ids=["latin-1-umlaut", "invalid-bytes"],
)
def test_a_file_whose_name_is_not_utf8_is_skipped_with_its_reason_and_the_run_goes_on(prefect_harness, tmp_path, name, shown):
    """A file name that is no UTF-8 text cannot be stored (Parquet, PostgreSQL and the logs hold text): the
    file is skipped with why, under its name with \\x escapes, and the next run looks again (it used to stop
    the whole run before any file was read, run after run, with a UnicodeEncodeError) (ingest audit)."""
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    with open(os.fsencode(inbox) + b"/" + name, "wb") as handle:
        handle.write((inbox / "partner-20261001.csv").read_bytes().replace(b"P-000", b"P-100"))
    first = run_flow(catalog, inbox, warehouse)
    assert first["files"] == {"input": 11, "read": 7, "quarantined": 3, "skipped": 1}
    assert (first["outcomes"], first["net_amount"]) == (OUTCOMES, NET_AMOUNT)
    reason = "its name is not UTF-8 text (shown with \\x escapes): rename it (convmv -f latin1 -t utf8); the next run looks again"
    assert [(Path(p).name, r) for p, r in first["skipped"]] == [(shown, reason)]
    assert rows_of(warehouse, "SELECT source_file, content_hash FROM skipped_files") == [(shown, None)]
    second = run_flow(catalog, inbox, warehouse)
    assert second["run_id"] is None and [Path(p).name for p, r in second["skipped"] if r == reason] == [shown]


def test_a_file_modified_within_the_settle_time_waits_for_the_next_run(prefect_harness, tmp_path):
    """A partner's upload in progress (modified a moment ago) is skipped with why under settle_s, so its
    cut last line is never rated; once it has settled, the next run reads it (scheduling audit)."""
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    settled = time.time() - 3600
    for path in inbox.iterdir():
        os.utime(path, (settled, settled))
    uploading = inbox / "partner-20261001.csv"
    os.utime(uploading, None)  # just now
    first = run_flow(catalog, inbox, warehouse, settle_s=600)
    assert first["files"] == {"input": 10, "read": 6, "quarantined": 3, "skipped": 1}
    [(path, reason)] = first["skipped"]
    assert Path(path).name == uploading.name
    assert reason.startswith("modified ") and reason.split(" s ago, ", 1)[1] == (
        "less than the settle time of 600 s (--settle): it may still be uploading; the next run looks again"
    )
    os.utime(uploading, (settled, settled))
    second = run_flow(catalog, inbox, warehouse, settle_s=600)
    assert second["files"] == {"input": 10, "read": 1, "quarantined": 0, "skipped": 9}
    assert rows_of(warehouse, "SELECT sum(net_amount) FROM invoice_lines") == [(NET_AMOUNT,)]


@pytest.mark.postgres
def test_postgres_gets_the_invoice_lines_and_a_rerun_replaces_them(prefect_harness, postgres_url, tmp_path):
    from pipeline.io.postgres import read_table

    catalog, inbox = sample_inbox(tmp_path)
    stored = []
    for reprocess in (False, True):  # the second time every file is known: only --reprocess rates them again
        summary = run_flow(catalog, inbox, tmp_path / "warehouse", pg_url=postgres_url, reprocess=reprocess)
        lines = read_table(postgres_url, "invoice_lines", summary["run_id"])
        everything = read_table(postgres_url, "invoice_lines")
        ledger = read_table(postgres_url, "ledger", summary["run_id"])
        stored.append(
            (
                summary["postgres"]["invoice_lines"],
                lines.num_rows,
                sum(lines["net_amount"].to_pylist()),
                everything["run_id"].to_pylist().count(summary["run_id"]),
                dict(zip(ledger["outcome"].to_pylist(), ledger["records"].to_pylist())),
            )
        )
    assert stored == [(19, 19, NET_AMOUNT, 19, OUTCOMES)] * 2


@pytest.mark.postgres
def test_a_run_with_nothing_to_read_still_brings_postgres_up_to_date(prefect_harness, postgres_url, tmp_path):
    """A --reprocess whose PostgreSQL write failed left the server with the run's earlier rows, and
    the next run, with nothing new to read, never reached PostgreSQL (warehouse audit)."""
    import psycopg

    from pipeline.io.postgres import read_table

    catalog, inbox = sample_inbox(tmp_path)
    first = run_flow(catalog, inbox, tmp_path / "warehouse", pg_url=postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as an earlier execution of the run left it
        conn.execute("UPDATE rating.runs SET finished_at = finished_at - interval '1 hour', net_amount = 0")
        conn.execute("DELETE FROM rating.invoice_lines")
    second = run_flow(catalog, inbox, tmp_path / "warehouse", pg_url=postgres_url)
    assert second["run_id"] is None  # nothing new to read
    runs = read_table(postgres_url, "runs", first["run_id"])
    assert (runs.column("net_amount").to_pylist(), len(read_table(postgres_url, "invoice_lines"))) == ([NET_AMOUNT], 19)


PARTNER_HEADER = "Satznummer;A-Nummer;Zielnummer;Beginn;Dauer (s);Dienst\n"


@pytest.mark.parametrize(
    ("first_calls", "second_calls", "first_line", "second_line"),
    [
        # V-1002 (T-SEC: 6000 free seconds of A-NAT a month; price list key_account 0.014/min; per second):
        # 5400 s free in the first hand-in; of the second's 1200 s, 600 are free and 600 cost 0.014 × 10 = 0.14
        ([1800, 1800, 1800], [600, 600], (5400, 5400, Decimal("0.00")), (1200, 600, Decimal("0.14"))),
        # the first hand-in uses up the free seconds (600 s charged): all 600 s of the second are charged
        ([3000, 3000, 600], [300, 300], (6600, 6000, Decimal("0.14")), (600, 0, Decimal("0.14"))),
    ],
)
def test_free_seconds_are_granted_once_per_period_across_hand_ins(prefect_harness, tmp_path, first_calls, second_calls, first_line, second_line):
    """Two hand-ins of one period, two runs: the second goes on from the first's units (warehouse.carried_usage)."""
    catalog = shutil.copytree(SAMPLE / "catalog", tmp_path / "catalog")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLE / "inbox" / "sources.toml", inbox)

    def hand_in(name: str, day: int, durations: list[int]) -> None:
        # 0316 81999 is V-1002's (prefix 4331681); 01 5551234 is a Vienna number: A-NAT, not local to Graz
        rows = [f"{name}-{i};0316 81999;01 5551234;0{day}.10.2026 10:0{i}:00;{d};Sprache\n" for i, d in enumerate(durations)]
        (inbox / f"partner-2026100{day}.csv").write_text(PARTNER_HEADER + "".join(rows))

    hand_in("A", 5, first_calls)
    first = run_flow(catalog, inbox, tmp_path / "wh")
    hand_in("B", 6, second_calls)
    second = run_flow(catalog, inbox, tmp_path / "wh")
    lines = rows_of(
        tmp_path / "wh",
        "SELECT run_id, quantity, free_quantity, net_amount FROM invoice_lines WHERE contract_id = 'V-1002' AND article_id = 'A-NAT'",
    )
    assert sorted(lines) == sorted([(first["run_id"], *first_line), (second["run_id"], *second_line)])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("replace", "changed while this run read it (replaced or still being written): the next run reads it as it is then"),
        ("rename", "gone while this run read it (No such file or directory): renamed or removed; the next run looks again"),
    ],
)
def test_a_file_replaced_or_renamed_while_it_is_read_is_neither_recorded_nor_quarantined(prefect_harness, tmp_path, monkeypatch, change, reason):
    """The ledger used to record the hash of the content check_inbox saw although the run read
    the file's new content (its original records never read, and a redelivery skipped), and a file
    renamed in between was quarantined by its content for good (flow audit)."""
    import flows.rate_usage as flow_module

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    partner = inbox / "partner-20261001.csv"
    original = partner.read_bytes()
    real = flow_module.read_usage_file

    def read_while_it_changes(path, source):
        if path.name == partner.name:  # after check_inbox hashed it
            if change == "replace":
                partner.write_bytes(original.replace(b"P-", b"Q-"))
            else:
                partner.rename(partner.with_name(partner.name + ".done"))
        return real(path, source)

    monkeypatch.setattr(flow_module, "read_usage_file", read_while_it_changes)
    first = run_flow(catalog, inbox, warehouse)
    assert first["files"] == {"input": 10, "read": 6, "quarantined": 3, "skipped": 1}
    assert {Path(p).name: r for p, r in first["skipped"]} == {partner.name: reason}
    assert rows_of(warehouse, f"SELECT count(*) FROM file_ledger WHERE file_name = '{partner.name}'") == [(0,)]
    monkeypatch.setattr(flow_module, "read_usage_file", real)
    if change == "rename":
        partner.with_name(partner.name + ".done").rename(partner)
    second = run_flow(catalog, inbox, warehouse)  # the file as it is now, read once
    assert second["files"] == {"input": 10, "read": 1, "quarantined": 0, "skipped": 9}
    assert rows_of(warehouse, f"SELECT count(*), min(status) FROM file_ledger WHERE file_name = '{partner.name}'") == [(1, "processed")]


def test_a_backlog_is_rated_over_runs_of_at_most_max_records(prefect_harness, tmp_path):
    """`--max-records 30` over the sample inbox (files in order, with their records: Master 1001
    21, Master 1101 4, export 10, freeswitch 14, nfcapd 0000 24, nfcapd 0800 21, partner 8): each
    run reads whole files, two at a time, until it holds 30 records, and leaves the rest, unrecorded,
    for the next; together the runs rate every record once, as one run would."""
    catalog = shutil.copytree(SAMPLE / "catalog", tmp_path / "catalog")
    inbox = shutil.copytree(SAMPLE / "inbox", tmp_path / "inbox")
    warehouse = tmp_path / "warehouse"
    runs = [run_flow(catalog, inbox, warehouse, max_records=30) for _ in range(4)]
    assert [r["files"] for r in runs[:3]] == [
        {"input": 7, "read": 4, "quarantined": 0, "skipped": 3},
        {"input": 7, "read": 2, "quarantined": 0, "skipped": 5},
        {"input": 7, "read": 1, "quarantined": 0, "skipped": 6},
    ]
    assert [(r["input_records"], r["deferred"]) for r in runs[:3]] == [(49, 3), (45, 1), (8, 0)]
    assert [name for name, reason in runs[0]["skipped"] if reason.startswith("left for the next run")] == [
        str(inbox / name) for name in ("nfcapd.202610010000.csv", "nfcapd.202610020800.csv", "partner-20261001.csv")
    ]
    assert dict(runs[0]["skipped"])[str(inbox / "partner-20261001.csv")] == (
        "left for the next run: this run read 49 records, as many as it takes (--max-records 30)"
    )
    assert runs[3]["run_id"] is None  # every file dealt with
    assert {o: sum(r["outcomes"][o] for r in runs[:3]) for o in OUTCOMES} == OUTCOMES
    assert rows_of(warehouse, "SELECT count(*), count(DISTINCT file_name) FROM file_ledger WHERE status = 'processed'") == [(7, 7)]
    # each run rounds its own lines to cents (the three nets add up to 14.21, one run's to 14.22); the
    # records' exact amounts are those of one run, and billing rounds their sum once per line
    whole = run_flow(catalog, inbox, tmp_path / "one-run")
    assert (whole["net_amount"], sum(r["net_amount"] for r in runs[:3])) == (NET_AMOUNT, Decimal("14.21"))
    exact = "SELECT contract_id, period, article_id, sum(amount) FROM rated_usage GROUP BY ALL ORDER BY ALL"
    assert rows_of(warehouse, exact) == rows_of(tmp_path / "one-run", exact)


def test_a_reader_that_fails_unexpectedly_quarantines_its_file_and_the_others_go_on(prefect_harness, tmp_path, monkeypatch):
    """A reader bug or an I/O error in one file (not a file it finds unreadable) must not sink the run."""
    import flows.rate_usage as flow_module

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    real = flow_module.read_usage_file

    def failing(path, source):
        if path.name == "partner-20261001.csv":
            raise RuntimeError("boom")
        return real(path, source)

    monkeypatch.setattr(flow_module, "read_usage_file", failing)
    first = run_flow(catalog, inbox, warehouse)
    assert first["files"] == {"input": 10, "read": 6, "quarantined": 4, "skipped": 0}
    assert rows_of(warehouse, "SELECT reason FROM quarantine WHERE source_file = 'partner-20261001.csv'") == [
        ("csv reader failed: RuntimeError: boom",)
    ]


def test_a_run_whose_postgres_write_failed_keeps_its_files_recorded_so_the_next_run_reads_only_new_ones(prefect_harness, tmp_path, monkeypatch):
    """PostgreSQL down for one scheduled run: the run stored its tables in the warehouse but recorded
    none of its files, so the next run, with a new file in the inbox (another run id), read them all
    again: 100 duplicates, and the 2 bad lines rejected a second time (crash audit, `rating run` with
    RATING_PG_URL on a server that was down, then a partner file, then `rating run`). The warehouse
    holds the run: the next run writes it to PostgreSQL from there (docs/warehouse.md)."""
    from flows import rate_usage as flow
    from pipeline.io.postgres import PostgresUnavailable

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"

    def down(*args, **kwargs):
        raise PostgresUnavailable("cannot connect to PostgreSQL at postgresql://db/rating: the server is down")

    with monkeypatch.context() as patched:
        patched.setattr(flow, "to_postgres", down)
        with pytest.raises(PostgresUnavailable):
            run_flow(catalog, inbox, warehouse, pg_url="postgresql://db/rating")
    (inbox / "partner-20261102.csv").write_text(
        PARTNER_HEADER + "P-0100;0316 812724;0316 123456;03.11.2026 09:00:00;30;Sprache\n", encoding="utf-8"
    )
    second = run_flow(catalog, inbox, warehouse)
    assert (second["files"]["read"], second["outcomes"]) == (
        1, {"rated": 1, "non_billable": 0, "rejected": 0, "unassigned": 0, "unrateable": 0, "duplicate": 0}
    )
    assert rows_of(warehouse, "SELECT count(*), sum(total) FROM run_outcomes") == [(2, 103)]
    assert rows_of(warehouse, "SELECT count(*) FROM rejects") == [(2,)]


def killed_before_recording(monkeypatch, catalog, inbox, warehouse, **options) -> str:
    """A rating run killed after its commit (its tables stored), before its files were recorded; its run id."""
    from flows import rate_usage as flow

    def killed(*args, **kwargs):
        raise SystemError("killed after the run's commit, before its files were recorded")

    with monkeypatch.context() as patched:
        patched.setattr(flow, "record_files", killed)
        with pytest.raises(SystemError, match="killed"):
            run_flow(catalog, inbox, warehouse, **options)
    return rows_of(warehouse, "SELECT run_id FROM runs")[0][0]


@pytest.mark.parametrize(
    ("new_file", "expected_files", "expected_outcomes", "expected_ledger"),
    [
        # the same inbox again: every file was dealt with by the killed run, nothing to do
        (False, {"input": 10, "read": 0, "quarantined": 0, "skipped": 10}, {}, [("first", "processed", 7), ("first", "quarantined", 3)]),
        # a partner file arrives (another run id): only it is read, the killed run's records are not read again
        (
            True,
            {"input": 11, "read": 1, "quarantined": 0, "skipped": 10},
            {"rated": 1, "non_billable": 0, "rejected": 0, "unassigned": 0, "unrateable": 0, "duplicate": 0},
            [("first", "processed", 7), ("first", "quarantined", 3), ("second", "processed", 1)],
        ),
    ],
    ids=["same-inbox", "new-file"],
)
def test_a_run_killed_after_its_commit_before_recording_its_files_keeps_them_dealt_with(
    prefect_harness, tmp_path, monkeypatch, new_file, expected_files, expected_outcomes, expected_ledger
):
    """Killed between the run's commit (its tables stored) and recording its files in the file ledger: the
    next run read them all again, its 100 records as duplicates, its 2 bad lines rejected a second time and
    the ledger's files under the new run. The run's ledger rows are in its commit: they count as recorded."""
    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    first = killed_before_recording(monkeypatch, catalog, inbox, warehouse)
    if new_file:
        (inbox / "partner-20261102.csv").write_text(
            PARTNER_HEADER + "P-0100;0316 812724;0316 123456;03.11.2026 09:00:00;30;Sprache\n", encoding="utf-8"
        )
    second = run_flow(catalog, inbox, warehouse)
    assert (second["files"], second["outcomes"]) == (expected_files, expected_outcomes)
    assert sorted(reason.split(":")[0] for _, reason in second["skipped"]) == ["already processed"] * 7 + ["already quarantined"] * 3
    assert all(f"in run {first} on " in reason for _, reason in second["skipped"])
    # each bad line rejected once, by the killed run
    rejected = rows_of(warehouse, f"SELECT source_file, source_line, count(*), min(run_id) = '{first}' FROM rejects GROUP BY ALL ORDER BY 1, 2")
    assert rejected == [("Master-pbx-graz-20261001.csv", 8, 1, True), ("nfcapd.202610020800.csv", 11, 1, True)]
    # each file once, under the run that dealt with it
    ledger = rows_of(
        warehouse,
        f"SELECT CASE run_id WHEN '{first}' THEN 'first' ELSE 'second' END AS run, status, count(*) FROM file_ledger GROUP BY ALL ORDER BY 1, 2",
    )
    assert ledger == expected_ledger
    assert rows_of(warehouse, "SELECT count(*) = count(DISTINCT content_hash) FROM file_ledger") == [(True,)]
    assert run_flow(catalog, inbox, warehouse)["run_id"] is None  # and again: nothing to do
    assert list((warehouse / "_file_ledger_pending").iterdir()) == []  # every run's committed rows are in the ledger


@pytest.mark.postgres
def test_a_run_killed_after_its_commit_reaches_postgres_by_the_next_run_that_reads_nothing(prefect_harness, postgres_url, tmp_path, monkeypatch):
    """Killed before recording its files, so before its PostgreSQL write too: the next run, which finds
    its files recorded from its commit and reads nothing, writes it to PostgreSQL from the warehouse."""
    from pipeline.io.postgres import read_table
    from tests.io.test_postgres import database

    catalog, inbox = sample_inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    url = database(postgres_url, "rating_killed_after_commit")  # its own: the session's database holds other tests' runs
    first = killed_before_recording(monkeypatch, catalog, inbox, warehouse, pg_url=url)
    assert run_flow(catalog, inbox, warehouse, pg_url=url)["run_id"] is None
    pg = [(t, read_table(url, t).column("run_id").to_pylist()) for t in ("runs", "rejects")]
    assert pg == [("runs", [first]), ("rejects", [first, first])]
