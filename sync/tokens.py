"""OAuth2 client_credentials with a signed JWT assertion (1EdTech Security Framework 1.0 §4.1).

The one service-token client of the tool: the grade worker (AGS) and the web app (NRPS, through
``lti_tool.lti.tokens.ServiceTokens``) both get their tokens from ``ClientCredentialsTokenProvider``:
one client assertion (``build_client_assertion``), one cache key (``cache_key``), one token request
(``request_token``). Tokens are cached in a ``TokenCache`` (in-memory here, the ``service_tokens``
table in production) per (issuer, client_id, sorted scopes) until ``expires_in`` minus a safety
margin. A per-key lock makes concurrent workers request one token, not one each.

Access tokens and assertions are never logged, and never part of an error message.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
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
#: Security Framework §4.1: platforms SHOULD issue 1-hour tokens; used when ``expires_in`` is absent.
DEFAULT_EXPIRES_IN = 3600


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
            raise SigningKeyError(key="signing_key_needs_kid_id")
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(
                key="tool_signing_key_readable_pem"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise SigningKeyError(key="tool_signing_key_must_rsa")
        self._key = SigningKey(kid=kid, private_key=key)

    def current_signing_key(self) -> SigningKey:
        """See ``SigningKeyProvider.current_signing_key``."""
        return self._key


def normalise_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Sorted, de-duplicated, non-empty scopes: the cache key and the request do not depend on order."""
    return tuple(sorted({s.strip() for s in scopes if s and s.strip()}))


def cache_key(platform: PlatformEndpoints, scopes: Iterable[str]) -> tuple[str, str, str]:
    """Token cache key: (issuer, client_id, sorted space-joined scopes) — DESIGN.md §5.1.

    The released pylti1p3 2.0.2 keys its cache without client_id (two registrations of one issuer
    would swap tokens); we key with it.
    """
    return (platform.issuer, platform.client_id, " ".join(normalise_scopes(scopes)))


def new_jti() -> str:
    """A fresh assertion id (platforms may refuse replays)."""
    return uuid.uuid4().hex


def build_client_assertion(
    platform: PlatformEndpoints,
    signing: SigningKeyProvider,
    *,
    now: datetime,
    jti_factory: Callable[[], str] = new_jti,
) -> str:
    """The RS256 client assertion: iss = sub = client_id, aud = token URL, fresh jti, kid header.

    Security Framework §4.1.1, RFC 7523 §3: ``aud`` is the platform's authorization server when
    it names one, else its token URL. Moodle checks the ``kid`` against the tool's JWKS and
    refetches it on an unknown one (DESIGN.md §6).
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


def request_token(
    session: requests.Session,
    platform: PlatformEndpoints,
    assertion: str,
    scopes: Sequence[str],
    *,
    timeout: float | tuple[float, float],
    default_expires_in: int = DEFAULT_EXPIRES_IN,
) -> tuple[str, int]:
    """POST the client-credentials grant to the token URL: the one token request of the tool.

    Form-urlencoded (Moodle refuses JSON, DESIGN.md §6), through the caller's session (the
    bounded outbound client in production: deadline, size cap, address check).

    Returns:
        The access token (never log it) and its lifetime in seconds.

    Raises:
        AgsTransportError: no answer (``kind`` ``timeout``, ``connection`` or the outbound client's).
        TokenRequestError: the platform refused (status, ``Retry-After`` and OAuth error kept).
        InvalidAgsResponseError: the answer is not a token response.
    """
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": " ".join(scopes),
    }
    where = f"the token endpoint {platform.token_url}"
    try:
        resp = session.post(platform.token_url, data=form, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.Timeout as exc:
        raise AgsTransportError(key="did_answer_time", params={"where": where}, kind="timeout") from exc
    except requests.RequestException as exc:
        kind = getattr(exc, "kind", None)  # the outbound client's timeout/too_large/refused_address
        detail = sanitize_message(str(exc), 200) if isinstance(kind, str) else type(exc).__name__
        raise AgsTransportError(
            key="could_reached",
            params={"where": where, "detail": detail},
            kind=kind if isinstance(kind, str) else "connection",
        ) from exc
    body = _json_or_none(resp)
    if resp.status_code != 200:
        oauth = body if isinstance(body, Mapping) else {}
        raise TokenRequestError(
            key="token_request_refused",
            params={"url": platform.token_url, "detail": sanitize_message(resp.text or resp.reason or "", 300)},
            status_code=resp.status_code,
            retry_after=resp.headers.get("Retry-After"),
            phase="token",
            oauth_error=_text_or_none(oauth.get("error")),
            oauth_description=_text_or_none(oauth.get("error_description")),
        )
    token = body.get("access_token") if isinstance(body, Mapping) else None
    if not isinstance(token, str) or not token:
        raise InvalidAgsResponseError(key="did_return_access_token", params={"where": where})
    expires_in = body.get("expires_in")
    if expires_in is None:
        return token, default_expires_in
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, float) and expires_in >= 1:
        expires_in = int(expires_in)
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
        raise InvalidAgsResponseError(key="returned_invalid_expires", params={"where": where})
    return token, expires_in


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _text_or_none(value: Any) -> str | None:
    return str(value) if value else None


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
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}

    def get(self, key: tuple[str, str, str]) -> CachedToken | None:
        """See ``TokenCache.get``."""
        now = self._monotonic()
        hit = self._memo.get(key)  # one dict read: atomic, no lock needed
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # the threads that miss together wait for one read of the shared cache
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
    """``TokenProvider``: the one client-credentials token client (AGS, NRPS, every service call).

    Args:
        signing: the tool's current signing key.
        cache: where tokens are kept (the ``service_tokens`` table in production, shared by every
            process; ``LocalTokenMemo`` in front of it for the worker).
        session: the HTTP session; production passes the bounded outbound client.
        clock: current UTC time.
        timeout: timeout of the token request (the outbound client adds its total deadline).
        margin_seconds: a token is renewed this long before the platform's expiry; a token that
            lives less than twice the margin is renewed after half its life.
        default_expires_in: lifetime of a token whose response names none (Security Framework
            §4.1: platforms SHOULD issue 1-hour tokens).
        failure_cache_seconds: a refused (4xx, not 429) request is replayed from memory this long
            instead of being repeated for every outbox item of a misconfigured platform; 0: never.
        jti_factory: unique assertion ids.
    """

    def __init__(
        self,
        signing: SigningKeyProvider,
        cache: TokenCache,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = utc_now,
        timeout: float | tuple[float, float] = (3.05, 10.0),
        margin_seconds: float = 60.0,
        default_expires_in: int = DEFAULT_EXPIRES_IN,
        failure_cache_seconds: float = 30.0,
        jti_factory: Callable[[], str] = new_jti,
    ) -> None:
        self._signing = signing
        self._cache = cache
        self._session = session or make_session()
        self._clock = clock
        self._timeout = timeout
        self._margin = timedelta(seconds=margin_seconds)
        self._default_expires_in = default_expires_in
        self._failure_ttl = timedelta(seconds=failure_cache_seconds)
        self._jti_factory = jti_factory
        #: key -> (until, error): a refused token request is not repeated for every outbox
        #: item of a misconfigured platform (thousands of requests); it is replayed until then.
        self._failures: dict[tuple[str, str, str], tuple[datetime, TokenRequestError]] = {}
        self._normalised: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        #: Number of token requests made (observability and tests).
        self.requests_made = 0

    def _lock_for(self, key: tuple[str, str, str]) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def get_token(
        self, platform: PlatformEndpoints, scopes: Iterable[str], *, force_refresh: bool = False
    ) -> str:
        """See ``sync.ports.TokenProvider.get_token``; ``force_refresh`` ignores the cache (after a 401)."""
        wanted = self._normalised.get(scopes) if isinstance(scopes, tuple) else None
        if wanted is None:
            wanted = normalise_scopes(scopes)
            if isinstance(scopes, tuple) and len(self._normalised) < 256:
                self._normalised[scopes] = wanted  # the AGS client asks with one tuple per score
        key = (platform.issuer, platform.client_id, " ".join(wanted))  # = cache_key(platform, wanted)
        seen_before_lock: CachedToken | None = None
        if force_refresh:
            seen_before_lock = self._cache.get(key)
        else:
            cached = self._usable(self._cache.get(key))
            if cached is not None:
                return cached
        with self._lock_for(key):
            failure = self._failures.get(key)
            if failure is not None and not force_refresh and self._clock() < failure[0]:
                raise _replayed(failure[1])
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
                token = self._request(platform, wanted)
            except TokenRequestError as exc:
                if 400 <= exc.status_code < 500 and exc.status_code != 429 and self._failure_ttl:
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
        """The token while it is usable: until its expiry minus the margin, or half its life when short."""
        if token is None:
            return None
        until = token.expires_at - self._margin
        if token.obtained_at is not None:
            lifetime = token.expires_at - token.obtained_at
            if lifetime <= 2 * self._margin:
                until = token.obtained_at + lifetime / 2
        return token.access_token if until > self._clock() else None

    def _request(self, platform: PlatformEndpoints, scopes: tuple[str, ...]) -> CachedToken:
        now = self._clock()
        assertion = build_client_assertion(platform, self._signing, now=now, jti_factory=self._jti_factory)
        self.requests_made += 1
        access_token, expires_in = request_token(
            self._session,
            platform,
            assertion,
            scopes,
            timeout=self._timeout,
            default_expires_in=self._default_expires_in,
        )
        logger.info(
            "service token obtained from %s (client %s, %d scopes, valid %d s)",
            platform.issuer,
            platform.client_id,
            len(scopes),
            expires_in,
            extra={"action": "service_token_obtained", "platform": platform.key, "expires_in": expires_in},
        )
        return CachedToken(
            access_token=access_token, expires_at=now + timedelta(seconds=expires_in), obtained_at=now
        )


def _replayed(err: TokenRequestError) -> TokenRequestError:
    """A fresh copy of a remembered refusal (an exception object is not raised twice)."""
    return TokenRequestError(
        err.message if err.key is None else None,
        key=err.key,
        params=err.params,
        status_code=err.status_code,
        retry_after=err.retry_after,
        phase="token",
        oauth_error=err.oauth_error,
        oauth_description=err.oauth_description,
    )
