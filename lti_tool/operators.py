"""Operators of the service: scrypt-hashed passwords in the database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select

from lti_tool.services import Services
from lti_tool.storage.models import Operator, utcnow

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
    """Create the operator or replace its password."""
    hashed = hash_password(password)
    with services.db.session() as s:
        op = s.scalars(select(Operator).where(Operator.username == username)).first()
        if op is None:
            s.add(Operator(username=username, password_hash=hashed))
        else:
            op.password_hash = hashed


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
        s.delete(op)
        return True


_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
