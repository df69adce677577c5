"""Fixed-window rate limits kept in the database, and the client address they count by.

One counter row per (bucket, window): ``hit`` adds one with an atomic ``UPDATE count = count + 1``
(an ``INSERT`` starts a window), so every web node sees the same counts and a limit holds across
a load-balanced cluster. Why the database and not process memory: the operator lock-out must
not be multiplied by the number of nodes, and the anonymous endpoints it guards (``/lti/login``,
``/lti/register``, ``/admin/login``) already write to the database on every request, so one small
extra write costs little there. Rows of past windows are purged as we go.

The client address is the TCP peer unless that peer is one of ``server.trusted_proxies``; then
the right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy is used.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from lti_tool.errors import AppError
from lti_tool.storage import Database
from lti_tool.storage.models import RateLimitCounter, utcnow

logger = logging.getLogger(__name__)

_TABLE = RateLimitCounter.__table__
_BUMP = (
    _TABLE.update().where(_TABLE.c.key == bindparam("b_key")).values(count=_TABLE.c.count + 1).returning(_TABLE.c.count)
)
_READ = select(_TABLE.c.count).where(_TABLE.c.key == bindparam("b_key"))
PURGE_EVERY_HITS = 200
_hits = [0]
_hits_lock = threading.Lock()


class RateLimited(AppError):
    """Too many requests from your address: wait a moment and try again."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str | None = None, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))


@dataclass(frozen=True, kw_only=True)
class Window:
    """A bucket's count in the current window and the seconds until that window ends."""

    count: int
    retry_after: int


def _window(bucket: str, window_seconds: int, now: datetime) -> tuple[str, datetime, int]:
    stamp = now.timestamp()
    index = int(stamp // window_seconds)
    ends = (index + 1) * window_seconds
    digest = hashlib.sha256(bucket.encode("utf-8")).hexdigest()[:40]
    prefix = bucket.split(":", 1)[0][:60]
    return f"{prefix}:{digest}:{index}", datetime.fromtimestamp(ends, UTC), max(1, math.ceil(ends - stamp))


def hit(db: Database, bucket: str, *, window_seconds: int, now: datetime | None = None) -> Window:
    """Count one event in ``bucket``'s current window; returns the new count."""
    now = now or utcnow()
    key, ends_at, retry = _window(bucket, window_seconds, now)
    for _ in range(3):
        with db.engine.begin() as conn:
            row = conn.execute(_BUMP, {"b_key": key}).first()
            if row is not None:
                count = int(row[0])
                break
        try:
            with db.engine.begin() as conn:
                conn.execute(_TABLE.insert(), {"key": key, "count": 1, "window_ends_at": ends_at})
            count = 1
            break
        except IntegrityError:  # another request started the window meanwhile: bump it
            continue
    else:  # pragma: no cover - three lost races in a row
        count = peek(db, bucket, window_seconds=window_seconds, now=now).count
    _maybe_purge(db, now)
    return Window(count=count, retry_after=retry)


def peek(db: Database, bucket: str, *, window_seconds: int, now: datetime | None = None) -> Window:
    """The bucket's count in the current window, without counting."""
    now = now or utcnow()
    key, _, retry = _window(bucket, window_seconds, now)
    with db.engine.connect() as conn:
        count = conn.execute(_READ, {"b_key": key}).scalar()
    return Window(count=int(count or 0), retry_after=retry)


def reset(db: Database, bucket: str, *, window_seconds: int, now: datetime | None = None) -> None:
    """Forget the bucket's current window (e.g. an account's failures after a good login)."""
    key, _, _ = _window(bucket, window_seconds, now or utcnow())
    with db.engine.begin() as conn:
        conn.execute(_TABLE.delete().where(_TABLE.c.key == key))


def enforce(
    db: Database, bucket: str, *, limit: int, window_seconds: int, what: str, now: datetime | None = None
) -> Window:
    """Count one request; past ``limit`` in the window raise :class:`RateLimited` (429, Retry-After).

    Args:
        what: the limited thing in plain words, for the message ("login requests").
    """
    window = hit(db, bucket, window_seconds=window_seconds, now=now)
    if window.count > limit:
        raise RateLimited(
            f"too many {what} from your address ({limit} per {_duration(window_seconds)}); "
            f"try again in {_duration(window.retry_after)}",
            retry_after=window.retry_after,
        )
    return window


def purge(db: Database, *, now: datetime | None = None) -> int:
    """Delete the counters of windows that have ended."""
    with db.engine.begin() as conn:
        result = conn.execute(delete(RateLimitCounter).where(RateLimitCounter.window_ends_at < (now or utcnow())))
    return int(result.rowcount or 0)


def _maybe_purge(db: Database, now: datetime) -> None:
    with _hits_lock:
        _hits[0] += 1
        due = _hits[0] % PURGE_EVERY_HITS == 0
    if due:
        removed = purge(db, now=now)
        logger.debug("purged %d ended rate-limit windows", removed, extra={"action": "ratelimit_purge"})


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds" if seconds != 1 else "1 second"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{math.ceil(minutes / 60)} hours"


def duration(seconds: int) -> str:
    """``seconds`` in plain words ("45 seconds", "15 minutes", "2 hours")."""
    return _duration(max(1, int(seconds)))


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str:
    """The client's address: the TCP peer, or the proxy's ``X-Forwarded-For`` when the peer is trusted."""
    peer = (remote_addr or "").strip() or "unknown"
    if not trusted_proxies or not forwarded_for or not _is_trusted(peer, trusted_proxies):
        return peer[:64]
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _valid_ip(hop):
            return peer[:64]  # a malformed entry: do not let the client choose its key
        if not _is_trusted(hop, trusted_proxies):
            return hop[:64]
    return (hops[0] if hops else peer)[:64]


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted_proxies: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted_proxies)
