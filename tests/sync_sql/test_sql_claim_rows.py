"""The claim's rows read by position (``items_from_tuples``, issue 16: grade delivery CPU) are the
same items the column-name reader builds, every timestamp in UTC; a settle batch of one kind (an
autocommitted statement on PostgreSQL) keeps the version check of every row."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from test_memory_store import T, claim, upd

from lti_tool.storage.outbox import SqlOutboxStore
from lti_tool.storage.outbox.statements import T as TABLE
from lti_tool.storage.outbox.statements import item_from_row, items_from_tuples
from sync.model import LineItemRef, OutboxItem, OutboxStatus, ScoreUpdate
from sync.ports import SettleRequest
from sync.scores import Outcome, build_score_update


def _datetimes(item: OutboxItem) -> list[datetime]:
    values = [getattr(item, f.name) for f in fields(item)] + [item.update.outcome_at]
    return [v for v in values if isinstance(v, datetime)]


def test_positional_rows_build_the_same_items_as_named_rows() -> None:
    """Every column lands in its own field; naive and non-UTC timestamps come back in UTC."""
    at = {c.name: i for i, c in enumerate(TABLE.c)}
    paris = ZoneInfo("Europe/Paris")
    values = {c.name: None for c in TABLE.c}
    values.update(
        id=7,
        platform_key="plat",
        line_item_key="li-key",
        line_item_url="https://lms/li/1",
        lineitems_url="https://lms/li",
        resource_link_id="rl-1",
        tag="tag-1",
        label="Label",
        line_item_score_maximum=10.0,
        resource_id="res-1",
        user_id="learner",
        score_given=7.5,
        score_maximum=10.0,
        activity_progress="Completed",
        grading_progress="FullyGraded",
        outcome_at=T.astimezone(paris),
        comment="well done",
        status="in_flight",
        version=3,
        attempts=2,
        next_attempt_at=(T + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=-5))),
        lease_expires_at=T.replace(tzinfo=None) + timedelta(minutes=2),  # naive: read as UTC
        last_status_code=503,
        last_error="busy",
        delivered_at=(T - timedelta(hours=1)).astimezone(ZoneInfo("UTC")),
        last_sent_timestamp=T - timedelta(hours=1),
        grade_delivered=1,
        created_at=T - timedelta(days=1),
        updated_at=T,
    )
    row = tuple(values[c.name] for c in TABLE.c)

    named = {**values, "lease_expires_at": T + timedelta(minutes=2)}  # the SQL type makes it aware there

    class Named:
        def __getattr__(self, name: str) -> object:
            return named[name]

    (item,) = items_from_tuples([row], at)
    assert item == item_from_row(Named())
    assert item.update.line_item == LineItemRef(
        url="https://lms/li/1",
        lineitems_url="https://lms/li",
        resource_link_id="rl-1",
        tag="tag-1",
        label="Label",
        score_maximum=10.0,
        resource_id="res-1",
    )
    assert (item.id, item.version, item.attempts, item.last_status_code, item.last_error) == (7, 3, 2, 503, "busy")
    assert item.status is OutboxStatus.IN_FLIGHT and item.grade_delivered is True
    assert item.lease_expires_at == T + timedelta(minutes=2)
    assert all(d.tzinfo is UTC for d in _datetimes(item))


def test_claimed_items_equal_the_stored_rows(sql_store: SqlOutboxStore) -> None:
    store = sql_store
    for n in range(5):
        store.enqueue(upd(f"learner-{n}", score=n / 10), now=T)
    items = claim(store, limit=10)
    assert len(items) == 5
    for item in items:
        assert item == store.get(item.id)
        assert item.status is OutboxStatus.IN_FLIGHT
        assert all(d.tzinfo is UTC for d in _datetimes(item))


def _newer(update: ScoreUpdate) -> ScoreUpdate:
    return build_score_update(
        Outcome(score_scaled=0.9, is_final=True, changed_at=update.outcome_at + timedelta(seconds=5)),
        platform_key=update.platform_key,
        line_item_key=update.line_item_key,
        line_item=update.line_item,
        user_id=update.user_id,
    )


def test_one_kind_settle_batch_keeps_each_rows_version_check(sql_store: SqlOutboxStore) -> None:
    """All delivered in one batch: the rows whose version moved on meanwhile (a newer outcome
    coalesced) keep the delivery facts and go back to the queue; the others are delivered."""
    store = sql_store
    for n in range(4):
        store.enqueue(upd(f"learner-{n}"), now=T)
    items = sorted(claim(store, limit=10), key=lambda i: i.update.user_id)
    moved = items[1]
    store.enqueue(_newer(moved.update), now=T + timedelta(seconds=1))
    sent = T + timedelta(seconds=2)
    now = T + timedelta(seconds=3)
    store.settle_many(
        [
            SettleRequest(
                kind="delivered",
                item_id=i.id,
                version=i.version,
                params={"sent": sent, "graded": True, "status_code": 200},
            )
            for i in items
        ],
        now=now,
    )
    for item in items:
        row = store.get(item.id)
        assert row is not None
        assert row.last_sent_timestamp == sent and row.grade_delivered
        if item.id == moved.id:
            assert row.status is OutboxStatus.PENDING and row.version == item.version + 1
            assert row.update.score_given == 0.9 * row.update.score_maximum
            assert row.next_attempt_at <= now and row.lease_expires_at is None
        else:
            assert row.status is OutboxStatus.DELIVERED and row.version == item.version
            assert row.lease_expires_at is None and row.last_status_code == 200
    # settled once: the same batch again changes nothing
    before = {i.id: store.get(i.id) for i in items}
    assert len(claim(store, now=now, limit=10)) == 1  # only the newer payload is due
    store.settle_many(
        [SettleRequest(kind="delivered", item_id=i.id, version=i.version, params={"sent": sent}) for i in items[:1]],
        now=now,
    )
    assert store.get(items[0].id) == before[items[0].id]
