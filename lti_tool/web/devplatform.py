"""A minimal but real LMS for development, demos and end-to-end tests (``/dev/platform``).

It talks to the tool only over HTTP, as a real LMS does: it sends the OIDC initiation to the
tool's ``/lti/login``, answers the tool's GET redirect at ``/dev/platform/auth`` with an
auto-submitting ``form_post`` of a signed id_token, publishes its own JWKS, verifies the
tool's deep linking responses and client assertions against the tool's JWKS fetched over
HTTP, and offers AGS (line items, scores, results) and NRPS (memberships, paged) endpoints.

Enabled only when ``server.demo`` is true, or in a testing app with
``app.config["CBSI_DEV_PLATFORM"] = True``; every route answers 404 otherwise.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from lti_tool.keys import public_jwk, thumbprint
from lti_tool.lti import devplatform as dev
from lti_tool.lti.jwks import JwksUnavailable, PlatformKeyCache, UnknownKid
from lti_tool.lti.service import add_query
from lti_tool.storage.models import DevLineItem, DevResourceLink, DevScore
from lti_tool.web import services
from lti_tool.web.bodies import read_json_object

logger = logging.getLogger(__name__)

bp = Blueprint("devplatform", __name__, url_prefix=dev.PATH)
EXTENSION = "cbsi_devplatform"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_RO = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MAX_BODY_BYTES = 64 * 1024  # AGS line items and scores are a few hundred bytes
ALLOWED_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_RO, SCOPE_SCORE, SCOPE_RESULT, SCOPE_NRPS)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
NRPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


@dataclass
class DevPlatformState:
    """Per-app state of the development platform: its key and the tool-key cache."""

    kid: str
    private_key: rsa.RSAPrivateKey
    public: dict[str, Any]
    tool_keys: PlatformKeyCache
    hints: URLSafeTimedSerializer
    tokens: URLSafeTimedSerializer
    seen_jti: dict[str, float]
    lock: threading.Lock


def _load_or_create_key(instance: Path) -> tuple[str, rsa.RSAPrivateKey, dict[str, Any]]:
    folder = instance / "devplatform"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "platform-key.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    os.chmod(path, 0o600)
    pem = path.read_bytes()
    loaded = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):  # pragma: no cover - we wrote it
        raise RuntimeError(f"{path} does not hold an RSA key")
    jwk = public_jwk(loaded.public_key())
    kid = thumbprint(jwk)
    return kid, loaded, {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def state() -> DevPlatformState:
    """The development platform's state in the current app (created on first use)."""
    app = current_app
    existing = app.extensions.get(EXTENSION)
    if existing is not None:
        return existing
    settings = services().settings
    kid, private_key, public = _load_or_create_key(settings.instance_path)
    secret = str(app.config["SECRET_KEY"])
    created = DevPlatformState(
        kid=kid,
        private_key=private_key,
        public=public,
        tool_keys=PlatformKeyCache(
            ttl_seconds=300, refetch_min_interval_seconds=0, timeout_seconds=5.0, session=services().http
        ),
        hints=URLSafeTimedSerializer(secret, salt="devplatform-message-hint"),
        tokens=URLSafeTimedSerializer(secret, salt="devplatform-access-token"),
        seen_jti={},
        lock=threading.Lock(),
    )
    return app.extensions.setdefault(EXTENSION, created)


def _base() -> str:
    return services().settings.server.base_url.rstrip("/")


def _iss() -> str:
    return dev.issuer(_base())


def _tool(path: str) -> str:
    return _base() + path


def _enabled() -> bool:
    return services().settings.server.demo or (
        current_app.testing and bool(current_app.config.get("CBSI_DEV_PLATFORM"))
    )


@bp.before_request
def _guard() -> None:
    if not _enabled():
        abort(404)


# -- course data ----------------------------------------------------------------------------------


def _ensure_default_link() -> None:
    with services().db.session() as s:
        if s.scalars(select(DevResourceLink.id).limit(1)).first() is not None:
            return
        item = DevLineItem(label="Sample activity", score_maximum=100.0, resource_id="sample", tag="grade")
        s.add(item)
        s.flush()
        link = DevResourceLink(
            title="Sample activity", url=None, custom={"course": dev.SAMPLE_COURSE_KEY}, line_item_id=item.id
        )
        s.add(link)
        s.flush()
        item.resource_link_id = f"dev-link-{link.id}"


def _links() -> list[DevResourceLink]:
    _ensure_default_link()
    with services().db.session() as s:
        return list(s.scalars(select(DevResourceLink).order_by(DevResourceLink.id)))


@bp.get("")
@bp.get("/")
def home() -> str:
    """The demo course: users, resource links, launch buttons."""
    return render_template(
        "devplatform/home.html",
        course=dev.COURSE,
        users=dev.USERS,
        links=_links(),
        issuer=_iss(),
        client_id=dev.CLIENT_ID,
        deployment_id=dev.DEPLOYMENT_ID,
    )


@bp.get("/jwks")
def jwks() -> Response:
    """The platform's public keys."""
    return jsonify({"keys": [state().public]})


# -- launch: OIDC initiation and the auth endpoint ---------------------------------------------------


@bp.get("/launch")
def start_launch() -> Response:
    """Start a launch as a user: a GET redirect to the tool's OIDC login (third-party initiation)."""
    user = dev.user_by_key(request.args.get("user", ""))
    if user is None:
        abort(400, "unknown user")
    kind = request.args.get("kind", "resource")
    link_id = request.args.get("link", type=int)
    if kind == "resource" and link_id is None:
        abort(400, "which resource link?")
    hint = state().hints.dumps({"u": user.key, "l": link_id, "k": kind})
    params = {
        "iss": _iss(),
        "login_hint": user.sub,
        "target_link_uri": _tool("/lti/launch"),
        "lti_message_hint": hint,
        "client_id": dev.CLIENT_ID,
        "lti_deployment_id": dev.DEPLOYMENT_ID,
    }
    if request.args.get("storage"):
        params["lti_storage_target"] = "_parent"
    return redirect(add_query(_tool("/lti/login"), params), code=302)


@bp.get("/frame")
def frame() -> str:
    """The launch inside an iframe, with LTI platform storage (``lti.put_data`` / ``lti.get_data``)."""
    user = dev.user_by_key(request.args.get("user", ""))
    link_id = request.args.get("link", type=int)
    if user is None or link_id is None:
        abort(400, "user and link are required")
    src = f"{dev.PATH}/launch?{urlencode({'user': user.key, 'link': link_id, 'storage': 1})}"
    tool = urlsplit(_base())
    return render_template("devplatform/frame.html", src=src, user=user, tool_origin=f"{tool.scheme}://{tool.netloc}")


def _auth_error(redirect_uri: str, state_value: str, error: str, description: str) -> Response:
    return Response(
        render_template(
            "devplatform/form_post.html",
            action=redirect_uri,
            fields={"error": error, "error_description": description, "state": state_value},
        )
    )


@bp.route("/auth", methods=["GET", "POST"])
def auth() -> Response:
    """OIDC authorization endpoint: validate the tool's request, answer with a form_post id_token."""
    src = request.args if request.method == "GET" else request.form
    redirect_uri = src.get("redirect_uri", "")
    if redirect_uri != _tool("/lti/launch"):
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
        hint = state().hints.loads(src.get("lti_message_hint", ""), max_age=600)
    except BadSignature:
        return _auth_error(redirect_uri, state_value, "invalid_request", "lti_message_hint was altered")
    user = dev.user_by_key(hint.get("u", ""))
    if user is None or src.get("login_hint") != user.sub:
        return _auth_error(redirect_uri, state_value, "login_required", "login_hint does not match the user")
    claims = _launch_claims(user, hint, src["nonce"])
    token = jwt.encode(claims, state().private_key, algorithm="RS256", headers={"kid": state().kid})
    return Response(
        render_template(
            "devplatform/form_post.html", action=redirect_uri, fields={"id_token": token, "state": state_value}
        )
    )


def _lineitem_url(item_id: int, suffix: str = "") -> str:
    # Moodle-shaped: the query string comes after the path (scores go before the '?').
    return f"{_iss()}/lineitems/{item_id}/lineitem{suffix}?type_id=1"


def _launch_claims(user: dev.DevUser, hint: dict[str, Any], nonce: str) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": _iss(),
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
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": dev.DEPLOYMENT_ID,
        CLAIM + "target_link_uri": _tool("/lti/launch"),
        CLAIM + "roles": list(user.roles),
        CLAIM + "context": {**dev.COURSE, "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]},
        CLAIM + "tool_platform": {
            "guid": "cbsi-dev-platform",
            "name": "CBSI development LMS",
            "product_family_code": "cbsi-dev",
        },
        CLAIM + "launch_presentation": {"document_target": "iframe", "return_url": _iss() + "/"},
        NRPS_CLAIM: {"context_memberships_url": _iss() + "/memberships", "service_versions": ["2.0"]},
    }
    ags: dict[str, Any] = {
        "scope": [SCOPE_LINEITEM, SCOPE_LINEITEM_RO, SCOPE_RESULT, SCOPE_SCORE],
        "lineitems": _iss() + "/lineitems",
    }
    if hint.get("k") == "deeplink":
        claims[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
        claims[DL_CLAIM + "deep_linking_settings"] = {
            "deep_link_return_url": _iss() + "/deep_link_return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
            "auto_create": True,
            "title": "Add CBSI content",
            "data": state().hints.dumps({"dl": secrets.token_urlsafe(8)}),
        }
    else:
        with services().db.session() as s:
            link = s.get(DevResourceLink, hint.get("l"))
            if link is None:
                abort(404, "resource link not found")
            claims[CLAIM + "message_type"] = "LtiResourceLinkRequest"
            claims[CLAIM + "resource_link"] = {"id": f"dev-link-{link.id}", "title": link.title}
            if link.url:
                claims[CLAIM + "target_link_uri"] = link.url
            if link.custom:
                claims[CLAIM + "custom"] = dict(link.custom)
            if link.line_item_id is not None:
                ags["lineitem"] = _lineitem_url(link.line_item_id)
    claims[AGS_CLAIM] = ags
    return claims


# -- verifying what the tool sends (JWKS over HTTP) ---------------------------------------------------


class ToolJwtError(Exception):
    """A JWT from the tool failed verification."""

    code = "invalid_tool_jwt"


def _verify_tool_jwt(token: str, audience: str | list[str]) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise ToolJwtError("not a JWT") from exc
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise ToolJwtError("the tool must sign with RS256 and name its kid")
    try:
        key = state().tool_keys.key_for(_tool("/.well-known/jwks.json"), str(header["kid"]))
        return jwt.decode(token, key, algorithms=["RS256"], audience=audience, leeway=60)
    except (UnknownKid, JwksUnavailable) as exc:
        raise ToolJwtError(str(exc)) from exc
    except jwt.InvalidTokenError as exc:
        raise ToolJwtError(f"verification failed: {exc.__class__.__name__}") from exc


@bp.post("/deep_link_return")
def deep_link_return() -> Response | tuple[str, int]:
    """Deep Linking 2.0 §4.5: verify the tool's response and create the returned resource links."""
    token = request.form.get("JWT", "")
    try:
        claims = _verify_tool_jwt(token, _iss())
    except ToolJwtError as exc:
        return render_template("devplatform/message.html", title="Deep linking refused", message=str(exc)), 400
    problems = []
    if claims.get("iss") != dev.CLIENT_ID:
        problems.append("iss must be the client id")
    if claims.get(CLAIM + "message_type") != "LtiDeepLinkingResponse":
        problems.append("message_type must be LtiDeepLinkingResponse")
    if claims.get(CLAIM + "version") != "1.3.0":
        problems.append("version must be 1.3.0")
    if claims.get(CLAIM + "deployment_id") != dev.DEPLOYMENT_ID:
        problems.append("deployment_id does not match")
    if not claims.get("nonce"):
        problems.append("nonce is required")
    data = claims.get(DL_CLAIM + "data")
    if data is not None:
        try:
            state().hints.loads(data, max_age=3600)
        except BadSignature:
            problems.append("data was altered")
    if problems:
        return render_template(
            "devplatform/message.html", title="Deep linking refused", message="; ".join(problems)
        ), 400
    created = []
    with services().db.session() as s:
        for item in claims.get(DL_CLAIM + "content_items") or []:
            if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
                continue
            link = DevResourceLink(
                title=str(item.get("title") or "Untitled"),
                url=item.get("url") if isinstance(item.get("url"), str) else None,
                custom=item.get("custom") if isinstance(item.get("custom"), dict) else {},
            )
            s.add(link)
            s.flush()
            li = item.get("lineItem")
            if isinstance(li, dict):
                line_item = DevLineItem(
                    label=str(li.get("label") or link.title),
                    score_maximum=float(li.get("scoreMaximum") or 100),
                    resource_id=li.get("resourceId"),
                    tag=li.get("tag"),
                    resource_link_id=f"dev-link-{link.id}",
                )
                s.add(line_item)
                s.flush()
                link.line_item_id = line_item.id
            created.append(link.title)
    message = claims.get(DL_CLAIM + "msg") or f"{len(created)} item(s) added: {', '.join(created) or 'none'}"
    return render_template("devplatform/message.html", title="Content added", message=message, created=created), 200


# -- OAuth2 token endpoint (client_credentials + private_key_jwt) ------------------------------------


@bp.post("/token")
def token() -> tuple[Response, int]:
    """Security Framework §4.1: client credentials with a JWT-bearer assertion."""
    form = request.form
    if form.get("grant_type") != "client_credentials":
        return jsonify({"error": "unsupported_grant_type"}), 400
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return jsonify({"error": "invalid_request", "error_description": "client_assertion_type"}), 400
    try:
        claims = _verify_tool_jwt(form.get("client_assertion", ""), [_iss() + "/token", _iss()])
    except ToolJwtError as exc:
        return jsonify({"error": "invalid_client", "error_description": str(exc)}), 401
    if claims.get("iss") != dev.CLIENT_ID or claims.get("sub") != dev.CLIENT_ID:
        return jsonify({"error": "invalid_client", "error_description": "iss and sub must be the client id"}), 401
    jti = claims.get("jti")
    st = state()
    with st.lock:
        now = time.time()
        for old in [k for k, exp in st.seen_jti.items() if exp < now]:
            del st.seen_jti[old]
        if not jti or jti in st.seen_jti:
            return jsonify({"error": "invalid_client", "error_description": "jti missing or reused"}), 401
        st.seen_jti[str(jti)] = now + 3600
    scopes = [sc for sc in form.get("scope", "").split() if sc in ALLOWED_SCOPES]  # others dropped silently
    if not scopes:
        return jsonify({"error": "invalid_scope"}), 400
    access = st.tokens.dumps({"scopes": scopes, "n": secrets.token_urlsafe(6)})
    return jsonify({"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": " ".join(scopes)}), 200


def _require_scope(*accepted: str) -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        abort(401, "a Bearer access token is required")
    try:
        data = state().tokens.loads(header[7:], max_age=3600)
    except BadSignature:
        abort(401, "invalid access token")
    if not set(accepted) & set(data.get("scopes", [])):
        abort(403, "the access token lacks the scope for this service")


# -- AGS --------------------------------------------------------------------------------------------


def _lineitem_json(item: DevLineItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": _lineitem_url(item.id),
        "label": item.label,
        "scoreMaximum": item.score_maximum,
    }
    for key, value in (("resourceLinkId", item.resource_link_id), ("resourceId", item.resource_id), ("tag", item.tag)):
        if value:
            out[key] = value
    return out


@bp.route("/lineitems", methods=["GET", "POST"])
def lineitems() -> tuple[Response, int]:
    """AGS 2.0 §3.2: the line items container (filters resource_link_id, resource_id, tag)."""
    if request.method == "GET":
        _require_scope(SCOPE_LINEITEM, SCOPE_LINEITEM_RO)
        with services().db.session() as s:
            q = select(DevLineItem).order_by(DevLineItem.id)
            for arg, col in (
                ("resource_link_id", DevLineItem.resource_link_id),
                ("resource_id", DevLineItem.resource_id),
                ("tag", DevLineItem.tag),
            ):
                if request.args.get(arg):
                    q = q.where(col == request.args[arg])
            body = [_lineitem_json(i) for i in s.scalars(q)]
        response = jsonify(body)
        response.mimetype = LINEITEMS_TYPE
        return response, 200
    _require_scope(SCOPE_LINEITEM)
    data = read_json_object(MAX_BODY_BYTES)
    if not isinstance(data, dict) or not data.get("label") or not isinstance(data.get("scoreMaximum"), int | float):
        return jsonify({"error": "label and a numeric scoreMaximum are required"}), 400
    with services().db.session() as s:
        item = DevLineItem(
            label=str(data["label"]),
            score_maximum=float(data["scoreMaximum"]),
            resource_link_id=data.get("resourceLinkId"),
            resource_id=data.get("resourceId"),
            tag=data.get("tag"),
        )
        s.add(item)
        s.flush()
        body = _lineitem_json(item)
    response = jsonify(body)
    response.mimetype = LINEITEM_TYPE
    return response, 201


def _item_or_404(s: Any, item_id: int) -> DevLineItem:
    item = s.get(DevLineItem, item_id)
    if item is None:
        abort(404, "line item not found")
    return item


@bp.route("/lineitems/<int:item_id>/lineitem", methods=["GET", "PUT", "DELETE"])
def lineitem(item_id: int) -> tuple[Response, int]:
    """AGS 2.0 §3.3: one line item."""
    _require_scope(SCOPE_LINEITEM, *(() if request.method != "GET" else (SCOPE_LINEITEM_RO,)))
    with services().db.session() as s:
        item = _item_or_404(s, item_id)
        if request.method == "DELETE":
            s.delete(item)
            return jsonify({}), 204
        if request.method == "PUT":
            data = read_json_object(MAX_BODY_BYTES)
            if data.get("label"):
                item.label = str(data["label"])
            if isinstance(data.get("scoreMaximum"), int | float):
                item.score_maximum = float(data["scoreMaximum"])
            s.flush()
        body = _lineitem_json(item)
    response = jsonify(body)
    response.mimetype = LINEITEM_TYPE
    return response, 200


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@bp.post("/lineitems/<int:item_id>/lineitem/scores")
def scores(item_id: int) -> tuple[Response, int]:
    """AGS 2.0 §3.4 score publish, with Moodle's rules (DESIGN.md §6): enrolled user, timestamps
    strictly increasing at 1-second resolution (else 409)."""
    _require_scope(SCOPE_SCORE)
    if request.mimetype != SCORE_TYPE:
        return jsonify({"error": f"Content-Type must be {SCORE_TYPE}"}), 415
    data = read_json_object(MAX_BODY_BYTES)
    if not isinstance(data, dict):
        return jsonify({"error": "the body must be a JSON object"}), 400
    user_id = data.get("userId")
    ts = _parse_ts(data.get("timestamp"))
    if not isinstance(user_id, str) or dev.user_by_sub(user_id) is None or ts is None:
        return jsonify({"error": "Incorrect score received"}), 400
    if data.get("activityProgress") is None or data.get("gradingProgress") is None:
        return jsonify({"error": "activityProgress and gradingProgress are required"}), 400
    with services().db.session() as s:
        _item_or_404(s, item_id)
        last = s.scalars(
            select(DevScore)
            .where(DevScore.line_item_id == item_id, DevScore.user_id == user_id)
            .order_by(DevScore.id.desc())
            .limit(1)
        ).first()
        if last is not None:
            last_ts = _parse_ts(last.timestamp)
            if last_ts is not None and int(ts.timestamp()) <= int(last_ts.timestamp()):
                return jsonify({"error": "score timestamp is not newer than the last one"}), 409
        given = data.get("scoreGiven")
        maximum = data.get("scoreMaximum")
        s.add(
            DevScore(
                line_item_id=item_id,
                user_id=str(user_id),
                score_given=float(given) if isinstance(given, int | float) else None,
                score_maximum=float(maximum)
                if isinstance(maximum, int | float)
                else (1.0 if given is not None else None),
                activity_progress=str(data["activityProgress"]),
                grading_progress=str(data["gradingProgress"]),
                comment=data.get("comment") if isinstance(data.get("comment"), str) else None,
                timestamp=str(data["timestamp"]),
            )
        )
    return jsonify({}), 200


def _latest_scores(s: Any) -> dict[tuple[int, str], DevScore]:
    latest: dict[tuple[int, str], DevScore] = {}
    for sc in s.scalars(select(DevScore).order_by(DevScore.id)):
        latest[(sc.line_item_id, sc.user_id)] = sc
    return latest


@bp.get("/lineitems/<int:item_id>/lineitem/results")
def results(item_id: int) -> tuple[Response, int]:
    """AGS 2.0 §3.5: the latest result per user (a non-FullyGraded score clears the grade, like Moodle)."""
    _require_scope(SCOPE_RESULT)
    with services().db.session() as s:
        _item_or_404(s, item_id)
        body = []
        for (li, user_id), sc in _latest_scores(s).items():
            if li != item_id or (request.args.get("user_id") and request.args["user_id"] != user_id):
                continue
            graded = sc.grading_progress == "FullyGraded"
            body.append(
                {
                    "id": f"{_iss()}/lineitems/{item_id}/lineitem/results/{sc.id}",
                    "scoreOf": _lineitem_url(item_id),
                    "userId": user_id,
                    "resultScore": sc.score_given if graded else None,
                    "resultMaximum": sc.score_maximum,
                    "comment": sc.comment,
                }
            )
    response = jsonify(body)
    response.mimetype = RESULTS_TYPE
    return response, 200


# -- NRPS -------------------------------------------------------------------------------------------


@bp.get("/memberships")
def memberships() -> Response:
    """NRPS 2.0 §2: course members, paged with ``limit`` and a ``Link: rel="next"`` header."""
    _require_scope(SCOPE_NRPS)
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
    response.mimetype = NRPS_TYPE
    if page * limit < len(members):
        response.headers["Link"] = f'<{_iss()}/memberships?{urlencode({"limit": limit, "page": page + 1})}>; rel="next"'
    return response


# -- gradebook --------------------------------------------------------------------------------------


@bp.get("/gradebook")
def gradebook() -> str:
    """Received scores: one row per line item and user (latest score)."""
    with services().db.session() as s:
        items = list(s.scalars(select(DevLineItem).order_by(DevLineItem.id)))
        latest = _latest_scores(s)
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


def init_app(app: Flask) -> None:
    """Register the development platform (its routes 404 unless enabled)."""
    app.register_blueprint(bp)


__all__ = ["bp", "init_app", "state"]
