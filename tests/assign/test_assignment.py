"""Contract assignment end to end through pipeline.job.rate: each record on the contract of its most
specific device ID valid at its start time, or unassigned with the reason (docs/assignment.md)."""

from __future__ import annotations

import time

import polars as pl
import pytest

from pipeline import engine
from pipeline.assign import unassigned_only
from pipeline.job import rate
from tests.factory import at, catalog, usage


def device_ids(*rows: tuple) -> dict[str, list]:
    """device_ids columns from (contract_id, id_type, id_value, id_to, valid_from, valid_until) rows."""
    names = ["contract_id", "id_type", "id_value", "id_to", "valid_from", "valid_until"]
    return {name: [row[i] if i < len(row) else None for row in rows] for i, name in enumerate(names)}


def assigned(cat, **records) -> list[str | None]:
    """The contract each record is assigned to (None: unassigned), in record order; the ledger must hold."""
    n = len(next(iter(records.values())))
    result = rate(usage(**records), cat, "run")
    ledger = result.ledger.select(pl.col("records").sum()).item()
    assert ledger == n, "conservation: every record in exactly one outcome"
    contracts = pl.concat(
        [result.table(t).pl().select("record_key", "contract_id") for t in ("rated_usage", "unrateable")]
    )
    keys = pl.DataFrame({"record_key": [f"r{i + 1}" for i in range(n)]})
    return keys.join(contracts, on="record_key", how="left", maintain_order="left").get_column("contract_id").to_list()


def reasons(cat, **records) -> list[str]:
    return rate(usage(**records), cat, "run").table("unassigned").pl().sort("source_line").get_column("reason").to_list()


PHONES = catalog(
    device_ids=device_ids(
        ("K-MIN", "phone", "43316812724"),
        ("K-SEC", "phone", "4930123400", "4930123499"),
    )
)


@pytest.mark.parametrize(
    ("subscriber", "contract"),
    [
        ("43316812724", "K-MIN"),  # the ID itself
        ("4331681272420", "K-MIN"),  # DOMAIN.md: ID 43316812724 also matches 4331681272420
        ("4331681272421", "K-MIN"),
        ("4331681272", None),  # shorter than the ID
        ("43316812725", None),
    ],
)
def test_domain_example_head_data_43316812724_matches_4331681272420(subscriber, contract):
    assert assigned(PHONES, subscriber_id=[subscriber]) == [contract]


#: A phone range (K-SEC) inside a prefix (K-MIN), and the same range alone: the range holds its
#: 10-digit numbers and their extensions, never a shorter number, not even one whose digits lie
#: between its ends.
RANGE_IN_PREFIX = catalog(device_ids=device_ids(("K-MIN", "phone", "4930"), ("K-SEC", "phone", "4930123400", "4930123499")))
RANGE_ALONE = catalog(device_ids=device_ids(("K-SEC", "phone", "4930123400", "4930123499")))


@pytest.mark.parametrize(
    ("subscriber", "in_prefix", "alone"),
    [
        ("4930123400", "K-SEC", "K-SEC"),  # the range's ends
        ("4930123499", "K-SEC", "K-SEC"),
        ("4930123450", "K-SEC", "K-SEC"),
        ("493012345077", "K-SEC", "K-SEC"),  # an extension of a number in the range
        ("493012341", "K-MIN", None),  # 9 digits: 4930123410-4930123419 are in the range, 493012341 is not
        ("493012349", "K-MIN", None),
        ("493012340", "K-MIN", None),
        ("49301234", "K-MIN", None),
        ("49301235", "K-MIN", None),
        ("4930123500", "K-MIN", None),
    ],
)
def test_a_phone_range_holds_its_numbers_and_their_extensions_not_shorter_numbers(subscriber, in_prefix, alone):
    assert assigned(RANGE_IN_PREFIX, subscriber_id=[subscriber]) == [in_prefix]
    assert assigned(RANGE_ALONE, subscriber_id=[subscriber]) == [alone]


def test_a_shorter_number_between_a_ranges_ends_is_not_matched_by_it():
    assert reasons(RANGE_ALONE, subscriber_id=["493012341", "4930123410", "493012349"]) == [
        "no device ID matches 493012341",
        "no device ID matches 493012349",
    ]


#: Ranges nested three deep over the same digits (10, 11 and 12 digits long) in a block that
#: ends, in a country prefix; and a range of 6-digit numbers around a range of 10-digit ones.
NESTED_RANGES = catalog(
    device_ids=device_ids(
        ("K-SEC", "phone", "49"),
        ("K-MIN", "phone", "4930", None, None, "2026-10-01 00:00:00"),
        ("K-SEC", "phone", "4930123400", "4930123499"),
        ("K-MIN", "phone", "49301234000", "49301234999"),
        ("K-SEC", "phone", "493012340000", "493012349999"),
        ("K-SEC", "phone", "493112", "493113"),
        ("K-MIN", "phone", "4931124000", "4931124999", None, "2026-10-01 00:00:00"),
    )
)


@pytest.mark.parametrize(
    ("subscriber", "start", "matched_id"),
    [
        ("493012341", "2026-09-30 12:00:00", "4930"),  # none of the three ranges: the block
        ("493012341", "2026-10-01 00:00:00", "49"),  # the block ended: the country prefix
        ("4930123410", "2026-10-01 00:00:00", "4930123400-4930123499"),  # only the widest range holds 10 digits
        ("49301234100", "2026-10-01 00:00:00", "49301234000-49301234999"),
        ("493012341000", "2026-10-01 00:00:00", "493012340000-493012349999"),
        ("4931124", "2026-09-30 12:00:00", "493112-493113"),
        ("493112412", "2026-09-30 12:00:00", "493112-493113"),  # 9 digits: the 6-digit range, not the 10-digit one
        ("4931124123", "2026-09-30 12:00:00", "4931124000-4931124999"),
        ("4931124123", "2026-10-01 00:00:00", "493112-493113"),  # the narrower range ended
    ],
)
def test_nested_phone_ranges_hold_numbers_of_their_length_or_longer(subscriber, start, matched_id):
    assert matched(NESTED_RANGES, subscriber_id=[subscriber], start_time=[at(start)]) == [matched_id]


def test_a_shorter_number_names_the_time_only_when_an_id_that_holds_it_is_not_valid_then():
    cat = catalog(
        device_ids=device_ids(
            ("K-MIN", "phone", "4930", None, None, "2026-10-01 00:00:00"),
            ("K-SEC", "phone", "4930123400", "4930123499"),
            ("K-SEC", "phone", "49301234000", "49301234999"),
            ("K-SEC", "phone", "493012340000", "493012349999"),
            ("K-SEC", "phone", "5930123400", "5930123499"),
            ("K-MIN", "phone", "59301234000", "59301234999"),
            ("K-MIN", "phone", "593012340000", "593012349999"),
        )
    )
    records = dict(subscriber_id=["493012341", "593012341", "5930123410"], start_time=[at("2026-10-01 00:00:00")] * 3)
    assert assigned(cat, **records) == [None, None, "K-SEC"]
    assert reasons(cat, **records) == [
        "no device ID for 493012341 is valid at 2026-10-01 00:00:00",  # the block holds it, but has ended
        "no device ID matches 593012341",  # three ranges around it, none holds 9 digits
    ]


IPS = catalog(device_ids=device_ids(("K-MIN", "ipv4", "167.112.17.42", "167.112.17.45")))


def test_domain_example_ip_range_167_112_17_42_to_45_with_41_and_46_unassigned():
    addresses = [f"167.112.17.{host}" for host in range(41, 47)]
    assert assigned(IPS, id_type=["ipv4"] * 6, subscriber_id=addresses) == [None, "K-MIN", "K-MIN", "K-MIN", "K-MIN", None]
    assert reasons(IPS, id_type=["ipv4"] * 6, subscriber_id=addresses) == [
        "no device ID matches 167.112.17.41",
        "no device ID matches 167.112.17.46",
    ]


#: K-MIN ended on 30 June 2026, K-SEC starts on 1 January 2027; both keep their open device IDs.
DATED = catalog(
    contracts={
        "contract_id": ["K-MIN", "K-SEC"], "customer_id": ["C1", "C2"], "tariff_id": ["T-MIN", "T-SEC"],
        "start_date": ["2025-01-01", "2027-01-01"], "end_date": ["2026-06-30", None],
    },
    device_ids=device_ids(("K-MIN", "phone", "43316812724"), ("K-SEC", "phone", "4930123400", "4930123499")),
)


@pytest.mark.parametrize(
    ("subscriber", "start", "contract"),
    [
        ("4331681272420", "2026-06-30 23:59:59", "K-MIN"),  # its last day (UTC)
        ("4331681272420", "2026-07-01 00:00:00", None),  # after the contract ended: never billed to it
        ("4930123450", "2026-12-31 23:59:59", None),  # before the contract started
        ("4930123450", "2027-01-01 00:00:00", "K-SEC"),
    ],
)
def test_a_device_id_assigns_only_within_its_contracts_days(subscriber, start, contract):
    assert assigned(DATED, subscriber_id=[subscriber], start_time=[at(start)]) == [contract]
    if contract is None:
        assert reasons(DATED, subscriber_id=[subscriber], start_time=[at(start)]) == [f"no device ID for {subscriber} is valid at {start}"]


@pytest.mark.parametrize(
    ("start", "contract"),
    [
        ("2026-06-30 23:59:59", "K-MIN"),  # the old contract's last day
        ("2026-07-15 10:00:00", None),  # between the contracts: the number is on none
        ("2026-08-01 00:00:00", "K-SEC"),  # the new contract's first second
    ],
)
def test_a_number_regiven_after_its_contract_ended_goes_to_the_old_contract_before_and_the_new_one_after(start, contract):
    """K-MIN ended on 30 June 2026 with its row for the number left open; the number is re-given to
    K-SEC from 1 August. The catalog loads (the rows clash only within their contracts' days)."""
    regiven = catalog(
        contracts={
            "contract_id": ["K-MIN", "K-SEC"], "customer_id": ["C1", "C2"], "tariff_id": ["T-MIN", "T-SEC"],
            "start_date": ["2025-01-01", "2026-08-01"], "end_date": ["2026-06-30", None],
        },
        device_ids=device_ids(("K-MIN", "phone", "4331612345"), ("K-SEC", "phone", "4331612345", None, "2026-08-01 00:00:00")),
    )
    assert assigned(regiven, subscriber_id=["433161234599"], start_time=[at(start)]) == [contract]


NESTED = catalog(
    device_ids=device_ids(
        ("K-SEC", "phone", "4331681"),  # a block
        ("K-MIN", "phone", "43316812"),  # a sub-block inside it
        ("K-SEC", "phone", "43316812700", "43316812799"),  # a range inside the sub-block
        ("K-MIN", "phone", "43316812724"),  # a number inside the range
    )
)


@pytest.mark.parametrize(
    ("subscriber", "contract"),
    [
        ("4331681999", "K-SEC"),  # only the block
        ("43316812000", "K-MIN"),  # block and sub-block: the longer prefix wins
        ("43316812750", "K-SEC"),  # block, sub-block, range: the range is narrower
        ("4331681275099", "K-SEC"),  # an extension of a number in the range
        ("43316812724", "K-MIN"),  # all four: the single number is the most specific
        ("433168127249", "K-MIN"),
        ("4331682", None),
    ],
)
def test_nested_ids_the_most_specific_wins(subscriber, contract):
    assert assigned(NESTED, subscriber_id=[subscriber]) == [contract]


def test_overlapping_ranges_the_narrower_wins_and_equal_widths_the_lower_start():
    cat = catalog(
        device_ids=device_ids(
            ("K-SEC", "ipv4", "10.0.0.0", "10.0.0.99"),
            ("K-MIN", "ipv4", "10.0.0.50", "10.0.0.59"),
            ("K-SEC", "ipv4", "10.0.0.55", "10.0.0.64"),
        )
    )
    hosts = ["10.0.0.49", "10.0.0.54", "10.0.0.56", "10.0.0.60", "10.0.0.65"]
    assert assigned(cat, id_type=["ipv4"] * 5, subscriber_id=hosts) == ["K-SEC", "K-MIN", "K-MIN", "K-SEC", "K-SEC"]


MOVED = catalog(
    device_ids=device_ids(
        ("K-MIN", "phone", "4331681555", None, None, "2026-10-15 00:00:00"),
        ("K-SEC", "phone", "4331681555", None, "2026-10-15 00:00:00", None),
        ("K-MIN", "phone", "4331681777", None, "2026-10-01 08:00:00", "2026-10-01 09:00:00"),
    )
)


@pytest.mark.parametrize(
    ("subscriber", "start", "contract"),
    [
        ("4331681555", "2026-10-14 23:59:59", "K-MIN"),  # the last second of the old owner
        ("4331681555", "2026-10-15 00:00:00", "K-SEC"),  # valid_until is exclusive, valid_from inclusive
        ("4331681555", "2026-10-15 00:00:01", "K-SEC"),
        ("4331681777", "2026-10-01 07:59:59", None),
        ("4331681777", "2026-10-01 08:00:00", "K-MIN"),
        ("4331681777", "2026-10-01 08:59:59", "K-MIN"),
        ("4331681777", "2026-10-01 09:00:00", None),
    ],
)
def test_validity_to_the_second(subscriber, start, contract):
    assert assigned(MOVED, subscriber_id=[subscriber], start_time=[at(start)]) == [contract]


def test_a_number_that_moved_bills_each_customer_for_their_own_days():
    times = [at("2026-10-10 12:00:00"), at("2026-10-14 23:59:59"), at("2026-10-15 00:00:00"), at("2026-10-20 12:00:00")]
    assert assigned(MOVED, subscriber_id=["4331681555"] * 4, start_time=times) == ["K-MIN", "K-MIN", "K-SEC", "K-SEC"]


@pytest.mark.parametrize("host_zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_a_record_outside_its_numbers_validity_names_the_time(monkeypatch, host_zone):
    """The time is UTC, as every time of the catalog and usage, whatever the host's zone."""
    monkeypatch.setenv("TZ", host_zone)
    time.tzset()
    try:
        got = reasons(MOVED, subscriber_id=["4331681777"], start_time=[at("2026-10-01 09:00:00")])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got == ["no device ID for 4331681777 is valid at 2026-10-01 09:00:00"]


def test_when_the_most_specific_id_has_ended_the_enclosing_block_takes_over():
    cat = catalog(
        device_ids=device_ids(
            ("K-SEC", "phone", "4331681"),
            ("K-MIN", "phone", "43316812724", None, None, "2026-10-01 00:00:00"),
        )
    )
    times = [at("2026-09-30 23:59:59"), at("2026-10-01 00:00:00")]
    assert assigned(cat, subscriber_id=["43316812724"] * 2, start_time=times) == ["K-MIN", "K-SEC"]


CIDR = catalog(
    device_ids=device_ids(
        ("K-SEC", "ipv6", "2001:db8::/32"),
        ("K-MIN", "ipv6", "2001:db8:17::/48"),
        ("K-SEC", "ipv6", "2001:db8:17::42"),
        ("K-MIN", "ipv6", "2001:db8:18::1", "2001:db8:18::ff"),
        ("K-MIN", "ipv4", "192.0.2.0/24"),
        ("K-SEC", "ipv4", "192.0.2.128/25"),
        ("K-SEC", "ipv6", "64:ff9b::c000:200/120"),
    )
)


@pytest.mark.parametrize(
    ("id_type", "address", "contract"),
    [
        ("ipv6", "2001:db8:17::42", "K-SEC"),  # the single address inside the /48 inside the /32
        ("ipv6", "2001:0db8:0017:0000:0000:0000:0000:0042", "K-SEC"),  # the same, written out
        ("ipv6", "2001:db8:17::43", "K-MIN"),
        ("ipv6", "2001:db8:17:ffff:ffff:ffff:ffff:ffff", "K-MIN"),  # the last address of the /48
        ("ipv6", "2001:db8:18::1", "K-MIN"),  # a from–to range
        ("ipv6", "2001:db8:18::100", "K-SEC"),  # past the range, still in the /32
        ("ipv6", "2001:db9::1", None),
        ("ipv6", "64:ff9b::192.0.2.33", "K-SEC"),  # a NAT64 address, groups before "::" and an IPv4 tail
        ("ipv4", "192.0.2.0", "K-MIN"),
        ("ipv4", "192.0.2.127", "K-MIN"),
        ("ipv4", "192.0.2.128", "K-SEC"),  # the /25 is narrower than the /24
        ("ipv4", "192.0.3.0", None),
    ],
)
def test_ipv6_and_cidr_blocks(id_type, address, contract):
    assert assigned(CIDR, id_type=[id_type], subscriber_id=[address]) == [contract]


def test_ipv6_and_ipv4_records_in_one_batch_with_phone_numbers():
    records = dict(
        id_type=["phone", "ipv6", "ipv4", "ipv6", "phone"],
        subscriber_id=["43316812724", "2001:db8:17::42", "192.0.2.200", "2001:db8:17::1", "4930123450"],
    )
    cat = catalog(device_ids={k: PHONE_AND_IP[k] for k in PHONE_AND_IP})
    assert assigned(cat, **records) == ["K-MIN", "K-SEC", "K-SEC", "K-MIN", "K-SEC"]


PHONE_AND_IP = device_ids(
    ("K-MIN", "phone", "43316812724"),
    ("K-SEC", "phone", "4930123400", "4930123499"),
    ("K-MIN", "ipv6", "2001:db8:17::/48"),
    ("K-SEC", "ipv6", "2001:db8:17::42"),
    ("K-SEC", "ipv4", "192.0.2.128/25"),
)

MACS = catalog(device_ids=device_ids(("K-SEC", "mac", "00:1A:2B:3C:4D:5E"), ("K-MIN", "mac", "00-1a-2b-00-00-00", "00-1a-2b-ff-ff-ff")))


@pytest.mark.parametrize(
    "notation",
    ["00:1a:2b:3c:4d:5e", "00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e", "001A.2B3C.4D5E", "001a2b3c4d5e", "001A2B3C4D5E"],
)
def test_every_mac_notation_matches_the_catalog_id(notation):
    assert assigned(MACS, id_type=["mac"], subscriber_id=[notation]) == ["K-SEC"]


def test_a_mac_range_holds_the_addresses_between_its_ends():
    assert assigned(MACS, id_type=["mac"] * 2, subscriber_id=["00:1a:2b:00:00:01", "00:1a:2c:00:00:00"]) == ["K-MIN", None]


def test_string_ids_match_exactly():
    cat = catalog(device_ids=device_ids(("K-MIN", "string", "SIM-8943-0001"), ("K-SEC", "string", "sim-8943-0001")))
    records = dict(id_type=["string"] * 4, subscriber_id=["SIM-8943-0001", "sim-8943-0001", "SIM-8943-000", "SIM-8943-00011"])
    assert assigned(cat, **records) == ["K-MIN", "K-SEC", None, None]


@pytest.mark.parametrize(
    ("id_type", "subscriber", "reason"),
    [
        ("phone", "anonymous", "subscriber_id 'anonymous' is not a valid phone identifier: expected E.164 digits"),
        ("phone", "+43316812724", "subscriber_id '+43316812724' is not a valid phone identifier: expected E.164 digits"),
        ("ipv4", "167.112.17.300", "subscriber_id '167.112.17.300' is not a valid ipv4 identifier: expected a dotted quad"),
        ("ipv6", "2001:db8::17::1", "subscriber_id '2001:db8::17::1' is not a valid ipv6 identifier: expected an IPv6 address"),
        ("mac", "00:1a:2b:3c:4d", "subscriber_id '00:1a:2b:3c:4d' is not a valid mac identifier: expected a MAC address"),
        ("string", "SIM-0", "no device ID matches SIM-0"),
        ("string", "   ", "subscriber_id '   ' is not a valid string identifier: expected any non-empty text"),
    ],
)
def test_an_identifier_that_does_not_parse_is_unassigned_with_the_reason(id_type, subscriber, reason):
    found = reasons(PHONES, id_type=[id_type], subscriber_id=[subscriber])
    assert len(found) == 1 and found[0].startswith(reason)


def test_conservation_holds_with_every_kind_of_identifier_and_outcome():
    records = usage(
        record_key=["a", "b", "c", "d", "e", "e", "f", "g"],
        id_type=["phone", "ipv6", "ipv4", "mac", "phone", "phone", "phone", "string"],
        subscriber_id=["43316812724", "2001:db8:17::42", "192.0.2.1", "zz", "4930123450", "4930123450", "4331681272420", "x"],
        duration_s=[60, 30, -1, 5, 10, 10, 20, 7],
        billable=[True, True, True, True, True, True, False, True],
    )
    cat = catalog(device_ids=PHONE_AND_IP)
    result = rate(records, cat, "run")
    assert result.counts() == {
        "rated": 3, "non_billable": 1, "rejected": 1, "unassigned": 2, "unrateable": 0, "duplicate": 1,
    }
    assert result.ledger.select(pl.col("records", "duration_s").sum()).row(0) == (8, 141)


def test_a_catalog_without_device_ids_leaves_every_record_unassigned():
    cat = catalog(device_ids={"contract_id": [], "id_type": [], "id_value": [], "id_to": []})
    records = dict(id_type=["phone", "ipv6", "string"], subscriber_id=["43316812724", "2001:db8::1", "SIM-1"])
    assert assigned(cat, **records) == [None, None, None]


def matched(cat, **records) -> list[str | None]:
    """The device ID each record matched (None: unassigned), in record order."""
    result = rate(usage(**records), cat, "run")
    found = result.table("rated_usage").pl().select("record_key", "matched_id")
    keys = pl.DataFrame({"record_key": [f"r{i + 1}" for i in range(len(next(iter(records.values()))))]})
    return keys.join(found, on="record_key", how="left", maintain_order="left").get_column("matched_id").to_list()


DEEP = catalog(
    device_ids=device_ids(
        ("K-SEC", "phone", "4331681"),
        ("K-MIN", "phone", "43316812", None, None, "2026-10-01 00:00:00"),
        ("K-MIN", "phone", "43316812724", None, None, "2026-10-02 00:00:00"),
        ("K-SEC", "phone", "43316812724", None, "2026-10-03 00:00:00"),
    )
)


@pytest.mark.parametrize(
    ("start", "matched_id"),
    [
        ("2026-09-30 23:59:59", "43316812724"),  # every ID valid: the number
        ("2026-10-01 00:00:00", "43316812724"),  # the sub-block ended, the number still valid
        ("2026-10-02 00:00:00", "4331681"),  # number and sub-block ended: three levels down to the block
        ("2026-10-03 00:00:00", "43316812724"),  # the number's new owner
    ],
)
def test_ids_nested_three_deep_with_changing_validity(start, matched_id):
    assert matched(DEEP, subscriber_id=["4331681272420"], start_time=[at(start)]) == [matched_id]


def test_a_batch_looked_up_in_pieces_is_assigned_as_in_one(monkeypatch):
    import pipeline.assign.index as index

    records = dict(
        id_type=["phone", "phone", "ipv6", "ipv6", "phone", "phone"] * 3,
        subscriber_id=["4331681999", "43316812724", "2001:db8:17::42", "2001:db8:17::1", "4331681272420", "4999"] * 3,
        start_time=[at("2026-10-01 10:00:00")] * 6 + [at("2026-10-02 00:00:00")] * 6 + [at("2026-10-03 12:00:00")] * 6,
    )
    cat = catalog(
        device_ids=device_ids(
            ("K-SEC", "phone", "4331681"),
            ("K-MIN", "phone", "43316812", None, None, "2026-10-01 00:00:00"),
            ("K-MIN", "phone", "43316812724", None, None, "2026-10-02 00:00:00"),
            ("K-SEC", "phone", "43316812724", None, "2026-10-03 00:00:00"),
            ("K-MIN", "ipv6", "2001:db8:17::/48"),
            ("K-SEC", "ipv6", "2001:db8:17::42"),
        )
    )
    whole = matched(cat, **records)
    monkeypatch.setattr(index, "LOOKUP_ROWS", 4)
    assert matched(cat, **records) == whole
    assert whole[:6] == ["4331681", "43316812724", "2001:db8:17::42", "2001:db8:17::/48", "43316812724", None]
    assert whole[6:12] == ["4331681", "4331681", "2001:db8:17::42", "2001:db8:17::/48", "4331681", None]


def test_once_priced_the_assignment_keeps_only_the_unassigned_records():
    """What the outcome of the unassigned records reads (sql/duck/out/unassigned.sql); the rest goes."""
    con = engine.connect()
    located = pl.DataFrame(
        {"rid": [0, 1, 2, 3], "dev_no": [5, None, 7, None], "id_parsed": [True, False, True, True], "id_known": [True, False, True, False]},
        schema_overrides={"dev_no": pl.Int64},
    )
    unassigned_only(con, located)
    assert con.sql("SELECT rid, dev_no, id_parsed, id_known FROM assignment ORDER BY rid").fetchall() == [
        (1, None, False, False),
        (3, None, True, False),
    ]
