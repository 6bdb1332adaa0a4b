"""Contract lifecycle: cancellation by notice rules, tariff change, add-on options, index
adjustment, account deletion, effective-dated reading, roles and audit (docs/billing.md).

Pure functions over the validated catalogs; each change comes back as a `Change` (old and new
tables) that the CLI audits and writes.
"""

from pipeline.lifecycle.audit import (
    Actor,
    Change,
    LifecycleError,
    PermissionDenied,
    UnknownId,
    audit_rows,
    checked_actor,
    require_manager,
)
from pipeline.lifecycle.cancellation import cancellation_dates, module_cancellation
from pipeline.lifecycle.changes import (
    added_option,
    address_added,
    contract_settings,
    deleted_account,
    index_adjusted,
    index_factor,
    pause_added,
    tariff_change,
)
from pipeline.lifecycle.effective import catalog_on

__all__ = [
    "Actor",
    "Change",
    "LifecycleError",
    "PermissionDenied",
    "UnknownId",
    "added_option",
    "address_added",
    "audit_rows",
    "cancellation_dates",
    "catalog_on",
    "checked_actor",
    "contract_settings",
    "deleted_account",
    "index_adjusted",
    "index_factor",
    "module_cancellation",
    "pause_added",
    "require_manager",
    "tariff_change",
]
