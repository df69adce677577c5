"""The OutboxStore contract of ``tests/sync/test_memory_store.py``, run against ``SqlOutboxStore``.

The suite runs on SQLite, and on PostgreSQL when ``CBSI_TEST_POSTGRES_URL`` is set (the lead's
``scripts/test.sh`` runs it both ways).
"""

from __future__ import annotations

import pytest
import test_memory_store as contract
from test_memory_store import (  # noqa: F401 - collected here against the SQL store
    test_claim_leases_and_respects_due_time,
    test_claim_limit_and_order,
    test_claim_skips_excluded_platforms_without_losing_them,
    test_coalescing_only_newer_replaces,
    test_concurrent_claims_never_share_items,
    test_distinct_keys_are_distinct_rows,
    test_expired_lease_is_reclaimed,
    test_new_outcome_revives_settled_rows,
    test_retry_dead_and_resend_filters,
    test_set_line_item_url_and_kept_on_coalesce,
    test_settle_current_version,
    test_settle_many_has_the_effect_of_the_single_settles,
    test_settle_stale_version_requeues_newer_payload,
)

from lti_tool.storage.outbox import SqlOutboxStore


@pytest.fixture
def store(sql_store: SqlOutboxStore) -> SqlOutboxStore:
    return sql_store


def test_every_contract_test_is_run_here() -> None:
    names = {n for n in dir(contract) if n.startswith("test_")}
    assert names <= set(globals()), sorted(names - set(globals()))
