"""The xAPI document resources: State, Activity Profile and Agent Profile (ETags, JSON merge)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from lti_tool.lrs import documents_store
from lti_tool.lrs.documents_store import DocKey
from lti_tool.lrs.protocol import (
    XapiError,
    XRequest,
    agent_param,
    bad,
    forbid,
    http_date,
    iri_param,
    json_response,
    no_content,
    only,
    own_agent,
    parse_json,
    resource,
    time_param,
    uuid_param,
)
from lti_tool.lrs.recording import CMI5_LEARNER_PREFERENCES
from lti_tool.lrs.store import dumps


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
            doc = documents_store.get_document(session, tenant, key, doc_id)
            if doc is None:
                raise XapiError(404, "not_found", f"no document {doc_id!r}")
            resp = Response(bytes(doc.content), status=200, content_type=doc.content_type)
            resp.headers["ETag"] = f'"{doc.etag}"'
            resp.headers["Last-Modified"] = http_date(doc.updated)
            return resp
        ids, newest = documents_store.list_documents(session, tenant, key, time_param(x, "since"))
        headers = {"Last-Modified": http_date(newest)} if newest else {}
        return json_response(ids, headers=headers)
    if x.method == "DELETE":
        if doc_id is None and key.kind != "state":
            raise bad(f"DELETE needs the {id_param} parameter")
        if doc_id is not None and x.header("if-match") is not None:
            _concurrency(x, documents_store.get_document(session, tenant, key, doc_id), put=False)
        documents_store.delete_documents(session, tenant, key, doc_id)
        return no_content()
    if x.method not in ("PUT", "POST"):
        raise XapiError(405, "method_not_allowed", f"{x.method} is not allowed here")
    if doc_id is None:
        raise bad(f"{x.method} needs the {id_param} parameter")
    if "since" in x.params:
        raise bad(f"'since' is not a parameter of {x.method}")
    existing = documents_store.get_document(session, tenant, key, doc_id)
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
            old = parse_json(bytes(existing.content), "the stored document")
            new = parse_json(content, "the document")
            if not isinstance(old, dict) or not isinstance(new, dict):
                raise bad("POST merges JSON objects only")
            content = dumps({**old, **new}).encode()
        elif is_json:
            if not isinstance(parse_json(content, "the document"), dict):
                raise bad("a JSON document sent with POST must be an object")
    documents_store.put_document(session, tenant, key, doc_id, content, ctype, now)
    return no_content({"ETag": f'"{documents_store.etag_of(content)}"'})


@resource("activities/state")
def state(x: XRequest, session: Session) -> Response:
    only(x, {"activityId", "agent", "registration", "stateId", "since"})
    activity = iri_param(x, "activityId")
    agent = agent_param(x)
    assert activity is not None and agent is not None
    own_agent(x, agent[1])
    registration = uuid_param(x, "registration") or ""
    key = DocKey("state", activity_id=activity, agent_key=agent[1], registration=registration)
    return _document(x, session, key, "stateId", put_needs_etag=x.version.startswith("2."))


@resource("activities/profile")
def activity_profile(x: XRequest, session: Session) -> Response:
    only(x, {"activityId", "profileId", "since"})
    activity = iri_param(x, "activityId")
    assert activity is not None
    cred = x.credential
    if cred is not None and cred.is_launch and x.method not in ("GET", "HEAD"):
        raise forbid("a launch credential may read activity profiles, not change them")
    return _document(x, session, DocKey("activity_profile", activity_id=activity), "profileId", put_needs_etag=True)


@resource("agents/profile")
def agent_profile(x: XRequest, session: Session) -> Response:
    only(x, {"agent", "profileId", "since"})
    agent = agent_param(x)
    assert agent is not None
    own_agent(x, agent[1])
    cred = x.credential
    if (
        cred is not None and cred.is_launch and x.method not in ("GET", "HEAD")
        and x.params.get("profileId") == CMI5_LEARNER_PREFERENCES
    ):  # fmt: skip
        # cmi5 §11: the LMS may refuse the AU's changes with 403 (the AU must not treat it as an
        # error); the LMS writes the learner's preferences before every launch
        raise forbid("the learner's cmi5 preferences are set by the LMS; an AU may read them, not change them")
    return _document(x, session, DocKey("agent_profile", agent_key=agent[1]), "profileId", put_needs_etag=True)
