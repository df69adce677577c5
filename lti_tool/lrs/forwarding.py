"""Forwarding to an academy's own LRS: its settings, state, backlog and dead letters.

An academy (platform) may ask for a copy of every statement the built-in LRS stores in its tenant
(``platform:<id>``, :func:`lti_tool.lrs.identity.learner_tenant`). This module keeps the
per-academy settings (endpoint, xAPI version, Basic credentials) and the forwarding state; the
delivery itself is :mod:`lti_tool.lrs.forwarder`, run by ``cbsi-connect sync run``.

Design: no row is written per statement on the ingest path. Each academy has one cursor over
``lrs_statements.seq`` (the stored order); the worker reads the statements after it, POSTs them in
batches and advances the cursor in the transaction that records the batch's outcome. Turning
forwarding on starts after the newest stored statement (``from_start`` starts at the first one).

The secret is kept like the other secrets this service sends (``service_tokens``): in the
database only. It is never logged, never written to the audit log and never shown.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from lti_tool import audit
from lti_tool.lrs import forward_store as fstore
from lti_tool.lrs import store as lrs_store
from lti_tool.lrs.forward_store import OFF, ON, PAUSED, DeadLetter, ForwardRow
from lti_tool.lrs.identity import learner_tenant
from lti_tool.lti import platforms as platform_ops
from lti_tool.outbound import OutboundPolicy, legacy_ipv4, normalise_host
from lti_tool.storage import Database
from lti_tool.storage.models import utcnow

logger = logging.getLogger(__name__)

VERSIONS = ("1.0.3", "2.0.0")
__all__ = ["OFF", "ON", "PAUSED", "DeadLetter", "ForwardingError", "ForwardingStatus", "configure", "status"]
#: Backlogs are counted up to this many statements ("10000+" beyond: counting millions is slow).
BACKLOG_COUNT_LIMIT = 10_000
MAX_ENDPOINT_CHARS = 2000
MAX_KEY_CHARS = 255
MAX_SECRET_CHARS = 4096


class ForwardingError(ValueError):
    """A forwarding setting was refused; ``code`` is stable, the message says what to fix."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, kw_only=True)
class ForwardingStatus:
    """One academy's forwarding as the CLI and the console show it (never the secret)."""

    platform_id: int
    state: str
    endpoint: str = ""
    xapi_version: str = ""
    auth_key: str = ""
    secret_set: bool = False
    cursor_seq: int = 0
    backlog: int = 0
    backlog_capped: bool = False
    dead: int = 0
    retrying: int = 0
    delivered: int = 0
    last_success_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None

    @property
    def backlog_text(self) -> str:
        """``123`` or ``10000+``."""
        return f"{self.backlog}+" if self.backlog_capped else str(self.backlog)


def check_endpoint(endpoint: str, policy: OutboundPolicy | None) -> str:
    """The endpoint, normalised (no trailing slash), or :class:`ForwardingError`.

    Args:
        endpoint: the academy LRS's xAPI base URL (``https://lrs.example/xapi``).
        policy: the outbound policy; when it checks addresses (production), a host written as an
            internal address or ``localhost`` is refused here already (names are checked again at
            every call, after resolution, by the outbound client).
    """
    text = endpoint.strip()
    if not text:
        raise ForwardingError("--endpoint must not be empty", code="invalid_url")
    if len(text) > MAX_ENDPOINT_CHARS or not text.isprintable() or any(c.isspace() for c in text):
        raise ForwardingError(
            "--endpoint is not a usable URL (too long, spaces or control characters)", code="invalid_url"
        )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ForwardingError(f"--endpoint is not a usable URL: {text!r}", code="invalid_url") from None
    if parts.scheme not in ("http", "https"):
        raise ForwardingError(f"--endpoint must be an http(s) URL, got scheme {parts.scheme!r}", code="invalid_url")
    if not parts.hostname:
        raise ForwardingError("--endpoint has no host", code="invalid_url")
    if parts.username is not None or parts.password is not None:
        raise ForwardingError("--endpoint must not hold credentials: use --key and --secret-stdin", code="invalid_url")
    if parts.query or parts.fragment:
        raise ForwardingError("--endpoint must not have a query or fragment", code="invalid_url")
    if policy is not None and policy.check_addresses:
        host = normalise_host(parts.hostname)
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = legacy_ipv4(host)
        internal_name = host == "localhost" or host.endswith(".localhost")
        if (internal_name and not policy.host_allowed(host)) or (
            address is not None and not policy.address_allowed(address)
        ):
            raise ForwardingError(
                f"--endpoint {host} is an internal address, which this service does not call "
                "(allow it with outbound.allow_private if this LRS is on your network)",
                code="address_refused",
            )
    return text.rstrip("/")


def _known(db: Database, platform_id: int) -> None:
    if platform_ops.find_platform(db, platform_id) is None:
        raise ForwardingError(
            f"no platform with id {platform_id} (see 'cbsi-connect platforms list')", code="platform_not_found"
        )


def configure(
    db: Database,
    platform_id: int,
    *,
    endpoint: str,
    key: str,
    secret: str,
    version: str = "1.0.3",
    from_start: bool = False,
    policy: OutboundPolicy | None = None,
    actor: audit.Actor | None = None,
    now: datetime | None = None,
) -> ForwardingStatus:
    """Turn forwarding on (or change its settings) for one academy; audited as ``actor``.

    Everything is checked before anything is saved. A first configuration starts after the newest
    stored statement, or at the first one with ``from_start``; a change of settings keeps the
    cursor (``from_start`` rewinds it) and resumes a paused forwarding.

    Raises:
        ForwardingError: ``platform_not_found``, ``invalid_url``, ``address_refused``,
            ``invalid_value`` (version, key, secret).
    """
    endpoint = check_endpoint(endpoint, policy)
    if version not in VERSIONS:
        raise ForwardingError(f"--version must be one of {', '.join(VERSIONS)}, got {version!r}", code="invalid_value")
    key = key.strip()
    if not key or len(key) > MAX_KEY_CHARS or ":" in key or not key.isprintable():
        raise ForwardingError(
            f"--key must be 1 to {MAX_KEY_CHARS} printable characters without ':'", code="invalid_value"
        )
    secret = secret.strip("\r\n")
    if not secret:
        raise ForwardingError("the secret is missing: give it on standard input (--secret-stdin)", code="invalid_value")
    if len(secret) > MAX_SECRET_CHARS or not secret.isprintable():
        raise ForwardingError(
            f"the secret must be at most {MAX_SECRET_CHARS} printable characters on one line", code="invalid_value"
        )
    at = now or utcnow()
    _known(db, platform_id)
    with db.session() as s:
        first = fstore.save_settings(
            s, platform_id, endpoint=endpoint, version=version, key=key, secret=secret,
            start_after=0 if from_start else lrs_store.max_seq(s), rewind=from_start, now=at,
        )  # fmt: skip
        audit.record_as(
            s, actor, "lrs.forward_on",
            params={"endpoint": endpoint, "version": version, "key": key, "from_start": from_start, "first": first},
            platform_id=platform_id,
        )  # fmt: skip
    logger.info(
        "LRS forwarding of platform %s is on", platform_id,
        extra={"action": "lrs_forward_on", "platform": str(platform_id), "endpoint": endpoint, "version": version},
    )  # fmt: skip
    return status(db, platform_id)


def turn_off(
    db: Database, platform_id: int, *, actor: audit.Actor | None = None, now: datetime | None = None
) -> ForwardingStatus:
    """Stop forwarding (the settings and the cursor are kept; turning it on again resumes there).

    Raises:
        ForwardingError: ``platform_not_found``, ``not_configured``.
    """
    _set_state(db, platform_id, OFF, "lrs.forward_off", actor, now)
    logger.info("LRS forwarding of platform %s is off", platform_id, extra={"action": "lrs_forward_off"})
    return status(db, platform_id)


def resume(
    db: Database, platform_id: int, *, actor: audit.Actor | None = None, now: datetime | None = None
) -> ForwardingStatus:
    """Resume a paused (or off) forwarding with its saved settings, from its cursor.

    Raises:
        ForwardingError: ``platform_not_found``, ``not_configured``.
    """
    _set_state(db, platform_id, ON, "lrs.forward_resume", actor, now)
    return status(db, platform_id)


def _set_state(
    db: Database, platform_id: int, state: str, action: str, actor: audit.Actor | None, now: datetime | None
) -> None:
    """Turn a configured forwarding off or on again, audited as ``action``."""
    _known(db, platform_id)
    with db.session() as s:
        if not fstore.set_state(s, platform_id, state, now or utcnow()):
            raise _not_configured(platform_id)
        audit.record_as(s, actor, action, platform_id=platform_id)


def _not_configured(platform_id: int) -> ForwardingError:
    return ForwardingError(
        f"platform {platform_id} does not forward statements (turn it on with "
        f"'cbsi-connect platforms forward {platform_id} --endpoint URL --key KEY --secret-stdin')",
        code="not_configured",
    )


def _status_of(s: Session, row: ForwardRow) -> ForwardingStatus:
    counted = 0
    if row.state != OFF:
        counted = lrs_store.count_after(s, learner_tenant(row.platform_id), row.cursor_seq, BACKLOG_COUNT_LIMIT)
    counts = fstore.dead_counts(s, row.platform_id)
    return ForwardingStatus(
        platform_id=row.platform_id, state=row.state, endpoint=row.endpoint, xapi_version=row.xapi_version,
        auth_key=row.auth_key, secret_set=bool(row.auth_secret), cursor_seq=row.cursor_seq,
        backlog=min(counted, BACKLOG_COUNT_LIMIT), backlog_capped=counted > BACKLOG_COUNT_LIMIT,
        dead=counts.get("dead", 0), retrying=counts.get("retry", 0), delivered=row.delivered,
        last_success_at=row.last_success_at, last_status_code=row.last_status_code, last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
    )  # fmt: skip


def status(db: Database, platform_id: int) -> ForwardingStatus:
    """One academy's forwarding (state ``off`` with empty settings when never configured).

    Raises:
        ForwardingError: ``platform_not_found``.
    """
    _known(db, platform_id)
    with db.session() as s:
        row = fstore.get(s, platform_id)
        if row is None:
            return ForwardingStatus(platform_id=platform_id, state=OFF)
        return _status_of(s, row)


def states(db: Database) -> dict[int, str]:
    """Every configured academy's forwarding state (``platforms list``; no counting)."""
    with db.session() as s:
        return fstore.states(s)


def dead_letters(db: Database, platform_id: int, *, limit: int = 50) -> list[DeadLetter]:
    """The academy's refused statements, oldest first."""
    with db.session() as s:
        return fstore.dead_letters(s, platform_id, limit)


def retry_dead(db: Database, platform_id: int, *, actor: audit.Actor | None = None, now: datetime | None = None) -> int:
    """Queue the academy's dead letters again (the worker sends each one alone); audited.

    Raises:
        ForwardingError: ``platform_not_found``, ``not_configured``.
    """
    _known(db, platform_id)
    with db.session() as s:
        if fstore.get(s, platform_id) is None:
            raise _not_configured(platform_id)
        count = fstore.requeue_dead(s, platform_id, now or utcnow())
        audit.record_as(s, actor, "lrs.forward_retry_dead", params={"count": count}, platform_id=platform_id)
    logger.info(
        "%s dead letters of platform %s queued again", count, platform_id, extra={"action": "lrs_forward_retry_dead"}
    )
    return count
