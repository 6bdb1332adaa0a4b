"""Roles and audit: who may change what, and the record of every change made through the CLI.

A change is given as the old and new versions of the catalog tables it touches; the audit
rows are their cell-by-cell difference (who, role, when, command, table, row key, column,
old and new value). Fields only a Manager may change (schemas.billing.MANAGER_ONLY, DOMAIN
§1) are checked on that same difference, so no command can forget the check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from pipeline.catalog.validation import as_text
from schemas.billing import AUDIT_SCHEMA, KEYS, MANAGER_ONLY, ROLES


class LifecycleError(ValueError):
    """A lifecycle change cannot be made as asked; the message says why and what to do."""


class UnknownId(LifecycleError):
    """An ID the command names (contract, module, customer, tariff) is not in the catalog: a mistake
    in the command line, not in the catalog (the CLI exits 2)."""


class PermissionDenied(LifecycleError):
    """The acting role may not make this change."""


@dataclass(frozen=True)
class Actor:
    """Who acts through the CLI, and in which role (Manager or Client)."""

    user_id: str
    role: str


@dataclass(frozen=True)
class Change:
    """A catalog change: the old and new version of each table it touches, and what it computed."""

    tables: dict[str, tuple[pl.DataFrame, pl.DataFrame]]
    result: pl.DataFrame = field(default_factory=pl.DataFrame)


def checked_actor(users: pl.DataFrame, user_id: str, role: str) -> Actor:
    """The actor, if `role` is known and, when users.csv lists users, the user may act in it."""
    if role not in ROLES:
        raise PermissionDenied(f"role {role!r} is unknown; act as one of {', '.join(ROLES)}")
    if users.height:
        listed = users.filter(pl.col("user_id") == user_id)
        if listed.height == 0:
            raise PermissionDenied(f"user {user_id!r} is not in users.csv; ask a Manager to add them")
        if role == "Manager" and listed["role"][0] != "Manager":
            raise PermissionDenied(f"user {user_id!r} has the role {listed['role'][0]} in users.csv and may not act as Manager")
    return Actor(user_id, role)


def require_manager(actor: Actor, what: str) -> None:
    """Refuse a Manager-only action to anyone acting as Client."""
    if actor.role != "Manager":
        raise PermissionDenied(f"only the role Manager may set {what}; {actor.user_id} acts as {actor.role}")


def audit_rows(change: Change, actor: Actor, command: str, at: datetime) -> pl.DataFrame:
    """The audit log rows of a change: one per changed cell (removed rows: every non-empty cell).

    Raises PermissionDenied when an actor who is not a Manager sets or removes a Manager-only field.
    """
    diffs = [_cell_changes(name, old, new) for name, (old, new) in change.tables.items()]
    cells = pl.concat(diffs) if diffs else pl.DataFrame(schema=_DIFF_SCHEMA)
    if actor.role != "Manager":
        guarded = pl.DataFrame(
            [(t, c) for t, cols in MANAGER_ONLY.items() for c in cols], schema={"table": pl.String, "column": pl.String}, orient="row"
        )
        # a removed row's cells count too: deleting an account removes its contract parties
        refused = cells.join(guarded, on=["table", "column"], how="semi")
        if refused.height:
            listed = "; ".join(
                refused.select(pl.format("{}.{} of {}", "table", "column", "key")).to_series().head(10).to_list()
            )
            raise PermissionDenied(f"only the role Manager may change {listed}; {actor.user_id} acts as {actor.role}")
    return cells.select(
        pl.lit(at).cast(AUDIT_SCHEMA["changed_at"]).alias("changed_at"),
        pl.lit(actor.user_id).alias("user_id"),
        pl.lit(actor.role).alias("role"),
        pl.lit(command).alias("command"),
        "table", "key", "column", "old_value", "new_value",
    ).cast(AUDIT_SCHEMA)


_DIFF_SCHEMA = {
    "table": pl.String, "key": pl.String, "column": pl.String,
    "old_value": pl.String, "new_value": pl.String,
}


def _cell_changes(name: str, old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Changed cells of one table, rows matched by their key (schemas.billing.KEYS)."""
    key = list(KEYS[name])
    columns = old.columns
    label = pl.concat_str([pl.format(f"{k}={{}}", pl.col(k).fill_null("")) for k in key], separator=", ").alias("key")

    def cells(frame: pl.DataFrame, value: str) -> pl.DataFrame:
        text = as_text(frame.select(columns)).with_columns(label)
        return text.unpivot(index="key", on=columns, variable_name="column", value_name=value)

    both = cells(old, "old_value").join(cells(new, "new_value"), on=["key", "column"], how="full", coalesce=True)
    return (
        both.filter(pl.col("old_value").ne_missing(pl.col("new_value")))
        .select(pl.lit(name).alias("table"), "key", "column", "old_value", "new_value")
        .sort("key", "column")
    )

