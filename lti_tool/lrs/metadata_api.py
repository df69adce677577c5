"""The read-only xAPI resources: Activities, Agents (the Person object) and About."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from lti_tool.lrs import store
from lti_tool.lrs.protocol import (
    VERSIONS,
    XapiError,
    XRequest,
    agent_param,
    iri_param,
    json_response,
    only,
    own_agent,
    resource,
)


@resource("activities")
def activities(x: XRequest, session: Session) -> Response:
    if x.method not in ("GET", "HEAD"):
        raise XapiError(405, "method_not_allowed", "the Activities resource is read-only")
    only(x, {"activityId"})
    activity = iri_param(x, "activityId")
    assert activity is not None and x.credential is not None
    return json_response(store.get_activity(session, x.credential.tenant, activity))


@resource("agents")
def agents(x: XRequest, session: Session) -> Response:
    if x.method not in ("GET", "HEAD"):
        raise XapiError(405, "method_not_allowed", "the Agents resource is read-only")
    only(x, {"agent"})
    agent = agent_param(x)
    assert agent is not None
    own_agent(x, agent[1])
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
    only(x, set())
    return json_response({"version": list(VERSIONS), "extensions": {}})
