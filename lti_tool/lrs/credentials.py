"""LRS credentials: operator keys for reporting tools, and per-launch learner keys.

A launch mints its credential with one call, :func:`mint_launch_credential`; the key and secret go
into the launch URL (TinCan ``auth``) or the cmi5 fetch answer. Secrets are random 256-bit values,
so a SHA-256 digest is a sufficient verifier (no password stretching needed).

:func:`authenticate` keeps a credential it accepted for :data:`AUTH_CACHE_SECONDS` (per process, at
most :data:`AUTH_CACHE_MAX` entries), so a reporting tool or an AU posting statement after statement
does not read its credential row on every request. A revocation or an expiry made by another process
(``cbsi-connect lrs credentials revoke``, another worker ending a launch) therefore takes effect
within that time; made in this process it takes effect at once. An expiry date is checked on every
request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.storage import Database
from lti_tool.storage.models import LrsCredential
from scorm.xapi import StatementError, agent_key, validate_agent

__all__ = [
    "Credential",
    "CredentialError",
    "IssuedCredential",
    "authenticate",
    "create_operator_credential",
    "expire_launch_credential",
    "list_credentials",
    "mint_launch_credential",
    "revoke_credential",
]


class CredentialError(Exception):
    """A credential cannot be created or revoked as asked."""


@dataclass(frozen=True)
class IssuedCredential:
    """A freshly created credential: the secret is shown once and never stored."""

    key: str
    secret: str
    name: str

    @property
    def basic_auth(self) -> str:
        """The ``Authorization`` header value (TinCan launch ``auth`` parameter)."""
        return "Basic " + base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()


@dataclass(frozen=True)
class Credential:
    """An authenticated caller of the LRS."""

    id: int
    key: str
    name: str
    scope: str
    tenant: str
    registration: str | None = None
    activity_id: str | None = None
    agent_key: str | None = None
    agent: Mapping[str, Any] | None = None

    @property
    def is_launch(self) -> bool:
        """A learner's per-launch credential (restricted to its own agent)."""
        return self.scope == "launch"


#: Seconds an accepted credential is reused without reading its row (see the module docstring).
AUTH_CACHE_SECONDS = 5.0
AUTH_CACHE_MAX = 4096
# (engine, Authorization header) -> (accepted at, monotonic clock; the credential; its expiry)
_accepted: dict[tuple[int, str], tuple[float, Credential, datetime | None]] = {}
_clock = time.monotonic


def _forget(key: str) -> None:
    """Drop a credential from the cache of accepted credentials (revoked or expired here)."""
    for cache_key, (_at, cred, _exp) in list(_accepted.items()):
        if cred.key == key:
            _accepted.pop(cache_key, None)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new(session: Session, **values: Any) -> IssuedCredential:
    key = secrets.token_hex(16)
    secret = secrets.token_urlsafe(32)
    session.add(LrsCredential(key=key, secret_hash=_digest(secret), created_at=datetime.now(UTC), **values))
    session.flush()
    return IssuedCredential(key=key, secret=secret, name=values["name"])


def create_operator_credential(db: Database, name: str, *, tenant: str = "") -> IssuedCredential:
    """An operator credential (reads and writes every statement of its tenant).

    Raises:
        CredentialError: empty name.
    """
    if not name.strip():
        raise CredentialError("a credential needs a name")
    with db.session() as session:
        return _new(session, name=name.strip(), scope="operator", tenant=tenant)


def mint_launch_credential(
    session: Session,
    *,
    tenant: str,
    registration: str,
    activity_id: str,
    agent: Mapping[str, Any],
    ttl: timedelta,
    name: str = "launch",
    now: datetime | None = None,
) -> IssuedCredential:
    """A learner credential for one launch: only ``agent``'s statements, state and profiles; expires.

    Runs in the caller's transaction (the launch commits it with its own rows).

    Raises:
        CredentialError: the agent is not a valid xAPI Agent.
    """
    try:
        validate_agent(dict(agent))
    except StatementError as exc:
        raise CredentialError(str(exc)) from exc
    moment = now or datetime.now(UTC)
    return _new(
        session,
        name=name,
        scope="launch",
        tenant=tenant,
        registration=registration.lower(),
        activity_id=activity_id,
        agent_key=agent_key(agent),
        agent_json=json.dumps(dict(agent), separators=(",", ":")),
        expires_at=moment + ttl,
    )


def authenticate(session: Session, header: str | None, *, now: datetime | None = None) -> Credential | None:
    """The credential a ``Basic`` Authorization header names, or None (unknown, wrong, revoked, expired)."""
    if not header or not header.lower().startswith("basic "):
        return None
    moment = now or datetime.now(UTC)
    cache_key = (id(session.get_bind()), header)
    hit = _accepted.get(cache_key)
    if hit is not None:
        at, cred, expires = hit
        if _clock() - at < AUTH_CACHE_SECONDS and (expires is None or expires > moment):
            return cred
        _accepted.pop(cache_key, None)
    try:
        key, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    c = LrsCredential.__table__.c
    row = session.connection().execute(select(LrsCredential.__table__).where(c.key == key)).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    expires = row.expires_at
    if row.revoked_at is not None or (expires is not None and expires <= moment):
        return None
    cred = Credential(
        id=row.id, key=row.key, name=row.name, scope=row.scope, tenant=row.tenant,
        registration=row.registration, activity_id=row.activity_id, agent_key=row.agent_key,
        agent=json.loads(row.agent_json) if row.agent_json else None,
    )  # fmt: skip
    if len(_accepted) >= AUTH_CACHE_MAX:
        _accepted.clear()
    _accepted[cache_key] = (_clock(), cred, expires)
    return cred


def expire_launch_credential(session: Session, key: str, *, at: datetime) -> None:
    """End a launch credential now (its session ended); in the caller's transaction."""
    row = session.scalars(select(LrsCredential).where(LrsCredential.key == key)).first()
    if row is not None and row.scope == "launch" and (row.expires_at is None or row.expires_at > at):
        row.expires_at = at
    _forget(key)


def list_credentials(db: Database, *, include_launch: bool = False) -> list[LrsCredential]:
    """Credentials, oldest first (operator ones only unless ``include_launch``)."""
    with db.session() as session:
        query = select(LrsCredential).order_by(LrsCredential.id)
        if not include_launch:
            query = query.where(LrsCredential.scope == "operator")
        return list(session.scalars(query))


def revoke_credential(db: Database, key: str) -> None:
    """Revoke a credential by key (effective on the next request).

    Raises:
        CredentialError: no such credential, or already revoked.
    """
    with db.session() as session:
        row = session.scalars(select(LrsCredential).where(LrsCredential.key == key)).first()
        if row is None:
            raise CredentialError(f"no LRS credential with key {key}")
        if row.revoked_at is not None:
            raise CredentialError(f"credential {key} is already revoked")
        row.revoked_at = datetime.now(UTC)
    _forget(key)
