"""Public holidays for time bands, from the `holidays` package, built once per run.

A tariff's `holiday` bands apply on the public holidays of its holiday country (and
subdivision) in the contract's local time (tariff_pricing.csv). The table holds one row per
calendar and holiday, as days since 1970-01-01, so records find theirs with one integer join.
"""

from __future__ import annotations

import datetime as dt

import holidays
import polars as pl

EPOCH = dt.date(1970, 1, 1)
HOLIDAY_SCHEMA = {"hset_no": pl.Int32, "day": pl.Int64, "name": pl.String}


def holiday_days(calendars: pl.DataFrame, years: range) -> pl.DataFrame:
    """Every public holiday of each calendar in `years`.

    Args:
        calendars: (hset_no, holiday_country, holiday_subdiv) — one row per calendar in use.

    >>> cal = pl.DataFrame({"hset_no": [1], "holiday_country": ["AT"], "holiday_subdiv": [None]})
    >>> holiday_days(cal, range(2026, 2027)).filter(pl.col("day") == (dt.date(2026, 12, 25) - EPOCH).days)["name"].item()
    'Christmas Day'
    """
    frames = [pl.DataFrame(schema=HOLIDAY_SCHEMA)]
    # one loop step per holiday calendar of the catalog, never per record
    for hset_no, country, subdiv in calendars.select("hset_no", "holiday_country", "holiday_subdiv").rows():
        days = holidays.country_holidays(country, subdiv=subdiv, years=list(years), language="en_US")
        frames.append(
            pl.DataFrame(
                {"hset_no": [hset_no] * len(days), "day": [(d - EPOCH).days for d in days], "name": list(days.values())},
                schema=HOLIDAY_SCHEMA,
            )
        )
    return pl.concat(frames)
