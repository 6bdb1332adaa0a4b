"""What every usage reader shares: file bytes, fields, rejects, record keys, the canonical frame.

Text formats are parsed by Polars' CSV reader straight from the file's bytes, every
field as text. Field counts are checked without a second parse in the common case
(see `split_records`); only files with malformed lines are also split into
physical lines, which gives exact per-line counts, line numbers and raw text for
the rejects, while the good lines of the file are still read.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from pipeline.ingest.parse import Parsed
from pipeline.io.readers.config import Source
from schemas.outputs import REJECTS
from schemas.usage import USAGE_POLARS

#: Reject rows as readers produce them: schemas.outputs.REJECTS without run_id.
REJECT_SCHEMA = pl.Schema(
    {name: dtype for name, dtype in pl.from_arrow(REJECTS.empty_table()).schema.items() if name != "run_id"}
)
#: The `column` of a reject about a whole line (wrong field count, broken quoting).
ROW = "(row)"
#: Joins the fields of a record before hashing; cannot occur in a CSV field of these formats.
_UNIT_SEPARATOR = "\x1f"
#: Lines looked at to tell a headerless file's layout by its field count.
_SAMPLE_LINES = 50


class UnreadableFile(Exception):
    """The file cannot be read at all (empty, corrupt gzip, wrong format): quarantine it whole."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class ReadResult:
    """One file's canonical usage records and its rejected rows."""

    usage: pl.DataFrame
    rejects: pl.DataFrame
    #: text columns of `usage` no value of which can hold a NUL character: made of cells the
    #: reader's text casts checked (parse.text) and of configured text without one. The
    #: final check (readers._without_nul) reads the other text columns only.
    nul_free: frozenset[str] = frozenset()

    @property
    def rejected_records(self) -> int:
        """Input records rejected: a record with several bad cells has several reject rows."""
        return self.rejects.select(pl.col("source_line").n_unique()).item() if self.rejects.height else 0


class TextFile:
    """A text file's bytes and, computed only when needed, its physical lines.

    Lines (for raw text, quote checks and header lookups) cost a second pass over the
    bytes, so the common path, a well-formed file, never builds them.
    """

    def __init__(self, path: Path, data: bytes):
        self.path = path
        self.data = data
        self._lines: pl.DataFrame | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def lines(self) -> pl.DataFrame:
        """source_line (Int64, 1-based) and line (text without the line break); non-UTF-8 bytes become U+FFFD."""
        if self._lines is None:
            try:
                lines = pl.read_lines(self.data, name="line", row_index_name="source_line", row_index_offset=1)
            except pl.exceptions.PolarsError:
                self.data = self.data.decode("utf-8", errors="replace").encode("utf-8")
                lines = pl.read_lines(self.data, name="line", row_index_name="source_line", row_index_offset=1)
            self._lines = lines.with_columns(pl.col("source_line").cast(pl.Int64))
        return self._lines

    def head(self, count: int) -> pl.DataFrame:
        """The first `count` non-blank lines (source_line, line), read from the start of the file only."""
        size = 1 << 16
        while True:
            chunk = self.data[:size]
            complete = chunk if size >= len(self.data) else chunk[: chunk.rfind(b"\n") + 1]
            lines = pl.DataFrame({"line": complete.decode("utf-8", errors="replace").split("\n")}, schema={"line": pl.String})
            lines = lines.with_row_index("source_line", offset=1).with_columns(
                pl.col("source_line").cast(pl.Int64), pl.col("line").str.strip_suffix("\r")
            )
            lines = lines.filter(pl.col("line").str.strip_chars() != "")
            if lines.height >= count or size >= len(self.data):
                return lines.head(count)
            size *= 4

    def raw(self, source_lines: pl.Series) -> pl.Series:
        """The text of the given (1-based) lines."""
        return self.lines["line"].gather(source_lines - 1).alias("raw")

    def offset(self, line: int) -> int:
        """Byte offset where `line` (1-based) starts; len(data) past the end."""
        position = 0
        for _ in range(line - 1):
            position = self.data.find(b"\n", position) + 1
            if position == 0:
                return len(self.data)
        return position


def file_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it is gzip (by its magic bytes, whatever its name)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(path, f"cannot read the file: {exc.strerror or exc}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise UnreadableFile(path, f"truncated or corrupt gzip ({exc}); ask the sender for the file again") from None
    if path.suffix == ".gz" and data:  # 0 bytes are an empty file, whatever the name
        raise UnreadableFile(path, "named .gz but not gzip-compressed")
    return data


def text_file(path: Path) -> TextFile:
    """The file as text; UnreadableFile when it is empty (a byte order mark and blank lines at most) or binary."""
    path = Path(path)
    data = file_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte order mark (spreadsheet exports) is not part of the first field
    if not data or data.isspace():
        raise UnreadableFile(path, "empty file")
    if b"\x00" in data[:65536]:
        raise UnreadableFile(path, "binary content (NUL bytes): not a text file of this format")
    text = TextFile(path, data)
    if text.head(1).is_empty():  # blank as the readers see lines: a no-break space is blank too
        raise UnreadableFile(path, "empty file")
    return text


@dataclass
class Records:
    """A text file cut into fields: well-formed rows, and rejects for the malformed lines."""

    fields: pl.DataFrame  # source_line + one String column per kept field
    rejects: pl.DataFrame


def split_records(
    text: TextFile,
    names: Sequence[str],
    *,
    first_line: int = 1,
    start: int | None = None,
    end: int | None = None,
    quote: str | None = '"',
    separator: str = ",",
    count_rule: str | None = None,
    keep: Sequence[str] | None = None,
) -> Records:
    """Cut the lines from `first_line` (1-based; it starts at byte offset `start`, when the caller
    knows it) up to byte offset `end` (default: the end) into text fields.

    Blank lines are skipped. A line with another field count than `len(names)`, or (when
    `quote` is set) an odd number of quote characters, becomes a reject; the rest are read.

    Polars parses the bytes directly and a missing field comes out null, so only lines
    whose last field is null (blank, short, or ending in an empty unquoted field) have
    their fields counted one by one. A line with too many fields makes Polars fail when
    it reads every field (quoted formats); unquoted formats read only the fields they
    keep, and instead the file's separators must add up to exactly N-1 per line. When
    the direct parse fails or loses track of lines (an unclosed quote), every line is
    counted on its own, which is exact but slower.

    Args:
        names: the field names, in file order; every line must have exactly this many.
        count_rule: the rule named in field-count rejects (default "column count N").
        keep: the fields to return (default all).
    """
    count_rule = count_rule or f"column count {len(names)}"
    keep = list(names) if keep is None else list(keep)
    data = text.data
    start = text.offset(first_line) if start is None else start
    if quote and end is not None:
        raise ValueError("quoted records run to the end of the file; only unquoted formats may stop early")
    end = len(data) if end is None else end
    expected = data.count(b"\n", start, end) + (0 if end == start or data[end - 1 : end] == b"\n" else 1)
    last_line = first_line + expected - 1
    slow = lambda: _split_lines(text, names, keep, first_line, last_line, quote, separator, count_rule)  # noqa: E731
    # quoted: read every field so Polars fails on a long line; unquoted: the kept ones and the last
    read = list(names) if quote else [n for n in names if n in keep or n == names[-1]]
    fields = _read_fields(
        data, names, read, quote, separator, skip_lines=first_line - 1, rows=expected, ragged=False, stop=not quote
    )
    if fields is None:
        return slow()
    if quote and data.count(quote.encode("utf-8"), start, end) % 2:
        return slow()  # some line has an unbalanced quote that Polars took literally
    fields = fields.with_columns(pl.int_range(first_line, last_line + 1, dtype=pl.Int64).alias("source_line"))
    suspect = pl.col(names[-1]).is_null()
    suspects = fields.filter(suspect).select("source_line")
    suspect_lines = text.lines.join(suspects, on="source_line", how="semi") if suspects.height else None
    if not quote:
        separators = data.count(separator.encode("utf-8"), start, end)
        if suspect_lines is not None:
            separators -= suspect_lines.select(pl.col("line").str.count_matches(separator, literal=True).sum()).item()
        if separators != (expected - suspects.height) * (len(names) - 1):
            return slow()  # some line has too many fields
    if suspect_lines is None:
        return Records(fields.select("source_line", *keep), pl.DataFrame(schema=REJECT_SCHEMA))
    checked = _counted(suspect_lines, names, quote, separator, text.name, count_rule)
    good = fields.filter(~suspect).select("source_line", *keep)
    if checked.fields.height:
        good = pl.concat([good, checked.fields.select("source_line", *keep)]).sort("source_line")
    return Records(good, checked.rejects)


def fields_of_lines(
    text: TextFile, names: Sequence[str], source_lines: pl.Series, *, quote: str | None = '"', separator: str = ","
) -> pl.DataFrame:
    """All fields (text) of the given well-formed lines, for the rare row that needs more than was read."""
    lines = _joined_records(text.lines, names, quote, separator, text.name)
    lines = lines.join(source_lines.to_frame("source_line"), on="source_line", how="semi")
    return _counted(lines, names, quote, separator, text.name, f"column count {len(names)}").fields


def _split_lines(
    text: TextFile,
    names: Sequence[str],
    keep: Sequence[str],
    first_line: int,
    last_line: int,
    quote: str | None,
    separator: str,
    count_rule: str,
) -> Records:
    """The exact, slower path: count every line's fields from its own text (a record whose
    quoted field spans lines: from the text of all its lines, _joined_records)."""
    lines = text.lines.filter(pl.col("source_line").is_between(first_line, last_line))
    lines = _joined_records(lines, names, quote, separator, text.name)
    checked = _counted(lines, names, quote, separator, text.name, count_rule)
    return Records(checked.fields.select("source_line", *keep), checked.rejects)


def _joined_records(lines: pl.DataFrame, names: Sequence[str], quote: str | None, separator: str, file_name: str) -> pl.DataFrame:
    """`lines` (source_line, line) with each record whose quoted field spans lines (RFC 4180)
    as one row: its lines joined, under the number of its first line.

    A line that leaves a quote open starts such a record, and the line that closes it ends it.
    The lines are joined only when the record they make has exactly the fields of `names`: a
    stray quote must not swallow the lines after it, which then stay lines of their own (and
    the one with the stray quote a reject).
    """
    if not quote:
        return lines
    odd = (pl.col("line").str.count_matches(quote, literal=True) % 2).cast(pl.Int64)
    marked = lines.with_columns(odd.alias("_odd")).with_columns(((pl.col("_odd").cum_sum() - pl.col("_odd")) % 2 == 1).alias("_inside"))
    if not marked.get_column("_inside").any():
        return lines
    marked = marked.with_columns((~pl.col("_inside")).cum_sum().alias("_record"))
    q, sep = re.escape(quote), re.escape(separator)
    field = rf"(?:[^{q}{sep}\n]*|{q}(?:[^{q}]|{q}{q})*{q})"  # unquoted, or quoted with "" for a quote
    spanning = (
        marked.group_by("_record", maintain_order=True)
        .agg(pl.col("source_line").first(), pl.col("line").str.join("\n"), pl.len().alias("_lines"))
        .filter((pl.col("_lines") > 1) & pl.col("line").str.contains(rf"^{field}(?:{sep}{field})*$"))
    )
    whole = _counted(spanning.select("source_line", "line"), names, quote, separator, file_name, "").fields.select("source_line")
    records = spanning.join(whole, on="source_line", how="semi")
    if not records.height:
        return lines
    alone = marked.join(records.select("_record"), on="_record", how="anti").select("source_line", "line")
    return pl.concat([alone, records.select("source_line", "line")]).sort("source_line")


def _counted(
    lines: pl.DataFrame, names: Sequence[str], quote: str | None, separator: str, file_name: str, count_rule: str
) -> Records:
    """Parse `lines` (source_line, line) one row per line and count each line's fields exactly."""
    width = len(names)
    stats = lines.with_columns(
        blank=pl.col("line").str.strip_chars().str.len_bytes() == 0,
        separators=pl.col("line").str.count_matches(separator, literal=True),
        odd_quotes=(pl.col("line").str.count_matches(quote, literal=True) % 2 == 1) if quote else pl.lit(False),
    ).filter(~pl.col("blank"))
    broken = stats.filter(pl.col("odd_quotes"))
    rows = stats.filter(~pl.col("odd_quotes"))
    fields = _line_fields(rows, names, quote, separator)
    misquoted = rows.clear()
    if fields is None and quote:
        # one line with text after a closing quote ("a"b,) fails the whole parse: it alone is a reject
        readable = pl.col("line").str.contains(_readable_record(quote, separator))
        misquoted, rows = rows.filter(~readable), rows.filter(readable)
        fields = _line_fields(rows, names, quote, separator)
    if fields is None:
        raise UnreadableFile(file_name, "cannot split the lines into fields; is this the configured format?")
    counted = pl.concat([rows, fields], how="horizontal").with_columns(found=_field_count(names, quote, separator))
    wrong = counted.filter(pl.col("found") != width)
    rejects = pl.concat(
        [
            line_rejects(
                file_name,
                wrong,
                value=pl.col("found").cast(pl.String),
                rule=count_rule,
                problem=pl.format("{} fields, breaks rule {}", "found", pl.lit(count_rule)),
            ),
            line_rejects(
                file_name,
                broken,
                value=pl.lit(None, pl.String),
                rule="quoting",
                problem=pl.lit("odd number of double quotes: a quoted field is not closed"),
            ),
            line_rejects(
                file_name,
                misquoted,
                value=pl.lit(None, pl.String),
                rule="quoting",
                problem=pl.lit("text after the closing quote of a quoted field"),
            ),
        ]
    ).sort("source_line")
    return Records(counted.filter(pl.col("found") == width).select("source_line", *names), rejects)


def _line_fields(rows: pl.DataFrame, names: Sequence[str], quote: str | None, separator: str) -> pl.DataFrame | None:
    """All fields (text) of `rows` (one line or joined record each) in one parse; None when Polars fails."""
    if not rows.height:
        return pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    buffer = _joined(separator * (len(names) - 1), rows)
    fields = _read_fields(buffer, names, names, quote, separator, rows=rows.height + 1, ragged=True)
    return None if fields is None else fields.slice(1)


def _readable_record(quote: str, separator: str) -> str:
    """A regex for a line (or joined record) Polars parses: a field that starts with a quote ends
    with a quote right before a separator or the line end (quotes toggle quoting inside it, so
    `""a""` reads as `a`), any other field takes quotes as they are. `"a"b,` and `""a, b""` do not
    parse. Polars' own rule, not RFC 4180 (`_joined_records`): a line it reads in a clean file is
    read the same in a file that also holds a misquoted line."""
    q, sep = re.escape(quote), re.escape(separator)
    field = rf"(?:{q}[^{q}]*{q}(?:[^{q}{sep}\n]*{q}[^{q}]*{q})*|[^{q}{sep}\n][^{sep}\n]*|)"
    return rf"^{field}(?:{sep}{field})*\r?$"


def detected_layout(text: TextFile, layouts: Mapping[str, Sequence[str]], what: str, *, quote: str = '"') -> str:
    """The layout whose field count is most common among the first non-blank lines (headerless formats)."""
    quoted = f"{quote}[^{quote}]*{quote}"
    sample = text.head(_SAMPLE_LINES).select(
        (pl.col("line").str.replace_all(quoted, "").str.count_matches(",", literal=True) + 1).alias("fields")
    )
    by_count = {len(names): layout for layout, names in layouts.items()}
    counts = sample.filter(pl.col("fields").is_in(list(by_count)))["fields"]
    if counts.len() == 0:
        seen = ", ".join(map(str, sorted(set(sample["fields"].to_list()))[:5]))
        expected = " or ".join(map(str, sorted(by_count)))
        raise UnreadableFile(text.path, f"not {what}: its first lines have {seen} fields, expected {expected}")
    return by_count[counts.mode().min()]


def _joined(first: str, rows: pl.DataFrame) -> bytes:
    """A first line (fixing the width Polars sees) and the lines of `rows`, as one CSV buffer."""
    return (first + "\n" + rows.select(pl.col("line").str.join("\n")).item() + "\n").encode("utf-8")


def _read_fields(
    data: bytes,
    names: Sequence[str],
    read: Sequence[str],
    quote: str | None,
    separator: str,
    *,
    rows: int,
    ragged: bool,
    skip_lines: int = 0,
    stop: bool = False,
) -> pl.DataFrame | None:
    """The `read` fields as text, one row per line; None when Polars fails or rows and lines differ.

    With `stop`, reading ends after `rows` rows (only safe without quoting, where a row is a line).
    """
    if rows == 0:
        return pl.DataFrame(schema=dict.fromkeys(read, pl.String))
    position = {name: i for i, name in enumerate(names)}
    try:
        fields = pl.read_csv(
            data,
            columns=[position[name] for name in read],
            skip_lines=skip_lines,
            n_rows=rows if stop else None,
            has_header=False,
            schema=dict.fromkeys(names, pl.String),
            quote_char=quote,
            separator=separator,
            infer_schema=False,
            empty_string_is_null=True,
            truncate_ragged_lines=ragged,
        )
    except pl.exceptions.PolarsError:
        return None
    return fields if fields.height == rows else None


def _field_count(names: Sequence[str], quote: str | None, separator: str) -> pl.Expr:
    """Fields on the line: its separators, less those inside parsed (quoted) values, plus one."""
    found = pl.col("separators")
    if quote:
        found = found - pl.sum_horizontal(pl.col(n).str.count_matches(separator, literal=True).fill_null(0) for n in names)
    return (found + 1).cast(pl.Int64)


def line_rejects(file_name: str, rows: pl.DataFrame, *, value: pl.Expr, rule: str, problem: pl.Expr) -> pl.DataFrame:
    """Rejects for whole lines; `rows` has source_line and line, `problem` says what is wrong."""
    if rows.height == 0:
        return pl.DataFrame(schema=REJECT_SCHEMA)
    return rows.select(
        pl.lit(file_name).alias("source_file"),
        pl.col("source_line"),
        pl.lit(ROW).alias("column"),
        value.alias("value"),
        pl.lit(rule).alias("rule"),
        pl.format("{} line {}: {}", pl.lit(file_name), "source_line", problem).alias("reason"),
        pl.col("line").alias("raw"),
    ).cast(REJECT_SCHEMA)


def cell_rejects(file_name: str, parsed: Parsed, text: TextFile | None) -> pl.DataFrame:
    """Rejects for cells that broke their Cast; `raw` is the line's text for text files."""
    failures = parsed.failures
    if failures.height == 0:
        return pl.DataFrame(schema=REJECT_SCHEMA)
    if text is not None:
        raw = text.raw(failures["source_line"])
    else:
        raw = pl.repeat(None, failures.height, dtype=pl.String, eager=True)
    return failures.select(
        pl.lit(file_name).alias("source_file"),
        pl.col("source_line"),
        pl.col("column"),
        pl.col("value"),
        pl.col("rule"),
        pl.format(
            "{} line {}: column {} value '{}' breaks rule {}", pl.lit(file_name), "source_line", "column", "value", "rule"
        ).alias("reason"),
        raw.alias("raw"),
    ).cast(REJECT_SCHEMA)


def hashed_keys(source: str, frame: pl.DataFrame, columns: Sequence[str]) -> pl.Series:
    """`<source>:<md5 hex>` of the named columns (text, joined by U+001F), one per row.

    MD5 (DuckDB's md5(), RFC 1321, lowercase hex) is the same in every library
    version and run, unlike Polars' hash(); it identifies, it does not protect.
    """
    if frame.height == 0:
        return pl.Series("record_key", [], dtype=pl.String)
    return (source + ":" + _digests(frame, columns)).alias("record_key")


def _digests(frame: pl.DataFrame, columns: Sequence[str]) -> pl.Series:
    """The md5 hex of the named columns of each row (text, joined by U+001F)."""
    joined = frame.select(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in columns], separator=_UNIT_SEPARATOR).alias("k")
    )
    with duckdb.connect(":memory:") as con:
        relation = con.from_arrow(pa.table({"k": joined["k"].to_arrow()}))
        return relation.select(duckdb.FunctionExpression("md5", duckdb.ColumnExpression("k")).alias("h")).pl()["h"]


def record_keys(
    source: str,
    frame: pl.DataFrame,
    own_id: str | Sequence[str] | None,
    key_columns: Sequence[str],
    refetch: Callable[[pl.Series], pl.DataFrame] | None = None,
    repeats: bool = False,
) -> pl.Series:
    """One key per row of `frame`: the source's own ID prefixed by the source name, or where there
    is none, a stable hash of `key_columns`.

    `own_id` is the column holding the source's own ID, or the columns that together make it
    (joined by `:`; Asterisk's uniqueid and sequence); a row whose first such column is empty
    has none. With `repeats`, the own ID may be shared by several records (Asterisk's uniqueid
    without the sequence): the first record of an ID in the frame keeps `<source>:<id>`, as
    without `repeats`; a later one with other `key_columns` gets `<source>:<id>:<md5 of them>`
    (one with the same fields as an earlier one gets its key: a duplicate). When `frame` lacks
    some key columns (a reader read only what it needs), `refetch` returns them, as text, for
    the given source lines.
    """
    if own_id is None:
        return hashed_keys(source, frame, key_columns)
    fields = [own_id] if isinstance(own_id, str) else list(own_id)
    text = [pl.col(c).cast(pl.String).str.strip_chars() for c in fields]
    keyed = frame.select(
        pl.concat_str([pl.lit(source), text[0], *(t.fill_null("") for t in text[1:])], separator=":").alias("record_key"),
        (text[0].fill_null("").str.len_bytes() == 0).alias("missing"),
        (text[0].is_duplicated() if repeats else pl.lit(False)).alias("shared"),
    )
    keys, missing = keyed.get_column("record_key"), keyed.get_column("missing")
    shared = keyed.get_column("shared") & ~missing
    if shared.any():  # the few records whose ID another record of the frame has too
        digest = _digests(_key_rows(frame, shared, key_columns, refetch), key_columns)
        first = pl.DataFrame({"id": keyed.get_column("record_key").filter(shared), "d": digest}).select(
            pl.col("d").first().over("id").alias("first")
        ).get_column("first")
        own = keys.filter(shared)
        keys = keys.scatter(shared.arg_true(), pl.select(pl.when(digest == first).then(own).otherwise(own + ":" + digest)).to_series())
    if missing.any():
        keys = keys.scatter(missing.arg_true(), hashed_keys(source, _key_rows(frame, missing, key_columns, refetch), key_columns))
    return keys


def _key_rows(
    frame: pl.DataFrame, rows: pl.Series, key_columns: Sequence[str], refetch: Callable[[pl.Series], pl.DataFrame] | None
) -> pl.DataFrame:
    """The `rows` (a mask) of `frame`, with their key columns refetched as text where `frame` lacks some."""
    kept = frame.filter(rows)
    if refetch is not None and not set(key_columns) <= set(kept.columns):
        return refetch(kept["source_line"])
    return kept


def nul_free_columns(source: Source) -> frozenset[str]:
    """ReadResult.nul_free of a reader whose record keys are the source's name and its own ID
    (or a hash), whose subscriber, counterparty and own ID fields are read by text casts (each
    refuses a NUL) and whose ID type and article key are those fields or the source's settings:
    those columns, but for one whose configured text holds a NUL."""
    configured = {"record_key": source.name, "id_type": source.id_type, "article_key": source.article_key}
    return frozenset(
        column for column in ("record_key", "id_type", "subscriber_id", "counterparty", "article_key")
        if "\x00" not in (configured.get(column) or "")
    )  # fmt: skip


def usage_frame(frame: pl.DataFrame, source: Source, file_name: str, columns: Mapping[str, pl.Expr]) -> pl.DataFrame:
    """The canonical usage record (USAGE_POLARS, in order) from expressions over `frame`.

    `columns` gives every canonical column except source and source_file; source_line
    defaults to the frame's `source_line`.
    """
    given = {"source": pl.lit(source.name), "source_file": pl.lit(file_name), "source_line": pl.col("source_line"), **columns}
    return frame.select(given[name].cast(dtype).alias(name) for name, dtype in USAGE_POLARS.items())

