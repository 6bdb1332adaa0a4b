"""The `rate_usage` flow: inbox files → canonical usage → rated usage → invoice lines → warehouse (+ Postgres).

Tasks work on files or whole batches, never on single records. Everything record-level
happens in `pipeline.job.rate`, which is pure and vectorised.

Each inbox file is dealt with once, known by its content (pipeline.io.file_ledger): the
files the ledger knows are skipped with the reason, the others are read, normalised, rated
and stored, their ledger rows committed with the run's tables, and then recorded in the ledger.
A run that crashed before its commit is simply run again; one killed after it has its files
recorded by the next run from its commit (file_ledger.fold_committed), which does not read them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import POSTGRES_RETRY_DELAY, refresh_views, retry_when_unreachable
from pipeline import rerate
from pipeline.catalog import Catalog
from pipeline.io.cache_entries import CATALOG, DEVICE_INDEX, warehouse_cache
from pipeline.io.catalog_cache import cached_priced_catalog
from pipeline.config import Settings
from pipeline.ingest import REJECT_SCHEMA
from pipeline.ingest.numbers import normalised_usage
from pipeline.io import billing_store, file_ledger, inbox, quarantine, warehouse
from pipeline.io.file_ledger import FileLedger, LedgerFile
from pipeline.io.readers import UnreadableFile, load_sources, read_usage_file, source_for, usage_batch
from pipeline.io.readers.config import numbering_plan_of
from pipeline.job import RatingResult, rate
from pipeline.ledger import ConservationError, run_record
from pipeline.threads import on_both_cores


@dataclass
class HandIn:
    """The inbox as the file ledger sees it: files to read, files skipped (with why), warnings."""

    #: files to read in this run, each hashed once
    new: list[LedgerFile]
    #: files not read: already processed or quarantined before, or a second copy in this hand-in
    skipped: list[tuple[LedgerFile, str]]
    #: files read although their name is known (other content), or reprocessed on request
    warnings: list[tuple[Path, str]]
    #: identifies the whole hand-in by content: checking the same inbox again is the same check
    handin_id: str
    files: int


@dataclass
class Batch:
    """What the readers made of the new files: canonical usage, unparseable rows, quarantined files."""

    #: canonical usage, identifiers normalised (E.164 phone numbers by each source's numbering plan)
    usage: pl.DataFrame
    rejects: pl.DataFrame
    #: one dict per file no reader could read: source_file, content_hash, size_bytes, reason, path
    quarantined: list[dict]
    #: content hash of every file read or quarantined: together they are the run's identity
    hashes: list[str]
    files: int
    read: int
    #: seconds and bytes of rejected records known only as `rejects` rows (a stored run rated again)
    rejected_sums: tuple[int, int] = (0, 0)
    #: files that changed or went away between their hash and their reading: neither read nor
    #: quarantined, and not recorded, so the next run looks at them again (with why)
    changed: list[tuple[LedgerFile, str]] = field(default_factory=list)
    #: files not read because the run read its most records (max_records) already: not recorded,
    #: the next run reads them (with why)
    deferred: list[tuple[LedgerFile, str]] = field(default_factory=list)


@task(cache_policy=NO_CACHE)
def load_catalog_task(directory: Path, warehouse_dir: Path | None = None) -> Catalog:
    """The core catalog with its pricing files (special and customer prices, promotions, bands, tiers, …),
    validated once per change and kept in `<warehouse>/_cache/catalog` (pipeline.io.catalog_cache)."""
    return cached_priced_catalog(directory, None if warehouse_dir is None else warehouse_cache(warehouse_dir, CATALOG))


@task(cache_policy=NO_CACHE)
def check_inbox(
    inbox_dir: Path, warehouse_dir: Path, reprocess: bool = False, sources_file: Path | None = None, settle_s: float = 0
) -> HandIn:
    """Sort the inbox files by the file ledger: new ones are read, known ones skipped with the reason.

    A file that cannot be read (a dangling link, no permission, a name that is not UTF-8) and a
    directory (the inbox is read flat) are skipped with the reason and looked at again by the
    next run. Of files with the same content, one a source's pattern matches comes first, so a
    misnamed copy never stands in for it (`sources_file`), and a file quarantined before for its
    name alone is read once a source's pattern matches its new name. A file modified less than
    `settle_s` seconds ago may still be uploading: it is skipped the same way, until it settles
    (inbox.unsettled: an mtime far ahead of this clock never makes a file wait).
    """
    logger = get_run_logger()
    files, unreadable = [], []
    now = time.time()
    for path in inbox.inbox_files(inbox_dir):  # files, not records
        if not inbox.utf8_name(path):
            reason = "its name is not UTF-8 text (shown with \\x escapes): rename it (convmv -f latin1 -t utf8); the next run looks again"
            unreadable.append((LedgerFile(inbox.shown(path), None, None), reason))
            continue
        waiting = inbox.unsettled(path, now, settle_s)
        if waiting is not None:
            unreadable.append((LedgerFile(path, None, None), waiting))
            continue
        try:
            files.append(file_ledger.describe(path))
        except OSError as exc:
            reason = f"cannot read the file ({exc.strerror or exc}): a dangling link or no permission; the next run looks again"
            unreadable.append((LedgerFile(path, None, None), reason))
    for path in inbox.inbox_directories(inbox_dir):
        reason = "a directory: the inbox is read flat, so the files in it are not read; move them into the inbox itself"
        unreadable.append((LedgerFile(inbox.shown(path), None, None), reason))
    readable_name = _source_reads(load_sources(sources_file)) if sources_file is not None else None
    if readable_name is not None:
        files.sort(key=lambda f: not readable_name(f.path.name))  # stable: the inbox's order otherwise
    new, already, warnings = FileLedger(warehouse_dir).classify(files, reprocess=reprocess, readable_name=readable_name)
    by_path = {f.path: f for f in files}
    for path, reason in [*already, *((f.path, r) for f, r in unreadable)]:
        logger.info("skipped %s: %s", path, reason)
    for path, warning in warnings:
        logger.warning("%s: %s", path, warning)
    return HandIn(
        new=new,
        skipped=[*((by_path[path], reason) for path, reason in already), *unreadable],
        warnings=warnings,
        handin_id=inbox.run_id_for([f.content_hash for f in files]),
        files=len(files) + len(unreadable),
    )


def _source_reads(sources: dict) -> Callable[[str], bool]:
    """Whether a source of `sources` reads files of a name (its pattern matches it)."""
    return lambda name: source_for(name, sources) is not None


@task(cache_policy=NO_CACHE)
def read_inbox(files: list[LedgerFile], sources_file: Path, max_records: int = 0) -> Batch:
    """Read the given usage files; a file that cannot be read at all is quarantined whole, the others go on.

    Files are read two at a time (one per core: much of a file's reading keeps one core busy), in
    order. With `max_records` (0: no limit), once the files read hold that many input records the
    others are left for the next run (`Batch.deferred`): a backlog is rated over several runs, each
    in bounded memory. Phone numbers are then normalised to E.164 digits by each source's numbering
    plan (its `country` in sources.toml), MACs to one notation, in one vectorised pass over the batch.
    """
    logger = get_run_logger()
    sources = load_sources(sources_file)
    usage, rejects, quarantined, changed = [], [], [], []
    records, taken = 0, 0
    while taken < len(files) and not (max_records and records >= max_records):
        pair, taken = files[taken : taken + 2], taken + 2
        for file, (source, result, reason, failure) in zip(pair, on_both_cores(lambda f: _read_file(f.path, sources, sources_file), pair)):
            path = file.path
            if failure is not None:  # a reader bug or an I/O error must not sink the other files
                logger.error("reading %s as source %r failed", path, source.name, exc_info=failure)
            # the ledger records the hash check_inbox took: only the content it hashed may be read or quarantined
            moved = _changed_since_hashed(file)
            if moved is not None:
                logger.warning("skipped %s: %s", path, moved)
                changed.append((file, moved))
                continue
            if result is not None:
                usage.append(result.usage)
                rejects.append(result.rejects)
                records += result.usage.height + result.rejected_records
                continue
            logger.warning("quarantined %s: %s", path, reason)
            quarantined.append(
                {"source_file": path.name, "content_hash": file.content_hash, "size_bytes": file.size_bytes, "reason": reason,
                 "path": str(path)}
            )  # fmt: skip
    later = f"left for the next run: this run read {records:,} records, as many as it takes (--max-records {max_records:,})"
    deferred = [(file, later) for file in files[taken:]]
    for file, reason in deferred:
        logger.info("skipped %s: %s", file.path, reason)
    not_read = {id(f) for f, _ in [*changed, *deferred]}
    return Batch(
        usage=normalised_usage(usage_batch(usage), numbering_plan_of(sources)),
        rejects=pl.concat(rejects).cast(REJECT_SCHEMA) if rejects else pl.DataFrame(schema=REJECT_SCHEMA),
        quarantined=quarantined,
        hashes=[f.content_hash for f in files if id(f) not in not_read],
        files=len(files) - len(not_read),
        read=len(usage),
        changed=changed,
        deferred=deferred,
    )


def _read_file(path: Path, sources: dict, sources_file: Path) -> tuple:
    """(source, result, reason, failure) of reading one inbox file: its source and records, or
    why it cannot be read (`reason`; `failure`, the exception, where a reader failed unexpectedly)."""
    source = source_for(path.name, sources)
    if source is None:
        return None, None, f"no source in {sources_file} has a pattern matching this file name", None
    try:
        return source, read_usage_file(path, source), None, None
    except UnreadableFile as exc:
        return source, None, exc.reason, None
    except Exception as exc:
        return source, None, f"{source.format} reader failed: {type(exc).__name__}: {exc}", exc


def _changed_since_hashed(file: LedgerFile) -> str | None:
    """Why `file` no longer holds the content check_inbox hashed (replaced, renamed, removed); None: it does.

    Hashing it again costs a fraction of reading it (sha256 runs at several hundred MB/s).
    """
    try:
        now = file_ledger.describe(file.path)
    except OSError as exc:
        return f"gone while this run read it ({exc.strerror or exc}): renamed or removed; the next run looks again"
    if now.content_hash != file.content_hash:
        return "changed while this run read it (replaced or still being written): the next run reads it as it is then"
    return None


@task(cache_policy=NO_CACHE)
def rate_batch(batch: Batch, catalog: Catalog, run_id: str, warehouse_dir: Path) -> RatingResult:
    # Records stored by this same run earlier are not duplicates of themselves: a re-run replaces them.
    seen = warehouse.seen_record_keys(warehouse_dir, except_run=run_id, keys=batch.usage.get_column("record_key"))
    # Free quantities and tiers of a period go on from what other runs of it already rated.
    periods = batch.usage.get_column("start_time").dt.strftime("%Y-%m").unique().drop_nulls().to_list()
    earlier = warehouse.carried_usage(warehouse_dir, run_id, periods=periods)
    # The device index changes only with the catalog's IDs: kept in the warehouse between runs.
    index_cache = warehouse_cache(warehouse_dir, DEVICE_INDEX)
    return rate(
        batch.usage, catalog, run_id, read_rejects=batch.rejects, seen=seen, earlier=earlier, index_cache=index_cache,
        rejected_sums=batch.rejected_sums,
    )  # fmt: skip


@task(cache_policy=NO_CACHE)
def store(
    result: RatingResult, runs: pl.DataFrame, quarantined: list[dict], warehouse_dir: Path, ledger_rows: pl.DataFrame | None = None,
    views: bool = True,
) -> dict[str, int]:
    """Write the run's tables and quarantined files to the warehouse, replacing an earlier execution of the run.

    Args:
        ledger_rows: the file ledger's rows of the run's input files (file_ledger.entries), committed
            with its tables: a run killed before `record_files` has its files recorded by the next
            run (file_ledger.fold_committed). A re-rating reads no file and passes none.
        views: refresh the analyst views after storing; False: the caller refreshes them once, after
            all its runs (a re-rating), so a build that fails is tried, and its warning logged, once.
    """
    tables = result.stored_tables(runs)
    tables[quarantine.TABLE] = result.con.from_arrow(quarantine.quarantine_table(result.run_id, quarantined))
    if ledger_rows is not None:
        tables[file_ledger.COMMITTED] = ledger_rows
    rows = warehouse.write_run(tables, warehouse_dir, result.run_id)
    if views:
        refresh_views(warehouse_dir, get_run_logger())
    return rows


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=POSTGRES_RETRY_DELAY, retry_condition_fn=retry_when_unreachable)
def to_postgres(run_id: str, url: str, warehouse_dir: Path) -> dict[str, int]:
    """Replace stored run `run_id`'s rows in PostgreSQL (creating the schema on first use) with
    its tables as the warehouse holds them, in one transaction; then write every run of the
    warehouse PostgreSQL lacks (one whose own write failed)."""
    from pipeline.io import postgres

    postgres.ensure_schema(url)
    # read back, as the catch-up below reads a run; the per-record detail a file at a time, as it
    # was stored (pipeline.price.detail.rated_usage_parts): it is never held whole
    written = postgres.write_run(url, run_id, warehouse.stored_run(warehouse_dir, run_id, in_parts=("rated_usage",)))
    _catch_up(url, warehouse_dir)
    return written


def _catch_up(url: str, warehouse_dir: Path) -> list[str]:
    """Write every run PostgreSQL lacks or holds as an earlier execution (its own write failed); their run ids."""
    from pipeline.io import postgres

    stale = postgres.mirror_missing(url, warehouse_dir)
    for run_id in stale:
        get_run_logger().warning("run %s was missing or out of date in PostgreSQL: written from the warehouse", run_id)
    return stale


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=POSTGRES_RETRY_DELAY, retry_condition_fn=retry_when_unreachable)
def postgres_catch_up(url: str, warehouse_dir: Path) -> list[str]:
    """A run that read nothing still brings PostgreSQL up to date with the warehouse (docs/warehouse.md)."""
    from pipeline.io import postgres

    postgres.ensure_schema(url)
    return _catch_up(url, warehouse_dir)


@task(cache_policy=NO_CACHE)
def record_files(warehouse_dir: Path, run_id: str | None, hand_in: HandIn, ledger_rows: pl.DataFrame | None = None) -> str | None:
    """After the run's tables are stored: record its files in the ledger (the rows its commit holds,
    `ledger_rows`, whose copy there is then dropped) and the hand-in's skipped files, for SQL.

    The ledger's new rows need no new views; its first file, or the skipped files' first or last
    one, does, as does a warehouse moved since (views.stale, the store step's rule). Returns what kept
    the views from being built (refresh_views), None when they read what they should: the run's last
    build, so the views' state its summary reports (`views`).
    """
    warehouse_dir = Path(warehouse_dir)
    if run_id is not None and ledger_rows is not None:
        FileLedger(warehouse_dir).add(ledger_rows)
        file_ledger.drop_committed(warehouse_dir, run_id)
    skipped = file_ledger.skipped_table(hand_in.handin_id, run_id, hand_in.skipped)
    file_ledger.write_skipped(warehouse_dir, hand_in.handin_id, skipped, run_id=run_id)
    return refresh_views(warehouse_dir, get_run_logger())


def _nothing_read(settings: Settings, hand_in: HandIn, summary: dict) -> dict:
    """The summary of a run that read no file: its skipped files recorded, nothing stored."""
    views = record_files(settings.warehouse, None, hand_in)
    if settings.pg_url:
        postgres_catch_up(settings.pg_url, settings.warehouse)
    files = {"input": hand_in.files, "read": 0, "quarantined": 0, "skipped": len(hand_in.skipped)}
    return {**summary, "files": files, "quarantined": [], "outcomes": {}, "input_records": 0,
            "net_amount": Decimal("0.00"), "invoice_lines": 0, "postgres": None, "views": views}  # fmt: skip


def _refuse_billed_changes(run_id: str, before: pl.DataFrame, result: RatingResult, billed: pl.DataFrame) -> None:
    """Refuse to replace stored run `run_id` when records a billing run billed would rate
    differently (invoices are final: the rated amounts would no longer match them). The same
    records rated the same, as when a run that stopped after storing is run again, replace it.

    Args:
        before: (record_key, contract_id, amount, free_quantity) of the run's rated records as stored.
        billed: (rated_run_id, record_key, invoice_id) of the run's billed records.
    """
    after = result.rated_usage().select("record_key", "contract_id", "amount", "free_quantity")
    changes = rerate.billed_changes(before, after, billed)
    if changes.height:
        invoices = changes.get_column("invoice_id").unique().sort().to_list()
        raise rerate.RerateError(
            f"run {run_id} would be replaced, but {changes.height} of its {billed.get_column('record_key').n_unique()} billed "
            f"records would rate differently (on {rerate.invoice_list(invoices)}). Invoices are final: pass --allow-billed to "
            f"rate it again anyway, or use `rating rerate --run {run_id} --allow-billed`, which lists every such record"
        )


def _later_runs(warehouse_dir: Path, run_id: str, inbox_dir: Path, logger) -> list[tuple[Path, str]]:
    """The warnings of a run that replaced stored run `run_id`: each later run holding records of
    the same period went on from its old free quantities and tiers (as `rating rerate` warns)."""
    later = rerate.later_runs(warehouse.run_starts(warehouse_dir), warehouse.run_periods(warehouse_dir), [run_id])
    warnings = []
    for later_run, period in later.iter_rows():  # a few runs
        warning = (
            f"run {later_run} also holds records of {period} but was not rated again: its free quantities and tiers went on "
            f"from run {run_id}'s old figures (rating rerate --period {period} rates both again)"
        )
        logger.warning(warning)
        warnings.append((inbox_dir, warning))
    return warnings


def _stored_elsewhere(result: RatingResult, inbox_dir: Path, logger) -> list[tuple[Path, str]]:
    """The warning of a reprocessing run whose records other runs stored: they are duplicates, so a
    catalog correction does not reach them; `rating rerate` rates those runs again."""
    others = result.duplicates_by_run()
    if not others:
        return []
    runs = " ".join(f"--run {r}" for r, _ in others)
    warning = (
        f"{sum(n for _, n in others):,} records read again were stored by other runs ({', '.join(r for r, _ in others)}) and "
        f"count as duplicates here: the current catalog does not reach them. To rate them with it: rating rerate {runs}"
    )
    logger.warning(warning)
    return [(inbox_dir, warning)]


@flow(name="rate_usage", log_prints=True)
def rate_usage(
    catalog: str | None = None,
    inbox_dir: str | None = None,
    warehouse_dir: str | None = None,
    sources: str | None = None,
    pg_url: str | None = None,
    reprocess: bool = False,
    allow_billed: bool = False,
    settle_s: float = 0,
    max_records: int = 0,
) -> dict:
    """Rate the inbox files the file ledger does not know yet and store the outcome; returns the run summary.

    The run id is derived from the contents of the files the run reads, so a run that failed
    before its files were recorded is, run again, the same run: its rows are replaced in the
    warehouse and in Postgres, never doubled. When every file is known, nothing is rated.
    One run at a time (the warehouse's rating lock: a second run waits, then finds the first
    one's files dealt with); a run that stopped while storing is finished first (warehouse.recover).

    Args:
        reprocess: read the files the ledger knows too. The same files as an earlier run are
            that run again (its rows replaced, rated with the current catalog); records already
            stored by another run are counted as duplicates, never rated twice.
        allow_billed: replace a stored run even where records a billing run billed rate differently
            now (their invoices stay as they are); without it such a run is refused before anything
            is stored. Billed records that rate the same (a run that stopped after storing, run
            again) never stop a run.
        settle_s: skip files modified less than this many seconds ago (a partner's upload in
            progress: its last line may be cut); the next run looks again.
        max_records: read new files (whole, in the inbox's order) until they hold this many
            input records, and leave the others for the next run (0: read them all): a backlog
            is rated over several runs, each in bounded memory (read_inbox).
    """
    logger = get_run_logger()
    settings = Settings.from_env(
        catalog=catalog, inbox=inbox_dir, warehouse=warehouse_dir, sources=sources, pg_url=pg_url
    )
    with warehouse.locked(settings.warehouse):
        for run_id in warehouse.recover(settings.warehouse):
            logger.warning("run %s had stopped while storing its staged files: its storing was finished", run_id)
        for run_id in file_ledger.fold_committed(settings.warehouse):
            logger.warning("run %s had stopped after storing, before recording its files: they are recorded from its commit", run_id)
        return _rated(settings, reprocess, logger, allow_billed, settle_s, max_records)


def _rated(settings: Settings, reprocess: bool, logger, allow_billed: bool = False, settle_s: float = 0, max_records: int = 0) -> dict:
    """rate_usage's work, under the warehouse's rating lock."""
    started = datetime.now(timezone.utc)
    hand_in = check_inbox(settings.inbox, settings.warehouse, reprocess, settings.sources, settle_s)
    summary = {
        "run_id": None,
        "skipped": [(str(f.path), reason) for f, reason in hand_in.skipped],
        "warnings": [(str(path), warning) for path, warning in hand_in.warnings],
        "inbox": str(settings.inbox),
        "warehouse": str(settings.warehouse),
        "analytics_db": str(settings.warehouse / warehouse.ANALYTICS_DB),
    }
    if not hand_in.new:
        logger.info("nothing to do: all %d inbox files were dealt with before", hand_in.files)
        return _nothing_read(settings, hand_in, summary)
    cat = load_catalog_task(settings.catalog, settings.warehouse)
    batch = read_inbox(hand_in.new, settings.sources, max_records)
    left = [*batch.changed, *batch.deferred]
    if left:  # not read after all: skipped, and not recorded
        gone = {id(f) for f, _ in left}
        hand_in = replace(hand_in, new=[f for f in hand_in.new if id(f) not in gone], skipped=[*hand_in.skipped, *left])
        summary["skipped"] += [(str(f.path), reason) for f, reason in left]
    summary["deferred"] = len(batch.deferred)
    if not hand_in.new:
        logger.info("nothing to do: every new inbox file changed while it was read")
        return _nothing_read(settings, hand_in, summary)
    if batch.read + len(batch.quarantined) + len(hand_in.skipped) != hand_in.files:
        raise ConservationError(
            f"{hand_in.files} inbox files but {batch.read} read, {len(batch.quarantined)} quarantined and "
            f"{len(hand_in.skipped)} skipped: a file was lost"
        )
    run_id = inbox.run_id_for(batch.hashes)
    logger.info(
        "run %s: %d files (%d read, %d quarantined, %d skipped), %d usage records, %d rejected rows",
        run_id, hand_in.files, batch.read, len(batch.quarantined), len(hand_in.skipped), batch.usage.height,
        batch.rejects.height,
    )  # fmt: skip
    with ExitStack() as held:
        billed = before = None
        first_started = warehouse.first_started(settings.warehouse, run_id)
        replaced = first_started is not None
        if replaced:
            # a stored run is replaced: the billing lock keeps a billing run from billing it
            # between the check below and its replacement (the lock order of `rating rerate`)
            held.enter_context(billing_store.locked(settings.warehouse))
            billed = pl.from_arrow(billing_store.billed_usage(settings.warehouse, [run_id]))
            if billed.height and not allow_billed:
                before = warehouse.rated_amounts(settings.warehouse, run_id)
        result = rate_batch(batch, cat, run_id, settings.warehouse)
        try:
            if before is not None:
                _refuse_billed_changes(run_id, before, result, billed)
            if reprocess:
                summary["warnings"] += _stored_elsewhere(result, settings.inbox, logger)
            net_amount = result.net_amount
            # a re-run keeps the run's first start: it orders the runs of a period (warehouse.carried_usage)
            first = first_started or started
            runs = run_record(run_id, first, datetime.now(timezone.utc), batch.files, result.input_records, net_amount)
            # the run's files are recorded with its commit: a run that failed before it has recorded nothing, so
            # running it again redoes it; one killed after it, before record_files, has them recorded by the next
            # run (file_ledger.fold_committed); one whose PostgreSQL write fails below is stored, and the next run
            # writes it there from the warehouse (_catch_up) and reads only files that are new then, not this run's again
            ledger_rows = file_ledger.entries(run_id, hand_in.new, {q["content_hash"]: q["reason"] for q in batch.quarantined})
            rows = store(result, runs, batch.quarantined, settings.warehouse, ledger_rows)
            views = record_files(settings.warehouse, run_id, hand_in, ledger_rows)
            if replaced:
                summary["warnings"] += _later_runs(settings.warehouse, run_id, settings.inbox, logger)
            pg_rows = to_postgres(run_id, settings.pg_url, settings.warehouse) if settings.pg_url else None
            files = {"input": hand_in.files, "read": batch.read, "quarantined": len(batch.quarantined), "skipped": len(hand_in.skipped)}
            return {
                **summary,
                "run_id": run_id,
                "files": files,
                "quarantined": [(q["path"], q["reason"]) for q in batch.quarantined],
                "outcomes": result.counts(),
                "input_records": result.input_records,
                "net_amount": net_amount,
                "invoice_lines": rows.get("invoice_lines", 0),
                "postgres": pg_rows,
                "views": views,
            }
        finally:
            result.con.close()
