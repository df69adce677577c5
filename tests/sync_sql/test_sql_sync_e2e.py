"""End to end over real HTTP on 127.0.0.1: runtime commit → outbox row (same transaction) → worker
→ the fake Moodle-like platform's gradebook. Runs on SQLite, and on PostgreSQL in the PG pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sync_harness import FAST_POLICY
from sync_sql_helpers import (
    INSTRUCTOR,
    TrackingPlatform,
    all_settled,
    direct_update,
    launch,
    register_platform,
    run_cli,
    start_platform,
    wait_until,
)

from lti_tool import catalogue, grades
from lti_tool.lti.tokens import DbTokenCache
from lti_tool.runtime import service
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, ScoState
from lti_tool.storage.outbox import SqlOutboxStore
from lti_tool.web import i18n
from sync.breaker import BreakerConfig
from sync.model import OutboxStatus, floor_to_second, format_timestamp
from sync.worker import WorkerConfig, utc_now

GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
S = OutboxStatus
TEST_CONFIG = WorkerConfig(
    retry_policy=FAST_POLICY,
    breaker=BreakerConfig(failure_threshold=1000, cooldown_seconds=0.2),
    per_platform_concurrency=4,
    global_concurrency=8,
    lease_seconds=30,
)


@pytest.fixture
def fake(services: Services) -> Iterator[TrackingPlatform]:
    platform = start_platform(services)
    yield platform
    platform.stop()


@pytest.fixture
def course_key(services: Services, fixtures_dir: Path) -> str:
    return catalogue.import_package(services, fixtures_dir / GOLF2004).course_key


@pytest.fixture
def wired(services: Services) -> Services:
    """The services as the factory wires them (the grade outbox listens to outcomes)."""
    return services


@pytest.fixture
def store(services: Services) -> SqlOutboxStore:
    return SqlOutboxStore(services.db)


class Learner:
    """One learner's attempt, committing through the runtime service like the player does."""

    def __init__(self, services: Services, opened: service.OpenedAttempt) -> None:
        self.services = services
        self.opened = opened
        self.item = opened.current_item or ""
        self.seq = 0
        service.start_item_session(services, opened.attempt_id, self.item, learner_id="x", learner_name="X")

    def commit(self, scaled: float, *, completed: bool = True) -> Any:
        self.seq += 1
        changes = {
            "cmi.score.scaled": f"{scaled:.2f}",
            "cmi.completion_status": "completed" if completed else "incomplete",
        }
        if completed:
            changes["cmi.success_status"] = "passed"
        return service.commit(self.services, self.opened.attempt_id, self.item, {"seq": self.seq, "changes": changes})


def start_learner(
    services: Services, platform_id: int, course_key: str, fake: TrackingPlatform, sub: str, **kw: Any
) -> Learner:
    url = kw.pop("lineitem", None) or fake.add_line_item(label="Evidence", resourceLinkId="rl-1")
    opened = service.open_attempt(services, launch(platform_id, course_key, sub=sub, lineitem=url, **kw))
    return Learner(services, opened)


def drain(services: Services, store: SqlOutboxStore, timeout: float = 15.0) -> None:
    worker = grades.build_worker(services, config=TEST_CONFIG)
    wait_until(lambda: bool(worker.run_once()) and all_settled(store), timeout, "the outbox to settle", poll=0.02)


def test_learner_commit_reaches_the_gradebook(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    pid = register_platform(wired, fake)
    learner = start_learner(wired, pid, course_key, fake, "moodle-user-42")
    learner.commit(0.85)
    (row,) = store.list_items()  # written by the commit's own transaction
    assert (row.status, row.update.platform_key, row.update.line_item_key) == (S.PENDING, str(pid), "dep-1/rl-1")
    code, out = run_cli(wired, "sync", "once")
    assert code == 0 and "delivered 1" in out, out
    ((item_id, payload),) = fake.accepted()
    assert item_id == 1  # the ?type_id=1 line item URL: /scores went before the query
    with wired.db.session() as s:
        outcome_at = s.scalars(select(Attempt.outcome_at)).one()
    assert payload == {
        "userId": "moodle-user-42",
        "scoreGiven": 85.0,
        "scoreMaximum": 100.0,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": format_timestamp(floor_to_second(outcome_at)),
    }
    assert fake.grades[(1, "moodle-user-42")].value == 85.0
    after = store.get(row.id)
    assert after is not None and after.status is S.DELIVERED and after.grade_delivered


def test_failing_enqueue_rolls_the_commit_back(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    learner = start_learner(wired, register_platform(wired, fake), course_key, fake, "u1")
    with wired.db.engine.begin() as conn:  # the outbox is unavailable
        conn.execute(text("ALTER TABLE grade_outbox RENAME TO grade_outbox_away"))
    try:
        with pytest.raises(SQLAlchemyError):
            learner.commit(0.5)
    finally:
        with wired.db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE grade_outbox_away RENAME TO grade_outbox"))
    with wired.db.session() as s:
        assert s.scalars(select(ScoState.seq)).one() == 0  # runtime state not stored either
        assert s.scalars(select(Attempt.outcome_at)).one() is None
    learner.seq = 0
    learner.commit(0.5)
    assert len(store.list_items()) == 1


@pytest.mark.parametrize(
    ("roles", "scopes", "expected_rows"),
    [
        ((INSTRUCTOR,), None, 0),  # instructors are not graded (Moodle: 400)
        (("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",), ["other"], 0),  # no score scope
        (("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",), None, 1),
    ],
)
def test_who_and_what_is_sent(
    wired: Services,
    fake: TrackingPlatform,
    course_key: str,
    store: SqlOutboxStore,
    roles: tuple[str, ...],
    scopes: list[str] | None,
    expected_rows: int,
) -> None:
    pid = register_platform(wired, fake)
    launched = launch(pid, course_key, sub="u1", lineitem=fake.add_line_item(label="x"), roles=roles)
    if scopes is not None:
        launched.claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]["scope"] = scopes
    learner = Learner(wired, service.open_attempt(wired, launched))
    learner.commit(0.9)
    assert len(store.list_items()) == expected_rows
    drain(wired, store)
    assert len(fake.accepted()) == expected_rows


def test_rapid_commits_coalesce_and_never_go_backwards(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    learner = start_learner(wired, register_platform(wired, fake), course_key, fake, "u1")
    for n in range(1, 11):
        learner.commit(n / 20)
    (row,) = store.list_items()
    assert row.version == 10
    drain(wired, store)
    assert [p["scoreGiven"] for _i, p in fake.accepted()] == [50.0]  # only the newest went out
    # newer outcomes after delivery: each goes out, in order, timestamps strictly increasing
    for n in (11, 12):
        learner.commit(n / 20)
        drain(wired, store)
    sent = [p for _i, p in fake.accepted()]
    assert [p["scoreGiven"] for p in sent] == [50.0, 55.0, 60.0]
    stamps = [datetime.fromisoformat(p["timestamp"]) for p in sent]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert fake.grades[(1, "u1")].value == 60.0
    assert max(fake.max_inflight.values()) == 1


def test_line_item_found_or_created_without_lineitem_claim(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    pid = register_platform(wired, fake)
    opened = service.open_attempt(wired, launch(pid, course_key, sub="u1", lineitem=None, lineitems=fake.lineitems_url))
    Learner(wired, opened).commit(0.7)
    (row,) = store.list_items()
    assert row.update.line_item_key == f"dep-1/rl-1#{grades.LINE_ITEM_TAG}" and row.update.line_item.url is None
    drain(wired, store)
    (created,) = fake.line_items.values()
    assert created["resourceLinkId"] == "rl-1" and created["tag"] == grades.LINE_ITEM_TAG
    assert fake.grades[(1, "u1")].value == 70.0
    assert store.list_items()[0].update.line_item.url == created["id"]


def test_outage_then_recovery(wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore) -> None:
    pid = register_platform(wired, fake)
    url = fake.add_line_item(label="Evidence")
    for n in range(5):
        start_learner(wired, pid, course_key, fake, f"u{n}", lineitem=url).commit(0.6)
    fake.faults.status_requests = 10_000  # the academy's Moodle answers 503
    worker = grades.build_worker(wired, config=TEST_CONFIG)
    worker.run_once()
    rows = store.list_items()
    assert {r.status for r in rows} == {S.PENDING}
    assert all(r.attempts >= 1 and r.last_status_code == 503 for r in rows)
    fake.faults.status_requests = 0
    drain(wired, store)
    assert {r.status for r in store.list_items()} == {S.DELIVERED}
    assert sorted(u for (_i, u) in fake.grades) == [f"u{n}" for n in range(5)]


def test_rejected_score_goes_dead_then_retry_dead_redelivers(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    pid = register_platform(wired, fake, name="Academy North")
    fake.enrolled = {"u-ok"}  # u-new is not enrolled with a gradebook role yet
    url = fake.add_line_item(label="Evidence")
    start_learner(wired, pid, course_key, fake, "u-ok", lineitem=url).commit(0.8)
    start_learner(wired, pid, course_key, fake, "u-new", lineitem=url).commit(0.9)
    code, out = run_cli(wired, "sync", "once")
    assert code == 0 and "dead 1" in out, out
    (dead,) = store.list_items(statuses=[S.DEAD])
    assert dead.update.user_id == "u-new" and dead.last_status_code == 400
    assert "Incorrect score received" in (dead.last_error or "")
    code, out = run_cli(wired, "sync", "status")
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith(str(pid)))
    assert "Academy North" in line and line.split()[-2:] == ["1", "-"]  # 1 dead, nothing pending
    assert "sync retry --dead" in out
    (dead_line,) = [ln for ln in out.splitlines() if "user u-new" in ln]
    assert dead_line.startswith(f"  platform {pid}, user u-new, line item dep-1/rl-1: 400 ")
    assert "Incorrect score received" in dead_line
    fake.enrolled.add("u-new")  # the admin fixed the enrolment
    code, out = run_cli(wired, "sync", "retry", "--dead", "--platform", str(pid))
    assert code == 0 and "1 dead deliveries re-queued" in out
    code, out = run_cli(wired, "sync", "once")
    assert code == 0 and "delivered 1" in out
    assert fake.grades[(1, "u-new")].value == 90.0
    code, out = run_cli(wired, "sync", "status", "--json")
    (row,) = json.loads(out)["platforms"]
    assert row["dead_items"] == []
    assert (row["dead"], row["delivered"], row["delivered_last_hour"], row["pending"]) == (0, 2, 2, 0)


def test_resend_by_learner_and_course_and_verify(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    pid = register_platform(wired, fake)
    url = fake.add_line_item(label="Evidence")
    for user in ("u1", "u2"):
        start_learner(wired, pid, course_key, fake, user, lineitem=url).commit(0.4)
    drain(wired, store)
    assert run_cli(wired, "sync", "verify", "--platform", str(pid))[0] == 0
    fake.grades.pop((1, "u1"))  # a teacher reset the gradebook column for u1
    code, out = run_cli(wired, "sync", "verify", "--platform", str(pid))
    assert code == 1 and "missing" in out and "u1" in out
    code, out = run_cli(wired, "sync", "verify", "--platform", str(pid), "--fix")
    assert code == 0 and "1 grades re-queued" in out
    drain(wired, store)
    assert fake.grades[(1, "u1")].value == 40.0
    assert run_cli(wired, "sync", "resend", "--learner", "u2")[1].startswith("1 grades re-queued")
    assert run_cli(wired, "sync", "resend", "--course", course_key)[1].startswith("1 grades re-queued")
    drain(wired, store)
    assert run_cli(wired, "sync", "resend", "--course", course_key)[1].startswith("2 grades re-queued")
    code, out = run_cli(wired, "sync", "resend", "--course", "no-such-course")
    assert code == 1 and "no course" in out
    code, out = run_cli(wired, "sync", "resend")
    assert code == 2 and "exactly one" in out


def test_metrics_endpoint(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore, client: Any
) -> None:
    pid = register_platform(wired, fake)
    url = fake.add_line_item(label="Evidence")
    start_learner(wired, pid, course_key, fake, "u1", lineitem=url).commit(0.4)
    start_learner(wired, pid, course_key, fake, "u2", lineitem=url).commit(0.4)
    fake.enrolled = {"u1"}
    drain(wired, store)
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.content_type.startswith("text/plain; version=0.0.4")
    body = reply.get_data(as_text=True)
    p = str(pid)
    for expected in (
        f'cbsi_grade_outbox_rows{{platform="{p}",status="delivered"}} 1',
        f'cbsi_grade_outbox_rows{{platform="{p}",status="dead"}} 1',
        f'cbsi_grade_outbox_rows{{platform="{p}",status="pending"}} 0',
        f'cbsi_grade_delivered_last_hour{{platform="{p}"}} 1',
        f'cbsi_grade_delivery_latency_seconds_bucket{{platform="{p}",le="+Inf"}} 1',
        f'cbsi_grade_delivery_latency_seconds_bucket{{platform="{p}",le="60"}} 1',
        f'cbsi_grade_delivery_latency_seconds_count{{platform="{p}"}} 1',
    ):
        assert expected in body, expected


def test_summary_latency_and_oldest_pending(services: Services, store: SqlOutboxStore) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    store.enqueue(direct_update("7", "a", score=0.5, at=now - timedelta(seconds=100), url="http://x/1"), now=now)
    store.enqueue(direct_update("7", "b", score=0.5, at=now - timedelta(seconds=30), url="http://x/1"), now=now)
    (first,) = store.claim_due(limit=1, lease_seconds=60, now=now, worker_id="w")
    store.mark_delivered(first.id, version=1, sent_timestamp=now, status_code=200, graded=True, now=now)
    (summary,) = store.summary(now=now + timedelta(seconds=1))
    assert summary.count(S.DELIVERED) == 1 and summary.count(S.PENDING) == 1
    assert summary.oldest_pending_at == now - timedelta(seconds=30)
    assert summary.delivered_last_hour == 1
    # latency 100 s: not within 60 s, within 300 s
    assert summary.latency_buckets[:5] == (0, 0, 0, 0, 1) and summary.latency_buckets[-1] == 1
    assert summary.latency_sum_seconds == pytest.approx(100.0, abs=0.01)
    assert store.summary(now=now + timedelta(hours=2))[0].delivered_last_hour == 0


def test_class_view_words_for_each_delivery_state(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    pid = register_platform(wired, fake)
    fake.enrolled = {"sent"}
    url = fake.add_line_item(label="Evidence")
    start_learner(wired, pid, course_key, fake, "sent", lineitem=url).commit(0.8)
    start_learner(wired, pid, course_key, fake, "refused", lineitem=url).commit(0.6)
    before = grades.delivery_state(
        wired, platform_id=pid, deployment_id="dep-1", resource_link_id="rl-1", user_ids=["sent", "refused", "none"]
    )
    assert before["sent"]["code"] == "pending" and before["sent"]["params"]["score"] == "80/100"
    run_cli(wired, "sync", "once")
    after = grades.delivery_state(
        wired, platform_id=pid, deployment_id="dep-1", resource_link_id="rl-1", user_ids=["sent", "refused", "none"]
    )
    assert after["sent"]["status"] == "delivered" and after["sent"]["code"] == "delivered_on"
    assert after["refused"]["status"] == "dead" and after["refused"]["code"] == "dead"
    assert "Incorrect score" in after["refused"]["params"]["error"]
    # the class view's words (English: the request has no other language)
    app = Flask(__name__)
    i18n.init_app(app)
    with app.test_request_context("/"):
        assert i18n.delivery_text(before["sent"]).startswith("Waiting to send 80/100")
        assert i18n.delivery_text(after["sent"]).startswith("Sent 80/100 on ")
        assert i18n.delivery_text(after["refused"]).startswith("Not accepted by the LMS:")
    assert "none" not in after
    other = grades.delivery_state(
        wired, platform_id=pid, deployment_id="dep-1", resource_link_id="rl-other", user_ids=["sent"]
    )
    assert other == {}


def test_workers_share_service_tokens_through_the_database(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    from datetime import timedelta

    from lti_tool.storage.models import ServiceToken
    from sync.ports import CachedToken

    cache = grades.token_cache_for(wired)
    key = ("https://lms.example", "client-1", "scope-a scope-b")
    assert cache.get(key) is None
    expires = utc_now() + timedelta(minutes=10)
    cache.put(key, CachedToken(access_token="tok-1", expires_at=expires))
    other_process = DbTokenCache(wired.db)  # another worker or web node: same table
    found = other_process.get(key)
    assert found is not None and found.access_token == "tok-1" and found.expires_at == expires
    cache.put(key, CachedToken(access_token="tok-2", expires_at=expires))
    assert other_process.get(key).access_token == "tok-2"  # type: ignore[union-attr]
    assert other_process.get(("https://lms.example", "client-2", "scope-a scope-b")) is None
    other_process.invalidate(key)
    assert cache.get(key) is None
    # the worker really uses it: after a delivery the platform's token is in the table
    pid = register_platform(wired, fake)
    start_learner(wired, pid, course_key, fake, "u1").commit(0.7)
    drain(wired, store)
    with wired.db.session() as s:
        assert s.query(ServiceToken).count() >= 1


def test_a_line_item_on_a_host_the_platform_did_not_register_is_never_sent(
    wired: Services, fake: TrackingPlatform, course_key: str, store: SqlOutboxStore
) -> None:
    """A launch naming a gradebook elsewhere must not get the platform's bearer token (issue 12, security 3)."""
    pid = register_platform(wired, fake)
    other = start_platform(wired)
    try:
        foreign = other.add_line_item(label="Collector")
        start_learner(wired, pid, course_key, fake, "u-1", lineitem=foreign).commit(0.7)
        code, out = run_cli(wired, "sync", "once")
        assert code == 0 and "dead 1" in out, out
        (dead,) = store.list_items(statuses=[S.DEAD])
        assert "service_url_refused" in (dead.last_error or "")
        assert other.requests_seen == 0 and fake.token_requests == 0
    finally:
        other.stop()
