"""LTI Dynamic Registration 1.0 (1EdTech), the tool side, as Moodle drives it.

Flow (DR §3): the LMS admin pastes our registration URL; the LMS opens
``/lti/register?openid_configuration=URL&registration_token=T``. We

1. fetch the platform's OpenID configuration (§3.4) and check it (§3.5.1: ``issuer`` is https
   and its host is the host of the configuration URL; required endpoints present);
2. build our tool registration (§3.6, OIDC Dynamic Client Registration + the
   ``lti-tool-configuration`` extension) restricted to the scopes the platform supports;
3. POST it to ``registration_endpoint`` with ``Authorization: Bearer T`` (§3.5.2);
4. read the client_id and deployment_id of the answer (§3.6.2) and store a ``Platform``
   (pending unless its issuer is auto-approved) and its ``Deployment``;
5. the web layer then answers with the page posting ``org.imsglobal.lti.close`` (§4).

The registration token is a credential: it is never logged and never part of an error message.
The documents are checked and shaped without HTTP or storage in
:mod:`~lti_tool.lti.registration_config` (the LMS's configuration, the errors, the tool's URLs)
and :mod:`~lti_tool.lti.registration_messages` (our registration, the LMS's answer, refusals).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from lti_tool.lti.platforms import registrations as platform_registrations
from lti_tool.lti.registration_config import (
    ConfigurationInvalid,
    ConfigurationUnreachable,
    HostRefused,
    PlatformConfiguration,
    RegistrationParameterMissing,
    RegistrationRefused,
    RegistrationResponseInvalid,
    ToolUrls,
    check_secure_url,
    insecure_origins,
    parse_platform_configuration,
    url_origin,
)
from lti_tool.lti.registration_config import (
    RegistrationError as RegistrationError,  # the flow's error base: callers catch it from here
)
from lti_tool.lti.registration_messages import (
    RegistrationAnswer,
    _error_detail,
    _printable,
    build_tool_registration,
    parse_registration_answer,
    refusal_message,
    registration_name,
)
from lti_tool.outbound import AddressRefused, OutboundClient, ResponseTooLarge
from lti_tool.storage import Database
from lti_tool.storage.models import PlatformStatus, utcnow

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass(frozen=True, kw_only=True)
class RegistrationResult:
    """What the registration produced, for the completion page."""

    platform_id: int
    issuer: str
    client_id: str
    deployment_id: str | None
    status: str
    product: str | None
    scopes: tuple[str, ...]
    #: True when an existing registration was updated (the LMS's "Update" of a registered tool).
    updated: bool = False
    #: The registration's name as ``platforms list`` shows it.
    name: str = ""


# -- the flow ------------------------------------------------------------------------------


class DynamicRegistration:
    """Run one dynamic registration, or update an existing one.

    An LMS that registers again with the same issuer and the same client id is updating its
    registration (Moodle's "Update" of an already registered tool: its update token names the
    existing tool type, and Moodle answers with that tool's client id and deployment id). The
    (issuer, client id) pair is the tenant's identity here (DESIGN.md §7); the client id is
    assigned by the LMS only after it checked its own signed registration token, and the
    issuer is bound to the host that served the configuration (DR §3.5.1). So the existing
    platform is kept: endpoints, deployments and granted scopes are refreshed, its approval
    state and its name stay. "Register as a new tool" gets a new client id, hence a new platform.

    Args:
        db: storage for the new platform.
        urls: the tool's public URLs.
        tool_name: shown in the LMS.
        timeout: seconds for each HTTP call.
        auto_approve_issuers: issuers whose registrations become active at once.
        allow_insecure_localhost: accept plain http for loopback hosts (demo and tests only).
        insecure_issuers: plain-http issuers the operator allowed (``lti.insecure_issuers``).
        session: HTTP session (injectable).
    """

    def __init__(
        self,
        db: Database,
        *,
        urls: ToolUrls,
        tool_name: str,
        timeout: float,
        auto_approve_issuers: Sequence[str] = (),
        allow_insecure_localhost: bool = False,
        insecure_issuers: Sequence[str] = (),
        session: requests.Session | None = None,
    ) -> None:
        self.db = db
        self.urls = urls
        self.tool_name = tool_name
        self.timeout = timeout
        self.auto_approve = frozenset(i.rstrip("/") for i in auto_approve_issuers)
        self.allow_insecure_localhost = allow_insecure_localhost
        self.allowed_insecure = insecure_origins(insecure_issuers)
        self._owns_session = session is None
        self.http = session or requests.Session()
        #: internal hosts the operator allow-listed (``outbound.allow_private``) may register
        self.private_allowed: Callable[[str], bool] = (
            session.policy.allows_internal_host if isinstance(session, OutboundClient) else lambda _host: False
        )

    def close(self) -> None:
        """Release the HTTP connections this flow opened (not an injected session's)."""
        if self._owns_session:
            self.http.close()

    def fetch_configuration(self, configuration_url: str) -> PlatformConfiguration:
        """GET the platform's OpenID configuration and check it.

        Raises:
            ConfigurationUnreachable, ConfigurationInvalid, IssuerNotSecure, IssuerMismatch.
        """
        if len(configuration_url) > 2048 or any(ord(c) < 33 or ord(c) == 127 for c in configuration_url):
            # Refused before it reaches a log line or an error page (no log injection).
            raise RegistrationParameterMissing("openid_configuration is not a URL: start from your LMS")
        parts = urlsplit(configuration_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise RegistrationParameterMissing("openid_configuration must be an http(s) URL: start from your LMS")
        check_secure_url(
            configuration_url,
            what="configuration URL",
            allow_insecure_localhost=self.allow_insecure_localhost,
            allowed_insecure=self.allowed_insecure,
            private_allowed=self.private_allowed,
        )
        try:
            response = self.http.get(
                configuration_url,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
            with response:
                body = _read_capped(response, MAX_DOCUMENT_BYTES) if response.status_code == 200 else b""
        except AddressRefused as exc:
            raise HostRefused(
                f"the LMS's configuration URL points at an internal address ({parts.hostname}); use its public name"
            ) from exc
        except ResponseTooLarge as exc:
            raise ConfigurationInvalid("the LMS's OpenID configuration is too large") from exc
        except requests.Timeout as exc:
            raise ConfigurationUnreachable(
                f"the LMS's OpenID configuration at {configuration_url} did not answer in time"
            ) from exc
        except requests.RequestException as exc:
            raise ConfigurationUnreachable(
                f"the LMS's OpenID configuration at {configuration_url} could not be reached; "
                "check that this service can reach your LMS"
            ) from exc
        if response.status_code != 200:
            raise ConfigurationUnreachable(
                f"the LMS's OpenID configuration at {configuration_url} answered HTTP {response.status_code}"
            )
        if body is None:
            raise ConfigurationInvalid("the LMS's OpenID configuration is too large")
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise ConfigurationInvalid(f"the LMS's OpenID configuration at {configuration_url} is not JSON") from exc
        platform = parse_platform_configuration(
            document,
            configuration_url=configuration_url,
            allow_insecure_localhost=self.allow_insecure_localhost,
            allowed_insecure=self.allowed_insecure,
            private_allowed=self.private_allowed,
        )
        if urlsplit(platform.issuer).scheme == "http" and url_origin(platform.issuer) in self.allowed_insecure:
            logger.warning(
                "INSECURE: registering the plain-http LMS %s because lti.insecure_issuers lists it; its launches "
                "and service tokens travel unencrypted (staging only)",
                platform.issuer,
                extra={"action": "insecure_issuer_registration"},
            )
        return platform

    def post_registration(
        self, platform: PlatformConfiguration, body: Mapping[str, Any], registration_token: str | None
    ) -> RegistrationAnswer:
        """POST our registration to the platform (the token as bearer credential, DR §3.5.2).

        Raises:
            ConfigurationUnreachable: the registration endpoint did not answer.
            RegistrationRefused: non-2xx answer (e.g. a used or expired registration token).
            RegistrationResponseInvalid: no client_id in the answer.
        """
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if registration_token:
            headers["Authorization"] = f"Bearer {registration_token}"
        try:
            response = self.http.post(
                platform.registration_endpoint, json=dict(body), headers=headers, timeout=self.timeout
            )
        except AddressRefused as exc:
            raise HostRefused("the LMS's registration endpoint points at an internal address") from exc
        except requests.Timeout as exc:
            raise ConfigurationUnreachable("the LMS's registration endpoint did not answer in time") from exc
        except requests.RequestException as exc:
            raise ConfigurationUnreachable("the LMS's registration endpoint could not be reached") from exc
        if not 200 <= response.status_code < 300:
            raise RegistrationRefused(refusal_message(response.status_code, _error_detail(response)))
        try:
            document = response.json()
        except ValueError as exc:
            raise RegistrationResponseInvalid("the LMS's registration answer is not JSON") from exc
        return parse_registration_answer(document)

    def store(
        self, platform: PlatformConfiguration, answer: RegistrationAnswer, *, now: datetime
    ) -> RegistrationResult:
        """Record the platform (pending or auto-approved) and its deployment, or update it.

        An existing (issuer, client_id) pair is the LMS updating its registration (see the class
        docstring): endpoints, deployments and scopes are refreshed; status and name are kept.
        """
        active = platform.issuer.rstrip("/") in self.auto_approve
        name = registration_name(platform)
        record = platform_registrations.DynamicRegistrationRecord(
            issuer=platform.issuer,
            client_id=answer.client_id,
            name=name,
            # Several registrations of one LMS: Moodle shows the client id on each tool card.
            name_when_issuer_known=f"{name} (client {_printable(answer.client_id)[:24]})",
            auth_login_url=platform.authorization_endpoint,
            auth_token_url=platform.token_endpoint,
            key_set_url=platform.jwks_uri,
            auth_audience=platform.authorization_server,
            deployment_id=answer.deployment_id,
            facts={
                "product_family_code": platform.product_family_code,
                "version": platform.version,
                "scopes_granted": list(answer.scope),
                "messages_supported": list(platform.messages_supported),
            },
        )
        status = PlatformStatus.ACTIVE if active else PlatformStatus.PENDING
        stored = platform_registrations.save_dynamic_registration(self.db, record, status=status, now=now)
        if stored.updated:
            logger.info(
                "dynamic registration updated: platform %d (%s, client %s, deployment %s%s, still %s; changed: %s)",
                stored.platform_id,
                stored.issuer,
                stored.client_id,
                answer.deployment_id or "none",
                " added" if stored.added_deployment else "",
                stored.status,
                ", ".join(stored.changed) or "no endpoint",
                extra={"action": "dynamic_registration_updated"},
            )
        else:
            logger.info(
                "dynamic registration stored: platform %d (%s, client %s, deployment %s, %s)",
                stored.platform_id,
                platform.issuer,
                answer.client_id,
                answer.deployment_id or "none",
                stored.status,
                extra={"action": "dynamic_registration_stored"},
            )
        return RegistrationResult(
            platform_id=stored.platform_id,
            issuer=stored.issuer,
            client_id=stored.client_id,
            deployment_id=answer.deployment_id,
            status=stored.status,
            product=platform.product_family_code,
            scopes=answer.scope,
            updated=stored.updated,
            name=stored.name,
        )

    def register(
        self, configuration_url: str | None, registration_token: str | None, *, now: datetime | None = None
    ) -> RegistrationResult:
        """Run the whole registration.

        Args:
            configuration_url: the ``openid_configuration`` query parameter.
            registration_token: the ``registration_token`` query parameter (may be absent).
            now: the registration time.

        Raises:
            RegistrationError: one subclass per failure kind, each with an actionable message.
        """
        if not configuration_url:
            raise RegistrationParameterMissing()
        platform = self.fetch_configuration(configuration_url)
        body = build_tool_registration(platform, urls=self.urls, tool_name=self.tool_name)
        answer = self.post_registration(platform, body, registration_token)
        return self.store(platform, answer, now=now or utcnow())


def _read_capped(response: requests.Response, limit: int) -> bytes | None:
    """The body, or ``None`` when it is longer than ``limit`` bytes (read no further)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16384):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
