"""Tool signing keys: generation, rotation, JWKS publication.

Private keys are PEM files under the keys folder (mode 0600, never anywhere else); the
database holds each key's public JWK and lifecycle so every web node publishes the same
JWKS. ``kid`` is the RFC 7638 JWK thumbprint. Signing always uses the active key; retired
keys stay published for the configured overlap so platforms holding a cached JWKS can
still verify recent tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from lti_tool.storage import Database
from lti_tool.storage.models import KeyStatus, ToolKey, utcnow


class KeyError_(Exception):
    """Key material problem."""

    code = "key_error"


class NoActiveKeyError(KeyError_):
    """No active signing key: run 'cbsi-connect keys generate'."""

    code = "no_active_key"


class KeyFileError(KeyError_):
    """A private key file is missing, unreadable or has unsafe permissions."""

    code = "key_file_unsafe"


def _b64u_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public JWK members of an RSA key (without ``kid``)."""
    numbers = key.public_numbers()
    return {"kty": "RSA", "e": _b64u_uint(numbers.e), "n": _b64u_uint(numbers.n)}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint of an RSA JWK, base64url without padding."""
    canonical = json.dumps({"e": jwk["e"], "kty": jwk["kty"], "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, kw_only=True)
class KeyInfo:
    """One key as listed by ``cbsi-connect keys list``."""

    kid: str
    status: str
    created_at: datetime
    retired_at: datetime | None
    published: bool
    has_private_file: bool


@dataclass(frozen=True, kw_only=True)
class SigningKey:
    """The active private key and its ``kid``."""

    kid: str
    private_pem: bytes
    private_key: rsa.RSAPrivateKey


class KeyStore:
    """Manage tool keys in ``folder`` with their metadata in ``db``.

    Args:
        db: storage.
        folder: the keys folder (created with mode 0700).
        overlap_seconds: how long a retired key stays in the JWKS.
        bits: RSA key size for new keys.
        clock: returns the current UTC time.
    """

    def __init__(
        self,
        db: Database,
        folder: Path,
        *,
        overlap_seconds: int,
        bits: int = 2048,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.folder = folder
        self.overlap = timedelta(seconds=overlap_seconds)
        self.bits = bits
        self.clock = clock
        self._cache: SigningKey | None = None

    def _path(self, kid: str) -> Path:
        return self.folder / f"{kid}.pem"

    def _write_private(self, kid: str, pem: bytes) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(kid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.chmod(path, 0o600)

    def _new_key(self) -> tuple[str, dict[str, str]]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.bits)
        jwk = public_jwk(key.public_key())
        kid = thumbprint(jwk)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._write_private(kid, pem)
        return kid, jwk

    def generate(self, *, if_missing: bool = False) -> str | None:
        """Create a key and make it active when none is.

        Args:
            if_missing: do nothing when an active key already exists.

        Returns:
            The new ``kid``, or ``None`` when ``if_missing`` found an active key.
        """
        with self.db.session() as s:
            active = s.scalars(select(ToolKey).where(ToolKey.status == KeyStatus.ACTIVE)).first()
            if active is not None:
                if if_missing:
                    return None
                return self.rotate()
            kid, jwk = self._new_key()
            s.add(ToolKey(kid=kid, public_jwk=jwk, status=KeyStatus.ACTIVE, created_at=self.clock()))
        self._cache = None
        return kid

    def rotate(self) -> str:
        """Make a new key active and retire the current one (still published for the overlap)."""
        kid, jwk = self._new_key()
        now = self.clock()
        with self.db.session() as s:
            for old in s.scalars(select(ToolKey).where(ToolKey.status == KeyStatus.ACTIVE)):
                old.status = KeyStatus.RETIRED
                old.retired_at = now
            s.add(ToolKey(kid=kid, public_jwk=jwk, status=KeyStatus.ACTIVE, created_at=now))
        self._cache = None
        return kid

    def _published(self, key: ToolKey, now: datetime) -> bool:
        if key.status == KeyStatus.ACTIVE:
            return True
        return key.retired_at is not None and now - key.retired_at < self.overlap

    def list(self) -> list[KeyInfo]:
        """Every key, newest first."""
        now = self.clock()
        with self.db.session() as s:
            keys = s.scalars(select(ToolKey).order_by(ToolKey.created_at.desc())).all()
            return [
                KeyInfo(
                    kid=k.kid,
                    status=k.status,
                    created_at=k.created_at,
                    retired_at=k.retired_at,
                    published=self._published(k, now),
                    has_private_file=self._path(k.kid).exists(),
                )
                for k in keys
            ]

    def jwks(self) -> dict[str, Any]:
        """The public key set: the active key and keys retired less than the overlap ago."""
        now = self.clock()
        with self.db.session() as s:
            keys = s.scalars(select(ToolKey).order_by(ToolKey.created_at.desc())).all()
            return {
                "keys": [
                    {**k.public_jwk, "kid": k.kid, "alg": "RS256", "use": "sig"}
                    for k in keys
                    if self._published(k, now)
                ]
            }

    def signing_key(self) -> SigningKey:
        """The active private key.

        Raises:
            NoActiveKeyError: no key was generated yet.
            KeyFileError: its file is missing or readable by others.
        """
        with self.db.session() as s:
            active = s.scalars(
                select(ToolKey).where(ToolKey.status == KeyStatus.ACTIVE).order_by(ToolKey.created_at.desc())
            ).first()
            if active is None:
                raise NoActiveKeyError("no active signing key: run 'cbsi-connect keys generate'")
            kid = active.kid
        if self._cache is not None and self._cache.kid == kid:
            return self._cache
        path = self._path(kid)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError as exc:
            raise KeyFileError(
                f"private key file {path} is missing: restore it or run 'cbsi-connect keys rotate'"
            ) from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"private key file {path} is readable by others: run 'chmod 600 {path}'")
        pem = path.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyFileError(f"private key file {path} does not hold an RSA key")
        self._cache = SigningKey(kid=kid, private_pem=pem, private_key=key)
        return self._cache
