"""The numbering plan: how each usage source writes phone numbers, so ingest can make them E.164 digits.

One row per source that writes national or prefixed numbers, built once from the
configured country by pipeline.ingest.numbers.numbering_plan (with the `phonenumbers`
metadata) and then applied to every record with Polars expressions.
"""

from __future__ import annotations

import pandera.polars as pandera

from schemas.catalog import COUNTRY_CODE

#: What a number with neither `+`, nor the international nor the national prefix is.
BARE_NUMBERS = ("international", "national")


class NumberingPlan(pandera.DataFrameModel):
    """A source's dialling conventions (ITU-T E.164 / E.123).

    `international_prefix` is a regular expression (some countries have several, e.g.
    Australia `0011` or `0014`…); `national_prefix` is the trunk prefix a national number
    starts with (`0` in Austria and Germany, `1` in North America), empty where the
    country has none (Italy: national numbers keep their leading 0 after the country code).
    `bare_numbers` says what a number with none of these prefixes is: `national` (the country
    code goes before it) or `international` (E.164 digits already).
    """

    source: str = pandera.Field(unique=True, str_length={"min_value": 1})
    region: str = pandera.Field(str_matches=r"^[A-Z]{2}$")
    country_code: str = pandera.Field(str_matches=COUNTRY_CODE)
    national_prefix: str = pandera.Field(nullable=True, str_matches=r"^[0-9]+$")
    international_prefix: str = pandera.Field(str_length={"min_value": 1})
    bare_numbers: str = pandera.Field(isin=list(BARE_NUMBERS))

    class Config:
        strict = True
        coerce = False
        name = "numbering_plan"
