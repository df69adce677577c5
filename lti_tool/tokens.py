"""Compact HMAC tokens for one purpose each (content links, runtime commits).

A token is ``field1.field2....expiry.mac``; the MAC key is derived from the service secret and
the purpose, so a token made for one purpose is worthless for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence

_FIELD = re.compile(r"^[A-Za-z0-9_-]+$")


class TokenInvalid(Exception):
    """Malformed, tampered, or made for another purpose."""

    code = "token_invalid"


class TokenExpired(TokenInvalid):
    """Valid signature, past its expiry."""

    code = "token_expired"


class ScopedSigner:
    """Sign and verify tuples of opaque id fields with an expiry.

    Args:
        secret: the service secret.
        purpose: a label mixed into the key (``"content"``, ``"runtime"``...).
        ttl_seconds: lifetime of new tokens.
        clock: seconds since the epoch.
    """

    def __init__(self, secret: str, purpose: str, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(f"cbsi-{purpose}-v1:".encode() + secret.encode()).digest()
        self.ttl = ttl_seconds
        self.clock = clock

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def sign(self, fields: Sequence[str]) -> str:
        """A token carrying ``fields`` (letters, digits, ``-``, ``_`` only) until now + ttl."""
        for value in fields:
            if not _FIELD.match(value):
                raise ValueError("token fields must be opaque ids of letters, digits, '-' or '_'")
        payload = ".".join([*fields, str(int(self.clock()) + self.ttl)])
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, n_fields: int) -> tuple[list[str], int]:
        """The fields and expiry of a valid token.

        Raises:
            TokenInvalid: malformed, wrong field count or bad MAC.
            TokenExpired: past its expiry.
        """
        parts = token.split(".")
        if len(parts) != n_fields + 2:
            raise TokenInvalid()
        payload, mac = ".".join(parts[:-1]), parts[-1]
        if not hmac.compare_digest(self._mac(payload), mac):
            raise TokenInvalid()
        try:
            expires = int(parts[-2])
        except ValueError as exc:
            raise TokenInvalid() from exc
        if expires < self.clock():
            raise TokenExpired()
        return parts[:-2], expires
