"""Usage sources: which files come from which switch or router, and how to read them.

A `sources.toml` names each source once (docs/formats.md has a full example):

    [sources.pbx-graz]
    format = "asterisk"
    pattern = "Master*.csv*"
    timezone = "Europe/Vienna"
    country = "AT"

Everything is checked when the file is loaded, so a typo fails the run before any
usage is read, with a message naming the source and the key.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType

import polars as pl

from pipeline.ingest.numbers import NumberingPlanError, numbering_plan
from schemas.catalog import time_zones
from schemas.numbering import BARE_NUMBERS
from schemas.usage import ID_TYPES

FORMATS = ("asterisk", "freeswitch", "nfdump", "csv", "parquet")
ASTERISK_VARIANTS = ("auto", "base", "uniqueid", "linkedid")
FREESWITCH_TEMPLATES = ("auto", "default", "example")
NFDUMP_SIDES = ("src", "dst")

#: Canonical columns a mapped (csv/parquet) file may provide; the reader sets the rest.
MAPPABLE = (
    "record_key", "id_type", "subscriber_id", "counterparty", "start_time", "duration_s", "volume_bytes", "article_key", "billable",
)  # fmt: skip
#: Canonical columns a mapped file must provide (plus duration_s or volume_bytes).
REQUIRED_MAPPED = ("subscriber_id", "start_time")

_KEYS = {
    "format",
    "pattern",
    "timezone",
    "id_type",
    "article_key",
    "asterisk_variant",
    "freeswitch_template",
    "nfdump_side",
    "columns",
    "timestamp_format",
    "delimiter",
    "country",
    "national_prefix",
    "international_prefix",
    "bare_numbers",
}
#: Keys only some formats read: given for another format they would be ignored, so they are refused.
FORMAT_KEYS = {
    "asterisk_variant": ("asterisk",),
    "freeswitch_template": ("freeswitch",),
    "nfdump_side": ("nfdump",),
    "timestamp_format": ("csv", "parquet"),
    "delimiter": ("csv",),
}
#: Keys that adjust the numbering plan of a source's `country`.
PLAN_OVERRIDES = ("national_prefix", "international_prefix", "bare_numbers")
#: A dialling prefix given in sources.toml: plain digits.
_PREFIX = re.compile(r"^[0-9]{1,6}$")


class SourceConfigError(ValueError):
    """sources.toml is missing, unreadable or names something that cannot work."""


@dataclass(frozen=True)
class Source:
    """One usage source: a switch or router whose files share a name pattern and a format.

    Attributes:
        name: the source's name; prefixes every record key, so keys never collide across sources.
        format: asterisk | freeswitch | nfdump | csv | parquet.
        pattern: glob matched against file names (not paths), e.g. "Master*.csv*".
        timezone: the zone the source writes wall-clock times in ("UTC" or an IANA name).
        id_type: what subscriber IDs are; nfdump rows are typed ipv4/ipv6 from the address.
        article_key: the article key of every record of this source (csv/parquet may override per row).
        asterisk_variant: auto (by column count 16/18/21) | base | uniqueid | linkedid.
        freeswitch_template: auto (by column count 13/15) | default | example.
        nfdump_side: which address is the customer's: src (sa/srcAddr) or dst (da/dstAddr).
        columns: csv/parquet: canonical column → column name in the file (default: same name).
        timestamp_format: csv/parquet text timestamps, strftime syntax.
        delimiter: csv field separator.
        country: ISO 3166 alpha-2 code of the source's numbering plan (`AT`): phone numbers it writes in
            national (`0316 812724`) or prefixed international form (`0043 316 812724`) become E.164
            digits in ingest (pipeline.ingest.numbers). None: only `+` and separators are handled.
        national_prefix, international_prefix: digits overriding the country's trunk and international
            prefixes from the `phonenumbers` metadata (a switch that writes an outside-line digit, say).
        bare_numbers: what a number written with no prefix at all is: `national` or `international`
            (E.164 digits without `+`). Default: national in a country without a trunk prefix
            (Denmark, Italy, Norway, Spain), international elsewhere (pipeline.ingest.numbers).
    """

    name: str
    format: str
    pattern: str
    timezone: str = "UTC"
    id_type: str | None = None
    article_key: str | None = None
    asterisk_variant: str = "auto"
    freeswitch_template: str = "auto"
    nfdump_side: str = "src"
    columns: Mapping[str, str] = field(default_factory=dict, hash=False)
    timestamp_format: str = "%Y-%m-%d %H:%M:%S"
    delimiter: str = ","
    country: str | None = None
    national_prefix: str | None = None
    international_prefix: str | None = None
    bare_numbers: str | None = None

    def __post_init__(self) -> None:
        _check(self.name, "format", self.format, FORMATS)
        _check(self.name, "asterisk_variant", self.asterisk_variant, ASTERISK_VARIANTS)
        _check(self.name, "freeswitch_template", self.freeswitch_template, FREESWITCH_TEMPLATES)
        _check(self.name, "nfdump_side", self.nfdump_side, NFDUMP_SIDES)
        if not self.name or ":" in self.name:
            raise SourceConfigError(f"source name {self.name!r}: must be non-empty and must not contain ':'")
        if not self.pattern:
            raise SourceConfigError(f"source {self.name}: 'pattern' must not be empty")
        _check_timezone(self.name, self.timezone)
        data = self.format == "nfdump"
        object.__setattr__(self, "id_type", self.id_type or ("ipv4" if data else "phone"))
        object.__setattr__(self, "article_key", self.article_key or ("data" if data else "voice"))
        _check(self.name, "id_type", self.id_type, ID_TYPES)
        if data and self.id_type not in ("ipv4", "ipv6"):
            raise SourceConfigError(f"source {self.name}: nfdump records are IP addresses; id_type must be ipv4 or ipv6, not {self.id_type!r}")
        if len(self.delimiter) != 1:
            raise SourceConfigError(f"source {self.name}: delimiter must be one character, not {self.delimiter!r}")
        if self.delimiter in '\r\n"':
            raise SourceConfigError(f"source {self.name}: delimiter {self.delimiter!r} cannot separate fields: a line break or a quote")
        _check_timestamp_format(self.name, self.timestamp_format)
        columns = dict(self.columns)
        if columns and self.format not in ("csv", "parquet"):
            raise SourceConfigError(f"source {self.name}: 'columns' applies to csv and parquet sources only, not {self.format}")
        unknown = sorted(set(columns) - set(MAPPABLE))
        if unknown:
            raise SourceConfigError(
                f"source {self.name}: columns {unknown} are not canonical columns a file may provide; use {', '.join(MAPPABLE)}"
            )
        if any(not isinstance(v, str) or not v for v in columns.values()):
            raise SourceConfigError(f"source {self.name}: every entry in 'columns' must name a file column")
        object.__setattr__(self, "columns", MappingProxyType(columns))
        self._check_one_column_each()
        self._check_numbering_plan(data)

    def _check_one_column_each(self) -> None:
        """Two canonical columns read from one file column (both mapped to it, or one mapped to the
        other's own name, which it is then read from too) cannot make a record: refused here, since a
        file has the column (and both read it) or lacks it (and the explicit mapping finds nothing)."""
        readers: dict[str, list[str]] = {}
        for canonical in MAPPABLE:
            readers.setdefault(self.file_column(canonical), []).append(canonical)
        for column, canonicals in readers.items():
            if len(canonicals) > 1:
                named = [c if c in self.columns else f"{c} (unmapped: by its own name)" for c in canonicals]
                raise SourceConfigError(
                    f"source {self.name}: columns {' and '.join(named)} would both be read from file column {column!r}; "
                    "give each its own column"
                )

    def _check_numbering_plan(self, data: bool) -> None:
        """The country must be one `phonenumbers` knows, and prefixes plain digits, before any file is read."""
        if self.country is None:
            for key in PLAN_OVERRIDES:
                if getattr(self, key) is not None:
                    raise SourceConfigError(f"source {self.name}: '{key}' overrides the numbering plan of a 'country': set country too")
            return
        if data:
            raise SourceConfigError(f"source {self.name}: 'country' normalises phone numbers; nfdump records are IP addresses")
        try:
            numbering_plan({self.name: self.country})
        except NumberingPlanError as exc:
            raise SourceConfigError(f"{exc} (key 'country')") from None
        object.__setattr__(self, "country", self.country.upper())
        for key in ("national_prefix", "international_prefix"):
            value = getattr(self, key)
            if value is not None and not _PREFIX.match(value):
                raise SourceConfigError(f"source {self.name}: {key} {value!r} must be 1-6 digits, e.g. \"0\" or \"00\"")
        if self.bare_numbers is not None:
            _check(self.name, "bare_numbers", self.bare_numbers, BARE_NUMBERS)

    def file_column(self, canonical: str) -> str:
        """The file's column name for a canonical column (csv/parquet)."""
        return self.columns.get(canonical, canonical)


def load_sources(path: Path) -> dict[str, Source]:
    """The sources defined in a sources.toml, by name; raises SourceConfigError naming what is wrong."""
    path = Path(path)
    try:
        data = path.read_bytes()
        document = tomllib.loads(data.decode("utf-8-sig"))  # a byte order mark allowed, as in catalog files
    except FileNotFoundError:
        raise SourceConfigError(f"{path}: sources file not found") from None
    except UnicodeDecodeError as exc:  # Latin-1 or Windows-1252: the line and byte to look at, as for catalog files
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02X}): save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceConfigError(f"{path}: not valid TOML: {exc}") from None
    tables = document.get("sources")
    if not isinstance(tables, dict) or not tables:
        raise SourceConfigError(f"{path}: define at least one [sources.<name>] table")
    stray = sorted(set(document) - {"sources"})
    if stray:  # read by nothing: a misspelt [source.x.columns] would drop its mapping unseen
        names = ", ".join(repr(key) for key in stray)
        raise SourceConfigError(f"{path}: unknown table or key {names} (every source is a [sources.<name>] table)")
    sources = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise SourceConfigError(f"{path}: sources.{name} must be a table")
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise SourceConfigError(f"{path}: source {name}: unknown keys {unknown}; known keys are {sorted(_KEYS)}")
        for key in ("format", "pattern"):
            if key not in table:
                raise SourceConfigError(f"{path}: source {name}: '{key}' is required")
        if "columns" in table and not isinstance(table["columns"], dict):
            raise SourceConfigError(f"{path}: source {name}: 'columns' must be a table of canonical = \"file column\"")
        wrong = sorted(k for k, v in table.items() if k != "columns" and not isinstance(v, str))
        if wrong:
            raise SourceConfigError(f"{path}: source {name}: {wrong} must be strings")
        empty = sorted(k for k, v in table.items() if v == "")
        if empty:  # an empty id_type or article_key would quietly be the default
            raise SourceConfigError(f"{path}: source {name}: {empty} must not be empty (leave a key out for its default)")
        for key, formats in FORMAT_KEYS.items():
            if key in table and table["format"] in FORMATS and table["format"] not in formats:
                raise SourceConfigError(
                    f"{path}: source {name}: '{key}' applies to {' and '.join(formats)} sources only, not {table['format']}: "
                    "it would be ignored"
                )
        try:
            sources[name] = Source(name=name, **table)
        except SourceConfigError as exc:
            raise SourceConfigError(f"{path}: {exc}") from None
    return sources


def numbering_plan_of(sources: Mapping[str, Source]) -> pl.DataFrame:
    """The numbering plan (schemas.numbering) of the sources that configure a `country`, with their prefix overrides."""
    with_country = {name: s for name, s in sources.items() if s.country}
    overrides = {
        name: {key: getattr(s, key) for key in PLAN_OVERRIDES if getattr(s, key) is not None}
        for name, s in with_country.items()
    }
    return numbering_plan({name: s.country for name, s in with_country.items()}, overrides)


def source_for(file_name: str, sources: Mapping[str, Source]) -> Source | None:
    """The source whose pattern matches the file name (first in definition order), or None."""
    base = Path(file_name).name
    for source in sources.values():
        if fnmatch.fnmatchcase(base, source.pattern):
            return source
    return None


def _check_timezone(name: str, zone: str) -> None:
    """The zone must be one DuckDB, which converts the times, knows, as for contracts
    (schemas.catalog.time_zones): `localtime`, `posixrules` or `right/UTC` are files of the zone
    database, `Factory` a placeholder, `IST` a name only ICU has."""
    if zone not in time_zones():
        raise SourceConfigError(f"source {name}: timezone {zone!r} is not an IANA time zone DuckDB knows (e.g. Europe/Vienna)")


def _check_timestamp_format(name: str, fmt: str) -> None:
    """A format that cannot even print a time (`%Q`) would reject every row of every file: refused here.
    (`%Z` passes: the parser skips a zone name, so such times are read in the source's `timezone`;
    docs/formats.md says so.)"""
    sample = pl.Series([datetime(2026, 10, 1, 9, 30, 15, tzinfo=timezone.utc)])
    try:
        printed = sample.dt.strftime(fmt)
    except pl.exceptions.PolarsError:
        raise SourceConfigError(f"source {name}: timestamp_format {fmt!r} is not a strftime format (e.g. %Y-%m-%d %H:%M:%S)") from None
    try:
        read = printed.str.strptime(pl.Datetime, fmt, strict=False)
    except pl.exceptions.PolarsError as exc:  # e.g. %I without %p
        raise SourceConfigError(f"source {name}: timestamp_format {fmt!r} cannot be read: {str(exc).splitlines()[0]}") from None
    if read.is_null().any():
        raise SourceConfigError(f"source {name}: timestamp_format {fmt!r} does not read back the times it writes ({printed[0]!r})")


def _check(name: str, key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SourceConfigError(f"source {name}: {key} {value!r} is not one of {', '.join(allowed)}")

