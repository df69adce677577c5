"""Player pages and the runtime API (commit, navigation) over ``lti_tool.runtime.service``.

Tokens never travel in URLs (they would land in access logs): the launch renders the player
directly; the GET-able new-window URL carries the token in the fragment, which a tiny page
posts back to itself.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, jsonify, render_template, request, url_for
from werkzeug.exceptions import NotFound

from lti_tool.lti.context import Launch
from lti_tool.runtime import service
from lti_tool.runtime.errors import (
    InvalidCommit,
    RuntimeTokenRefused,
    StaleCommit,
    WrongAttempt,
)
from lti_tool.tokens import ScopedSigner, TokenInvalid
from lti_tool.web import i18n, services
from lti_tool.web.bodies import BodyRefused, read_json_object
from lti_tool.web.content import content_base_url
from scorm.cmi import export_tables
from sync.lti_claims import CLAIM_LAUNCH_PRESENTATION

logger = logging.getLogger(__name__)
bp = Blueprint("player", __name__)


def runtime_signer() -> ScopedSigner:
    """The signer of attempt-scoped runtime tokens (``Services.runtime_signer``)."""
    return services().runtime_signer


def attempt_token(attempt_id: str, learner: str) -> str:
    """A bearer token that lets its holder play and commit ``attempt_id`` only."""
    return runtime_signer().sign([attempt_id, learner])


def check_token(token: str | None, attempt_id: str, signer: ScopedSigner | None = None) -> str:
    """The learner id of a valid token for ``attempt_id``.

    ``signer``: the runtime signer when the caller holds it (the commit fast path, outside Flask's
    request context); else the current app's.

    Raises:
        RuntimeTokenRefused: missing, tampered or expired.
        WrongAttempt: valid, but for another attempt.
    """
    if not token:
        raise RuntimeTokenRefused()
    try:
        (token_attempt, learner), _ = (signer or runtime_signer()).verify(token, 2)
    except TokenInvalid as exc:
        raise RuntimeTokenRefused() from exc
    if token_attempt != attempt_id:
        raise WrongAttempt()
    return learner


TABLES_GLOBAL = "CBSI_PLAYER_TABLES"


@functools.lru_cache(maxsize=4)
def _tables_script(version: str) -> tuple[bytes, str]:
    """The data model tables of ``version`` as a script (~25 KB) and its content digest.

    Served at a URL carrying the digest, cached by browsers for a year: the player page does
    not repeat the tables on every launch (it matters on slow links), and a release that changes
    them changes the URL.
    """
    doc = json.dumps(export_tables(version), sort_keys=True, separators=(",", ":"))
    body = (
        f"window.{TABLES_GLOBAL}=window.{TABLES_GLOBAL}||{{}};"
        f"window.{TABLES_GLOBAL}[{json.dumps(version)}]={doc};\n"
    ).encode()
    return body, hashlib.sha256(body).hexdigest()[:16]


def tables_url(version: str) -> str:
    """Where the player loads the data model tables of ``version`` from (immutable)."""
    return url_for("player.tables", version=version, digest=_tables_script(version)[1])


@bp.get("/player/tables/<version>.<digest>.js")
def tables(version: str, digest: str) -> Response:
    """The data model tables script (public, immutable; 404 for an unknown version or digest)."""
    if version not in service.deliveries(services()).runtimes():
        raise NotFound()
    body, current = _tables_script(version)
    if not hmac.compare_digest(digest, current):
        raise NotFound()
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _learner_id(launch_sub: str) -> str:
    return launch_sub.replace(".", "_")[:200]


def _runtime_config(attempt_id: str, session: service.ItemSession, token: str) -> dict[str, Any]:
    """The runtime part of the player's config for an item whose session was started."""
    return {
        "version": session.cmi_version if session.kind != service.ASSET else None,
        "attemptId": attempt_id,
        "scoId": session.item_id,
        "commitUrl": url_for("player.commit", attempt_id=attempt_id, item_id=session.item_id),
        "token": token,
        "seq": session.seq,
        "lastCommitId": session.last_commit_id,
        "state": session.state,
    }


def _toc_json(opened: service.OpenedAttempt) -> list[dict[str, Any]]:
    """The player's menu rows (sequencing decides visible/disabled/completed)."""
    base = content_base_url(opened.version_id, opened.attempt_id)
    return [
        {
            "id": row["id"],
            "title": row["title"],
            "url": (base + row["url"]) if row.get("url") else None,
            "kind": row["kind"],
            "depth": row["depth"],
            "visible": row["visible"],
            "disabled": row["disabled"],
            "completed": row["completed"],
        }
        for row in opened.toc
    ]


MAX_RETURN_URL_LENGTH = 2048


def safe_return_url(value: object, *, allow_http: bool) -> str | None:
    """``value`` when it is a URL the Exit button may send the top window to, else None.

    ``launch_presentation.return_url`` comes from the LMS's launch, and the player puts it in
    ``top.location`` and in a link: only an absolute ``https`` URL is accepted (``http`` too when
    ``allow_http``: in demo mode, or when the tool itself is served over plain http, where the
    LMS is a development one and TLS protects nothing anyway). Anything else (``javascript:``,
    ``data:``, relative or protocol-relative URLs) is ignored. Whitespace and control characters
    are refused anywhere in the value, because browsers drop some of them while parsing
    (``java<TAB>script:`` is ``javascript:`` to them).
    """
    if not isinstance(value, str) or not value or len(value) > MAX_RETURN_URL_LENGTH:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch == "\\" for ch in value):
        return None
    allowed = ("https", "http") if allow_http else ("https",)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in allowed or not value.lower().startswith(parts.scheme.lower() + "://"):
        return None
    if not host:
        return None
    return value


def _http_return_allowed() -> bool:
    server = services().settings.server
    return server.demo or server.base_url.startswith("http://")


def render_player(
    opened: service.OpenedAttempt,
    learner: str,
    return_url: str | None,
    started: service.ItemSession | None,
    *,
    home_url: str | None = None,
) -> str:
    """The player page for an opened attempt, starting at its current item.

    ``started``: that item's session, started with the attempt (``service.open_and_start``,
    ``service.reopen_and_start``); None when the attempt has no item to deliver. The page is the
    one the course's delivery names (``Delivery.player_template``).
    """
    delivery = service.deliveries(services()).for_course(opened.standard)
    token = attempt_token(opened.attempt_id, learner)
    items = _toc_json(opened)
    runtime = _runtime_config(opened.attempt_id, started, token) if started is not None else None
    multi = len(opened.items) > 1
    config = {
        "title": opened.course_title,
        "version": opened.cmi_version,
        "attemptId": opened.attempt_id,
        "token": token,
        "navUrl": url_for("player.navigate", attempt_id=opened.attempt_id) if multi else None,
        "returnUrl": safe_return_url(return_url, allow_http=_http_return_allowed()),
        "homeUrl": home_url,  # the learner home of this launch (exit page link), a path of this tool
        "newWindowUrl": url_for("player.reopen", attempt_id=opened.attempt_id) + f"#t={token}",
        "autoContinue": opened.cmi_version == "1.2",
        "items": items,
        "current": opened.current_item,
        "runtime": runtime,
        "nav": i18n.learner_nav(opened.nav),
        "message": i18n.learner_text(opened.message),
    }
    return render_template(delivery.player_template, player_config=config, tables_url=tables_url(opened.cmi_version))


def learner_page(launch: Launch) -> str:
    """The player for a learner's resource-link launch: open (or resume) the attempt.

    The attempt is opened and its current item's session started in one transaction.
    """
    learner, name = _learner_id(launch.sub or ""), launch.name or service.DEFAULT_LEARNER_NAME
    opened, started = service.open_and_start(services(), launch, learner_id=learner, learner_name=name)
    presentation = launch.claims.get(CLAIM_LAUNCH_PRESENTATION)
    return_url = presentation.get("return_url") if isinstance(presentation, dict) else None
    from lti_tool.web.lti import launch_url  # lti imports this module

    return render_player(opened, learner, return_url, started, home_url=launch_url(f"/home/{launch.id}", launch))


@bp.get("/play/<launch_id>")
def play(launch_id: str) -> Response:
    """Where the launch sends a learner (303 from ``/lti/launch`` with the launch token).

    Reloading the page resumes the same attempt. Authenticated by the launch token
    (``lti_tool.web.lti.require_launch``), never by an LMS cookie alone.
    """
    from lti_tool.web.lti import require_launch

    launch = require_launch(launch_id)
    response = Response(learner_page(launch), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/player/<attempt_id>")
def reopen(attempt_id: str) -> str:
    """A GET-able player URL (new window): the token rides in the fragment and is posted back."""
    return render_template("player/reopen.html", action=url_for("player.reopen_post", attempt_id=attempt_id))


@bp.post("/player/<attempt_id>")
def reopen_post(attempt_id: str) -> str:
    """Render the player for a token posted by :func:`reopen`."""
    learner = check_token(request.form.get("token"), attempt_id)
    opened, started = service.reopen_and_start(services(), attempt_id, learner_id=learner)
    return render_player(opened, learner, None, started)


MAX_SEQ = 2**31 - 1  # the commit counter is a 32-bit column (PostgreSQL INTEGER)
#: The environ key under which the commit fast path (``lti_tool.web.commit_fast``) hands a request
#: it could not answer with 200 to this route, with the exception it met: the route raises it where
#: it would have stored the commit, so every refusal is answered here, by Flask, as before.
FAST_PATH_FAILED = "cbsi.commit_fast.failed"


def check_seq_bound(body: Mapping[str, Any]) -> None:
    """Refuse a ``seq`` the commit counter cannot hold (before the runtime sees it).

    Raises:
        InvalidCommit: 400.
    """
    seq = body.get("seq")
    if isinstance(seq, int) and seq > MAX_SEQ:
        raise InvalidCommit(f"'seq' must be a positive whole number up to {MAX_SEQ}")


def commit_answer(reply: service.CommitReply) -> dict[str, Any]:
    """The 200 answer of a stored (or replayed) commit.

    With a menu (a course of several items whose sequencing heard of the commit) it needs a request
    context: the menu's URLs and the buttons' words are the request's.
    """
    payload: dict[str, Any] = {
        "seq": reply.seq,
        "stored": reply.stored,
        "rejected": list(reply.rejected),
        "outcome": reply.outcome,
        "attempt_outcome": reply.attempt_outcome,
        "replayed": reply.replayed,
    }
    if reply.menu is not None and len(reply.menu.items) > 1:
        # A SCO's result can enable items and Continue (e.g. a forced-sequential course once the
        # first SCO is passed): the player refreshes its menu and buttons from this (built in
        # the commit's own transaction).
        payload["items"] = _toc_json(reply.menu)
        payload["nav"] = i18n.learner_nav(reply.menu.nav)
    return payload


def _json_body() -> dict[str, Any]:
    """The runtime request's JSON object (bounded: ``lti_tool.web.bodies``), under the runtime's codes."""
    limit = services().settings.player.commit_max_bytes
    try:
        return read_json_object(limit, what="the commit body")
    except BodyRefused as exc:
        code = "commit_too_large" if exc.status == 413 else "invalid_commit"
        raise InvalidCommit(exc.message, code=code, status=exc.status) from exc


def _authorised_body(attempt_id: str) -> tuple[str, str, dict[str, Any]]:
    """(learner, token, body) of a runtime request; the token is checked before the body is read.

    The player sends ``Authorization: Bearer``; a beacon (``navigator.sendBeacon`` cannot set
    headers) carries the token in the body, which is then read (bounded) to find it.

    Raises:
        RuntimeTokenRefused, WrongAttempt: before any byte of a header-authorised body is read.
        InvalidCommit: the body is refused (400/413).
    """
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
        learner = check_token(token, attempt_id)
        return learner, token, _json_body()
    body = _json_body()
    found = body.get("token")
    token = found if isinstance(found, str) else ""
    return check_token(token, attempt_id), token, body


@bp.post("/runtime/<attempt_id>/<item_id>/commit")
def commit(attempt_id: str, item_id: str) -> tuple[Response, int]:
    """Store one commit of a SCO's values (see runtime.js COMMIT CONTRACT).

    :raise 401: token refused. :raise 403: another attempt's token.
    :raise 409: stale ``seq`` (answer carries ``expected_seq``). :raise 413: body too large.
    :raise 400: malformed body.
    """
    _, _, body = _authorised_body(attempt_id)
    check_seq_bound(body)
    try:
        failed = request.environ.get(FAST_PATH_FAILED)
        if failed is not None:  # the fast path met it at this point or before (see FAST_PATH_FAILED)
            raise failed
        reply = service.commit(services(), attempt_id, item_id, body)
    except StaleCommit as exc:
        return jsonify({"error": exc.code, "message": exc.message, "expected_seq": exc.expected_seq}), 409
    return jsonify(commit_answer(reply)), 200


@bp.post("/runtime/<attempt_id>/nav")
def navigate(attempt_id: str) -> tuple[Response, int]:
    """Navigation between items through the sequencing engine (see player.js NAV CONTRACT).

    :raise 400: the request is refused (SN exception in plain words); nothing changes.
    """
    learner, token, body = _authorised_body(attempt_id)
    # one transaction: the request, the delivered item's session and the refreshed menu; the
    # learner's name comes from their registration (this request carries no launch)
    decision = service.navigate(services(), attempt_id, body.get("request", ""), body.get("target"), learner_id=learner)
    if decision.error:
        payload: dict[str, Any] = {"error": decision.error, "message": i18n.learner_text(decision.message)}
        if decision.opened is not None:
            payload["items"] = _toc_json(decision.opened)
            payload["nav"] = i18n.learner_nav(decision.opened.nav)
        return jsonify(payload), 400
    view = decision.opened
    if view is None:  # pragma: no cover - a request that is not refused carries its view
        raise NotFound()
    toc = _toc_json(view)
    reply: dict[str, Any] = {
        "items": toc,
        "nav": i18n.learner_nav(view.nav),
        "end": decision.end,
        "message": i18n.learner_text(decision.message),
        "item": None,
        "runtime": None,
    }
    if decision.item is not None and decision.session is not None:
        reply["item"] = next(r for r in toc if r["id"] == decision.item.id)
        reply["runtime"] = _runtime_config(attempt_id, decision.session, token)
    return jsonify(reply), 200


def init_app(app: Flask) -> None:
    """Register the blueprint (before ``lti_tool.web.lti``, which sends learners to ``/play/``)."""
    app.register_blueprint(bp)
