"""The development LMS's service endpoints: OAuth2 token, AGS (line items, scores, results), NRPS.

Each view receives the app's :class:`~lti_tool.devlms.state.DevLms` first; the queries are in
:mod:`lti_tool.devlms.store`.
"""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request
from itsdangerous import BadSignature

from lti_tool.devlms import identity as dev
from lti_tool.devlms import store
from lti_tool.devlms.models import DevLineItem
from lti_tool.devlms.state import DevLms, ToolJwtError
from lti_tool.devlms.web import ALLOWED_SCOPES, ASSERTION_TYPE, MAX_BODY_BYTES
from lti_tool.web.bodies import read_json_object
from sync.lti_claims import (
    LINEITEM_CONTAINER_MEDIA_TYPE,
    LINEITEM_MEDIA_TYPE,
    NRPS_MEDIA_TYPE,
    RESULT_CONTAINER_MEDIA_TYPE,
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_NRPS,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    SCORE_MEDIA_TYPE,
)

# -- OAuth2 token endpoint (client_credentials + private_key_jwt) ------------------------------------


def token(lms: DevLms) -> tuple[Response, int]:
    """Security Framework §4.1: client credentials with a JWT-bearer assertion."""
    form = request.form
    if form.get("grant_type") != "client_credentials":
        return jsonify({"error": "unsupported_grant_type"}), 400
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return jsonify({"error": "invalid_request", "error_description": "client_assertion_type"}), 400
    try:
        claims = lms.verify_tool_jwt(form.get("client_assertion", ""), [lms.iss + "/token", lms.iss])
    except ToolJwtError as exc:
        return jsonify({"error": "invalid_client", "error_description": str(exc)}), 401
    if claims.get("iss") != dev.CLIENT_ID or claims.get("sub") != dev.CLIENT_ID:
        return jsonify({"error": "invalid_client", "error_description": "iss and sub must be the client id"}), 401
    if not lms.first_use_of(claims.get("jti")):
        return jsonify({"error": "invalid_client", "error_description": "jti missing or reused"}), 401
    scopes = [sc for sc in form.get("scope", "").split() if sc in ALLOWED_SCOPES]  # others dropped silently
    if not scopes:
        return jsonify({"error": "invalid_scope"}), 400
    access = lms.tokens.dumps({"scopes": scopes, "n": secrets.token_urlsafe(6)})
    return jsonify({"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": " ".join(scopes)}), 200


def _require_scope(lms: DevLms, *accepted: str) -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        abort(401, "a Bearer access token is required")
    try:
        data = lms.tokens.loads(header[7:], max_age=3600)
    except BadSignature:
        abort(401, "invalid access token")
    if not set(accepted) & set(data.get("scopes", [])):
        abort(403, "the access token lacks the scope for this service")


# -- AGS --------------------------------------------------------------------------------------------


def _lineitem_json(lms: DevLms, item: DevLineItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": lms.lineitem_url(item.id),
        "label": item.label,
        "scoreMaximum": item.score_maximum,
    }
    for key, value in (("resourceLinkId", item.resource_link_id), ("resourceId", item.resource_id), ("tag", item.tag)):
        if value:
            out[key] = value
    return out


def _typed(body: Any, mimetype: str, status: int) -> tuple[Response, int]:
    response = jsonify(body)
    response.mimetype = mimetype
    return response, status


def lineitems(lms: DevLms) -> tuple[Response, int]:
    """AGS 2.0 §3.2: the line items container (filters resource_link_id, resource_id, tag)."""
    if request.method == "GET":
        _require_scope(lms, SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)
        filters = {arg: request.args[arg] for arg in store.LINE_ITEM_FILTERS if request.args.get(arg)}
        items = [_lineitem_json(lms, i) for i in store.line_items(lms.db, filters)]
        return _typed(items, LINEITEM_CONTAINER_MEDIA_TYPE, 200)
    _require_scope(lms, SCOPE_LINEITEM)
    data = read_json_object(MAX_BODY_BYTES)
    if not isinstance(data, dict) or not data.get("label") or not isinstance(data.get("scoreMaximum"), int | float):
        return jsonify({"error": "label and a numeric scoreMaximum are required"}), 400
    return _typed(_lineitem_json(lms, store.add_line_item(lms.db, data)), LINEITEM_MEDIA_TYPE, 201)


def lineitem(lms: DevLms, item_id: int) -> tuple[Response, int]:
    """AGS 2.0 §3.3: one line item."""
    _require_scope(lms, SCOPE_LINEITEM, *(() if request.method != "GET" else (SCOPE_LINEITEM_READONLY,)))
    if request.method == "DELETE":
        if not store.delete_line_item(lms.db, item_id):
            abort(404, "line item not found")
        return jsonify({}), 204
    if request.method == "PUT":
        if store.line_item(lms.db, item_id) is None:
            abort(404, "line item not found")
        item = store.update_line_item(lms.db, item_id, read_json_object(MAX_BODY_BYTES))
    else:
        item = store.line_item(lms.db, item_id)
    if item is None:
        abort(404, "line item not found")
    return _typed(_lineitem_json(lms, item), LINEITEM_MEDIA_TYPE, 200)


def scores(lms: DevLms, item_id: int) -> tuple[Response, int]:
    """AGS 2.0 §3.4 score publish, with Moodle's rules (DESIGN.md §6): enrolled user, timestamps
    strictly increasing at 1-second resolution (else 409)."""
    _require_scope(lms, SCOPE_SCORE)
    if request.mimetype != SCORE_MEDIA_TYPE:
        return jsonify({"error": f"Content-Type must be {SCORE_MEDIA_TYPE}"}), 415
    data = read_json_object(MAX_BODY_BYTES)
    if not isinstance(data, dict):
        return jsonify({"error": "the body must be a JSON object"}), 400
    user_id = data.get("userId")
    ts = store.parse_timestamp(data.get("timestamp"))
    if not isinstance(user_id, str) or dev.user_by_sub(user_id) is None or ts is None:
        return jsonify({"error": "Incorrect score received"}), 400
    if data.get("activityProgress") is None or data.get("gradingProgress") is None:
        return jsonify({"error": "activityProgress and gradingProgress are required"}), 400
    outcome = store.record_score(lms.db, item_id, store.NewScore(user_id=user_id, timestamp=ts, data=data))
    if outcome is store.ScoreOutcome.NO_LINE_ITEM:
        abort(404, "line item not found")
    if outcome is store.ScoreOutcome.NOT_NEWER:
        return jsonify({"error": "score timestamp is not newer than the last one"}), 409
    return jsonify({}), 200


def results(lms: DevLms, item_id: int) -> tuple[Response, int]:
    """AGS 2.0 §3.5: the latest result per user (a non-FullyGraded score clears the grade, like Moodle)."""
    _require_scope(lms, SCOPE_RESULT_READONLY)
    if store.line_item(lms.db, item_id) is None:
        abort(404, "line item not found")
    body = []
    for (li, user_id), sc in store.latest_scores(lms.db).items():
        if li != item_id or (request.args.get("user_id") and request.args["user_id"] != user_id):
            continue
        graded = sc.grading_progress == "FullyGraded"
        body.append(
            {
                "id": f"{lms.iss}/lineitems/{item_id}/lineitem/results/{sc.id}",
                "scoreOf": lms.lineitem_url(item_id),
                "userId": user_id,
                "resultScore": sc.score_given if graded else None,
                "resultMaximum": sc.score_maximum,
                "comment": sc.comment,
            }
        )
    return _typed(body, RESULT_CONTAINER_MEDIA_TYPE, 200)


# -- NRPS -------------------------------------------------------------------------------------------


def memberships(lms: DevLms) -> Response:
    """NRPS 2.0 §2: course members, paged with ``limit`` and a ``Link: rel="next"`` header."""
    _require_scope(lms, SCOPE_NRPS)
    members = [
        {
            "status": "Active",
            "user_id": u.sub,
            "name": u.name,
            "given_name": u.given_name,
            "family_name": u.family_name,
            "email": u.email,
            "roles": list(u.nrps_roles),
        }
        for u in dev.USERS
        if u.nrps_roles
    ]
    if request.args.get("role"):
        members = [
            m
            for m in members
            if any(r.endswith("#" + request.args["role"]) or r == request.args["role"] for r in m["roles"])
        ]
    limit = max(1, min(request.args.get("limit", type=int) or len(members) or 1, 100))
    page = max(1, request.args.get("page", type=int) or 1)
    chunk = members[(page - 1) * limit : page * limit]
    response = jsonify(
        {
            "id": request.url,
            "context": {"id": dev.COURSE["id"], "label": dev.COURSE["label"], "title": dev.COURSE["title"]},
            "members": chunk,
        }
    )
    response.mimetype = NRPS_MEDIA_TYPE
    if page * limit < len(members):
        response.headers["Link"] = (
            f'<{lms.iss}/memberships?{urlencode({"limit": limit, "page": page + 1})}>; rel="next"'
        )
    return response


def register(bp: Blueprint, lms: DevLms) -> None:
    """The service endpoints, bound to ``lms``."""
    bp.add_url_rule("/token", "token", partial(token, lms), methods=["POST"])
    bp.add_url_rule("/lineitems", "lineitems", partial(lineitems, lms), methods=["GET", "POST"])
    bp.add_url_rule(
        "/lineitems/<int:item_id>/lineitem", "lineitem", partial(lineitem, lms), methods=["GET", "PUT", "DELETE"]
    )
    bp.add_url_rule("/lineitems/<int:item_id>/lineitem/scores", "scores", partial(scores, lms), methods=["POST"])
    bp.add_url_rule("/lineitems/<int:item_id>/lineitem/results", "results", partial(results, lms))
    bp.add_url_rule("/memberships", "memberships", partial(memberships, lms))
