"""The development LMS's long-lived objects, built once per app by :func:`lti_tool.devlms.install`.

One typed object (:class:`DevLms`) holds its signing key, the cache of the tool's keys (fetched
over HTTP, as a real LMS does), the signers of its message hints and access tokens, and the
client-assertion ``jti`` values it has seen. The views receive it as an argument.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from itsdangerous import URLSafeTimedSerializer

from lti_tool.devlms import identity
from lti_tool.keys import public_jwk, thumbprint
from lti_tool.lti.jwks import JwksUnavailable, PlatformKeyCache, UnknownKid
from lti_tool.storage import Database


class ToolJwtError(Exception):
    """A JWT from the tool failed verification."""

    code = "invalid_tool_jwt"


@dataclass(frozen=True, kw_only=True)
class PlatformKey:
    """The development LMS's RSA signing key and its public JWK."""

    kid: str
    private_key: rsa.RSAPrivateKey
    public: dict[str, Any]


def load_or_create_key(instance: Path) -> PlatformKey:
    """The platform's key in ``<instance>/devplatform/platform-key.pem``, created (0600) on first use.

    Several processes on one instance folder share the file: the first one writes it (O_EXCL),
    the others read it.
    """
    folder = instance / "devplatform"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "platform-key.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    os.chmod(path, 0o600)
    pem = path.read_bytes()
    loaded = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):  # pragma: no cover - we wrote it
        raise RuntimeError(f"{path} does not hold an RSA key")
    jwk = public_jwk(loaded.public_key())
    kid = thumbprint(jwk)
    return PlatformKey(kid=kid, private_key=loaded, public={**jwk, "kid": kid, "alg": "RS256", "use": "sig"})


@dataclass(kw_only=True)
class DevLms:
    """Per-app state of the development LMS: where the tool is, its own key, what it has seen."""

    db: Database
    base_url: str
    key: PlatformKey
    tool_keys: PlatformKeyCache
    hints: URLSafeTimedSerializer
    tokens: URLSafeTimedSerializer
    seen_jti: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def iss(self) -> str:
        """The platform's issuer (``<tool base URL>/dev/platform``)."""
        return identity.issuer(self.base_url)

    def tool(self, path: str) -> str:
        """An absolute URL of the tool."""
        return self.base_url.rstrip("/") + path

    def lineitem_url(self, item_id: int, suffix: str = "") -> str:
        """A line item's URL, Moodle-shaped: the query string after the path (scores go before the '?')."""
        return f"{self.iss}/lineitems/{item_id}/lineitem{suffix}?type_id=1"

    def sign(self, claims: dict[str, Any]) -> str:
        """An RS256 JWT signed with the platform's key."""
        return jwt.encode(claims, self.key.private_key, algorithm="RS256", headers={"kid": self.key.kid})

    def verify_tool_jwt(self, token: str, audience: str | list[str]) -> dict[str, Any]:
        """The claims of a JWT the tool signed, checked against the tool's JWKS fetched over HTTP.

        Raises:
            ToolJwtError: not a JWT, wrong algorithm, unknown key, or a failed check.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise ToolJwtError("not a JWT") from exc
        if header.get("alg") != "RS256" or not header.get("kid"):
            raise ToolJwtError("the tool must sign with RS256 and name its kid")
        try:
            key = self.tool_keys.key_for(self.tool("/.well-known/jwks.json"), str(header["kid"]))
            return jwt.decode(token, key, algorithms=["RS256"], audience=audience, leeway=60)
        except (UnknownKid, JwksUnavailable) as exc:
            raise ToolJwtError(str(exc)) from exc
        except jwt.InvalidTokenError as exc:
            raise ToolJwtError(f"verification failed: {exc.__class__.__name__}") from exc

    def first_use_of(self, jti: object) -> bool:
        """Record a client assertion's ``jti``; False when it is missing or was seen within the hour."""
        with self.lock:
            now = time.time()
            for old in [k for k, exp in self.seen_jti.items() if exp < now]:
                del self.seen_jti[old]
            if not jti or str(jti) in self.seen_jti:
                return False
            self.seen_jti[str(jti)] = now + 3600
            return True


def build(*, db: Database, base_url: str, instance: Path, secret: str, http: requests.Session) -> DevLms:
    """The development LMS's objects for one app."""
    return DevLms(
        db=db,
        base_url=base_url,
        key=load_or_create_key(instance),
        tool_keys=PlatformKeyCache(ttl_seconds=300, refetch_min_interval_seconds=0, timeout_seconds=5.0, session=http),
        hints=URLSafeTimedSerializer(secret, salt="devplatform-message-hint"),
        tokens=URLSafeTimedSerializer(secret, salt="devplatform-access-token"),
    )
