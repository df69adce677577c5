"""The xAPI request model shared by the LRS resources.

The effective request (:class:`XRequest`, which also unfolds the 1.0.3 alternate request syntax,
``?method=`` with a form body), version negotiation, the error and response helpers, the parameter
readers and the resource registry the ``/xapi/`` dispatcher (:mod:`lti_tool.lrs.web`) calls into.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, g, request
from sqlalchemy.orm import Session

from lti_tool.lrs.credentials import Credential
from lti_tool.lrs.store import dumps
from scorm.xapi import agent_key, validate_agent
from scorm.xapi.formats import is_iri, is_uuid, parse_timestamp

URL_PREFIX = "/xapi"
VERSIONS = ("1.0.3", "2.0.0")
_VERSION_RE = re.compile(r"^(1\.0|2\.0)(\.\d+)?\Z", re.ASCII)
ALT_HEADERS = {
    "authorization": "Authorization",
    "x-experience-api-version": "X-Experience-API-Version",
    "content-type": "Content-Type",
    "content-length": "Content-Length",
    "if-match": "If-Match",
    "if-none-match": "If-None-Match",
}


class XapiError(Exception):
    """An error answer: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str, *, params: Mapping[str, str | int] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        #: values a message catalogue fills into its sentence for ``code``
        self.params: Mapping[str, str | int] = dict(params or {})


def bad(message: str, code: str = "bad_request") -> XapiError:
    """A 400 Bad Request."""
    return XapiError(400, code, message)


@dataclass
class XRequest:
    """The effective request (after the alternate syntax is unfolded)."""

    method: str
    resource: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    version: str = "1.0.3"
    alternate: bool = False
    credential: Credential | None = None
    languages: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


# -- request reading --------------------------------------------------------------------------


def read_request(resource: str) -> XRequest:
    headers = {k.lower(): v for k, v in request.headers.items()}
    params: dict[str, str] = {}
    for key, values in request.args.lists():
        if len(values) > 1:
            raise bad(f"query parameter {key!r} is given more than once")
        params[key] = values[0]
    body = request.get_data(cache=False)
    x = XRequest(method=request.method, resource=resource, params=params, headers=headers, body=body)
    if "method" in params:
        _unfold_alternate(x)
    return x


def _unfold_alternate(x: XRequest) -> None:
    """The 1.0.3 alternate request syntax: POST ?method=M with headers and content in a form body."""
    if x.method != "POST":
        raise bad("the alternate request syntax (?method=) is only allowed on POST")
    method = x.params.pop("method").upper()
    if method not in ("GET", "PUT", "POST", "DELETE", "HEAD"):
        raise bad(f"the alternate request syntax does not allow method {method!r}")
    if x.params:
        raise bad("with the alternate request syntax every parameter goes in the form body, not the query string")
    if x.content_type != "application/x-www-form-urlencoded":
        raise bad("the alternate request syntax needs an application/x-www-form-urlencoded body")
    try:
        form = parse_qsl(x.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise bad("the alternate request form body is not UTF-8") from exc
    headers = {k: v for k, v in x.headers.items() if k not in ("content-type", "content-length")}
    params: dict[str, str] = {}
    body = b""
    for key, value in form:
        low = key.lower()
        if low in ALT_HEADERS:
            headers[low] = value
        elif key == "content":
            body = value.encode("utf-8")
        else:
            params[key] = value
    x.method, x.params, x.headers, x.body, x.alternate = method, params, headers, body, True


def negotiate_version(x: XRequest) -> None:
    raw = x.header("x-experience-api-version")
    if raw is None:
        if x.resource == "about":
            return
        raise bad("the X-Experience-API-Version header is required", "version_missing")
    m = _VERSION_RE.match(raw.strip())
    if not m:
        raise bad(f"X-Experience-API-Version {raw!r} is not supported (supported: {', '.join(VERSIONS)})",
                  "version_unsupported")  # fmt: skip
    x.version = "2.0.0" if m.group(1) == "2.0" else "1.0.3"
    g.xapi_version = x.version
    if x.alternate and x.version.startswith("2."):
        raise bad("xAPI 2.0 removed the alternate request syntax (?method=)")


# The version each credential last negotiated: a request that omits the header is refused in the
# dialect its client speaks (1.0.3 and 2.0.0 clients each expect their own version on that 400).
LAST_VERSION: dict[str, str] = {}
_LAST_VERSION_CAP = 10_000


def remember_version(key: str, version: str) -> None:
    if LAST_VERSION.get(key) != version:
        if len(LAST_VERSION) >= _LAST_VERSION_CAP:
            LAST_VERSION.clear()
        LAST_VERSION[key] = version


def accept_languages() -> list[str]:
    return [lang for lang, _q in request.accept_languages]


# -- responses -----------------------------------------------------------------------------------


def json_response(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer."""
    resp = Response(dumps(value), status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def no_content(headers: Mapping[str, str] | None = None) -> Response:
    """204 No Content."""
    resp = Response(status=204)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def http_date(moment: datetime) -> str:
    """RFC 7231 date for Last-Modified."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


# -- resource registry --------------------------------------------------------------------------


Handler = Callable[[XRequest, Session], Response]
ROUTES: dict[str, Handler] = {}


def resource(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ROUTES[name] = fn
        return fn

    return register


# -- parameter helpers -----------------------------------------------------------------------------


def only(x: XRequest, allowed: set[str]) -> None:
    for key in x.params:
        if key not in allowed:
            raise bad(f"unknown parameter {key!r} for {x.method} /xapi/{x.resource}")


def parse_json(data: bytes | str, what: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):  # a property given twice (rare: only then find which)
            seen: set[str] = set()
            for k, _v in items:
                if k in seen:
                    raise bad(f"{what} has the property {k!r} twice")
                seen.add(k)
        return out

    def no_constant(name: str) -> Any:
        raise bad(f"{what} is not valid JSON ({name} is not a JSON value)")

    try:
        return json.loads(data, object_pairs_hook=pairs, parse_constant=no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, json.JSONDecodeError) or isinstance(exc, UnicodeDecodeError):
            raise bad(f"{what} is not valid JSON: {exc}") from exc
        raise


def agent_param(x: XRequest, name: str = "agent", *, required: bool = True) -> tuple[dict[str, Any], str] | None:
    raw = x.params.get(name)
    if raw is None:
        if required:
            raise bad(f"the {name!r} parameter is required")
        return None
    agent = parse_json(raw, f"the {name!r} parameter")
    if not isinstance(agent, dict):
        raise bad(f"the {name!r} parameter must be an Agent JSON object")
    validate_agent(agent, x.version, name)
    key = agent_key(agent)
    if key is None:
        raise bad(f"the {name!r} parameter must identify an Agent or Group (mbox, mbox_sha1sum, openid, account)")
    return agent, key


def iri_param(x: XRequest, name: str, *, required: bool = True) -> str | None:
    value = x.params.get(name)
    if value is None:
        if required:
            raise bad(f"the {name!r} parameter is required")
        return None
    if not is_iri(value):
        raise bad(f"the {name!r} parameter must be an IRI, got {value!r}")
    return value


def uuid_param(x: XRequest, name: str) -> str | None:
    value = x.params.get(name)
    if value is None:
        return None
    if not is_uuid(value):
        raise bad(f"the {name!r} parameter must be a UUID, got {value!r}")
    return value.lower()


def time_param(x: XRequest, name: str) -> datetime | None:
    value = x.params.get(name)
    if value is None:
        return None
    moment = parse_timestamp(value)
    if moment is None:
        raise bad(f"the {name!r} parameter must be an ISO 8601 timestamp, got {value!r}")
    return moment


def bool_param(x: XRequest, name: str) -> bool:
    value = x.params.get(name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise bad(f"the {name!r} parameter must be true or false, got {value!r}")
    return value.lower() == "true"


def forbid(message: str) -> XapiError:
    return XapiError(403, "forbidden", message)


def own_agent(x: XRequest, key: str) -> None:
    cred = x.credential
    if cred is not None and cred.is_launch and key != cred.agent_key:
        raise forbid("this launch credential may only use its own learner's documents")
