"""Ingest normalisation: phone numbers to E.164 digits by each source's numbering plan, MACs to one notation."""

from __future__ import annotations

import pytest

from pipeline.ingest.numbers import NumberingPlanError, normalised_usage, numbering_plan
from pipeline.job import rate
from tests.factory import catalog, usage

PLAN = numbering_plan(
    {"pbx-graz": "AT", "fs-berlin": "DE", "pbx-nyc": "US", "pbx-sydney": "AU", "pbx-aarhus": "DK", "pbx-roma": "IT", "pbx-boston": "US"},
    {"pbx-boston": {"bare_numbers": "national"}},
)


def test_the_numbering_plan_is_built_from_the_phonenumbers_metadata():
    assert PLAN.select("source", "region", "country_code", "national_prefix", "bare_numbers").rows() == [
        ("pbx-graz", "AT", "43", "0", "international"),
        ("fs-berlin", "DE", "49", "0", "international"),
        ("pbx-nyc", "US", "1", "1", "international"),
        ("pbx-sydney", "AU", "61", "0", "international"),
        ("pbx-aarhus", "DK", "45", None, "national"),  # no trunk prefix: a number without prefix is national
        ("pbx-roma", "IT", "39", None, "national"),
        ("pbx-boston", "US", "1", "1", "national"),  # configured
    ]
    assert PLAN.get_column("international_prefix").to_list()[:3] == ["00", "00", "011"]


def test_an_unknown_country_is_an_error_naming_the_source():
    with pytest.raises(NumberingPlanError, match="source 'pbx-x': 'XX' is not a country"):
        numbering_plan({"pbx-x": "XX"})


#: (source, written, E.164 digits)
WRITTEN_NUMBERS = [
    ("pbx-graz", "0316 81 27 24", "43316812724"),  # national: trunk prefix 0 → country code 43
    ("pbx-graz", "(0316) 812-724", "43316812724"),
    ("pbx-graz", "0043 316 812724", "43316812724"),  # international prefix 00
    ("pbx-graz", "+43 316 812724", "43316812724"),
    ("pbx-graz", "+43 (0)316 812724", "43316812724"),  # the trunk prefix in brackets is not dialled from abroad
    ("pbx-graz", "0043 (0)316 812724", "43316812724"),
    ("fs-berlin", "+49(0)30-1234 00", "4930123400"),
    ("pbx-graz", "43316812724", "43316812724"),  # already international digits
    ("pbx-graz", "4331681272420", "4331681272420"),
    ("fs-berlin", "030 1234 00", "4930123400"),
    ("fs-berlin", "0049301234", "49301234"),
    ("pbx-nyc", "011 43 316 812724", "43316812724"),  # international prefix 011
    ("pbx-nyc", "011 43 (0)316 812724", "43316812724"),  # …and the bracketed trunk prefix after it
    ("pbx-sydney", "0011 43 (0)316 812724", "43316812724"),
    ("pbx-nyc", "1 212 555 0100", "12125550100"),  # trunk prefix 1, country code 1
    ("pbx-aarhus", "33 12 34 56", "4533123456"),  # Denmark: no trunk prefix, bare numbers are national
    ("pbx-aarhus", "00 43 316 812724", "43316812724"),
    ("pbx-aarhus", "+33 1 23 45 67 89", "33123456789"),
    ("pbx-roma", "06 1234 5678", "390612345678"),  # Italy keeps the 0 after the country code
    ("pbx-roma", "333 123 4567", "393331234567"),
    ("pbx-boston", "212 555 0100", "12125550100"),  # a US switch configured to write national numbers bare
    ("pbx-boston", "1 212 555 0100", "12125550100"),
    ("pbx-nyc", "12125550100", "12125550100"),  # by default bare digits are E.164 already
    ("pbx-sydney", "0011 43 316 812724", "43316812724"),  # a prefix the plan gives as a pattern
    ("pbx-sydney", "02 9876 5432", "61298765432"),
    ("unplanned", "+43 316 812724", "43316812724"),  # a source without a plan: + and separators only
    ("unplanned", "0043316812724", "0043316812724"),  # …so this stays as written (and is unassigned)
    ("pbx-graz", "anonymous", "anonymous"),  # not a number: kept for the unassigned reason
]


@pytest.mark.parametrize(("source", "written", "e164"), WRITTEN_NUMBERS)
def test_phone_numbers_become_e164_digits_by_the_source_numbering_plan(source, written, e164):
    records = usage(source=[source], subscriber_id=[written], counterparty=[written])
    normalised = normalised_usage(records, PLAN)
    assert normalised.select("subscriber_id", "counterparty").row(0) == (e164, e164)


def test_a_batch_normalises_each_row_as_it_would_alone():
    # rows the rule changes and rows it keeps (plain digits no plan rewrites) in one batch, and one
    # identifier of a row changed while the other is kept
    sources, written, e164 = (list(column) for column in zip(*WRITTEN_NUMBERS))
    records = usage(
        source=sources + ["pbx-graz"] * 2,
        subscriber_id=written + ["43316812724", "0316 81 27 24"],
        counterparty=written + ["0316 81 27 24", "43316812724"],
    )
    normalised = normalised_usage(records, PLAN)
    assert normalised.get_column("subscriber_id").to_list() == e164 + ["43316812724"] * 2
    assert normalised.get_column("counterparty").to_list() == e164 + ["43316812724"] * 2


def test_a_plan_of_many_sources_with_their_own_international_prefixes_normalises_each_by_its_own():
    """The rule for `011 43 (0)316 …` grew threefold with every source whose international prefix is
    not 00: a plan of 20 US switches took 12 GB before it was evaluated (a reviewer's fuzzing)."""
    plan = numbering_plan({f"pbx-{i}": "US" for i in range(20)} | {"pbx-au": "AU"})
    records = usage(
        source=["pbx-0", "pbx-19", "pbx-au", "pbx-7"],
        subscriber_id=["011 43 (0)316 812724", "011 49 (0)30 1234", "0011 43 (0)316 812724", "1 212 555 0100"],
        counterparty=["212 555 0100", "011 43 (0)316 812724", "02 9876 5432", "011 (0)43 316"],
    )
    normalised = normalised_usage(records, plan)
    assert normalised.select("subscriber_id", "counterparty").rows() == [
        ("43316812724", "2125550100"),  # bare digits are taken for E.164 (the plan's default)
        ("49301234", "43316812724"),
        ("43316812724", "61298765432"),
        ("12125550100", "011 (0)43 316"),
    ]


@pytest.mark.parametrize(
    ("id_type", "written", "canonical"),
    [
        ("mac", "00-1A-2B-3C-4D-5E", "00:1a:2b:3c:4d:5e"),
        ("mac", "001a.2b3c.4d5e", "00:1a:2b:3c:4d:5e"),
        ("mac", "not a mac", "not a mac"),
        ("ipv4", "167.112.17.42", "167.112.17.42"),
        ("ipv6", "2001:DB8::1", "2001:DB8::1"),
        ("string", "0316 SIM", "0316 SIM"),
    ],
)
def test_other_identifiers_keep_their_text_except_macs(id_type, written, canonical):
    records = usage(source=["pbx-graz"], id_type=[id_type], subscriber_id=[written], counterparty=["0316"])
    normalised = normalised_usage(records, PLAN)
    assert normalised.get_column("subscriber_id").to_list() == [canonical]
    assert normalised.get_column("counterparty").to_list() == ["0316"]  # the counterparty of a non-phone record is no number


def test_normalised_national_numbers_are_assigned_and_priced():
    records = usage(source=["pbx-graz"] * 2, subscriber_id=["0316 81 27 24 20", "0316812724"], counterparty=["0316 123456", "0049 30 1234"])
    result = rate(normalised_usage(records, PLAN), catalog(), "run")
    assert result.table("rated_usage").pl().select("subscriber_id", "counterparty", "contract_id").rows() == [
        ("4331681272420", "43316123456", "K-MIN"),
        ("43316812724", "49301234", "K-MIN"),
    ]


def test_normalisation_keeps_rows_order_and_schema():
    records = usage(source=["pbx-graz", "x", "fs-berlin"], subscriber_id=["0316", "1", "030"])
    normalised = normalised_usage(records, PLAN)
    assert normalised.schema == records.schema
    assert normalised.get_column("record_key").to_list() == records.get_column("record_key").to_list()
    assert normalised.get_column("subscriber_id").to_list() == ["43316", "1", "4930"]
