"""Forwarding statements to an academy's own LRS (a fake one on loopback): order, batches, failures."""

from __future__ import annotations

import base64
import hashlib
import logging
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lti_tool import privacy
from lti_tool.lrs import forwarding, store
from lti_tool.lrs.forwarder import Forwarder, ForwarderConfig, ForwardStats, _Outcome
from lti_tool.lrs.identity import learner_agent, learner_tenant
from lti_tool.lrs.recording import record_statements
from lti_tool.observability import metrics, observe_forwarding
from lti_tool.outbound import OutboundClient, OutboundPolicy
from lti_tool.storage import Database
from lti_tool.storage.models import LrsForwarding
from sync.breaker import BreakerConfig
from tests import factories

sys.path.insert(0, str(Path(__file__).parent))
from fake_lrs import FakeLrs

SECRET = "s3cr3t-Forwarding-Value-42"
ACTIVITY = "https://courses.example.org/golf"
LOOPBACK_OK = OutboundPolicy(deadline_seconds=2.0, read_timeout_seconds=2.0, allow_private=("127.0.0.0/8",))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def lrs() -> Iterator[FakeLrs]:
    server = FakeLrs()
    yield server
    server.close()


@pytest.fixture
def pid(db: Database) -> int:
    return factories.add_platform(db)


def add_statements(db: Database, pid: int, n: int, **extra: Any) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    statements = [
        {
            "id": sid,
            "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": f"u{i}"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
            "object": {"id": ACTIVITY},
            **extra,
        }
        for i, sid in enumerate(ids)
    ]
    with db.session() as s:
        record_statements(s, learner_tenant(pid), statements, base_url="http://localhost", now=datetime.now(UTC))
    return ids


def turn_on(db: Database, pid: int, lrs: FakeLrs, **kw: Any) -> None:
    forwarding.configure(db, pid, endpoint=lrs.url, key="academy-key", secret=SECRET, **kw)


def forwarder(db: Database, clock: Clock | None = None, policy: OutboundPolicy = LOOPBACK_OK, **cfg: Any) -> Forwarder:
    config = ForwarderConfig(**{"settle_seconds": 0.0, **cfg})
    return Forwarder(db, OutboundClient(policy), config=config, clock=clock or Clock())


def row(db: Database, pid: int) -> LrsForwarding:
    with db.session() as s:
        found = s.get(LrsForwarding, pid)
        assert found is not None
        s.expunge(found)
        return found


# -- delivery ------------------------------------------------------------------------------------


def test_statements_go_in_stored_order_in_batches_with_version_and_credentials(
    db: Database, pid: int, lrs: FakeLrs
) -> None:
    turn_on(db, pid, lrs, version="2.0.0", from_start=True)
    ids = add_statements(db, pid, 120)
    other = factories.add_platform(db, issuer="https://other.example", client_id="c2")
    add_statements(db, other, 3)  # another academy's statements never go here
    stats = forwarder(db, batch_size=50).run_once()
    assert stats.delivered == 120 and stats.batches == 3
    assert [len(r.statements) for r in lrs.requests] == [50, 50, 20]
    assert lrs.delivered_ids() == ids
    first = lrs.requests[0]
    assert first.path == "/xapi/statements"
    assert first.headers["x-experience-api-version"] == "2.0.0"
    assert first.headers["authorization"] == "Basic " + base64.b64encode(f"academy-key:{SECRET}".encode()).decode()
    state = forwarding.status(db, pid)
    assert state.state == "on" and state.backlog == 0 and state.delivered == 120 and state.last_success_at
    assert forwarder(db).run_once().requests == 0  # nothing new: nothing sent


def test_byte_cap_splits_batches(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 10)
    forwarder(db, batch_size=50, max_batch_bytes=900).run_once()
    assert len(lrs.requests) > 1 and all(len(r.statements) <= 4 for r in lrs.requests)
    assert lrs.delivered_ids() == ids


def test_only_statements_stored_after_turning_on_unless_from_start(db: Database, pid: int, lrs: FakeLrs) -> None:
    add_statements(db, pid, 5)
    turn_on(db, pid, lrs)
    later = add_statements(db, pid, 2)
    forwarder(db).run_once()
    assert lrs.delivered_ids() == later
    other = factories.add_platform(db, issuer="https://other.example", client_id="c2")
    before = add_statements(db, other, 4)
    turn_on(db, other, lrs, from_start=True)
    forwarder(db).run_once()
    assert lrs.delivered_ids()[2:] == before


def test_young_statements_wait_for_the_settle_window(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 3)
    clock = Clock()
    assert forwarder(db, clock, settle_seconds=30).run_once().requests == 0
    clock.advance(31)
    forwarder(db, clock, settle_seconds=30).run_once()
    assert lrs.delivered_ids() == ids


def test_voided_and_voiding_statements_are_forwarded_as_stored(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    (target,) = add_statements(db, pid, 1)
    voiding = add_statements(
        db, pid, 1, verb={"id": store.VOIDED, "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target},
    )  # fmt: skip
    forwarder(db).run_once()
    assert lrs.delivered_ids() == [target, *voiding]
    assert lrs.stored[voiding[0]]["object"] == {"objectType": "StatementRef", "id": target}


def test_attachments_the_store_keeps_go_multipart(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    content = b"certificate bytes"
    sha2 = hashlib.sha256(content).hexdigest()
    sid = str(uuid.uuid4())
    st = {
        "id": sid, "actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "http://example.org/earned"},
        "object": {"id": ACTIVITY}, "stored": "2026-01-01T00:00:00.000Z", "timestamp": "2026-01-01T00:00:00.000Z",
        "attachments": [{"usageType": "http://example.org/cert", "display": {"en-US": "cert"},
                         "contentType": "text/plain", "length": len(content), "sha2": sha2}],
    }  # fmt: skip
    with db.session() as s:
        tenant = learner_tenant(pid)
        store.save_attachments(s, tenant, {sha2: ("text/plain", content)})
        store.insert_statements(
            s, tenant, [store.NewStatement(st, [sha2])], credential_id=None, stored=datetime.now(UTC)
        )
    forwarder(db).run_once()
    (req,) = lrs.requests
    assert req.headers["content-type"].startswith("multipart/mixed")
    assert req.ids == [sid] and req.attachments == {sha2: content}


# -- failures ------------------------------------------------------------------------------------


def test_503_is_retried_later_with_backoff_then_delivered_once(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 4)
    lrs.mode, lrs.fail_count = "fail_then_ok", 1
    clock = Clock()
    stats = forwarder(db, clock).run_once()
    assert stats.retried == 1 and stats.delivered == 0
    state = row(db, pid)
    assert state.attempts == 1 and state.next_attempt_at >= clock.now + timedelta(seconds=1)  # Retry-After: 1
    assert state.last_status_code == 503 and "fake LRS says 503" in (state.last_error or "")
    assert forwarder(db, clock).run_once().requests == 0  # not due yet
    clock.advance(2)
    forwarder(db, clock).run_once()
    assert lrs.delivered_ids() == ids
    assert row(db, pid).attempts == 0 and row(db, pid).last_error is None


def test_breaker_opens_after_repeated_failures(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    add_statements(db, pid, 2)
    lrs.mode = "503"
    clock = Clock()
    fwd = forwarder(db, clock, breaker=BreakerConfig(failure_threshold=2, cooldown_seconds=100_000))
    for _ in range(4):
        fwd.run_once()
        clock.advance(1000)  # past any backoff (cap 900 s); the breaker's cool-down is what holds the calls
    assert len(lrs.requests) == 2
    assert "circuit open" in (row(db, pid).last_error or "")


@pytest.mark.parametrize("mode", ["slow", "huge"])
def test_deadline_and_size_cap_are_retried_not_delivered(db: Database, pid: int, lrs: FakeLrs, mode: str) -> None:
    turn_on(db, pid, lrs, from_start=True)
    add_statements(db, pid, 2)
    lrs.mode = mode
    policy = OutboundPolicy(
        deadline_seconds=1.5, read_timeout_seconds=1.5, allow_private=("127.0.0.0/8",), max_response_bytes=1_000_000
    )
    started = datetime.now(UTC)
    stats = forwarder(db, policy=policy).run_once()
    assert (datetime.now(UTC) - started).total_seconds() < 10
    assert stats.retried == 1 and stats.delivered == 0
    state = row(db, pid)
    assert state.cursor_seq == 0 and state.last_status_code is None
    assert ("did not answer" if mode == "slow" else "larger than") in (state.last_error or "")


def test_a_refused_statement_is_found_by_splitting_and_dead_lettered(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 10)
    lrs.mode, lrs.refused = "refuse", {ids[6]}
    stats = forwarder(db).run_once()
    assert stats.delivered == 9 and stats.dead == 1
    assert sorted(lrs.stored) == sorted(set(ids) - {ids[6]})
    (dead,) = forwarding.dead_letters(db, pid)
    assert dead.statement_id == ids[6] and dead.status == "dead" and dead.status_code == 400
    assert f"statement {ids[6]} is not acceptable" in dead.error
    state = forwarding.status(db, pid)
    assert state.backlog == 0 and state.dead == 1
    # the academy fixes its LRS; the operator queues the dead letter again
    lrs.refused = set()
    assert forwarding.retry_dead(db, pid) == 1
    assert forwarding.status(db, pid).retrying == 1
    forwarder(db).run_once()
    assert ids[6] in lrs.stored and forwarding.dead_letters(db, pid) == []
    assert lrs.requests[-1].ids == [ids[6]]


def test_a_dead_letter_refused_again_stays_dead(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 2)
    lrs.mode, lrs.refused = "refuse", {ids[0]}
    forwarder(db).run_once()
    forwarding.retry_dead(db, pid)
    forwarder(db).run_once()
    (dead,) = forwarding.dead_letters(db, pid)
    assert dead.status == "dead" and dead.attempts == 2


def test_409_for_one_statement_means_already_there(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 4)
    lrs.mode, lrs.refused = "exists", {ids[1]}
    stats = forwarder(db).run_once()
    assert stats.delivered == 4 and stats.dead == 0
    assert forwarding.dead_letters(db, pid) == []


@pytest.mark.parametrize("status", ["401", "404", "403"])
def test_endpoint_or_credentials_refused_pauses_without_dead_letters(
    db: Database, pid: int, lrs: FakeLrs, status: str
) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 30)
    lrs.mode = status
    stats = forwarder(db).run_once()
    assert stats.paused == 1 and stats.dead == 0
    state = forwarding.status(db, pid)
    assert state.state == "paused" and state.dead == 0 and state.backlog == 30
    assert state.last_status_code == int(status)
    sent = len(lrs.requests)
    assert forwarder(db).run_once().requests == 0 and len(lrs.requests) == sent  # paused: nothing goes out
    lrs.mode = "ok"
    forwarding.resume(db, pid)
    forwarder(db).run_once()
    assert sorted(lrs.stored) == sorted(ids)


def test_403_for_some_statements_after_successes_is_a_dead_letter(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 4)
    lrs.mode, lrs.refused, lrs.refuse_status = "refuse", {ids[2]}, 403
    stats = forwarder(db).run_once()
    assert stats.paused == 0 and stats.dead == 1
    assert forwarding.dead_letters(db, pid)[0].status_code == 403


def test_crash_between_post_and_commit_resends_the_batch_after_restart(db: Database, pid: int, lrs: FakeLrs) -> None:
    class Killed(BaseException):
        pass

    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 5)
    clock = Clock()
    dying = forwarder(db, clock, lease_seconds=60)

    def die(*_: Any) -> None:
        raise Killed  # kill -9 after the POST: no settle, no lease release

    dying._settle_batch = die  # type: ignore[method-assign]
    dying._release = die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        dying.run_once()
    assert lrs.delivered_ids() == ids and row(db, pid).cursor_seq == 0
    assert forwarder(db, clock).run_once().requests == 0  # the dead worker's lease still holds
    clock.advance(61)
    forwarder(db, clock).run_once()
    assert lrs.delivered_ids() == ids + ids  # resent once, stored once
    assert sorted(lrs.stored) == sorted(ids) and forwarding.status(db, pid).backlog == 0


def test_a_private_endpoint_is_refused_in_production(db: Database, pid: int, lrs: FakeLrs) -> None:
    strict = OutboundPolicy()
    for url in ("http://127.0.0.1:9/xapi", "https://10.1.2.3/xapi", "http://localhost/xapi", "http://0x7f000001/x"):
        with pytest.raises(forwarding.ForwardingError) as err:
            forwarding.configure(db, pid, endpoint=url, key="k", secret="s", policy=strict)
        assert err.value.code == "address_refused"
    assert forwarding.status(db, pid).state == "off"
    # saved while allowed, then called by a production client: refused at call time, paused
    turn_on(db, pid, lrs, from_start=True)
    add_statements(db, pid, 1)
    stats = forwarder(db, policy=strict).run_once()
    assert stats.paused == 1 and lrs.requests == []
    assert forwarding.status(db, pid).state == "paused"


def test_the_secret_never_reaches_the_logs(
    db: Database, pid: int, lrs: FakeLrs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    turn_on(db, pid, lrs, from_start=True)
    add_statements(db, pid, 3)
    lrs.mode = "401"
    forwarder(db).run_once()
    forwarding.resume(db, pid)
    lrs.mode = "ok"
    forwarder(db).run_once()
    assert caplog.records, "the forwarder logs what it does"
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert SECRET not in text and base64.b64encode(f"academy-key:{SECRET}".encode()).decode() not in text
    assert "lrs_forward_paused" in text


def test_two_workers_never_send_a_statement_twice(db: Database, pid: int, lrs: FakeLrs, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers run on PostgreSQL only (sync run holds a single-worker lock on SQLite)")
    academies = [pid, *(factories.add_platform(db, issuer=f"https://a{i}.example", client_id="c") for i in range(3))]
    expected: list[str] = []
    for academy in academies:
        turn_on(db, academy, lrs, from_start=True)
        expected += add_statements(db, academy, 60)
    lrs.delay = 0.01
    workers = [forwarder(db, batch_size=10, max_batches_per_pass=2) for _ in range(2)]

    def work(fwd: Forwarder) -> None:
        for _ in range(40):
            fwd.run_once()

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = lrs.delivered_ids()
    assert sorted(sent) == sorted(expected)  # every statement once: no duplicates, none lost
    with db.session() as s:
        assert all(r.lease_expires_at is None for r in s.scalars(select(LrsForwarding)))


def test_counts_and_durations_reach_prometheus(db: Database, pid: int, lrs: FakeLrs) -> None:
    registry = metrics().registry

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    before_ok = sample("cbsi_lrs_forward_statements_total", platform=str(pid), outcome="delivered")
    before_dead = sample("cbsi_lrs_forward_statements_total", platform=str(pid), outcome="dead")
    before_400 = sample("cbsi_lrs_forward_request_duration_seconds_count", status="400")
    turn_on(db, pid, lrs, from_start=True)
    ids = add_statements(db, pid, 4)
    lrs.mode, lrs.refused = "refuse", {ids[0]}
    fwd = Forwarder(
        db, OutboundClient(LOOPBACK_OK), config=ForwarderConfig(settle_seconds=0), observe=observe_forwarding
    )
    fwd.run_once()
    assert sample("cbsi_lrs_forward_statements_total", platform=str(pid), outcome="delivered") == before_ok + 3
    assert sample("cbsi_lrs_forward_statements_total", platform=str(pid), outcome="dead") == before_dead + 1
    assert sample("cbsi_lrs_forward_request_duration_seconds_count", status="400") >= before_400 + 2


def test_a_worker_whose_lease_ran_out_never_moves_the_cursor_back(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    add_statements(db, pid, 6)
    clock = Clock()
    slow = forwarder(db, clock, lease_seconds=60, batch_size=3)
    target = slow._claim(pid)
    assert target is not None
    items = slow._read_batch(target)
    clock.advance(61)  # the slow worker's lease runs out while its POST hangs
    forwarder(db, clock, batch_size=3).run_once()  # another worker takes over and sends everything
    assert row(db, pid).cursor_seq == items[-1].seq + 3
    stats = ForwardStats()
    assert slow._settle_batch(target, items, _Outcome(delivered=[it.seq for it in items]), stats) is None
    assert row(db, pid).cursor_seq == items[-1].seq + 3 and row(db, pid).delivered == 6


def test_erasing_a_learner_removes_their_refused_statements(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    ana = learner_agent(factories.ISSUER, "ana")
    bob = learner_agent(factories.ISSUER, "bob")
    ids = [add_statements(db, pid, 1, actor=agent)[0] for agent in (ana, bob)]
    lrs.mode, lrs.refused = "refuse", set(ids)
    forwarder(db).run_once()
    assert {d.statement_id for d in forwarding.dead_letters(db, pid)} == set(ids)
    report = privacy.erase_learner(db, platform_id=pid, sub="ana", actor="cli:test", source="cli")
    assert report.counts["lrs_forward_dead"] == 1
    assert [d.statement_id for d in forwarding.dead_letters(db, pid)] == [ids[1]]


def test_new_credentials_that_may_not_write_pause_again(db: Database, pid: int, lrs: FakeLrs) -> None:
    turn_on(db, pid, lrs, from_start=True)
    add_statements(db, pid, 2)
    forwarder(db).run_once()
    assert row(db, pid).last_success_at is not None
    forwarding.configure(db, pid, endpoint=lrs.url, key="other-key", secret="other-secret")
    add_statements(db, pid, 2)
    lrs.mode = "403"
    stats = forwarder(db).run_once()
    assert stats.paused == 1 and forwarding.status(db, pid).dead == 0
