"""OAuth2 service tokens for LTI Advantage services (AGS, NRPS).

1EdTech Security Framework 1.0 §4.1 (client credentials grant with a JWT assertion, RFC 7523):
the tool signs a short-lived JWT (``iss`` = ``sub`` = client_id, ``aud`` = the platform's
authorization server or token URL, fresh ``jti``) with its active key and swaps it for a bearer
token at the platform's token endpoint (form-urlencoded; Moodle refuses JSON, DESIGN.md §6).

Tokens are cached in the ``service_tokens`` table keyed by (issuer, client_id, sorted scopes),
so every web process and sync worker shares them, until ``expires_in`` minus a safety margin.
The released pylti1p3 2.0.2 keys its cache without client_id (two registrations of one issuer
would swap tokens); we key with it (DESIGN.md §5.1).

Access tokens and assertions are never logged, and never part of an error message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import jwt
import requests
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from lti_tool.errors import AppError
from lti_tool.keys import KeyStore
from lti_tool.outbound import OutboundClient, ServiceUrlRefused, check_service_url
from lti_tool.storage import Database
from lti_tool.storage.models import ServiceToken, utcnow

logger = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = timedelta(minutes=5)
DEFAULT_EXPIRES_IN = 3600  # Security Framework §4.1: platforms SHOULD issue 1-hour tokens.

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
TOOL_SCOPES: tuple[str, ...] = (
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    SCOPE_NRPS,
)


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


def normalise_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Sorted, de-duplicated, non-empty scopes: the cache key does not depend on their order."""
    return tuple(sorted({s.strip() for s in scopes if s and s.strip()}))


def cache_key(issuer: str, client_id: str, scopes: Iterable[str]) -> str:
    """SHA-256 of (issuer, client_id, sorted scopes), the ``service_tokens`` primary key."""
    raw = json.dumps([issuer, client_id, list(normalise_scopes(scopes))], separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def build_client_assertion(
    platform: PlatformEndpoint,
    keys: KeyStore,
    *,
    now: datetime,
    jti: str,
) -> str:
    """The signed JWT the tool authenticates with (Security Framework §4.1.1, RFC 7523 §3).

    Args:
        platform: the registration (client_id, token URL, optional authorization server).
        keys: the tool's key store; the active key signs, its ``kid`` goes in the header.
        now: issue time.
        jti: a fresh unique id (platforms may refuse replays).

    Returns:
        The compact RS256 JWT.
    """
    signing = keys.signing_key()
    audience = platform.auth_audience or platform.auth_token_url
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ASSERTION_LIFETIME).timestamp()),
        "jti": jti,
    }
    return jwt.encode(claims, signing.private_key, algorithm="RS256", headers={"kid": signing.kid})


class ServiceTokens:
    """Get (and cache) service tokens; make authorised requests that retry once on 401.

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
        jti_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.db = db
        self.keys = keys
        self.timeout = timeout
        self.http = session or OutboundClient()
        self.clock = clock
        self.margin = timedelta(seconds=margin_seconds)
        self.jti_factory = jti_factory

    # -- cache -----------------------------------------------------------------------------

    def _cached(self, key: str, now: datetime) -> str | None:
        with self.db.session() as s:
            row = s.get(ServiceToken, key)
            if row is not None and row.expires_at > now:
                return row.access_token
        return None

    def _store(self, platform: PlatformEndpoint, scopes: tuple[str, ...], token: str, expires_at: datetime) -> None:
        key = cache_key(platform.issuer, platform.client_id, scopes)
        values = {
            "issuer": platform.issuer,
            "client_id": platform.client_id,
            "scopes": " ".join(scopes),
            "access_token": token,
            "expires_at": expires_at,
            "created_at": self.clock(),
        }
        for _attempt in range(2):
            try:
                with self.db.session() as s:
                    row = s.get(ServiceToken, key)
                    if row is None:
                        s.add(ServiceToken(cache_key=key, **values))
                    else:
                        for name, value in values.items():
                            setattr(row, name, value)
                return
            except IntegrityError:
                # Another process stored a token for the same key first: overwrite it next round.
                continue

    def purge_expired(self) -> int:
        """Delete expired cached tokens; returns how many (run it from a periodic job)."""
        with self.db.session() as s:
            result = s.execute(delete(ServiceToken).where(ServiceToken.expires_at <= self.clock()))
        return int(getattr(result, "rowcount", 0) or 0)

    def invalidate(self, platform: PlatformEndpoint, scopes: Iterable[str]) -> None:
        """Forget the cached token for (platform, scopes)."""
        key = cache_key(platform.issuer, platform.client_id, scopes)
        with self.db.session() as s:
            row = s.get(ServiceToken, key)
            if row is not None:
                s.delete(row)

    # -- token endpoint --------------------------------------------------------------------

    def _request_token(self, platform: PlatformEndpoint, scopes: tuple[str, ...], now: datetime) -> tuple[str, int]:
        assertion = build_client_assertion(platform, self.keys, now=now, jti=self.jti_factory())
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        }
        try:
            response = self.http.post(
                platform.auth_token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise TokenEndpointUnreachable(f"the token endpoint of {platform.issuer} did not answer in time") from exc
        except requests.RequestException as exc:
            raise TokenEndpointUnreachable(
                f"the token endpoint of {platform.issuer} could not be reached ({_failure(exc)})"
            ) from exc
        body = _json_or_none(response)
        if response.status_code != 200:
            oauth_error = body.get("error") if isinstance(body, Mapping) else None
            description = body.get("error_description") if isinstance(body, Mapping) else None
            hint = ""
            if oauth_error == "invalid_scope":
                hint = "; enable the grade and roster services for this tool in the LMS"
            elif oauth_error in {"invalid_client", "unauthorized_client"}:
                hint = "; check that the LMS has this tool's public key set URL and the right client id"
            raise TokenRequestRefused(
                f"{platform.issuer} refused a service token (HTTP {response.status_code}"
                f"{', ' + str(oauth_error) if oauth_error else ''}"
                f"{': ' + str(description)[:200] if description else ''}){hint}",
                oauth_error=str(oauth_error) if oauth_error else None,
                http_status=response.status_code,
            )
        if not isinstance(body, Mapping) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
            raise TokenResponseInvalid(f"the token endpoint of {platform.issuer} did not return an access_token")
        expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            raise TokenResponseInvalid(f"the token endpoint of {platform.issuer} returned an invalid expires_in")
        return body["access_token"], expires_in

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
        """
        wanted = normalise_scopes(scopes)
        key = cache_key(platform.issuer, platform.client_id, wanted)
        now = self.clock()
        if not force_refresh:
            cached = self._cached(key, now)
            if cached is not None:
                return cached
        token, expires_in = self._request_token(platform, wanted, now)
        lifetime = timedelta(seconds=expires_in)
        # Keep a margin so a token never expires in flight; short-lived tokens keep half their life.
        usable = lifetime - self.margin if lifetime > 2 * self.margin else lifetime / 2
        self._store(platform, wanted, token, now + usable)
        logger.info(
            "service token obtained from %s (client %s, %d scopes, valid %d s)",
            platform.issuer,
            platform.client_id,
            len(wanted),
            expires_in,
            extra={"action": "service_token_obtained"},
        )
        return token

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


def _failure(exc: requests.RequestException) -> str:
    """The outbound client's own words (never a port-revealing socket error), else the class name."""
    return str(exc) if isinstance(getattr(exc, "kind", None), str) else exc.__class__.__name__


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
