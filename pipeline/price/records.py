"""Price every assigned record as whole columns: zone, band, rate card, customer and special
prices, rated quantity and amount (docs/pricing.md).

The catalog side is resolved once per run in DuckDB (sql/duck/dims.sql, rate_card.sql,
price/cards.sql): small integer-coded tables. A record then needs only lookups in them by small
integers, so it never meets a hash join: every table keyed by a dense number (device ID, tariff
and article key, time zone and day, holiday calendar and day, band grid minute, rate-card cell)
becomes an array indexed by that number, and a record's row is one gather. The few lookups that
also need a time range (rate-card cells whose price changes over time, customer prices, special
prices) run in DuckDB on just the records that can match them.

Amounts are integer micro-units. Each record's amount is rounded once, by `div_half_up`, the
rounding rule of docs/money.md (half away from zero), in 64-bit integers when the run's largest
price times its largest quantity cannot overflow them and in 128-bit integers otherwise.
"""

from __future__ import annotations

import mmap
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

import sql
from pipeline.price import walk
from pipeline.threads import in_pieces, on_both_cores

#: Unit codes of ta_dim.unit.
UNITS = {"second": 1, "byte": 2, "event": 3}
#: Price source code of flat-price usage (schemas.pricing.PRICE_SOURCES, 1-based).
FLAT = 7
#: Source code of a rate-card piece without a price (sql/duck/price/plan_candidates.sql): only a
#: customer or special price prices its records; it never reaches the priced records.
UNPRICED = 8
#: Rate-card cells are looked up in a dense array up to this many cells, else by binary search.
DENSE_CELLS = 1 << 24
#: Added to the cell key of a record that has no cell (a called number in no zone): past every cell
#: key (plan × key × zone × band numbers stay far below 2^62 - 2^61).
NO_CELL = 1 << 61
#: The walk runs in this many parts (runs of whole groups in walk order), two at a time: a part's
#: arrays stay in the CPU's cache and the allocator reuses their memory.
WALK_PARTS = 16
#: The largest amount a record may have, in micro-units: what DECIMAL(18,6) holds (999 999 999 999.999999).
MAX_AMOUNT_MICRO = 10**18 - 1
US_PER_DAY = 86_400_000_000
#: Records per piece of the record-wise NumPy passes (_card_columns, _amounts): 0.5 MB per temporary column,
#: in the CPU's cache (the amounts of the bench's 10 M records: 64 k-256 k rows per piece 0.09-0.10 s, 16 k
#: 0.12-0.13 s, 1 M 0.10-0.11 s).
CACHE_ROWS = 1 << 16
#: What the walk says of a record whose charged units span tiers (walk.Walked), besides its position.
SPAN_PARTS = ("p1", "u1", "p2", "u2", "mid_hi", "mid_lo")
#: Columns of the priced records (table `pricing`), in order.
PRICING_COLUMNS = (
    "rid", "dev_no", "contract_no", "ta_no", "zone_no", "band_no", "month_idx", "duration_s", "volume_bytes",
    "quantity", "free_quantity", "price_micro", "src", "ref_no", "tier_no", "tier_before", "fee_micro", "amount_micro",
)  # fmt: skip


def div_half_up(x, d):
    """x / d rounded half away from zero (d > 0): the per-record rounding of docs/money.md, on Polars
    expressions (in 128 bits where a product may leave 64: _amounts, micro_to_cents) or on NumPy
    integer arrays (every other record, in cache-sized pieces): one rule, written once for both.

    The same rule as sql/duck/macros.sql div_half_up, which rounds invoice lines to cents;
    tests/price/test_money_rounding.py holds the three to the same results.
    """
    if isinstance(x, pl.Expr):
        return (x.abs() * 2 + d) // (d * 2) * x.sign()
    return (np.abs(x) * 2 + d) // (d * 2) * np.sign(x)


def micro_to_cents(micro: pl.Expr) -> pl.Expr:
    """Micro-units summed on an invoice line, rounded half away from zero to cents, as DECIMAL(18,2):
    the SQL macro micro_to_cents of sql/duck/macros.sql (in 128 bits, as its HUGEINT; a sum
    DECIMAL(18,2) cannot hold stops the run there and here)."""
    cents = div_half_up(micro.cast(pl.Int128), pl.lit(10_000, pl.Int128))
    return (cents.cast(pl.Decimal(18, 0)) * pl.lit(Decimal("0.01"))).cast(pl.Decimal(18, 2))


def priced_records(con: duckdb.DuckDBPyConnection, assignment: pl.DataFrame, rules: walk.Rules, carried: pl.DataFrame) -> pa.Table:
    """Every record of `assignment` priced (PRICING_COLUMNS, in rid order); a NULL amount:
    unrateable, or, with a NULL contract_no, not priced at all (unassigned).

    The records without a contract stay in, priced as nothing, rather than being filtered out:
    a filter copies every column of the other 99 % (0.5 GiB of fresh memory at 10 M records,
    docs/performance.md), and the rows without an amount are few.

    Needs on `con` the coded catalog and rate card build_rate_card makes (dev_dim, plan_dim,
    tariff_dim, local_keys, tz_days, holiday_dim, band_grid, card_dims, card_one, card_cut,
    cust_card, special_dim, band_dim, ta_dim).

    Args:
        assignment: the located records (rid, dev_no, key_no, cp_key, zone_hit, start_time,
            duration_s, volume_bytes); rows without dev_no are unassigned.
        rules, carried: the free quantities and tiers of the walk, and what earlier runs of
            the same periods rated per group (pipeline/price/walk.py).
    """
    cards = _cards(con)
    rec = _carded(con, assignment, _banded(con, _with_devices(con, assignment)), cards)
    per_card = _per_card(cards)
    card = _card_columns(rec, cards, per_card)
    _with_customer(con, rec, card, per_card)
    _with_special(con, rec, card, per_card)
    _without_unpriced(card)
    return _priced(con, rec, card, per_card, rules, carried)


# --- device ID, zone, local time, band ------------------------------------------------------


def _dense(keys: pl.Series, values: pl.Series, size: int) -> pl.Series:
    """`values` placed at `keys` of a `size`-long Series, null elsewhere: a lookup array."""
    return pl.repeat(None, size, dtype=values.dtype, eager=True).scatter(keys.cast(pl.Int64), values)


def _members(keys: pl.Series, size: int | None = None) -> pl.Series:
    """A lookup array that is True at `keys` (null elsewhere), `size` long (default: up to the largest key)."""
    return _dense(keys, pl.repeat(True, keys.len(), eager=True), int(keys.max()) + 1 if size is None else size)


def _at(array: pl.Series, index: pl.Expr) -> pl.Expr:
    """array[index] per row; null where the index is null or outside the array."""
    return pl.lit(array).gather(_index(index, array.len()))


def _index(index: pl.Expr, size: int) -> pl.Expr:
    """`index` as Polars' own index type where it lies in [0, size), null elsewhere: what a gather
    takes as it is. A gather by Int64 converts and checks its index on every call, which costs
    more than the gather, so a step that looks up several columns by one index makes it once
    (a column) and gathers by that. In range, the cast wraps nothing: it is not checked."""
    return pl.when(index.is_between(0, size - 1)).then(index).cast(pl.get_index_type(), wrap_numerical=True)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _with_devices(con: duckdb.DuckDBPyConnection, assignment: pl.DataFrame) -> pl.LazyFrame:
    """The records with what their device ID row says (dev_dim) and their zone; a record without
    one (unassigned, or a device ID dev_dim lacks) has a NULL contract_no, plan and tariff.

    Every record needs its contract and price plan (the plan fixes the tariff); the time zone,
    holiday calendar, customer, special-price flag and area code only when the catalog has time
    bands, customer prices, special prices or local calls, so only then are they looked up.

    zone: a local call (the called number lies in the device's area code and the article key has
    an article in the tariff's local zone) is in the local zone; else the zone of the called
    number's longest prefix, else the tariff's catch-all zone, else none (0). A record without
    a called number is in none.
    """
    needed = ["contract_no", "plan_no"]
    local = con.sql("SELECT tariff_no, key_no FROM local_keys").pl()
    if _count(con, "band_grid"):
        needed += ["tz_no", "banded", "holiday_bands", "hset_no"]
    if _count(con, "cust_card"):
        needed += ["cust_no"]
    if _count(con, "special_dim"):
        needed += ["special"]
    if local.height:
        needed += ["local_zone_no", "area_lo", "area_hi"]
    dev = con.sql(f"SELECT dev_no, {', '.join(needed)} FROM dev_dim").pl()
    size = max(int(dev.get_column("dev_no").max() or 0), int(assignment.get_column("dev_no").max() or 0)) + 1
    dev_no = dev.get_column("dev_no")
    of_device = [pl.lit(_dense(dev_no, dev.get_column(c), size)).gather(pl.col("dev_at")).alias(c) for c in needed]
    plans = con.sql("SELECT p.plan_no, p.tariff_no, t.catchall_zone_no FROM plan_dim AS p JOIN tariff_dim AS t USING (tariff_no)").pl()
    n_plans = int(plans.get_column("plan_no").max() or 0) + 1  # none in a catalog without contracts
    of_plan = {c: _at(_dense(plans.get_column("plan_no"), plans.get_column(c), n_plans), pl.col("plan_no"))
               for c in ("tariff_no", "catchall_zone_no")}  # fmt: skip
    t_us = pl.col("start_time").dt.epoch("us")
    span = assignment.select(t_us.min().alias("lo"), t_us.max().alias("hi")).row(0)  # of the periods' lookup by day
    records = (
        assignment.select("rid", "dev_no", "key_no", "duration_s", "volume_bytes", "cp_key", "zone_hit", "start_time")
        .lazy()
        .with_columns(t_us.alias("t_us"), _index(pl.col("dev_no"), size).alias("dev_at"))
        .drop("start_time")
        .with_columns(_month(pl.col("t_us"), *span).alias("month_idx"), *of_device)
        .drop("dev_at")
        .with_columns(of_plan["tariff_no"].alias("tariff_no"))
    )
    # the catch-all zone takes a number in no zone; a record without a number (data, a remote
    # address) is in no zone and takes its key's row for every zone
    zone = pl.when(pl.col("cp_key").is_not_null()).then(pl.coalesce("zone_hit", of_plan["catchall_zone_no"])).otherwise(0)
    if local.height:
        nk = int(con.sql("SELECT nk FROM card_dims").fetchall()[0][0])
        cell = pl.col("tariff_no").cast(pl.Int64) * nk + pl.col("key_no")
        keys = local.select(pl.col("tariff_no").cast(pl.Int64) * nk + pl.col("key_no")).to_series()
        local_key = _at(_members(keys), cell)
        is_local = (pl.col("local_zone_no") > 0) & local_key & pl.col("cp_key").is_between(pl.col("area_lo"), pl.col("area_hi"))
        zone = pl.when(is_local).then(pl.col("local_zone_no")).otherwise(zone)
    return records.with_columns(zone.cast(pl.Int32).alias("zone_no"))


def _banded(con: duckdb.DuckDBPyConnection, records: pl.LazyFrame) -> pl.LazyFrame:
    """`band_no`: the tariff's band at the record's start in the contract's time zone (0: none).

    A call is priced whole in the band it starts in; a public holiday takes the holiday bands where
    they cover the minute, its weekday's bands elsewhere.
    Local time is UTC plus the zone's offset of that UTC day (tz_days), or its offset after the
    day's daylight-saving change from change_us on.
    """
    grid = con.sql("SELECT grid_key, band_no FROM band_grid").pl()
    tz = con.sql("SELECT tz_no, day, offset_before_s, change_us, offset_after_s FROM tz_days").pl()
    if not grid.height or not tz.height:
        # no time zone days: no device ID of a banded tariff, or no assigned record at all; every
        # record's band is 0, which _carded gives them without computing a column
        return records
    d0, days = int(tz.get_column("day").min()), int(tz.get_column("day").max() - tz.get_column("day").min()) + 1
    size = (int(tz.get_column("tz_no").max()) + 1) * days
    tz_at = tz.get_column("tz_no").cast(pl.Int64) * days + tz.get_column("day") - d0
    day_at = pl.when(pl.col("banded")).then(pl.col("tz_no").cast(pl.Int64) * days + pl.col("t_us") // US_PER_DAY - d0)
    offsets = (pl.lit(_dense(tz_at, tz.get_column(c), size)).gather(pl.col("day_at")) for c in ("offset_before_s", "change_us", "offset_after_s"))
    before, change, after = offsets
    local_s = pl.col("t_us") // 1_000_000 + pl.when(pl.col("t_us") >= change).then(after).otherwise(before)
    holiday = pl.lit(False)
    hol = con.sql("SELECT hset_no, day FROM holiday_dim").pl()
    if hol.height:
        h0, hdays = int(hol.get_column("day").min()), int(hol.get_column("day").max() - hol.get_column("day").min()) + 1
        keys = hol.get_column("hset_no").cast(pl.Int64) * hdays + hol.get_column("day") - h0
        table = _members(keys, (int(hol.get_column("hset_no").max()) + 1) * hdays)
        local_day = pl.col("local_s") // 86400
        inside = local_day.is_between(h0, h0 + hdays - 1)
        on_holiday = _at(table, pl.when(inside).then(pl.col("hset_no").cast(pl.Int64) * hdays + local_day - h0))
        holiday = pl.col("holiday_bands") & inside & on_holiday.fill_null(False)
    # day of the band grid (sql/duck/dims.sql band_grid): 0-6 Monday to Sunday, 7 + that on a holiday
    weekday = (pl.col("local_s") // 86400 + 3) % 7
    day = pl.when(holiday).then(7 + weekday).otherwise(weekday)
    grid_key = (pl.col("tariff_no").cast(pl.Int64) * 14 + day) * 1440 + (pl.col("local_s") % 86400) // 60
    bands = _dense(grid.get_column("grid_key"), grid.get_column("band_no"), int(grid.get_column("grid_key").max()) + 1)
    return (
        records.with_columns(_index(day_at, size).alias("day_at"))
        .with_columns(local_s.alias("local_s"))
        .with_columns(_at(bands, grid_key).fill_null(0).cast(pl.Int32).alias("band_no"))
        .drop("local_s", "day_at")
    )


# --- rate card, customer and special prices -------------------------------------------------

#: What a rate-card piece gives a record: its price and rule, and its tariff-article's rules.
CARD = ("ta_no", "article_no", "counted", "price_micro", "src", "ref_no")
TA = ("unit", "first_s", "next_s", "price_per", "connect_micro", "min_charge_micro")
#: The CARD columns every record gets a copy of (the prices, sources and references customer and
#: special prices replace; the tariff-article the walk and the output need); the others are
#: looked up by card row where they are needed (_per_card): each copy is 10 M values of fresh memory.
ON_RECORD = ("ta_no", "price_micro", "src", "ref_no")


def _cards(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The rate-card pieces a record can get, numbered by row: card_one's (sorted by card_key,
    with it), then card_cut's (in card_no order), each with its tariff-article's rules (TA)."""
    one = con.sql(f"SELECT card_key, {', '.join(CARD)} FROM card_one ORDER BY card_key").pl()
    cut = con.sql(f"SELECT NULL::BIGINT AS card_key, {', '.join(CARD)} FROM card_cut ORDER BY card_no").pl()
    ta = con.sql(f"SELECT ta_no, {', '.join(TA)} FROM ta_dim").pl().with_columns(
        pl.col("unit").replace_strict(UNITS, default=0, return_dtype=pl.Int8)
    )
    return pl.concat([one, cut]).join(ta, on="ta_no", how="left", maintain_order="left")


#: The columns of a located record the steps after _carded read (the customer, special-price and
#: cut-price lookups, _card_columns and _priced).
KEPT = (
    "rid", "dev_no", "contract_no", "month_idx", "t_us", "duration_s", "volume_bytes", "zone_no", "band_no", "cust_no", "special",
    "cp_key",
)  # fmt: skip
#: Those of them the located records hold as they are (t_us: their start_time, read as epoch microseconds).
AS_LOCATED = ("rid", "dev_no", "duration_s", "volume_bytes", "cp_key")


def cell_key(nk: int, nz: int, nb: int) -> pl.Expr:
    """A record's rate-card cell (plan, article key, zone, band) as one integer: the SQL macro card_key of
    sql/duck/price/macros.sql, which numbers the card's cells (card_dims gives nk, nz and nb)."""
    return ((pl.col("plan_no").cast(pl.Int64) * nk + pl.col("key_no")) * nz + pl.col("zone_no")) * nb + pl.col("band_no")


def _carded(con: duckdb.DuckDBPyConnection, assignment: pl.DataFrame, records: pl.LazyFrame, cards: pl.DataFrame) -> pl.DataFrame:
    """Each record's `card_row`: the row of _cards holding the rate-card piece of its (plan,
    article key, zone, band) valid at its start; cards.height: none (unrateable). With the other KEPT
    columns: `records` (_with_devices, _banded) computes them from the located records (`assignment`).

    Most cells have one price for all time (card_one); the records of the others (card_cut) find
    their piece in DuckDB (sql/duck/price/cut_hits.sql). One lookup of the record's cell key says
    which: card_one's row, or -1 - j for the j-th cell of card_cut (`cut`, sorted).
    """
    nk, nz, nb = con.sql("SELECT nk, nz, nb FROM card_dims").fetchall()[0]
    one = cards.get_column("card_key").drop_nulls()  # card_one's, sorted; card_cut's rows have none
    cut = con.sql("SELECT DISTINCT card_key FROM card_cut ORDER BY card_key").pl().to_series() if cards.height > one.len() else one.clear()
    cells = pl.DataFrame({
        "key": pl.concat([one, cut]),
        "value": pl.concat([pl.int_range(one.len(), dtype=pl.Int32, eager=True), -1 - pl.int_range(cut.len(), dtype=pl.Int32, eager=True)]),
    }).sort("key")  # fmt: skip
    keys, values = cells.get_column("key"), cells.get_column("value")
    # a called number in no zone (no prefix, no catch-all, not local) has no cell: unrateable, even where
    # the article key has a row for every zone (that row covers zones, not a number outside all of them).
    # Its key is moved past every cell (arithmetic, not a when/then: the key stays without nulls)
    zoneless_number = (pl.col("cp_key").is_not_null() & (pl.col("zone_no") == 0)).cast(pl.Int64)
    card_key = cell_key(nk, nz, nb) + zoneless_number * NO_CELL
    if keys.len() and int(keys.max()) < DENSE_CELLS:
        cell = _at(_dense(keys, values, int(keys.max()) + 1), pl.col("card_key"))
    else:  # a huge, sparse card: binary search in the sorted keys
        at = pl.lit(keys).search_sorted(pl.col("card_key")).cast(pl.Int32)
        cell = pl.when(_at(keys, at) == pl.col("card_key")).then(_at(values, at))
    # only what the later steps read (KEPT): every column collected is 10 M values of fresh memory. The
    # located records' own columns go through as they are; Polars' streaming engine computes the others
    # on both cores, a morsel at a time, and they are made one piece each, so NumPy reads them without
    # a copy (the bench's 10 M records: 0.24 s, where the in-memory engine took 0.39-0.43 s for all of
    # them, one core per expression)
    names = records.collect_schema().names()
    computed = [c for c in names if c in KEPT and c not in (*AS_LOCATED, "t_us")]
    unbanded = "band_no" not in names  # _banded: no bands; band 0 in the key, and a column of zeros that were never written (_zeros)
    rec = pl.concat(
        [
            assignment.select(*AS_LOCATED, pl.col("start_time").dt.epoch("us").alias("t_us")).rechunk(),  # as located_usage made them
            (records.with_columns(pl.lit(0, pl.Int32).alias("band_no")) if unbanded else records)
            .with_columns(card_key.alias("card_key")).with_columns(cell.fill_null(cards.height).alias("card_row"))
            .select(*computed, "card_row").collect(engine="streaming").rechunk(),
            *([pl.Series("band_no", _zeros(assignment.height, np.int32)).to_frame()] if unbanded else []),
        ],
        how="horizontal",
    )
    if cut.len():
        row = rec.get_column("card_row")
        pos = (row < 0).arg_true()
        if pos.len():
            candidates = pl.DataFrame({
                "pos": pos.cast(pl.Int64), "card_key": cut.gather(-1 - row.gather(pos)), "t_us": rec.get_column("t_us").gather(pos),
            })  # fmt: skip
            hits = _hits(con, "cut_records", candidates, "duck/price/cut_hits")
            row = row.scatter(pos, cards.height)  # no piece valid at the record's start: unrateable
            if hits.height:
                row = row.scatter(hits.get_column("pos"), hits.get_column("card_no").cast(pl.Int32) + one.len())
            rec = rec.with_columns(row)
    return rec


def _per_card(cards: pl.DataFrame) -> dict[str, np.ndarray]:
    """The TA columns, article_no and counted (bool) of every rate-card piece, indexed by card
    row, with a last row of zeros for records without a piece; next_s and price_per at least 1.
    Small: records look them up where they need them (_card_columns, _amounts, the customer and
    special-price candidates, the walk's records) instead of carrying a copy each."""
    table = {c: _with_zero_row(cards, c) for c in (*TA, "article_no")}
    table["next_s"], table["price_per"] = np.maximum(table["next_s"], 1), np.maximum(table["price_per"], 1)
    table["counted"] = _with_zero_row(cards, "counted").astype(bool)
    return table


def _with_zero_row(cards: pl.DataFrame, column: str) -> np.ndarray:
    """A column of _cards (nulls as 0) with a last row of 0: what a record without a piece (row cards.height) reads."""
    values = cards.get_column(column).fill_null(0).to_numpy()
    return np.append(values, np.zeros(1, dtype=values.dtype))


def _card_columns(rec: pl.DataFrame, cards: pl.DataFrame, per_card: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per record, its rate-card `row` (cards.height: none), the piece's ON_RECORD columns (zeros
    without one; `carded` says who has one), its rated `quantity` and whether it has one (`rated`):
    seconds rounded up to the granularity (the first increment, then the next ones), bytes, or 1
    event; none when the record lacks what its unit needs or has no price.

    One pass in pieces of CACHE_ROWS records, on both cores: the bench's 10 M records in 0.18 s,
    where the gathers (a column per thread) and then the quantities took 0.20 s."""
    row = rec.get_column("card_row").to_numpy()
    duration, volume = rec.get_column("duration_s"), rec.get_column("volume_bytes")
    d, v = duration.fill_null(0).to_numpy(), volume.fill_null(0).to_numpy()
    has_d, has_v = duration.is_not_null().to_numpy(), volume.is_not_null().to_numpy()
    of_card = {c: _with_zero_row(cards, c) for c in ON_RECORD}
    got = {
        **{c: np.empty(rec.height, dtype=values.dtype) for c, values in of_card.items()},
        "row": row, "carded": np.empty(rec.height, dtype=bool), "quantity": np.empty(rec.height, dtype=np.int64),
        "rated": np.empty(rec.height, dtype=bool),
    }  # fmt: skip

    def piece(at: slice) -> None:
        r = row[at]
        for c, values in of_card.items():
            got[c][at] = values[r]
        unit, first, step, dur = per_card["unit"][r], per_card["first_s"][r], per_card["next_s"][r], d[at]
        seconds = np.where(dur <= 0, 0, np.where(dur <= first, first, first + (dur - first + step - 1) // step * step))
        second, byte = unit == UNITS["second"], unit == UNITS["byte"]
        carded = r < cards.height
        got["carded"][at] = carded
        got["quantity"][at] = np.where(second, seconds, np.where(byte, v[at], 1))
        got["rated"][at] = ((second & has_d[at]) | (byte & has_v[at]) | (unit == UNITS["event"])) & carded

    in_pieces(rec.height, piece, rows=CACHE_ROWS)
    return got


def _with_customer(con: duckdb.DuckDBPyConnection, rec: pl.DataFrame, card: dict[str, np.ndarray], per_card: dict[str, np.ndarray]) -> None:
    """The customer's own price of the article in the band at the record's start (precedence
    level 3) in place of the rate card's, except for flat-price usage (in `card`, in place)."""
    if "cust_no" not in rec.columns:
        return
    rows = (rec.get_column("cust_no") > 0) & pl.Series(card["carded"] & (card["src"] != FLAT))
    candidates = _positions(rec, card, rows, "cust_no", "article_no", "band_no", "t_us", per_card=per_card)
    _override(card, _hits(con, "customer_records", candidates, "duck/price/customer_hits"))


def _with_special(con: duckdb.DuckDBPyConnection, rec: pl.DataFrame, card: dict[str, np.ndarray], per_card: dict[str, np.ndarray]) -> None:
    """The contract's special price of the called number (precedence levels 1 and 2) in place of
    any other; flat-price usage is never special (sql/duck/price/special_hits.sql; in `card`)."""
    if "special" not in rec.columns:
        return
    # the rate card's source says whether the record is flat (a customer price never is)
    rows = rec.get_column("special") & rec.get_column("cp_key").is_not_null() & pl.Series(card["carded"] & (card["src"] != FLAT))
    candidates = _positions(rec, card, rows, "contract_no", "cp_key", "article_no", "band_no", "t_us", per_card=per_card)
    _override(card, _hits(con, "special_records", candidates, "duck/price/special_hits"))


def _without_unpriced(card: dict[str, np.ndarray]) -> None:
    """Records whose piece has no price and that no customer or special price priced lose their
    piece: unrateable, with the reason that the tariff has no price (in `card`, in place)."""
    unpriced = card["src"] == UNPRICED
    if unpriced.any():
        card["carded"] &= ~unpriced
        card["rated"] &= ~unpriced


def _positions(
    rec: pl.DataFrame, card: dict[str, np.ndarray], rows: pl.Series, *columns: str, per_card: dict[str, np.ndarray] | None = None
) -> pl.DataFrame:
    """`columns` of the `rows` (a mask) of `rec`, of `card` or of their card row in `per_card`,
    with their position in it (`pos`)."""
    pos = rows.fill_null(False).arg_true()
    at = pos.to_numpy()
    by_row = {c: per_card[c] for c in columns if c not in card and per_card is not None and c in per_card}
    own = [c for c in columns if c not in card and c not in by_row]
    return rec.select(own).gather(pos).with_columns(
        pl.Series("pos", at.astype(np.int64)),
        *(pl.Series(c, card[c][at]) for c in columns if c in card),
        *(pl.Series(c, values[card["row"][at]]) for c, values in by_row.items()),
    ).select("pos", *columns)


def _hits(con: duckdb.DuckDBPyConnection, name: str, candidates: pl.DataFrame, query: str) -> pl.DataFrame:
    """The rows of sql/<query>.sql over `candidates`, registered as `name` for it."""
    if not candidates.height:
        return pl.DataFrame(schema={"pos": pl.Int64})
    con.register(name, candidates.to_arrow())
    try:
        return con.sql(sql.load(query)).pl()
    finally:
        con.unregister(name)


def _override(card: dict[str, np.ndarray], hits: pl.DataFrame) -> None:
    """price_micro, src and ref_no of the records `hits` names (by pos) replaced by its, in place."""
    if hits.height:
        at = hits.get_column("pos").to_numpy()
        for c in ("price_micro", "src", "ref_no"):
            card[c][at] = hits.get_column(c).to_numpy()


# --- quantity and amount ----------------------------------------------------------------------


def _month(t_us: pl.Expr, lo: int | None, hi: int | None) -> pl.Expr:
    """The UTC month index (year * 12 + month - 1) of epoch-microsecond instants `t_us` between
    `lo` and `hi`: a lookup by day in that span of days."""
    if lo is None:
        return pl.lit(None, pl.Int32)
    d0, d1 = lo // US_PER_DAY, hi // US_PER_DAY
    days = pl.date_range(date(1970, 1, 1) + timedelta(days=d0), date(1970, 1, 1) + timedelta(days=d1), eager=True)
    return _at((days.dt.year() * 12 + days.dt.month() - 1).cast(pl.Int32), t_us // US_PER_DAY - d0)


def _priced(
    con: duckdb.DuckDBPyConnection, rec: pl.DataFrame, card: dict[str, np.ndarray], per_card: dict[str, np.ndarray], rules: walk.Rules, carried: pl.DataFrame
) -> pa.Table:
    """PRICING_COLUMNS of the priced records.

    A record that counts toward free quantities or tiers is walked (walk.py), which says its
    free units, and for a tiered one the price of the tier its last unit lies in and its tier
    fees. A record's charged units (quantity - free) are charged at its unit price, except where
    they span tiers: then at most two tier parts at their prices (p1 × u1 + p2 × u2) plus the
    full tiers between them (mid). Then: usage = charged cost / price_per, rounded once; a
    record with charged units pays the connect fee on top and at least the minimum charge (a
    wholly free record and flat-price usage pay the usage only); tier flat fees on top;
    fee = amount - usage. No price or no quantity: amount NULL (unrateable).
    """
    n = rec.height
    quantity, rated = card["quantity"], card["rated"]
    month = rec.get_column("month_idx").to_numpy()
    src, ta = card["src"], card["ta_no"]
    # the records that count toward free quantities or tiers: none where no piece does
    counted = np.flatnonzero(per_card["counted"][card["row"]] & rated) if per_card["counted"].any() else np.zeros(0, dtype=np.int64)
    # a record whose amount is beyond the limit is unrateable, so it neither uses free units nor fills
    # tiers: the walk runs once, and again (only then) without the walked records found beyond it
    out = np.zeros(n, dtype=bool)
    while True:
        free, fee, tier_no, spanning, replaced = _walked(con, rec, card, rules, carried, counted)
        unit_price = card["price_micro"]
        amount, fee, beyond = _amounts(card, per_card, unit_price, free, fee, spanning)
        walked_beyond = beyond[counted]
        if not walked_beyond.any():
            break
        for at, price in replaced:  # the card's prices again where tiers replaced them, for the walk without those records
            unit_price[at] = price
        out[counted[walked_beyond]] = True
        counted = counted[~walked_beyond]
    beyond = beyond | out
    missing, no_card = ~rated, ~card["carded"]
    unpaid = missing | beyond
    untiered = _all_null(n) if tier_no is None else None  # no walk: no record has a tier
    columns = {
        "rid": rec.get_column("rid").to_arrow(),
        "dev_no": rec.get_column("dev_no").to_arrow(),
        "contract_no": rec.get_column("contract_no").to_arrow(),
        "ta_no": _masked(ta.astype(np.int32, copy=False), no_card),
        "zone_no": rec.get_column("zone_no").to_arrow(),
        "band_no": rec.get_column("band_no").to_arrow(),
        "month_idx": pa.array(month),
        "duration_s": rec.get_column("duration_s").to_arrow(),
        "volume_bytes": rec.get_column("volume_bytes").to_arrow(),
        "quantity": _masked(quantity, missing),
        "free_quantity": pa.array(free),
        "price_micro": _masked(unit_price, no_card),
        "src": _masked(src.astype(np.int8, copy=False), no_card),
        "ref_no": _masked(card["ref_no"].astype(np.int32, copy=False), no_card),
        "tier_no": untiered if tier_no is None else _masked(tier_no, tier_no == 0),
        "tier_before": untiered if tier_no is None else _only_at(n, *_spanned(spanning, "pos", "tier_before")),
        "fee_micro": _masked(fee, unpaid),
        "amount_micro": _masked(amount, unpaid),
    }
    return pa.table({c: columns[c].combine_chunks() if isinstance(columns[c], pa.ChunkedArray) else columns[c] for c in PRICING_COLUMNS})


def _masked(values: np.ndarray, null: np.ndarray) -> pa.Array:
    """`values` (contiguous, their memory shared) as an Arrow array, null where `null`: the validity
    bitmap packed by NumPy (pa.array's mask= took 9 ms per 10 M-row column, packbits 1 ms)."""
    valid = np.packbits(~null, bitorder="little")
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), values.size, [pa.py_buffer(valid), pa.py_buffer(values)], null_count=-1)


def _zeros(n: int, dtype) -> np.ndarray:
    """`n` zeros (writable) in a private memory mapping of their own: until written, its pages are
    the kernel's page of zeros (its huge one where transparent huge pages may be asked for), so
    reading them takes no memory and clears nothing: 80 MB read in 1.5 ms (13 ms in 4 KB pages).
    np.zeros takes its memory from the heap (pipeline/__init__.py keeps freed memory there), which
    calloc must clear when an earlier array used it: 0-0.3 s for a run's two 80 MB columns of free
    units and tier fees, most often read and never written (no record walked)."""
    size = n * np.dtype(dtype).itemsize
    if not size or not hasattr(mmap, "MAP_PRIVATE"):  # nothing to map, or no POSIX mmap (Windows)
        return np.zeros(n, dtype=dtype)
    mapped = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        mapped.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(mapped, dtype=dtype, count=n)


def _spanned(spanning: list[dict[str, np.ndarray]], *columns: str) -> list[np.ndarray]:
    """`columns` of the walked parts' spanning records, one after the other (none: empty)."""
    return [np.concatenate([part[c] for part in spanning]) if spanning else np.zeros(0, dtype=np.int64) for c in columns]


def _only_at(n: int, pos: np.ndarray, values: np.ndarray) -> pa.Array:
    """`n` BIGINTs, NULL but at `pos`, which hold `values`: a column few records have a value in (the
    tier a record's units start in, where they span tiers: 949 of the pricing benchmark's 10 M), over
    zeroed memory nothing else writes (_zeros), instead of a full column of -1 compared again."""
    data, present = _zeros(n, np.int64), _zeros(n, np.bool_)
    data[pos], present[pos] = values, True
    return _masked(data, ~present)


def _all_null(n: int) -> pa.Array:
    """`n` NULL BIGINTs over zeroed memory nothing writes (_zeros; pa.nulls writes its zeros: on this
    VM 0.3-0.4 s for two 10 M-row columns of fresh memory, docs/performance.md)."""
    valid, values = _zeros((n + 7) // 8, np.uint8), _zeros(n, np.int64)
    return pa.Array.from_buffers(pa.int64(), n, [pa.py_buffer(valid), pa.py_buffer(values)], null_count=n)


def _walked(
    con: duckdb.DuckDBPyConnection, rec: pl.DataFrame, card: dict[str, np.ndarray], rules: walk.Rules, carried: pl.DataFrame, counted: np.ndarray
) -> tuple:
    """(free, tier_fee, tier_no, spanning, replaced) after walking the `counted` records (_priced); `spanning`:
    per walked part, the records whose charged units span tiers (their position, tier_before and SPAN_PARTS).

    A tiered record's unit price (the price of the tier its last unit lies in) is written over its
    card price in card["price_micro"], in place (a copy of the column was 80 MB of fresh memory per
    10 M records); `replaced` holds (positions, card prices) of what was written over."""
    n = rec.height
    quantity, price, src, ta = card["quantity"], card["price_micro"], card["src"], card["ta_no"]
    free, fee = _zeros(n, np.int64), _zeros(n, np.int64)
    tier_no = None
    replaced: list[tuple[np.ndarray, np.ndarray]] = []
    spanning: list[dict[str, np.ndarray]] = []  # per walked part: the records whose charged units span tiers
    if counted.size:
        tier_no = np.zeros(n, dtype=np.int64)
        month = rec.get_column("month_idx").to_numpy()
        contract = rec.get_column("contract_no").fill_null(0).to_numpy()  # no contract: not walked (no card)
        code = walk.settled(contract, ta, month, counted, quantity, rules, carried)
        if code is not None:  # the records whose group's order cannot matter take what the walk would say
            _settle(counted, code, quantity, src, rules, free, tier_no, price, replaced)
            counted = counted[code == walk.UNSETTLED]
        rows, gk = walk.walk_order(con, contract, ta, month, rec.get_column("t_us").to_numpy(), counted)
        q, s = np.empty(rows.size, dtype=quantity.dtype), np.empty(rows.size, dtype=src.dtype)

        def gathered(at: slice) -> None:
            q[at], s[at] = quantity[rows[at]], src[rows[at]]

        in_pieces(rows.size, gathered)

        def walk_part(part: slice) -> None:
            at = rows[part]
            w = walk.walked(gk[part], q[part], s[part], rules, carried)
            # written back at random places, so only where a column's initial value does not hold
            # already: half the walked records have no free units, few pay a tier fee or span tiers
            _put(free, at, w.free, w.free != 0)
            at = at[w.tiered]
            replaced.append((at, price[at]))
            tier_no[at], price[at] = w.tier_no, w.unit_price
            _put(fee, at, w.tier_fee, w.tier_fee != 0)
            spans = w.tier_before >= 0
            if spans.any():
                spanning.append({"pos": at[spans], **{c: getattr(w, c)[spans] for c in ("tier_before", *SPAN_PARTS)}})

        # the parts hold whole groups (one contract's each): they walk apart, two at once (one per core)
        on_both_cores(walk_part, walk.group_slices(gk, WALK_PARTS))
    return free, fee, tier_no, spanning, replaced


def _settle(
    counted: np.ndarray, code: np.ndarray, quantity: np.ndarray, src: np.ndarray, rules: walk.Rules,
    free: np.ndarray, tier_no: np.ndarray, price: np.ndarray, replaced: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    """Write what the walk would say of the `counted` records walk.settled gave a `code`: all units free, or
    none free and (a tariff-priced record with units) the one tier's number and price, written over the card
    price (its positions and card prices appended to `replaced`)."""

    def piece(at: slice) -> None:
        r, c = counted[at], code[at]
        whole = r[c == walk.ALL_FREE]
        free[whole] = quantity[whole]
        one = (c >= 0) & (src[r] == walk.TARIFF) & (quantity[r] > 0)
        r, tier = r[one], c[one]
        replaced.append((r, price[r]))
        tier_no[r], price[r] = rules.tier_no[tier], rules.tier_price[tier]

    in_pieces(counted.size, piece)


def _put(column: np.ndarray, at: np.ndarray, values: np.ndarray, where: np.ndarray) -> None:
    """column[at] = values where `where` (a mask over `at` and `values`), in place."""
    column[at[where]] = values[where]


def _amounts(
    card: dict[str, np.ndarray], per_card: dict[str, np.ndarray], unit_price: np.ndarray, free: np.ndarray, tier_fee: np.ndarray,
    spanning: list[dict[str, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(amount, fee, beyond) of every record (_priced says how), with cost = unit_price × (quantity - free);
    then of the few records whose charged units span tiers (`spanning`: pos, p1, u1, p2, u2, mid_hi,
    mid_lo), with cost = p1 × u1 + p2 × u2 + mid_hi · 2^62 + mid_lo (walk.Walked), put in their places.

    usage = cost / price_per is rounded once by div_half_up, in 64-bit integers when the largest
    terms cannot overflow them and in 128-bit integers otherwise: div_half_up forms
    2 |cost| + per and 2 per, so both must stay below 2^63 (per may be 2^50 B). In 64 bits NumPy
    does all of it in pieces of CACHE_ROWS records, on both cores: each piece's temporary arrays stay
    in the CPU's cache (the pricing benchmark's 10 M records, with connect fees: 0.11-0.12 s, where one
    streaming Polars query took 0.26-0.28 s; `rating bench`'s, without fees: 0.07 s against 0.08-0.09 s).
    In 128 bits Polars computes the usage (NumPy has no 128-bit integers), NumPy the rest.

    `beyond` marks the records whose amount a stored amount cannot hold (DECIMAL(18,6): at most
    MAX_AMOUNT_MICRO micro-units either way; an absurd price or volume): they stay unrateable,
    with that reason, instead of stopping the run. Their amount and fee are 0 here.
    """
    span = dict(zip(("pos", *SPAN_PARTS), _spanned(spanning, "pos", *SPAN_PARTS))) if spanning else None

    def extent(v: np.ndarray) -> tuple[int, int]:
        return (int(v.min()), int(v.max())) if v.size else (0, 0)

    def bound(v: np.ndarray) -> int:
        lo, hi = extent(v)
        return max(hi, -lo, 0)

    quantity, src, row, per = card["quantity"], card["src"], card["row"], per_card["price_per"]
    (price_lo, price_hi), (quantity_lo, quantity_hi) = extent(unit_price), extent(quantity)  # once each: 10 M values
    cost_bound = max(price_hi, -price_lo, 0) * max(quantity_hi, -quantity_lo, 0)
    if span is not None:
        mid = (bound(span["mid_hi"]) << walk.WORD_BITS) + bound(span["mid_lo"])
        cost_bound = max(cost_bound, bound(span["p1"]) * bound(span["u1"]) + bound(span["p2"]) * bound(span["u2"]) + mid)
    # the card's largest price_per bounds every record's (the card is small)
    wide = 2 * cost_bound + 2 * bound(per) >= 2**63
    # usage <= cost + 1 (price_per >= 1): only when that and the fees on top could pass the limit
    # are the amounts checked against it (a normal catalog never pays for the check; a wide one always does)
    card_fees = bound(per_card["connect_micro"]) + bound(per_card["min_charge_micro"])
    checked = cost_bound + 1 + card_fees + bound(tier_fee) > MAX_AMOUNT_MICRO
    # a card without connect fees and minimum charges adds nothing to a record's usage, so no record
    # looks them up, when no usage is below 0 (max(usage + 0, 0) is the usage then): no price is
    # (the catalog holds every price to >= 0) and no quantity is (free units never exceed it)
    feeless = not checked and not card_fees and price_lo >= 0 and quantity_lo >= 0
    n = row.size
    amount, fee, beyond = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.zeros(n, dtype=bool)

    def charged(at, usage: np.ndarray, out: np.ndarray | None) -> None:
        """amount, fee and beyond of the records `at` (a slice or positions) from their usage (`out`:
        whose usage is beyond the limit, None: unchecked): a record with charged units pays the
        connect fee on top and at least the minimum charge (a wholly free record and flat-price usage
        pay the usage only); tier flat fees on top; fee = amount - usage."""
        if feeless:
            amount[at], fee[at] = usage + tier_fee[at], tier_fee[at]
            return
        r = row[at]
        pays = (quantity[at] > free[at]) & (src[at] != FLAT)
        total = np.where(pays, np.maximum(per_card["connect_micro"][r] + usage, per_card["min_charge_micro"][r]), usage) + tier_fee[at]
        extra = total - usage
        if out is not None:
            out = out | (np.abs(total) > MAX_AMOUNT_MICRO)
            total[out], extra[out], beyond[at] = 0, 0, out
        amount[at], fee[at] = total, extra

    def checked_usage(usage: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if not checked:
            return usage, None
        out = np.abs(usage) > MAX_AMOUNT_MICRO
        return np.where(out, 0, usage), out

    def usage_128(frame: pl.DataFrame, cost: pl.Expr) -> tuple[np.ndarray, np.ndarray]:
        exact = div_half_up(cost, pl.col("per").cast(pl.Int128))
        got = frame.lazy().select(
            pl.when(exact.abs() <= MAX_AMOUNT_MICRO).then(exact).otherwise(0).cast(pl.Int64).alias("usage"),
            (exact.abs() > MAX_AMOUNT_MICRO).alias("out"),
        ).collect(engine="streaming")
        return got.get_column("usage").to_numpy(), got.get_column("out").to_numpy()

    if wide:
        units = pl.DataFrame({"price": unit_price, "units": quantity - free, "per": per[row]})
        usage, out = usage_128(units, pl.col("price").cast(pl.Int128) * pl.col("units"))

        def piece(at: slice) -> None:
            charged(at, usage[at], out[at])
    else:

        def piece(at: slice) -> None:
            charged(at, *checked_usage(div_half_up(unit_price[at] * (quantity[at] - free[at]), per[row[at]])))

    in_pieces(n, piece, rows=CACHE_ROWS)
    if span is not None:
        pos = span["pos"]
        if wide:
            parts = pl.DataFrame({**{c: span[c] for c in SPAN_PARTS}, "per": per[row[pos]]})
            mid = pl.col("mid_hi").cast(pl.Int128) * (1 << walk.WORD_BITS) + pl.col("mid_lo")
            charged(pos, *usage_128(parts, pl.col("p1").cast(pl.Int128) * pl.col("u1") + pl.col("p2").cast(pl.Int128) * pl.col("u2") + mid))
        else:
            cost = span["p1"] * span["u1"] + span["p2"] * span["u2"] + (span["mid_hi"] << walk.WORD_BITS) + span["mid_lo"]
            charged(pos, *checked_usage(div_half_up(cost, per[row[pos]])))
    return amount, fee, beyond
