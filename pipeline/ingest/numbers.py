"""Usage identifiers in canonical form: phone numbers as E.164 digits, MAC addresses as aa:bb:cc:dd:ee:ff.

Readers keep identifiers as the source wrote them; this ingest step, between reading
and rating (docs/assignment.md), rewrites them once per batch:

* phone (`subscriber_id`, and `counterparty` of phone records): a bracketed trunk prefix
  after the country code (`+43 (0)316 …`) and separators (space, `-`, `.`, `/`,
  parentheses) are dropped; then `+` or the source's international prefix means
  the country code follows; the source's national (trunk) prefix is replaced by its
  country code; anything else is a bare number: international (the E.164 digits without
  `+`, as most switches write them), or national (country code + number) where the
  source's `bare_numbers` says so, by default in a country without a trunk prefix;
* mac: to lowercase, colon-separated;
* ipv4, ipv6, string: unchanged (the key rules read every valid notation).

A value that still is not valid stays as written, so the record ends up unassigned with
the reason and the original text (the unassigned report shows it). The per-source
conventions come from the `phonenumbers` metadata, looked up once per configured country
(`numbering_plan`), never per record.

>>> plan = numbering_plan({"pbx-graz": "AT"})
>>> import polars as pl
>>> pl.select(e164(pl.lit("0316 81 27 24"), plan.row(0, named=True))).item()
'43316812724'
"""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers
import polars as pl

from pipeline.assign.keys import mac_text, phone_key
from schemas.numbering import NumberingPlan

_SEPARATORS = r"[\s\-./()]"
#: `+43 (0)316 …`, `0043 (0)316 …`: the trunk prefix in brackets after the country code is not dialled from abroad.
_TRUNK_HINT = r"^((?:\+|00)[0-9]{1,3})[\s\-./]*\(0\)"
PLAN_SCHEMA = {
    "source": pl.String,
    "region": pl.String,
    "country_code": pl.String,
    "national_prefix": pl.String,
    "international_prefix": pl.String,
    "bare_numbers": pl.String,
}


class NumberingPlanError(ValueError):
    """A configured country is not one `phonenumbers` knows."""


def numbering_plan(countries: Mapping[str, str], prefixes: Mapping[str, Mapping[str, str]] | None = None) -> pl.DataFrame:
    """The numbering plan of each source from its ISO 3166 country code (`{"pbx-graz": "AT"}`).

    Args:
        prefixes: per source, `national_prefix` and/or `international_prefix` (digits) that replace
            the country's own (a PBX that writes an outside-line digit before every number, say),
            and `bare_numbers`: what a number written without any prefix is. Default: national
            in a country without a trunk prefix (Denmark's `33 12 34 56`, Italy's `06 …`),
            where a switch writes national numbers as dialled; elsewhere international (the
            E.164 digits without `+`, as most switches write them).
    Raises NumberingPlanError naming the source whose country is unknown.
    """
    rows = []
    prefixes = prefixes or {}
    for source, region in countries.items():  # a loop over configured sources, not records
        region = region.upper()
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if meta is None or not phonenumbers.country_code_for_region(region):
            raise NumberingPlanError(
                f"source {source!r}: {region!r} is not a country phonenumbers knows: give an ISO 3166 alpha-2 code such as AT or DE"
            )
        preferred = (meta.preferred_international_prefix or "").replace("~", "")
        rows.append(
            {
                "source": source,
                "region": region,
                "country_code": str(phonenumbers.country_code_for_region(region)),
                "national_prefix": meta.national_prefix or None,
                # the dialled prefix is a pattern in some countries; the preferred one is a plain number
                "international_prefix": meta.international_prefix or preferred or "00",
                "bare_numbers": "international" if meta.national_prefix else "national",
                **prefixes.get(source, {}),
            }
        )
    plan = pl.DataFrame(rows, schema=PLAN_SCHEMA)
    return NumberingPlan.validate(plan)


def e164(number: pl.Expr, plan: Mapping[str, str | None] | None = None) -> pl.Expr:
    """A dialled or presented phone number as E.164 digits, by one source's plan (None: `+` and separators only).

    For a single number or a small table; `normalised_usage` applies the same rule to a batch.
    """
    plan = plan or {}
    international = plan.get("international_prefix")
    return _e164(
        number,
        pl.lit(plan.get("country_code"), pl.String),
        pl.lit(plan.get("national_prefix"), pl.String),
        pl.lit(international, pl.String),
        pl.lit(plan.get("bare_numbers") == "national"),
        international,
    )


def _e164(
    number: pl.Expr, country: pl.Expr, national: pl.Expr, international: pl.Expr, bare_national: pl.Expr, pattern: str | None = None
) -> pl.Expr:
    """The rule: drop separators; `+` or the international prefix: international; the national
    prefix: country code + rest; no prefix: country code + number where bare numbers are
    national, else the number.

    `international` is a plain digit prefix per row; `pattern` (a regex) replaces it for a
    country whose prefix is a pattern.
    """
    return _from_digits(_digits(number), country, national, international, bare_national, pattern)


def _digits(number: pl.Expr) -> pl.Expr:
    """A written number without its separators and without a bracketed trunk prefix after the country code.

    The hint's pattern runs only on numbers holding `(0)` (a literal search is many times faster)."""
    hinted = pl.when(number.str.contains("(0)", literal=True)).then(number.str.replace(_TRUNK_HINT, "${1}")).otherwise(number)
    return hinted.str.replace_all(_SEPARATORS, "")


def _from_digits(
    digits: pl.Expr, country: pl.Expr, national: pl.Expr, international: pl.Expr, bare_national: pl.Expr, pattern: str | None = None
) -> pl.Expr:
    """`_e164` after the separators are gone."""
    if pattern is not None and not pattern.isdigit():
        international_hit = digits.str.contains(f"^(?:{pattern})")
        after_international = digits.str.replace(f"^(?:{pattern})", "")
    else:
        international_hit = digits.str.starts_with(international).fill_null(False)
        after_international = digits.str.slice(international.str.len_bytes())
    return (
        pl.when(digits.str.starts_with("+")).then(digits.str.slice(1))
        .when(international_hit).then(after_international)
        .when(digits.str.starts_with(national).fill_null(False)).then(country + digits.str.slice(national.str.len_bytes()))
        .when(bare_national.fill_null(False) & digits.str.contains(r"^[0-9]+$")).then(country + digits)
        .otherwise(digits)
    )


def normalised_usage(usage: pl.DataFrame, plan: pl.DataFrame | None = None) -> pl.DataFrame:
    """`usage` with identifiers in canonical form (module docstring); same rows, same order, same schema.

    Only the rows the rule can change are worked on (`_changeable`): most switches write E.164
    digits, which stay as they are unless the source's plan reads them otherwise, and the
    rule's string work costs 3 cpu-s per 10 M records, the test 0.4-0.5 (docs/performance.md).

    Args:
        plan: numbering_plan rows; sources without a row get `+` and separators handled only.
    """
    plan = pl.DataFrame(schema=PLAN_SCHEMA) if plan is None else plan.select(list(PLAN_SCHEMA))
    rows = usage.select(_changeable(plan)).to_series()
    if not rows.any():
        return usage
    if rows.all():
        return _normalised(usage, plan)
    at = rows.arg_true()
    done = _normalised(usage.select("source", "id_type", "subscriber_id", "counterparty").gather(at), plan)
    return usage.with_columns(usage.get_column(c).clone().scatter(at, done.get_column(c)) for c in ("subscriber_id", "counterparty"))


def _changeable(plan: pl.DataFrame) -> pl.Expr:
    """Whether the rule may change a record's identifiers: a MAC, or a phone record with a number
    that is not plain digits (separators, `+`, brackets, text) or whose source's plan rewrites
    digits (they start with its international or national prefix, bare numbers are national, or
    the international prefix is a pattern). Plain digits of any other source are E.164 already,
    or stay as written (and end up unassigned with the reason)."""

    def kept(column: str) -> pl.Expr:
        number = pl.col(column)
        plain = number.cast(pl.UInt64, strict=False).is_not_null() & ~number.str.starts_with("+")  # digits, at most 20
        rewritten = pl.lit(False)
        for row in plan.iter_rows(named=True):  # configured sources, not records
            by_plan = pl.lit(row["bare_numbers"] == "national" or not (row["international_prefix"] or "").isdigit())
            for prefix in (row["international_prefix"], row["national_prefix"]):
                if prefix:
                    by_plan = by_plan | number.str.starts_with(prefix)
            rewritten = rewritten | ((pl.col("source") == row["source"]) & by_plan)
        return number.is_null() | (plain & ~rewritten)

    phone = pl.col("id_type") == "phone"
    return ((pl.col("id_type") == "mac") | (phone & ~(kept("subscriber_id") & kept("counterparty")))).fill_null(True).alias("changeable")


def _normalised(usage: pl.DataFrame, plan: pl.DataFrame) -> pl.DataFrame:
    """normalised_usage of every row of `usage`. Computed in stages (each step a column): the rule's
    parts are used several times."""
    plain = plan.filter(pl.col("international_prefix").str.contains(r"^[0-9]+$"))
    patterned = plan.filter(~pl.col("international_prefix").str.contains(r"^[0-9]+$"))
    phone = pl.col("id_type") == "phone"
    # each row's conventions by its source: a chain of equality tests over the few configured sources
    conventions = {c: pl.lit(None, pl.String) for c in ("_cc", "_national", "_international", "_bare")}
    for row in plain.iter_rows(named=True):  # configured sources, not records
        is_source = pl.col("source") == row["source"]
        for column, field in (("_cc", "country_code"), ("_national", "national_prefix"), ("_international", "international_prefix"),
                              ("_bare", "bare_numbers")):  # fmt: skip
            conventions[column] = pl.when(is_source).then(pl.lit(row[field], pl.String)).otherwise(conventions[column])

    def e164_of(digits: str) -> pl.Expr:
        normalised = _from_digits(
            pl.col(digits), pl.col("_cc"), pl.col("_national"), pl.col("_international"), pl.col("_bare") == "national"
        )
        for row in patterned.iter_rows(named=True):  # the few configured sources with a prefix pattern
            pattern = _from_digits(
                pl.col(digits), pl.lit(row["country_code"]), pl.lit(row["national_prefix"], pl.String), pl.lit(None, pl.String),
                pl.lit(row["bare_numbers"] == "national"), row["international_prefix"],
            )
            normalised = pl.when(pl.col("source") == row["source"]).then(pattern).otherwise(normalised)
        return normalised

    def kept_unless_valid(column: str, candidate: str) -> pl.Expr:
        # a value that does not become E.164 digits is kept as written, for the unassigned reason
        return pl.when(phone & phone_key(pl.col(candidate)).is_not_null()).then(pl.col(candidate)).otherwise(pl.col(column))

    def hinted(column: str) -> pl.Expr:
        # `011 43 (0)316 …`: the bracketed trunk prefix also follows a source's own international prefix.
        # One branch per source (a row has one source), each on the number as written: an expression
        # that took the one before as its number would grow threefold per source
        number = pl.col(column)
        bracketed = number.str.contains("(0)", literal=True)
        rule = None
        for row in plan.iter_rows(named=True):  # configured sources, not records
            prefix = row["international_prefix"]
            if prefix in (None, "00"):
                continue  # `00` (and `+`) are _TRUNK_HINT's own
            hint = rf"^((?:{prefix})[\s\-./]*[0-9]{{1,3}})[\s\-./]*\(0\)"
            own = (pl.col("source") == row["source"]) & bracketed
            rule = (pl.when(own) if rule is None else rule.when(own)).then(number.str.replace(hint, "${1}"))
        return number if rule is None else rule.otherwise(number)

    digits = lambda column: _digits(hinted(column))  # noqa: E731 - \s covers the ends
    mac = pl.when(pl.col("id_type") == "mac").then(pl.coalesce(mac_text(pl.col("subscriber_id")), pl.col("subscriber_id")))
    return (
        usage.lazy()
        .with_columns(digits("subscriber_id").alias("_sid"), digits("counterparty").alias("_cp"), **conventions)
        .with_columns(e164_of("_sid").alias("_sid"), e164_of("_cp").alias("_cp"))
        .with_columns(
            mac.otherwise(kept_unless_valid("subscriber_id", "_sid")).alias("subscriber_id"),
            kept_unless_valid("counterparty", "_cp").alias("counterparty"),
        )
        .select(usage.columns)
        .collect()
    )
