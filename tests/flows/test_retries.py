"""The PostgreSQL tasks of the flows retry only what a retry can fix."""

from __future__ import annotations

import pytest
from prefect.states import Failed

from flows import retry_when_unreachable
from flows.billing_run import to_postgres_task
from flows.rate_usage import to_postgres
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


@pytest.mark.parametrize("task", [to_postgres, to_postgres_task], ids=["rating", "billing"])
def test_both_postgres_tasks_retry_only_an_unreachable_server(task):
    assert task.retry_condition_fn is retry_when_unreachable
