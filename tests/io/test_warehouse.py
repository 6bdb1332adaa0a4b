"""The Parquet warehouse: a run's tables, replaced on re-run, and the analyst views over them."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from pipeline.io import billing_store, views, warehouse
from pipeline.job import rate
from pipeline.price import detail
from tests.factory import at, catalog, usage


def stored_run(tmp_path, run_id: str, records):
    result = rate(records, catalog(), run_id, seen=warehouse.seen_record_keys(tmp_path, except_run=run_id))
    rows = warehouse.write_run(result.stored_tables(), tmp_path, run_id)
    views.publish(tmp_path)
    return rows


def query(tmp_path, sql: str):
    con = duckdb.connect(str(tmp_path / warehouse.ANALYTICS_DB), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


CALLS = dict(subscriber_id=["4331681272420", "4930123450", "0000"], duration_s=[61, 30, 5])


def test_a_run_is_stored_partitioned_by_period_and_queryable(tmp_path):
    rows = stored_run(tmp_path, "run1", usage(**CALLS))
    assert rows["rated_usage"] == 2 and rows["unassigned"] == 1
    assert sorted(p.name for p in (tmp_path / "invoice_lines").iterdir()) == ["period=2026-10"]
    assert query(tmp_path, "select contract_id, net_amount from invoice_lines order by 1") == [
        ("K-MIN", Decimal("0.12")),
        ("K-SEC", Decimal("0.03")),
    ]
    assert query(tmp_path, "select outcome, count(*) from usage group by 1 order by 1") == [("rated", 2), ("unassigned", 1)]
    assert query(tmp_path, "select rated, unassigned, total from run_outcomes") == [(2, 1, 3)]


def test_re_running_a_run_replaces_its_rows_and_never_doubles_them(tmp_path):
    stored_run(tmp_path, "run1", usage(**CALLS))
    stored_run(tmp_path, "run1", usage(**CALLS))
    assert query(tmp_path, "select count(*), sum(net_amount) from invoice_lines") == [(2, Decimal("0.15"))]
    assert query(tmp_path, "select count(*) from rated_usage") == [(2,)]
    assert query(tmp_path, "select count(*) from duplicates") == [(0,)]


def test_a_run_stored_again_stores_each_outcome_in_batch_order(tmp_path):
    """Every outcome goes to the writer as a Polars frame in batch order: DuckDB's writer may reorder
    the rows of a registered table (preserve_insertion_order is off), and a run stored again would
    then store other files."""
    n = 6000
    line = list(range(1, n + 1))
    records = usage(
        record_key=[f"r{i % (n - 2000)}" for i in range(n)],  # the last 2 000 repeat the first
        source_line=line,
        subscriber_id=["4331681272420" if i % 3 else "4999" for i in range(n)],  # every third unassigned
        duration_s=[-1 if i % 5 == 0 else 60 for i in range(n)],  # every fifth rejected
        billable=[i % 7 != 0 for i in range(n)],
    )
    result = rate(records, catalog(), "run1")
    for name in ("rejects", "unassigned", "duplicates", "non_billable", "ledger"):
        assert isinstance(result.stored_table(name), pl.DataFrame), name
    for _ in range(2):
        rows = warehouse.write_run(result.stored_tables(), tmp_path, "run1")
        for name in ("rejects", "unassigned", "duplicates", "non_billable"):
            stored = pl.read_parquet(tmp_path / name / "run-run1.parquet").get_column("source_line")
            assert stored.len() == rows[name] >= 400 and stored.is_sorted() and stored.n_unique() == stored.len(), name


def test_records_seen_by_an_earlier_run_are_duplicates_in_a_later_one(tmp_path):
    stored_run(tmp_path, "run1", usage(**CALLS))
    stored_run(tmp_path, "run2", usage(record_key=["r1", "new"], subscriber_id=["4331681272420"] * 2))
    assert query(tmp_path, "select run_id, record_key, first_seen_run from duplicates") == [("run2", "r1", "run1")]
    assert query(tmp_path, "select run_id, count(*) from rated_usage group by 1 order by 1") == [("run1", 2), ("run2", 1)]


@pytest.mark.parametrize(
    ("keys", "seen"),
    [
        (["r1", "r2", "new"], [("r1", "run1"), ("r2", "run1")]),
        (["r3", None, "new"], [("r3", "run1")]),  # an unassigned record's key too; no key asks for none
        (["new"], []),
        (None, [("r1", "run1"), ("r2", "run1"), ("r3", "run1")]),  # every stored key
    ],
)
def test_only_the_stored_records_of_a_batchs_keys_are_read(tmp_path, keys, seen):
    stored_run(tmp_path, "run1", usage(**CALLS))
    asked = None if keys is None else pl.Series(keys, dtype=pl.String)
    assert sorted(warehouse.seen_record_keys(tmp_path, except_run="run2", keys=asked).rows()) == seen


def test_usage_totals_round_a_periods_usage_once_over_all_runs(tmp_path):
    """Three runs of one 5 s call each (0.005 at 0.06 a minute by the second): each run's invoice
    line rounds to 0.01, but one invoice bills 0.015 → 0.02; usage_totals summed the lines (0.03)."""
    for n in (1, 2, 3):
        stored_run(tmp_path, f"run{n}", usage(subscriber_id=["4930123450"], duration_s=[5], record_key=[f"r{n}"]))
    assert query(tmp_path, "select sum(net_amount) from invoice_lines") == [(Decimal("0.03"),)]
    assert query(tmp_path, "select period, contract_id, tariff_id, article_id, records, quantity, net_amount from usage_totals") == [
        ("2026-10", "K-SEC", "T-SEC", "A-NAT", 3, 15, Decimal("0.02")),
    ]


@pytest.mark.parametrize(
    ("view", "columns"),
    [
        ("run_outcomes", {"rated": "BIGINT", "non_billable": "BIGINT", "rejected": "BIGINT", "unassigned": "BIGINT",
                          "unrateable": "BIGINT", "duplicate": "BIGINT", "total": "BIGINT"}),
        ("top_unassigned", {"records": "BIGINT", "duration_s": "BIGINT", "volume_bytes": "BIGINT", "runs": "BIGINT"}),
        ("usage_totals", {"records": "BIGINT", "quantity": "BIGINT", "net_amount": "DECIMAL(18,2)"}),
    ],
)
def test_analyst_views_sum_integers_as_bigint_not_hugeint(tmp_path, view, columns):
    """docs audit: DuckDB's sum of BIGINT is HUGEINT, which pandas clients read as floats."""
    stored_run(tmp_path, "run1", usage(**CALLS))
    described = dict(query(tmp_path, f"select column_name, column_type from (describe {view})"))
    assert {c: described[c] for c in columns} == columns


def test_views_exist_before_any_run(tmp_path):
    views.publish(tmp_path)
    assert query(tmp_path, "select count(*) from invoice_lines") == [(0,)]
    assert query(tmp_path, "select count(*) from usage") == [(0,)]


def test_a_tables_files_of_two_releases_are_read_together(tmp_path):
    """A table's files are read as one scan: a later release's file with a column more (here `note`),
    before or after an earlier one's, is read for the columns both hold, as every file was alone."""
    tables = [("u1", "run1", None), ("u2", "run2", "late"), ("u3", "run3", None)]
    for key, run, note in tables:
        columns = f"'{key}' AS record_key, '{run}' AS run_id, TIMESTAMPTZ '2026-10-01 10:00:00+00' AS start_time"
        extra = f", '{note}' AS note" if note else ""
        folder = tmp_path / "unassigned"
        folder.mkdir(exist_ok=True)
        duckdb.sql(f"SELECT {columns}{extra}").write_parquet(str(folder / f"run-{run}.parquet"))
    assert sorted(warehouse.seen_record_keys(tmp_path, except_run="run3").rows()) == [("u1", "run1"), ("u2", "run2")]
    assert warehouse.run_periods(tmp_path).rows() == [("run1", "2026-10"), ("run2", "2026-10"), ("run3", "2026-10")]


@pytest.mark.parametrize(
    ("periods", "folders"),
    [
        # plain periods: one query per period, each its own folder
        (["2026-10", "2026-11", "2026-10"], ["period=2026-10", "period=2026-11"]),
        # a NULL period or one that is no plain folder name: DuckDB's partitioned writer names them
        (["2026-10", None], ["period=2026-10", "period=__HIVE_DEFAULT_PARTITION__"]),
        (["20'26"], ["period=20%2726"]),
    ],
)
def test_every_row_of_a_period_table_is_stored_whatever_its_period(tmp_path, periods, folders):
    con = duckdb.connect()
    relation = con.sql(f"SELECT * FROM (VALUES {', '.join(f'({i}, ?)' for i in range(len(periods)))}) AS t(x, period)", params=periods)
    assert warehouse.write_run({"invoice_lines": relation}, tmp_path, "r1") == {"invoice_lines": len(periods)}
    assert sorted(p.name for p in (tmp_path / "invoice_lines").iterdir()) == folders
    assert sorted(x for (x,) in con.sql(f"SELECT x FROM read_parquet('{tmp_path}/invoice_lines/*/*.parquet')").fetchall()) == list(range(len(periods)))


def crashing_on(monkeypatch, function: str, table: str | None = None):
    """Make warehouse.<function> raise (for the table `table` only, if given), as a run that stops there."""
    real = getattr(warehouse, function)

    def crash(*args, **kwargs):
        if table is None or args[0].name == table:
            raise OSError("the machine went down")
        return real(*args, **kwargs)

    monkeypatch.setattr(warehouse, function, crash)


def stored_counts(tmp_path) -> list[tuple]:
    views.publish(tmp_path)
    return query(tmp_path, "select (select count(*) from invoice_lines), (select sum(net_amount) from invoice_lines), "
                           "(select count(*) from rated_usage), (select count(*) from runs), (select sum(rated) from run_outcomes)")


def test_a_run_that_stopped_while_swapping_in_is_finished_by_recover_and_never_doubled(tmp_path, monkeypatch):
    """The run's first tables were swapped in, then the process died; the next run (here: run2,
    with new records only) finds run1's files by recover() and so sees run1's records as seen."""
    result = rate(usage(**CALLS), catalog(), "run1")
    tables = {**result.stored_tables(), "runs": result.con.sql("select 'run1' as run_id")}
    with monkeypatch.context() as patched:
        crashing_on(patched, "_swap_in", table="rated_usage")
        with pytest.raises(OSError):
            warehouse.write_run(tables, tmp_path, "run1")
    assert not list((tmp_path / "rated_usage").rglob("*.parquet"))  # half a run: lines without their records
    assert warehouse.recover(tmp_path) == ["run1"]
    assert stored_counts(tmp_path) == [(2, Decimal("0.15"), 2, 1, 2)]
    assert warehouse.recover(tmp_path) == [] and not (tmp_path / ".staging").exists()
    stored_run(tmp_path, "run2", usage(**CALLS))
    assert query(tmp_path, "select count(*), sum(net_amount) from invoice_lines") == [(2, Decimal("0.15"))]
    assert query(tmp_path, "select count(*) from duplicates") == [(3,)]


def test_a_run_that_stopped_before_all_its_files_were_staged_leaves_the_earlier_execution_in_place(tmp_path, monkeypatch):
    stored_run(tmp_path, "run1", usage(**CALLS))
    result = rate(usage(**CALLS, record_key=["r1", "r2", "r3"]), catalog(), "run1")
    with monkeypatch.context() as patched:
        crashing_on(patched, "_write_manifest")
        with pytest.raises(OSError):
            warehouse.write_run(result.stored_tables(), tmp_path, "run1")
    assert warehouse.recover(tmp_path) == [] and not (tmp_path / ".staging").exists()
    assert query(tmp_path, "select count(*), sum(net_amount) from invoice_lines") == [(2, Decimal("0.15"))]
    assert query(tmp_path, "select count(*) from rated_usage") == [(2,)]


def test_re_running_run_r1_leaves_run_r10s_files_alone(tmp_path):
    stored_run(tmp_path, "r10", usage(**CALLS))
    stored_run(tmp_path, "r1", usage(**CALLS, record_key=["a", "b", "c"]))
    stored_run(tmp_path, "r1", usage(**CALLS, record_key=["a", "b", "c"]))
    assert query(tmp_path, "select run_id, count(*) from rated_usage group by 1 order by 1") == [("r1", 2), ("r10", 2)]


def test_one_rating_run_at_a_time_holds_the_warehouse(tmp_path):
    """A second process waits for the rating lock until the first lets go (flows/rate_usage.py holds it for a whole run)."""
    script = (
        "import sys\nfrom pathlib import Path\nfrom pipeline.io import warehouse\n"
        "print('waiting', flush=True)\nwith warehouse.locked(Path(sys.argv[1])):\n    print('got it', flush=True)\n"
    )
    with warehouse.locked(tmp_path):
        child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "waiting\n"
        time.sleep(0.5)
        assert child.poll() is None  # still waiting
    assert child.stdout.readline() == "got it\n"
    assert child.wait(timeout=30) == 0


def test_every_rebuild_of_the_analyst_database_waits_for_the_one_under_way(tmp_path):
    """The analyst database is one DuckDB file: a rating run's file-ledger views and a billing run's
    rebuild at once failed with DuckDB's file lock (sink audit). Every rebuild holds .views.lock."""
    import threading

    from pipeline.io import views
    from pipeline.io.locks import exclusive

    views.publish(tmp_path)
    done = threading.Event()
    with exclusive(tmp_path / ".views.lock"):  # a rebuild under way
        worker = threading.Thread(target=lambda: (views.publish(tmp_path), done.set()))
        worker.start()
        time.sleep(0.5)
        assert not done.is_set()
    worker.join(timeout=30)
    assert done.is_set()


def test_an_analyst_holding_the_database_open_never_stops_a_rebuild(tmp_path):
    """A read-only client polling analytics.duckdb made the rebuild's read-write connection fail
    with "Could not set lock on file" (flow audit): the new database is built beside it and
    renamed over it, so the reader keeps the old views and the next connection sees the new."""
    views.publish(tmp_path)
    result = rate(usage(subscriber_id=["4331681272420"]), catalog(), "run1")
    warehouse.write_run(result.stored_tables(), tmp_path, "run1")
    reader = duckdb.connect(str(tmp_path / warehouse.ANALYTICS_DB), read_only=True)
    try:
        assert reader.sql("SELECT count(*) FROM invoice_lines").fetchall() == [(0,)]
        views.publish(tmp_path)
        assert reader.sql("SELECT count(*) FROM invoice_lines").fetchall() == [(0,)]  # its own snapshot of the views
    finally:
        reader.close()
    fresh = duckdb.connect(str(tmp_path / warehouse.ANALYTICS_DB), read_only=True)
    try:
        assert fresh.sql("SELECT count(*) FROM invoice_lines").fetchall() == [(1,)]
    finally:
        fresh.close()


# --- the per-record detail stored a part at a time ----------------------------------------------

#: Five rated calls in two periods given out of order (October, September, October, ...), one unassigned.
PARTED = dict(
    subscriber_id=["4331681272420", "4930123450", "4331681272420", "4930123450", "4331681272420", "0000"],
    start_time=[at(t) for t in ("2026-10-01 10:00:00", "2026-09-30 10:00:00", "2026-10-02 10:00:00", "2026-09-01 10:00:00",
                                "2026-10-03 10:00:00", "2026-10-04 10:00:00")],
    duration_s=[61, 30, 5, 120, 59, 5],
)  # fmt: skip


def test_the_detail_stored_in_parts_is_the_detail_built_whole_in_files_of_at_most_the_part_rows(tmp_path):
    result = rate(usage(**PARTED), catalog(), "run1")
    parts = detail.rated_usage_parts(result.con, result.priced_batch, "run1", result.priced, rows=2)
    rows = warehouse.write_run({"rated_usage": warehouse.Parts(parts)}, tmp_path, "run1")
    files = sorted(str(f.relative_to(tmp_path / "rated_usage")) for f in (tmp_path / "rated_usage").rglob("*.parquet"))
    assert (rows, files) == (
        {"rated_usage": 5},
        ["period=2026-09/run-run1_0.parquet", "period=2026-10/run-run1_0.parquet", "period=2026-10/run-run1_1.parquet"],
    )
    assert [pl.read_parquet(tmp_path / "rated_usage" / f).get_column("source_line").to_list() for f in files] == [[2, 4], [1, 3], [5]]
    stored = pl.read_parquet(tmp_path / "rated_usage", hive_partitioning=True).sort("period", "source_line")
    whole = result.rated_usage().sort("period", "source_line")
    assert_frame_equal(stored.select(whole.columns), whole, check_dtypes=False)  # the period comes back as hive text


@pytest.mark.parametrize(
    ("months", "rows", "spans"),
    [
        ([24320, 24320, 24320, 24321, 24321], 2, [(0, 2), (2, 1), (3, 2)]),
        ([24320, 24320, 24320, 24321, 24321], 5, [(0, 3), (3, 2)]),
        ([24320, 24320, 24320, 24321, 24321], None, [(0, 5)]),
        ([], 2, [(0, 0)]),  # no rated record: one empty part, so the table's schema is there
    ],
)
def test_the_detail_parts_lie_within_a_period_and_hold_at_most_the_part_rows(months, rows, spans):
    assert detail._spans(pl.Series(months, dtype=pl.Int32), rows) == spans


def test_a_run_stores_its_detail_a_part_at_a_time_unless_it_was_built_whole_already(tmp_path):
    result = rate(usage(**PARTED), catalog(), "run1")
    assert not isinstance(result.stored_tables()["rated_usage"].frames, list)  # made as it is written
    whole = result.rated_usage()
    assert result.stored_tables()["rated_usage"].frames == [whole]  # not made a second time


def _two_releases(root, layout):
    """Stored files of two releases: (path under `root`, columns) each, every one of them readable."""
    for path, columns in layout:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        duckdb.sql(f"SELECT {columns}").write_parquet(str(root / path))


@pytest.mark.parametrize(
    ("layout", "query"),
    [
        # a later release's column, read over an earlier release's file that lacks it: DuckDB names both files
        ([("unassigned/run-a.parquet", "'u1' AS record_key, 'late' AS note"), ("unassigned/run-b.parquet", "'u2' AS record_key")],
         "SELECT note FROM read_parquet('{root}/unassigned/*.parquet')"),
        # the same of two committed billing runs (whose files are never written again: "restore it from a backup")
        ([("billing/runs/period-2026-11/billing_history.parquet", "'C1' AS contract_id, 'p' AS position_kind"),
          ("billing/runs/period-2026-10/billing_history.parquet", "'C1' AS contract_id")],
         "SELECT position_kind FROM read_parquet(['{root}/billing/runs/period-2026-11/billing_history.parquet', "
         "'{root}/billing/runs/period-2026-10/billing_history.parquet'])"),
    ],
    ids=["rating-table", "billing-table"],
)
def test_an_error_naming_stored_files_that_read_well_is_not_an_unreadable_file(tmp_path, layout, query):
    """Every file DuckDB's message names reads whole: the error is not about a file cut short or overwritten,
    so it goes on as it is (a traceback), not as 'stored file … cannot be read: restore it from a backup'."""
    _two_releases(tmp_path, layout)
    with pytest.raises(duckdb.InvalidInputException) as raised:
        with warehouse.reading(tmp_path):
            duckdb.sql(query.format(root=tmp_path)).fetchall()
    assert str(tmp_path) in str(raised.value)  # DuckDB did name the files


def test_an_unreadable_file_named_twice_by_duckdb_is_counted_once(tmp_path):
    """DuckDB's message names a file it cannot read as often as it likes: no '(N more stored files cannot be read)' for it."""
    _two_releases(tmp_path, [("unassigned/run-a.parquet", "'u1' AS record_key")])
    cut = tmp_path / "unassigned" / "run-a.parquet"
    cut.write_bytes(cut.read_bytes()[:10])
    error = duckdb.InvalidInputException(f'Invalid Input Error: Failed to read file "{cut}": file "{cut}" is too small')
    found = warehouse.unreadable(error, tmp_path)
    assert str(found).startswith(f"stored file {cut} cannot be read (Failed to read file")
    assert "more stored files" not in str(found)


@pytest.mark.parametrize("folder", ["wh", "o'brien wh"], ids=["plain", "with-a-quote"])
def test_a_cut_file_duckdb_names_is_found_in_a_warehouse_whose_path_holds_a_quote(tmp_path, folder):
    """DuckDB quotes the file it cannot read with '…': a warehouse path with a ' in it is cut there, naming
    no file; the footers are read then, and the file is found all the same."""
    root = tmp_path / folder
    _two_releases(root, [("unassigned/run-a.parquet", "'u1' AS record_key")])
    cut = root / "unassigned" / "run-a.parquet"
    cut.write_bytes(cut.read_bytes()[:10])
    with pytest.raises(warehouse.UnreadableFile, match="^stored file .* cannot be read") as raised:
        with warehouse.reading(root):
            duckdb.sql("SELECT * FROM read_parquet('" + str(cut).replace("'", "''") + "')").fetchall()
    assert str(raised.value).startswith(f"stored file {cut} cannot be read (File '{cut}' too small to be a Parquet file)")


def _footer_overwritten(path) -> None:
    """16 bytes in the middle of the file's footer overwritten: its length and end marker (PAR1) are intact."""
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - length // 2
    data[start : start + 16] = bytes(b ^ 0x5A for b in data[start : start + 16])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("reader", "read"),
    [
        ("pyarrow (PostgreSQL's read-back)", lambda root: list(warehouse.stored_run(root, "run1", in_parts=("rated_usage",))["rated_usage"])),
        ("DuckDB (views, billing, cost-control)", lambda root: _duckdb_read(root)),
        ("Polars (duplicate detection)", lambda root: warehouse.seen_record_keys(root, except_run="x")),
    ],
    ids=["pyarrow", "duckdb", "polars"],
)
def test_a_stored_file_whose_footer_was_overwritten_is_named(tmp_path, reader, read):
    """A footer overwritten in its middle (not cut short: its end marker is there) made pyarrow raise OSError
    ("Couldn't deserialize thrift") and DuckDB its plain Error ("don't know what type"), neither of which
    `reading` looked at: a traceback instead of the message naming the file."""
    stored_run(tmp_path, "run1", usage(**CALLS))
    path = next((tmp_path / "rated_usage").rglob("*.parquet"))
    _footer_overwritten(path)
    with pytest.raises(warehouse.UnreadableFile, match=f"^stored file {path} cannot be read"):
        read(tmp_path)


def _duckdb_read(root):
    with warehouse.reading(root):
        duckdb.sql(f"SELECT * FROM read_parquet('{root}/rated_usage/**/*.parquet')").fetchall()


#: A rated record as the release before free quantities (c46778f) stored it: no band, free_quantity,
#: price_ref, tier, tier_before or fee; its amount is round(quantity × price / price_per).
OLDER_RATED = {
    "run_id": ["old"], "record_key": ["k1"], "source": ["asterisk"], "source_file": ["Master.csv"], "source_line": [2],
    "contract_id": ["V-1001"], "customer_id": ["C001"], "tariff_id": ["T-MIN"], "id_type": ["e164"],
    "subscriber_id": ["4331681272420"], "matched_id": ["43316812724"], "match_kind": ["prefix"], "counterparty": ["4366412345"],
    "start_time": [at("2026-10-01 10:00:00")], "duration_s": [61], "volume_bytes": [None], "article_key": ["voice"],
    "billable": [True], "zone_id": ["AT-MOB"], "article_id": ["A-MOB"], "unit": ["second"], "quantity": [120],
    "price": [Decimal("0.089000")], "price_per": [60], "price_source": ["tariff"], "amount": [Decimal("0.178000")],
}  # fmt: skip
#: A usage invoice line as that release stored it: no tariff_id, free_quantity or vat_code.
OLDER_LINE = {
    "run_id": ["old"], "contract_id": ["V-1001"], "customer_id": ["C001"], "article_id": ["A-MOB"], "article_name": ["Mobile"],
    "unit": ["second"], "records": [1], "quantity": [120], "net_amount": [Decimal("0.18")], "vat_rate": [Decimal("0.2000")],
    "currency": ["EUR"],
}  # fmt: skip


def older_run(root, tables: dict[str, dict]) -> None:
    """Run `old` as the older release stored it: `tables` (name → columns), period tables in October 2026, and its runs row."""
    for name, columns in {**tables, "runs": {"run_id": ["old"], "started_at": [at("2026-10-02 00:00:00")],
                                            "finished_at": [at("2026-10-02 00:01:00")], "input_files": [1],
                                            "input_records": [1], "net_amount": [Decimal("0.18")]}}.items():  # fmt: skip
        folder = root / name / ("period=2026-10" if name in warehouse.PERIOD_TABLES else "")
        folder.mkdir(parents=True, exist_ok=True)
        stored = pl.from_arrow(warehouse.SCHEMAS[name].empty_table()).schema  # the types that release stored them in
        frame = pl.DataFrame(columns, schema={c: stored[c] for c in columns})
        frame.write_parquet(folder / (f"run-old{'_0' if name in warehouse.PERIOD_TABLES else ''}.parquet"))


def test_an_older_releases_rated_usage_is_read_with_what_its_columns_meant(tmp_path):
    """A rated_usage file written before free quantities were stored made PostgreSQL's catch-up (stored_run) and a
    re-rating's or re-run's billed check (rated_amounts) fail on the missing column (KeyError, ColumnNotFound);
    that release granted no free units, bands, tiers or fees, and recorded no price row."""
    older_run(tmp_path, {"rated_usage": OLDER_RATED})
    part = next(warehouse.stored_run(tmp_path, "old", in_parts=("rated_usage",))["rated_usage"])
    added = ["period", "band", "free_quantity", "price_ref", "tier", "tier_before", "fee", "amount"]
    assert part.schema == warehouse.SCHEMAS["rated_usage"]
    assert part.select(added).to_pylist() == [
        {"period": "2026-10", "band": None, "free_quantity": 0, "price_ref": "", "tier": None, "tier_before": None,
         "fee": Decimal("0.000000"), "amount": Decimal("0.178000")},
    ]  # fmt: skip
    assert warehouse.rated_amounts(tmp_path, "old").rows() == [("k1", "V-1001", Decimal("0.178000"), 0)]


@pytest.mark.parametrize(
    ("read", "missing"),
    [
        (lambda root: warehouse.stored_run(root, "old")["invoice_lines"], "tariff_id, vat_code"),  # PostgreSQL's catch-up
        (lambda root: warehouse.carried_usage(root, "later", ["2026-10"]), "tariff_id"),  # a later run's free units and tiers
    ],
    ids=["stored_run", "carried_usage"],
)
def test_an_older_releases_invoice_lines_are_named_with_what_to_do(tmp_path, read, missing):
    """An older release's invoice line summed a contract's article over its tariffs and had no VAT code: a reader
    needing them stopped on a ColumnNotFound traceback; now the file is named, and the re-rating that writes it anew."""
    older_run(tmp_path, {"invoice_lines": OLDER_LINE})
    with pytest.raises(warehouse.UnreadableFile) as raised:
        read(tmp_path)
    assert str(raised.value) == (
        f"stored file {tmp_path}/invoice_lines/period=2026-10/run-old_0.parquet was written by an older release, without "
        f"{missing}: make run old's tables again from its stored records: `rating rerate --run old` (with --allow-billed if "
        "it was billed), then run this command again (docs/warehouse.md)"
    )


def test_the_re_rating_of_an_older_run_carries_no_units_of_its_own_older_lines(tmp_path):
    """`rating rerate --run old`, the way out named above, reads the period's lines of the runs before it only."""
    older_run(tmp_path, {"invoice_lines": OLDER_LINE})
    assert warehouse.carried_usage(tmp_path, "old", ["2026-10"]).height == 0


@pytest.mark.parametrize(
    ("newer", "rated", "lines"),
    [
        # only the older release's files: the columns they lack were not in the views at all (a Binder Error)
        (False, [("old", None, 0, "", None, Decimal("0.000000"))], [("old", None, 0, None)]),
        # read with a newer run's files: they were NULL, so quantity - free_quantity was too
        (True, [("old", None, 0, "", None, Decimal("0.000000")), ("run1", None, 0, "prices:T-MIN", None, Decimal("0.000000"))],
         [("old", None, 0, None), ("run1", "T-MIN", 0, "normal")]),
    ],
    ids=["older-only", "with-newer"],
)
def test_the_views_read_an_older_releases_files_as_what_their_columns_meant(tmp_path, newer, rated, lines):
    older_run(tmp_path, {"rated_usage": OLDER_RATED, "invoice_lines": OLDER_LINE})
    if newer:
        stored_run(tmp_path, "run1", usage(subscriber_id=["4331681272420"], duration_s=[61]))
    views.publish(tmp_path)
    assert query(tmp_path, "SELECT run_id, band, free_quantity, price_ref, tier, fee FROM rated_usage ORDER BY run_id") == rated
    assert query(tmp_path, "SELECT run_id, tariff_id, free_quantity, vat_code FROM invoice_lines ORDER BY run_id") == lines


def _page_overwritten(path) -> None:
    """16 bytes of every column chunk's first data page overwritten, from its header on: the footer is intact."""
    meta = pq.ParquetFile(path).metadata
    starts = [meta.row_group(g).column(c).data_page_offset for g in range(meta.num_row_groups) for c in range(meta.num_columns)]
    data = bytearray(path.read_bytes())
    for start in starts:
        data[start + 2 : start + 18] = bytes(b ^ 0x5A for b in data[start + 2 : start + 18])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("read", "said"),
    [
        (lambda root: list(warehouse.stored_run(root, "run1", in_parts=("rated_usage",))["rated_usage"]),
         "Couldn't deserialize thrift: don't know what type: \x0f"),
        (lambda root: _duckdb_read(root), "don't know what type: \x0f"),
        (lambda root: warehouse.seen_record_keys(root, except_run="x"), "parquet: File out of specification: Invalid thrift: bad data"),
    ],
    ids=["pyarrow", "duckdb", "polars"],
)
def test_a_stored_file_whose_data_page_was_overwritten_is_named(tmp_path, read, said):
    """A data page overwritten, the footer intact: no reader names the file and every footer reads, so
    `reading` found no file to blame (and took pyarrow's OSError for the system's): a traceback."""
    stored_run(tmp_path, "run1", usage(**CALLS))
    path = next((tmp_path / "rated_usage").rglob("*.parquet"))
    _page_overwritten(path)
    with pytest.raises(warehouse.UnreadableFile) as raised:
        read(tmp_path)
    assert str(raised.value).startswith(f"stored file {path} cannot be read ({said}")


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (OSError("Couldn't deserialize thrift: don't know what type: \x0f"), True),  # pyarrow's: no errno
        (OSError(errno.ENOSPC, "No space left on device"), False),  # the system's: about no stored file
    ],
    ids=["pyarrow", "system"],
)
def test_an_oserror_naming_no_file_is_blamed_on_a_stored_file_only_when_it_is_a_readers(tmp_path, error, named):
    stored_run(tmp_path, "run1", usage(**CALLS))
    _page_overwritten(next((tmp_path / "rated_usage").rglob("*.parquet")))
    assert (warehouse.unreadable(error, tmp_path) is not None) == named


#: What to do about a stored file the user running rating may not open.
PERMISSION = "permission denied: let the user running rating read it (`ls -l` shows its owner and mode), then run the command again"


@pytest.mark.parametrize(
    ("said", "opening", "todo"),
    [
        ("the reader's PermissionError", "works", PERMISSION),  # Polars, pyarrow: the reader says so
        ("another error", "refused", PERMISSION),  # DuckDB's IOException, or an error about another file
        ("no error", "refused", PERMISSION),
        ("another error", "works", None),  # a damaged file: the caller's own advice
        ("no error", "fails otherwise", None),  # gone meanwhile
    ],
)
def test_permission_denied_is_one_rule_for_every_reader(tmp_path, monkeypatch, said, opening, todo):
    """warehouse.permission_denied: what the warehouse's and the file ledger's messages say of a file the user
    running rating may not open (one helper; the file ledger looked at the reader's error alone)."""
    path = tmp_path / "stored.parquet"
    path.write_bytes(b"PAR1")
    real = Path.open

    def opened(self, *args, **kwargs):
        if self == path and opening == "refused":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        if self == path and opening == "fails otherwise":
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", opened)
    error = {"the reader's PermissionError": PermissionError(f"Permission denied (os error 13): {path}"),
             "another error": pl.exceptions.ComputeError("parquet: File out of specification"), "no error": None}[said]  # fmt: skip
    assert warehouse.permission_denied(path, error) == todo


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (lambda f: duckdb.IOException(f'IO Error: Cannot open file "{f}": Permission denied'), 'Cannot open file "{f}": Permission denied'),
        (lambda f: PermissionError(f"Permission denied (os error 13): {f}"), "Permission denied (os error 13): {f}"),  # Polars: no errno
        (lambda f: PermissionError(errno.EACCES, f"Failed to open local file '{f}'. Detail: [errno 13] Permission denied"),
         "[Errno 13] Failed to open local file '{f}'. Detail: [errno 13] Permission denied"),  # pyarrow
    ],
    ids=["duckdb", "polars", "pyarrow"],
)
def test_a_stored_file_the_user_may_not_open_is_named_with_permission_denied(tmp_path, monkeypatch, error, said):
    """A stored file of another owner or mode 000 (or on a file server that maps root to nobody): each reader's error as
    it says it (as the user nobody), and opening the file refused (monkeypatched: root opens any file). The message said
    'restore it from a backup' of a file that is whole; now: permission denied, and to let the user read it."""
    stored_run(tmp_path, "run1", usage(**CALLS))
    path = tmp_path / "unassigned" / "run-run1.parquet"
    opening = Path.open

    def refused(self, *args, **kwargs):
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return opening(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refused)
    assert str(warehouse.unreadable(error(path), tmp_path)) == f"stored file {path} cannot be read ({said.format(f=path)}): {PERMISSION}"


#: What to do about a stored folder the user running rating may not list.
FOLDER_PERMISSION = ("permission denied: let the user running rating list and enter it (`ls -ld` shows its owner and mode), "
                     "then run the command again")


def listing_refused(monkeypatch, folder: Path) -> None:
    """Listing `folder` refused, as for a user who may not read it (mode 000, another owner); monkeypatched: the
    tests run as root, who lists any folder. pathlib's glob and os.walk list with os.scandir."""
    scandir = os.scandir

    def refused(path="."):
        if isinstance(path, (str, os.PathLike)) and Path(path) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refused)


def _billed_usage(root: Path) -> list[tuple]:
    """The rated usage `rating bill` reads (billing_store.register_state)."""
    con = duckdb.connect()
    try:
        with warehouse.reading(root):  # as the billing run reads them
            billing_store.register_state(con, root)
            return con.sql("SELECT count(*), sum(quantity) FROM rated_usage").fetchall()
    finally:
        con.close()


#: Every reader of the stored folders, by command, and a folder whose files it reads.
FOLDER_READERS = [
    pytest.param(lambda root: warehouse.seen_record_keys(root, except_run="run2"), "rated_usage/period=2026-10", id="run-duplicates-period"),
    pytest.param(lambda root: warehouse.seen_record_keys(root, except_run="run2"), "rated_usage", id="run-duplicates-table"),
    pytest.param(lambda root: warehouse.carried_usage(root, "run2", ["2026-10"]), "invoice_lines/period=2026-10", id="run-carry-in"),
    pytest.param(lambda root: warehouse.run_starts(root), "runs", id="run-starts"),
    pytest.param(lambda root: warehouse.run_periods(root), "unassigned", id="rerate-periods"),
    pytest.param(lambda root: warehouse.rated_amounts(root, "run1"), "rated_usage/period=2026-10", id="rerate-amounts"),
    pytest.param(_billed_usage, "rated_usage/period=2026-10", id="bill"),
    pytest.param(views.publish, "invoice_lines/period=2026-10", id="views"),
]


@pytest.mark.parametrize(("read", "folder"), FOLDER_READERS)
def test_a_stored_folder_that_cannot_be_listed_is_named_with_permission_denied(tmp_path, monkeypatch, read, folder):
    """A table or period folder of another owner or mode 000: pathlib's glob (and DuckDB's) skip it without a word,
    so its records vanished from what the command read (a duplicate rated twice, a bill without that usage)."""
    stored_run(tmp_path, "run1", usage(**CALLS))
    listing_refused(monkeypatch, tmp_path / folder)
    with pytest.raises(warehouse.UnreadableFile) as raised:
        read(tmp_path)
    assert str(raised.value) == f"stored folder {tmp_path / folder} cannot be listed (Permission denied): {FOLDER_PERMISSION}"


def test_a_stored_folder_that_does_not_exist_yet_is_read_as_empty(tmp_path):
    """No run stored yet: no folder, no error."""
    assert warehouse.seen_record_keys(tmp_path, except_run="run1").height == 0
    assert warehouse.carried_usage(tmp_path, "run1", ["2026-10"]).height == 0
    assert warehouse.run_starts(tmp_path).height == 0
    assert _billed_usage(tmp_path) == [(0, None)]


def test_a_folder_below_one_that_cannot_be_entered_names_that_one(tmp_path, monkeypatch):
    """The warehouse itself of mode 000: listing its table folders is refused, but the folder to let the user into is
    the warehouse (entering a folder is looking up "." in it; refused, monkeypatched, as listing the table folder)."""
    stored_run(tmp_path, "run1", usage(**CALLS))
    listing_refused(monkeypatch, tmp_path / "rated_usage")
    stat = os.stat

    def refused(path, *args, **kwargs):
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) == os.path.join(tmp_path, os.curdir):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refused)
    with pytest.raises(warehouse.UnreadableFile) as raised:
        warehouse.seen_record_keys(tmp_path, except_run="run2")
    assert str(raised.value) == f"stored folder {tmp_path} cannot be listed (Permission denied): {FOLDER_PERMISSION}"


@pytest.mark.parametrize(
    "read",
    [lambda root: warehouse.seen_record_keys(root, except_run="x"), _billed_usage],
    ids=["polars (duplicate detection)", "duckdb (bill)"],
)
def test_an_error_naming_no_file_blames_a_file_the_command_read_before_one_it_did_not(tmp_path, read):
    """A data page of a rated_usage file overwritten, and the footer of an invoice_lines file, which neither reader
    reads: the reader's error names no file, and the search of the whole warehouse blamed the invoice_lines file
    (a footer that cannot be read is looked for first, in every table): restored, the command failed again."""
    stored_run(tmp_path, "run1", usage(**CALLS))
    rated = next((tmp_path / "rated_usage").rglob("*.parquet"))
    _page_overwritten(rated)
    _footer_overwritten(next((tmp_path / "invoice_lines").rglob("*.parquet")))
    with pytest.raises(warehouse.UnreadableFile) as raised:
        read(tmp_path)
    assert str(raised.value).startswith(f"stored file {rated} cannot be read (")
