"""The PostgreSQL tasks of the flows retry only what a retry can fix."""

from __future__ import annotations

import pytest
from prefect import flow
from prefect.states import Failed

from flows import POSTGRES_RETRY_DELAY, retry_when_unreachable
from flows.billing_run import to_postgres_task
from flows.rate_usage import postgres_catch_up, to_postgres
from pipeline.config import postgres_retry_delay
from pipeline.io.billing_store import BillingStoreError
from pipeline.io.postgres import PostgresError, PostgresUnavailable, PostgresWriteError


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (PostgresUnavailable("connection refused"), True),  # the server may be back in 5 s
        (PostgresWriteError("failed at table billing.invoices: INTEGRITY"), False),
        (PostgresError("billing.invoices.sequence_no is missing (declared int64)"), False),  # tables of an older release
        (BillingStoreError("billing run already committed"), False),
        (ValueError("anything else"), False),
    ],
    ids=["unreachable", "rejected-write", "schema-refused", "billing-store", "other"],
)
def test_only_an_unreachable_server_is_retried(error, retried):
    assert retry_when_unreachable(None, None, Failed(data=error)) is retried


@pytest.mark.parametrize("task", [to_postgres, postgres_catch_up, to_postgres_task], ids=["rating", "rating-catch-up", "billing"])
def test_every_postgres_task_retries_only_an_unreachable_server(task):
    assert (task.retries, task.retry_delay_seconds, task.retry_condition_fn) == (2, POSTGRES_RETRY_DELAY, retry_when_unreachable)


@pytest.mark.parametrize(
    ("env", "seconds"),
    [(None, 5.0), ("0", 0.0), ("0.5", 0.5), ("30", 30.0)],
    ids=["default", "at-once", "fraction", "longer"],
)
def test_the_retry_delay_is_5_seconds_unless_the_environment_says_otherwise(monkeypatch, env, seconds):
    if env is None:
        monkeypatch.delenv("RATING_PG_RETRY_DELAY", raising=False)
    else:
        monkeypatch.setenv("RATING_PG_RETRY_DELAY", env)
    assert postgres_retry_delay() == seconds


@pytest.mark.parametrize("env", ["-1", "five", "", "nan", "inf"])
def test_a_retry_delay_that_is_no_number_of_seconds_is_refused(monkeypatch, env):
    monkeypatch.setenv("RATING_PG_RETRY_DELAY", env)
    with pytest.raises(ValueError, match=f"RATING_PG_RETRY_DELAY={env!r}: give the seconds to wait before retrying PostgreSQL, a number >= 0"):
        postgres_retry_delay()


def test_the_tests_retry_at_once():
    """tests/conftest.py sets RATING_PG_RETRY_DELAY=0 before the flows are imported: the retries below take no time."""
    assert POSTGRES_RETRY_DELAY == 0


@pytest.mark.prefect
@pytest.mark.parametrize(
    ("task", "schema", "error", "tries"),
    [
        (to_postgres, "pipeline.io.postgres.ensure_schema", PostgresUnavailable("connection refused"), 3),
        (to_postgres, "pipeline.io.postgres.ensure_schema", PostgresWriteError("failed at table rating.runs: INTEGRITY"), 1),
        (postgres_catch_up, "pipeline.io.postgres.ensure_schema", PostgresUnavailable("connection refused"), 3),
        (to_postgres_task, "pipeline.io.postgres_billing.ensure_billing_schema", PostgresUnavailable("connection refused"), 3),
        (to_postgres_task, "pipeline.io.postgres_billing.ensure_billing_schema", PostgresError("billing.invoices.sequence_no is missing"), 1),
    ],
    ids=["rating-unreachable", "rating-rejected", "rating-catch-up-unreachable", "billing-unreachable", "billing-schema-refused"],
)
def test_an_unreachable_server_is_tried_three_times_and_anything_else_once(prefect_harness, monkeypatch, tmp_path, task, schema, error, tries):
    """The tasks as the flows run them: the first try and two retries while the server cannot be reached."""
    tried = []

    def failing(url):
        tried.append(url)
        raise error

    monkeypatch.setattr(schema, failing)
    arguments = {"url": "postgresql://rating@db.example/rating", "warehouse_dir": tmp_path}
    if task is not postgres_catch_up:
        arguments["run_id"] = "r1"

    @flow
    def writing_to_postgres():
        return task(**arguments)

    with pytest.raises(type(error)):
        writing_to_postgres()
    assert tried == ["postgresql://rating@db.example/rating"] * tries
