"""The grade outbox in SQL: ``sync.ports.OutboxStore`` over the ``grade_outbox`` table.

Same semantics as ``sync.memory.InMemoryOutboxStore`` (one contract test suite runs against
both, on SQLite and PostgreSQL). Every method is one short statement, or two on the rare path:

* enqueue: ``INSERT ... ON CONFLICT (platform_key, line_item_key, user_id) DO UPDATE ... WHERE
  excluded.outcome_at > grade_outbox.outcome_at RETURNING version`` — version 1 means inserted,
  a higher one coalesced, no row means stale. ``enqueue_in_session`` runs it in the caller's
  transaction (the runtime commit), so the outbox row and the runtime state commit together.
* claim: ``UPDATE ... SET status='in_flight', lease... WHERE id IN (SELECT id ... ORDER BY
  next_attempt_at LIMIT n FOR UPDATE SKIP LOCKED) RETURNING *`` on PostgreSQL, so any number of
  workers on any number of machines claim disjoint rows. SQLite runs the same statement without
  the locking clause: a write statement takes SQLite's write lock before it reads, so the claim is
  atomic as a ``BEGIN IMMEDIATE`` transaction would be; one worker runs at a time there (the CLI
  holds ``SqliteWorkerLock``).
* settle: ``UPDATE ... WHERE id = :id AND version = :version AND status = 'in_flight'``; when no
  row matched (a newer payload was coalesced meanwhile) a second UPDATE records the delivery
  facts and makes the row claimable again.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lti_tool.storage.db import Database
from lti_tool.storage.outbox.statements import (
    _SETTLE_DEFAULTS,
    S,
    T,
    _claim_sql,
    _payload,
    _settle_batch_statement,
    _settle_one_statement,
    _settle_statements,
    _upsert_statement,
    item_from_row,
    items_from_tuples,
    pg_array_literal,
)
from sync.model import (
    OutboxItem,
    OutboxStatus,
    ScoreUpdate,
    ensure_aware,
)
from sync.ports import EnqueueResult, ResendFilter, SettleRequest, SettleResult

logger = logging.getLogger(__name__)

#: Buckets (seconds) of the delivery latency histogram: outcome change → platform accepted.
LATENCY_BUCKETS: tuple[float, ...] = (1, 5, 15, 60, 300, 900, 3600, 21600, 86400)


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class PlatformSummary:
    """Outbox health of one platform (``sync status``, ``/metrics``).

    Attributes:
        platform_key: the platform key (``str(platforms.id)``).
        counts: rows per status.
        delivered_last_hour: rows whose platform accepted a score in the last hour.
        oldest_pending_at: ``outcome_at`` of the oldest undelivered (pending / in flight) row.
        latency_buckets: cumulative counts per ``LATENCY_BUCKETS`` bound (last hour's deliveries,
            latency = delivered_at - outcome_at), then ``+Inf``.
        latency_sum_seconds: sum of those latencies.
    """

    platform_key: str
    counts: Mapping[OutboxStatus, int]
    delivered_last_hour: int
    oldest_pending_at: datetime | None
    latency_buckets: tuple[int, ...]
    latency_sum_seconds: float

    def count(self, status: OutboxStatus) -> int:
        """Rows in ``status``."""
        return self.counts.get(status, 0)


class SqlOutboxStore:
    """``sync.ports.OutboxStore`` on SQLite or PostgreSQL (see the module docstring).

    Args:
        db: the database (schema at ``0006_grade_outbox`` or later).
        clock: current time for the summary queries (the port methods take ``now``).
    """

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._pg = db.dialect == "postgresql"

    # -- enqueue ------------------------------------------------------------------------------
    def enqueue(self, update: ScoreUpdate, *, now: datetime) -> EnqueueResult:
        """See ``sync.ports.OutboxStore.enqueue`` (in a transaction of its own)."""
        with self._db.session() as s:
            return self.enqueue_in_session(s, update, now=now)

    @staticmethod
    def enqueue_in_session(session: Session, update: ScoreUpdate, *, now: datetime) -> EnqueueResult:
        """Insert or coalesce ``update`` in the caller's transaction (the runtime commit).

        A failure raises and the caller's transaction rolls back with it: the outcome change and
        its outbox row commit together or not at all (DESIGN.md §5.6).

        Returns:
            INSERTED, COALESCED (payload replaced, version + 1) or STALE (stored one not older).
        """
        now = ensure_aware(now, "now")
        stmt = _upsert_statement(session.get_bind().dialect.name)
        version = session.execute(stmt, {**_payload(update), "now": now}).scalar_one_or_none()
        if version is None:
            return EnqueueResult.STALE
        return EnqueueResult.INSERTED if version == 1 else EnqueueResult.COALESCED

    # -- claims -------------------------------------------------------------------------------
    def claim_due(
        self,
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        worker_id: str,
        exclude_platforms: Collection[str] = (),
    ) -> list[OutboxItem]:
        """See ``sync.ports.OutboxStore.claim_due``.

        Rows come back oldest ``next_attempt_at`` first. An expired lease is ordered by its
        ``next_attempt_at`` too (the in-memory fake orders it by its lease expiry): rows of a
        crashed worker go out early, which is what an admin would want.
        """
        now = ensure_aware(now, "now")
        lease = now + timedelta(seconds=lease_seconds)
        if self._pg:
            return self._claim_pg(limit, lease, now, worker_id, exclude_platforms)
        due = or_(
            and_(T.c.status == S.PENDING.value, T.c.next_attempt_at <= now),
            and_(T.c.status == S.IN_FLIGHT.value, T.c.lease_expires_at <= now),
        )
        pick = select(T.c.id).where(due)
        if exclude_platforms:
            pick = pick.where(T.c.platform_key.not_in(list(exclude_platforms)))
        pick = pick.order_by(T.c.next_attempt_at, T.c.id).limit(limit)
        if self._pg:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            update(T)
            .where(T.c.id.in_(pick.scalar_subquery()))
            .values(status=S.IN_FLIGHT.value, lease_expires_at=lease, leased_by=worker_id[:64], updated_at=now)
            .returning(*T.c)
        )
        with self._single_statements() as s:
            rows = s.execute(stmt).all()
        items = [item_from_row(r) for r in rows]
        items.sort(key=lambda it: (it.next_attempt_at, it.id))
        return items

    def _claim_pg(
        self, limit: int, lease: datetime, now: datetime, worker_id: str, exclude_platforms: Collection[str]
    ) -> list[OutboxItem]:
        """PostgreSQL: the claim compiled once (``_claim_sql``) and run on the driver: the rows
        come back as plain tuples, read by position (no per-column result processing)."""
        sql, fixed, columns = _claim_sql()
        params = {
            **fixed,
            "now": now,
            "lease": lease,
            "worker": worker_id[:64],
            "excluded": list(exclude_platforms),
            "limit": int(limit),
        }
        with self._single_statements() as conn:
            rows = conn.exec_driver_sql(sql, params).fetchall()  # type: ignore[union-attr]
        items = items_from_tuples(rows, columns)
        items.sort(key=lambda it: (it.next_attempt_at, it.id))
        return items

    # -- settling -----------------------------------------------------------------------------
    def _settle(self, kind: str, item_id: int, version: int, now: datetime, **params: Any) -> SettleResult:
        """Run the prebuilt settle statements of ``kind`` (see ``_SETTLE``)."""
        current, moved = _settle_statements(kind)
        values = {"item_id": item_id, "expected_version": version, "now": ensure_aware(now, "now"), **params}
        with self._single_statements() as s:
            if s.execute(current, values).rowcount == 1:  # type: ignore[attr-defined]
                return SettleResult(applied=True)
            # the version moved on (a newer outcome was coalesced while the request was out): keep
            # the delivery facts, give the newer payload back to the queue now
            s.execute(moved, values)
        return SettleResult(applied=False)

    def settle_many(self, settlements: Sequence[SettleRequest], *, now: datetime) -> None:
        """Settle a batch in one transaction: one ``executemany`` per kind present.

        The worker collects the settles of its finished requests and writes them together (one
        round trip per kind instead of one or two statements per row). The effect on each row is
        that of the single-item method (``mark_delivered`` …), version check included.
        """
        if not settlements:
            return
        now = ensure_aware(now, "now")
        if self._pg:
            self._settle_batches(settlements, now)
            return
        by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for st in settlements:
            row = {"item_id": st.item_id, "expected_version": st.version, "now": now}
            row.update(_SETTLE_DEFAULTS[st.kind])
            row.update(st.params)
            by_kind[st.kind].append(row)
        with self._db.session() as s:
            conn = s.connection()
            for kind, rows in by_kind.items():
                conn.execute(_settle_one_statement(kind), rows)

    def _settle_batches(self, settlements: Sequence[SettleRequest], now: datetime) -> None:
        """PostgreSQL: one ``UPDATE ... FROM unnest(arrays)`` per kind present, in one transaction
        (``_settle_batch_statement``): the parameters travel as one array per column. A batch of
        one kind (the common case: all delivered) is one statement, atomic on its own: it runs on
        an autocommit connection (one round trip instead of BEGIN, UPDATE, COMMIT)."""
        by_kind: dict[str, list[SettleRequest]] = defaultdict(list)
        for st in settlements:
            by_kind[st.kind].append(st)
        where = self._single_statements() if len(by_kind) == 1 else self._db.session()
        with where as s:
            conn = s if isinstance(s, Connection) else s.connection()
            for kind, batch in by_kind.items():
                stmt, names = _settle_batch_statement(kind)
                defaults = _SETTLE_DEFAULTS[kind]
                params: dict[str, Any] = {
                    "now": now,
                    "item_id": pg_array_literal([st.item_id for st in batch]),
                    "expected_version": pg_array_literal([st.version for st in batch]),
                }
                for name in names[2:]:
                    default = defaults[name]
                    column = [st.params.get(name, default) for st in batch]
                    if name in ("sent", "at"):
                        column = [None if v is None else ensure_aware(v, name) for v in column]
                    params[name] = pg_array_literal(column)
                conn.execute(stmt, params)

    @contextlib.contextmanager
    def _single_statements(self) -> Iterator[Session | Connection]:
        """Where statements that are atomic on their own run.

        PostgreSQL: an autocommit connection — one round trip per statement instead of BEGIN,
        statement, COMMIT (the worker settles every row: that is most of its database time).
        SQLite: a unit of work of ``Database.session`` (in-process writers take turns).
        """
        if not self._pg:
            with self._db.session() as s:
                yield s
            return
        with self._db.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def mark_delivered(
        self,
        item_id: int,
        *,
        version: int,
        sent_timestamp: datetime,
        status_code: int,
        graded: bool,
        now: datetime,
    ) -> SettleResult:
        """See ``sync.ports.OutboxStore.mark_delivered``."""
        sent = ensure_aware(sent_timestamp, "sent_timestamp")
        return self._settle("delivered", item_id, version, now, sent=sent, graded=graded, status_code=status_code)

    def mark_superseded(
        self, item_id: int, *, version: int, status_code: int | None, reason: str, now: datetime
    ) -> SettleResult:
        """See ``sync.ports.OutboxStore.mark_superseded``."""
        return self._settle("superseded", item_id, version, now, status_code=status_code, error=reason)

    def schedule_retry(
        self,
        item_id: int,
        *,
        version: int,
        next_attempt_at: datetime,
        status_code: int | None,
        error: str,
        now: datetime,
    ) -> SettleResult:
        """See ``sync.ports.OutboxStore.schedule_retry``."""
        at = ensure_aware(next_attempt_at, "next_attempt_at")
        return self._settle("retry", item_id, version, now, at=at, status_code=status_code, error=error)

    def mark_dead(
        self, item_id: int, *, version: int, status_code: int | None, error: str, now: datetime
    ) -> SettleResult:
        """See ``sync.ports.OutboxStore.mark_dead``."""
        return self._settle("dead", item_id, version, now, status_code=status_code, error=error)

    def release(self, item_id: int, *, version: int, not_before: datetime, now: datetime) -> SettleResult:
        """See ``sync.ports.OutboxStore.release``."""
        return self._settle("release", item_id, version, now, at=ensure_aware(not_before, "not_before"))

    # -- admin --------------------------------------------------------------------------------
    def set_line_item_url(self, *, platform_key: str, line_item_key: str, url: str) -> int:
        """See ``sync.ports.OutboxStore.set_line_item_url``."""
        with self._db.session() as s:
            done = s.execute(
                update(T)
                .where(T.c.platform_key == platform_key, T.c.line_item_key == line_item_key)
                .where(T.c.line_item_url.is_(None))
                .values(line_item_url=url)
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

    def status_counts(self) -> Mapping[str, Mapping[OutboxStatus, int]]:
        """See ``sync.ports.OutboxStore.status_counts``."""
        counts: dict[str, dict[OutboxStatus, int]] = defaultdict(dict)
        with self._db.session() as s:
            rows = s.execute(
                select(T.c.platform_key, T.c.status, func.count()).group_by(T.c.platform_key, T.c.status)
            ).all()
        for platform_key, status, n in rows:
            counts[platform_key][OutboxStatus(status)] = int(n)
        return dict(counts)

    def _requeue(self, where: Sequence[ColumnElement[bool]], now: datetime) -> int:
        now = ensure_aware(now, "now")
        with self._db.session() as s:
            done = s.execute(
                update(T)
                .where(*where)
                .values(
                    status=S.PENDING.value,
                    next_attempt_at=now,
                    lease_expires_at=None,
                    leased_by=None,
                    attempts=0,
                    last_error=None,
                    last_status_code=None,
                    updated_at=now,
                )
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

    def retry_dead(self, *, now: datetime, platform_key: str | None = None) -> int:
        """See ``sync.ports.OutboxStore.retry_dead``."""
        where = [T.c.status == S.DEAD.value]
        if platform_key is not None:
            where.append(T.c.platform_key == platform_key)
        return self._requeue(where, now)

    def resend(self, flt: ResendFilter, *, now: datetime) -> int:
        """See ``sync.ports.OutboxStore.resend``."""
        statuses = [s.value for s in flt.statuses if s not in (S.PENDING, S.IN_FLIGHT)]
        if not statuses:
            return 0
        where = [T.c.status.in_(statuses)]
        if flt.platform_key is not None:
            where.append(T.c.platform_key == flt.platform_key)
        if flt.line_item_key is not None:
            where.append(T.c.line_item_key == flt.line_item_key)
        if flt.user_id is not None:
            where.append(T.c.user_id == flt.user_id)
        return self._requeue(where, now)

    def get(self, item_id: int) -> OutboxItem | None:
        """See ``sync.ports.OutboxStore.get``."""
        with self._db.session() as s:
            row = s.execute(select(T).where(T.c.id == item_id)).first()
        return None if row is None else item_from_row(row)

    def list_items(
        self, *, platform_key: str | None = None, statuses: Sequence[OutboxStatus] | None = None
    ) -> list[OutboxItem]:
        """See ``sync.ports.OutboxStore.list_items`` (ordered by id)."""
        stmt = select(T).order_by(T.c.id)
        if platform_key is not None:
            stmt = stmt.where(T.c.platform_key == platform_key)
        if statuses is not None:
            stmt = stmt.where(T.c.status.in_([OutboxStatus(x).value for x in statuses]))
        with self._db.session() as s:
            rows = s.execute(stmt).all()
        return [item_from_row(r) for r in rows]

    def next_due_at(self) -> datetime | None:
        """Earliest instant something may become claimable (None: nothing queued)."""
        due_at = case((T.c.status == S.IN_FLIGHT.value, T.c.lease_expires_at), else_=T.c.next_attempt_at)
        with self._db.session() as s:
            value = s.execute(
                select(func.min(due_at)).where(T.c.status.in_([S.PENDING.value, S.IN_FLIGHT.value]))
            ).scalar_one_or_none()
        if value is None:
            return None
        if isinstance(value, str):  # SQLite returns min() of a CASE untyped
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # -- health -------------------------------------------------------------------------------
    def _latency_seconds(self) -> ColumnElement[Any]:
        if self._pg:
            return func.extract("epoch", T.c.delivered_at - T.c.outcome_at)
        return (func.julianday(T.c.delivered_at) - func.julianday(T.c.outcome_at)) * 86400.0

    def summary(self, *, now: datetime | None = None) -> list[PlatformSummary]:
        """Per-platform health in ONE grouped query (``sync status``, ``/metrics``).

        Returns:
            One ``PlatformSummary`` per platform key that has rows, ordered by key.
        """
        now = ensure_aware(now or self._clock(), "now")
        hour_ago = now - timedelta(hours=1)
        recent_delivered = and_(T.c.status == S.DELIVERED.value, T.c.delivered_at >= hour_ago)
        latency = self._latency_seconds()
        columns: list[Any] = [T.c.platform_key]
        columns += [func.sum(case((T.c.status == st.value, 1), else_=0)) for st in OutboxStatus]
        columns.append(func.sum(case((T.c.delivered_at >= hour_ago, 1), else_=0)))
        columns.append(func.min(case((T.c.status.in_([S.PENDING.value, S.IN_FLIGHT.value]), T.c.outcome_at))))
        columns += [func.sum(case((and_(recent_delivered, latency <= b), 1), else_=0)) for b in LATENCY_BUCKETS]
        columns.append(func.sum(case((recent_delivered, 1), else_=0)))
        columns.append(func.sum(case((recent_delivered, latency), else_=0.0)))
        with self._db.session() as s:
            rows = s.execute(select(*columns).group_by(T.c.platform_key).order_by(T.c.platform_key)).all()
        out: list[PlatformSummary] = []
        n_status = len(OutboxStatus)
        for row in rows:
            values = list(row)
            counts = {st: int(values[1 + i] or 0) for i, st in enumerate(OutboxStatus) if values[1 + i]}
            oldest = values[2 + n_status]
            if isinstance(oldest, str):
                oldest = datetime.fromisoformat(oldest)
            if oldest is not None:
                oldest = oldest.replace(tzinfo=UTC) if oldest.tzinfo is None else oldest.astimezone(UTC)
            buckets = tuple(int(v or 0) for v in values[3 + n_status : 3 + n_status + len(LATENCY_BUCKETS) + 1])
            out.append(
                PlatformSummary(
                    platform_key=values[0],
                    counts=counts,
                    delivered_last_hour=int(values[1 + n_status] or 0),
                    oldest_pending_at=oldest,
                    latency_buckets=buckets,
                    latency_sum_seconds=float(values[-1] or 0.0),
                )
            )
        return out


def outbox_rows_for(
    db: Database, *, platform_key: str, line_item_keys: Sequence[str], user_ids: Sequence[str]
) -> list[Row[Any]]:
    """The outbox rows of some learners on some line items of one platform (the class view's
    "what reached the gradebook"), one query; each row has the ``grade_outbox`` columns."""
    with db.session() as s:
        return list(
            s.execute(
                select(T).where(
                    T.c.platform_key == platform_key,
                    T.c.user_id.in_(list(user_ids)),
                    T.c.line_item_key.in_(list(line_item_keys)),
                )
            ).all()
        )
