"""OutboxStore contract (run against the in-memory fake; the SQL store should pass the same).

To reuse for the SQL store: parametrize the ``store`` fixture with a factory for it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from sync.model import LineItemRef, OutboxStatus
from sync.ports import EnqueueResult, ResendFilter, SettleRequest
from sync.scores import Outcome, build_score_update

T = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
S = OutboxStatus


@pytest.fixture
def store():
    from sync.memory import InMemoryOutboxStore

    return InMemoryOutboxStore()


def upd(user="u1", *, at=T, score=0.5, key="li", platform="p", url="http://x/li"):
    return build_score_update(
        Outcome(score_scaled=score, is_final=True, changed_at=at),
        platform_key=platform,
        line_item_key=key,
        line_item=LineItemRef(url=url),
        user_id=user,
    )


def claim(store, now=T, limit=100, lease=60):
    return store.claim_due(limit=limit, lease_seconds=lease, now=now, worker_id="w")


@pytest.mark.parametrize(
    ("second_at", "expected", "score_kept"),
    [
        (T + timedelta(seconds=1), EnqueueResult.COALESCED, 0.9),
        (T, EnqueueResult.STALE, 0.5),  # equal timestamp: not newer
        (T - timedelta(seconds=1), EnqueueResult.STALE, 0.5),
    ],
)
def test_coalescing_only_newer_replaces(store, second_at, expected, score_kept):
    assert store.enqueue(upd(), now=T) is EnqueueResult.INSERTED
    assert store.enqueue(upd(at=second_at, score=0.9), now=T) is expected
    (item,) = store.list_items()
    assert item.update.score_given == score_kept * 100
    assert item.version == (2 if expected is EnqueueResult.COALESCED else 1)


def test_distinct_keys_are_distinct_rows(store):
    store.enqueue(upd("u1"), now=T)
    store.enqueue(upd("u2"), now=T)
    store.enqueue(upd("u1", key="other"), now=T)
    store.enqueue(upd("u1", platform="q"), now=T)
    assert len(store.list_items()) == 4


def test_claim_leases_and_respects_due_time(store):
    store.enqueue(upd("u1"), now=T)
    store.enqueue(upd("u2"), now=T + timedelta(seconds=10))
    (item,) = claim(store, now=T + timedelta(seconds=1))
    assert item.update.user_id == "u1"
    assert item.status is S.IN_FLIGHT
    assert item.lease_expires_at == T + timedelta(seconds=61)
    assert claim(store, now=T + timedelta(seconds=1)) == []  # leased, u2 not due
    assert [i.update.user_id for i in claim(store, now=T + timedelta(seconds=10))] == ["u2"]


def test_expired_lease_is_reclaimed(store):
    store.enqueue(upd(), now=T)
    (first,) = claim(store, lease=30)
    assert claim(store, now=T + timedelta(seconds=29)) == []
    (again,) = claim(store, now=T + timedelta(seconds=30))
    assert again.id == first.id


def test_claim_limit_and_order(store):
    for n in range(5):
        store.enqueue(upd(f"u{n}"), now=T + timedelta(seconds=5 - n))
    got = claim(store, now=T + timedelta(seconds=10), limit=3)
    assert [i.update.user_id for i in got] == ["u4", "u3", "u2"]  # oldest due first


def test_concurrent_claims_never_share_items(store):
    for n in range(500):
        store.enqueue(upd(f"u{n}"), now=T)
    seen: list[int] = []
    lock = threading.Lock()

    def run():
        while batch := claim(store, limit=7):
            with lock:
                seen.extend(i.id for i in batch)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 500


@pytest.mark.parametrize(
    ("settle", "status"),
    [
        ("delivered", S.DELIVERED),
        ("superseded", S.SUPERSEDED),
        ("retry", S.PENDING),
        ("dead", S.DEAD),
        ("release", S.PENDING),
    ],
)
def test_settle_current_version(store, settle, status):
    store.enqueue(upd(), now=T)
    (item,) = claim(store)
    result = _settle(store, item, settle)
    assert result.applied
    after = store.get(item.id)
    assert after.status is status
    assert after.lease_expires_at is None
    assert after.attempts == (1 if settle in ("retry", "dead") else 0)
    if settle == "delivered":
        assert after.last_sent_timestamp == T and after.grade_delivered
    if settle == "retry":
        assert after.next_attempt_at == T + timedelta(seconds=5)
        assert after.last_error == "boom" and after.last_status_code == 503


@pytest.mark.parametrize("settle", ["delivered", "superseded", "retry", "dead", "release"])
def test_settle_stale_version_requeues_newer_payload(store, settle):
    store.enqueue(upd(), now=T)
    (item,) = claim(store)
    assert store.enqueue(upd(at=T + timedelta(seconds=2), score=0.9), now=T) is (
        EnqueueResult.COALESCED
    )
    assert store.get(item.id).status is S.IN_FLIGHT  # one request per key at a time
    assert claim(store) == []
    result = _settle(store, item, settle)
    assert not result.applied
    after = store.get(item.id)
    assert after.status is S.PENDING and after.version == 2 and after.attempts == 0
    assert after.update.score_given == 90
    assert (after.last_sent_timestamp == T) is (settle == "delivered")
    (again,) = claim(store)
    assert again.version == 2


_SETTLE_PARAMS = {
    "delivered": {"sent": T, "status_code": 200, "graded": True},
    "superseded": {"status_code": 409, "error": "newer"},
    "retry": {"at": T + timedelta(seconds=5), "status_code": 503, "error": "boom"},
    "dead": {"status_code": 400, "error": "bad"},
    "release": {"at": T},
}


def _facts(item):
    return (
        item.status,
        item.version,
        item.attempts,
        item.next_attempt_at,
        item.lease_expires_at,
        item.last_status_code,
        item.last_error,
        item.last_sent_timestamp,
        item.grade_delivered,
        item.delivered_at,
        item.update.score_given,
    )


def test_settle_many_has_the_effect_of_the_single_settles(store):
    """One batch of every kind, current and moved-on versions: each row ends as if settled alone."""
    kinds = list(_SETTLE_PARAMS)
    for kind in kinds:
        for way in ("single", "batch"):
            for version in ("current", "moved"):
                store.enqueue(upd(f"{way}-{kind}-{version}"), now=T)
    items = {i.update.user_id: i for i in claim(store, limit=1000)}
    assert len(items) == 4 * len(kinds)
    for kind in kinds:
        for way in ("single", "batch"):
            newer = upd(f"{way}-{kind}-moved", at=T + timedelta(seconds=2), score=0.9)
            assert store.enqueue(newer, now=T) is EnqueueResult.COALESCED
    batch = []
    for kind in kinds:
        for version in ("current", "moved"):
            _settle(store, items[f"single-{kind}-{version}"], kind)
            item = items[f"batch-{kind}-{version}"]
            batch.append(
                SettleRequest(kind=kind, item_id=item.id, version=item.version, params=_SETTLE_PARAMS[kind])
            )
    assert store.settle_many(batch, now=T) is None
    for kind in kinds:
        for version in ("current", "moved"):
            single = store.get(items[f"single-{kind}-{version}"].id)
            batched = store.get(items[f"batch-{kind}-{version}"].id)
            assert _facts(batched) == _facts(single), (kind, version)
            if version == "moved":  # the newer payload goes out next
                assert single.status is S.PENDING and single.version == 2 and single.lease_expires_at is None
    assert store.settle_many([], now=T) is None


def _settle(store, item, settle):
    common = {"version": item.version, "now": T}
    if settle == "delivered":
        return store.mark_delivered(
            item.id, sent_timestamp=T, status_code=200, graded=True, **common
        )
    if settle == "superseded":
        return store.mark_superseded(item.id, status_code=409, reason="newer", **common)
    if settle == "retry":
        return store.schedule_retry(
            item.id,
            next_attempt_at=T + timedelta(seconds=5),
            status_code=503,
            error="boom",
            **common,
        )
    if settle == "dead":
        return store.mark_dead(item.id, status_code=400, error="bad", **common)
    return store.release(item.id, not_before=T, **common)


def test_new_outcome_revives_settled_rows(store):
    store.enqueue(upd(), now=T)
    (item,) = claim(store)
    store.mark_dead(item.id, version=1, status_code=400, error="x", now=T)
    store.enqueue(upd(at=T + timedelta(seconds=1)), now=T)
    after = store.get(item.id)
    assert after.status is S.PENDING and after.attempts == 0 and after.last_error is None


def test_retry_dead_and_resend_filters(store):
    for user, platform in (("u1", "p"), ("u2", "p"), ("u3", "q")):
        store.enqueue(upd(user, platform=platform), now=T)
    for item in claim(store):
        if item.update.user_id == "u1":
            store.mark_delivered(
                item.id, version=1, sent_timestamp=T, status_code=200, graded=True, now=T
            )
        else:
            store.mark_dead(item.id, version=1, status_code=400, error="x", now=T)
    assert store.retry_dead(now=T, platform_key="q") == 1
    assert store.status_counts()["q"] == {S.PENDING: 1}
    assert store.resend(ResendFilter(user_id="u1"), now=T) == 1
    assert store.resend(ResendFilter(platform_key="p", statuses=frozenset({S.DEAD})), now=T) == 1
    assert store.status_counts()["p"] == {S.PENDING: 2}
    assert store.resend(ResendFilter(), now=T) == 0  # pending rows are not "resent"


def test_set_line_item_url_and_kept_on_coalesce(store):
    store.enqueue(upd("u1", url=None), now=T)
    store.enqueue(upd("u2", url=None), now=T)
    store.enqueue(upd("u3", url=None, key="other"), now=T)
    assert store.set_line_item_url(platform_key="p", line_item_key="li", url="http://r/1") == 2
    store.enqueue(upd("u1", url=None, at=T + timedelta(seconds=1)), now=T)
    urls = {i.update.user_id: i.update.line_item.url for i in store.list_items()}
    assert urls == {"u1": "http://r/1", "u2": "http://r/1", "u3": None}


def test_claim_skips_excluded_platforms_without_losing_them(store):
    for n in range(5):
        store.enqueue(upd(f"a{n}", platform="a"), now=T)
    store.enqueue(upd("b0", platform="b"), now=T + timedelta(seconds=1))
    got = store.claim_due(
        limit=3,
        lease_seconds=60,
        now=T + timedelta(seconds=2),
        worker_id="w",
        exclude_platforms=["a"],
    )
    assert [i.update.user_id for i in got] == ["b0"]
    assert len(claim(store, now=T + timedelta(seconds=2))) == 5  # a's rows still claimable
