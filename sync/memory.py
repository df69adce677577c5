"""Thread-safe in-memory implementations of the ports (tests and the benchmark).

``InMemoryOutboxStore`` implements the exact semantics documented on ``sync.ports.OutboxStore``
(coalescing, versions, leases); the SQL store must behave the same — one contract test suite
(``tests/sync/test_memory_store.py``) can run against both.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta

from sync.errors import PlatformNotFoundError
from sync.model import OutboxItem, OutboxStatus, ScoreUpdate, ensure_aware
from sync.ports import (
    CachedToken,
    EnqueueResult,
    PlatformEndpoints,
    ResendFilter,
    SettleRequest,
    SettleResult,
)


class InMemoryOutboxStore:
    """``OutboxStore`` in a dict, with a heap of due times (O(log n) claims)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[int, OutboxItem] = {}
        self._by_key: dict[tuple[str, str, str], int] = {}
        self._ids = itertools.count(1)
        self._heap: list[tuple[datetime, int, int, int]] = []  # (due, seq, id, generation)
        self._gen: dict[int, int] = {}
        self._seq = itertools.count()

    # -- internal helpers (lock held) -------------------------------------------------------
    def _schedule(self, item: OutboxItem, due: datetime) -> None:
        gen = self._gen.get(item.id, 0) + 1
        self._gen[item.id] = gen
        heapq.heappush(self._heap, (due, next(self._seq), item.id, gen))

    def _put(self, item: OutboxItem) -> None:
        self._items[item.id] = item
        if item.status is OutboxStatus.PENDING:
            self._schedule(item, item.next_attempt_at)
        elif item.status is OutboxStatus.IN_FLIGHT and item.lease_expires_at is not None:
            self._schedule(item, item.lease_expires_at)
        else:
            self._gen[item.id] = self._gen.get(item.id, 0) + 1  # drop heap entries

    def _requeue(self, item: OutboxItem, now: datetime, *, reset_attempts: bool) -> OutboxItem:
        return item.evolve(
            status=OutboxStatus.PENDING,
            next_attempt_at=now,
            lease_expires_at=None,
            attempts=0 if reset_attempts else item.attempts,
            updated_at=now,
        )

    # -- OutboxStore ------------------------------------------------------------------------
    def enqueue(self, update: ScoreUpdate, *, now: datetime) -> EnqueueResult:
        """See ``OutboxStore.enqueue``."""
        now = ensure_aware(now, "now")
        with self._lock:
            existing_id = self._by_key.get(update.key)
            if existing_id is None:
                item = OutboxItem(
                    id=next(self._ids),
                    update=update,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
                self._by_key[update.key] = item.id
                self._put(item)
                return EnqueueResult.INSERTED
            old = self._items[existing_id]
            if update.outcome_at <= old.update.outcome_at:
                return EnqueueResult.STALE
            if update.line_item.url is None and old.update.line_item.url is not None:
                update = dataclasses.replace(
                    update,
                    line_item=dataclasses.replace(update.line_item, url=old.update.line_item.url),
                )
            keep_flight = old.status is OutboxStatus.IN_FLIGHT
            new = old.evolve(
                update=update,
                version=old.version + 1,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                last_status_code=None,
                status=OutboxStatus.IN_FLIGHT if keep_flight else OutboxStatus.PENDING,
                updated_at=now,
            )
            self._put(new)
            return EnqueueResult.COALESCED

    def claim_due(
        self,
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        worker_id: str,
        exclude_platforms: Collection[str] = (),
    ) -> list[OutboxItem]:
        """See ``OutboxStore.claim_due``."""
        now = ensure_aware(now, "now")
        lease = now + timedelta(seconds=lease_seconds)
        excluded = frozenset(exclude_platforms)
        claimed: list[OutboxItem] = []
        skipped: list[tuple[datetime, int, int, int]] = []
        with self._lock:
            while self._heap and len(claimed) < limit and self._heap[0][0] <= now:
                entry = heapq.heappop(self._heap)
                _due, _seq, item_id, gen = entry
                if self._gen.get(item_id) != gen:
                    continue
                item = self._items[item_id]
                if item.update.platform_key in excluded:
                    skipped.append(entry)
                    continue
                due = (item.status is OutboxStatus.PENDING and item.next_attempt_at <= now) or (
                    item.status is OutboxStatus.IN_FLIGHT
                    and item.lease_expires_at is not None
                    and item.lease_expires_at <= now
                )
                if not due:
                    continue
                item = item.evolve(
                    status=OutboxStatus.IN_FLIGHT, lease_expires_at=lease, updated_at=now
                )
                self._put(item)
                claimed.append(item)
            for entry in skipped:
                heapq.heappush(self._heap, entry)
        return claimed

    def _settle(
        self,
        item_id: int,
        version: int,
        now: datetime,
        *,
        current: Callable[[OutboxItem], dict[str, object]],
        always: Callable[[OutboxItem], dict[str, object]] | None = None,
    ) -> SettleResult:
        now = ensure_aware(now, "now")
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                return SettleResult(applied=False)
            if always is not None:
                item = dataclasses.replace(item, **always(item))  # type: ignore[arg-type]
            if item.version == version and item.status is OutboxStatus.IN_FLIGHT:
                item = item.evolve(lease_expires_at=None, updated_at=now, **current(item))
                self._put(item)
                return SettleResult(applied=True)
            if item.status is OutboxStatus.IN_FLIGHT:
                item = self._requeue(item, now, reset_attempts=False)
            self._put(item)
            return SettleResult(applied=False)

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
        """See ``OutboxStore.mark_delivered``."""
        sent = ensure_aware(sent_timestamp)
        return self._settle(
            item_id,
            version,
            now,
            always=lambda it: {
                "last_sent_timestamp": sent
                if it.last_sent_timestamp is None
                else max(it.last_sent_timestamp, sent),
                "delivered_at": now,
                "grade_delivered": it.grade_delivered or graded,
            },
            current=lambda it: {
                "status": OutboxStatus.DELIVERED,
                "last_status_code": status_code,
                "last_error": None,
            },
        )

    def mark_superseded(
        self, item_id: int, *, version: int, status_code: int | None, reason: str, now: datetime
    ) -> SettleResult:
        """See ``OutboxStore.mark_superseded``."""
        return self._settle(
            item_id,
            version,
            now,
            current=lambda it: {
                "status": OutboxStatus.SUPERSEDED,
                "last_status_code": status_code,
                "last_error": reason,
            },
        )

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
        """See ``OutboxStore.schedule_retry``."""
        return self._settle(
            item_id,
            version,
            now,
            current=lambda it: {
                "status": OutboxStatus.PENDING,
                "attempts": it.attempts + 1,
                "next_attempt_at": ensure_aware(next_attempt_at),
                "last_status_code": status_code,
                "last_error": error,
            },
        )

    def mark_dead(
        self, item_id: int, *, version: int, status_code: int | None, error: str, now: datetime
    ) -> SettleResult:
        """See ``OutboxStore.mark_dead``."""
        return self._settle(
            item_id,
            version,
            now,
            current=lambda it: {
                "status": OutboxStatus.DEAD,
                "attempts": it.attempts + 1,
                "last_status_code": status_code,
                "last_error": error,
            },
        )

    def release(
        self, item_id: int, *, version: int, not_before: datetime, now: datetime
    ) -> SettleResult:
        """See ``OutboxStore.release``."""
        return self._settle(
            item_id,
            version,
            now,
            current=lambda it: {
                "status": OutboxStatus.PENDING,
                "next_attempt_at": ensure_aware(not_before),
            },
        )

    def settle_many(self, settlements: Sequence[SettleRequest], *, now: datetime) -> None:
        """See ``OutboxStore.settle_many`` (each through its single-item method)."""
        for st in settlements:
            p = st.params
            if st.kind == "delivered":
                self.mark_delivered(
                    st.item_id,
                    version=st.version,
                    sent_timestamp=p["sent"],
                    status_code=p["status_code"],
                    graded=p["graded"],
                    now=now,
                )
            elif st.kind == "superseded":
                self.mark_superseded(
                    st.item_id, version=st.version, status_code=p["status_code"], reason=p["error"], now=now
                )
            elif st.kind == "retry":
                self.schedule_retry(
                    st.item_id,
                    version=st.version,
                    next_attempt_at=p["at"],
                    status_code=p["status_code"],
                    error=p["error"],
                    now=now,
                )
            elif st.kind == "dead":
                self.mark_dead(st.item_id, version=st.version, status_code=p["status_code"], error=p["error"], now=now)
            elif st.kind == "release":
                self.release(st.item_id, version=st.version, not_before=p["at"], now=now)
            else:
                raise ValueError(f"unknown settle kind {st.kind!r}")

    def set_line_item_url(self, *, platform_key: str, line_item_key: str, url: str) -> int:
        """See ``OutboxStore.set_line_item_url``."""
        changed = 0
        with self._lock:
            for item_id, item in list(self._items.items()):
                upd = item.update
                if (
                    upd.platform_key == platform_key
                    and upd.line_item_key == line_item_key
                    and upd.line_item.url is None
                ):
                    new_upd = dataclasses.replace(
                        upd, line_item=dataclasses.replace(upd.line_item, url=url)
                    )
                    self._items[item_id] = dataclasses.replace(item, update=new_upd)
                    changed += 1
        return changed

    def status_counts(self) -> Mapping[str, Mapping[OutboxStatus, int]]:
        """See ``OutboxStore.status_counts``."""
        counts: dict[str, dict[OutboxStatus, int]] = defaultdict(dict)
        with self._lock:
            for item in self._items.values():
                per = counts[item.update.platform_key]
                per[item.status] = per.get(item.status, 0) + 1
        return dict(counts)

    def _requeue_where(self, predicate: object, now: datetime) -> int:
        now = ensure_aware(now, "now")
        count = 0
        with self._lock:
            for item in list(self._items.values()):
                if predicate(item):  # type: ignore[operator]
                    new = self._requeue(item, now, reset_attempts=True)
                    self._put(dataclasses.replace(new, last_error=None, last_status_code=None))
                    count += 1
        return count

    def retry_dead(self, *, now: datetime, platform_key: str | None = None) -> int:
        """See ``OutboxStore.retry_dead``."""
        return self._requeue_where(
            lambda it: (
                it.status is OutboxStatus.DEAD
                and (platform_key is None or it.update.platform_key == platform_key)
            ),
            now,
        )

    def resend(self, flt: ResendFilter, *, now: datetime) -> int:
        """See ``OutboxStore.resend``."""
        return self._requeue_where(
            lambda it: (
                it.status in flt.statuses
                and it.status is not OutboxStatus.PENDING
                and it.status is not OutboxStatus.IN_FLIGHT
                and (flt.platform_key is None or it.update.platform_key == flt.platform_key)
                and (flt.line_item_key is None or it.update.line_item_key == flt.line_item_key)
                and (flt.user_id is None or it.update.user_id == flt.user_id)
            ),
            now,
        )

    def get(self, item_id: int) -> OutboxItem | None:
        """See ``OutboxStore.get``."""
        with self._lock:
            return self._items.get(item_id)

    def list_items(
        self, *, platform_key: str | None = None, statuses: Sequence[OutboxStatus] | None = None
    ) -> list[OutboxItem]:
        """See ``OutboxStore.list_items``."""
        with self._lock:
            items = list(self._items.values())
        return [
            it
            for it in items
            if (platform_key is None or it.update.platform_key == platform_key)
            and (statuses is None or it.status in statuses)
        ]

    def next_due_at(self) -> datetime | None:
        """Earliest instant something may become claimable (fake-only helper for loops)."""
        with self._lock:
            while self._heap and self._gen.get(self._heap[0][2]) != self._heap[0][3]:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None


class InMemoryPlatformDirectory:
    """``PlatformDirectory`` over a dict."""

    def __init__(self, platforms: Mapping[str, PlatformEndpoints] | None = None) -> None:
        self._platforms = dict(platforms or {})

    def add(self, platform: PlatformEndpoints) -> None:
        """Register a platform."""
        self._platforms[platform.key] = platform

    def get_platform(self, platform_key: str) -> PlatformEndpoints:
        """See ``PlatformDirectory.get_platform``."""
        try:
            return self._platforms[platform_key]
        except KeyError as exc:
            raise PlatformNotFoundError(
                key="platform_registered_under", params={"platform_key": repr(platform_key)}
            ) from exc


class InMemoryTokenCache:
    """``TokenCache`` in a dict (per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], CachedToken] = {}

    def get(self, key: tuple[str, str, str]) -> CachedToken | None:
        """See ``TokenCache.get``."""
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: tuple[str, str, str], token: CachedToken) -> None:
        """See ``TokenCache.put``."""
        with self._lock:
            self._tokens[key] = token

    def invalidate(self, key: tuple[str, str, str]) -> None:
        """See ``TokenCache.invalidate``."""
        with self._lock:
            self._tokens.pop(key, None)
