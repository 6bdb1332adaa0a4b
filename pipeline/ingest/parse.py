"""Text cells to typed columns, vectorised, with every cell that does not parse reported.

Usage readers (and any other reader of text tables, such as catalog CSVs) read
files as text and declare, per column, a `Cast`: the rule a cell must satisfy and
its Polars conversion. `parsed(frame, casts)` converts them all together and
returns the typed frame, a per-row `ok` flag and one failure row per bad cell
(line, column, value, rule), so a bad cell rejects its row instead of failing the
whole file.

Cells are trimmed of surrounding blanks; an empty cell is null. A `required` cast
reports an empty cell with the rule "required".

>>> frame = pl.DataFrame({"line": [1, 2, 3], "n": ["12", "x", ""]})
>>> result = parsed(frame, {"n": integer(required=True)}, line="line")
>>> result.frame["n"].to_list(), result.ok.to_list()
([12, None, None], [True, False, False])
>>> result.failures.rows()
[(2, 'n', 'x', 'integer'), (3, 'n', '', 'required')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

import sql
from pipeline import engine

DEFAULT_TIMESTAMP = "%Y-%m-%d %H:%M:%S"
REQUIRED = "required"
#: The rule of text: no NUL character. PostgreSQL's text cannot store one, so a single such value
#: would stop every write of its run.
NUL_RULE = "text without NUL characters"

_IPV4 = r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"
_IPV6 = r"^(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


@dataclass(frozen=True)
class Cast:
    """How one text column becomes typed.

    `convert` maps trimmed text (an expression) to the typed value, or to null where the
    text breaks `rule` (what it makes of an empty cell does not matter: that cell is null);
    `fallbacks` are further conversions tried, in order, only when some cells did not
    convert (so the common case pays for one); `check`, if given, is a further condition
    the converted value must meet (a range; the rule of a text, whose value is the text
    itself). A present cell that converts to null or fails the check failed.

    `shown` marks a column that is typed already (a Parquet file's integers or timestamps):
    it is neither cast to text nor trimmed, `convert` takes the typed value, and a value that
    fails is reported as `shown` writes it, the text its column would have been read from.

    `zone`: where `convert` (or a fallback) gives naive times, the time zone they are wall-clock
    times in; `parsed` turns them into UTC instants with DuckDB's zone data (`wall_clock_utc`),
    for the whole column at once, before `check`.
    """

    rule: str
    convert: Callable[[pl.Expr], pl.Expr]
    required: bool = False
    check: Callable[[pl.Expr], pl.Expr] | None = None
    fallbacks: tuple[Callable[[pl.Expr], pl.Expr], ...] = ()
    shown: Callable[[pl.Expr], pl.Expr] | None = None
    zone: str | None = None


@dataclass
class Parsed:
    """Typed columns, which rows parsed completely, and one row per failed cell."""

    frame: pl.DataFrame
    ok: pl.Series
    failures: pl.DataFrame

    @property
    def good(self) -> pl.DataFrame:
        """The rows whose every cast cell parsed."""
        return self.frame.filter(self.ok)


def parsed(frame: pl.DataFrame, casts: Mapping[str, Cast], *, line: str = "source_line") -> Parsed:
    """Convert the text columns named in `casts`; other columns pass through unchanged.

    Args:
        frame: text columns plus a `line` column that locates each row in messages.
        casts: column name → Cast.
        line: the column copied into `failures` to say where a bad cell is.

    Returns:
        Parsed: `frame` with the cast columns typed (failed cells null), `ok` per row,
        and `failures` with columns `line`, column, value (the cell as written), rule.
    """
    missing = [name for name in casts if name not in frame.columns]
    if missing:
        raise KeyError(f"columns to parse are missing from the frame: {missing}")
    names = list(casts)
    texts = [f"__text_{i}" for i in range(len(names))]
    values = [f"__value_{i}" for i in range(len(names))]
    rules = [f"__rule_{i}" for i in range(len(names))]
    # a text cell is present when its trimmed text is not empty, a typed one when it is not null
    present = {name: _present(casts[name], t) for name, t in zip(names, texts)}
    work = frame.with_columns(
        (pl.col(name).cast(pl.String).str.strip_chars() if casts[name].shown is None else pl.col(name)).alias(t)
        for name, t in zip(names, texts)
    )
    work = work.with_columns(casts[name].convert(pl.col(t)).alias(v) for name, t, v in zip(names, texts, values))
    work = work.with_columns(_in_utc(work, {v: casts[name].zone for name, v in zip(names, values) if _local(work[v], casts[name])}))
    for name, t, v in zip(names, texts, values):
        for fallback in casts[name].fallbacks:
            unconverted = present[name] & pl.col(v).is_null()
            if not work.select(unconverted.any()).item():
                break
            value = work.select(pl.when(unconverted).then(fallback(pl.col(t)))).to_series()
            if _local(value, casts[name]):
                value = wall_clock_utc(value, casts[name].zone)
            work = work.with_columns(pl.when(unconverted).then(value).otherwise(pl.col(v)).alias(v))
    # the checks look at the converted column, so a conversion is never computed twice
    work = work.with_columns(_broken_rule(casts[name], present[name], pl.col(v)).alias(r) for name, v, r in zip(names, values, rules))
    ok = work.select(pl.all_horizontal(pl.col(rules).is_null()).alias("ok")).to_series()
    failures = _failure_rows(work, casts, rules, line, ok)
    # a value is null where its cell is absent or failed: a column is rewritten only when such a cell
    # has a value (a text's value is its trimmed text, "" where empty); most columns are kept as they are
    stray = work.select(((~present[name] | pl.col(r).is_not_null()) & pl.col(v).is_not_null()).any() for name, v, r in zip(names, values, rules))
    stray = stray.row(0)
    typed = work.with_columns(
        (pl.when(present[name] & pl.col(r).is_null()).then(pl.col(v)) if any_stray else pl.col(v)).alias(name)
        for name, v, r, any_stray in zip(names, values, rules, stray)
    ).drop(texts, values, rules)
    return Parsed(frame=typed, ok=ok, failures=failures)


def _present(cast: Cast, text: str) -> pl.Expr:
    """Whether a cell holds something: trimmed text that is not empty; a typed value that is not null."""
    return pl.col(text).is_not_null() if cast.shown is not None else (pl.col(text).str.len_bytes() > 0).fill_null(False)


def _local(value: pl.Series, cast: Cast) -> bool:
    """Whether a converted column holds wall-clock times of the cast's zone, still to be made UTC."""
    return cast.zone is not None and isinstance(value.dtype, pl.Datetime) and value.dtype.time_zone is None


def _as_written(name: str, cast: Cast) -> pl.Expr:
    """A cell's text as its file wrote it (a typed column: as `shown` writes it)."""
    return pl.col(name).cast(pl.String) if cast.shown is None else cast.shown(pl.col(name))


def _broken_rule(cast: Cast, present: pl.Expr, value: pl.Expr) -> pl.Expr:
    """The rule a cell breaks, or null when it is fine: a present cell that did not convert or fails the check."""
    failed = value.is_null() if cast.check is None else value.is_null() | ~cast.check(value).fill_null(False)
    rule = pl.when(present & failed).then(pl.lit(cast.rule))
    if cast.required:
        rule = pl.when(~present).then(pl.lit(REQUIRED)).otherwise(rule)
    return rule


def _failure_rows(work: pl.DataFrame, casts: Mapping[str, Cast], rules: list[str], line: str, ok: pl.Series) -> pl.DataFrame:
    """One row per failed cell, in row order then column order."""
    names = list(casts)
    schema = {line: work.schema[line], "column": pl.String, "value": pl.String, "rule": pl.String}
    if ok.all():
        return pl.DataFrame(schema=schema)
    bad = work.filter(~ok)
    parts = [
        bad.filter(pl.col(rule).is_not_null()).select(
            pl.col(line),
            pl.lit(name, pl.String).alias("column"),
            _as_written(name, casts[name]).fill_null("").alias("value"),
            pl.col(rule).alias("rule"),
            pl.lit(position, pl.Int32).alias("__position"),
        )
        for position, (name, rule) in enumerate(zip(names, rules))
    ]
    return pl.concat(parts).sort(line, "__position").drop("__position").cast(schema)


# --- casts -----------------------------------------------------------------------------


def text(*, required: bool = False, pattern: str | None = None, choices: Collection[str] | None = None) -> Cast:
    """Text without NUL characters (PostgreSQL's text cannot store one); optionally it must match
    a regex `pattern` or be one of `choices`."""
    # the value is the text itself, kept as it is (not copied): the rule is a check
    if pattern is not None:
        return Cast(f"text matching {pattern}", _itself, required, lambda t: t.str.contains(pattern) & ~_has_nul(t))
    if choices is not None:
        allowed = sorted(choices)
        return Cast(f"one of {', '.join(allowed)}", _itself, required, lambda t: t.is_in(allowed))
    return Cast(NUL_RULE, _itself, required, lambda t: ~_has_nul(t))


def _itself(t: pl.Expr) -> pl.Expr:
    return t


def _has_nul(t: pl.Expr) -> pl.Expr:
    return t.str.contains("\x00", literal=True)


def integer(*, required: bool = False, minimum: int | None = None, maximum: int | None = None) -> Cast:
    """A whole number (Int64), optionally within [minimum, maximum]."""
    rule = "integer" + _bounds(minimum, maximum)
    return Cast(rule, lambda t: t.cast(pl.Int64, strict=False), required, _within(minimum, maximum))


def number(*, required: bool = False, minimum: float | None = None, maximum: float | None = None) -> Cast:
    """A decimal number read as Float64: for measurements (flow durations), never for money."""
    rule = "number" + _bounds(minimum, maximum)
    return Cast(rule, lambda t: t.cast(pl.Float64, strict=False), required, _within(minimum, maximum))


def decimal(precision: int, scale: int, *, required: bool = False) -> Cast:
    """An exact decimal with at most `scale` fractional digits (money); never rounded here."""
    pattern = rf"^[+-]?\d+(?:\.\d{{1,{scale}}})?$"
    dtype = pl.Decimal(precision, scale)
    return Cast(
        f"decimal({precision},{scale})",
        lambda t: pl.when(t.str.contains(pattern)).then(t.cast(dtype, strict=False)),
        required,
    )


def boolean(*, required: bool = False) -> Cast:
    """true/false, yes/no, t/f, y/n or 1/0, in any case."""
    mapping = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
    return Cast(
        "boolean (true/false)",
        lambda t: t.str.to_lowercase().replace_strict(mapping, default=None, return_dtype=pl.Boolean),
        required,
    )


def date(fmt: str = "%Y-%m-%d", *, required: bool = False) -> Cast:
    """A calendar date in `fmt` (chrono/strftime syntax)."""
    return Cast(f"date {fmt}", lambda t: _whole_width(t, fmt).str.strptime(pl.Date, fmt, strict=False), required)


def timestamp(
    fmt: str | Sequence[str] = DEFAULT_TIMESTAMP,
    timezone: str = "UTC",
    *,
    required: bool = False,
    earliest: str | None = None,
    latest: str | None = None,
) -> Cast:
    """A point in time written in `fmt` (or the first of several formats that fits), as UTC microseconds.

    Text without an offset is wall-clock time in `timezone`. In the hour a DST change
    repeats, the earlier instant (still summer time) is taken; a wall-clock time that
    does not exist (skipped by a DST change) fails. When a format carries an offset
    (`%z`, `%:z`, `%#z`, `%+`; each also reads `Z` as +00:00) the offset wins and `timezone` is
    not used; so does `%s`:
    seconds since the Unix epoch are an instant, UTC by definition.
    `earliest` (inclusive) and `latest` (exclusive), ISO dates in UTC, bound the value.
    """
    formats = [fmt] if isinstance(fmt, str) else list(fmt)
    aware = [any(token in f for token in ("%z", "%:z", "%#z", "%+", "%s")) for f in formats]
    rule = "timestamp " + " or ".join(formats) + ("" if all(aware) or timezone == "UTC" else f" in {timezone}")
    if earliest or latest:
        rule += f" from {earliest or '-'} until {latest or '-'}"
    low = datetime.fromisoformat(earliest).replace(tzinfo=UTC) if earliest else None
    high = datetime.fromisoformat(latest).replace(tzinfo=UTC) if latest else None

    def one(t: pl.Expr, f: str, has_offset: bool) -> pl.Expr:
        if has_offset:
            # %z and %:z read as %#z, which also takes ISO 8601's `Z` (and +hh): the same instants otherwise
            f = _OFFSET.sub("%#z", f)
            return t.str.strptime(pl.Datetime("us", "UTC"), f, strict=False).dt.convert_time_zone("UTC")
        # wall-clock time: the Cast's zone makes it UTC
        return _whole_width(t, f).str.strptime(pl.Datetime("us"), f, strict=False)

    converts = [lambda t, f=f, a=a: one(t, f, a) for f, a in zip(formats, aware)]
    check = _within(low, high, exclusive_maximum=True) if low or high else None
    return Cast(rule, converts[0], required, check, tuple(converts[1:]), zone=timezone)


#: An offset directive of a timestamp format (%z, %:z), not a literal "%%z".
_OFFSET = re.compile(r"(?<!%)%:?z")
#: Widths of the numeric directives a format may run together without separators.
_WIDTHS = {"%Y": 4, "%y": 2, "%m": 2, "%d": 2, "%H": 2, "%M": 2, "%S": 2, "%j": 3}
_TOKEN = re.compile(r"%[A-Za-z%]|.", re.DOTALL)


def run_together_width(fmt: str) -> int | None:
    """The length of every text `fmt` reads when two of its numbers run together with no separator
    (`%Y%m%d%H%M%S`: 14), else None. strptime reads a number of one digit where two are due, so
    the 13 digits `2026100109000` (a digit lost) would read as 09:00:00: such text is refused.
    With separators between the numbers (`%d.%m.%Y`) a number of fewer digits is unambiguous.

    >>> run_together_width("%Y%m%d%H%M%S"), run_together_width("%Y%m%d %H:%M"), run_together_width("%d.%m.%Y %H:%M")
    (14, 14, None)
    """
    tokens = _TOKEN.findall(fmt)
    if any(t.startswith("%") and t != "%%" and t not in _WIDTHS for t in tokens):
        return None  # a name, a fraction, an offset: no fixed width
    if not any(a in _WIDTHS and b in _WIDTHS for a, b in zip(tokens, tokens[1:])):
        return None
    return sum(_WIDTHS.get(t, 1) for t in tokens)


def _whole_width(t: pl.Expr, fmt: str) -> pl.Expr:
    """`t`, null where a format of numbers run together (run_together_width) does not fit it exactly."""
    width = run_together_width(fmt)
    return t if width is None else pl.when(t.str.len_chars() == width).then(t)


def _in_utc(frame: pl.DataFrame, zones: dict[str, str]) -> list[pl.Series]:
    """The naive columns `zones` names made UTC instants by wall_clock_utc, in one call per zone:
    each call asks DuckDB (some 9 ms per file: an Asterisk file's start and answer share it)."""
    out = []
    for zone in dict.fromkeys(zones.values()):
        columns = [c for c, z in zones.items() if z == zone]
        utc = wall_clock_utc(pl.concat([frame[c].dt.cast_time_unit("us") for c in columns]), zone)
        out += [utc.slice(i * frame.height, frame.height).alias(c) for i, c in enumerate(columns)]
    return out


def wall_clock_utc(naive: pl.Series, timezone: str) -> pl.Series:
    """Naive wall-clock times in `timezone` as UTC instants (microseconds), by DuckDB's zone data,
    the one bands and billing days use: in the hour a DST change repeats the earlier one, a time
    the change skips null (`timestamp`'s rule, for typed columns too). DuckDB gives the offset of
    each local day (sql/duck/ingest/wall_clock_days.sql) and the instant of each time on a day of
    a change (wall_clock_changes.sql); UTC itself has no rules to look up.
    """
    naive = naive.dt.cast_time_unit("us")
    if timezone == "UTC" or naive.null_count() == naive.len():
        return naive.dt.replace_time_zone("UTC")
    con = engine.cursor()  # a connection of its own (threads read files at once), at no cost
    try:
        con.register("wall_clock", naive.to_frame("local").to_arrow())
        con.execute(f"CREATE TEMP TABLE wall_clock_days AS {sql.load('duck/ingest/wall_clock_days')}", {"zone": timezone})
        days = con.sql("SELECT day, offset_s FROM wall_clock_days").pl()
        changed = days.get_column("offset_s").has_nulls()  # most files have no day of a change
        changes = con.sql(sql.load("duck/ingest/wall_clock_changes"), params={"zone": timezone}).pl() if changed else None
    finally:
        con.close()
    rows = naive.to_frame("local").with_columns(pl.col("local").dt.date().alias("day"))
    rows = rows.join(days, on="day", how="left", maintain_order="left")
    utc = pl.col("local").cast(pl.Int64) - pl.col("offset_s") * 1_000_000
    if changes is not None:
        rows = rows.join(changes, on="local", how="left", maintain_order="left")
        utc = pl.coalesce(utc, pl.col("utc_us"))
    return rows.select(utc.cast(pl.Datetime("us", "UTC"))).to_series().alias(naive.name)


def ip_address(*, required: bool = False) -> Cast:
    """An IPv4 (dotted quad) or IPv6 address, kept as written."""
    return Cast(
        "ip address",
        lambda t: pl.when(t.str.contains(_IPV4) | (t.str.contains(":") & t.str.contains(_IPV6))).then(t),
        required,
    )


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" {minimum}..{maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _within(minimum: object, maximum: object, *, exclusive_maximum: bool = False) -> Callable[[pl.Expr], pl.Expr] | None:
    """A check that a converted value lies within the bounds (None when there are none)."""
    if minimum is None and maximum is None:
        return None

    def check(value: pl.Expr) -> pl.Expr:
        keep = pl.lit(True)
        if minimum is not None:
            keep = keep & (value >= pl.lit(minimum))
        if maximum is not None:
            keep = keep & ((value < pl.lit(maximum)) if exclusive_maximum else (value <= pl.lit(maximum)))
        return keep

    return check
