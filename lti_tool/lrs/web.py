"""The ``/xapi/`` blueprint: Statements, State, Activity/Agent Profile, About, Activities, Agents.

One dispatcher reads the request into an :class:`XRequest` (which also unfolds the 1.0.3 alternate
request syntax, ``?method=`` with a form body), checks the version and the credential, then calls
the resource handler. Every error is JSON ``{"error": code, "message": ...}`` with its status.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.lrs import store
from lti_tool.lrs.credentials import Credential, authenticate
from lti_tool.lrs.multipart import (
    SIGNATURE_USAGE,
    MultipartError,
    boundary_of,
    build_multipart,
    check_signature,
    parse_multipart,
    sha2_matches,
)
from lti_tool.lrs.store import DocKey, LrsBadRequest, LrsConflict, StatementQuery, dumps, iso
from lti_tool.services import services_of
from scorm.xapi import (
    StatementError,
    agent_key,
    format_statement,
    normalize_statement,
    validate_agent,
    validate_statement,
)
from scorm.xapi.cmi5 import Cmi5Violation
from scorm.xapi.formats import is_iri, is_uuid, parse_timestamp

bp = Blueprint("xapi", __name__, url_prefix="/xapi")

VERSIONS = ("1.0.3", "2.0.0")
_VERSION_RE = re.compile(r"^(1\.0|2\.0)(\.\d+)?$")
ALT_HEADERS = {
    "authorization": "Authorization",
    "x-experience-api-version": "X-Experience-API-Version",
    "content-type": "Content-Type",
    "content-length": "Content-Length",
    "if-match": "If-Match",
    "if-none-match": "If-None-Match",
}
CORS_HEADERS = "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, X-Experience-API-Hash"
CORS_EXPOSE = "ETag, Last-Modified, X-Experience-API-Version, X-Experience-API-Consistent-Through"


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


def _read_request(resource: str) -> XRequest:
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


def _negotiate_version(x: XRequest) -> None:
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
_LAST_VERSION: dict[str, str] = {}
_LAST_VERSION_CAP = 10_000


def _remember_version(key: str, version: str) -> None:
    if _LAST_VERSION.get(key) != version:
        if len(_LAST_VERSION) >= _LAST_VERSION_CAP:
            _LAST_VERSION.clear()
        _LAST_VERSION[key] = version


def _languages() -> list[str]:
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


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["X-Experience-API-Version"] = getattr(g, "xapi_version", "1.0.3")
    if request.path.rstrip("/").endswith("/statements") and "X-Experience-API-Consistent-Through" not in resp.headers:
        resp.headers["X-Experience-API-Consistent-Through"] = iso(datetime.now(UTC))
    origin = request.headers.get("Origin")
    if origin and _allowed_origin(origin):
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
    resp.headers["Vary"] = "Origin"
    return resp


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _allowed_origin(origin: str) -> bool:
    """Content served from the content origin (or the app's own origin) may call the LRS."""
    settings = services_of(current_app).settings
    allowed = {_origin_of(settings.server.base_url), _origin_of(settings.content_origin)}
    return origin.rstrip("/").lower() in allowed


# -- dispatch --------------------------------------------------------------------------------------


Handler = Callable[[XRequest, Session], Response]
ROUTES: dict[str, Handler] = {}


def resource(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ROUTES[name] = fn
        return fn

    return register


@bp.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST", "DELETE", "OPTIONS"])
@bp.route("/<path:path>", methods=["GET", "PUT", "POST", "DELETE", "OPTIONS"])
def dispatch(path: str) -> Response:
    name = path.strip("/")
    if request.method == "OPTIONS":
        resp = Response(status=204)
        resp.headers["Access-Control-Allow-Methods"] = "GET, PUT, POST, DELETE, HEAD, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        resp.headers["Access-Control-Max-Age"] = "600"
        return resp
    try:
        handler = ROUTES.get(name)
        if handler is None:
            raise XapiError(404, "not_found", f"no xAPI resource /xapi/{name}")
        x = _read_request(name)
        x.languages = _languages()
        services = services_of(current_app)
        with services.db.session() as session:
            if name != "about":
                x.credential = authenticate(session, x.header("authorization"))
                if x.credential is not None and x.credential.key in _LAST_VERSION:
                    g.xapi_version = _LAST_VERSION[x.credential.key]
            _negotiate_version(x)
            if name != "about":
                if x.credential is None:
                    raise XapiError(401, "unauthorized", "valid LRS credentials (HTTP Basic) are required")
                _remember_version(x.credential.key, x.version)
            resp = handler(x, session)
        if x.method == "HEAD":
            resp.set_data(b"")
        return resp
    except XapiError as exc:
        resp = json_response({"error": exc.code, "message": exc.message}, exc.status)
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
        return resp
    except (LrsBadRequest, StatementError, MultipartError) as exc:
        return json_response({"error": "bad_request", "message": str(exc)}, 400)
    except LrsConflict as exc:
        return json_response({"error": "conflict", "message": str(exc)}, 409)
    except IntegrityError:
        # a concurrent request stored the same statement id or created the same document first
        message = "a concurrent request stored the same statement or document first; read it and retry"
        return json_response({"error": "conflict", "message": message}, 409)


# -- parameter helpers -----------------------------------------------------------------------------


def _only(x: XRequest, allowed: set[str]) -> None:
    for key in x.params:
        if key not in allowed:
            raise bad(f"unknown parameter {key!r} for {x.method} /xapi/{x.resource}")


def _json(data: bytes | str, what: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise bad(f"{what} has the property {k!r} twice")
            out[k] = v
        return out

    def no_constant(name: str) -> Any:
        raise bad(f"{what} is not valid JSON ({name} is not a JSON value)")

    try:
        return json.loads(data, object_pairs_hook=pairs, parse_constant=no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, json.JSONDecodeError) or isinstance(exc, UnicodeDecodeError):
            raise bad(f"{what} is not valid JSON: {exc}") from exc
        raise


def _agent_param(x: XRequest, name: str = "agent", *, required: bool = True) -> tuple[dict[str, Any], str] | None:
    raw = x.params.get(name)
    if raw is None:
        if required:
            raise bad(f"the {name!r} parameter is required")
        return None
    agent = _json(raw, f"the {name!r} parameter")
    if not isinstance(agent, dict):
        raise bad(f"the {name!r} parameter must be an Agent JSON object")
    validate_agent(agent, x.version, name)
    key = agent_key(agent)
    if key is None:
        raise bad(f"the {name!r} parameter must identify an Agent or Group (mbox, mbox_sha1sum, openid, account)")
    return agent, key


def _iri_param(x: XRequest, name: str, *, required: bool = True) -> str | None:
    value = x.params.get(name)
    if value is None:
        if required:
            raise bad(f"the {name!r} parameter is required")
        return None
    if not is_iri(value):
        raise bad(f"the {name!r} parameter must be an IRI, got {value!r}")
    return value


def _uuid_param(x: XRequest, name: str) -> str | None:
    value = x.params.get(name)
    if value is None:
        return None
    if not is_uuid(value):
        raise bad(f"the {name!r} parameter must be a UUID, got {value!r}")
    return value.lower()


def _time_param(x: XRequest, name: str) -> datetime | None:
    value = x.params.get(name)
    if value is None:
        return None
    moment = parse_timestamp(value)
    if moment is None:
        raise bad(f"the {name!r} parameter must be an ISO 8601 timestamp, got {value!r}")
    return moment


def _bool_param(x: XRequest, name: str) -> bool:
    value = x.params.get(name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise bad(f"the {name!r} parameter must be true or false, got {value!r}")
    return value.lower() == "true"


def _forbid(message: str) -> XapiError:
    return XapiError(403, "forbidden", message)


# -- statements ------------------------------------------------------------------------------------

STATEMENT_GET_PARAMS = {
    "statementId", "voidedStatementId", "agent", "verb", "activity", "registration", "related_activities",
    "related_agents", "since", "until", "limit", "format", "attachments", "ascending", "more",
}  # fmt: skip


@resource("statements")
def statements(x: XRequest, session: Session) -> Response:
    if x.method in ("GET", "HEAD"):
        return _get_statements(x, session)
    if x.method == "PUT":
        return _put_statement(x, session)
    if x.method == "POST":
        return _post_statements(x, session)
    raise XapiError(405, "method_not_allowed", f"{x.method} is not allowed on /xapi/statements")


def _read_statement_body(x: XRequest) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """The statements JSON and the attachment parts (by SHA-2) of a PUT/POST."""
    ctype = x.content_type
    if ctype == "multipart/mixed":
        parts = parse_multipart(x.body, boundary_of(x.header("content-type") or ""))
        first = parts[0]
        if first.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise bad("the first part of a multipart/mixed statement request must be application/json")
        data = _json(first.content, "the statement part")
        attachments: dict[str, tuple[str, bytes]] = {}
        for part in parts[1:]:
            sha2 = part.headers.get("x-experience-api-hash")
            if not sha2:
                raise bad("every attachment part needs an X-Experience-API-Hash header")
            if part.headers.get("content-transfer-encoding", "").lower() != "binary":
                raise bad("every attachment part needs 'Content-Transfer-Encoding: binary'")
            if not sha2_matches(sha2, part.content):
                raise bad(f"attachment part {sha2}: its X-Experience-API-Hash is not the SHA-2 of its content")
            attachments[sha2.lower()] = (part.headers.get("content-type", "application/octet-stream"), part.content)
        return data, attachments
    if ctype != "application/json" and not (x.alternate and ctype in ("", "application/json")):
        raise bad(f"statements must be sent as application/json or multipart/mixed, not {ctype or 'no content type'!r}")
    if not x.body.strip():
        raise bad("the request body is empty")
    return _json(x.body, "the request body"), {}


def _prepare(
    x: XRequest, session: Session, raw: Any, parts: Mapping[str, tuple[str, bytes]], now: datetime, used: set[str]
) -> store.NewStatement:
    if not isinstance(raw, dict):
        raise bad("each statement must be a JSON object")
    signed = any(
        isinstance(att, dict) and att.get("usageType") == SIGNATURE_USAGE for att in raw.get("attachments") or ()
    )
    original = json.loads(json.dumps(raw)) if signed else raw  # the JWS payload is compared with this
    validate_statement(raw, x.version)
    cred = x.credential
    assert cred is not None
    if cred.is_launch:
        if agent_key(raw["actor"]) != cred.agent_key:
            raise _forbid("this launch credential may only record statements whose actor is its own learner")
        registration = (raw.get("context") or {}).get("registration")
        if registration and registration.lower() != cred.registration:
            raise _forbid("this launch credential may only record statements of its own registration")
        target = raw["object"]
        if raw["verb"]["id"] == store.VOIDED and target.get("objectType") == "StatementRef":
            owners = store.statement_owner(session, cred.tenant, target["id"])
            if owners and cred.agent_key not in owners:
                raise _forbid("this launch credential may only void its own learner's statements")
    st = normalize_statement(raw)
    st["id"] = (st.get("id") or str(uuid.uuid4())).lower()
    st["stored"] = iso(now)
    st.setdefault("timestamp", st["stored"])
    st["authority"] = _authority(x)
    st.setdefault("version", "2.0.0" if x.version.startswith("2.") else "1.0.0")
    hashes: list[str] = []
    for i, att in enumerate(st.get("attachments") or []):
        sha2 = att["sha2"].lower()
        if att["usageType"] == SIGNATURE_USAGE:
            if att["contentType"].split(";")[0].strip().lower() != "application/octet-stream":
                raise bad(f"statement.attachments[{i}]: a signature attachment must be application/octet-stream")
            if sha2 not in parts:
                raise bad(f"statement.attachments[{i}]: the signature attachment is missing from the request")
            check_signature(st, parts[sha2][1], original)
        if "fileUrl" not in att and sha2 not in parts:
            raise bad(f"statement.attachments[{i}]: no attachment part has SHA-2 {sha2} and there is no fileUrl")
        if sha2 in parts:
            hashes.append(sha2)
            used.add(sha2)
    return store.NewStatement(statement=st, attachment_hashes=hashes)


def _authority(x: XRequest) -> dict[str, Any]:
    cred = x.credential
    assert cred is not None
    base = services_of(current_app).settings.server.base_url.rstrip("/")
    return {"objectType": "Agent", "name": cred.name, "account": {"homePage": f"{base}/xapi", "name": cred.key}}


def _store_batch(x: XRequest, session: Session, raws: list[Any], parts: Mapping[str, tuple[str, bytes]]) -> list[str]:
    now = datetime.now(UTC)
    used: set[str] = set()
    batch = [_prepare(x, session, raw, parts, now, used) for raw in raws]
    unused = set(parts) - used
    if unused:
        raise bad(f"attachment parts {', '.join(sorted(unused))} match no attachment of the statements")
    hook = _cmi5_hook(x, session)
    if hook is not None:
        try:
            hook.judge([n.statement for n in batch])
        except Cmi5Violation as exc:  # cmi5 6.3: the LMS rejects statements that break its rules
            raise XapiError(400, exc.code, str(exc)) from exc
    ids = store.insert_statements(session, x.credential.tenant, batch, credential_id=x.credential.id, stored=now)  # type: ignore[union-attr]
    if hook is not None:
        hook.apply(now)
    else:
        tincan = _tincan_hook(x, session)
        if tincan is not None:
            tincan.apply_statements([n.statement for n in batch], now)
    if parts:
        store.save_attachments(session, x.credential.tenant, parts)  # type: ignore[union-attr]
    return ids


def _cmi5_hook(x: XRequest, session: Session) -> Any:
    """The cmi5 rules of the AU session whose credential posts (None for other callers)."""
    from lti_tool.runtime.cmi5_delivery import statement_hook  # the runtime sits above the LRS

    return statement_hook(session, services_of(current_app), x.credential)


def _tincan_hook(x: XRequest, session: Session) -> Any:
    """The outcome of a TinCan launch whose credential posts (None for other callers)."""
    from lti_tool.runtime.xapi_delivery import outcome_hook

    return outcome_hook(session, services_of(current_app), x.credential)


def _post_statements(x: XRequest, session: Session) -> Response:
    _only(x, set())
    data, parts = _read_statement_body(x)
    raws = data if isinstance(data, list) else [data]
    if not raws:
        raise bad("the statement array is empty")
    return json_response(_store_batch(x, session, raws, parts))


def _put_statement(x: XRequest, session: Session) -> Response:
    _only(x, {"statementId"})
    sid = x.params.get("statementId")
    if sid is None:
        raise bad("PUT /xapi/statements needs the statementId parameter")
    if not is_uuid(sid):
        raise bad(f"the 'statementId' parameter must be a UUID, got {sid!r}")
    data, parts = _read_statement_body(x)
    if not isinstance(data, dict):
        raise bad("PUT /xapi/statements takes one statement object")
    if "id" in data and str(data["id"]).lower() != sid.lower():
        raise bad(f"the statement's id {data['id']!r} differs from the statementId parameter {sid!r}")
    data["id"] = sid.lower() if "id" not in data else data["id"]
    _store_batch(x, session, [data], parts)
    return no_content()


def _get_statements(x: XRequest, session: Session) -> Response:
    _only(x, STATEMENT_GET_PARAMS)
    cred = x.credential
    assert cred is not None
    fmt = x.params.get("format", "exact")
    if fmt not in ("exact", "ids", "canonical"):
        raise bad(f"the 'format' parameter must be ids, exact or canonical, got {fmt!r}")
    with_attachments = _bool_param(x, "attachments")
    now = datetime.now(UTC)
    consistent = {"X-Experience-API-Consistent-Through": iso(now)}
    single = [k for k in ("statementId", "voidedStatementId") if k in x.params]
    if single:
        if len(single) > 1 or set(x.params) - {single[0], "format", "attachments"}:
            raise bad(f"{single[0]} cannot be combined with other filters (only format and attachments)")
        sid = _uuid_param(x, single[0])
        assert sid is not None
        found = store.get_statement(session, cred.tenant, sid, voided=single[0] == "voidedStatementId")
        if found is None:
            raise XapiError(404, "not_found", f"no {'voided ' if single[0] != 'statementId' else ''}statement {sid}")
        payload, hashes = found
        st = json.loads(payload)
        if cred.is_launch and cred.agent_key not in store.statement_owner(session, cred.tenant, sid):
            raise _forbid("this launch credential may only read its own learner's statements")
        out = format_statement(st, fmt, x.languages)
        stored = parse_timestamp(st.get("stored")) or now
        headers = {**consistent, "Last-Modified": http_date(stored)}
        if with_attachments:
            return _multipart(session, cred.tenant, out, json.loads(hashes) if hashes else [], headers)
        return json_response(out, headers=headers)
    if "more" in x.params:
        if set(x.params) - {"more"}:
            raise bad("the 'more' parameter cannot be combined with other parameters")
        q = StatementQuery.from_token(x.params["more"])
        fmt, with_attachments = q.format, q.attachments
    else:
        agent = _agent_param(x, required=False)
        limit_raw = x.params.get("limit", "0")
        if not limit_raw.isdigit():
            raise bad(f"the 'limit' parameter must be a non-negative integer, got {limit_raw!r}")
        q = StatementQuery(
            agent=agent[1] if agent else None,
            verb=_iri_param(x, "verb", required=False),
            activity=_iri_param(x, "activity", required=False),
            registration=_uuid_param(x, "registration"),
            related_activities=_bool_param(x, "related_activities"),
            related_agents=_bool_param(x, "related_agents"),
            since=_time_param(x, "since"),
            until=_time_param(x, "until"),
            limit=int(limit_raw),
            ascending=_bool_param(x, "ascending"),
            format=fmt,
            attachments=with_attachments,
        )
    if cred.is_launch:
        if q.agent is not None and q.agent != cred.agent_key:
            raise _forbid("this launch credential may only read its own learner's statements")
        q.agent, q.related_agents = cred.agent_key, False
    rows, more, max_seq = store.query_statements(session, cred.tenant, q)
    more_url = ""
    if more and rows:
        more_url = f"{request.script_root}{bp.url_prefix}/statements?more={q.token(rows[-1][0], max_seq)}"
    newest = max((stored for *_rest, stored in rows), default=now)
    headers = {**consistent, "Last-Modified": http_date(newest)}
    if fmt == "exact":
        # the stored JSON is the exact format: spliced as is, never parsed and re-serialised
        body = '{"statements":[' + ",".join(p for _, p, _h, _s in rows) + '],"more":' + json.dumps(more_url) + "}"
    else:
        statements = [format_statement(json.loads(p), fmt, x.languages) for _, p, _h, _s in rows]
        body = dumps({"statements": statements, "more": more_url})
    if with_attachments:
        hashes = [h for _, _, hs, _s in rows if hs for h in json.loads(hs)]
        return _multipart_raw(session, cred.tenant, body.encode(), hashes, headers)
    return Response(body, status=200, mimetype="application/json", headers=headers)


def _multipart(session: Session, tenant: str, value: Any, hashes: list[str], headers: Mapping[str, str]) -> Response:
    return _multipart_raw(session, tenant, dumps(value).encode(), hashes, headers)


def _multipart_raw(
    session: Session, tenant: str, first: bytes, hashes: list[str], headers: Mapping[str, str]
) -> Response:
    body, ctype = build_multipart(first, store.load_attachments(session, tenant, hashes))
    resp = Response(body, status=200, content_type=ctype)
    for k, v in headers.items():
        resp.headers[k] = v
    return resp


# -- documents -------------------------------------------------------------------------------------


def _concurrency(x: XRequest, existing: Any, *, put: bool, require_on_create: bool = False) -> None:
    if_match = x.header("if-match")
    if_none = x.header("if-none-match")
    current = existing.etag if existing is not None else None
    if if_match is not None:
        tags = [t.strip().strip('"') for t in if_match.split(",")]
        if current is None or ("*" not in tags and current not in tags):
            raise XapiError(412, "precondition_failed", "If-Match does not match the document's current ETag")
    if if_none is not None:
        tags = [t.strip().strip('"') for t in if_none.split(",")]
        if current is not None and ("*" in tags or current in tags):
            raise XapiError(412, "precondition_failed", "If-None-Match: the document already exists")
    if put and if_match is None and if_none is None and existing is None and not require_on_create:
        return
    if put and if_match is None and if_none is None and existing is None:
        raise bad("PUT needs If-Match or If-None-Match (use If-None-Match: * to create a document)")
    if put and if_match is None and if_none is None and existing is not None:
        raise XapiError(
            409, "conflict",
            "the document exists: send If-Match with its ETag (or If-None-Match: *) to replace it",
        )  # fmt: skip


def _document(x: XRequest, session: Session, key: DocKey, id_param: str, *, put_needs_etag: bool) -> Response:
    cred = x.credential
    assert cred is not None
    doc_id = x.params.get(id_param)
    tenant = cred.tenant
    if x.method in ("GET", "HEAD"):
        if doc_id is not None:
            if "since" in x.params:
                raise bad(f"'since' cannot be combined with {id_param}")
            doc = store.get_document(session, tenant, key, doc_id)
            if doc is None:
                raise XapiError(404, "not_found", f"no document {doc_id!r}")
            resp = Response(bytes(doc.content), status=200, content_type=doc.content_type)
            resp.headers["ETag"] = f'"{doc.etag}"'
            resp.headers["Last-Modified"] = http_date(doc.updated)
            return resp
        ids, newest = store.list_documents(session, tenant, key, _time_param(x, "since"))
        headers = {"Last-Modified": http_date(newest)} if newest else {}
        return json_response(ids, headers=headers)
    if x.method == "DELETE":
        if doc_id is None and key.kind != "state":
            raise bad(f"DELETE needs the {id_param} parameter")
        if doc_id is not None and x.header("if-match") is not None:
            _concurrency(x, store.get_document(session, tenant, key, doc_id), put=False)
        store.delete_documents(session, tenant, key, doc_id)
        return no_content()
    if x.method not in ("PUT", "POST"):
        raise XapiError(405, "method_not_allowed", f"{x.method} is not allowed here")
    if doc_id is None:
        raise bad(f"{x.method} needs the {id_param} parameter")
    if "since" in x.params:
        raise bad(f"'since' is not a parameter of {x.method}")
    existing = store.get_document(session, tenant, key, doc_id)
    _concurrency(
        x, existing, put=x.method == "PUT" and put_needs_etag,
        require_on_create=key.kind != "state" and x.version == "1.0.3",
    )  # fmt: skip
    ctype = x.header("content-type") or "application/octet-stream"
    content = x.body
    now = datetime.now(UTC)
    if x.method == "POST":
        is_json = ctype.split(";")[0].strip().lower() == "application/json"
        if existing is not None:
            old_json = existing.content_type.split(";")[0].strip().lower() == "application/json"
            if not (is_json and old_json):
                raise bad("POST merges JSON documents only: the stored and the sent document must both be JSON")
            old = _json(bytes(existing.content), "the stored document")
            new = _json(content, "the document")
            if not isinstance(old, dict) or not isinstance(new, dict):
                raise bad("POST merges JSON objects only")
            content = dumps({**old, **new}).encode()
        elif is_json:
            if not isinstance(_json(content, "the document"), dict):
                raise bad("a JSON document sent with POST must be an object")
    store.put_document(session, tenant, key, doc_id, content, ctype, now)
    return no_content({"ETag": f'"{store.etag_of(content)}"'})


def _own_agent(x: XRequest, key: str) -> None:
    cred = x.credential
    if cred is not None and cred.is_launch and key != cred.agent_key:
        raise _forbid("this launch credential may only use its own learner's documents")


@resource("activities/state")
def state(x: XRequest, session: Session) -> Response:
    _only(x, {"activityId", "agent", "registration", "stateId", "since"})
    activity = _iri_param(x, "activityId")
    agent = _agent_param(x)
    assert activity is not None and agent is not None
    _own_agent(x, agent[1])
    registration = _uuid_param(x, "registration") or ""
    key = DocKey("state", activity_id=activity, agent_key=agent[1], registration=registration)
    return _document(x, session, key, "stateId", put_needs_etag=x.version.startswith("2."))


@resource("activities/profile")
def activity_profile(x: XRequest, session: Session) -> Response:
    _only(x, {"activityId", "profileId", "since"})
    activity = _iri_param(x, "activityId")
    assert activity is not None
    cred = x.credential
    if cred is not None and cred.is_launch and x.method not in ("GET", "HEAD"):
        raise _forbid("a launch credential may read activity profiles, not change them")
    return _document(x, session, DocKey("activity_profile", activity_id=activity), "profileId", put_needs_etag=True)


@resource("agents/profile")
def agent_profile(x: XRequest, session: Session) -> Response:
    _only(x, {"agent", "profileId", "since"})
    agent = _agent_param(x)
    assert agent is not None
    _own_agent(x, agent[1])
    return _document(x, session, DocKey("agent_profile", agent_key=agent[1]), "profileId", put_needs_etag=True)


@resource("activities")
def activities(x: XRequest, session: Session) -> Response:
    if x.method not in ("GET", "HEAD"):
        raise XapiError(405, "method_not_allowed", "the Activities resource is read-only")
    _only(x, {"activityId"})
    activity = _iri_param(x, "activityId")
    assert activity is not None and x.credential is not None
    return json_response(store.get_activity(session, x.credential.tenant, activity))


@resource("agents")
def agents(x: XRequest, session: Session) -> Response:
    if x.method not in ("GET", "HEAD"):
        raise XapiError(405, "method_not_allowed", "the Agents resource is read-only")
    _only(x, {"agent"})
    agent = _agent_param(x)
    assert agent is not None
    _own_agent(x, agent[1])
    body, _key = agent
    person: dict[str, Any] = {"objectType": "Person"}
    if "name" in body:
        person["name"] = [body["name"]]
    for ifi in ("mbox", "mbox_sha1sum", "openid", "account"):
        if ifi in body:
            person[ifi] = [body[ifi]]
    return json_response(person)


@resource("about")
def about(x: XRequest, session: Session) -> Response:
    if x.method not in ("GET", "HEAD"):
        raise XapiError(405, "method_not_allowed", "the About resource is read-only")
    _only(x, set())
    return json_response({"version": list(VERSIONS), "extensions": {}})


def init_app(app: Flask) -> None:
    """Register the ``/xapi/`` blueprint (exempt from CSRF: it authenticates every request)."""
    app.register_blueprint(bp)
