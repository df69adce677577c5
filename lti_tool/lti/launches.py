"""Login state and validated launches in storage: one-time nonce consumption, launch rows.

Round trips on the launch path: read the login state, read the issuer's registrations (one
join), then one transaction that consumes the state (atomic ``UPDATE ... WHERE used_at IS
NULL``) and inserts the ``lti_launches`` row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select

from lti_tool.lti import platforms
from lti_tool.lti.context import Launch
from lti_tool.lti.platforms import PlatformInfo
from lti_tool.lti.validation import LaunchReplayed, LoginRecord, ValidatedToken
from lti_tool.storage import Database
from lti_tool.storage.models import LaunchState, LtiLaunch
from sync.lti_claims import CLAIM_CONTEXT, CLAIM_CUSTOM, CLAIM_RESOURCE_LINK, CLAIM_ROLES

logger = logging.getLogger(__name__)

# Statements are built once: the launch path only binds parameters (no per-request construction).
_STATES = LaunchState.__table__
_LAUNCHES = LtiLaunch.__table__
_INSERT_STATE = _STATES.insert()
_INSERT_LAUNCH = _LAUNCHES.insert()
_SELECT_LOGIN = select(
    _STATES.c.state,
    _STATES.c.nonce,
    _STATES.c.issuer,
    _STATES.c.client_id,
    _STATES.c.target_link_uri,
    _STATES.c.expires_at,
    _STATES.c.used_at,
).where(_STATES.c.state == bindparam("b_state"))
_CONSUME = (
    _STATES.update()
    .where(
        _STATES.c.state == bindparam("b_state"),
        _STATES.c.nonce == bindparam("b_nonce"),
        _STATES.c.used_at.is_(None),
        _STATES.c.expires_at > bindparam("b_now"),
    )
    .values(used_at=bindparam("b_used"))
)
_SELECT_LAUNCH = select(
    _LAUNCHES.c.platform_id,
    _LAUNCHES.c.issuer,
    _LAUNCHES.c.client_id,
    _LAUNCHES.c.deployment_id,
    _LAUNCHES.c.message_type,
    _LAUNCHES.c.claims,
    _LAUNCHES.c.expires_at,
).where(_LAUNCHES.c.id == bindparam("b_id"))


@dataclass(frozen=True, kw_only=True)
class LoginRequestInfo:
    """The hints of one login, kept to restart it (new window) or to use platform storage."""

    state: str
    issuer: str
    client_id: str | None
    target_link_uri: str
    login_hint: str
    lti_message_hint: str | None
    deployment_id: str | None
    storage_target: str | None


def store_login(
    db: Database,
    *,
    state: str,
    nonce: str,
    issuer: str,
    client_id: str,
    target_link_uri: str,
    login_hint: str,
    lti_message_hint: str | None,
    deployment_id: str | None,
    storage_target: str | None,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Persist a login's state, nonce and hints (one row)."""
    with db.engine.begin() as conn:
        conn.execute(
            _INSERT_STATE,
            {
                "state": state,
                "nonce": nonce,
                "issuer": issuer,
                "client_id": client_id,
                "target_link_uri": target_link_uri,
                "created_at": now,
                "expires_at": expires_at,
                "used_at": None,
                "login_hint": login_hint,
                "lti_message_hint": lti_message_hint,
                "deployment_id": deployment_id,
                "storage_target": storage_target,
            },
        )


def load_login(db: Database, state: str) -> LoginRecord | None:
    """The login stored for ``state``, or None."""
    with db.engine.connect() as conn:
        row = conn.execute(_SELECT_LOGIN, {"b_state": state}).first()
    if row is None:
        return None
    return LoginRecord(
        state=row.state,
        nonce=row.nonce,
        issuer=row.issuer,
        client_id=row.client_id,
        target_link_uri=row.target_link_uri,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


def load_login_request(db: Database, state: str) -> LoginRequestInfo | None:
    """The hints of the login ``state``, or None."""
    with db.session() as s:
        ls = s.get(LaunchState, state)
        if ls is None or ls.login_hint is None:
            return None
        return LoginRequestInfo(
            state=ls.state,
            issuer=ls.issuer,
            client_id=ls.client_id,
            target_link_uri=ls.target_link_uri,
            login_hint=ls.login_hint,
            lti_message_hint=ls.lti_message_hint,
            deployment_id=ls.deployment_id,
            storage_target=ls.storage_target,
        )


def _text(value: Any, limit: int = 255) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def build_launch(launch_id: str, token: ValidatedToken) -> Launch:
    """The :class:`Launch` of a validated token."""
    claims = token.claims
    context = claims.get(CLAIM_CONTEXT) or {}
    link = claims.get(CLAIM_RESOURCE_LINK) or {}
    custom = claims.get(CLAIM_CUSTOM) or {}
    roles = claims.get(CLAIM_ROLES) or []
    return Launch(
        id=launch_id,
        platform_id=token.platform.id,
        issuer=token.platform.issuer,
        client_id=token.platform.client_id,
        deployment_id=token.deployment_id,
        message_type=token.message_type,
        sub=_text(claims.get("sub")),
        roles=tuple(r for r in roles if isinstance(r, str)),
        context_id=_text(context.get("id")) if isinstance(context, dict) else None,
        context_title=_text(context.get("title"), 1024) if isinstance(context, dict) else None,
        resource_link_id=_text(link.get("id")) if isinstance(link, dict) else None,
        resource_link_title=_text(link.get("title"), 1024) if isinstance(link, dict) else None,
        name=_text(claims.get("name"), 1024),
        email=_text(claims.get("email"), 1024),
        custom=custom if isinstance(custom, dict) else {},
        claims=claims,
    )


def consume_once(db: Database, *, state: str, nonce: str, now: datetime) -> bool:
    """Spend a stored one-time record (``state`` with its ``nonce``) that has not expired: True once,
    False after that (the same atomic ``UPDATE`` as a login's; the operator preview's URLs use it)."""
    with db.engine.begin() as conn:
        result = conn.execute(_CONSUME, {"b_state": state, "b_nonce": nonce, "b_now": now, "b_used": now})
        return result.rowcount == 1


def consume_and_record(
    db: Database, *, login: LoginRecord, launch: Launch, now: datetime, expires_at: datetime
) -> None:
    """Consume the login's nonce exactly once and store the launch, in one transaction.

    The platform's ``last_launch_at`` is set in the same transaction, at most once a minute
    (no statement at all when this process wrote it less than a minute ago).

    Raises:
        LaunchReplayed: the state was consumed already (a replay, even from the same browser),
            or it expired meanwhile.
    """
    touch = platforms.last_launch_due(db.engine, launch.platform_id, now)
    with db.engine.begin() as conn:
        result = conn.execute(_CONSUME, {"b_state": login.state, "b_nonce": login.nonce, "b_now": now, "b_used": now})
        if result.rowcount != 1:
            raise LaunchReplayed()
        conn.execute(
            _INSERT_LAUNCH,
            {
                "id": launch.id,
                "platform_id": launch.platform_id,
                "issuer": launch.issuer,
                "client_id": launch.client_id,
                "deployment_id": launch.deployment_id,
                "message_type": launch.message_type,
                "sub": launch.sub,
                "context_id": launch.context_id,
                "resource_link_id": launch.resource_link_id,
                "claims": dict(launch.claims),
                "created_at": now,
                "expires_at": expires_at,
            },
        )
        if touch:
            platforms.touch_last_launch(conn, launch.platform_id, now)
    if touch:
        platforms.last_launch_written(db.engine, launch.platform_id, now)


_LAUNCH_PLATFORM = select(_LAUNCHES.c.platform_id).where(_LAUNCHES.c.id == bindparam("b_id"))


def launch_platform_id(db: Database, launch_id: str) -> int | None:
    """The platform of a stored launch, expired or not (None: no such launch); the platform gate's lookup."""
    with db.engine.connect() as conn:
        owner = conn.execute(_LAUNCH_PLATFORM, {"b_id": launch_id}).scalar()
    return None if owner is None else int(owner)


def load_launch(db: Database, launch_id: str, *, now: datetime) -> Launch | None:
    """A stored launch that has not expired, or None."""
    with db.engine.connect() as conn:
        row = conn.execute(_SELECT_LAUNCH, {"b_id": launch_id}).first()
    if row is None or row.expires_at <= now:
        return None
    claims: Mapping[str, Any] = row.claims
    deployment, message_type = row.deployment_id, row.message_type
    platform = PlatformInfo(
        id=row.platform_id,
        issuer=row.issuer,
        client_id=row.client_id,
        name="",
        auth_login_url="",
        auth_token_url="",
        key_set_url="",
        auth_audience=None,
        status="active",
        source="",
        deployments=(deployment,),
        created_at=now,
    )
    token = ValidatedToken(platform=platform, claims=claims, deployment_id=deployment, message_type=message_type)
    return build_launch(launch_id, token)


def purge_expired(db: Database, *, now: datetime) -> int:
    """Delete expired login states and launches; returns the number of rows removed."""
    with db.session() as s:
        a = s.execute(delete(LaunchState).where(LaunchState.expires_at < now)).rowcount  # type: ignore[attr-defined]
        b = s.execute(delete(LtiLaunch).where(LtiLaunch.expires_at < now)).rowcount  # type: ignore[attr-defined]
    return int(a or 0) + int(b or 0)


def count_logins(db: Database) -> int:
    """Rows in the login table (open, used or expired but not yet purged)."""
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(_STATES)).scalar() or 0)


class LoginBudget:
    """Keeps the login table bounded: at most ``cap`` rows, whoever sends the logins.

    The row count is read from the database at most every ``refresh_seconds`` per process and
    counted up locally in between (so other nodes' logins of the last moment may overshoot the
    cap a little, never without bound). At the cap, expired rows are purged first; when the
    table is still full the login is refused (the caller answers 503 with Retry-After).

    Args:
        db: storage.
        cap: ``lti.max_open_logins``.
        refresh_seconds: how long a count read stays trusted.
    """

    def __init__(
        self, db: Database, *, cap: int, refresh_seconds: float = 2.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.cap = cap
        self.refresh_seconds = refresh_seconds
        self.monotonic = monotonic
        self._count = 0
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def admit(self, *, now: datetime) -> bool:
        """True when one more login row fits (and counts it); False when the table is full."""
        with self._lock:
            fresh = self.monotonic() - self._read_at < self.refresh_seconds
            if fresh and self._count < self.cap:
                self._count += 1
                return True
        count = count_logins(self.db)
        if count >= self.cap:
            removed = purge_expired(self.db, now=now)
            logger.info("login table at its cap: purged %d expired rows", removed, extra={"action": "lti_purge"})
            count = count_logins(self.db)
        with self._lock:
            self._count, self._read_at = count, self.monotonic()
            if self._count >= self.cap:
                return False
            self._count += 1
            return True
