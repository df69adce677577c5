"""OAuth2 service tokens for LTI Advantage services (NRPS, AGS) in the web app and the CLI.

1EdTech Security Framework 1.0 §4.1 (client credentials grant with a JWT assertion, RFC 7523).
The client itself is ``sync.tokens.ClientCredentialsTokenProvider``, the one the grade worker
uses too: one assertion, one cache key, one token request. This module gives it

* ``DbTokenCache``: the ``service_tokens`` table as its cache, shared by every web process and
  sync worker, keyed by SHA-256 of (issuer, client_id, sorted scopes) (DESIGN.md §5.1);
* ``KeyStoreSigning``: the tool's ``KeyStore`` as its signing key;
* ``ServiceTokens``: the web app's face of it: the errors below (an ``AppError`` each, with a hint
  for the admin), the registered-hosts check of service URLs and authorised requests that retry
  once on 401.

Access tokens and assertions are never logged, and never part of an error message.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

import requests
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from lti_tool.errors import AppError
from lti_tool.keys import KeyError_, KeyStore
from lti_tool.outbound import OutboundClient, ServiceUrlRefused, check_service_url
from lti_tool.storage import Database
from lti_tool.storage.models import ServiceToken, utcnow
from sync.errors import AgsTransportError, InvalidAgsResponseError, SigningKeyError, TokenRequestError
from sync.lti_claims import (
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_NRPS,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    TOOL_SCOPES,
)
from sync.ports import CachedToken, PlatformEndpoints, SigningKey
from sync.tokens import CLIENT_ASSERTION_TYPE, ClientCredentialsTokenProvider, new_jti, normalise_scopes
from sync.tokens import cache_key as token_key

logger = logging.getLogger(__name__)

ASSERTION_TYPE = CLIENT_ASSERTION_TYPE

__all__ = [
    "ASSERTION_TYPE",
    "SCOPE_LINEITEM",
    "SCOPE_LINEITEM_READONLY",
    "SCOPE_NRPS",
    "SCOPE_RESULT_READONLY",
    "SCOPE_SCORE",
    "TOOL_SCOPES",
    "DbTokenCache",
    "KeyStoreSigning",
    "PlatformEndpoint",
    "ServiceTokens",
    "ServiceUrlNotRegistered",
    "TokenEndpointUnreachable",
    "TokenError",
    "TokenRequestRefused",
    "TokenResponseInvalid",
    "cache_key",
    "endpoints_of",
    "normalise_scopes",
]


class TokenError(AppError):
    """The platform did not give us a service token."""

    code = "service_token_error"
    status = 502
    #: True when retrying later may help (network, 5xx); False when an admin must act.
    transient = False


class TokenEndpointUnreachable(TokenError):
    """The platform's token endpoint did not answer."""

    code = "token_endpoint_unreachable"
    transient = True


class TokenRequestRefused(TokenError):
    """The platform refused to issue a service token."""

    code = "token_request_refused"

    def __init__(self, message: str, *, oauth_error: str | None, http_status: int) -> None:
        super().__init__(message)
        self.oauth_error = oauth_error
        self.http_status = http_status
        self.transient = http_status >= 500 or http_status == 429


class TokenResponseInvalid(TokenError):
    """The platform's token endpoint answered with something that is not a token response."""

    code = "token_response_invalid"


class ServiceUrlNotRegistered(TokenError):
    """A service URL from a launch is not on the platform's registered hosts; no token was sent."""

    code = ServiceUrlRefused.code


class PlatformEndpoint(Protocol):
    """What token requests need from a platform registration (``storage.models.Platform`` fits)."""

    issuer: str
    client_id: str
    auth_token_url: str
    auth_audience: str | None


def endpoints_of(platform: PlatformEndpoint, key: str | None = None) -> PlatformEndpoints:
    """The token client's view of a registration; ``key`` defaults to the row id (as in the outbox)."""
    row_id = getattr(platform, "id", None)
    return PlatformEndpoints(
        key=key or (str(row_id) if row_id is not None else platform.issuer),
        issuer=platform.issuer,
        client_id=platform.client_id,
        token_url=platform.auth_token_url,
        token_audience=platform.auth_audience or None,
    )


def cache_key(issuer: str, client_id: str, scopes: Iterable[str]) -> str:
    """SHA-256 of (issuer, client_id, sorted scopes), the ``service_tokens`` primary key."""
    raw = json.dumps([issuer, client_id, list(normalise_scopes(scopes))], separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class KeyStoreSigning:
    """``sync.ports.SigningKeyProvider`` over the tool's ``KeyStore`` (follows rotations)."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    def current_signing_key(self) -> SigningKey:
        """See ``sync.ports.SigningKeyProvider.current_signing_key``.

        Raises:
            SigningKeyError: no active key, or its file is missing or unsafe.
        """
        try:
            key = self._keys.signing_key()
        except KeyError_ as exc:
            raise SigningKeyError(str(exc)) from exc
        return SigningKey(kid=key.kid, private_key=key.private_key)


class DbTokenCache:
    """``sync.ports.TokenCache`` over the ``service_tokens`` table, shared by NRPS, AGS and every process.

    Rows are keyed by ``cache_key`` (SHA-256 of issuer, client_id and sorted scopes), so a worker
    and a web node asking for the same scopes reuse one token. ``expires_at`` is the platform's
    expiry, ``created_at`` when the token was obtained; the client applies its margin on reading.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _row_key(key: tuple[str, str, str]) -> str:
        issuer, client_id, scopes = key
        return cache_key(issuer, client_id, scopes.split())

    def get(self, key: tuple[str, str, str]) -> CachedToken | None:
        """The cached token or None (expired rows are left for the purge)."""
        with self.db.session() as s:
            row = s.get(ServiceToken, self._row_key(key))
            if row is None:
                return None
            return CachedToken(access_token=row.access_token, expires_at=row.expires_at, obtained_at=row.created_at)

    def put(self, key: tuple[str, str, str], token: CachedToken) -> None:
        """Store (replace) a token."""
        issuer, client_id, scopes = key
        row_key = self._row_key(key)
        for _attempt in range(2):  # two processes may insert the same key at once
            try:
                with self.db.session() as s:
                    row = s.get(ServiceToken, row_key)
                    if row is None:
                        row = ServiceToken(cache_key=row_key, issuer=issuer, client_id=client_id)
                        s.add(row)
                    row.scopes = " ".join(normalise_scopes(scopes.split()))
                    row.access_token = token.access_token
                    row.expires_at = token.expires_at
                    row.created_at = token.obtained_at or utcnow()
                return
            except IntegrityError:
                continue  # another process stored the key first: overwrite it next round

    def invalidate(self, key: tuple[str, str, str]) -> None:
        """Forget a token (after a 401)."""
        with self.db.session() as s:
            row = s.get(ServiceToken, self._row_key(key))
            if row is not None:
                s.delete(row)

    def purge_expired(self, now: datetime) -> int:
        """Delete the tokens expired at ``now``; returns how many."""
        with self.db.session() as s:
            result = s.execute(delete(ServiceToken).where(ServiceToken.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)


class ServiceTokens:
    """Service tokens for the web app: ``ClientCredentialsTokenProvider`` over ``DbTokenCache``.

    Args:
        db: storage holding the shared ``service_tokens`` cache.
        keys: the tool's key store.
        timeout: per-read timeout of every HTTP call (the client adds its total deadline).
        session: the outbound client (``Services.http``); a plain session only in tests.
        clock: current UTC time.
        margin_seconds: a token is renewed this long before the platform's expiry.
        jti_factory: unique assertion ids.
    """

    def __init__(
        self,
        db: Database,
        keys: KeyStore,
        *,
        timeout: float,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = utcnow,
        margin_seconds: int = 60,
        jti_factory: Callable[[], str] = new_jti,
    ) -> None:
        self.db = db
        self.keys = keys
        self.timeout = timeout
        self.http = session or OutboundClient()
        self.clock = clock
        self.cache = DbTokenCache(db)
        #: The one token client; a refusal is not remembered here: an admin who fixed the LMS
        #: retries at once.
        self.provider = ClientCredentialsTokenProvider(
            KeyStoreSigning(keys),
            self.cache,
            session=self.http,
            clock=clock,
            timeout=timeout,
            margin_seconds=margin_seconds,
            failure_cache_seconds=0,
            jti_factory=jti_factory,
        )

    def purge_expired(self) -> int:
        """Delete expired cached tokens; returns how many (run it from a periodic job)."""
        return self.cache.purge_expired(self.clock())

    def invalidate(self, platform: PlatformEndpoint, scopes: Iterable[str]) -> None:
        """Forget the cached token for (platform, scopes)."""
        self.cache.invalidate(token_key(endpoints_of(platform), scopes))

    def get_token(self, platform: PlatformEndpoint, scopes: Iterable[str], *, force_refresh: bool = False) -> str:
        """A bearer token for ``scopes`` at ``platform``, from the shared cache when still valid.

        Args:
            platform: the registration.
            scopes: the service scopes wanted (order does not matter).
            force_refresh: ignore the cache (the one retry after a 401).

        Returns:
            The access token (never log it).

        Raises:
            TokenEndpointUnreachable: network failure or timeout.
            TokenRequestRefused: the platform answered with an OAuth error.
            TokenResponseInvalid: the answer was not a token response.
            lti_tool.keys.KeyError_: the tool has no usable signing key.
        """
        try:
            return self.provider.get_token(endpoints_of(platform), scopes, force_refresh=force_refresh)
        except SigningKeyError as exc:
            if isinstance(exc.__cause__, KeyError_):
                raise exc.__cause__ from None
            raise
        except AgsTransportError as exc:
            raise _unreachable(platform.issuer, exc) from exc
        except TokenRequestError as exc:
            raise _refused(platform.issuer, exc) from exc
        except InvalidAgsResponseError as exc:
            raise TokenResponseInvalid(exc.message) from exc

    def check_service_url(self, url: str, platform: PlatformEndpoint) -> None:
        """Refuse a service URL that is not on the platform's registered hosts (DESIGN.md §5 decision 9).

        The registered hosts are those of the issuer, login, token, audience and key set URLs;
        ``outbound.service_hosts`` adds hosts for every platform.

        Raises:
            ServiceUrlNotRegistered: the URL is elsewhere; the caller must not send the token.
        """
        registered = [
            getattr(platform, name, None)
            for name in ("issuer", "auth_login_url", "auth_token_url", "auth_audience", "key_set_url")
        ]
        policy = getattr(self.http, "policy", None)
        extra = tuple(getattr(policy, "service_hosts", ()) or ())
        try:
            check_service_url(url, registered_urls=[u for u in registered if isinstance(u, str)], extra_hosts=extra)
        except ServiceUrlRefused as exc:
            logger.warning(
                "service URL refused for %s: %s", platform.issuer, exc, extra={"action": "service_url_refused"}
            )
            raise ServiceUrlNotRegistered(str(exc)) from exc

    def authorized_request(
        self,
        method: str,
        url: str,
        *,
        platform: PlatformEndpoint,
        scopes: Iterable[str],
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """An HTTP request with a service token; on 401 the token is refreshed and the call retried once.

        Args:
            method: HTTP method.
            url: service URL (AGS line item, NRPS memberships...).
            platform: the registration.
            scopes: the scopes the call needs.
            headers: extra headers (``Accept``, ``Content-Type``).
            **kwargs: passed to ``requests`` (``json``, ``data``, ``params``); ``timeout`` is always set.

        Returns:
            The platform's response (any status: callers map it).

        Raises:
            ServiceUrlNotRegistered: ``url`` is not on the platform's registered hosts (nothing sent).
            TokenError: no token could be obtained.
            requests.RequestException: the service itself could not be reached.
        """
        self.check_service_url(url, platform)
        wanted = normalise_scopes(scopes)
        timeout = kwargs.pop("timeout", self.timeout)
        response: requests.Response | None = None
        for force in (False, True):
            token = self.get_token(platform, wanted, force_refresh=force)
            merged = {**(headers or {}), "Authorization": f"Bearer {token}"}
            response = self.http.request(method, url, headers=merged, timeout=timeout, **kwargs)
            if response.status_code != 401:
                return response
            logger.info(
                "service call to %s answered 401%s",
                platform.issuer,
                "; retrying once with a fresh token" if not force else " again with a fresh token",
                extra={"action": "service_token_rejected"},
            )
        if response is None:  # pragma: no cover - the loop runs at least once
            raise TokenResponseInvalid("no request was made")
        return response


def _unreachable(issuer: str, exc: AgsTransportError) -> TokenEndpointUnreachable:
    if exc.kind == "timeout":
        return TokenEndpointUnreachable(f"the token endpoint of {issuer} did not answer in time")
    cause = exc.__cause__
    detail = str(cause) if isinstance(getattr(cause, "kind", None), str) else type(cause).__name__
    return TokenEndpointUnreachable(f"the token endpoint of {issuer} could not be reached ({detail})")


def _refused(issuer: str, exc: TokenRequestError) -> TokenRequestRefused:
    oauth_error, description = exc.oauth_error, exc.oauth_description
    hint = ""
    if oauth_error == "invalid_scope":
        hint = "; enable the grade and roster services for this tool in the LMS"
    elif oauth_error in {"invalid_client", "unauthorized_client"}:
        hint = "; check that the LMS has this tool's public key set URL and the right client id"
    return TokenRequestRefused(
        f"{issuer} refused a service token (HTTP {exc.status_code}"
        f"{', ' + oauth_error if oauth_error else ''}"
        f"{': ' + description[:200] if description else ''}){hint}",
        oauth_error=oauth_error,
        http_status=exc.status_code,
    )
