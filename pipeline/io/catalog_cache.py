"""Keep the validated catalog between runs: it changes far less often than runs come.

Reading and validating a catalog of 100 k contracts (19 MB of CSV) costs most of a second, paid
again by every scheduled run of a few records; loading the validated tables back from Parquet a
fraction of that. Two loads are kept: load_priced_catalog's (the rating runs', cost control's) and
load_catalogs' (the billing run's: the same catalog with the whole billing catalog beside it), each
in entries of its own in the same directory. An entry lives in `<cache_dir>/<key>/` (kept as
pipeline.io.cache_entries keeps entries: renamed into place whole, a corrupted one made again,
never trusted; the newest KEEP stay). The key is a hash of the load and everything its result
depends on:

* the bytes of every file it reads (catalog_files.PRICED_CATALOG_READS: the core tables, the
  usage-tariff files, the pricing tables; billing_files.CATALOGS_READS: the core, billing and
  pricing tables; an absent file as absent, a staged file of a stopped change as the file it
  stands for) and the names of stray CSV files, which make it fail;
* the directory as given: the catalog's `sources` name their files by it;
* the package's code (every .py of pipeline/ and schemas/, every .sql of sql/: validation spans
  many modules) and the versions of Python and of the libraries that shape validation;
* what validation reads besides: pandera's configuration (PANDERA_VALIDATION_ENABLED and
  PANDERA_VALIDATION_DEPTH: validation switched off would let an invalid catalog through) and the
  time zone names a contract may name (schemas.catalog.time_zones: the zones of the tzdata
  package or of the system's zone database that DuckDB knows).

Validation reads no clock and no other environment; a relative directory is read from the
current directory, whose files are in the key by their bytes. A catalog that fails validation is
never stored: its CatalogError is raised again by every run. Deleting the cache is always safe.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from functools import cache
from pathlib import Path

import duckdb
import holidays
import pandera
import phonenumbers
import polars as pl
import pyarrow
from pandera.config import get_config_context

import pipeline
import schemas
import sql
from pipeline.catalog import CatalogError
from pipeline.catalog.billing import BillingCatalog
from pipeline.io.billing_files import CATALOGS_READS, load_catalogs
from pipeline.io.cache_entries import keep_entry, stored_frames, touch
from pipeline.io.catalog_files import PRICED_CATALOG_READS, files_read, load_priced_catalog
from pipeline.price.catalog import PricedCatalog
from schemas.catalog import time_zones

#: The package's code whose every change misses: validation spans the catalog, pricing, billing,
#: assignment and ingest modules, the schemas and SQL files, so all of it.
_CODE = ((Path(pipeline.__file__).parent, "*.py"), (Path(schemas.__file__).parent, "*.py"), (Path(sql.__file__).parent, "*.sql"))
#: Classes an entry may name: the catalog's own (an entry is data, never code to run).
_PACKAGES = ("pipeline.", "schemas.")


def cached_priced_catalog(directory: Path, cache_dir: Path | None) -> PricedCatalog:
    """load_priced_catalog(directory), or the same catalog loaded from `cache_dir` (created when missing).

    Raises what load_priced_catalog raises (CatalogError, CatalogNotFound), every time: only a
    valid catalog is stored. A cache that cannot be written warns; the run gets its catalog.

    Args:
        cache_dir: the directory of cache entries; None: just load.
    """
    return _cached(directory, cache_dir, PRICED_CATALOG_READS, PricedCatalog, lambda: load_priced_catalog(directory))


@dataclass(frozen=True)
class BillingCatalogs:
    """What load_catalogs returns, as one value to store: the priced core catalog and the billing catalog."""

    catalog: PricedCatalog
    billing: BillingCatalog


def cached_catalogs(directory: Path, cache_dir: Path | None) -> tuple[PricedCatalog, BillingCatalog]:
    """load_catalogs(directory) (the billing run's catalogs), or the same loaded from `cache_dir`:
    cached_priced_catalog's rules, the billing files in the key too."""
    kept = _cached(directory, cache_dir, CATALOGS_READS, BillingCatalogs, lambda: BillingCatalogs(*load_catalogs(directory)))
    return kept.catalog, kept.billing


def _cached(directory: Path, cache_dir: Path | None, reads: tuple, kind: type, load: Callable[[], object]):
    """load(), or the `kind` it made from the same files (`reads`), loaded from `cache_dir`."""
    directory = Path(directory)
    key = None if cache_dir is None else catalog_key(directory, reads, kind)
    if key is None:  # no cache, or a file that cannot be read: the load says which
        return load()
    entry = Path(cache_dir) / key
    loaded = _loaded(entry, kind)
    if loaded is not None:
        touch(entry)
        return loaded
    value = load()
    if catalog_key(directory, reads, kind) != key:  # the catalog changed while it was read: not stored under either key
        return value
    frames: dict[str, pl.DataFrame] = {}
    shape = _flat(value, "", frames)
    keep_entry(entry, frames, "catalog cache", "validates the catalog again", value=shape)
    return value


def catalog_key(directory: Path, reads: tuple = PRICED_CATALOG_READS, kind: type = PricedCatalog) -> str | None:
    """A hash of everything the load of `kind` from `reads` depends on (the module's docstring);
    None when the directory or one of its files cannot be read (a stopped change's journal too).

    Finishes a catalog change stopped between its files, as the loads do first.
    """
    digest = hashlib.blake2b(_code_fingerprint(), digest_size=16)
    digest.update(f"{kind.__module__}:{kind.__qualname__};".encode())
    digest.update(f"{get_config_context()!r};{sorted(time_zones())!r};{str(directory)!r};".encode())
    try:
        for names in reads:  # three reads of a few files each
            found, stray = files_read(directory, names)
            digest.update(f"stray {[path.name for path in stray]!r};".encode())
            for name in names:  # a few files
                if name not in found:
                    digest.update(f"{name} absent;".encode())
                    continue
                data = found[name][1].read_bytes()
                digest.update(f"{name} {len(data)};".encode())
                digest.update(data)
    except (OSError, CatalogError):  # CatalogNotFound is an OSError
        return None
    return digest.hexdigest()


@cache
def _code_fingerprint() -> bytes:
    """The package's code and the versions of what shapes validation (read once per process)."""
    versions = {
        "python": sys.version, "polars": pl.__version__, "pyarrow": pyarrow.__version__, "pandera": pandera.__version__,
        "duckdb": duckdb.__version__, "phonenumbers": phonenumbers.__version__, "holidays": holidays.__version__,
        "tzdata": _version("tzdata"),
    }
    digest = hashlib.blake2b(repr(sorted(versions.items())).encode(), digest_size=16)
    for root, pattern in _CODE:
        for path in sorted(root.rglob(pattern)):  # the package's files
            data = path.read_bytes()
            digest.update(f"{path.relative_to(root.parent).as_posix()} {len(data)};".encode())
            digest.update(data)
    return digest.digest()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:  # the zone names then come from the system alone
        return None


def _flat(value: object, at: str, frames: dict[str, pl.DataFrame]) -> object:
    """`value` as JSON, each of its frames put in `frames` under its path `at` (`pricing.volume_tiers`:
    dataclasses by field, mappings by key; the catalog's other fields are text)."""
    within = f"{at}." if at else ""
    if isinstance(value, pl.DataFrame):
        frames[at] = value
        return {"frame": at}
    if is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        shape = {f.name: _flat(getattr(value, f.name), within + f.name, frames) for f in fields(value)}  # a few fields
        return {"class": f"{kind.__module__}:{kind.__qualname__}", "fields": shape}
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {"mapping": {k: _flat(v, within + k, frames) for k, v in value.items()}}  # a few tables
    if value is None or isinstance(value, (str, int, bool)):
        return {"value": value}
    raise TypeError(f"catalog cache: a {type(value).__name__} at {at} cannot be stored")


def _unflat(shape: dict, frames: Mapping[str, pl.DataFrame]) -> object:
    """The value _flat made `shape` of."""
    if "frame" in shape:
        return frames[shape["frame"]]
    if "class" in shape:
        module, name = shape["class"].split(":")
        if not module.startswith(_PACKAGES):
            raise TypeError(f"not a class of the catalog: {shape['class']}")
        kind = getattr(importlib.import_module(module), name)
        return kind(**{field: _unflat(part, frames) for field, part in shape["fields"].items()})
    if "mapping" in shape:
        return {k: _unflat(part, frames) for k, part in shape["mapping"].items()}
    return shape["value"]


def _loaded(entry: Path, kind: type):
    """The entry's `kind`, or None when it is missing, partial or does not match its manifest."""
    stored = stored_frames(entry)
    if stored is None:
        return None
    frames, manifest = stored
    try:
        catalog = _unflat(manifest["value"], frames)
    except (KeyError, TypeError, ValueError, AttributeError, ImportError):
        return None
    return catalog if isinstance(catalog, kind) else None
