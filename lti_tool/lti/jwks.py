"""Platform public keys: fetched over HTTP, parsed once, cached in process memory with a TTL.

A ``kid`` the cache does not know triggers one re-fetch (platforms rotate keys), rate-limited
per key set URL by ``lti.jwks_refetch_min_interval_seconds`` so a stream of tokens with a bogus
``kid`` cannot make the tool hammer the platform. Security Framework 1.0 §6.3 (key set URL).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

from lti_tool.lti.errors import AuthenticationFailed, KeySetUnavailable
from lti_tool.outbound import OutboundClient

logger = logging.getLogger(__name__)

FetchJwks = Callable[[str, float], Mapping[str, Any]]


class UnknownKid(AuthenticationFailed):
    """The LMS signed with a key it does not publish. Open the activity again; if it persists, tell your LMS admin."""

    code = "unknown_kid"


class JwksUnavailable(KeySetUnavailable):
    """The LMS's public keys could not be fetched. Try again in a minute; if it persists, tell your LMS admin."""

    code = "jwks_unavailable"


def http_fetch_jwks(url: str, timeout: float, *, session: requests.Session | None = None) -> Mapping[str, Any]:
    """GET a JWKS document through the outbound client (deadline, size cap, address check).

    Args:
        url: the platform's key set URL.
        timeout: per-read timeout (the client adds its total deadline).
        session: the outbound client (``Services.http``); a fresh strict one when omitted.

    Raises:
        JwksUnavailable: network error, timeout, refused address, too large, non-200 or not a key set.
    """
    http = session or OutboundClient()
    try:
        response = http.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        kind = getattr(exc, "kind", None)
        detail = str(exc) if isinstance(kind, str) else exc.__class__.__name__
        raise JwksUnavailable(f"the LMS key set at {url} could not be read ({detail}); try again shortly") from exc
    if response.status_code != 200:
        raise JwksUnavailable(f"the LMS key set at {url} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise JwksUnavailable(f"the LMS key set at {url} is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksUnavailable(f"the LMS key set at {url} has no 'keys' list")
    return data


def parse_jwks(document: Mapping[str, Any]) -> dict[str, Any]:
    """``kid`` → public key object for every RS256-usable RSA signing key in a JWKS."""
    keys: dict[str, Any] = {}
    for jwk in document.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        try:
            keys[str(jwk["kid"])] = jwt.PyJWK(jwk, algorithm="RS256").key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            logger.warning("ignoring an unreadable key in a platform key set", extra={"action": "jwks_bad_key"})
    return keys


@dataclass
class _Entry:
    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    last_attempt: float = float("-inf")
    failed: bool = False


class PlatformKeyCache:
    """Parsed platform keys per key set URL.

    Args:
        ttl_seconds: how long a fetched key set is used before it is fetched again.
        refetch_min_interval_seconds: minimum time between two fetches of one URL triggered
            by an unknown ``kid``.
        timeout_seconds: per-read HTTP timeout of a fetch (the client adds its total deadline).
        fetch: ``(url, timeout) -> JWKS document`` (tests inject a fake).
        session: the outbound client used by the default ``fetch`` (``Services.http``).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        refetch_min_interval_seconds: float,
        timeout_seconds: float,
        fetch: FetchJwks | None = None,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        self.ttl = ttl_seconds
        self.min_interval = refetch_min_interval_seconds
        self.timeout = timeout_seconds
        self.http = session or OutboundClient()
        self.fetch: FetchJwks = fetch or (lambda url, timeout: http_fetch_jwks(url, timeout, session=self.http))
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}
        self.fetch_count = 0

    def _refresh(self, url: str, entry: _Entry, now: float) -> None:
        entry.last_attempt = now
        self.fetch_count += 1
        document = self.fetch(url, self.timeout)
        entry.keys = parse_jwks(document)
        entry.fetched_at = now
        entry.failed = False
        logger.info("platform key set fetched (%d keys)", len(entry.keys), extra={"action": "jwks_fetched"})

    def key_for(self, url: str, kid: str) -> Any:
        """The public key ``kid`` of the key set at ``url``.

        Raises:
            UnknownKid: the key set (re-fetched at most once per interval) has no such key.
            JwksUnavailable: the key set could not be fetched and no cached copy holds ``kid``.
        """
        now = self.clock()
        entry = self._entries.get(url)
        if entry is not None and now - entry.fetched_at < self.ttl and kid in entry.keys:
            return entry.keys[kid]
        with self._lock:  # short: only finds or creates the URL's entry and lock
            entry = self._entries.setdefault(url, _Entry())
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        # One fetch at a time per key set URL; other platforms' launches are never held up.
        with url_lock:
            now = self.clock()
            fresh = now - entry.fetched_at < self.ttl
            if not fresh:
                if entry.failed and now - entry.last_attempt < self.min_interval:
                    # The last fetch failed moments ago: do not hammer a struggling LMS.
                    if kid in entry.keys:
                        return entry.keys[kid]
                    raise JwksUnavailable("the LMS key set could not be fetched a moment ago; try again in a minute")
                try:
                    self._refresh(url, entry, now)
                except JwksUnavailable:
                    entry.failed = True
                    if kid in entry.keys:  # serve the stale copy rather than fail during an LMS blip
                        logger.warning("using a stale platform key set", extra={"action": "jwks_stale"})
                        return entry.keys[kid]
                    raise
            elif kid not in entry.keys and now - entry.last_attempt >= self.min_interval:
                try:
                    self._refresh(url, entry, now)
                except JwksUnavailable:
                    entry.failed = True
                    raise
            if kid in entry.keys:
                return entry.keys[kid]
        raise UnknownKid(
            f"the LMS signed this launch with key '{kid}', which its key set does not publish; "
            "open the activity again in a minute, and if it persists tell your LMS administrator "
            "(the platform's key set URL may be wrong)"
        )

    def clear(self) -> None:
        """Forget every cached key set."""
        with self._lock:
            self._entries.clear()
