"""A source's numbering plan from sources.toml (`country`, prefix overrides): national-format numbers a switch
writes become E.164 digits in ingest, so they are assigned like the international ones."""

from __future__ import annotations

import pytest

from pipeline.ingest.numbers import normalised_usage
from pipeline.io.readers import SourceConfigError, load_sources, read_usage_file
from pipeline.io.readers.config import numbering_plan_of
from pipeline.job import rate
from tests.factory import catalog

HEADER = "record_key,subscriber_id,counterparty,start_time,duration_s\n"


def sources_file(tmp_path, settings: str, fmt: str = "csv"):
    path = tmp_path / "sources.toml"
    path.write_text(f'[sources.pbx]\nformat = "{fmt}"\npattern = "calls-*.csv"\n{settings}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("settings", "plan"),
    [
        ('country = "AT"', [("pbx", "AT", "43", "0", "00", "international")]),
        ('country = "de"', [("pbx", "DE", "49", "0", "00", "international")]),
        ('country = "US"', [("pbx", "US", "1", "1", "011", "international")]),
        ('country = "US"\nbare_numbers = "national"', [("pbx", "US", "1", "1", "011", "national")]),
        ('country = "DK"', [("pbx", "DK", "45", None, "00", "national")]),  # no trunk prefix: national as dialled
        ('country = "DK"\nbare_numbers = "international"', [("pbx", "DK", "45", None, "00", "international")]),
        ('country = "AT"\ninternational_prefix = "900"', [("pbx", "AT", "43", "0", "900", "international")]),
        ('country = "AT"\nnational_prefix = "80"', [("pbx", "AT", "43", "80", "00", "international")]),
        ("", []),  # no country: no plan row, `+` and separators only
    ],
)
def test_the_numbering_plan_comes_from_the_source_configuration(tmp_path, settings, plan):
    sources = load_sources(sources_file(tmp_path, settings))
    assert numbering_plan_of(sources).rows() == plan


@pytest.mark.parametrize(
    ("settings", "fmt", "message"),
    [
        ('country = "XX"', "csv", "source 'pbx': 'XX' is not a country phonenumbers knows: give an ISO 3166 alpha-2 code such as AT or DE (key 'country')"),
        ('national_prefix = "0"', "csv", "source pbx: 'national_prefix' overrides the numbering plan of a 'country': set country too"),
        ('country = "AT"\ninternational_prefix = "+"', "csv", "source pbx: international_prefix '+' must be 1-6 digits"),
        ('country = "AT"\nbare_numbers = "local"', "csv", "source pbx: bare_numbers 'local' is not one of international, national"),
        ('bare_numbers = "national"', "csv", "source pbx: 'bare_numbers' overrides the numbering plan of a 'country': set country too"),
        ('country = "AT"', "nfdump", "source pbx: 'country' normalises phone numbers; nfdump records are IP addresses"),
        ("country = 43", "csv", "source pbx: ['country'] must be strings"),
    ],
)
def test_a_wrong_numbering_setting_fails_before_any_file_is_read(tmp_path, settings, fmt, message):
    path = sources_file(tmp_path, settings, fmt)
    with pytest.raises(SourceConfigError) as error:
        load_sources(path)
    assert message in str(error.value)
    assert str(error.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("settings", "subscriber", "counterparty", "stored", "outcome", "contract"),
    [
        # K-MIN holds 43316812724 (head-data), K-SEC the range 4930123400–4930123499
        ('country = "AT"', "0316 812724", "0316 123456", ("43316812724", "43316123456"), "rated", "K-MIN"),
        ('country = "AT"', "(0316) 81272420", "0049 30 1234", ("4331681272420", "49301234"), "rated", "K-MIN"),
        ('country = "AT"', "0043 316 812724", "+49 30 1234", ("43316812724", "49301234"), "rated", "K-MIN"),
        ('country = "DE"', "030 123450 77", "030 1234", ("493012345077", "49301234"), "rated", "K-SEC"),
        ('country = "DE"', "0316 812724", "030 1234", ("49316812724", "49301234"), "unassigned", None),  # wrong country
        ('country = "AT"\ninternational_prefix = "900"', "900 43 316 812724", "0316 1", ("43316812724", "433161"), "rated", "K-MIN"),
        ("", "0316 812724", "0316 1", ("0316 812724", "0316 1"), "unassigned", None),  # no plan: kept as written
        ("", "+43 316 812724", "+43 316 1", ("43316812724", "433161"), "rated", "K-MIN"),
    ],
)
def test_national_numbers_of_a_source_with_a_country_are_assigned(tmp_path, settings, subscriber, counterparty, stored, outcome, contract):
    sources = load_sources(sources_file(tmp_path, settings))
    calls = tmp_path / "calls-1.csv"
    calls.write_text(HEADER + f"c1,{subscriber},{counterparty},2026-10-01 10:00:00,61\n", encoding="utf-8")
    read = read_usage_file(calls, sources["pbx"])
    assert read.rejects.height == 0
    usage = normalised_usage(read.usage, numbering_plan_of(sources))
    result = rate(usage, catalog(), "run")
    try:
        assert {k: v for k, v in result.counts().items() if v} == {outcome: 1}
        table = result.table("rated_usage" if outcome == "rated" else "unassigned").pl()
        assert table.select("record_key", "subscriber_id", "counterparty").row(0) == ("pbx:c1", *stored)
        if contract is not None:
            assert table.get_column("contract_id").to_list() == [contract]
    finally:
        result.con.close()
