"""The xAPI Statements resource: PUT/POST (with attachments and signatures) and GET (queries, ``more``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, request
from sqlalchemy.orm import Session

from lti_tool.lrs import store
from lti_tool.lrs.multipart import (
    SIGNATURE_USAGE,
    boundary_of,
    build_multipart,
    check_signature,
    parse_multipart,
    sha2_matches,
)
from lti_tool.lrs.protocol import (
    URL_PREFIX,
    XapiError,
    XRequest,
    agent_param,
    bad,
    bool_param,
    forbid,
    http_date,
    iri_param,
    json_response,
    no_content,
    only,
    parse_json,
    resource,
    time_param,
    uuid_param,
)
from lti_tool.lrs.store import StatementQuery, dumps, iso
from lti_tool.services import services_of
from scorm.xapi import agent_key, format_statement, normalize_statement, validate_statement
from scorm.xapi.cmi5 import Cmi5Violation
from scorm.xapi.formats import is_uuid, parse_timestamp

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
        data = parse_json(first.content, "the statement part")
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
    return parse_json(x.body, "the request body"), {}


def _prepare(
    x: XRequest,
    session: Session,
    raw: Any,
    parts: Mapping[str, tuple[str, bytes]],
    stamp: tuple[str, dict[str, Any]],
    used: set[str],
) -> store.NewStatement:
    """Validate, check the credential's scope, normalise and complete one statement.

    ``stamp``: the batch's ``stored`` (ISO) and ``authority``, the same for every statement.
    """
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
            raise forbid("this launch credential may only record statements whose actor is its own learner")
        registration = (raw.get("context") or {}).get("registration")
        if registration and registration.lower() != cred.registration:
            raise forbid("this launch credential may only record statements of its own registration")
        target = raw["object"]
        if raw["verb"]["id"] == store.VOIDED and target.get("objectType") == "StatementRef":
            owners = store.statement_owner(session, cred.tenant, target["id"])
            if owners and cred.agent_key not in owners:
                raise forbid("this launch credential may only void its own learner's statements")
    st = normalize_statement(raw)
    st["id"] = (st.get("id") or str(uuid.uuid4())).lower()
    st["stored"], authority = stamp
    timestamp_assigned = "timestamp" not in st
    st.setdefault("timestamp", st["stored"])
    st["authority"] = authority
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
    return store.NewStatement(statement=st, attachment_hashes=hashes, timestamp_assigned=timestamp_assigned)


def _authority(x: XRequest) -> dict[str, Any]:
    cred = x.credential
    assert cred is not None
    base = services_of(current_app).settings.server.base_url.rstrip("/")
    return {"objectType": "Agent", "name": cred.name, "account": {"homePage": f"{base}/xapi", "name": cred.key}}


def _store_batch(x: XRequest, session: Session, raws: list[Any], parts: Mapping[str, tuple[str, bytes]]) -> list[str]:
    now = datetime.now(UTC)
    used: set[str] = set()
    stamp = (iso(now), _authority(x))
    batch = [_prepare(x, session, raw, parts, stamp, used) for raw in raws]
    unused = set(parts) - used
    if unused:
        raise bad(f"attachment parts {', '.join(sorted(unused))} match no attachment of the statements")
    tenant = x.credential.tenant  # type: ignore[union-attr]
    if not x.credential.is_launch:  # type: ignore[union-attr]
        # an operator's statements have no cmi5 rules to judge nor outcome to apply (both hooks are
        # a launch credential's): the insert itself finds the resent ones, no look-up before it
        store.store_batch(session, tenant, batch, credential_id=x.credential.id, stored=now)  # type: ignore[union-attr]
        if parts:
            store.save_attachments(session, tenant, parts)
        return [n.statement["id"] for n in batch]
    ids = [n.statement["id"] for n in batch]
    # a resent statement (id stored, same content) changes nothing: not judged, stored or applied again
    fresh = store.new_statements(session, tenant, batch)
    if not fresh:
        return ids
    hook = _cmi5_hook(x, session)
    if hook is not None:
        try:
            hook.judge([n.statement for n in fresh])
        except Cmi5Violation as exc:  # cmi5 6.3: the LMS rejects statements that break its rules
            raise XapiError(400, exc.code, str(exc)) from exc
    store.insert_statements(session, tenant, fresh, credential_id=x.credential.id, stored=now, fresh_only=True)  # type: ignore[union-attr]
    if hook is not None:
        hook.apply(now)
    else:
        tincan = _tincan_hook(x, session)
        if tincan is not None:
            tincan.apply_statements([n.statement for n in fresh], now)
    if parts:
        store.save_attachments(session, tenant, parts)
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
    only(x, set())
    data, parts = _read_statement_body(x)
    raws = data if isinstance(data, list) else [data]
    if not raws:
        raise bad("the statement array is empty")
    return json_response(_store_batch(x, session, raws, parts))


def _put_statement(x: XRequest, session: Session) -> Response:
    only(x, {"statementId"})
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
    only(x, STATEMENT_GET_PARAMS)
    cred = x.credential
    assert cred is not None
    fmt = x.params.get("format", "exact")
    if fmt not in ("exact", "ids", "canonical"):
        raise bad(f"the 'format' parameter must be ids, exact or canonical, got {fmt!r}")
    with_attachments = bool_param(x, "attachments")
    now = datetime.now(UTC)
    consistent = {"X-Experience-API-Consistent-Through": iso(now)}
    single = [k for k in ("statementId", "voidedStatementId") if k in x.params]
    if single:
        if len(single) > 1 or set(x.params) - {single[0], "format", "attachments"}:
            raise bad(f"{single[0]} cannot be combined with other filters (only format and attachments)")
        sid = uuid_param(x, single[0])
        assert sid is not None
        found = store.get_statement(session, cred.tenant, sid, voided=single[0] == "voidedStatementId")
        if found is None:
            raise XapiError(404, "not_found", f"no {'voided ' if single[0] != 'statementId' else ''}statement {sid}")
        payload, hashes = found
        st = json.loads(payload)
        if cred.is_launch and cred.agent_key not in store.statement_owner(session, cred.tenant, sid):
            raise forbid("this launch credential may only read its own learner's statements")
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
        agent = agent_param(x, required=False)
        limit_raw = x.params.get("limit", "0")
        if not (limit_raw.isascii() and limit_raw.isdigit()):
            raise bad(f"the 'limit' parameter must be a non-negative integer, got {limit_raw!r}")
        q = StatementQuery(
            agent=agent[1] if agent else None,
            verb=iri_param(x, "verb", required=False),
            activity=iri_param(x, "activity", required=False),
            registration=uuid_param(x, "registration"),
            related_activities=bool_param(x, "related_activities"),
            related_agents=bool_param(x, "related_agents"),
            since=time_param(x, "since"),
            until=time_param(x, "until"),
            limit=int(limit_raw),
            ascending=bool_param(x, "ascending"),
            format=fmt,
            attachments=with_attachments,
        )
    if cred.is_launch:
        if q.agent is not None and q.agent != cred.agent_key:
            raise forbid("this launch credential may only read its own learner's statements")
        q.agent, q.related_agents = cred.agent_key, False
    rows, more, max_seq = store.query_statements(session, cred.tenant, q)
    more_url = ""
    if more and rows:
        more_url = f"{request.script_root}{URL_PREFIX}/statements?more={q.token(rows[-1][0], max_seq)}"
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
