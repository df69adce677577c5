"""Many platforms at once through the outbound client's lean POST (kernel-timeout sockets, pooled
keep-alive connections, issue 16): one platform that breaks every connection does not hold up the
others, its scores wait for a retry, and every score reaches its gradebook exactly once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sync_harness import Harness

from lti_tool.outbound import OutboundClient, OutboundPolicy
from sync.model import LineItemRef, OutboxStatus

T0 = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)
POLICY = OutboundPolicy(deadline_seconds=2.0, read_timeout_seconds=2.0, allow_private=("127.0.0.0/8",))


def test_a_platform_failing_while_the_others_succeed_loses_and_duplicates_nothing(make_platform, signing):
    fakes = {f"p{i}": make_platform() for i in range(4)}
    urls = {key: fake.add_line_item(label="Quiz") for key, fake in fakes.items()}
    h = Harness(signing, fakes, session=OutboundClient(POLICY))
    learners = [f"u{j}" for j in range(6)]
    for key in fakes:
        for j, user in enumerate(learners):
            h.enqueue(key, user, score=j / 10, at=T0 + timedelta(seconds=j), line_item=LineItemRef(url=urls[key]))
    for key in fakes:  # warm the tokens: the failure below hits the score POSTs
        h.tokens.get_token(h.directory.get_platform(key), ("x",))
    fakes["p3"].faults.drop_until = time.monotonic() + 60  # every connection closed unanswered
    h.worker.run_once()
    counts = h.store.status_counts()
    for key in ("p0", "p1", "p2"):
        assert counts[key] == {OutboxStatus.DELIVERED: len(learners)}
        assert sorted(p["userId"] for _i, p in fakes[key].accepted()) == learners
    assert counts["p3"] == {OutboxStatus.PENDING: len(learners)}
    waiting = [item for item in h.store.list_items() if item.status is OutboxStatus.PENDING]
    assert all(item.attempts >= 1 and item.last_error for item in waiting)
    assert fakes["p3"].accepted() == []
    fakes["p3"].faults.drop_until = 0.0  # the academy is back
    h.drain(timeout=20)
    assert h.store.status_counts()["p3"] == {OutboxStatus.DELIVERED: len(learners)}
    for key, fake in fakes.items():  # exactly once each, on every platform
        assert sorted(p["userId"] for _i, p in fake.accepted()) == learners, key
