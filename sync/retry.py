"""Retry policy: a pure decision over (attempt result, attempts so far, now, rng).

Rules (DESIGN.md §5.6):

* 2xx → delivered.
* 409 → superseded: Moodle refuses a Score whose timestamp is not newer than the stored one —
  the gradebook already holds something at least as new. That is success-superseded.
* 401 → refresh the token and retry once immediately; a second 401 → dead.
* timeouts, connection errors, 408/425/429/5xx → retry at ``Retry-After`` (seconds or HTTP-date)
  when given, else exponential backoff with full jitter, capped; after ``max_attempts`` → dead.
* other 4xx (400 not gradable, 403, 404 line item gone, 422, …) → dead with the platform's message.
* token endpoint: 5xx/429/transport → retry; 4xx (``invalid_client``, ``invalid_scope``) → dead.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from sync.model import ensure_aware


class DecisionKind(enum.StrEnum):
    """What to do with an outbox item after an attempt."""

    DELIVERED = "delivered"
    SUPERSEDED = "superseded"
    RETRY = "retry"
    REFRESH_TOKEN_AND_RETRY = "refresh_token_and_retry"  # noqa: S105 (not a secret)
    DEAD = "dead"


@dataclass(frozen=True, kw_only=True)
class AttemptResult:
    """The observable outcome of one HTTP attempt.

    Attributes:
        status_code: HTTP status, or None when no answer came (timeout/connection error).
        transport_error: ``"timeout"`` or ``"connection"`` when no answer came.
        retry_after: the raw ``Retry-After`` header, if any.
        message: the platform's message (body excerpt) or the transport error text.
        phase: ``"ags"`` for AGS endpoints, ``"token"`` for the token endpoint.
        token_refreshed: the token was already force-refreshed for this attempt.
    """

    status_code: int | None = None
    transport_error: str | None = None
    retry_after: str | None = None
    message: str = ""
    phase: str = "ags"
    token_refreshed: bool = False


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Backoff parameters as data.

    Attributes:
        base_seconds: first backoff ceiling; the n-th retry waits U(0, min(cap, base·2^n)).
        cap_seconds: backoff ceiling.
        max_attempts: failed attempts after which a transient failure becomes dead.
        retry_after_cap_seconds: never honour a ``Retry-After`` longer than this.
        min_delay_seconds: floor for any retry delay (avoids hot loops with full jitter).
        message_limit: characters of platform message kept.
    """

    base_seconds: float = 2.0
    cap_seconds: float = 900.0
    max_attempts: int = 100
    retry_after_cap_seconds: float = 3600.0
    min_delay_seconds: float = 0.5
    message_limit: int = 500


@dataclass(frozen=True, kw_only=True)
class RetryDecision:
    """The decision for one attempt (``retry_at`` set only for RETRY)."""

    kind: DecisionKind
    retry_at: datetime | None = None
    status_code: int | None = None
    message: str = ""
    counts_as_attempt: bool = True


#: Status → decision for statuses that are never retried or always retried.
STATUS_TABLE: Mapping[int, DecisionKind] = {
    200: DecisionKind.DELIVERED,
    201: DecisionKind.DELIVERED,
    202: DecisionKind.DELIVERED,
    204: DecisionKind.DELIVERED,
    408: DecisionKind.RETRY,
    409: DecisionKind.SUPERSEDED,
    425: DecisionKind.RETRY,
    429: DecisionKind.RETRY,
}

_SECRET_PATTERNS = (
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r'(?i)("?(?:access_token|client_assertion)"?\s*[:=]\s*"?)[^"&\s,}]+'),
)


def sanitize_message(message: str, limit: int = 500) -> str:
    """Remove anything that looks like a token and truncate to ``limit`` characters."""
    text = message
    text = _SECRET_PATTERNS[0].sub("Bearer [redacted]", text)
    text = _SECRET_PATTERNS[1].sub("[redacted-jwt]", text)
    text = _SECRET_PATTERNS[2].sub(r"\1[redacted]", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Parse ``Retry-After`` (RFC 9110 §10.2.3: delay-seconds or HTTP-date) to an instant.

    Returns None when absent or unparseable.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return now + timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        return None
    return max(ensure_aware(when), now)


def backoff_delay(attempts: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full-jitter exponential backoff: U(0, min(cap, base·2^attempts)), floored."""
    ceiling = min(policy.cap_seconds, policy.base_seconds * (2.0 ** min(attempts, 60)))
    return max(policy.min_delay_seconds, rng.uniform(0.0, ceiling))


def _describe(result: AttemptResult) -> str:
    if result.status_code is None:
        return f"{result.transport_error or 'transport'} error: {result.message}"
    where = "token endpoint" if result.phase == "token" else "platform"
    return f"{where} answered {result.status_code}: {result.message}".rstrip(": ")


def _is_transient_status(code: int) -> bool:
    return STATUS_TABLE.get(code) is DecisionKind.RETRY or 500 <= code <= 599


def decide(
    result: AttemptResult,
    *,
    attempts: int,
    now: datetime,
    rng: random.Random,
    policy: RetryPolicy | None = None,
) -> RetryDecision:
    """Decide what happens to an outbox item after one attempt.

    Args:
        result: what the attempt observed.
        attempts: failed attempts BEFORE this one for the current payload.
        now: current time (tz-aware).
        rng: randomness source for jitter.
        policy: backoff parameters.

    Returns:
        The decision; ``message`` is sanitised and truncated, never holds tokens.
    """
    policy = policy or RetryPolicy()
    code = result.status_code
    if code is not None and result.phase != "token":
        kind = STATUS_TABLE.get(code)
        if kind is DecisionKind.DELIVERED or (kind is None and 200 <= code <= 299):
            return RetryDecision(kind=DecisionKind.DELIVERED, status_code=code)  # no message: none built
    now = ensure_aware(now, "now")
    message = sanitize_message(_describe(result), policy.message_limit)

    if code is not None and result.phase != "token":
        kind = STATUS_TABLE.get(code)
        if kind is DecisionKind.SUPERSEDED:
            return RetryDecision(kind=DecisionKind.SUPERSEDED, status_code=code, message=message)
        if code == 401:
            if not result.token_refreshed:
                return RetryDecision(
                    kind=DecisionKind.REFRESH_TOKEN_AND_RETRY,
                    status_code=code,
                    message=message,
                    counts_as_attempt=False,
                )
            return RetryDecision(
                kind=DecisionKind.DEAD,
                status_code=code,
                message=f"{message} (after a token refresh)",
            )

    transient = code is None or _is_transient_status(code)
    if not transient:
        return RetryDecision(kind=DecisionKind.DEAD, status_code=code, message=message)
    if attempts + 1 >= policy.max_attempts:
        return RetryDecision(
            kind=DecisionKind.DEAD,
            status_code=code,
            message=sanitize_message(
                f"gave up after {attempts + 1} attempts; last: {message}", policy.message_limit
            ),
        )
    retry_at = parse_retry_after(result.retry_after, now)
    if retry_at is not None:
        retry_at = min(retry_at, now + timedelta(seconds=policy.retry_after_cap_seconds))
        retry_at = max(retry_at, now + timedelta(seconds=policy.min_delay_seconds))
    else:
        retry_at = now + timedelta(seconds=backoff_delay(attempts, policy, rng))
    return RetryDecision(
        kind=DecisionKind.RETRY, retry_at=retry_at, status_code=code, message=message
    )
