"""The LRS forwarder: copies each academy's statements to the academy's own LRS, in stored order.

Runs beside the grade worker in ``cbsi-connect sync run`` (its own thread, same process). One pass
(:meth:`Forwarder.run_once`) serves every academy whose forwarding is ``on`` and due:

1. **claim** the academy's ``lrs_forwarding`` row with a short lease (``SELECT … FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, so two workers never serve one academy at once; on SQLite ``sync run``
   holds the single-worker lock). The lease is written and committed at once: no lock is held
   while the academy's LRS answers, and ingest is never blocked;
2. send the statements an operator queued again (dead letters in ``retry``), each one alone;
3. read the statements after the cursor (``lrs_statements.seq``, the stored order) that were
   stored at least ``settle_seconds`` ago (a PostgreSQL insert still committing holds a smaller
   seq than a visible one; the settle window lets it land before the cursor passes it), up to
   ``batch_size`` statements or ``max_batch_bytes``, and POST them as one array with the
   academy's ``X-Experience-API-Version`` and Basic credentials. Statements whose attachments the
   store keeps go as ``multipart/mixed`` with those attachments (a batch with attachments is one
   multipart request);
4. **settle** in one transaction: advance the cursor past the batch (compare-and-set on the old
   cursor: a worker whose lease ran out never moves it back), record the dead letters, the last
   success and clear the lease. A crash between the POST and this commit resends the batch: the
   statement ids make that harmless (an LRS stores a same-content resend once).

Answers: 2xx → delivered. 5xx, 408, 425, 429, timeouts and connection errors → retried later with
the grade worker's backoff (``sync.retry.decide``, ``Retry-After`` honoured) and counted by a
per-academy circuit breaker (``sync.breaker``). 400/403/409/413/422 (any other 4xx) for a batch →
the batch is split in halves until the refused statements are alone: a single statement refused
with 409 is already stored there (delivered); otherwise it becomes a dead letter with the LRS's
own words. 401, 404 and 405, a refused address, or a batch in which every statement is refused
with 403 → the academy's forwarding is **paused** (credentials or endpoint wrong): no dead letters.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lti_tool.lrs import forward_store as fstore
from lti_tool.lrs import store as lrs_store
from lti_tool.lrs.forward_store import PAUSED
from lti_tool.lrs.identity import learner_tenant
from lti_tool.lrs.multipart import build_multipart
from lti_tool.outbound import AddressRefused, OutboundClient, OutboundError, RawAnswer
from lti_tool.storage import Database
from lti_tool.storage.models import utcnow
from sync.breaker import BreakerConfig, Breakers
from sync.retry import AttemptResult, RetryPolicy, decide, sanitize_message

if TYPE_CHECKING:
    from lti_tool.services import Services

logger = logging.getLogger("lrs.forward")

#: Statuses that say "this endpoint or these credentials are wrong", whatever the statements.
PAUSE_STATUSES = frozenset({401, 404, 405})
#: Statuses worth another try later (the rest of 4xx is an answer about the statements).
TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, kw_only=True)
class ForwarderConfig:
    """Limits of the forwarder (from ``[forwarding]`` and ``[sync]`` settings).

    Attributes:
        batch_size: statements per POST at most.
        max_batch_bytes: bytes of statement JSON per POST at most (one bigger statement goes alone).
        settle_seconds: statements younger than this are left for the next pass (see module doc).
        lease_seconds: how long a claim keeps other workers off an academy.
        max_batches_per_pass: batches one academy may send before the others get their turn.
        retry: backoff of transient failures (never dead: the backlog waits for the LRS).
        breaker: per-academy circuit breaker.
        message_limit: characters of the LRS's answer kept with a dead letter or an error.
    """

    batch_size: int = 50
    max_batch_bytes: int = 1_000_000
    settle_seconds: float = 10.0
    lease_seconds: float = 300.0
    max_batches_per_pass: int = 20
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=2**31))
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    message_limit: int = 500


@dataclass
class ForwardStats:
    """What one pass did."""

    batches: int = 0
    delivered: int = 0
    dead: int = 0
    retried: int = 0
    paused: int = 0
    requests: int = 0

    def merge(self, other: ForwardStats) -> None:
        """Add ``other``'s counts."""
        for name in ("batches", "delivered", "dead", "retried", "paused", "requests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Item:
    seq: int
    statement_id: str
    payload: str
    attachment_hashes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class _Target:
    platform_id: int
    endpoint: str
    version: str
    authorization: str
    cursor: int
    attempts: int
    proven: bool = False


@dataclass(frozen=True, kw_only=True)
class _Answer:
    status: int | None
    transport: str | None = None
    message: str = ""
    retry_after: str | None = None


@dataclass
class _Outcome:
    """The result of sending some items: delivered seqs, dead letters, or a stop (retry/pause)."""

    delivered: list[int] = field(default_factory=list)
    dead: list[tuple[_Item, int | None, str]] = field(default_factory=list)
    forbidden: list[tuple[_Item, str]] = field(default_factory=list)
    retry: _Answer | None = None
    pause: _Answer | None = None

    def add(self, other: _Outcome) -> None:
        self.delivered += other.delivered
        self.dead += other.dead
        self.forbidden += other.forbidden
        self.retry = self.retry or other.retry
        self.pause = self.pause or other.pause


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)


def basic_authorization(key: str, secret: str) -> str:
    """The ``Authorization`` header value of Basic credentials."""
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


class Forwarder:
    """Forwards every academy's statements. One per worker process; any number of processes on PG."""

    def __init__(
        self,
        db: Database,
        client: OutboundClient,
        *,
        config: ForwarderConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        stop_event: threading.Event | None = None,
        breakers: Breakers | None = None,
        observe: Callable[[str, int, str, float], None] | None = None,
    ) -> None:
        self.config = config or ForwarderConfig()
        self._db = db
        self._client = client
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not crypto)
        self.worker_id = worker_id or f"forward-{uuid.uuid4().hex[:8]}"
        self.stop_event = stop_event or threading.Event()
        self.breakers = breakers or Breakers(self.config.breaker, clock)
        self._observe = observe

    # -- public -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Finish the request in flight, settle it, then stop."""
        self.stop_event.set()

    def run_once(self) -> ForwardStats:
        """One pass over every due academy (each sends up to ``max_batches_per_pass`` batches)."""
        stats = ForwardStats()
        for platform_id in self._due():
            if self.stop_event.is_set():
                break
            try:
                self._serve(platform_id, stats)
            except Exception:  # one academy's surprise must not stop the others
                logger.exception(
                    "LRS forwarding pass failed", extra={"action": "lrs_forward_error", "platform": str(platform_id)}
                )
        return stats

    def run_forever(self, poll_interval: float = 2.0) -> ForwardStats:
        """Passes until :meth:`stop`; sleeps ``poll_interval`` when a pass sent nothing."""
        total = ForwardStats()
        logger.info("LRS forwarder started", extra={"action": "lrs_forward_start", "worker": self.worker_id})
        while not self.stop_event.is_set():
            stats = self.run_once()
            total.merge(stats)
            if not stats.batches and not stats.retried:
                self.stop_event.wait(poll_interval)
        logger.info("LRS forwarder stopped", extra={"action": "lrs_forward_stop", "worker": self.worker_id})
        return total

    # -- claim and settle -------------------------------------------------------------------
    def _due(self) -> list[int]:
        with self._db.session() as s:
            return fstore.due(s, self._clock())

    def _claim(self, platform_id: int) -> _Target | None:
        """Take the academy for one lease (committed at once), or None when it is not due or taken."""
        now = self._clock()
        until = now + timedelta(seconds=self.config.lease_seconds)
        with self._db.session() as s:
            row = fstore.claim(s, platform_id, self.worker_id, now, until)
            if row is None:
                return None
            return _Target(
                platform_id=platform_id, endpoint=row.endpoint, version=row.xapi_version,
                authorization=basic_authorization(row.auth_key, row.auth_secret), cursor=row.cursor_seq,
                attempts=row.attempts, proven=row.last_success_at is not None,
            )  # fmt: skip

    def _release(self, target: _Target, **values: object) -> None:
        with self._db.session() as s:
            fstore.release(s, target.platform_id, self.worker_id, self._clock(), **values)

    # -- one academy ------------------------------------------------------------------------
    def _serve(self, platform_id: int, stats: ForwardStats) -> None:
        target = self._claim(platform_id)
        if target is None:
            return
        try:
            if not self._redeliver(target, stats):
                return
            for _ in range(self.config.max_batches_per_pass):
                if self.stop_event.is_set():
                    break
                items = self._read_batch(target)
                if not items:
                    break
                outcome = self._send(target, items, stats)
                stats.batches += 1
                target = self._settle_batch(target, items, outcome, stats)
                if target is None:
                    return
        except BaseException:
            self._release(target)
            raise
        self._release(target)

    def _read_batch(self, target: _Target) -> list[_Item]:
        cfg = self.config
        horizon = self._clock() - timedelta(seconds=cfg.settle_seconds)
        with self._db.session() as s:
            rows = lrs_store.statements_after(s, learner_tenant(target.platform_id), target.cursor, cfg.batch_size)
        items: list[_Item] = []
        size = 0
        for seq, sid, payload, hashes, stored in rows:
            if stored > horizon:
                break  # too young: a smaller seq may still be committing (see module doc)
            size += len(payload)
            if items and size > cfg.max_batch_bytes:
                break
            items.append(_Item(seq, sid, payload, tuple(json.loads(hashes)) if hashes else ()))
        return items

    def _settle_batch(
        self, target: _Target, items: Sequence[_Item], outcome: _Outcome, stats: ForwardStats
    ) -> _Target | None:
        """Record one batch's outcome; the target to go on with, or None to stop serving this academy."""
        now = self._clock()
        pid = target.platform_id
        if outcome.pause is not None:
            self._pause(target, outcome.pause, stats)
            return None
        if outcome.retry is not None:
            self._schedule_retry(target, outcome.retry, stats)
            return None
        new_cursor = items[-1].seq
        with self._db.session() as s:
            moved = fstore.advance(
                s, pid, self.worker_id, old_cursor=target.cursor, new_cursor=new_cursor,
                delivered=len(outcome.delivered), now=now,
            )  # fmt: skip
            if not moved:
                logger.warning(
                    "LRS forwarding lease lost; batch left to the worker that holds it",
                    extra={"action": "lrs_forward_lease_lost", "platform": str(pid)},
                )
                return None
            fresh = fstore.add_dead(
                s, pid, [(it.seq, it.statement_id, code, msg) for it, code, msg in outcome.dead], now
            )
        for _seq, sid, code, message in fresh:
            logger.warning(
                "statement refused by the academy LRS",
                extra={
                    "action": "lrs_forward_dead", "platform": str(pid), "statement": sid, "status_code": code,
                    "error": message,
                },
            )  # fmt: skip
        stats.delivered += len(outcome.delivered)
        stats.dead += len(outcome.dead)
        self._count(pid, "delivered", len(outcome.delivered))
        self._count(pid, "dead", len(outcome.dead))
        logger.info(
            "statements forwarded",
            extra={
                "action": "lrs_forwarded", "platform": str(pid), "delivered": len(outcome.delivered),
                "dead": len(outcome.dead), "cursor": new_cursor,
            },
        )  # fmt: skip
        return _Target(
            platform_id=pid, endpoint=target.endpoint, version=target.version,
            authorization=target.authorization, cursor=new_cursor, attempts=0,
            proven=target.proven or bool(outcome.delivered),
        )  # fmt: skip

    def _pause(self, target: _Target, answer: _Answer, stats: ForwardStats) -> None:
        message = answer.message
        self._release(target, state=PAUSED, last_status_code=answer.status, last_error=message)
        stats.paused += 1
        self._count(target.platform_id, "paused", 1)
        logger.warning(
            "LRS forwarding paused: the academy LRS refuses this endpoint or these credentials",
            extra={
                "action": "lrs_forward_paused", "platform": str(target.platform_id), "status_code": answer.status,
                "error": message,
            },
        )  # fmt: skip

    def _schedule_retry(self, target: _Target, answer: _Answer, stats: ForwardStats) -> None:
        now = self._clock()
        if answer.status is None and answer.transport == "breaker":
            at, message = self.breakers.not_before(self._key(target)), answer.message
        else:
            decision = decide(
                AttemptResult(
                    status_code=answer.status, transport_error=answer.transport, retry_after=answer.retry_after,
                    message=answer.message,
                ),
                attempts=target.attempts, now=now, rng=self._rng, policy=self.config.retry,
            )  # fmt: skip
            at, message = decision.retry_at or now, decision.message
        self._release(
            target, attempts=target.attempts + 1, next_attempt_at=at, last_status_code=answer.status,
            last_error=message,
        )  # fmt: skip
        stats.retried += 1
        self._count(target.platform_id, "retry", 1)
        logger.info(
            "LRS forwarding will be retried",
            extra={
                "action": "lrs_forward_retry", "platform": str(target.platform_id), "retry_at": at.isoformat(),
                "status_code": answer.status, "error": message,
            },
        )  # fmt: skip

    # -- dead letters queued again ----------------------------------------------------------
    def _redeliver(self, target: _Target, stats: ForwardStats) -> bool:
        """Send the academy's ``retry`` dead letters one by one; False when the academy must wait."""
        pid = target.platform_id
        tenant = learner_tenant(pid)
        with self._db.session() as s:
            queued = fstore.queued_again(s, pid, self.config.batch_size)
            found = lrs_store.statements_by_seq(s, tenant, [seq for _, seq in queued])
        for dead_id, seq in queued:
            if self.stop_event.is_set():
                return False
            now = self._clock()
            st = found.get(seq)
            if st is None:  # the statement was erased meanwhile: nothing left to send
                with self._db.session() as s:
                    fstore.forget_dead(s, dead_id)
                continue
            item = _Item(seq, st.statement_id, st.payload, tuple(json.loads(st.attachment_hashes or "[]")))
            outcome = self._send(target, [item], stats)
            if outcome.pause is not None:
                self._pause(target, outcome.pause, stats)
                return False
            if outcome.retry is not None:
                self._schedule_retry(target, outcome.retry, stats)
                return False
            with self._db.session() as s:
                if outcome.delivered:
                    fstore.forget_dead(s, dead_id)
                    stats.delivered += 1
                    self._count(pid, "delivered", 1)
                else:
                    _, code, message = (outcome.dead or [(item, None, "")])[0]
                    fstore.refused_again(s, dead_id, code, message, now)
                    stats.dead += 1
        return True

    # -- HTTP -------------------------------------------------------------------------------
    @staticmethod
    def _key(target: _Target) -> str:
        return f"lrs:{target.platform_id}"

    def _send(self, target: _Target, items: Sequence[_Item], stats: ForwardStats) -> _Outcome:
        """Send ``items``, splitting on a refusal until the refused statements are alone."""
        outcome = self._send_split(target, items, stats)
        if outcome.forbidden:
            if not (target.proven or outcome.delivered or outcome.dead or outcome.pause or outcome.retry):
                # every statement refused with 403 by an LRS that never took one from us: these
                # credentials may not write there at all
                outcome.pause = _Answer(status=403, message=outcome.forbidden[0][1])
            else:
                outcome.dead += [(item, 403, message) for item, message in outcome.forbidden]
                outcome.dead.sort(key=lambda d: d[0].seq)
            outcome.forbidden = []
        return outcome

    def _send_split(self, target: _Target, items: Sequence[_Item], stats: ForwardStats) -> _Outcome:
        answer = self._post(target, items, stats)
        code = answer.status
        if code is not None and 200 <= code <= 299:
            return _Outcome(delivered=[it.seq for it in items])
        if answer.transport == "refused_address":
            return _Outcome(pause=answer)
        if code is None or code in TRANSIENT_STATUSES or 500 <= code <= 599:
            return _Outcome(retry=answer)
        if code in PAUSE_STATUSES:
            return _Outcome(pause=answer)
        if len(items) == 1:
            if code == 409:  # already stored there (an id the LRS holds): delivered
                return _Outcome(delivered=[items[0].seq])
            if code == 403:
                return _Outcome(forbidden=[(items[0], answer.message)])
            return _Outcome(dead=[(items[0], code, answer.message)])
        half = len(items) // 2
        outcome = self._send_split(target, items[:half], stats)
        if outcome.retry is None and outcome.pause is None:
            outcome.add(self._send_split(target, items[half:], stats))
        return outcome

    def _post(self, target: _Target, items: Sequence[_Item], stats: ForwardStats) -> _Answer:
        key = self._key(target)
        if not self.breakers.allow(key):
            return _Answer(status=None, transport="breaker", message="circuit open after repeated failures")
        body, ctype = self._body(target, items)
        headers = {
            "Content-Type": ctype,
            "X-Experience-API-Version": target.version,
            "Authorization": target.authorization,
        }
        started = time.monotonic()
        stats.requests += 1
        try:
            raw = self._client.post_bytes(target.endpoint + "/statements", body, headers)
        except AddressRefused as exc:
            self.breakers.cancel(key)
            self._timed("refused_address", started)
            return _Answer(status=None, transport="refused_address", message=_printable(str(exc)))
        except OutboundError as exc:
            self.breakers.failure(key)
            self._timed(exc.kind, started)
            return _Answer(status=None, transport=exc.kind, message=_printable(str(exc)))
        self._timed(str(raw.status), started)
        if raw.status >= 500 or raw.status in TRANSIENT_STATUSES:
            self.breakers.failure(key)
        else:
            self.breakers.success(key)
        return _Answer(status=raw.status, message=self._words(raw), retry_after=raw.header("retry-after"))

    def _body(self, target: _Target, items: Sequence[_Item]) -> tuple[bytes, str]:
        first = ("[" + ",".join(it.payload for it in items) + "]").encode()
        hashes = [h for it in items for h in it.attachment_hashes]
        if not hashes:
            return first, "application/json"
        with self._db.session() as s:
            parts = lrs_store.load_attachments(s, learner_tenant(target.platform_id), hashes)
        if not parts:
            return first, "application/json"
        return build_multipart(first, parts)

    def _words(self, raw: RawAnswer) -> str:
        """The LRS's own words about a refusal: its message, bounded, printable, no tokens."""
        if 200 <= raw.status <= 299:
            return ""
        text = raw.text()
        try:
            data = json.loads(text)
            if isinstance(data, dict) and isinstance(data.get("message"), str):
                text = data["message"]
        except ValueError:
            pass
        words = _printable(text) or raw.reason
        return sanitize_message(f"{raw.status} {words}".strip(), self.config.message_limit)

    # -- metrics ----------------------------------------------------------------------------
    def _timed(self, status: str, started: float) -> None:
        if self._observe is not None:
            self._observe("request", 0, status, time.monotonic() - started)

    def _count(self, platform_id: int, outcome: str, n: int) -> None:
        if n and self._observe is not None:
            self._observe(outcome, platform_id, "", float(n))


def build_forwarder(
    services: Services, *, clock: Callable[[], datetime] = utcnow, stop_event: threading.Event | None = None
) -> Forwarder:
    """The forwarder of ``sync run``: the services' one outbound client, ``[forwarding]`` settings,
    the grade worker's backoff bounds, and the process's Prometheus metrics."""
    from lti_tool.observability import observe_forwarding

    cfg = services.settings.forwarding
    sync_cfg = services.settings.sync
    return Forwarder(
        services.db,
        services.http,
        config=ForwarderConfig(
            batch_size=cfg.batch_size,
            max_batch_bytes=cfg.max_batch_bytes,
            settle_seconds=cfg.settle_seconds,
            lease_seconds=float(cfg.lease_seconds),
            retry=RetryPolicy(
                base_seconds=sync_cfg.backoff_base_seconds, cap_seconds=sync_cfg.backoff_cap_seconds, max_attempts=2**31
            ),
        ),
        clock=clock,
        stop_event=stop_event,
        observe=observe_forwarding,
    )
