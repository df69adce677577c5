"""Batched claims and settles of the grade worker over the SQL outbox (issue 16: grade delivery CPU).

One ``run_once`` against four fake platforms that answer differently settles a mix of outcomes
(delivered, retry, dead, delivered after a 401 and a token refresh) in batched writes, each row as
the single-row settle would leave it; and two workers on one PostgreSQL outbox never send a score
twice. Runs on SQLite, and on PostgreSQL in the PG pass (the two-worker test needs PostgreSQL).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sync_harness import FAST_POLICY
from sync_sql_helpers import TrackingPlatform, direct_update, register_platform, start_platform

from lti_tool import grades
from lti_tool.services import Services
from lti_tool.storage.outbox import SqlOutboxStore
from sync.breaker import BreakerConfig
from sync.model import OutboxStatus
from sync.retry import RetryPolicy
from sync.worker import RunStats, WorkerConfig

S = OutboxStatus
AT = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
CONFIG = WorkerConfig(
    retry_policy=RetryPolicy(base_seconds=60, cap_seconds=120, min_delay_seconds=30),  # not due again in the run
    breaker=BreakerConfig(failure_threshold=1000, cooldown_seconds=0.2),
    per_platform_concurrency=4,
    global_concurrency=16,
    lease_seconds=30,
    batch_size=50,
    settle_batch_size=200,
    settle_max_delay_seconds=30.0,  # everything of the run is written at its end, in batches
)


class CountingStore(SqlOutboxStore):
    """The SQL store, counting batched and single-row settles."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[Counter[str]] = []
        self.single = 0

    def settle_many(self, settlements: Any, *, now: datetime) -> None:
        self.batches.append(Counter(st.kind for st in settlements))
        super().settle_many(settlements, now=now)

    def _settle(self, *args: Any, **kwargs: Any) -> Any:
        self.single += 1
        return super()._settle(*args, **kwargs)


@pytest.fixture
def fakes(services: Services) -> Iterator[list[TrackingPlatform]]:
    platforms = [start_platform(services) for _ in range(4)]
    yield platforms
    for platform in platforms:
        platform.stop()


def test_one_run_settles_mixed_outcomes_in_batches(services: Services, fakes: list[TrackingPlatform]) -> None:
    _ok, down, rejecting, expiring = fakes
    down.faults.status_requests = 10_000  # 503: retry later
    rejecting.enrolled = set()  # 400 "Incorrect score received": dead
    expiring.faults.expire_tokens_once = True  # 401 on the first score: refresh the token, send again
    store = CountingStore(services.db)
    users = [f"u{n:02d}" for n in range(12)]
    keys: dict[str, TrackingPlatform] = {}
    for fake in fakes:
        key = str(register_platform(services, fake, name=f"Academy {len(keys)}"))
        keys[key] = fake
        url = fake.add_line_item(label="Evidence")
        for n, user in enumerate(users):
            store.enqueue(direct_update(key, user, score=0.5, at=AT + timedelta(seconds=n), url=url), now=AT)
    worker = grades.ObservedWorker(store, services.platform_directory, services.ags, config=CONFIG)
    stats = worker.run_once()
    assert store.single == 0 and store.batches, "settled one row at a time"
    assert sum(sum(b.values()) for b in store.batches) == stats.claimed == 4 * len(users)
    assert len(store.batches) < stats.claimed / 4
    assert any(len(b) > 1 for b in store.batches)  # kinds mixed in one batch
    assert (stats.delivered, stats.retry, stats.dead) == (2 * len(users), len(users), len(users))
    assert stats.token_refreshes >= 1
    by_platform: dict[str, list[Any]] = {}
    for item in store.list_items():
        by_platform.setdefault(item.update.platform_key, []).append(item)
    for key, items in by_platform.items():
        fake = keys[key]
        statuses = {it.status for it in items}
        if fake is down:
            assert statuses == {S.PENDING}
            assert all(it.attempts == 1 and it.last_status_code == 503 for it in items)
            assert all(it.next_attempt_at > AT and it.lease_expires_at is None for it in items)
        elif fake is rejecting:
            assert statuses == {S.DEAD}
            assert all(it.last_status_code == 400 and "Incorrect score" in (it.last_error or "") for it in items)
        else:
            assert statuses == {S.DELIVERED}
            assert all(it.grade_delivered and it.last_sent_timestamp is not None for it in items)
            assert sorted(u for (_i, u) in fake.grades) == users
            accepted = [p["userId"] for _i, p, status in fake.score_posts if status == 200]
            assert sorted(accepted) == users  # each score accepted once
    assert any(status == 401 for *_x, status in expiring.score_posts) or expiring.token_requests >= 2


def test_two_workers_on_postgres_never_deliver_a_score_twice(
    services: Services, fakes: list[TrackingPlatform]
) -> None:
    if not os.environ.get("CBSI_TEST_POSTGRES_URL"):
        pytest.skip("needs PostgreSQL: set CBSI_TEST_POSTGRES_URL (scripts/test.sh does)")
    store = SqlOutboxStore(services.db)
    users = [f"u{n:03d}" for n in range(60)]
    for fake in fakes:
        fake.faults.latency = 0.01
        key = str(register_platform(services, fake))
        url = fake.add_line_item(label="Evidence")
        for n, user in enumerate(users):
            store.enqueue(direct_update(key, user, score=0.5, at=AT + timedelta(seconds=n), url=url), now=AT)
    config = WorkerConfig(
        retry_policy=FAST_POLICY, per_platform_concurrency=3, global_concurrency=12, batch_size=7, lease_seconds=30
    )
    workers = [
        grades.ObservedWorker(store, services.platform_directory, services.ags, config=config, worker_id=f"w{i}")
        for i in range(2)
    ]
    results: list[RunStats] = []
    threads = [threading.Thread(target=lambda w=w: results.append(w.run_once())) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2 and all(r.claimed > 0 for r in results)  # both took part
    assert sum(r.delivered for r in results) == len(fakes) * len(users)
    assert {it.status for it in store.list_items()} == {S.DELIVERED}
    for fake in fakes:
        posts = [p["userId"] for _i, p, _status in fake.score_posts]
        assert sorted(posts) == users  # every score sent exactly once
