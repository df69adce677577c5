"""The one outbound HTTP client (DESIGN.md §5 decision 9), split by responsibility.

* :mod:`lti_tool.outbound.policy` — typed errors, :class:`OutboundPolicy`, address checks and
  service-URL checks (no I/O);
* :mod:`lti_tool.outbound.guard` — the deadline watchdog, checked name resolution and the urllib3
  connections that connect to the checked address;
* :mod:`lti_tool.outbound.lean` — the lean POST's request head and raw HTTP/1.1 answer reader;
* :mod:`lti_tool.outbound.client` — :class:`OutboundClient` (``request`` and ``post_bytes``).

The public names stay importable from ``lti_tool.outbound``.
"""

from __future__ import annotations

from lti_tool.outbound.client import ClientFactory, OutboundClient, build_client
from lti_tool.outbound.guard import resolve_checked
from lti_tool.outbound.lean import RawAnswer
from lti_tool.outbound.policy import (
    DEFAULT_PORTS,
    USER_AGENT,
    AddressRefused,
    ConnectionFailed,
    OutboundError,
    OutboundPolicy,
    OutboundTimeout,
    ResponseTooLarge,
    ServiceUrlRefused,
    check_service_url,
    host_port,
    is_internal,
    legacy_ipv4,
    normalise_host,
    policy_from_settings,
)

__all__ = [
    "DEFAULT_PORTS",
    "USER_AGENT",
    "AddressRefused",
    "ClientFactory",
    "ConnectionFailed",
    "OutboundClient",
    "OutboundError",
    "OutboundPolicy",
    "OutboundTimeout",
    "RawAnswer",
    "ResponseTooLarge",
    "ServiceUrlRefused",
    "build_client",
    "check_service_url",
    "host_port",
    "is_internal",
    "legacy_ipv4",
    "normalise_host",
    "policy_from_settings",
    "resolve_checked",
]
