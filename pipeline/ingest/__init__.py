"""Ingest: which canonical usage rows are valid, and which repeat an earlier record.

Both answers are row masks over the batch, so a 10 M-row batch is copied once, when
the stages after it take the rows they need. Bad rows become rejects with a reason;
duplicates keep the run that saw their key first.
"""

from __future__ import annotations

from functools import cache

import polars as pl
from pandera.errors import SchemaErrors

from schemas.usage import ROW_RULES, USAGE_POLARS, UsageRecord

#: Rejects as produced by readers and validation (the job adds the run id).
REJECT_SCHEMA = {
    "source_file": pl.String,
    "source_line": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "rule": pl.String,
    "reason": pl.String,
    "raw": pl.String,
}


def _str_length(c: pl.Expr, min_value=None, max_value=None, exact_value=None) -> pl.Expr:
    if (min_value, max_value, exact_value) == (1, None, None):
        # a string has a character when it has a byte; bytes are counted without reading the
        # string (3 columns of 10 M: 0.03 against 0.10 cpu-s for its characters)
        return c.str.len_bytes() >= 1
    n = c.str.len_chars()
    if exact_value is not None:
        return n == exact_value
    if max_value is None:
        return n >= min_value
    return n <= max_value if min_value is None else n.is_between(min_value, max_value)


#: pandera's built-in column checks that `_keeps_every_rule` knows, as expressions (pandera's own,
#: except where noted).
_COLUMN_RULES = {
    "greater_than_or_equal_to": lambda c, min_value: c >= min_value,
    "less_than_or_equal_to": lambda c, max_value: c <= max_value,
    # one comparison per allowed value: 0.05 cpu-s for 10 M short strings, is_in's hash lookups 0.10
    "isin": lambda c, allowed_values: pl.any_horizontal(c == v for v in sorted(allowed_values)),
    "str_length": _str_length,
}


@cache
def _keeps_every_rule() -> pl.Expr | None:
    """Every rule of `UsageRecord` as one expression, true where a row keeps them all.

    pandera checks one rule at a time, a pass or more over the batch for each (33 passes and a
    row index per broken rule at 10 M records: 0.35 cpu-s). This one pass finds the rows that
    break a rule, and pandera checks only those: the rejects, their rules and their values are
    still pandera's. The rules are read from the model, so a rule added to it is not missed:
    one this does not know (a custom column check, uniqueness, a row rule not in ROW_RULES)
    gives None, and pandera checks the whole batch as before.
    """
    schema = UsageRecord.to_schema()
    if schema.unique:
        return None
    keeps = []
    for name, column in schema.columns.items():
        if column.unique or column.regex or USAGE_POLARS[name].is_float():  # a float's NaN counts as null
            return None
        if not column.nullable:
            keeps.append(pl.col(name).is_not_null())
    checks = [(check, _COLUMN_RULES, [pl.col(name)]) for name, column in schema.columns.items() for check in column.checks]
    checks += [(check, ROW_RULES, []) for check in schema.checks]
    for check, rules, column in checks:
        if check.name not in rules or check.groupby is not None or check.element_wise:
            return None
        rule = rules[check.name](*column, **check.statistics)
        keeps.append(rule.fill_null(check.ignore_na))  # a null breaks a rule only if it does not ignore nulls
    return pl.all_horizontal(keeps)


def validation_rejects(usage: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """Check every row against `UsageRecord`: a mask of valid rows, and one reject per bad row.

    A row that breaks several rules is rejected once, for the first rule in column order.
    Only the rows `_keeps_every_rule` finds wrong go to pandera (with the batch's schema, so a
    wrong column or dtype is still found): the bench's 10 M records with 5 000 bad rows take
    0.12 s, 0.19 cpu-s (pandera on the whole batch: 0.23 s, 0.35 cpu-s).
    """
    keeps = _keeps_every_rule() if usage.schema == USAGE_POLARS else None
    if keeps is None:
        rows, checked = None, usage
    else:
        rows = usage.select(keeps.not_()).to_series().arg_true()
        checked = usage.gather(rows)
    try:
        UsageRecord.validate(checked, lazy=True)
        return pl.Series("valid", [True], dtype=pl.Boolean).new_from_index(0, usage.height), pl.DataFrame(schema=REJECT_SCHEMA)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    if cases.filter(pl.col("index").is_null()).height:
        # a schema-level failure (a wrong column or dtype) means the reader broke its contract
        raise TypeError(f"usage frame does not have the canonical schema:\n{cases}")
    order = {c: i for i, c in enumerate(usage.columns)}
    first = (
        cases.with_columns(
            pl.col("index").cast(pl.Int64),
            pl.col("column").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_pos"),
        )
        .sort("index", "_pos")
        .unique("index", keep="first", maintain_order=True)
    )
    bad_checked = first.get_column("index")  # rows of `checked`, in batch order as `rows` is
    bad_rows = bad_checked if rows is None else rows.gather(bad_checked)
    rejects = checked.gather(bad_checked).with_columns(first.select("column", "failure_case", "check")).select(
        "source_file",
        "source_line",
        pl.col("column"),
        pl.col("failure_case").alias("value"),
        pl.col("check").alias("rule"),
        pl.format(
            "{} line {}: column {} value '{}' breaks rule {}",
            "source_file",
            "source_line",
            pl.col("column"),
            pl.col("failure_case").fill_null("null"),
            pl.col("check"),
        ).alias("reason"),
        pl.lit(None, pl.String).alias("raw"),
    )
    valid = pl.Series("valid", [True], dtype=pl.Boolean).new_from_index(0, usage.height).scatter(bad_rows, False)
    return valid, rejects.cast(REJECT_SCHEMA)


def duplicate_rows(keys: pl.Series, candidates: pl.Series, seen: pl.DataFrame | None = None) -> tuple[pl.Series, pl.Series]:
    """Which candidate rows repeat a record key, and the run that saw the key first.

    A key is repeated when an earlier candidate row of this batch (file order, then line)
    has it, or when `seen` (record_key, run_id) from earlier runs has it; then
    `first_seen_run` is that run (null when the first occurrence is in this batch).
    Hashes decide the common no-duplicate case cheaply; rows whose hashes collide are
    compared by their actual keys, so the result is exact.
    """
    n = keys.len()
    # every row's hash, the other candidates' too: a hash they share with a candidate only makes the
    # candidate a suspect, which its key then clears (the bench's 10 M keys: 0.34-0.41 s and 50 k page
    # faults, against 0.38-0.44 s and 59 k with the others' hashes nulled out and dropped, two copies)
    hashes = keys.hash()
    repeated_here = pl.Series("dup", [False], dtype=pl.Boolean).new_from_index(0, n)
    ordered = hashes.sort()  # a sort finds equal hashes faster than a hash table of 10 M
    collided = ordered.filter(ordered == ordered.shift(1)).unique()
    if collided.len():
        frame = pl.DataFrame({"h": hashes, "key": keys, "candidate": candidates}).with_row_index("i")
        suspects = frame.filter(pl.col("h").is_in(collided.implode()) & pl.col("candidate"))
        later = suspects.filter(~pl.col("key").is_first_distinct()).get_column("i")
        repeated_here = repeated_here.scatter(later, True)
    first_seen_run = pl.Series("first_seen_run", [None], dtype=pl.String).new_from_index(0, n)
    if seen is None or not seen.height:
        return repeated_here, first_seen_run
    # The hashes find the candidate rows whose key may be a seen one; only those rows are joined with
    # `seen`, which decides by the keys themselves. The bench's 10 M records with 215 k of their keys
    # seen (median of 7, the whole deduplicate stage): 1.05 s, 1.54 cpu-s when every key's string was
    # looked up (is_in) and joined; 0.64 s, 0.87 cpu-s so.
    earlier = seen.unique("record_key", keep="first").with_columns(pl.lit(True).alias("_seen"))
    maybe = (hashes.is_in(earlier.get_column("record_key").hash().implode()) & candidates).fill_null(False).arg_true()
    runs = pl.DataFrame({"record_key": keys.gather(maybe)}).join(earlier, on="record_key", how="left", maintain_order="left")
    found = runs.get_column("_seen").is_not_null()
    rows = maybe.filter(found)
    in_earlier_run = pl.Series("dup", [False], dtype=pl.Boolean).new_from_index(0, n).scatter(rows, True)
    if rows.len():
        first_seen_run = (
            pl.Series("first_seen_run", [None], dtype=runs.schema["run_id"])
            .new_from_index(0, n)
            .scatter(rows, runs.get_column("run_id").filter(found))
        )
    return (repeated_here | in_earlier_run).rename("dup"), first_seen_run
