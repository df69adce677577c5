"""Operators of the service: scrypt-hashed passwords in the database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from lti_tool.services import Services
from lti_tool.storage.models import Operator, OperatorSession, utcnow

_N, _R, _P = 2**14, 8, 1


class OperatorError(Exception):
    """Operator account problem."""

    code = "operator_error"


def hash_password(password: str) -> str:
    """An scrypt hash string ``scrypt$N$r$p$salt$digest``."""
    if len(password) < 10:
        raise OperatorError("passwords must have at least 10 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    enc = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${enc(salt).decode()}${enc(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def set_operator(services: Services, username: str, password: str) -> None:
    """Create the operator or replace its password (a new password ends the operator's sessions)."""
    hashed = hash_password(password)
    with services.db.session() as s:
        op = s.scalars(select(Operator).where(Operator.username == username)).first()
        if op is None:
            s.add(Operator(username=username, password_hash=hashed))
        else:
            op.password_hash = hashed
            s.execute(delete(OperatorSession).where(OperatorSession.operator_id == op.id))


def authenticate(services: Services, username: str, password: str) -> bool:
    """True when the username exists and the password matches (timing does not reveal which)."""
    with services.db.session() as s:
        op = s.scalars(select(Operator).where(Operator.username == username)).first()
        if op is None:
            verify_password(password, _DUMMY)
            return False
        if not verify_password(password, op.password_hash):
            return False
        op.last_login_at = utcnow()
        return True


def list_operators(services: Services) -> list[str]:
    """Operator usernames."""
    with services.db.session() as s:
        return list(s.scalars(select(Operator.username).order_by(Operator.username)))


def remove_operator(services: Services, username: str) -> bool:
    """Delete an operator; False when there was none."""
    with services.db.session() as s:
        op = s.scalars(select(Operator).where(Operator.username == username)).first()
        if op is None:
            return False
        s.execute(delete(OperatorSession).where(OperatorSession.operator_id == op.id))
        s.delete(op)
        return True


# -- failed-login lock-out ------------------------------------------------------------------------


def account_bucket(username: str) -> str:
    """The rate-limit bucket counting an account's failed logins (``lti_tool.ratelimit``)."""
    return "op-user:" + username.lower()[:120]


def address_bucket(address: str) -> str:
    """The rate-limit bucket counting failed operator logins from one client address."""
    return "op-addr:" + address


def unlock(services: Services, username: str) -> None:
    """Forget an account's failed logins of the current window (``cbsi-connect operators unlock``)."""
    from lti_tool import ratelimit

    window = services.settings.server.admin_login_window_seconds
    ratelimit.reset(services.db, account_bucket(username), window_seconds=window)


# -- server-side sessions -------------------------------------------------------------------------

SEEN_UPDATE_SECONDS = 60
"""``last_seen_at`` is written at most this often per session (the idle timeout's granularity)."""


@dataclass(frozen=True, kw_only=True)
class SessionInfo:
    """A live operator session."""

    username: str
    created_at: datetime
    expires_at: datetime


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_session(services: Services, username: str, *, client_address: str = "", now: datetime | None = None) -> str:
    """Open a session for ``username``; returns the random id for the cookie (only its hash is stored).

    Raises:
        OperatorError: no such operator.
    """
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=services.settings.server.admin_session_max_seconds)
    with services.db.session() as s:
        op = s.scalars(select(Operator).where(Operator.username == username)).first()
        if op is None:
            raise OperatorError(f"no operator {username}")
        s.execute(delete(OperatorSession).where(OperatorSession.expires_at < now))
        s.add(
            OperatorSession(
                id_hash=_session_hash(session_id),
                operator_id=op.id,
                client_address=client_address[:64],
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
        )
    return session_id


def check_session(services: Services, session_id: str | None, *, now: datetime | None = None) -> SessionInfo | None:
    """The live session behind a cookie's id, or None (unknown, logged out, expired or idle too long).

    An expired or idle session's row is deleted; a live one has its ``last_seen_at`` refreshed.
    """
    if not session_id:
        return None
    now = now or utcnow()
    idle = timedelta(seconds=services.settings.server.admin_session_idle_seconds)
    with services.db.session() as s:
        row = s.execute(
            select(OperatorSession, Operator.username)
            .join(Operator, Operator.id == OperatorSession.operator_id)
            .where(OperatorSession.id_hash == _session_hash(session_id))
        ).first()
        if row is None:
            return None
        record, username = row
        if record.expires_at <= now or record.last_seen_at + idle <= now:
            s.delete(record)
            return None
        if (now - record.last_seen_at).total_seconds() >= SEEN_UPDATE_SECONDS:
            record.last_seen_at = now
        return SessionInfo(username=username, created_at=record.created_at, expires_at=record.expires_at)


def end_session(services: Services, session_id: str | None) -> bool:
    """Revoke a session on the server; True when there was one."""
    if not session_id:
        return False
    with services.db.session() as s:
        result = s.execute(delete(OperatorSession).where(OperatorSession.id_hash == _session_hash(session_id)))
        return bool(result.rowcount)  # type: ignore[attr-defined]


_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
