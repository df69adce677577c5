"""Dynamic registration, the documents we send and read back: our tool registration (DR §3.6.1,
OIDC DCR §2, restricted to the scopes the platform supports), the LMS's answer (§3.6.2), the
name a registration gets, and the admin's words for a refused registration. Pure: no HTTP
calls, no storage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from lti_tool.lti.registration_config import (
    PlatformConfiguration,
    RegistrationResponseInvalid,
    ToolUrls,
    url_domain,
)
from sync.lti_claims import (
    MESSAGE_DEEP_LINKING_REQUEST,
    MESSAGE_RESOURCE_LINK,
    TOOL_CONFIGURATION,
    TOOL_SCOPES,
)

#: Claims we ask the platform to include (Moodle shares name/email only when asked, DESIGN.md §6).
TOOL_CLAIMS: tuple[str, ...] = ("iss", "sub", "name", "given_name", "family_name", "email")
#: How much of an LMS's error answer is shown to the admin (its own words, escaped by the page).
MAX_ERROR_DETAIL_CHARS = 300
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
