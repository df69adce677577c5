"""Signed tokens: the one scheme for every purpose the tool hands out a bearer token for.

A token is ``field1.field2....expiry.mac``:

* fields are opaque ids (letters, digits, ``-``, ``_``); structured data travels as one field of
  base64url JSON (``pack_json`` / ``unpack_json``);
* ``expiry`` is unix seconds; a token is valid strictly before it;
* ``mac`` is base64url HMAC-SHA256 of everything before it, under a key derived from the service
  secret and the **purpose**, so a token made for one purpose is worthless for another.

Purposes (``PURPOSE_*``): launch sessions (``lt=`` and the launch cookie), content links,
runtime (attempt) tokens, the deep linking picker, operator preview URLs. A new purpose is a new
name here, nothing else.

Wire formats in flight: the nodes of two releases serve side by side during a rolling upgrade
(docs/ARCHITECTURE.md), behind a round-robin balancer, so a token one release issued must verify
on the other, both ways. Content and runtime tokens have always had this format. Launch tokens
had the same layout with their own key derivation and an untruncated MAC: ``_WIRE`` keeps exactly
that for ``PURPOSE_LAUNCH`` (previous-release nodes keep verifying the launch tokens this one
issues, and the reverse). Retiring it is expand-then-contract: a release that verifies both
forms, then one that issues the standard form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

_FIELD = re.compile(r"^[A-Za-z0-9_-]+$")

PURPOSE_LAUNCH = "lti-launch"
PURPOSE_CONTENT = "content"
PURPOSE_RUNTIME = "runtime"
PURPOSE_PICKER = "deep-linking-picker"
PURPOSE_PREVIEW = "operator-preview"

#: MAC length of the standard form (bytes before base64url: 18 bytes -> 24 characters).
MAC_BYTES = 18
#: Purposes whose tokens were in flight in another form: (HMAC label of the key, MAC bytes).
_WIRE: dict[str, tuple[bytes, int]] = {PURPOSE_LAUNCH: (b"cbsi-lti-launch-token", 32)}


class TokenInvalid(Exception):
    """Malformed, tampered, or made for another purpose."""

    code = "token_invalid"


class TokenExpired(TokenInvalid):
    """Valid signature, past its expiry."""

    code = "token_expired"


def _derive(secret: str, purpose: str) -> tuple[bytes, int]:
    if purpose in _WIRE:
        label, mac_bytes = _WIRE[purpose]
        return hmac.new(secret.encode("utf-8"), label, hashlib.sha256).digest(), mac_bytes
    return hashlib.sha256(f"cbsi-{purpose}-v1:".encode() + secret.encode()).digest(), MAC_BYTES


class ScopedSigner:
    """Sign and verify tuples of opaque id fields with an expiry, for one purpose.

    Args:
        secret: the service secret.
        purpose: a ``PURPOSE_*`` label mixed into the key.
        ttl_seconds: lifetime of new tokens.
        clock: seconds since the epoch.
    """

    def __init__(self, secret: str, purpose: str, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        if not purpose:
            raise ValueError("a signed token needs a purpose")
        self.purpose = purpose
        self._key, self._mac_bytes = _derive(secret, purpose)
        self.ttl = ttl_seconds
        self.clock = clock

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[: self._mac_bytes]
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
            TokenInvalid: malformed, wrong field count, bad MAC or another purpose.
            TokenExpired: at or past its expiry.
        """
        parts = token.split(".")
        if len(parts) != n_fields + 2:
            raise TokenInvalid()
        payload, mac = ".".join(parts[:-1]), parts[-1]
        if not hmac.compare_digest(self._mac(payload), mac):
            raise TokenInvalid()
        if not parts[-2].isdigit():
            raise TokenInvalid()
        expires = int(parts[-2])
        if expires <= self.clock():
            raise TokenExpired()
        return parts[:-2], expires


def pack_json(value: Any) -> str:
    """``value`` as one token field: compact JSON in unpadded base64url."""
    raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unpack_json(field: str) -> Any:
    """The value ``pack_json`` packed (only ever called on a field whose MAC was verified).

    Raises:
        TokenInvalid: not base64url JSON.
    """
    try:
        return json.loads(base64.urlsafe_b64decode(field + "=" * (-len(field) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenInvalid() from exc
