"""The development LMS's blueprint (``/dev/platform``): its pages, the launch and deep linking.

A minimal but real LMS for development, demos and end-to-end tests. It talks to the tool only
over HTTP, as a real LMS does: it sends the OIDC initiation to the tool's ``/lti/login``, answers
the tool's GET redirect at ``/dev/platform/auth`` with an auto-submitting ``form_post`` of a signed
id_token, publishes its own JWKS, verifies the tool's deep linking responses and client
assertions against the tool's JWKS fetched over HTTP, and offers AGS (line items, scores,
results) and NRPS (memberships, paged) endpoints (:mod:`lti_tool.devlms.web_services`).

The blueprint exists only where :func:`lti_tool.devlms.install` registered it (demo mode); each
view receives the app's :class:`~lti_tool.devlms.state.DevLms` as its first argument.
"""

from __future__ import annotations

import secrets
import time
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request
from itsdangerous import BadSignature

from lti_tool.devlms import identity as dev
from lti_tool.devlms import store
from lti_tool.devlms.state import DevLms, ToolJwtError
from lti_tool.lti.service import add_query
from sync.lti_claims import (
    AGS_CLAIM_ENDPOINT,
    CLAIM,
    DL_CLAIM,
    LTI_VERSION,
    MESSAGE_DEEP_LINKING_REQUEST,
    MESSAGE_DEEP_LINKING_RESPONSE,
    MESSAGE_RESOURCE_LINK,
    NRPS_CLAIM,
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_NRPS,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
)

MAX_BODY_BYTES = 64 * 1024  # AGS line items and scores are a few hundred bytes
ALLOWED_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_SCORE, SCOPE_RESULT_READONLY, SCOPE_NRPS)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def blueprint() -> Blueprint:
    """A fresh blueprint for one app (its views are bound to that app's :class:`DevLms`)."""
    return Blueprint("devplatform", __name__, url_prefix=dev.PATH, template_folder="templates")


def home(lms: DevLms) -> str:
    """The demo course: users, resource links, launch buttons."""
    return render_template(
        "devplatform/home.html",
        course=dev.COURSE,
        users=dev.USERS,
        links=store.links(lms.db, dev.SAMPLE_COURSE_KEY),
        issuer=lms.iss,
        client_id=dev.CLIENT_ID,
        deployment_id=dev.DEPLOYMENT_ID,
    )


def jwks(lms: DevLms) -> Response:
    """The platform's public keys."""
    return jsonify({"keys": [lms.key.public]})


def frame(lms: DevLms) -> str:
    """The launch inside an iframe, with LTI platform storage (``lti.put_data`` / ``lti.get_data``)."""
    user = dev.user_by_key(request.args.get("user", ""))
    link_id = request.args.get("link", type=int)
    if user is None or link_id is None:
        abort(400, "user and link are required")
    src = f"{dev.PATH}/launch?{urlencode({'user': user.key, 'link': link_id, 'storage': 1})}"
    tool = urlsplit(lms.base_url)
    return render_template("devplatform/frame.html", src=src, user=user, tool_origin=f"{tool.scheme}://{tool.netloc}")


# -- launch: OIDC initiation and the auth endpoint ---------------------------------------------------


def start_launch(lms: DevLms) -> Response:
    """Start a launch as a user: a GET redirect to the tool's OIDC login (third-party initiation)."""
    user = dev.user_by_key(request.args.get("user", ""))
    if user is None:
        abort(400, "unknown user")
    kind = request.args.get("kind", "resource")
    link_id = request.args.get("link", type=int)
    if kind == "resource" and link_id is None:
        abort(400, "which resource link?")
    hint = lms.hints.dumps({"u": user.key, "l": link_id, "k": kind})
    params = {
        "iss": lms.iss,
        "login_hint": user.sub,
        "target_link_uri": lms.tool("/lti/launch"),
        "lti_message_hint": hint,
        "client_id": dev.CLIENT_ID,
        "lti_deployment_id": dev.DEPLOYMENT_ID,
    }
    if request.args.get("storage"):
        params["lti_storage_target"] = "_parent"
    return redirect(add_query(lms.tool("/lti/login"), params), code=302)


def _auth_error(redirect_uri: str, state_value: str, error: str, description: str) -> Response:
    return Response(
        render_template(
            "devplatform/form_post.html",
            action=redirect_uri,
            fields={"error": error, "error_description": description, "state": state_value},
        )
    )


def auth(lms: DevLms) -> Response:
    """OIDC authorization endpoint: validate the tool's request, answer with a form_post id_token."""
    src = request.args if request.method == "GET" else request.form
    redirect_uri = src.get("redirect_uri", "")
    if redirect_uri != lms.tool("/lti/launch"):
        abort(400, "redirect_uri is not registered for this tool (exact match required)")
    state_value = src.get("state", "")
    checks = (
        (src.get("scope") == "openid", "invalid_scope", "scope must be openid"),
        (src.get("response_type") == "id_token", "unsupported_response_type", "response_type must be id_token"),
        (src.get("response_mode") == "form_post", "invalid_request", "response_mode must be form_post"),
        (src.get("prompt") == "none", "invalid_request", "prompt must be none"),
        (src.get("client_id") == dev.CLIENT_ID, "unauthorized_client", "unknown client_id"),
        (bool(src.get("nonce")), "invalid_request", "nonce is required"),
    )
    for ok, error, description in checks:
        if not ok:
            return _auth_error(redirect_uri, state_value, error, description)
    try:
        hint = lms.hints.loads(src.get("lti_message_hint", ""), max_age=600)
    except BadSignature:
        return _auth_error(redirect_uri, state_value, "invalid_request", "lti_message_hint was altered")
    user = dev.user_by_key(hint.get("u", ""))
    if user is None or src.get("login_hint") != user.sub:
        return _auth_error(redirect_uri, state_value, "login_required", "login_hint does not match the user")
    token = lms.sign(_launch_claims(lms, user, hint, src["nonce"]))
    return Response(
        render_template(
            "devplatform/form_post.html", action=redirect_uri, fields={"id_token": token, "state": state_value}
        )
    )


def _launch_claims(lms: DevLms, user: dev.DevUser, hint: dict[str, Any], nonce: str) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": lms.iss,
        "aud": dev.CLIENT_ID,
        "azp": dev.CLIENT_ID,
        "sub": user.sub,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        CLAIM + "version": LTI_VERSION,
        CLAIM + "deployment_id": dev.DEPLOYMENT_ID,
        CLAIM + "target_link_uri": lms.tool("/lti/launch"),
        CLAIM + "roles": list(user.roles),
        CLAIM + "context": {**dev.COURSE, "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]},
        CLAIM + "tool_platform": {
            "guid": "cbsi-dev-platform",
            "name": "CBSI development LMS",
            "product_family_code": "cbsi-dev",
        },
        CLAIM + "launch_presentation": {"document_target": "iframe", "return_url": lms.iss + "/"},
        NRPS_CLAIM: {"context_memberships_url": lms.iss + "/memberships", "service_versions": ["2.0"]},
    }
    ags: dict[str, Any] = {
        "scope": [SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE],
        "lineitems": lms.iss + "/lineitems",
    }
    if hint.get("k") == "deeplink":
        claims[CLAIM + "message_type"] = MESSAGE_DEEP_LINKING_REQUEST
        claims[DL_CLAIM + "deep_linking_settings"] = {
            "deep_link_return_url": lms.iss + "/deep_link_return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
            "auto_create": True,
            "title": "Add CBSI content",
            "data": lms.hints.dumps({"dl": secrets.token_urlsafe(8)}),
        }
    else:
        link = store.resource_link(lms.db, hint.get("l"))
        if link is None:
            abort(404, "resource link not found")
        claims[CLAIM + "message_type"] = MESSAGE_RESOURCE_LINK
        claims[CLAIM + "resource_link"] = {"id": store.link_id_text(link.id), "title": link.title}
        if link.url:
            claims[CLAIM + "target_link_uri"] = link.url
        if link.custom:
            claims[CLAIM + "custom"] = dict(link.custom)
        if link.line_item_id is not None:
            ags["lineitem"] = lms.lineitem_url(link.line_item_id)
    claims[AGS_CLAIM_ENDPOINT] = ags
    return claims


# -- deep linking: what the tool sends back ----------------------------------------------------------


def _deep_link_problems(lms: DevLms, claims: dict[str, Any]) -> list[str]:
    problems = []
    if claims.get("iss") != dev.CLIENT_ID:
        problems.append("iss must be the client id")
    if claims.get(CLAIM + "message_type") != MESSAGE_DEEP_LINKING_RESPONSE:
        problems.append("message_type must be LtiDeepLinkingResponse")
    if claims.get(CLAIM + "version") != LTI_VERSION:
        problems.append("version must be 1.3.0")
    if claims.get(CLAIM + "deployment_id") != dev.DEPLOYMENT_ID:
        problems.append("deployment_id does not match")
    if not claims.get("nonce"):
        problems.append("nonce is required")
    data = claims.get(DL_CLAIM + "data")
    if data is not None:
        try:
            lms.hints.loads(data, max_age=3600)
        except BadSignature:
            problems.append("data was altered")
    return problems


def deep_link_return(lms: DevLms) -> Response | tuple[str, int]:
    """Deep Linking 2.0 §4.5: verify the tool's response and create the returned resource links."""
    token = request.form.get("JWT", "")
    try:
        claims = lms.verify_tool_jwt(token, lms.iss)
    except ToolJwtError as exc:
        return render_template("devplatform/message.html", title="Deep linking refused", message=str(exc)), 400
    problems = _deep_link_problems(lms, claims)
    if problems:
        return render_template(
            "devplatform/message.html", title="Deep linking refused", message="; ".join(problems)
        ), 400
    created = store.add_deep_links(lms.db, claims.get(DL_CLAIM + "content_items") or [])
    message = claims.get(DL_CLAIM + "msg") or f"{len(created)} item(s) added: {', '.join(created) or 'none'}"
    return render_template("devplatform/message.html", title="Content added", message=message, created=created), 200


# -- pages -----------------------------------------------------------------------------------------


def gradebook(lms: DevLms) -> str:
    """Received scores: one row per line item and user (latest score)."""
    items, latest = store.gradebook(lms.db)
    rows = [
        {
            "item": item.label,
            "user": u.name,
            "score": latest.get((item.id, u.sub)),
            "maximum": item.score_maximum,
        }
        for item in items
        for u in dev.USERS
        if u.nrps_roles
    ]
    return render_template("devplatform/gradebook.html", rows=rows)


def register(bp: Blueprint, lms: DevLms) -> None:
    """The pages and the launch endpoints, bound to ``lms``."""
    home_view = partial(home, lms)
    bp.add_url_rule("", "home", home_view)
    bp.add_url_rule("/", "home", home_view)
    bp.add_url_rule("/jwks", "jwks", partial(jwks, lms))
    bp.add_url_rule("/launch", "start_launch", partial(start_launch, lms))
    bp.add_url_rule("/frame", "frame", partial(frame, lms))
    bp.add_url_rule("/auth", "auth", partial(auth, lms), methods=["GET", "POST"])
    bp.add_url_rule("/deep_link_return", "deep_link_return", partial(deep_link_return, lms), methods=["POST"])
    bp.add_url_rule("/gradebook", "gradebook", partial(gradebook, lms))


__all__ = ["ALLOWED_SCOPES", "blueprint", "register"]
