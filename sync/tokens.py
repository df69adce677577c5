"""OAuth2 client_credentials with a signed JWT assertion (IMS Security Framework 1.0 §4.1).

``ClientCredentialsTokenProvider`` implements ``sync.ports.TokenProvider``. Tokens are cached in a
``TokenCache`` (in-memory here, a DB table in production) per (issuer, client_id, scopes) until
``expires_in`` minus a safety margin. A per-key lock makes concurrent workers request one token,
not one each.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sync.ags import make_session
from sync.errors import (
    AgsTransportError,
    InvalidAgsResponseError,
    SigningKeyError,
    TokenRequestError,
)
from sync.ports import (
    CachedToken,
    PlatformEndpoints,
    SigningKey,
    SigningKeyProvider,
    TokenCache,
)
from sync.retry import sanitize_message

logger = logging.getLogger(__name__)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Lifetime of the client assertion JWT.
ASSERTION_LIFETIME = timedelta(minutes=5)


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class PemSigningKeyProvider:
    """``SigningKeyProvider`` over a PEM private key (e.g. read from ``keys/`` by the app)."""

    def __init__(self, pem: bytes, kid: str, password: bytes | None = None) -> None:
        """Load and check the key once.

        Raises:
            SigningKeyError: not a PEM RSA private key (≥ 2048 bits), or an empty ``kid``.
        """
        if not kid:
            raise SigningKeyError("the signing key needs a kid (its id in the tool's JWKS)")
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(
                "the tool's signing key is not a readable PEM private key; "
                "run `cbsi-connect keys generate`"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise SigningKeyError("the tool's signing key must be an RSA key of at least 2048 bits")
        self._key = SigningKey(kid=kid, private_key=key)

    def current_signing_key(self) -> SigningKey:
        """See ``SigningKeyProvider.current_signing_key``."""
        return self._key


def cache_key(platform: PlatformEndpoints, scopes: Sequence[str]) -> tuple[str, str, str]:
    """Token cache key: (issuer, client_id, sorted space-joined scopes) — DESIGN.md §5.1."""
    return (platform.issuer, platform.client_id, " ".join(sorted(set(scopes))))


def build_client_assertion(
    platform: PlatformEndpoints,
    signing: SigningKeyProvider,
    *,
    now: datetime,
    jti_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> str:
    """The RS256 client assertion: iss = sub = client_id, aud = token URL, fresh jti, kid header.

    Moodle checks the ``kid`` against the tool's JWKS and refetches it on an unknown one
    (DESIGN.md §6).
    """
    key = signing.current_signing_key()
    issued = int(now.timestamp())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.token_audience or platform.token_url,
        "iat": issued,
        "exp": issued + int(ASSERTION_LIFETIME.total_seconds()),
        "jti": jti_factory(),
    }
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


class LocalTokenMemo:
    """``TokenCache`` in front of a shared one (the database table in production) for one process.

    The worker asks for a token before every score; reading the shared cache each time costs a
    database round trip per score. The memo reads it at most once per ``ttl_seconds`` per key;
    ``put`` and ``invalidate`` go through to the shared cache at once. A token another process
    stored meanwhile is seen within ``ttl_seconds``; a token this process holds is still used only
    until its own expiry (minus the provider's margin), and a 401 refreshes it as before.
    """

    def __init__(
        self, shared: TokenCache, *, ttl_seconds: float = 30.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._shared = shared
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._memo: dict[tuple[str, str, str], tuple[float, CachedToken | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> CachedToken | None:
        """See ``TokenCache.get``."""
        now = self._monotonic()
        with self._lock:
            hit = self._memo.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        token = self._shared.get(key)
        with self._lock:
            self._memo[key] = (now, token)
        return token

    def put(self, key: tuple[str, str, str], token: CachedToken) -> None:
        """See ``TokenCache.put``."""
        self._shared.put(key, token)
        with self._lock:
            self._memo[key] = (self._monotonic(), token)

    def invalidate(self, key: tuple[str, str, str]) -> None:
        """See ``TokenCache.invalidate``."""
        with self._lock:
            self._memo.pop(key, None)
        self._shared.invalidate(key)


class ClientCredentialsTokenProvider:
    """``TokenProvider``: fetches and caches LTI service access tokens."""

    def __init__(
        self,
        signing: SigningKeyProvider,
        cache: TokenCache,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = utc_now,
        timeout: float | tuple[float, float] = (3.05, 10.0),
        margin_seconds: float = 60.0,
        default_expires_in: int = 3600,
        failure_cache_seconds: float = 30.0,
    ) -> None:
        self._signing = signing
        self._cache = cache
        self._session = session or make_session()
        self._clock = clock
        self._timeout = timeout
        self._margin = timedelta(seconds=margin_seconds)
        self._default_expires_in = default_expires_in
        self._failure_ttl = timedelta(seconds=failure_cache_seconds)
        #: key -> (until, error): a refused token request is not repeated for every outbox
        #: item of a misconfigured platform (thousands of requests); it is replayed until then.
        self._failures: dict[tuple[str, str, str], tuple[datetime, TokenRequestError]] = {}
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        #: Number of token requests made (observability and tests).
        self.requests_made = 0

    def _lock_for(self, key: tuple[str, str, str]) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def get_token(
        self, platform: PlatformEndpoints, scopes: Sequence[str], *, force_refresh: bool = False
    ) -> str:
        """See ``sync.ports.TokenProvider.get_token``."""
        key = cache_key(platform, scopes)
        seen_before_lock = self._cache.get(key)
        if not force_refresh:
            cached = self._usable(self._cache.get(key))
            if cached is not None:
                return cached
        with self._lock_for(key):
            failure = self._failures.get(key)
            if failure is not None and not force_refresh and self._clock() < failure[0]:
                err = failure[1]
                raise TokenRequestError(
                    err.message,
                    status_code=err.status_code,
                    retry_after=err.retry_after,
                    phase="token",
                )
            cached_token = self._cache.get(key)
            if force_refresh:
                # Several threads may hit 401 with the same stale token at once: the first one
                # refreshes; the others find the cache changed while they waited for the lock.
                if (
                    cached_token is not None
                    and cached_token != seen_before_lock
                    and self._usable(cached_token) is not None
                ):
                    return cached_token.access_token
                self._cache.invalidate(key)
            else:
                usable = self._usable(cached_token)
                if usable is not None:
                    return usable
            try:
                token = self._request(platform, scopes)
            except TokenRequestError as exc:
                if 400 <= exc.status_code < 500 and exc.status_code != 429:
                    self._failures[key] = (self._clock() + self._failure_ttl, exc)
                raise
            self._failures.pop(key, None)
            self._cache.put(key, token)
            return token.access_token

    def clear_failures(self) -> None:
        """Forget remembered token refusals (e.g. after the admin fixed a registration)."""
        for key in list(self._failures):
            self._failures.pop(key, None)

    def _usable(self, token: CachedToken | None) -> str | None:
        if token is None or token.expires_at - self._margin <= self._clock():
            return None
        return token.access_token

    def _request(self, platform: PlatformEndpoints, scopes: Sequence[str]) -> CachedToken:
        now = self._clock()
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": build_client_assertion(platform, self._signing, now=now),
            "scope": " ".join(scopes),
        }
        self.requests_made += 1
        try:
            resp = self._session.post(
                platform.token_url,
                data=data,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except requests.Timeout as exc:
            raise AgsTransportError(
                f"token endpoint {platform.token_url} timed out", kind="timeout"
            ) from exc
        except requests.RequestException as exc:
            kind = getattr(exc, "kind", None)  # the outbound client's timeout/too_large/refused_address
            detail = sanitize_message(str(exc), 200) if isinstance(kind, str) else type(exc).__name__
            raise AgsTransportError(
                f"token endpoint {platform.token_url} unreachable: {detail}",
                kind=kind if isinstance(kind, str) else "connection",
            ) from exc
        if resp.status_code != 200:
            raise TokenRequestError(
                f"token request to {platform.token_url} refused: "
                + sanitize_message(resp.text or resp.reason or "", 300),
                status_code=resp.status_code,
                retry_after=resp.headers.get("Retry-After"),
                phase="token",
            )
        try:
            body: Any = resp.json()
            access_token = body["access_token"]
            expires_in = int(body.get("expires_in") or self._default_expires_in)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidAgsResponseError(
                f"token endpoint {platform.token_url} answered without a usable access_token"
            ) from exc
        if not isinstance(access_token, str) or not access_token:
            raise InvalidAgsResponseError(
                f"token endpoint {platform.token_url} answered an empty access_token"
            )
        logger.info(
            "access token obtained",
            extra={
                "action": "token_obtained",
                "platform": platform.key,
                "expires_in": expires_in,
            },
        )
        return CachedToken(
            access_token=access_token, expires_at=now + timedelta(seconds=expires_in)
        )
