"""The PostgreSQL sink against a real throwaway cluster: exact money, whole-run replacement, rollback."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import polars as pl
import pyarrow as pa
import pytest

from pipeline.io.postgres import (
    PostgresError,
    PostgresUnavailable,
    PostgresWriteError,
    ensure_schema,
    read_table,
    redacted,
    stored_schemas,
    write_run,
)
from schemas.outputs import TABLES

UTC = timezone.utc
T0 = datetime(2025, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
T1 = datetime(2025, 2, 1, 0, 0, 0, 1, tzinfo=UTC)

#: Nothing listens on port 1 of the loopback: connecting fails at once.
UNREACHABLE = "postgresql://bob:s3cret@127.0.0.1:1/billing"


def usage(run_id: str) -> dict[str, list]:
    """Two canonical usage records (a call and a traffic record), with NULLs where allowed."""
    return {
        "run_id": [run_id, run_id],
        "record_key": ["k1", "k2"],
        "source": ["cdr", "ipdr"],
        "source_file": ["in/a.csv", "in/b.csv"],
        "source_line": [2, 3],
        "id_type": ["phone", "ipv4"],
        "subscriber_id": ["4331681272420", "167.112.17.42"],
        "counterparty": ["4989123", None],
        "start_time": [T0, T1],
        "duration_s": [61, None],
        "volume_bytes": [None, 1_000_000_000_000],
        "article_key": ["CALL-DE", "TRAFFIC"],
        "billable": [True, False],
    }


def tables(run_id: str) -> dict[str, dict[str, list]]:
    """One literal dict-of-lists per stored table, every money edge case included."""
    return {
        "invoice_lines": {
            "run_id": [run_id] * 5,
            "period": ["2025-01"] * 5,
            "contract_id": ["C1", "C1", "C2", "C2", "C3"],
            "customer_id": ["K1", "K1", "K2", "K2", "K3"],
            "article_id": ["A1", "A2", "A1", "A2", "A1"],
            "article_name": ["Basic fee", "Calls", "Basic fee", "Credit", "Größe €"],
            "unit": ["month", "second", "month", "piece", "month"],
            "records": [1, 2, 1, 1, 0],
            "quantity": [1, 122, 1, 1, 0],
            "net_amount": [Decimal("12345678.99"), Decimal("-0.01"), Decimal("0.00"),
                           Decimal("9999999999999999.99"), Decimal("-9999999999999999.99")],
            "vat_rate": [Decimal("0.1900"), Decimal("0.0000"), Decimal("99.9999"), Decimal("-99.9999"), Decimal("0.0700")],
            "currency": ["EUR"] * 5,
            "tariff_id": ["T1", "T1", "T2", "T2", "T1"],
            "free_quantity": [0, 60, 0, 0, 0],
            "vat_code": ["normal", "reverse_charge", "normal", "normal", "exempt"],
        },
        "rated_usage": {
            "run_id": [run_id] * 6,
            "period": ["2025-01"] * 6,
            "record_key": ["r1", "r2", "r3", "r4", "r5", "r6"],
            "source": ["cdr"] * 6,
            "source_file": ["in/a.csv"] * 6,
            "source_line": [2, 3, 4, 5, 6, 7],
            "contract_id": ["C1"] * 6,
            "customer_id": ["K1"] * 6,
            "tariff_id": ["T1"] * 6,
            "id_type": ["phone"] * 6,
            "subscriber_id": ["4331681272420"] * 6,
            "matched_id": ["43316812724"] * 6,
            "match_kind": ["prefix"] * 6,
            "counterparty": ["4989123", None, "1", None, "2", "3"],
            "start_time": [T0, T1, T0, T1, T0, T1],
            "duration_s": [61, None, 1, None, 2, 3],
            "volume_bytes": [None, 5, None, 6, None, None],
            "article_key": ["voice", "data", "voice", "data", "voice", "voice"],
            "billable": [True] * 6,
            "zone_id": ["DE", None, "DE", None, "AT", "CH"],
            "article_id": ["A2"] * 6,
            "unit": ["second"] * 6,
            "quantity": [61, 1, 1, 1, 1, 1],
            # 5000000000.000001 and 44.123456: values ADBC's own NUMERIC encoder has corrupted
            # (apache/arrow-adbc#4507, #3485); they must survive our path exactly.
            "price": [Decimal("0.000001"), Decimal("999999999999.999999"), Decimal("-999999999999.999999"),
                      Decimal("5000000000.000001"), Decimal("44.123456"), Decimal("0.000000")],
            "price_per": [1, 1, 1, 1, 100, 60],
            "price_source": ["list"] * 6,
            "amount": [Decimal("0.000061"), Decimal("-0.01"), Decimal("12345678.99"),
                       Decimal("5000000000.000001"), Decimal("0.441235"), Decimal("100000000.000000")],
            "band": ["peak", None, "offpeak", None, None, "holiday"],
            "free_quantity": [60, 0, 1, 0, 0, 0],
            "price_ref": ["prices:T1"] * 6,
            "tier": [None, 1, None, 2, None, None],
            "tier_before": [None, 0, None, 1000, None, None],
            "fee": [Decimal("0.100000"), Decimal("0.000000"), Decimal("-0.000001"), Decimal("0"), Decimal("0"), Decimal("0")],
        },
        "rejects": {
            "run_id": [run_id, run_id],
            "source_file": ["in/a.csv", "in/a.csv"],
            "source_line": [9, 10],
            "column": ["start_time", "duration_s"],
            "value": [None, "-5"],
            "rule": ["required", "non_negative"],
            "reason": ["start_time is empty", "duration_s must be >= 0"],
            "raw": ["k9;;", None],
        },
        "unassigned": {**usage(run_id), "reason": ["no contract has this ID", "ID outside its validity"]},
        "unrateable": {**usage(run_id), "contract_id": ["C1", "C2"], "reason": ["no price", "no article key"]},
        "duplicates": {**usage(run_id), "first_seen_run": ["run-0", None]},
        "non_billable": usage(run_id),
        "ledger": {
            "run_id": [run_id, run_id],
            "outcome": ["rated", "rejected"],
            "records": [6, 2],
            "duration_s": [68, 0],
            "volume_bytes": [11, 0],
        },
        "runs": {
            "run_id": [run_id],
            "started_at": [T0],
            "finished_at": [T1],
            "input_files": [2],
            "input_records": [14],
            "net_amount": [Decimal("-0.01")],
        },
    }


def arrow(name: str, columns: dict[str, list]) -> pa.Table:
    return pa.Table.from_pydict(columns, schema=TABLES[name])


def stored(url: str, name: str, run_id: str | None = None) -> list[dict]:
    """The stored rows, sorted so that comparisons do not depend on the server's order."""
    table = read_table(url, name, run_id)
    assert table.schema.equals(TABLES[name])
    return sorted(table.to_pylist(), key=repr)


def rows(name: str, columns: dict[str, list]) -> list[dict]:
    return sorted(arrow(name, columns).to_pylist(), key=repr)


@pytest.fixture(scope="module")
def url(postgres_url: str) -> str:
    ensure_schema(postgres_url)
    ensure_schema(postgres_url)  # idempotent
    return postgres_url


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(TABLES))
def test_schema_sql_matches_arrow_schemas(url: str, name: str) -> None:
    schemas = stored_schemas(url)
    assert sorted(schemas) == sorted(TABLES)
    assert schemas[name].equals(TABLES[name]), (
        f"sql/postgres/schema.sql {name}:\n{schemas[name]}\n!= schemas/outputs.py:\n{TABLES[name]}"
    )


@pytest.fixture(scope="module")
def round_trip(url: str) -> dict[str, int]:
    """Rows written per table by one write of every table for run `round-trip`."""
    return write_run(url, "round-trip", {n: arrow(n, c) for n, c in tables("round-trip").items()})


@pytest.mark.postgres
def test_write_run_counts_rows_per_table(round_trip: dict[str, int]) -> None:
    assert round_trip == {n: len(c["run_id"]) for n, c in tables("round-trip").items()}


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(TABLES))
def test_run_round_trips_exactly(url: str, round_trip: dict[str, int], name: str) -> None:
    assert stored(url, name, "round-trip") == rows(name, tables("round-trip")[name])


@pytest.mark.postgres
def test_money_values_are_stored_exactly_as_numeric(url: str) -> None:
    write_run(url, "money", {"invoice_lines": arrow("invoice_lines", tables("money")["invoice_lines"])})
    got = read_table(url, "invoice_lines", "money")
    assert sorted(got["net_amount"].to_pylist()) == [
        Decimal("-9999999999999999.99"), Decimal("-0.01"), Decimal("0.00"), Decimal("12345678.99"), Decimal("9999999999999999.99"),
    ]
    assert sorted(got["vat_rate"].to_pylist()) == [
        Decimal("-99.9999"), Decimal("0.0000"), Decimal("0.0700"), Decimal("0.1900"), Decimal("99.9999"),
    ]


@pytest.mark.postgres
def test_rewriting_a_run_replaces_its_rows(url: str) -> None:
    first = tables("rerun")
    write_run(url, "rerun", {n: arrow(n, c) for n, c in first.items()})
    write_run(url, "rerun", {n: arrow(n, c) for n, c in first.items()})
    for name in TABLES:
        assert stored(url, name, "rerun") == rows(name, first[name]), name

    second = {
        "invoice_lines": {**{c: v[:1] for c, v in first["invoice_lines"].items()}, "net_amount": [Decimal("0.01")]},
        "rejects": {c: [] for c in first["rejects"]},
    }
    counts = write_run(url, "rerun", {n: arrow(n, c) for n, c in second.items()})
    assert counts == {"invoice_lines": 1, "rejects": 0}
    assert stored(url, "invoice_lines", "rerun") == rows("invoice_lines", second["invoice_lines"])
    assert stored(url, "rejects", "rerun") == []
    assert stored(url, "ledger", "rerun") == rows("ledger", first["ledger"])  # tables not given: untouched


@pytest.mark.postgres
def test_a_second_run_adds_rows(url: str) -> None:
    one, two = tables("add-1"), tables("add-2")
    write_run(url, "add-1", {n: arrow(n, c) for n, c in one.items()})
    write_run(url, "add-2", {n: arrow(n, c) for n, c in two.items()})
    assert stored(url, "rated_usage", "add-1") == rows("rated_usage", one["rated_usage"])
    assert stored(url, "rated_usage", "add-2") == rows("rated_usage", two["rated_usage"])
    everything = stored(url, "runs")
    assert [r for r in everything if r["run_id"] in ("add-1", "add-2")] == rows("runs", {
        c: one["runs"][c] + two["runs"][c] for c in one["runs"]
    })


def broken(name: str, run_id: str) -> dict[str, list]:
    """A table of run `run_id` the server refuses."""
    columns = tables(run_id)[name]
    if name == "rejects":  # NOT NULL violated
        return {**columns, "rule": [None, "non_negative"]}
    return {**columns, "outcome": ["rated", "rated"]}  # ledger: one row per outcome (unique index)


@pytest.mark.postgres
@pytest.mark.parametrize(("bad", "error"), [("rejects", "not-null"), ("ledger", "duplicate key")])
def test_a_failed_write_leaves_the_previous_state(url: str, bad: str, error: str) -> None:
    run_id = f"rollback-{bad}"
    before = tables(run_id)
    write_run(url, run_id, {n: arrow(n, c) for n, c in before.items()})

    changed = {"invoice_lines": {**before["invoice_lines"], "currency": ["CHF"] * 5}}  # written first, then undone
    with pytest.raises(PostgresWriteError, match=f"(?s)table rating.{bad}.*{error}.*Rolled back"):
        write_run(url, run_id, {**{n: arrow(n, c) for n, c in changed.items()}, bad: arrow(bad, broken(bad, run_id))})

    for name in TABLES:
        assert stored(url, name, run_id) == rows(name, before[name]), name


@pytest.mark.parametrize(
    ("name", "columns", "error", "match"),
    [
        ("invoices", {"run_id": ["r"]}, ValueError, "unknown table 'invoices'"),
        ("runs", {**tables("r")["runs"], "run_id": ["other"]}, ValueError, "1 rows have a run_id other than 'r'"),
        ("ledger", {c: v for c, v in tables("r")["ledger"].items() if c != "records"}, ValueError, r"missing columns \['records'\]"),
        ("runs", {**tables("r")["runs"], "net_amount": [0.1]}, TypeError, r"money columns \['net_amount'\] must be exact"),
        ("rated_usage", {**tables("r")["rated_usage"], "price": [Decimal("0.0000001")] * 6}, ValueError, "cannot be stored"),
    ],
)
def test_bad_tables_are_refused_before_connecting(name: str, columns: dict, error: type, match: str) -> None:
    table = pa.Table.from_pydict(columns)
    with pytest.raises(error, match=match):
        write_run(UNREACHABLE, "r", {name: table})


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(PostgresUnavailable, match=r"postgresql://bob:\*\*\*@127\.0\.0\.1:1/billing") as caught:
        ensure_schema(UNREACHABLE)
    assert "s3cret" not in str(caught.value)
    assert "Start the server" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:s3cret@db:5432/billing", "postgresql://bob:***@db:5432/billing"),
        ("postgresql://bob@db/billing", "postgresql://bob@db/billing"),
        ("postgresql://db/billing?user=bob&password=s3cret&sslmode=require", "postgresql://db/billing?user=bob&password=***&sslmode=require"),
        ("host=db user=bob password=s3cret dbname=billing", "host=db user=bob password=*** dbname=billing"),
    ],
)
def test_redacted_hides_the_password(url: str, shown: str) -> None:
    assert redacted(url) == shown


def database(postgres_url: str, name: str) -> str:
    """A new, empty database `name` on the session's cluster: its URL."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("ddl", "problem"),
    [
        ("ALTER TABLE rating.rated_usage DROP COLUMN free_quantity", "rating.rated_usage.free_quantity is missing (declared int64)"),
        ("ALTER TABLE rating.invoice_lines ALTER COLUMN net_amount TYPE numeric(18,1)",
         "rating.invoice_lines.net_amount is decimal128(18, 1), declared decimal128(18, 2)"),
        # a column an index of schema.sql names: its CREATE INDEX failed first, with the driver's error
        ("ALTER TABLE rating.invoice_lines DROP COLUMN customer_id", "rating.invoice_lines.customer_id is missing (declared string)"),
        ("ALTER TABLE rating.rated_usage ALTER COLUMN zone_id SET NOT NULL",
         "rating.rated_usage.zone_id is NOT NULL, declared nullable"),
    ],
    ids=["missing-column", "money-scale", "indexed-column", "not-null"],
)
def test_tables_of_an_older_release_are_refused_naming_each_column(postgres_url: str, ddl: str, problem: str) -> None:
    """The DDL creates only missing tables: a table of an older release would fail a write late, or round money."""
    refused = refusal_after(postgres_url, "older_release", ensure_schema, ddl)
    assert problem in refused and "migrate these columns (ALTER TABLE) or drop the tables" in refused


def refusal_after(postgres_url: str, name: str, ensure, ddl: str) -> str:
    """What `ensure` (a schema's ensure function) refuses, in a new database `name` whose tables it made
    and `ddl` then altered as an older release would have left them."""
    import psycopg

    url = database(postgres_url, name)
    ensure(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(ddl)
    with pytest.raises(PostgresError) as caught:
        ensure(url)
    return str(caught.value)


@pytest.mark.postgres
def test_runs_postgres_lacks_are_written_from_the_warehouse(postgres_url: str, tmp_path) -> None:
    """Run r1's write failed (the server was down); r2 was written. The next write of a run brings r1 in, row for row."""
    from pipeline.io import warehouse
    from pipeline.io.postgres import mirror_missing
    from pipeline.job import rate
    from tests.factory import catalog, usage as records

    for run_id, keys in (("r1", ["a", "b", "c"]), ("r2", ["d", "e", "f"])):
        result = rate(records(record_key=keys, subscriber_id=["4331681272420", "4930123450", "0000"]), catalog(), run_id)
        runs = pa.table({"run_id": [run_id], "started_at": [T0], "finished_at": [T1], "input_files": [1],
                         "input_records": [3], "net_amount": [Decimal("0.10")]}, schema=TABLES["runs"])  # fmt: skip
        warehouse.write_run(result.stored_tables(pl.from_arrow(runs)), tmp_path, run_id)
    url = database(postgres_url, "rating_catch_up")
    ensure_schema(url)
    write_run(url, "r2", warehouse.stored_run(tmp_path, "r2"))
    assert mirror_missing(url, tmp_path) == ["r1"]
    assert mirror_missing(url, tmp_path) == []
    for name in TABLES:
        got = sorted(read_table(url, name).to_pylist(), key=repr)
        expected = sorted([row for run_id in ("r1", "r2") for row in warehouse.stored_run(tmp_path, run_id)[name].to_pylist()], key=repr)
        assert got == expected, name
    assert [len(read_table(url, name, run_id="r1")) for name in ("invoice_lines", "rated_usage", "unassigned", "ledger", "runs")] == [2, 2, 1, 6, 1]


@pytest.mark.postgres
def test_a_run_postgres_holds_from_an_earlier_execution_is_written_again(postgres_url: str, tmp_path) -> None:
    """`rating run --reprocess` replaced run r1 in the warehouse but its own write failed (the
    server down): PostgreSQL kept r1's old rows for good, since only missing runs were caught up
    (warehouse audit). A run whose `runs` row finished at another time is written again."""
    from datetime import timedelta

    from pipeline.io import warehouse
    from pipeline.io.postgres import mirror_missing
    from pipeline.job import rate
    from tests.factory import catalog, usage as records

    def store(finished, subscribers: list[str]) -> None:
        result = rate(records(record_key=["a", "b"], subscriber_id=subscribers), catalog(), "r1")
        runs = pa.table({"run_id": ["r1"], "started_at": [T0], "finished_at": [finished], "input_files": [1],
                         "input_records": [2], "net_amount": [Decimal("0.10")]}, schema=TABLES["runs"])  # fmt: skip
        warehouse.write_run(result.stored_tables(pl.from_arrow(runs)), tmp_path, "r1")

    url = database(postgres_url, "rating_stale_run")
    ensure_schema(url)
    store(T1, ["4331681272420", "0000"])
    assert mirror_missing(url, tmp_path) == ["r1"]
    store(T1 + timedelta(minutes=5), ["4331681272420", "4331681272420"])  # re-run: both records rated now
    assert mirror_missing(url, tmp_path) == ["r1"]
    assert mirror_missing(url, tmp_path) == []
    assert read_table(url, "runs").column("finished_at").to_pylist() == [T1 + timedelta(minutes=5)]
    assert (len(read_table(url, "rated_usage")), len(read_table(url, "unassigned"))) == (2, 0)


@pytest.mark.postgres
def test_a_detail_stored_in_several_files_reaches_postgres_a_file_at_a_time_row_for_row(postgres_url: str, tmp_path) -> None:
    """Run r1's detail is stored in parts of 2 records (three files over two periods); PostgreSQL
    gets it read back a file at a time (stored_run in_parts), every row and amount as stored, and
    writing it again replaces it. A run with no rated record sends one empty part."""
    from pipeline.io import warehouse
    from pipeline.job import rate
    from pipeline.price import detail
    from tests.factory import at, catalog, usage as records

    starts = [at(t) for t in ("2026-10-01 10:00:00", "2026-09-30 10:00:00", "2026-10-02 10:00:00", "2026-10-03 10:00:00")]
    for run_id, subscriber in (("r1", "4331681272420"), ("r2", "0000")):
        result = rate(records(record_key=[f"{run_id}-{i}" for i in range(4)], subscriber_id=[subscriber] * 4, start_time=starts,
                              duration_s=[61, 30, 5, 59]), catalog(), run_id)  # fmt: skip
        tables = result.stored_tables()
        tables["rated_usage"] = warehouse.Parts(detail.rated_usage_parts(result.con, result.priced_batch, run_id, result.priced, rows=2))
        warehouse.write_run(tables, tmp_path, run_id)
    files = sorted(str(f.relative_to(tmp_path / "rated_usage")) for f in (tmp_path / "rated_usage").rglob("*.parquet"))
    assert files == ["period=2026-09/run-r1_0.parquet", "period=2026-10/run-r1_0.parquet", "period=2026-10/run-r1_1.parquet"]
    url = database(postgres_url, "rating_detail_parts")
    ensure_schema(url)
    for _ in range(2):
        written = {run_id: write_run(url, run_id, warehouse.stored_run(tmp_path, run_id, in_parts=("rated_usage",))) for run_id in ("r1", "r2")}
    assert (written["r1"]["rated_usage"], written["r2"]["rated_usage"]) == (4, 0)
    got = sorted(read_table(url, "rated_usage").select(["record_key", "period", "amount"]).to_pylist(), key=repr)
    assert got == [
        {"record_key": "r1-0", "period": "2026-10", "amount": Decimal("0.120000")},
        {"record_key": "r1-1", "period": "2026-09", "amount": Decimal("0.060000")},
        {"record_key": "r1-2", "period": "2026-10", "amount": Decimal("0.060000")},
        {"record_key": "r1-3", "period": "2026-10", "amount": Decimal("0.060000")},
    ]
    assert sorted(read_table(url, "rated_usage").to_pylist(), key=repr) == sorted(warehouse.stored_run(tmp_path, "r1")["rated_usage"].to_pylist(), key=repr)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("cut_after", "taken_keys"),
    [(1, ["r1-0", "r1-1", "r1-2", "r1-3"]), (2, ["r1-0", "r1-1", "r1-2", "r1-3", "r1-4", "r1-5"])],
    ids=["after-the-first-part", "after-the-second-part"],
)
def test_the_server_going_away_between_the_parts_of_the_detail_is_a_write_error_and_changes_nothing(postgres_url, tmp_path, cut_after, taken_keys):
    """Run r1's detail in three files of 2 records; the server ends the connection after `cut_after` of them
    were sent (a restart, a failover): the rollback on the dead connection failed with the driver's 'Failed to
    rollback: no connection to the server', which replaced the write error (a traceback, no message naming the
    table). The server dropped the transaction: PostgreSQL holds the run as written before."""
    import psycopg

    from pipeline.io import warehouse
    from pipeline.job import rate
    from pipeline.price import detail
    from tests.factory import at, catalog, usage as records

    starts = [at(f"2026-10-0{d} 10:00:00") for d in range(1, 7)]
    result = rate(records(record_key=[f"r1-{i}" for i in range(6)], subscriber_id=["4331681272420"] * 6, start_time=starts,
                          duration_s=[61] * 6), catalog(), "r1")  # fmt: skip
    tables = result.stored_tables()
    tables["rated_usage"] = warehouse.Parts(detail.rated_usage_parts(result.con, result.priced_batch, "r1", result.priced, rows=2))
    warehouse.write_run(tables, tmp_path, "r1")
    url = database(postgres_url, f"rating_gone_after_{cut_after}")
    ensure_schema(url)
    write_run(url, "r1", warehouse.stored_run(tmp_path, "r1", in_parts=("rated_usage",)))
    before = sorted(read_table(url, "rated_usage").column("record_key").to_pylist())
    assert before == ["r1-0", "r1-1", "r1-2", "r1-3", "r1-4", "r1-5"]

    again = warehouse.stored_run(tmp_path, "r1", in_parts=("rated_usage",))
    parts, taken = again["rated_usage"], []

    def going_away():
        for given, part in enumerate(parts):
            if given == cut_after:
                with psycopg.connect(url, autocommit=True) as other:
                    other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()")  # fmt: skip
            taken.extend(part.column("record_key").to_pylist())
            yield part

    again["rated_usage"] = going_away()
    with pytest.raises(PostgresWriteError, match=r"(?s)failed at table rating\.rated_usage: .*Rolled back: the database holds what it held before"):
        write_run(url, "r1", again)
    assert taken == taken_keys  # the parts taken: the one after the cut was sent to a closed connection
    assert sorted(read_table(url, "rated_usage").column("record_key").to_pylist()) == before


@pytest.mark.postgres
@pytest.mark.parametrize(("parts", "rows"), [([], 0), ([[]], 0), ([[0], [1]], 2)], ids=["no-part", "one-empty-part", "two-parts"])
def test_a_table_given_as_parts_may_have_none(postgres_url, parts, rows):
    """write_run takes a table as an iterator of parts; one that yields none (a caller leaving out empty files)
    failed at the INSERT from a staging table never made, as 'relation "pg_temp.stage_rating_rated_usage" does not
    exist' with the hint to create the tables first; now it replaces the run's rows by none."""
    url = database(postgres_url, f"rating_parts_{len(parts)}_{rows}")
    ensure_schema(url)
    whole = arrow("rated_usage", tables("r1")["rated_usage"])
    write_run(url, "r1", {"rated_usage": whole})
    assert read_table(url, "rated_usage").num_rows == 6
    written = write_run(url, "r1", {"rated_usage": iter([whole.take(pa.array(rows_of, pa.int64())) for rows_of in parts])})
    assert written == {"rated_usage": rows}
    assert read_table(url, "rated_usage").num_rows == rows
