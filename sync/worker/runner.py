"""The grade-sync worker: claim due outbox rows, deliver them concurrently, settle each once.

Shape of one drain (``run_once``):

1. claim a batch (lease) while the local backlog is small (the lease must not run out while an
   item waits locally, so the backlog stays ≤ ``max_backlog``);
2. dispatch from per-platform queues to a thread pool: at most ``per_platform_concurrency``
   requests per platform, at most ``global_concurrency`` overall, and only while the platform's
   circuit breaker allows — a down academy holds its own slots, never the others';
3. each item is settled exactly once, in a ``finally`` (delivered / superseded / retry / dead /
   released); an unexpected error becomes a retry. Settles are collected and written in batches
   by the dispatcher (``settle_batch_size``, at most ``settle_max_delay_seconds`` late; the row
   keeps its lease until then), all of them before ``run_once`` returns;
4. stop when nothing is due, nothing queued, nothing in flight (or when ``stop()`` is called:
   no new claims, queued items released, in-flight requests finish).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from queue import SimpleQueue
from typing import cast

from sync.ags import AgsClient, HttpAnswer
from sync.breaker import BreakerMode, Breakers
from sync.errors import (
    AgsHttpError,
    AgsTransportError,
    SyncError,
)
from sync.model import OutboxItem, next_score_timestamp
from sync.ports import OutboxStore, PlatformDirectory, PlatformEndpoints
from sync.retry import AttemptResult, DecisionKind, RetryDecision, decide
from sync.scores import score_payload, suppression_reason
from sync.worker.settlement import (
    RunStats,
    Settlement,
    WorkerConfig,
    _Action,
    _from_decision,
    _result_from_error,
    _settle_request,
    utc_now,
)

logger = logging.getLogger("sync.worker")


class Worker:
    """Delivers the grade outbox. One instance per process; any number of processes on PG."""

    def __init__(
        self,
        store: OutboxStore,
        platforms: PlatformDirectory,
        ags: AgsClient,
        *,
        config: WorkerConfig | None = None,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        stop_event: threading.Event | None = None,
        worker_id: str | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        self.config = config or WorkerConfig()
        self._store = store
        self._platforms = platforms
        self._ags = ags
        self._clock = clock
        # decide() draws from the rng only for a retry's jitter: the lock is taken then, not for
        # every delivered score (a lock all delivery threads contend for).
        self._rng = cast(random.Random, _LockedRandom(rng or random.Random()))  # noqa: S311 (jitter)
        self.stop_event = stop_event or threading.Event()
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.breakers = breakers or Breakers(self.config.breaker, clock)
        self._resolved: dict[tuple[str, str], str] = {}
        self._resolved_lock = threading.Lock()
        settle_many = getattr(store, "settle_many", None)
        self._settle_many: Callable[..., None] | None = (
            settle_many if callable(settle_many) and self.config.settle_batch_size > 1 else None
        )
        self._max_future_skew = timedelta(seconds=self.config.max_future_skew_seconds)
        self._pending: list[tuple[OutboxItem, _Action]] = []
        self._pending_since = 0.0
        self._pending_lock = threading.Lock()

    # -- public -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to stop: no new claims; in-flight requests finish; queue released."""
        self.stop_event.set()

    def run_once(self) -> RunStats:
        """Deliver everything due now; return when nothing is due, queued or in flight."""
        stats = RunStats()
        self._drain(stats)
        return stats

    def run_forever(self, poll_interval: float = 5.0) -> RunStats:
        """Drain, sleep ``poll_interval`` (or until stopped), repeat until ``stop()``."""
        total = RunStats()
        logger.info(
            "sync worker started", extra={"action": "worker_start", "worker": self.worker_id}
        )
        while not self.stop_event.is_set():
            total.merge(self.run_once())
            self.stop_event.wait(poll_interval)
        logger.info(
            "sync worker stopped", extra={"action": "worker_stop", "worker": self.worker_id}
        )
        return total

    # -- dispatcher -------------------------------------------------------------------------
    def _drain(self, stats: RunStats) -> None:
        cfg = self.config
        max_backlog = cfg.max_backlog or 2 * cfg.global_concurrency
        max_platform_backlog = cfg.max_platform_backlog or 2 * cfg.per_platform_concurrency
        queues: dict[str, deque[OutboxItem]] = defaultdict(deque)
        inflight: dict[str, int] = defaultdict(int)
        cond = threading.Condition()
        state = {"total": 0, "completions": 0}

        def on_done(platform_key: str) -> None:
            with cond:
                inflight[platform_key] -= 1
                state["total"] -= 1
                state["completions"] += 1
                cond.notify_all()

        def next_of(platform_key: str) -> OutboxItem | None:
            """The platform's next queued item for the thread that just finished one of its
            requests (the slot stays taken: no hand-off through the dispatcher), or None."""
            queue = queues.get(platform_key)
            if not queue or self.stop_event.is_set() or not self.breakers.allow(platform_key):
                return None
            try:
                item = queue.popleft()
            except IndexError:  # the dispatcher took the last one meanwhile
                self.breakers.cancel(platform_key)
                return None
            with cond:
                state["completions"] += 1
            return item

        def run(item: OutboxItem | None) -> None:
            while item is not None:
                platform_key = item.update.platform_key
                following = None
                try:
                    self._process(item, stats)
                    following = next_of(platform_key)
                finally:
                    if following is None:
                        on_done(platform_key)
                item = following

        # The delivery threads: started as the number in flight grows (at most global_concurrency),
        # each takes items from one C-level queue (no future or work-item object per score).
        work: SimpleQueue[OutboxItem | None] = SimpleQueue()
        threads: list[threading.Thread] = []

        def serve() -> None:
            while (item := work.get()) is not None:
                run(item)

        def submit(item: OutboxItem) -> None:
            work.put(item)
            if len(threads) < min(state["total"], cfg.global_concurrency):
                thread = threading.Thread(target=serve, name=f"cbsi-sync_{len(threads)}", daemon=True)
                thread.start()
                threads.append(thread)

        low_water = max_backlog // 2
        try:
            self._loop(
                submit, queues, inflight, cond, state, stats, max_backlog, low_water, max_platform_backlog
            )
        finally:
            for _ in threads:
                work.put(None)
            for thread in threads:  # in-flight requests finish (graceful stop)
                thread.join()
            self._flush(stats, force=True)

    def _loop(
        self,
        submit: Callable[[OutboxItem], None],
        queues: dict[str, deque[OutboxItem]],
        inflight: dict[str, int],
        cond: threading.Condition,
        state: dict[str, int],
        stats: RunStats,
        max_backlog: int,
        low_water: int,
        max_platform_backlog: int,
    ) -> None:
        cfg = self.config
        exhausted = False
        seen_completions = 0
        while True:
            if self.stop_event.is_set():
                self._release_all(queues, stats)
                break
            if self._flush(stats, force=False):
                exhausted = False  # settled rows (retries due now, releases) may be due again
            with cond:
                if state["completions"] != seen_completions:
                    seen_completions = state["completions"]
                    exhausted = False
            backlog = sum(len(q) for q in queues.values())
            # Claim in batches: refill when the local backlog fell to half, or when a platform
            # has a free slot and nothing queued (one claim statement per batch, not per row).
            starving = backlog < max_backlog and any(
                not q and inflight[k] < cfg.per_platform_concurrency for k, q in queues.items()
            )
            if not exhausted and (backlog <= low_water or starving):
                full = [k for k, q in queues.items() if len(q) >= max_platform_backlog]
                claimed = self._store.claim_due(
                    limit=min(cfg.batch_size, max_backlog - backlog),
                    lease_seconds=cfg.lease_seconds,
                    now=self._clock(),
                    worker_id=self.worker_id,
                    exclude_platforms=full,
                )
                if not claimed:
                    exhausted = True
                stats.add("claimed", len(claimed))
                for item in claimed:
                    queues[item.update.platform_key].append(item)
            for platform_key, queue in queues.items():
                while (
                    queue
                    and inflight[platform_key] < cfg.per_platform_concurrency
                    and state["total"] < cfg.global_concurrency
                ):
                    if not self.breakers.allow(platform_key):
                        mode = self.breakers.state(platform_key).mode
                        if mode is BreakerMode.OPEN:
                            self._release_queue(platform_key, queue, stats)
                        break  # half-open: wait for the probe's verdict
                    try:
                        item = queue.popleft()
                    except IndexError:  # a delivery thread took the last one meanwhile
                        self.breakers.cancel(platform_key)
                        break
                    with cond:
                        inflight[platform_key] += 1
                        state["total"] += 1
                    submit(item)
            backlog = sum(len(q) for q in queues.values())
            with cond:
                idle = exhausted and state["total"] == 0 and backlog == 0
                fresh = state["completions"] == seen_completions
                if not idle and fresh:
                    cond.wait(cfg.idle_wait_seconds)
            if idle and fresh:
                if self._flush(stats, force=True):
                    exhausted = False
                    continue
                break

    def _release_queue(self, platform_key: str, queue: deque[OutboxItem], stats: RunStats) -> None:
        not_before = self.breakers.not_before(platform_key)
        now = self._clock()
        while queue:
            try:
                item = queue.popleft()
            except IndexError:  # a delivery thread took the last one meanwhile
                break
            self._settle(item, _Action(kind=Settlement.RELEASED, at=not_before), now, stats)

    def _release_all(self, queues: dict[str, deque[OutboxItem]], stats: RunStats) -> None:
        now = self._clock()
        for queue in list(queues.values()):
            while queue:
                try:
                    item = queue.popleft()
                except IndexError:  # a delivery thread took the last one meanwhile
                    break
                self._settle(item, _Action(kind=Settlement.RELEASED, at=now), now, stats)

    # -- one item ---------------------------------------------------------------------------
    def _process(self, item: OutboxItem, stats: RunStats) -> None:
        action: _Action | None = None
        platform_key = item.update.platform_key
        called = False
        try:
            action, called = self._deliver(item, stats)
        except Exception as exc:  # settle no matter what; the policy decides about the rest
            logger.exception(
                "unexpected error delivering a score",
                extra={"action": "deliver_error", **item.log_context()},
            )
            decision = decide(
                AttemptResult(transport_error="internal", message=type(exc).__name__),
                attempts=item.attempts,
                now=self._clock(),
                rng=self._rng,
                policy=self.config.retry_policy,
            )
            action = _from_decision(decision, None, False)
        finally:
            if not called:
                self.breakers.cancel(platform_key)
            if action is None:  # not even the policy could decide (a BaseException)
                action = _Action(kind=Settlement.RETRY, message="internal error before delivery")
            self._settle(item, action, None, stats)  # batched: the flush reads the clock once

    def _deliver(self, item: OutboxItem, stats: RunStats) -> tuple[_Action, bool]:
        """Attempt delivery; return (action, whether a platform call was made)."""
        upd = item.update
        now = self._clock()
        try:
            platform = self._platforms.get_platform(upd.platform_key)
        except SyncError as exc:
            return _Action(kind=Settlement.DEAD, message=f"{exc.code}: {exc.message}"), False

        if not self.config.send_progress_after_grade:
            reason = suppression_reason(upd, grade_delivered=item.grade_delivered)
            if reason is not None:
                return _Action(kind=Settlement.SUPERSEDED, message=reason), False

        send_ts = next_score_timestamp(upd.outcome_at, item.last_sent_timestamp)
        if send_ts > now + self._max_future_skew:
            return _Action(kind=Settlement.RELEASED, at=send_ts), False

        result = self._attempt(item, platform, send_ts, stats, refreshed=False)
        decision = self._decide(item, result)
        if decision.kind is DecisionKind.REFRESH_TOKEN_AND_RETRY:
            stats.add("token_refreshes")
            try:
                self._ags.refresh_token(platform)
                result = self._attempt(item, platform, send_ts, stats, refreshed=True)
            except (AgsHttpError, AgsTransportError) as exc:
                result = _result_from_error(exc, refreshed=True)
            decision = self._decide(item, result)

        transient = decision.kind is DecisionKind.RETRY
        if transient:
            self.breakers.failure(upd.platform_key)
            if result.status_code in (429, 503) and result.retry_after and decision.retry_at:
                self.breakers.trip(upd.platform_key, decision.retry_at)
        else:
            self.breakers.success(upd.platform_key)
        return _from_decision(decision, send_ts, upd.is_grade), True

    def _decide(self, item: OutboxItem, result: AttemptResult) -> RetryDecision:
        return decide(
            result,
            attempts=item.attempts,
            now=self._clock(),
            rng=self._rng,
            policy=self.config.retry_policy,
        )

    def _attempt(
        self,
        item: OutboxItem,
        platform: PlatformEndpoints,
        send_ts: datetime,
        stats: RunStats,
        *,
        refreshed: bool,
    ) -> AttemptResult:
        try:
            url = self._line_item_url(item, platform)
            answer: HttpAnswer = self._ags.post_score(
                platform, url, score_payload(item.update, timestamp=send_ts)
            )
        except (AgsHttpError, AgsTransportError) as exc:
            return _result_from_error(exc, refreshed=refreshed)
        except SyncError as exc:  # unresolvable line item, invalid answers: permanent
            return AttemptResult(status_code=400, message=f"{exc.code}: {exc.message}")
        return AttemptResult(
            status_code=answer.status_code,
            retry_after=answer.retry_after,
            message=answer.message,
            token_refreshed=refreshed,
        )

    def _line_item_url(self, item: OutboxItem, platform: PlatformEndpoints) -> str:
        ref = item.update.line_item
        if ref.url:
            return ref.url
        key = (item.update.platform_key, item.update.line_item_key)
        with self._resolved_lock:
            cached = self._resolved.get(key)
        if cached:
            return cached
        url = self._ags.find_or_create_line_item(platform, ref)
        with self._resolved_lock:
            self._resolved[key] = url
        self._store.set_line_item_url(
            platform_key=item.update.platform_key,
            line_item_key=item.update.line_item_key,
            url=url,
        )
        return url

    def _settle(self, item: OutboxItem, action: _Action, now: datetime | None, stats: RunStats) -> None:
        """Settle ``item`` now, or queue it for the next batch (``now``: None reads the clock)."""
        if self._settle_many is not None:
            with self._pending_lock:
                if not self._pending:
                    self._pending_since = time.monotonic()
                self._pending.append((item, action))
            return
        if now is None:
            now = self._clock()
        try:
            self._settle_one(item, action, now)
        except Exception:  # the lease will expire and another claim retries the item
            logger.exception("could not settle an outbox item", extra={"action": "settle_error"})
            return
        stats.add(str(action.kind))
        self._log_settled(item, action, now)

    def _flush(self, stats: RunStats, *, force: bool) -> bool:
        """Write the collected settles (when the batch is full, old enough, or ``force``)."""
        if self._settle_many is None:
            return False
        cfg = self.config
        with self._pending_lock:
            if not self._pending:
                return False
            if (
                not force
                and len(self._pending) < cfg.settle_batch_size
                and time.monotonic() - self._pending_since < cfg.settle_max_delay_seconds
            ):
                return False
            batch, self._pending = self._pending, []
        now = self._clock()
        for first in range(0, len(batch), cfg.settle_batch_size):
            chunk = batch[first : first + cfg.settle_batch_size]
            try:
                self._settle_many([_settle_request(item, action, now) for item, action in chunk], now=now)
            except Exception:  # the leases will expire and another claim retries the items
                logger.exception(
                    "could not settle a batch of outbox items", extra={"action": "settle_error", "items": len(chunk)}
                )
                continue
            counts: dict[str, int] = defaultdict(int)
            for item, action in chunk:
                counts[str(action.kind)] += 1
                self._log_settled(item, action, now)
            for name, n in counts.items():
                stats.add(name, n)
        return True

    def _settle_one(self, item: OutboxItem, action: _Action, now: datetime) -> None:
        if action.kind is Settlement.DELIVERED:
            self._store.mark_delivered(
                item.id,
                version=item.version,
                sent_timestamp=action.sent_timestamp or now,
                status_code=action.status_code or 200,
                graded=action.graded,
                now=now,
            )
        elif action.kind is Settlement.SUPERSEDED:
            self._store.mark_superseded(
                item.id, version=item.version, status_code=action.status_code, reason=action.message, now=now
            )
        elif action.kind is Settlement.RETRY:
            self._store.schedule_retry(
                item.id,
                version=item.version,
                next_attempt_at=action.at or now,
                status_code=action.status_code,
                error=action.message,
                now=now,
            )
        elif action.kind is Settlement.DEAD:
            self._store.mark_dead(
                item.id, version=item.version, status_code=action.status_code, error=action.message, now=now
            )
        else:
            self._store.release(item.id, version=item.version, not_before=action.at or now, now=now)

    @staticmethod
    def _log_settled(item: OutboxItem, action: _Action, now: datetime) -> None:
        kind = action.kind
        if kind is Settlement.DELIVERED or kind is Settlement.RELEASED:
            if logger.isEnabledFor(logging.DEBUG):  # the common case: no per-score log record
                message = "score delivered" if kind is Settlement.DELIVERED else "item released"
                logger.debug(message, extra={"action": str(kind), **item.log_context()})
            return
        ctx = item.log_context()
        if kind is Settlement.SUPERSEDED:
            logger.info("score superseded", extra={"action": "superseded", "reason": action.message, **ctx})
        elif kind is Settlement.RETRY:
            logger.info(
                "score delivery will be retried",
                extra={
                    "action": "retry_scheduled",
                    "retry_at": (action.at or now).isoformat(),
                    "status_code": action.status_code,
                    "error": action.message,
                    **ctx,
                },
            )
        else:
            logger.warning(
                "score delivery failed permanently",
                extra={"action": "dead", "status_code": action.status_code, "error": action.message, **ctx},
            )


class _LockedRandom:
    """A random source shared by the delivery threads: each draw under a lock (only retries draw)."""

    __slots__ = ("_lock", "_rng")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()

    def uniform(self, a: float, b: float) -> float:
        with self._lock:
            return self._rng.uniform(a, b)

    def random(self) -> float:
        with self._lock:
            return self._rng.random()


def install_stop_signals(worker: Worker, signals: tuple[int, ...] | None = None) -> None:
    """Make SIGTERM/SIGINT stop ``worker`` gracefully (call from the CLI's main thread).

    In-flight requests finish and are settled; queued items are released; no new claims.
    """
    chosen = signals or (signal.SIGTERM, signal.SIGINT)

    def handler(signum: int, _frame: object) -> None:
        logger.info("stop requested", extra={"action": "stop_signal", "signal": signum})
        worker.stop()

    for sig in chosen:
        signal.signal(sig, handler)
