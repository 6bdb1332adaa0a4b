"""The rating job end to end on literal tables: assignment, granularity, rejects, unassigned, conservation."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from pipeline.job import rate
from pipeline.ledger import ConservationError, checked, ledger
from tests.factory import at, catalog, usage


def rated(result) -> pl.DataFrame:
    return result.table("rated_usage").pl().sort("record_key")


def test_domain_example_head_data_id_43316812724_matches_4331681272420():
    result = rate(usage(subscriber_id=["4331681272420", "43316812724", "4331681272"]), catalog(), "run")
    assert rated(result).select("record_key", "contract_id", "matched_id", "match_kind").to_dict(as_series=False) == {
        "record_key": ["r1", "r2"],
        "contract_id": ["K-MIN", "K-MIN"],
        "matched_id": ["43316812724", "43316812724"],
        "match_kind": ["prefix", "prefix"],
    }
    assert result.table("unassigned").pl().select("record_key", "reason").to_dict(as_series=False) == {
        "record_key": ["r3"],
        "reason": ["no device ID matches 4331681272"],
    }


@pytest.mark.parametrize(
    ("subscriber", "contract"),
    [
        ("4930123400", "K-SEC"),  # first number of the block
        ("4930123499", "K-SEC"),  # last number of the block
        ("493012345077", "K-SEC"),  # an extension inside the block
        ("4930123500", None),  # one past the block
        ("4930123399", None),  # one before the block
    ],
)
def test_domain_example_number_range_is_inclusive(subscriber, contract):
    result = rate(usage(subscriber_id=[subscriber]), catalog(), "run")
    assert rated(result).get_column("contract_id").to_list() == ([contract] if contract else [])
    assert result.table("unassigned").pl().height == (0 if contract else 1)


def test_most_specific_id_wins_over_the_block_that_contains_it():
    cat = catalog(
        device_ids={
            "contract_id": ["K-SEC", "K-MIN"],
            "id_type": ["phone", "phone"],
            "id_value": ["4331681", "43316812724"],
            "id_to": [None, None],
        }
    )
    result = rate(usage(subscriber_id=["4331681272420", "4331681999"]), cat, "run")
    assert rated(result).get_column("contract_id").to_list() == ["K-MIN", "K-SEC"]


def test_a_moved_number_bills_each_contract_for_its_own_time():
    cat = catalog(
        device_ids={
            "contract_id": ["K-MIN", "K-SEC"],
            "id_type": ["phone", "phone"],
            "id_value": ["4331681555", "4331681555"],
            "id_to": [None, None],
            "valid_until": ["2026-10-15 00:00:00", None],
            "valid_from": [None, "2026-10-15 00:00:00"],
        }
    )
    times = [at("2026-10-14 23:59:59"), at("2026-10-15 00:00:00")]
    result = rate(usage(subscriber_id=["4331681555", "4331681555"], start_time=times), cat, "run")
    assert rated(result).get_column("contract_id").to_list() == ["K-MIN", "K-SEC"]


@pytest.mark.parametrize(
    ("contract_number", "duration_s", "quantity", "amount"),
    [
        # per-minute tariff (60/60) at 0.06 €/min: every started minute counts
        ("4331681272420", 1, 60, "0.060000"),
        ("4331681272420", 60, 60, "0.060000"),
        ("4331681272420", 61, 120, "0.120000"),
        ("4331681272420", 0, 0, "0.000000"),
        # per-second tariff (1/1) at 0.06 €/min = 0.001 €/s
        ("4930123450", 1, 1, "0.001000"),
        ("4930123450", 61, 61, "0.061000"),
        ("4930123450", 0, 0, "0.000000"),
    ],
)
def test_minute_versus_second_granularity(contract_number, duration_s, quantity, amount):
    result = rate(usage(subscriber_id=[contract_number], duration_s=[duration_s]), catalog(), "run")
    row = rated(result).select("quantity", "amount").row(0)
    assert row == (quantity, Decimal(amount))


def test_per_record_amounts_keep_six_decimals_and_lines_round_half_up_once():
    # 0.0190 €/min per second: 1 s = 0.000316666… → 0.000317 per record;
    # 15 records sum to 0.004755 exactly (micro-units) → the line rounds once, to 0.00
    cat = catalog(prices={"tariff_id": ["T-MIN", "T-SEC"], "article_id": ["A-NAT", "A-NAT"], "price": ["0.0600", "0.0190"]})
    result = rate(usage(subscriber_id=["4930123450"] * 15, duration_s=[1] * 15), cat, "run")
    assert rated(result).get_column("amount").to_list() == [Decimal("0.000317")] * 15
    line = result.table("invoice_lines").pl()
    assert line.select("records", "quantity", "net_amount").row(0) == (15, 15, Decimal("0.00"))


def test_invoice_line_rounds_half_away_from_zero_to_cents():
    # 0.0900 €/min per second → 0.0015 € per second; 3 s = 0.004500 → 0.00; 10 s = 0.015 → 0.02
    cat = catalog(prices={"tariff_id": ["T-MIN", "T-SEC"], "article_id": ["A-NAT", "A-NAT"], "price": ["0.0600", "0.0900"]})
    result = rate(usage(subscriber_id=["4930123450"], duration_s=[10]), cat, "run")
    assert result.table("invoice_lines").pl().get_column("net_amount").to_list() == [Decimal("0.02")]


def test_a_rejected_row_keeps_file_line_column_value_and_rule():
    records = usage(duration_s=[60, -5, 30], source_line=[1, 2, 3])
    result = rate(records, catalog(), "run")
    rejects = result.table("rejects").pl()
    assert rejects.select("source_file", "source_line", "column", "value", "rule").to_dict(as_series=False) == {
        "source_file": ["calls.csv"],
        "source_line": [2],
        "column": ["duration_s"],
        "value": ["-5"],
        "rule": ["greater_than_or_equal_to(0)"],
    }
    assert rejects.get_column("reason").to_list() == [
        "calls.csv line 2: column duration_s value '-5' breaks rule greater_than_or_equal_to(0)"
    ]
    assert result.counts()["rated"] == 2


def test_an_unassigned_record_is_kept_with_its_reason():
    result = rate(usage(subscriber_id=["4331681272420", "99999"], duration_s=[60, 42]), catalog(), "run")
    unassigned = result.table("unassigned").pl()
    assert unassigned.select("record_key", "subscriber_id", "duration_s", "reason").rows() == [
        ("r2", "99999", 42, "no device ID matches 99999")
    ]


def test_unknown_destination_without_catch_all_is_unrateable_never_zero():
    result = rate(usage(counterparty=["33123456"]), catalog(), "run")
    assert result.counts()["unrateable"] == 1
    assert result.table("unrateable").pl().get_column("reason").to_list() == [
        "no destination zone matches 33123456 and tariff T-MIN has no catch-all zone"
    ]
    assert result.table("invoice_lines").pl().height == 0


def test_duplicates_within_a_batch_and_from_earlier_runs():
    seen = pl.DataFrame({"record_key": ["old"], "run_id": ["run-0"]})
    records = usage(record_key=["a", "b", "a", "old"])
    result = rate(records, catalog(), "run-1", seen=seen)
    dupes = result.table("duplicates").pl().sort("source_line")
    assert dupes.select("record_key", "source_line", "first_seen_run").rows() == [("a", 3, None), ("old", 4, "run-0")]
    assert result.counts() == {
        "rated": 2, "non_billable": 0, "rejected": 0, "unassigned": 0, "unrateable": 0, "duplicate": 2,
    }


def test_conservation_every_record_lands_in_exactly_one_outcome():
    records = usage(
        record_key=["ok", "bad", "nobody", "dup", "dup", "free", "nowhere"],
        subscriber_id=["4331681272420", "4331681272420", "111", "4930123401", "4930123401", "4331681272420", "4331681272420"],
        duration_s=[60, -1, 30, 5, 5, 10, 20],
        billable=[True, True, True, True, True, False, True],
        counterparty=["4312345", "4312345", "4312345", "4312345", "4312345", "4312345", "999"],
    )
    result = rate(records, catalog(), "run")
    assert result.counts() == {
        "rated": 2, "non_billable": 1, "rejected": 1, "unassigned": 1, "unrateable": 1, "duplicate": 1,
    }
    assert result.ledger.select(pl.col("records", "duration_s").sum()).row(0) == (7, 129)


def test_each_outcome_holds_its_own_records_when_rows_before_them_drop_out():
    # a rejected, a duplicate and a non-billable row sit before the records that are rated,
    # unassigned and unrateable: each outcome must still show its own record, whole
    records = usage(
        record_key=["bad", "d", "d", "free", "nobody", "ok", "nowhere", "ok2"],
        subscriber_id=["4331681272420", "4930123401", "4930123401", "4331681272420", "111", "4331681272420",
                       "4331681272420", "4930123450"],
        duration_s=[-1, 5, 5, 10, 30, 60, 20, 61],
        billable=[True, True, True, False, True, True, True, True],
        counterparty=["4312345", "4312345", "4312345", "4312345", "4312345", "4312345", "999", "4312345"],
    )
    result = rate(records, catalog(), "run")
    assert rated(result).select("record_key", "source_line", "duration_s", "contract_id").rows() == [
        ("d", 2, 5, "K-SEC"), ("ok", 6, 60, "K-MIN"), ("ok2", 8, 61, "K-SEC"),
    ]
    assert result.table("unassigned").pl().select("record_key", "source_line", "subscriber_id").rows() == [
        ("nobody", 5, "111")
    ]
    assert result.table("unrateable").pl().select("record_key", "source_line", "counterparty").rows() == [
        ("nowhere", 7, "999")
    ]
    assert result.table("non_billable").pl().get_column("record_key").to_list() == ["free"]
    assert result.table("duplicates").pl().get_column("source_line").to_list() == [3]


def test_conservation_check_fails_loudly_when_records_are_lost():
    lost = ledger("run", {"rated": (5, 300, 0), "rejected": (1, 0, 0)})
    with pytest.raises(ConservationError, match="outcomes .* = \\(6, 300, 0\\) but input = \\(7, 300, 0\\)"):
        checked(lost, 7, 300, 0)


def test_a_line_with_two_bad_cells_is_one_rejected_record():
    read_rejects = pl.DataFrame(
        {
            "source_file": ["Master.csv", "Master.csv", "Master.csv"],
            "source_line": [7, 7, 9],
            "column": ["start", "billsec", "start"],
            "value": ["x", "y", "z"],
            "rule": ["timestamp", "integer", "timestamp"],
            "reason": ["r1", "r2", "r3"],
            "raw": [None, None, None],
        }
    )
    result = rate(usage(subscriber_id=["4331681272420"]), catalog(), "run", read_rejects=read_rejects)
    assert result.input_records == 3
    assert result.counts()["rejected"] == 2
    assert result.table("rejects").pl().height == 3


def test_rejected_records_known_only_by_their_cells_keep_their_seconds_in_the_ledger():
    # a stored run rated again: its rejected record comes back as reject cells, its 45 s from the old ledger
    read_rejects = pl.DataFrame(
        {"source_file": ["Master.csv"], "source_line": [4], "column": ["billsec"], "value": ["-45"], "rule": ["ge"],
         "reason": ["r"], "raw": [None]}
    )  # fmt: skip
    result = rate(usage(subscriber_id=["4331681272420"], duration_s=[60]), catalog(), "run", read_rejects=read_rejects,
                  rejected_sums=(45, 0))  # fmt: skip
    assert result.ledger.filter(pl.col("outcome") == "rejected").select("records", "duration_s", "volume_bytes").row(0) == (1, 45, 0)
    assert result.ledger.select(pl.col("records", "duration_s").sum()).row(0) == (2, 105)
