"""The grade-sync worker's tuning and outcomes: ``WorkerConfig``, how an item is settled
(``Settlement``, the internal ``_Action``), the run counters and the settle requests."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sync.breaker import BreakerConfig
from sync.errors import AgsHttpError, AgsTransportError
from sync.model import OutboxItem
from sync.ports import SettleRequest
from sync.retry import AttemptResult, DecisionKind, RetryDecision, RetryPolicy


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class WorkerConfig:
    """Worker tuning (``[sync]`` section of the config file).

    Attributes:
        batch_size: rows per claim.
        lease_seconds: lease on claimed rows; must exceed queueing + request time.
        per_platform_concurrency: simultaneous requests to one platform.
        global_concurrency: simultaneous requests overall (thread pool size).
        max_backlog: claimed-but-not-started rows kept locally (default 2 × global).
        max_platform_backlog: queued rows per platform before the worker stops claiming that
            platform's rows (default 2 × per-platform concurrency).
        retry_policy: backoff parameters.
        breaker: circuit-breaker thresholds.
        max_future_skew_seconds: a Score timestamp may lie this far in the future; beyond, the
            item waits (happens when outcomes change faster than once a second).
        send_progress_after_grade: send non-final updates even after a grade was delivered
            (False: suppress them, Moodle would clear the grade — see ``sync.scores``).
        idle_wait_seconds: dispatcher wait for completions.
        settle_batch_size: settles written together (``OutboxStore.settle_many``: one statement
            per kind per batch instead of one or two per row); 1 settles every item at once.
        settle_max_delay_seconds: longest a finished item waits for its batch to be written
            (the row stays leased meanwhile: nothing else sends it).
    """

    batch_size: int = 200
    lease_seconds: float = 120.0
    per_platform_concurrency: int = 8
    global_concurrency: int = 160  # 19 platforms x 8 ≈ 152 (bench: 40k scores in ~33 s)
    max_backlog: int | None = None
    max_platform_backlog: int | None = None
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    max_future_skew_seconds: float = 0.0
    send_progress_after_grade: bool = False
    idle_wait_seconds: float = 0.05
    settle_batch_size: int = 200
    settle_max_delay_seconds: float = 0.2


class Settlement(enum.StrEnum):
    """How an item was settled."""

    DELIVERED = "delivered"
    SUPERSEDED = "superseded"
    RETRY = "retry"
    DEAD = "dead"
    RELEASED = "released"


@dataclass
class RunStats:
    """Counters of one ``run_once``/``run_forever`` (thread-safe via ``add``)."""

    claimed: int = 0
    delivered: int = 0
    superseded: int = 0
    retry: int = 0
    dead: int = 0
    released: int = 0
    token_refreshes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        """Increment a counter."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def merge(self, other: RunStats) -> None:
        """Add another run's counters."""
        for name in (
            "claimed",
            "delivered",
            "superseded",
            "retry",
            "dead",
            "released",
            "token_refreshes",
        ):
            self.add(name, getattr(other, name))


@dataclass(frozen=True, kw_only=True)
class _Action:
    kind: Settlement
    status_code: int | None = None
    message: str = ""
    at: datetime | None = None  # retry_at / not_before
    sent_timestamp: datetime | None = None
    graded: bool = False


def _settle_request(item: OutboxItem, action: _Action, now: datetime) -> SettleRequest:
    """The ``OutboxStore.settle_many`` entry of one settled item (same values as ``_settle_one``)."""
    kind = action.kind
    params: dict[str, object]
    if kind is Settlement.DELIVERED:
        params = {"sent": action.sent_timestamp or now, "graded": action.graded}
        params["status_code"] = action.status_code or 200
        name = "delivered"
    elif kind is Settlement.RELEASED:
        params = {"at": action.at or now}
        name = "release"
    else:
        params = {"status_code": action.status_code, "error": action.message}
        if kind is Settlement.RETRY:
            params["at"] = action.at or now
        name = str(kind)
    return SettleRequest(kind=name, item_id=item.id, version=item.version, params=params)


def _result_from_error(exc: AgsHttpError | AgsTransportError, *, refreshed: bool) -> AttemptResult:
    if isinstance(exc, AgsHttpError):
        return AttemptResult(
            status_code=exc.status_code,
            retry_after=exc.retry_after,
            message=exc.message,
            phase=exc.phase,
            token_refreshed=refreshed,
        )
    return AttemptResult(transport_error=exc.kind, message=exc.message, token_refreshed=refreshed)


_SETTLEMENT_OF = {
    DecisionKind.DELIVERED: Settlement.DELIVERED,
    DecisionKind.SUPERSEDED: Settlement.SUPERSEDED,
    DecisionKind.RETRY: Settlement.RETRY,
    DecisionKind.DEAD: Settlement.DEAD,
    DecisionKind.REFRESH_TOKEN_AND_RETRY: Settlement.DEAD,  # refresh already used
}


def _from_decision(decision: RetryDecision, send_ts: datetime | None, graded: bool) -> _Action:
    kind = _SETTLEMENT_OF[decision.kind]
    return _Action(
        kind=kind,
        status_code=decision.status_code,
        message=decision.message,
        at=decision.retry_at,
        sent_timestamp=send_ts,
        graded=graded,
    )
