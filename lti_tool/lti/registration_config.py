"""Dynamic registration: its errors, the tool's public URLs, and the LMS's OpenID configuration
fetched by :class:`lti_tool.lti.registration.DynamicRegistration`, parsed and checked (DR §3.4,
§3.5.1: ``issuer`` is https and its host is the host of the configuration URL; required
endpoints present). Pure: no HTTP, no storage.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lti_tool.errors import AppError
from lti_tool.outbound import is_internal, legacy_ipv4
from sync.lti_claims import (
    PLATFORM_CONFIGURATION,
)

#: DR §3.4.1 / OIDC Discovery §3: what the tool cannot work without.
REQUIRED_PLATFORM_FIELDS: tuple[str, ...] = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}


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
