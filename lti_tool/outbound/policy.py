"""The outbound policy: typed errors, address checks and service-URL checks (no I/O)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

USER_AGENT = "CBSI-Connect/0.1 (+LTI Advantage)"
DEFAULT_PORTS = {"http": 80, "https": 443}
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# -- errors ---------------------------------------------------------------------------------


class OutboundError(requests.RequestException):
    """An outbound call failed; ``kind`` says how, ``str()`` is safe to show."""

    kind = "connection"


class OutboundTimeout(OutboundError, requests.Timeout):
    """The call did not finish within its deadline (or a connect/read timeout)."""

    kind = "timeout"


class ResponseTooLarge(OutboundError):
    """The answer was longer than the configured cap; reading stopped there."""

    kind = "too_large"


class AddressRefused(OutboundError):
    """The URL's host is, or resolves to, an address this service must not call."""

    kind = "refused_address"


class ConnectionFailed(OutboundError, requests.ConnectionError):
    """No connection could be made, or it broke. Deliberately the same text for every cause."""

    kind = "connection"


class ServiceUrlRefused(ValueError):
    """A service URL from a launch is not on the platform's registered hosts nor allow-listed."""

    code = "service_url_refused"


# -- policy ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OutboundPolicy:
    """Limits and address rules of an :class:`OutboundClient`.

    Attributes:
        deadline_seconds: total time one call may take, redirects and body included.
        connect_timeout_seconds: time to open one TCP connection.
        read_timeout_seconds: longest silence between two reads (also capped by the deadline).
        max_response_bytes: longest answer body (decompressed) read before the call is aborted.
        check_addresses: refuse internal targets (production); off in demo mode only.
        allow_private: networks (``10.1.2.0/24``) and host names (``moodle.academy.internal``)
            that may be called although internal.
        service_hosts: extra hosts (``host`` or ``host:port``) on which service URLs from launches
            are accepted for every platform, besides each platform's registered hosts.
        pool_connections: hosts whose keep-alive pools are kept.
        pool_maxsize: kept-alive connections per host.
        ca_bundle: PEM file of the certificate authorities to trust instead of the bundled ones
            (an academy LMS behind an internal CA); empty for the defaults.
    """

    deadline_seconds: float = 10.0
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 10.0
    max_response_bytes: int = 8 * 1024 * 1024
    check_addresses: bool = True
    allow_private: tuple[str, ...] = ()
    service_hosts: tuple[str, ...] = ()
    pool_connections: int = 32
    pool_maxsize: int = 16
    ca_bundle: str = ""
    _networks: tuple[IpNetwork, ...] = field(default=(), init=False, repr=False, compare=False)
    _hosts: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks: list[IpNetwork] = []
        hosts: set[str] = set()
        for entry in self.allow_private:
            text = entry.strip()
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
            except ValueError:
                if not text:
                    raise ValueError("outbound.allow_private: empty entry") from None
                hosts.add(normalise_host(text))
        object.__setattr__(self, "_networks", tuple(networks))
        object.__setattr__(self, "_hosts", frozenset(hosts))

    def host_allowed(self, host: str) -> bool:
        """``host`` is allow-listed by name."""
        return normalise_host(host) in self._hosts

    def allows_internal_host(self, host: str) -> bool:
        """An internal host written in a URL (a name, or an IP literal in any spelling) that the
        operator allow-listed: by name, or as an address inside an allow-listed network."""
        if self.host_allowed(host):
            return True
        name = normalise_host(host)
        try:
            address: IpAddress | None = ipaddress.ip_address(name)
        except ValueError:
            address = legacy_ipv4(name)
        return address is not None and bool(self._networks) and self.address_allowed(address)

    def address_allowed(self, address: IpAddress) -> bool:
        """``address`` may be called: public, or inside an allow-listed network."""
        if not is_internal(address):
            return True
        candidates = {address, unwrap(address)}
        return any(a in net for a in candidates for net in self._networks if net.version == a.version)


def normalise_host(host: str) -> str:
    """Lower-case, without IPv6 brackets or a trailing dot (``localhost.`` is ``localhost``)."""
    return host.strip().strip("[]").rstrip(".").lower()


def unwrap(address: IpAddress) -> IpAddress:
    """The IPv4 address inside an IPv4-mapped (``::ffff:a.b.c.d``) or IPv4-compatible IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if int(address) >> 32 == 0 and int(address) > 1:  # deprecated ::a.b.c.d
            return ipaddress.IPv4Address(int(address))
    return address


def legacy_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address written the way ``inet_aton`` reads it (``0x7f000001``, ``2130706433``,
    ``127.1``, ``0177.0.0.1``) that ``ipaddress`` does not; ``None`` for anything else."""
    if not text or any(c not in "0123456789abcdefxABCDEFX." for c in text) or not text[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def is_internal(address: IpAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, shared or unspecified (not globally routable)."""
    plain = unwrap(address)
    for candidate in {address, plain}:
        if (
            candidate.is_loopback
            or candidate.is_private
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or not candidate.is_global
        ):
            return True
    return False


# -- service URLs from launches -------------------------------------------------------------


def host_port(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an http(s) URL, the port defaulted by scheme; ``None`` if not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return normalise_host(parts.hostname), port or DEFAULT_PORTS[parts.scheme]


def check_service_url(url: str, *, registered_urls: Iterable[str | None], extra_hosts: Sequence[str] = ()) -> None:
    """A service URL taken from a launch must be on one of the platform's registered hosts.

    Args:
        url: the NRPS memberships or AGS line item(s) URL the launch named.
        registered_urls: the platform's issuer, login, token, audience and key set URLs.
        extra_hosts: allow-listed ``host`` or ``host:port`` entries (``outbound.service_hosts``).

    Raises:
        ServiceUrlRefused: not an http(s) URL, or on another host (the token is not sent).
    """
    target = host_port(url)
    if target is None:
        raise ServiceUrlRefused("the LMS gave a service URL that is not an http(s) URL")
    allowed = {hp for hp in (host_port(u) for u in registered_urls if u) if hp is not None}
    for entry in extra_hosts:
        plain = normalise_host(entry)
        name, _, port = plain.partition(":") if plain.count(":") == 1 else (plain, "", "")
        if name == target[0] and (not port or (port.isdigit() and int(port) == target[1])):
            return
    if target not in allowed:
        raise ServiceUrlRefused(
            f"the LMS named a service URL on {target[0]}:{target[1]}, which is not one of its registered hosts; "
            "the request was not sent (allow the host with outbound.service_hosts if this is intended)"
        )


def policy_from_settings(settings: Any) -> OutboundPolicy:
    """The policy for a service instance (``[outbound]`` settings; no address check in demo mode)."""
    out = settings.outbound
    return OutboundPolicy(
        deadline_seconds=out.deadline_seconds,
        connect_timeout_seconds=out.connect_timeout_seconds,
        read_timeout_seconds=max(settings.lti.http_timeout_seconds, settings.sync.http_timeout_seconds),
        max_response_bytes=out.max_response_bytes,
        check_addresses=not settings.server.demo,
        allow_private=tuple(out.allow_private),
        service_hosts=tuple(out.service_hosts),
        pool_connections=out.pool_connections,
        pool_maxsize=max(out.pool_maxsize, settings.sync.concurrency_per_platform),
        ca_bundle=out.ca_bundle,
    )
