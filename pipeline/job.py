"""One rating run over a batch of canonical usage: validate, deduplicate, assign, price, aggregate.

No network, and no files but the device-index cache when `rate` is given one (`index_cache`,
pipeline.io.index_cache: the index comes out the same, cached or built). The batch and the
catalog come in as frames; the outcome tables stay as DuckDB tables on the run's connection
until a writer in pipeline/io stores them. Every stage is timed, and the conservation ledger
is checked before the result is handed out.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

import sql
from pipeline import engine
from pipeline.assign import assigned_usage, keyed_usage, located_usage, unassigned_only
from pipeline.assign.catalog import within_contracts
from pipeline.io.index_cache import cached_device_index
from pipeline.io.warehouse import Parts
from pipeline.bill import invoice_lines, line_sums
from pipeline.catalog import Catalog
from pipeline.ingest import REJECT_SCHEMA, duplicate_rows, validation_rejects
from pipeline.ledger import checked, ledger
from pipeline.price import build_rate_card, build_zone_index, key_dim, priced_usage, zone_segments, zoned_usage
from pipeline.price.detail import rated_usage, rated_usage_parts
from schemas.outputs import TABLES
from schemas.usage import USAGE_ARROW

try:
    import resource
except ImportError:  # no resource module (Windows): page faults are not counted
    resource = None

CANONICAL = [f.name for f in USAGE_ARROW]
#: What a run stores besides the per-record detail (rated_usage) and the runs table.
RUN_TABLES = ("invoice_lines", "rejects", "unassigned", "unrateable", "duplicates", "non_billable", "ledger")


@dataclass
class StageTiming:
    stage: str
    seconds: float
    records: int
    #: CPU time of the whole process (every thread: Polars', DuckDB's, NumPy's) during the stage;
    #: cpu_seconds / seconds is how many of the cores the stage kept busy on average
    cpu_seconds: float = 0.0
    #: minor page faults of the process during the stage (minor_faults): the fresh memory it touched
    page_faults: int = 0


def minor_faults() -> int:
    """Minor page faults the process has taken so far: one per page of memory touched for the first
    time since the kernel handed it out (on this project's VM about as costly as filling the page,
    docs/performance.md). 0 where the platform does not count them."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource is not None else 0


class StageClock:
    """What a StageTiming holds, counted from the clock's making: wall time, the process's CPU time
    (time.process_time: every thread) and its minor page faults. rate's stages and `rating bench`'s
    own steps (flows/bench.py) are timed by it."""

    def __init__(self) -> None:
        self.start, self.cpu, self.faults = time.perf_counter(), time.process_time(), minor_faults()

    def timing(self, stage: str, records: int) -> StageTiming:
        """The stage `stage` of `records` records, from the clock's making until now."""
        now = time.perf_counter(), time.process_time(), minor_faults()
        return StageTiming(stage, now[0] - self.start, records, now[1] - self.cpu, now[2] - self.faults)


@dataclass
class RatingResult:
    """What a run produced: outcome tables on `con`, the checked ledger and stage timings."""

    run_id: str
    con: duckdb.DuckDBPyConnection
    ledger: pl.DataFrame
    input_records: int
    timings: list[StageTiming] = field(default_factory=list)
    #: the batch that was rated; a priced record's rid is its row here
    priced_batch: pl.DataFrame | None = None
    #: its priced records (table `pricing` on `con`, pipeline.price.priced_usage)
    priced: pa.Table | None = field(default=None, repr=False)
    #: its usage invoice lines (table `invoice_lines` on `con`, pipeline.bill.invoice_lines)
    lines: pl.DataFrame | None = field(default=None, repr=False)
    #: its other outcome tables as stored, in the order they are stored (tables `out_<name>` on `con`)
    outcomes: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    _detail: pl.DataFrame | None = field(default=None, repr=False)

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        """A stored table of this run (a name in schemas.outputs.TABLES), lazily."""
        if name == "rated_usage":
            return self.con.from_arrow(self.rated_usage())
        return self.con.table(f"out_{name}")

    def stored_table(self, name: str) -> duckdb.DuckDBPyRelation | pl.DataFrame:
        """A table of this run as it is handed to the writer (pipeline.io.warehouse.write_run): the
        invoice lines and the outcomes as their Polars frames, the others as `table(name)`.

        Polars writes a frame's rows in its order, so a run stored again stores the same files: DuckDB,
        which may reorder rows where no ORDER BY holds them (preserve_insertion_order is off), wrote
        300 k rows of a registered table in another order in 2 runs of 6."""
        if name == "invoice_lines" and self.lines is not None:
            return self.lines
        return self.outcomes[name] if name in self.outcomes else self.table(name)

    def rated_usage(self) -> pl.DataFrame:
        """The per-record detail of the rated records (RATED_USAGE), built once, when first asked for."""
        if self._detail is None:
            self._detail = rated_usage(self.con, self.priced_batch, self.run_id, self.priced)
        return self._detail

    def rated_usage_parts(self) -> Parts:
        """The per-record detail to store, made a part at a time as it is written
        (pipeline.price.detail.rated_usage_parts); the one frame when it was built already."""
        if self._detail is not None:
            return Parts([self._detail])
        return Parts(rated_usage_parts(self.con, self.priced_batch, self.run_id, self.priced))

    @property
    def net_amount(self):
        """Total net amount of the run's invoice lines (Decimal, cents)."""
        return engine.one_row(self.con, "SELECT coalesce(sum(net_amount), 0)::DECIMAL(18,2) FROM out_invoice_lines")[0]

    def duplicates_by_run(self) -> list[tuple[str, int]]:
        """(run_id, records) of each other run that stored records this run found again as duplicates."""
        return self.con.execute(sql.load("duck/out/duplicates_by_run"), {"run": self.run_id}).fetchall()

    def counts(self) -> dict[str, int]:
        return dict(zip(self.ledger["outcome"], self.ledger["records"]))

    def stored_tables(self, runs: pl.DataFrame | None = None) -> dict[str, duckdb.DuckDBPyRelation | pl.DataFrame | Parts]:
        """Every table the run stores, shaped as schemas/outputs.py says: DuckDB relations, the invoice
        lines as a Polars frame (stored_table), and the per-record detail (rated_usage) as Polars frames
        made one at a time (rated_usage_parts; Polars writes 10 M rows of Parquet 3× faster)."""
        if runs is not None:
            self.con.register("out_runs", runs.to_arrow())
        tables: dict[str, duckdb.DuckDBPyRelation | pl.DataFrame | Parts] = {name: self.stored_table(name) for name in RUN_TABLES}
        tables["rated_usage"] = self.rated_usage_parts()
        if runs is not None:
            tables["runs"] = self.table("runs")
        return tables


def rate(
    usage: pl.DataFrame,
    catalog: Catalog,
    run_id: str,
    read_rejects: pl.DataFrame | None = None,
    seen: pl.DataFrame | None = None,
    earlier: pl.DataFrame | None = None,
    threads: int | None = None,
    index_cache: Path | None = None,
    rejected_sums: tuple[int, int] = (0, 0),
) -> RatingResult:
    """Rate one batch of canonical usage against the catalog.

    Args:
        usage: canonical usage records (schemas.usage.USAGE_POLARS), files in order.
        read_rejects: cells of lines the readers could not parse (REJECTS columns without run_id);
            each distinct (source_file, source_line) is one rejected input record.
        seen: (record_key, run_id) of records rated by earlier runs, for duplicate detection.
        earlier: units earlier runs rated per contract, tariff, article and period
            (pipeline.price.carry_in), so free quantities and tiers go on where they stopped.
        index_cache: where built device indexes are kept between runs (pipeline.io.index_cache);
            None: build it every run.
        rejected_sums: seconds and bytes of rejected records that come only as `read_rejects`
            rows although their durations were known: a stored run rated again
            (warehouse.StoredInput); they count in the rejected outcome and in the input.
    """
    con = engine.connect(threads=threads)
    timings: list[StageTiming] = []

    @contextmanager
    def stage(name: str, records: int):
        clock = StageClock()
        yield
        timing = clock.timing(name, records)
        earlier = next((t for t in timings if t.stage == name), None)
        if earlier:  # a stage done in two steps counts once, with both times
            earlier.seconds += timing.seconds
            earlier.cpu_seconds += timing.cpu_seconds
            earlier.page_faults += timing.page_faults
        else:
            timings.append(timing)

    read_rejects = pl.DataFrame(schema=REJECT_SCHEMA) if read_rejects is None else read_rejects.cast(REJECT_SCHEMA)
    # a reader reports every bad cell; a bad line is one input record, however many cells it breaks
    unreadable_rows = read_rejects.select(pl.struct("source_file", "source_line").n_unique()).item()
    n_in = usage.height
    with stage("validate", n_in):
        valid, rejects = validation_rejects(usage)
    with stage("deduplicate", n_in):
        dup, first_seen_run = duplicate_rows(usage.get_column("record_key"), valid, seen)
        accepted = valid & ~dup
        billable = accepted & usage.get_column("billable")  # keyed by row, never copied out of the batch
        n_billable = int(billable.sum())
        non_billable = usage.filter(accepted & ~usage.get_column("billable"))
        dupes = usage.filter(dup).with_columns(first_seen_run.filter(dup))
    with stage("register catalog", n_billable):
        catalog.register(con)
        keys = key_dim(catalog)
        con.register("key_dim", keys.to_arrow())
    with stage("key", n_billable):
        keyed = keyed_usage(usage, keys, billable)
    with stage("device index", catalog.device_ids.height):
        index = cached_device_index(con, within_contracts(catalog.device_ids, catalog.contracts), cache_dir=index_cache)
    with stage("assign", n_billable):
        located = located_usage(con, keyed, index)
        del keyed  # `located` holds what it needs of it: the rest of its memory goes to the stages after (0.5 GiB at 10 M records)
        assigned_usage(con, located)
    with stage("zone + rate card", n_billable):
        build_zone_index(con, catalog)
        zones = zone_segments(con)
        # the rate card is work on the catalog (DuckDB's, and Polars' joins of the contracts and device
        # IDs), the zones NumPy's on the records: done at once, in two threads (only the rate card's
        # uses the connection)
        with ThreadPoolExecutor(1) as pool:
            card = pool.submit(build_rate_card, con, catalog, index.intervals)
            located = zoned_usage(located, zones)
            card.result()
    with stage("price", n_billable):
        priced = priced_usage(con, earlier, located)
        con.execute("CREATE OR REPLACE TEMP VIEW rated AS SELECT * FROM pricing WHERE amount_micro IS NOT NULL")
        unassigned_only(con, located)
        del located

    all_rejects = pl.concat([read_rejects, rejects])
    with stage("aggregate + outcomes + ledger", n_in):
        # the lines' sums are Polars' work on the priced records, the outcomes DuckDB's (mostly on
        # one core): done at once, in two threads (only this one uses the connection)
        with ThreadPoolExecutor(1) as pool:
            sums = pool.submit(line_sums, priced)
            outcomes = _store(con, run_id, usage, all_rejects, dupes, non_billable)
            counts = _counts(con, usage, valid, unreadable_rows, rejects, non_billable, dupes)
            lines = invoice_lines(con, run_id, sums.result())
        con.execute("CREATE OR REPLACE TEMP VIEW out_invoice_lines AS SELECT * FROM invoice_lines")
        records, seconds, volume = counts["rejected"]
        counts["rejected"] = (records, seconds + rejected_sums[0], volume + rejected_sums[1])
        n_total = n_in + unreadable_rows
        in_records, in_seconds, in_bytes = _frame_sums(usage)
        checked_ledger = checked(ledger(run_id, counts), n_total, in_seconds + rejected_sums[0], in_bytes + rejected_sums[1])
        con.register("out_ledger", checked_ledger.to_arrow())
        outcomes["ledger"] = checked_ledger
    return RatingResult(run_id, con, checked_ledger, n_total, timings, priced_batch=usage, priced=priced, lines=lines, outcomes=outcomes)


def _counts(con, usage, valid, unreadable_rows, rejects, non_billable, dupes) -> dict[str, tuple[int, int, int]]:
    """(records, seconds, bytes) per outcome of the run."""
    return {
        "rated": _sums(con, "rated"),
        "unassigned": _sums(con, "out_unassigned"),
        "unrateable": _sums(con, "out_unrateable"),
        "non_billable": _frame_sums(non_billable),
        "duplicate": _frame_sums(dupes),
        "rejected": (unreadable_rows + rejects.height, *_frame_sums(usage.select("duration_s", "volume_bytes").filter(~valid))[1:]),
    }


def _store(con, run_id, usage, rejects, dupes, non_billable) -> dict[str, pl.DataFrame]:
    """Shape every outcome as it is stored (schemas/outputs.py), as tables `out_<name>`; the
    outcomes by name, in the order they are stored (batch order).

    The outcome queries read their records as `usage_rows`: just those rows of the batch, taken
    by rid, instead of a join with all 10 M records; and their rows of `assignment` or `pricing`
    as `outcome_rows`, taken by the one scan that finds them (sql/duck/out/<name>_rows.sql), so
    the 10 M-row `pricing` is not scanned a second time for its 0.1 % unrateable rows. Their
    results are kept as frames (registered as Arrow), as the other outcomes are: a temporary table
    would copy them into DuckDB's storage once more (100 k unassigned records: 0.06 s, not 0.03 s).
    """
    frames = {}
    for name in ("unassigned", "unrateable"):
        rows = con.sql(sql.load(f"duck/out/{name}_rows")).pl()
        rids = rows.get_column("rid")
        con.register("outcome_rows", rows)
        con.register("usage_rows", engine.arrow(_rows_of(usage, rids).with_columns(rids)))
        frames[name] = con.sql(sql.load(f"duck/out/{name}"), params={"run_id": run_id}).pl()  # ORDER BY rid: in batch order
    con.unregister("usage_rows")
    con.unregister("outcome_rows")
    frames |= {
        "rejects": rejects.select(pl.lit(run_id).alias("run_id"), pl.all()),
        "duplicates": dupes.select(pl.lit(run_id).alias("run_id"), *CANONICAL, "first_seen_run"),
        "non_billable": non_billable.select(pl.lit(run_id).alias("run_id"), *CANONICAL),
    }
    for name, frame in frames.items():
        con.register(f"out_{name}", engine.arrow(frame))
    return frames


def _rows_of(frame: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """frame.gather(rows) for ascending row numbers, a piece of the frame at a time (its first column's
    chunks: one per file or row group read). Polars gathers across a frame of many chunks 6-7× slower:
    the bench's 100 k unassigned records of 10 M took 0.08 s, and 0.012-0.015 s so."""
    bounds = np.cumsum([0, *frame.get_column(frame.columns[0]).chunk_lengths()])
    cuts = np.searchsorted(rows.to_numpy(), bounds)
    parts = [
        frame.slice(int(lo), int(hi - lo)).gather(rows.slice(int(a), int(b - a)) - int(lo))
        for lo, hi, a, b in zip(bounds[:-1], bounds[1:], cuts[:-1], cuts[1:])
        if b > a
    ]
    return pl.concat(parts) if parts else frame.clear()


def _sums(con, table: str) -> tuple[int, int, int]:
    return engine.one_row(
        con, f"SELECT count(*), coalesce(sum(duration_s), 0)::BIGINT, coalesce(sum(volume_bytes), 0)::BIGINT FROM {table}"
    )


def _frame_sums(frame: pl.DataFrame) -> tuple[int, int, int]:
    row = frame.select(
        pl.len().cast(pl.Int64),
        pl.col("duration_s").sum().cast(pl.Int64),
        pl.col("volume_bytes").sum().cast(pl.Int64),
    ).row(0)
    return tuple(int(v or 0) for v in row)


assert set(TABLES) >= {"rated_usage", "unassigned", "unrateable", "duplicates", "non_billable", "rejects", "invoice_lines", "ledger"}
