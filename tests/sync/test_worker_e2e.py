"""End-to-end: worker → real HTTP → fake platform with Moodle's rules and injected faults."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sync_harness import FAST_POLICY, Harness

from sync.breaker import BreakerConfig
from sync.model import LineItemRef, OutboxStatus
from sync.ports import ResendFilter
from sync.worker import WorkerConfig

T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)


def test_right_values_arrive(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    for n in range(5):
        h.enqueue("p1", f"u{n}", score=n / 4, at=T0, line_item=LineItemRef(url=url), comment="ok")
    h.drain()
    accepted = {p["userId"]: p for _i, p in fake.accepted()}
    assert set(accepted) == {f"u{n}" for n in range(5)}
    for n in range(5):
        p = accepted[f"u{n}"]
        assert p["scoreGiven"] == n / 4 * 100
        assert p["scoreMaximum"] == 100
        assert p["gradingProgress"] == "FullyGraded"
        assert p["activityProgress"] == "Completed"
        assert p["timestamp"] == "2026-11-28T10:00:00.000+00:00"
        assert p["comment"] == "ok"
        assert fake.grades[(1, f"u{n}")].value == n / 4 * 100
    assert fake.token_requests == 1
    assert h.store.status_counts()["p1"] == {OutboxStatus.DELIVERED: 5}


def test_outage_loses_nothing(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    for n in range(20):
        h.enqueue("p1", f"u{n}", score=0.5, at=T0, line_item=LineItemRef(url=url))
    fake.faults.drop_until = time.monotonic() + 0.6  # connections dropped for 0.6 s
    h.worker.run_once()
    counts = h.store.status_counts()["p1"]
    assert counts.get(OutboxStatus.DELIVERED, 0) == 0
    assert counts[OutboxStatus.PENDING] == 20
    assert all(it.attempts >= 1 and it.last_error for it in h.store.list_items())
    h.drain(timeout=15)
    assert h.store.status_counts()["p1"] == {OutboxStatus.DELIVERED: 20}
    assert sorted(p["userId"] for _i, p in fake.accepted()) == sorted(f"u{n}" for n in range(20))


def test_503_then_recovery(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    fake.faults.status_requests = 3
    fake.faults.status = 503
    h.enqueue("p1", "u1", score=1.0, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    assert fake.statuses() == [200]  # 503s answered before the score handler
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DELIVERED
    assert item.attempts == 3


def test_429_retry_after_honoured(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    fake.faults.status_requests = 1
    fake.faults.status = 429
    fake.faults.retry_after = "1"
    h.enqueue("p1", "u1", score=1.0, at=T0, line_item=LineItemRef(url=url))
    started = time.monotonic()
    h.worker.run_once()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.PENDING
    assert item.last_status_code == 429
    wait = (item.next_attempt_at - datetime.now(UTC)).total_seconds()
    assert 0.7 < wait <= 1.0
    h.drain()
    assert time.monotonic() - started >= 0.95
    assert h.store.get(item.id).status is OutboxStatus.DELIVERED


def test_401_exactly_one_token_refresh(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.1, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    assert fake.token_requests == 1
    fake.faults.expire_tokens_once = True
    h.enqueue("p1", "u1", score=0.2, at=T0 + timedelta(seconds=5), line_item=LineItemRef(url=url))
    h.drain()
    assert fake.token_requests == 2
    assert fake.statuses() == [200, 200]
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DELIVERED


def test_401_after_refresh_is_dead(make_platform, signing, monkeypatch):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.1, at=T0, line_item=LineItemRef(url=url))
    # tokens issued but never accepted: every AGS call answers 401
    monkeypatch.setattr(fake, "tokens", _NeverContains())
    h.drain()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DEAD
    assert item.last_status_code == 401
    assert "after a token refresh" in item.last_error
    assert fake.token_requests == 2


class _NeverContains(set):
    def __contains__(self, item: object) -> bool:
        return False


def test_400_dead_with_message_then_retry_dead(make_platform, signing):
    fake = make_platform(enrolled={"u1"})
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url=url))
    h.enqueue("p1", "u2", score=0.7, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    dead = h.store.list_items(statuses=[OutboxStatus.DEAD])
    assert [it.update.user_id for it in dead] == ["u2"]
    assert dead[0].last_status_code == 400
    assert "Incorrect score received" in dead[0].last_error
    assert "Bearer" not in dead[0].last_error
    fake.enrolled = {"u1", "u2"}  # the admin fixed the enrolment
    assert h.store.retry_dead(now=datetime.now(UTC), platform_key="p1") == 1
    h.drain()
    assert h.store.status_counts()["p1"] == {OutboxStatus.DELIVERED: 2}
    assert fake.grades[(1, "u2")].value == 70


def test_409_is_superseded(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url=url))
    # the gradebook already holds a newer grade (e.g. another tool instance / teacher)
    from sync_fakeplatform import Grade

    fake.grades[(1, "u1")] = Grade(
        value=90, maximum=100, timemodified=int(T0.timestamp()) + 60, comment=None
    )
    h.drain()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.SUPERSEDED
    assert item.last_status_code == 409
    assert fake.grades[(1, "u1")].value == 90


def test_coalescing_platform_sees_last_never_older(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    for n in range(10):  # 10 rapid outcome changes, 300 ms apart
        h.enqueue(
            "p1",
            "u1",
            score=n / 10,
            at=T0 + timedelta(milliseconds=300 * n),
            line_item=LineItemRef(url=url),
        )
    # an older outcome arriving late is ignored
    h.enqueue("p1", "u1", score=0.0, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    accepted = fake.accepted()
    assert len(accepted) == 1
    assert accepted[0][1]["scoreGiven"] == 90
    assert accepted[0][1]["timestamp"] == "2026-11-28T10:00:02.000+00:00"


def test_newer_outcome_while_in_flight_is_sent_after(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    fake.faults.latency = 0.3
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.1, at=T0, line_item=LineItemRef(url=url))
    runner = threading.Thread(target=h.worker.run_once)
    runner.start()
    time.sleep(0.15)  # first POST is in flight
    h.enqueue("p1", "u1", score=0.9, at=T0 + timedelta(seconds=3), line_item=LineItemRef(url=url))
    runner.join()
    h.drain()
    given = [p["scoreGiven"] for _i, p in fake.accepted()]
    assert given == [10, 90]
    assert fake.grades[(1, "u1")].value == 90
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DELIVERED and item.version == 2


def test_one_second_rule_same_second_outcomes_both_accepted(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    now = datetime.now(UTC).replace(microsecond=100_000)
    h.enqueue("p1", "u1", score=0.3, at=now, line_item=LineItemRef(url=url))
    h.drain()
    # a second change in the same wall-clock second, after the first was delivered
    h.enqueue(
        "p1", "u1", score=0.6, at=now + timedelta(milliseconds=500), line_item=LineItemRef(url=url)
    )
    h.drain(timeout=5)
    assert fake.statuses() == [200, 200]  # no 409: the second went out one second later
    ts = [datetime.fromisoformat(p["timestamp"]) for _i, p in fake.accepted()]
    assert ts[1] - ts[0] == timedelta(seconds=1)
    assert fake.grades[(1, "u1")].value == 60


def test_progress_after_grade_is_not_sent(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.8, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    # learner reopens the activity: a provisional, non-final outcome
    h.enqueue(
        "p1",
        "u1",
        score=0.2,
        at=T0 + timedelta(seconds=10),
        final=False,
        line_item=LineItemRef(url=url),
    )
    h.drain()
    assert len(fake.score_posts) == 1
    assert fake.grades[(1, "u1")].value == 80  # grade not cleared
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.SUPERSEDED
    assert "would clear it" in item.last_error


def test_progress_before_grade_is_sent(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=None, at=T0, final=False, line_item=LineItemRef(url=url))
    h.drain()
    ((_i, payload),) = fake.accepted()
    assert payload["gradingProgress"] == "NotReady"
    assert "scoreGiven" not in payload and "scoreMaximum" not in payload


def test_line_item_found_or_created_once(make_platform, signing):
    fake = make_platform(page_size=2)
    for n in range(5):  # other tools' items force paging
        fake.add_line_item(label=f"other {n}", resourceLinkId="rl-other", tag="x")
    h = Harness(signing, {"p1": fake})
    ref = LineItemRef(
        lineitems_url=fake.lineitems_url,
        resource_link_id="rl-9",
        tag="cbsi",
        label="Course A",
        resource_id="pkg-1",
    )
    for n in range(6):
        h.enqueue("p1", f"u{n}", score=0.5, at=T0, line_item=ref)
    h.drain()
    created = [it for it in fake.line_items.values() if it.get("resourceLinkId") == "rl-9"]
    assert len(created) == 1
    assert created[0]["label"] == "Course A" and created[0]["scoreMaximum"] == 100
    assert created[0]["tag"] == "cbsi" and created[0]["resourceId"] == "pkg-1"
    assert {i for i, _p in fake.accepted()} == {6}
    assert all(it.update.line_item.url == created[0]["id"] for it in h.store.list_items())
    # a new worker (fresh process) finds it instead of creating another
    h2 = Harness(signing, {"p1": fake})
    h2.enqueue("p1", "u0", score=0.5, at=T0, line_item=ref)
    h2.drain()
    assert len([it for it in fake.line_items.values() if it.get("resourceLinkId") == "rl-9"]) == 1


def test_unresolvable_line_item_is_dead(make_platform, signing):
    fake = make_platform()
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(resource_link_id="rl"))
    h.drain()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DEAD
    assert "line_item_unresolvable" in item.last_error


def test_unknown_platform_is_dead(make_platform, signing):
    fake = make_platform()
    h = Harness(signing, {"p1": fake})
    h.enqueue("nope", "u1", score=0.5, at=T0, line_item=LineItemRef(url="http://x/li"))
    h.drain()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DEAD
    assert "platform_not_found" in item.last_error


def test_breaker_isolates_a_down_platform(make_platform, signing):
    slow = make_platform()
    good = make_platform()
    slow_url = slow.add_line_item(label="Quiz")
    good_url = good.add_line_item(label="Quiz")
    slow.faults.latency = 3.0  # black hole: every request times out
    config = WorkerConfig(
        retry_policy=FAST_POLICY,
        breaker=BreakerConfig(failure_threshold=2, cooldown_seconds=1.0),
        per_platform_concurrency=2,
        global_concurrency=4,
    )
    h = Harness(signing, {"slow": slow, "good": good}, config=config, timeout=(0.5, 0.3))
    for n in range(30):
        h.enqueue("slow", f"u{n}", score=0.5, at=T0, line_item=LineItemRef(url=slow_url))
        h.enqueue("good", f"u{n}", score=0.5, at=T0, line_item=LineItemRef(url=good_url))
    started = time.monotonic()
    h.worker.run_once()
    elapsed = time.monotonic() - started
    counts = h.store.status_counts()
    assert counts["good"] == {OutboxStatus.DELIVERED: 30}
    assert counts["slow"] == {OutboxStatus.PENDING: 30}
    assert elapsed < 2.5, elapsed  # 30 slow items × 0.3 s would be 4.5 s at concurrency 2
    # the breaker opened after two timeouts: the rest were released without a request
    assert slow.requests_seen <= 4
    assert h.worker.breakers.state("slow").mode == "open"
    # the academy comes back: after the cool-down one probe closes the circuit, all go out
    slow.faults.latency = 0.0
    h.drain(timeout=10)
    assert h.store.status_counts()["slow"] == {OutboxStatus.DELIVERED: 30}
    assert h.worker.breakers.state("slow").mode == "closed"


def test_graceful_stop_settles_in_flight(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    fake.faults.latency = 0.3
    h = Harness(signing, {"p1": fake})
    for n in range(40):
        h.enqueue("p1", f"u{n}", score=0.5, at=T0, line_item=LineItemRef(url=url))
    runner = threading.Thread(target=h.worker.run_forever, kwargs={"poll_interval": 0.05})
    runner.start()
    time.sleep(0.45)
    h.worker.stop()
    runner.join(timeout=5)
    assert not runner.is_alive()
    items = h.store.list_items()
    assert not any(it.status is OutboxStatus.IN_FLIGHT for it in items)
    delivered = [it for it in items if it.status is OutboxStatus.DELIVERED]
    assert 0 < len(delivered) < 40
    assert len(fake.accepted()) == len(delivered)  # every request that went out got settled


def test_resend_sends_again_with_newer_timestamp(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    fake.grades.clear()  # someone wiped the gradebook
    assert h.store.resend(ResendFilter(platform_key="p1"), now=datetime.now(UTC)) == 1
    h.drain()
    ts = [p["timestamp"] for _i, p in fake.accepted()]
    assert ts == ["2026-11-28T10:00:00.000+00:00", "2026-11-28T10:00:01.000+00:00"]
    assert fake.grades[(1, "u1")].value == 50


@pytest.mark.parametrize("status", [403, 404, 422])
def test_permanent_statuses_dead(make_platform, signing, status):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    fake.faults.status_requests = 1
    fake.faults.status = status
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DEAD and item.last_status_code == status


def test_verify_reports_gradebook_drift(make_platform, signing):
    from sync_fakeplatform import Grade

    from sync.reconcile import MismatchKind, verify_delivered

    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    for n in range(4):
        h.enqueue("p1", f"u{n}", score=0.5, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    assert verify_delivered(h.store, h.directory, h.ags) == []
    del fake.grades[(1, "u1")]  # grade deleted in the gradebook
    fake.grades[(1, "u2")] = Grade(value=70, maximum=100, timemodified=None, comment=None)
    found = {(m.user_id, m.kind) for m in verify_delivered(h.store, h.directory, h.ags)}
    assert found == {("u1", MismatchKind.MISSING), ("u2", MismatchKind.DIFFERENT)}
    fake.faults.status_requests = 1
    fake.faults.status = 403
    (unreadable,) = verify_delivered(h.store, h.directory, h.ags)
    assert unreadable.kind is MismatchKind.UNREADABLE and "403" in unreadable.message


def test_429_pauses_the_whole_platform(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    fake.faults.status_requests = 1
    fake.faults.status = 429
    fake.faults.retry_after = "1"
    config = WorkerConfig(
        retry_policy=FAST_POLICY,
        breaker=BreakerConfig(failure_threshold=1000, cooldown_seconds=0.2),
        per_platform_concurrency=1,
        global_concurrency=4,
    )
    h = Harness(signing, {"p1": fake}, config=config)
    for n in range(10):
        h.enqueue("p1", f"u{n}", score=0.5, at=T0, line_item=LineItemRef(url=url))
    h.worker.run_once()
    assert fake.requests_seen == 1  # the others waited for Retry-After instead of hammering
    assert h.store.status_counts()["p1"] == {OutboxStatus.PENDING: 10}
    started = time.monotonic()
    h.drain()
    assert time.monotonic() - started > 0.5
    assert h.store.status_counts()["p1"] == {OutboxStatus.DELIVERED: 10}


def test_token_endpoint_outage_is_transient(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    fake.faults.token_failures = 2
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url=url))
    h.worker.run_once()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.PENDING and item.last_status_code == 503
    assert "token endpoint" in item.last_error
    h.drain()
    assert h.store.get(item.id).status is OutboxStatus.DELIVERED
    assert fake.token_requests == 3


class _ExplodingDirectory:
    def get_platform(self, platform_key):
        raise RuntimeError("database went away")


def test_unexpected_error_is_settled_as_retry(make_platform, signing):
    fake = make_platform()
    h = Harness(signing, {"p1": fake})
    h.worker._platforms = _ExplodingDirectory()  # an unexpected bug / outage inside the worker
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url="http://x/li"))
    stats = h.worker.run_once()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.PENDING  # settled, not stuck in flight
    assert item.attempts == 1 and "internal" in item.last_error
    assert stats.retry == 1


def test_crashed_worker_lease_expires_and_another_delivers(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url=url))
    (claimed,) = h.store.claim_due(
        limit=10, lease_seconds=0.3, now=datetime.now(UTC), worker_id="crashed"
    )
    h.worker.run_once()
    assert h.store.get(claimed.id).status is OutboxStatus.IN_FLIGHT  # still leased
    time.sleep(0.35)
    h.drain()
    assert h.store.get(claimed.id).status is OutboxStatus.DELIVERED
    assert len(fake.accepted()) == 1


def test_slow_platform_backlog_does_not_starve_others(make_platform, signing):
    slow = make_platform()
    fast = make_platform()
    slow_url = slow.add_line_item(label="Quiz")
    fast_url = fast.add_line_item(label="Quiz")
    slow.faults.latency = 0.25  # healthy but slow: the breaker never opens
    config = WorkerConfig(
        retry_policy=FAST_POLICY, per_platform_concurrency=2, global_concurrency=8
    )
    h = Harness(signing, {"slow": slow, "fast": fast}, config=config)
    for n in range(200):  # the slow academy's rows come first in claim order
        h.enqueue("slow", f"u{n}", score=0.5, at=T0, line_item=LineItemRef(url=slow_url))
    for n in range(20):
        h.enqueue("fast", f"u{n}", score=0.5, at=T0, line_item=LineItemRef(url=fast_url))
    runner = threading.Thread(target=h.worker.run_once)
    started = time.monotonic()
    runner.start()
    try:
        while time.monotonic() - started < 5:
            if h.store.status_counts()["fast"] == {OutboxStatus.DELIVERED: 20}:
                break
            time.sleep(0.05)
        fast_done = time.monotonic() - started
    finally:
        h.worker.stop()
        runner.join(timeout=5)
    assert fast_done < 2.0, fast_done  # without fairness: 200 × 0.25 s / 2 = 25 s
    assert not any(it.status is OutboxStatus.IN_FLIGHT for it in h.store.list_items())
