"""The key rules: every notation of an ID type reads as the same key; what is not an ID reads as null."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.assign.keys import IPV6_SHIFT, NOT_E164, counterparty_key, digit_count, id_intervals, ipv4_value, ipv6_values, mac_text, mac_value, phone_key, phone_prefix_hi


def value(rule, text: str | None):
    return pl.LazyFrame({"t": [text]}, schema={"t": pl.String}).select(rule(pl.col("t"))).collect().item()


@pytest.mark.parametrize(
    ("number", "key"),
    [
        ("43316812724", 433168127240000 * 16 + 11),
        ("4331681272420", 433168127242000 * 16 + 13),
        ("1", 100000000000000 * 16 + 1),
        ("123456789012345", 123456789012345 * 16 + 15),
        ("1234567890123456", None),  # 16 digits: longer than E.164 allows
        ("+43316812724", None),  # normalise first (pipeline/ingest/numbers.py)
        ("0316812724", None),  # a national number
        ("-4331", None),
        ("43 316", None),
        ("", None),
        ("anonymous", None),
        # the edges of the range test on the key (padded value + length)
        ("999999999999999", 999999999999999 * 16 + 15),
        ("9999999999999999", None),
        ("100000000000000", 100000000000000 * 16 + 15),
        ("012345678901234", None),  # 15 characters, 14 significant digits
        ("+1", None),
        ("1.5", None),
        ("١٢", None),  # Arabic-Indic digits are not E.164 digits
    ],
)
def test_phone_keys_are_e164_digits_padded_to_15_digits_times_16_plus_length(number, key):
    assert value(phone_key, number) == key


@pytest.mark.parametrize(
    ("number", "key"),
    [
        ("43316812724", 433168127240000 * 16 + 11),
        ("123456789012345", 123456789012345 * 16 + 15),
        # digits, but no E.164 number: a called number in no zone
        ("0316812724", NOT_E164),
        ("1234567890123456", NOT_E164),  # 16 digits
        ("9223372036854775807", NOT_E164),  # 19 digits, the largest Int64
        ("+43316812724", NOT_E164),
        ("-4331", NOT_E164),
        ("0", NOT_E164),
        # no called number, or another counterparty
        ("", None),
        (None, None),
        ("92233720368547758070", None),  # beyond Int64: does not read as an integer
        ("10.0.0.1", None),
        ("43 316", None),
        ("anonymous", None),
    ],
)
def test_counterparty_keys_tell_digits_that_are_no_e164_number_from_no_number(number, key):
    assert value(counterparty_key, number) == key


def test_domain_example_43316812724_heads_4331681272420_but_not_4331681272():
    lo, hi = value(phone_key, "43316812724"), value(phone_prefix_hi, "43316812724")
    assert lo <= value(phone_key, "4331681272420") <= hi
    assert lo <= value(phone_key, "433168127249999") <= hi
    assert not lo <= value(phone_key, "4331681272") <= hi
    assert not lo <= value(phone_key, "43316812725") <= hi


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("167.112.17.42", 167 << 24 | 112 << 16 | 17 << 8 | 42),
        ("0.0.0.0", 0),
        ("255.255.255.255", 2**32 - 1),
        ("1.2.3.256", None),
        ("01.2.3.4", None),
        ("1.2.3", None),
        ("1.2.3.4.5", None),
        ("+1.2.3.4", None),
        ("a.b.c.d", None),
        (" 167.112.17.42 ", 167 << 24 | 112 << 16 | 17 << 8 | 42),  # blanks around it, as for IPv6, MAC and strings
    ],
)
def test_ipv4_dotted_quads(address, expected):
    assert value(ipv4_value, address) == expected


@pytest.mark.parametrize(
    ("address", "unsigned"),
    [
        ("::", 0),
        ("::1", 1),
        ("2001:db8::1", 0x20010DB8 << 96 | 1),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", 0x20010DB8 << 96 | 1),
        ("2001:db8:17::42", 0x20010DB8_0017 << 80 | 0x42),
        ("1:2:3:4:5:6:7:8", 0x0001_0002_0003_0004_0005_0006_0007_0008),
        ("1:2:3:4:5:6:7::", 0x0001_0002_0003_0004_0005_0006_0007_0000),
        ("::ffff:192.0.2.1", 0xFFFF << 32 | 0xC0000201),
        ("::192.0.2.1", 0xC0000201),
        # groups, then "::", then the IPv4 tail: NAT64 (RFC 6052) and the like
        ("64:ff9b::192.0.2.33", 0x0064_FF9B << 96 | 0xC0000221),
        ("1::1.2.3.4", 1 << 112 | 0x01020304),
        ("1:2:3:4:5::1.2.3.4", 0x0001_0002_0003_0004_0005 << 48 | 0x01020304),
        (":::1.2.3.4", None),
        ("1:::1.2.3.4", None),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 2**128 - 1),
        ("1::2::3", None),
        ("1:2:3:4:5:6:7:8:9", None),
        ("12345::", None),
        (":1::", None),
        ("fe80::1%eth0", None),
        ("1.2.3.4", None),
    ],
)
def test_ipv6_addresses_in_every_rfc_4291_form(address, unsigned):
    assert ipv6_values(pl.Series([address])).item() == (None if unsigned is None else unsigned - IPV6_SHIFT)


@pytest.mark.parametrize(
    "notation",
    ["00:1a:2b:3c:4d:5e", "00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e", "001A.2B3C.4D5E", "001a2b3c4d5e", "001A2B3C4D5E"],
)
def test_every_mac_notation_reads_as_the_same_address(notation):
    assert value(mac_value, notation) == 0x001A2B3C4D5E
    assert value(mac_text, notation) == "00:1a:2b:3c:4d:5e"


@pytest.mark.parametrize("notation", ["00:1a-2b:3c:4d:5e", "0:1a:2b:3c:4d:5e", "001a2b3c4d5", "001a.2b3c4d5e", "00:1a:2b:3c:4d:5g"])
def test_mixed_or_short_mac_notations_are_not_addresses(notation):
    assert value(mac_value, notation) is None


@pytest.mark.parametrize(
    ("id_type", "id_value", "id_to", "width", "kind", "value_ok", "to_ok"),
    [
        ("phone", "43316812724", None, 9999 * 16 + 15 - 11, "prefix", True, True),
        ("phone", "4930123400", "4930123499", None, "range", True, True),
        ("phone", "4930123400", "493012349", None, "range", True, False),  # not the same length
        ("phone", "4930123499", "4930123400", None, "range", True, False),  # below id_value
        ("phone", "0316", None, None, "prefix", False, True),
        ("ipv4", "167.112.17.42", "167.112.17.45", 3, "range", True, True),
        ("ipv4", "10.0.0.0/24", None, 255, "cidr", True, True),
        ("ipv4", "10.0.0.5/24", None, None, "cidr", False, True),  # host bits set
        ("ipv4", "10.0.0.0/33", None, None, "cidr", False, True),
        ("ipv4", "10.0.0.0/24", "10.0.1.0", None, "range", True, False),  # a block has no id_to
        ("ipv6", "2001:db8:17::/48", None, 2**80 - 1, "cidr", True, True),
        ("ipv6", "2001:db8::1", None, 0, "exact", True, True),
        ("mac", "00-1a-2b-00-00-00", "00:1A:2B:FF:FF:FF", 2**24 - 1, "range", True, True),
        ("string", "SIM-1", None, 0, "exact", True, True),
        ("string", "SIM-1", "SIM-9", None, "exact", True, False),
    ],
)
def test_catalog_ids_become_intervals(id_type, id_value, id_to, width, kind, value_ok, to_ok):
    row = id_intervals(pl.DataFrame({"id_type": [id_type], "id_value": [id_value], "id_to": [id_to]}, schema={c: pl.String for c in ("id_type", "id_value", "id_to")}))
    got = row.select((pl.col("hi") - pl.col("lo")).alias("width"), "match_kind", "value_ok", "to_ok").row(0)
    if width is None and value_ok and to_ok:  # a valid range: only its ends are checked
        got = (None, *got[1:])
    assert got == (width, kind, value_ok, to_ok)


@pytest.mark.parametrize(
    ("id_type", "id_value", "id_to", "number", "held"),
    [
        ("phone", "4930123400", "4930123499", "4930123410", True),
        ("phone", "4930123400", "4930123499", "493012341077", True),
        ("phone", "4930123400", "4930123499", "493012341", False),  # in the interval, 9 digits: not in the range
        ("phone", "4930", None, "49301", True),
        ("ipv4", "10.0.0.0/24", None, None, True),  # other types: every key of the interval
    ],
)
def test_an_id_holds_the_keys_of_its_interval_with_at_least_min_digits_digits(id_type, id_value, id_to, number, held):
    row = id_intervals(pl.DataFrame({"id_type": [id_type], "id_value": [id_value], "id_to": [id_to]}, schema={c: pl.String for c in ("id_type", "id_value", "id_to")}))
    assert row.item(0, "min_digits") == (len(id_value) if id_type == "phone" else 0)
    if number is not None:
        key = pl.select(phone_key(pl.lit(number)).cast(pl.Int128)).item()
        assert row.item(0, "lo") <= key <= row.item(0, "hi")
        assert pl.select(digit_count(pl.lit(key, pl.Int128)) >= row.item(0, "min_digits")).item() == held
