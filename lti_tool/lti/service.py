"""The LTI launch service: OIDC login initiation and launch completion, framework-free.

The web layer (``lti_tool.web.lti``) parses requests, calls these methods and maps errors;
everything with a rule lives here or in ``validation``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from lti_tool.lti import launches, platforms
from lti_tool.lti.context import Launch
from lti_tool.lti.errors import LaunchSessionError, LoginRejected, TenantRefused
from lti_tool.lti.jwks import PlatformKeyCache
from lti_tool.lti.launches import LoginRequestInfo
from lti_tool.lti.platforms import PlatformInfo
from lti_tool.lti.validation import (
    LaunchCheck,
    LoginRecord,
    PlatformDisabled,
    PlatformPending,
    UnknownIssuer,
    ValidatedToken,
    validate_launch,
)
from lti_tool.settings import Settings
from lti_tool.storage import Database
from lti_tool.storage.models import utcnow
from lti_tool.tokens import PURPOSE_LAUNCH, ScopedSigner, TokenExpired, TokenInvalid

logger = logging.getLogger(__name__)

LAUNCH_SESSION_SECONDS = 8 * 3600
"""How long a launch (and its launch-scoped token) stays usable by /play and /class pages."""

PURGE_EVERY_LOGINS = 500
"""Every this many logins a node deletes expired login states and launches (one DELETE each)."""

RECENT_LAUNCHES = 4096
"""Launches kept in process memory after they complete (the learner's next page is served from it)."""

REGISTRY_CACHE_SECONDS = 5.0
"""How long an issuer's registrations are reused from memory. Changes made in this process apply
at once; changes made elsewhere (CLI, another web node) apply within this time."""


class MissingLoginParameter(LoginRejected):
    """The LMS's login request misses a required parameter."""

    code = "missing_login_parameter"


class InvalidTargetLinkUri(LoginRejected):
    """The LMS asked to open a link that is not part of this tool."""

    code = "invalid_target_link_uri"


class AmbiguousClientId(LoginRejected):
    """The LMS did not say which registration (client_id) to use, and it has several."""

    code = "ambiguous_client_id"


class UnknownClientId(TenantRefused):
    """This LMS registration (client_id) is not known to CBSI-Connect."""

    code = "unknown_client_id"


@dataclass(frozen=True, kw_only=True)
class LoginStart:
    """The outcome of ``/lti/login``: where to send the browser, and the state to bind."""

    state: str
    nonce: str
    redirect_url: str
    platform: PlatformInfo
    storage_target: str | None
    storage_value: str
    platform_origin: str


def add_query(url: str, params: Mapping[str, str]) -> str:
    """Append query parameters to a URL that may carry its own query string."""
    separator = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{separator}{urlencode(params)}"


class LtiService:
    """Login and launch.

    Args:
        settings: service settings (base URL, leeway, TTLs).
        db: storage.
        secret_key: the application secret (launch tokens, platform storage values).
        key_cache: the platform key cache.
        supported_message_types: callable returning the message types with a handler.
        clock: current UTC time.
        token_factory: random token generator (state, nonce, launch id).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        secret_key: str,
        key_cache: PlatformKeyCache,
        supported_message_types: Callable[[], frozenset[str]],
        clock: Callable[[], datetime] = utcnow,
        token_factory: Callable[[int], str] = secrets.token_urlsafe,
        registry_cache_seconds: float = REGISTRY_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.db = db
        self.key_cache = key_cache
        self.supported_message_types = supported_message_types
        self.clock = clock
        self.token_factory = token_factory
        self.registry_cache_seconds = registry_cache_seconds
        self.monotonic = monotonic
        self._registry: dict[str, tuple[int, float, tuple[PlatformInfo, ...]]] = {}
        # Launches completed on this node, so the page right after the launch needs no query.
        self._recent: OrderedDict[str, tuple[datetime, Launch]] = OrderedDict()
        self._recent_logins: OrderedDict[str, LoginRecord] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._logins = 0
        self._secret = secret_key.encode("utf-8")
        self._launch_signer = ScopedSigner(
            secret_key, PURPOSE_LAUNCH, LAUNCH_SESSION_SECONDS, clock=lambda: self.clock().timestamp()
        )
        base = settings.server.base_url.rstrip("/")
        self.base_url = base
        self.launch_url = base + "/lti/launch"
        self.login_url = base + "/lti/login"
        self.cookie_args: dict[str, Any] = {}  # set by the web layer (cookie attributes for base_url)

    # -- registrations --------------------------------------------------------------------------

    def registrations(self, issuer: str) -> tuple[PlatformInfo, ...]:
        """The registrations of ``issuer``, from a short-lived in-process cache."""
        now, gen = self.monotonic(), platforms.generation()
        cached = self._registry.get(issuer)
        if cached is not None and cached[0] == gen and now - cached[1] < self.registry_cache_seconds:
            return cached[2]
        found = platforms.platforms_for_issuer(self.db, issuer)
        if len(self._registry) > 10_000:  # unknown issuers must not grow it without bound
            self._registry.clear()
        self._registry[issuer] = (gen, now, found)
        return found

    # -- login --------------------------------------------------------------------------------

    def resolve_platform(self, issuer: str, client_id: str | None) -> PlatformInfo:
        """The registration a login names (issuer + client_id; the only active one when no client_id).

        Raises:
            UnknownIssuer, UnknownClientId, AmbiguousClientId, PlatformPending, PlatformDisabled.
        """
        regs = self.registrations(issuer)
        if not regs:
            raise UnknownIssuer(
                f"the LMS {issuer} is not registered with CBSI-Connect; its administrator must register the tool"
            )
        if client_id:
            match = [r for r in regs if r.client_id == client_id]
            if not match:
                raise UnknownClientId(
                    f"the LMS {issuer} has no CBSI-Connect registration with client id {client_id}; "
                    "ask the CBSI-Connect operator to register it"
                )
            platform = match[0]
        else:
            active = [r for r in regs if r.is_active]
            if len(active) == 1:
                platform = active[0]
            elif len(active) > 1:
                raise AmbiguousClientId(
                    f"the LMS {issuer} has {len(active)} registrations with CBSI-Connect and did not send "
                    "client_id; configure the LMS to send client_id in the login request"
                )
            else:
                platform = regs[0]
        if platform.status == "pending":
            raise PlatformPending(
                f"your LMS's registration ({platform.name}) is waiting for approval by the CBSI-Connect operator"
            )
        if not platform.is_active:
            raise PlatformDisabled(
                f"your LMS's access ({platform.name}) is disabled; contact the CBSI-Connect operator"
            )
        return platform

    def storage_value(self, state: str) -> str:
        """The value stored in the platform's client-side storage for ``state`` (HMAC, not guessable)."""
        return hmac.new(self._secret, b"lti-storage:" + state.encode("utf-8"), hashlib.sha256).hexdigest()

    def start_login(self, params: Mapping[str, str]) -> LoginStart:
        """Handle an OIDC third-party initiated login (LTI Core §4.1, Security Framework §5.1.1).

        Raises:
            LoginRejected: missing parameters, unknown platform, foreign target link.
        """
        for name in ("iss", "login_hint", "target_link_uri"):
            if not params.get(name):
                raise MissingLoginParameter(message_key="missing_login_parameter_named", params={"name": name})
        issuer, target = params["iss"], params["target_link_uri"]
        parts, own = urlsplit(target), urlsplit(self.base_url)
        if (parts.scheme, parts.netloc) != (own.scheme, own.netloc):
            raise InvalidTargetLinkUri(
                f"the LMS asked to open {target}, which is not under this tool's address {self.base_url}; "
                "check the tool URL configured in the LMS"
            )
        platform = self.resolve_platform(issuer, params.get("client_id") or None)
        now = self.clock()
        state = self.token_factory(32)
        nonce = self.token_factory(32)
        storage_target = params.get("lti_storage_target") or None
        launches.store_login(
            self.db,
            state=state,
            nonce=nonce,
            issuer=issuer,
            client_id=platform.client_id,
            target_link_uri=target,
            login_hint=params["login_hint"],
            lti_message_hint=params.get("lti_message_hint"),
            deployment_id=params.get("lti_deployment_id") or None,
            storage_target=storage_target,
            now=now,
            expires_at=now + timedelta(seconds=self.settings.lti.launch_state_ttl_seconds),
        )
        self._logins += 1
        if self._logins % PURGE_EVERY_LOGINS == 0:
            removed = launches.purge_expired(self.db, now=now)
            logger.info("purged %d expired login states and launches", removed, extra={"action": "lti_purge"})
        with self._recent_lock:
            self._recent_logins[state] = LoginRecord(
                state=state,
                nonce=nonce,
                issuer=issuer,
                client_id=platform.client_id,
                target_link_uri=target,
                expires_at=now + timedelta(seconds=self.settings.lti.launch_state_ttl_seconds),
            )
            while len(self._recent_logins) > RECENT_LAUNCHES:
                self._recent_logins.popitem(last=False)
        query = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
            "redirect_uri": self.launch_url,
            "login_hint": params["login_hint"],
            "state": state,
            "nonce": nonce,
        }
        if params.get("lti_message_hint"):
            query["lti_message_hint"] = params["lti_message_hint"]  # passed back unchanged (DESIGN.md §6)
        auth = urlsplit(platform.auth_login_url)
        return LoginStart(
            state=state,
            nonce=nonce,
            redirect_url=add_query(platform.auth_login_url, query),
            platform=platform,
            storage_target=storage_target,
            storage_value=self.storage_value(state),
            platform_origin=f"{auth.scheme}://{auth.netloc}",
        )

    # -- launch -------------------------------------------------------------------------------

    def validate(self, id_token: str, state: str) -> tuple[ValidatedToken, LoginRecord]:
        """Validate an id_token against the login ``state`` (every step but the consumption).

        Raises:
            LaunchRejected: with the failing step's code.
        """
        # A login started on this node is read from memory; the single use is still decided by
        # the atomic UPDATE in storage, so a stale copy can never let a replay through.
        with self._recent_lock:
            login = self._recent_logins.get(state)
        if login is None:
            login = launches.load_login(self.db, state)
        check = LaunchCheck(
            id_token=id_token,
            login=login,
            lookup_platforms=self.registrations,
            key_for=self.key_cache.key_for,
            now=self.clock(),
            leeway_seconds=self.settings.lti.clock_leeway_seconds,
            supported_message_types=self.supported_message_types(),
        )
        token = validate_launch(check)
        if login is None:  # validate_launch refuses a missing login first; kept for type narrowing
            raise LaunchSessionError()
        return token, login

    def complete(self, token: ValidatedToken, login: LoginRecord) -> Launch:
        """Consume the login's nonce (once) and store the launch.

        Raises:
            LaunchReplayed: the state was used already.
        """
        now = self.clock()
        launch = launches.build_launch(self.token_factory(18), token)
        expires_at = now + timedelta(seconds=LAUNCH_SESSION_SECONDS)
        try:
            launches.consume_and_record(self.db, login=login, launch=launch, now=now, expires_at=expires_at)
        finally:
            with self._recent_lock:
                self._recent_logins.pop(login.state, None)
        with self._recent_lock:
            self._recent[launch.id] = (expires_at, launch)
            while len(self._recent) > RECENT_LAUNCHES:
                self._recent.popitem(last=False)
        logger.info(
            "launch %s accepted (platform %s, %s)",
            launch.id,
            launch.platform_id,
            launch.message_type,
            extra={"action": "launch_accepted"},
        )
        return launch

    def login_request(self, state: str) -> LoginRequestInfo | None:
        """The hints of a login (for the cookie-less fallbacks)."""
        return launches.load_login_request(self.db, state)

    def relaunch_url(self, info: LoginRequestInfo) -> str:
        """``/lti/login`` with the same hints: opened in a new (top-level) window it gets first-party cookies."""
        params = {"iss": info.issuer, "login_hint": info.login_hint, "target_link_uri": info.target_link_uri}
        if info.client_id:
            params["client_id"] = info.client_id
        if info.lti_message_hint:
            params["lti_message_hint"] = info.lti_message_hint
        if info.deployment_id:
            params["lti_deployment_id"] = info.deployment_id
        return add_query(self.login_url, params)

    # -- launch sessions ------------------------------------------------------------------------

    def launch_token(self, launch_id: str) -> str:
        """A signed, launch-scoped token for pages opened after the launch.

        ``<launch id>.<expiry, unix seconds>.<MAC>``: the one signed-token scheme
        (``lti_tool.tokens``), purpose ``lti-launch`` (stdlib only: it is checked on every page
        and API call).
        """
        return self._launch_signer.sign([launch_id])

    def launch_from_token(self, token: str | None, launch_id: str) -> Launch:
        """The launch a token authorises, which must be ``launch_id``.

        Raises:
            LaunchSessionError: missing, forged, expired or for another launch.
        """
        if not token:
            raise LaunchSessionError()
        try:
            (signed_id,), _expires = self._launch_signer.verify(token, 1)
        except TokenExpired as exc:
            raise LaunchSessionError() from exc
        except TokenInvalid as exc:
            raise LaunchSessionError(code="launch_session_forged") from exc
        if not hmac.compare_digest(signed_id, launch_id):
            raise LaunchSessionError(code="launch_session_mismatch")
        now = self.clock()
        with self._recent_lock:
            recent = self._recent.get(launch_id)
        if recent is not None and recent[0] > now:
            return recent[1]
        launch = launches.load_launch(self.db, launch_id, now=now)
        if launch is None:
            raise LaunchSessionError()
        return launch
