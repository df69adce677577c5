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
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from lti_tool.errors import AppError
from lti_tool.lti import platforms as platform_ops
from lti_tool.outbound import AddressRefused, OutboundClient, ResponseTooLarge, is_internal, legacy_ipv4
from lti_tool.storage import Database
from lti_tool.storage.models import PlatformStatus, utcnow
from sync.lti_claims import (
    MESSAGE_DEEP_LINKING_REQUEST,
    MESSAGE_RESOURCE_LINK,
    PLATFORM_CONFIGURATION,
    TOOL_CONFIGURATION,
    TOOL_SCOPES,
)

logger = logging.getLogger(__name__)

#: DR §3.4.1 / OIDC Discovery §3: what the tool cannot work without.
REQUIRED_PLATFORM_FIELDS: tuple[str, ...] = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
)
#: Claims we ask the platform to include (Moodle shares name/email only when asked, DESIGN.md §6).
TOOL_CLAIMS: tuple[str, ...] = ("iss", "sub", "name", "given_name", "family_name", "email")
MAX_DOCUMENT_BYTES = 256 * 1024
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: How much of an LMS's error answer is shown to the admin (its own words, escaped by the page).
MAX_ERROR_DETAIL_CHARS = 300
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Products named in ``lti-platform-configuration.product_family_code`` (DR §3.4.2), as people name them.
PRODUCT_NAMES = {
    "moodle": "Moodle",
    "canvas": "Canvas",
    "sakai": "Sakai",
    "desire2learn": "D2L Brightspace",
    "d2l": "D2L Brightspace",
    "brightspace": "D2L Brightspace",
    "blackboardlearn": "Blackboard Learn",
    "blackboard": "Blackboard Learn",
    "schoology": "Schoology",
    "openedx": "Open edX",
}
#: What a few of Moodle's registration refusals (plain-text bodies) mean for the admin.
LMS_ERROR_HINTS = {
    "domain_targetlinkuri_mismatch": (
        "the tool's domain does not match its launch URL; the CBSI-Connect operator should check server.base_url"
    ),
    "token_already_used": "this registration link was used already",
    "missing_registration_token": "the LMS did not send a registration token",
}


class RegistrationError(AppError):
    """Dynamic registration failed."""

    code = "registration_error"
    status = 400


class RegistrationParameterMissing(RegistrationError):
    """Start the registration from your LMS: the openid_configuration parameter is missing."""

    code = "registration_parameter_missing"


class ConfigurationUnreachable(RegistrationError):
    """The LMS's OpenID configuration could not be fetched."""

    code = "configuration_unreachable"
    status = 502


class ConfigurationInvalid(RegistrationError):
    """The LMS's OpenID configuration is not usable."""

    code = "configuration_invalid"
    status = 502


class IssuerNotSecure(RegistrationError):
    """The LMS's issuer must be an https URL (or be listed in ``lti.insecure_issuers``)."""

    code = "issuer_not_https"


class HostRefused(RegistrationError):
    """The LMS's address is an internal network address."""

    code = "host_refused"


class IssuerMismatch(RegistrationError):
    """The LMS's issuer does not belong to the host that served its configuration."""

    code = "issuer_mismatch"
    message_key = "registration_issuer_mismatch"


class RegistrationRefused(RegistrationError):
    """The LMS refused the tool registration."""

    code = "registration_refused"
    status = 502


class RegistrationResponseInvalid(RegistrationError):
    """The LMS accepted the registration but its answer lacks the client id."""

    code = "registration_response_invalid"
    status = 502


@dataclass(frozen=True, kw_only=True)
class ToolUrls:
    """The tool's public URLs, derived from ``server.base_url``."""

    base_url: str

    @property
    def domain(self) -> str:
        """``lti-tool-configuration.domain``: the launch URL's host, with its port when the URL names one.

        Moodle 4.5 compares it, as text, with host:port of ``target_link_uri``
        (``domain_targetlinkuri_mismatch`` otherwise), so a tool on ``http://127.0.0.1:8080``
        must send ``127.0.0.1:8080``. A base URL without a port (the usual https on 443) gives
        the bare host. The URLs themselves are sent exactly as ``server.base_url`` spells them:
        the login's ``redirect_uri`` must match the registered one character for character.
        """
        return urlsplit(self.launch).netloc.rpartition("@")[2]  # host[:port] as written (Moodle compares text)

    @property
    def login(self) -> str:
        """OIDC login initiation (``/lti/login``)."""
        return f"{self.base}/lti/login"

    @property
    def launch(self) -> str:
        """Launch and deep linking target (``/lti/launch``)."""
        return f"{self.base}/lti/launch"

    @property
    def jwks(self) -> str:
        """Public key set."""
        return f"{self.base}/.well-known/jwks.json"

    @property
    def logo(self) -> str:
        """Tool logo."""
        return f"{self.base}/lti/logo.svg"

    @property
    def base(self) -> str:
        """Base URL without trailing slash."""
        return self.base_url.rstrip("/")


@dataclass(frozen=True, kw_only=True)
class PlatformConfiguration:
    """The parts of an LMS's OpenID configuration we use (DR §3.4)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    authorization_server: str | None = None
    scopes_supported: tuple[str, ...] | None = None
    product_family_code: str | None = None
    version: str | None = None
    messages_supported: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)


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


# -- pure checks ---------------------------------------------------------------------------


def is_local_host(host: str | None) -> bool:
    """Loopback host names and addresses (demo and tests only may use plain http there)."""
    if not host:
        return False
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_domain(url: str) -> str:
    """Host of ``url`` with ``:port`` when the port is not the scheme's default (IPv6 in brackets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme.lower()):
        return f"{host}:{port}"
    return host


def url_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute URL (default port left out), or None."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return None
    return f"{parts.scheme.lower()}://{url_domain(url.strip())}"


def insecure_origins(insecure_issuers: Sequence[str]) -> frozenset[str]:
    """The origins of the plain-http issuers the operator allowed (``lti.insecure_issuers``)."""
    return frozenset(o for o in (url_origin(i) for i in insecure_issuers) if o and o.startswith("http://"))


def check_secure_url(
    url: str,
    *,
    what: str,
    allow_insecure_localhost: bool,
    allowed_insecure: frozenset[str] = frozenset(),
    private_allowed: Callable[[str], bool] = lambda _host: False,
) -> None:
    """An endpoint must be https (DR §3.5.1; Security Framework §3: TLS everywhere).

    SPEC COMPLIANCE NOTE: strictly every URL must be https. In demo/test mode plain http is
    accepted for loopback hosts only, so the development LMS and test doubles can run locally.
    Outside demo mode, plain http is accepted only on the origins the operator listed in
    ``lti.insecure_issuers`` (``allowed_insecure``: staging LMSs; every use is logged as a warning).

    Raises:
        IssuerNotSecure: not https (and not an allowed http URL); the message names the setting.
    """
    parts = urlsplit(url)
    if parts.scheme == "http" and allow_insecure_localhost and is_local_host(parts.hostname):
        return
    if parts.scheme == "http" and parts.hostname and url_origin(url) in allowed_insecure:
        return
    if parts.scheme != "https" or not parts.hostname:
        origin = url_origin(url) if parts.scheme == "http" else None
        hint = (
            f"; to accept this plain-http LMS anyway (a staging LMS, never production), the CBSI-Connect "
            f'operator can add its issuer to the setting lti.insecure_issuers (lti.insecure_issuers = ["{origin}"])'
            if origin
            else ""
        )
        raise IssuerNotSecure(f"the LMS's {what} must be an https URL, got {url!r}{hint}")
    if not allow_insecure_localhost and is_internal_address(parts.hostname) and not private_allowed(parts.hostname):
        raise HostRefused(f"the LMS's {what} points at an internal address ({parts.hostname}); use its public name")


def is_internal_address(host: str) -> bool:
    """IP literals a public LMS never uses: loopback, private, link-local, reserved.

    ``/lti/register`` is reachable by anyone and makes this service fetch a URL it is given;
    refusing internal IP literals keeps it from being used to probe the operator's network.
    (Host names are not resolved here: DNS can change between check and use.)
    The outbound client checks again after name resolution (every form of 127.0.0.1 included).
    """
    name = host.strip("[]").rstrip(".").lower()
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(name)
    except ValueError:
        legacy = legacy_ipv4(name)  # 0x7f000001, 2130706433, 127.1, 0177.0.0.1
        if legacy is None:
            return name in LOCAL_HOSTS or name.endswith(".localhost")
        address = legacy
    return is_internal(address)


def parse_platform_configuration(
    document: Any,
    *,
    configuration_url: str,
    allow_insecure_localhost: bool,
    allowed_insecure: frozenset[str] = frozenset(),
    private_allowed: Callable[[str], bool] = lambda _host: False,
) -> PlatformConfiguration:
    """Check an OpenID configuration document and keep what we need.

    DR §3.5.1: the issuer MUST use https and its host MUST match the host of the
    ``openid_configuration`` URL the platform gave us (so a third party cannot make us
    register with an issuer it does not own).

    Raises:
        ConfigurationInvalid: not an object, or a required field is missing or not a string.
        IssuerNotSecure: the issuer or an endpoint is not https.
        IssuerMismatch: the issuer's host is not the configuration URL's host.
    """
    if not isinstance(document, Mapping):
        raise ConfigurationInvalid("the LMS's OpenID configuration is not a JSON object")
    missing = [
        name for name in REQUIRED_PLATFORM_FIELDS if not isinstance(document.get(name), str) or not document[name]
    ]
    if missing:
        raise ConfigurationInvalid(f"the LMS's OpenID configuration lacks {', '.join(missing)}")
    issuer = document["issuer"]
    check_secure_url(
        issuer,
        what="issuer",
        allow_insecure_localhost=allow_insecure_localhost,
        allowed_insecure=allowed_insecure,
        private_allowed=private_allowed,
    )
    issuer_host = (urlsplit(issuer).hostname or "").lower()
    config_host = (urlsplit(configuration_url).hostname or "").lower()
    if issuer_host != config_host:
        raise IssuerMismatch(
            f"the LMS's issuer {issuer!r} is not on the host that served its configuration ({config_host!r}); "
            "start the registration from the LMS itself"
        )
    for name in REQUIRED_PLATFORM_FIELDS[1:]:
        check_secure_url(
            document[name],
            what=name,
            allow_insecure_localhost=allow_insecure_localhost,
            allowed_insecure=allowed_insecure,
            private_allowed=private_allowed,
        )
    scopes = document.get("scopes_supported")
    platform_conf = document.get(PLATFORM_CONFIGURATION)
    platform_conf = platform_conf if isinstance(platform_conf, Mapping) else {}
    messages = platform_conf.get("messages_supported")
    message_types: list[str] = []
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, Mapping) and isinstance(message.get("type"), str):
                message_types.append(message["type"])
            elif isinstance(message, str):
                message_types.append(message)
    auth_server = document.get("authorization_server")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        registration_endpoint=document["registration_endpoint"],
        authorization_server=auth_server if isinstance(auth_server, str) and auth_server else None,
        scopes_supported=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else None,
        product_family_code=platform_conf.get("product_family_code")
        if isinstance(platform_conf.get("product_family_code"), str)
        else None,
        version=platform_conf.get("version") if isinstance(platform_conf.get("version"), str) else None,
        messages_supported=tuple(message_types),
        raw=dict(document),
    )


def requested_scopes(platform: PlatformConfiguration) -> tuple[str, ...]:
    """Our service scopes the platform says it supports (all of them when it does not say)."""
    if platform.scopes_supported is None:
        return TOOL_SCOPES
    supported = set(platform.scopes_supported)
    return tuple(s for s in TOOL_SCOPES if s in supported)


def registration_name(platform: PlatformConfiguration) -> str:
    """A name telling registrations apart: product, version and where the LMS lives.

    DR's platform configuration carries no site name (Moodle 4.5 sends ``product_family_code``
    "moodle", ``version`` = its release string such as "4.5.1+ (Build: 20241213)", and its
    ``wwwroot`` as issuer), so the name is "Moodle 4.5.1+ at moodle.academy.local:8080/moodle".
    The operator can rename it (``cbsi-connect platforms rename``).
    """
    code = (platform.product_family_code or "").strip()
    product = PRODUCT_NAMES.get(code.lower().replace(" ", "").replace("-", ""), code[:40]) if code else "LMS"
    version = (platform.version or "").strip().split(" ")[0][:20] if platform.version else ""
    parts = urlsplit(platform.issuer)
    where = url_domain(platform.issuer) + parts.path.rstrip("/")
    label = f"{product} {version}".strip() if version else product
    return _printable(f"{label} at {where}")[:200]


def _printable(text: str) -> str:
    """``text`` without control characters (names and LMS words end up in logs and pages)."""
    return "".join(c if c.isprintable() else " " for c in text)


def build_tool_registration(
    platform: PlatformConfiguration, *, urls: ToolUrls, tool_name: str, description: str = ""
) -> dict[str, Any]:
    """The client registration request body (DR §3.6.1 and OIDC DCR §2).

    Moodle's rules (DESIGN.md §6): ``token_endpoint_auth_method`` must be ``private_key_jwt``;
    ``lti-tool-configuration.domain`` must equal host[:port] of ``target_link_uri`` (Moodle 4.5
    compares the text before the first slash, so a non-default port must be part of the domain).
    """
    domain = urls.domain
    messages: list[dict[str, Any]] = [
        {"type": MESSAGE_RESOURCE_LINK, "target_link_uri": urls.launch, "label": tool_name},
        {
            "type": MESSAGE_DEEP_LINKING_REQUEST,
            "target_link_uri": urls.launch,
            "label": f"{tool_name}: add a course",
            "placements": ["ContentArea"],
            "supported_types": ["ltiResourceLink"],
        },
    ]
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": tool_name,
        "jwks_uri": urls.jwks,
        "logo_uri": urls.logo,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(requested_scopes(platform)),
        TOOL_CONFIGURATION: {
            "domain": domain,
            "description": description or f"{tool_name}: SCORM, xAPI and cmi5 courses from the regional catalogue",
            "target_link_uri": urls.launch,
            "claims": list(TOOL_CLAIMS),
            "messages": messages,
        },
    }


@dataclass(frozen=True, kw_only=True)
class RegistrationAnswer:
    """The parts of the platform's registration answer we keep (DR §3.6.2)."""

    client_id: str
    deployment_id: str | None
    scope: tuple[str, ...]


def parse_registration_answer(document: Any) -> RegistrationAnswer:
    """Read the client_id and deployment_id the platform assigned.

    Raises:
        RegistrationResponseInvalid: no object or no client_id.
    """
    if not isinstance(document, Mapping):
        raise RegistrationResponseInvalid("the LMS's registration answer is not a JSON object")
    client_id = document.get("client_id")
    if isinstance(client_id, int) and not isinstance(client_id, bool):
        client_id = str(client_id)
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationResponseInvalid()
    tool_conf = document.get(TOOL_CONFIGURATION)
    deployment_id = tool_conf.get("deployment_id") if isinstance(tool_conf, Mapping) else None
    if isinstance(deployment_id, int) and not isinstance(deployment_id, bool):
        deployment_id = str(deployment_id)
    scope = document.get("scope")
    return RegistrationAnswer(
        client_id=client_id,
        deployment_id=deployment_id if isinstance(deployment_id, str) and deployment_id else None,
        scope=tuple(scope.split()) if isinstance(scope, str) else (),
    )


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
        record = platform_ops.DynamicRegistrationRecord(
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
        stored = platform_ops.save_dynamic_registration(self.db, record, status=status, now=now)
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


def refusal_message(status: int, detail: str) -> str:
    """The admin's explanation of a refused registration: the HTTP code and the LMS's own words.

    The hint that the single-use link was used or expired is given only when the LMS said
    something about its token (Moodle: ``token_already_used``, "Expired token"), never for
    other refusals such as Moodle's ``domain_targetlinkuri_mismatch``.
    """
    message = f"the LMS refused the registration (HTTP {status}"
    message += f', the LMS said: "{detail}")' if detail else ", without saying why)"
    known = LMS_ERROR_HINTS.get(detail.strip().lower())
    if known:
        message += f": {known}"
    if re.search(r"token|expire", detail, re.IGNORECASE):
        message += "; the registration link works once and expires: start the registration again from the LMS"
    return message


def _error_detail(response: requests.Response) -> str:
    """The LMS's reason, short and printable: OAuth ``error``/``error_description`` or the text body.

    Moodle answers registration errors with a plain-text body (``domain_targetlinkuri_mismatch``);
    other platforms use OAuth's JSON error. HTML pages are reduced to their text. At most
    :data:`MAX_ERROR_DETAIL_CHARS` characters; the page escapes it.
    """
    raw = response.content[: MAX_ERROR_DETAIL_CHARS * 8] if response.content else b""
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        parts = [str(body[k]) for k in ("error", "error_description", "message") if isinstance(body.get(k), str)]
        text = ": ".join(parts)
    elif isinstance(body, str):
        text = body
    elif "<" in text and ">" in text:
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(_printable(text).split())
    if len(text) > MAX_ERROR_DETAIL_CHARS:
        text = text[: MAX_ERROR_DETAIL_CHARS - 1] + "…"
    return text
