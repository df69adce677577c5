"""The runtime commit's WSGI fast path: ``POST /runtime/<attempt_id>/<item_id>/commit`` answered
200 without Flask's request, routing and response machinery (issue 16: that machinery and the
app's hooks cost about as much CPU as the commit itself).

It runs the route's own checks, in the route's order, through the same functions:

1. request id (``observability.request_id_from``; set in ``request_id_var`` while the commit runs,
   so its log lines carry it; echoed in ``X-Request-ID``, which the access log reads);
2. the disabled-platform gate (``Services.platform_gate.check_attempt``, as ``security``'s hook);
3. the attempt-scoped bearer token (``player.check_token``), before any byte of the body is read;
4. the bounded JSON body (``bodies.parse_json_object`` under ``player.commit_max_bytes``; a
   ``Content-Length`` over it is never read here);
5. the ``seq`` bound (``player.check_seq_bound``), then ``service.commit``;
6. the answer (``player.commit_answer``, encoded by the app's JSON provider as ``jsonify`` does)
   and the metrics (``observability.observe_request``).

Anything else is Flask's, unchanged: a request the fast path does not take (a query string, no
``Authorization: Bearer`` header, as a beacon sends it; no ``Content-Length`` or a chunked body;
a body over the limit; a path with characters outside ``[A-Za-z0-9._-]``), and every request one
of the steps refused or failed (401, 403, 400, 413, 409 ``stale_seq``, 404, 503
``database_unavailable`` with ``Retry-After``, 500): that one is handed to the Flask app with the
body it read, its request id and start time, and the exception it met
(``player.FAST_PATH_FAILED``); the route runs its checks again (the same refusal comes first) and
raises that exception where it would have stored the commit. So every error answer, with its
words in the reader's language, its code counted and its incident logged, comes from the one
place that made it before, and a refusal can never become a success.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from lti_tool.logging_setup import request_id_var
from lti_tool.observability import COMMIT_ENDPOINT, REQUEST_ID_HEADER, STARTED_KEY, observe_request, request_id_from
from lti_tool.runtime import service
from lti_tool.services import services_of
from lti_tool.web import player
from lti_tool.web.bodies import parse_json_object

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: The route's path, for the identifiers the player sends (attempt ids are hex; item ids are a
#: manifest's identifiers). Anything else (non-ASCII, slashes) goes to Flask's router.
_PATH = re.compile(r"/runtime/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)/commit")
_JSON = "application/json"


class CommitFastPath:
    """WSGI middleware in front of the Flask app: the commit route's 200 answers (module docstring)."""

    def __init__(self, app: Flask, flask_app: WsgiApp) -> None:
        self.app = app
        self.flask_app = flask_app
        self.services = services_of(app)
        rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint == COMMIT_ENDPOINT]
        if len(rules) != 1:  # pragma: no cover - the player blueprint registers it once
            raise RuntimeError(f"the commit route is registered {len(rules)} times")
        self.rule = rules[0]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING") or not self._compact():
            return self.flask_app(environ, start_response)
        found = _PATH.fullmatch(environ.get("PATH_INFO", ""))
        authorization: str = environ.get("HTTP_AUTHORIZATION", "")
        length_header: str = environ.get("CONTENT_LENGTH", "")
        limit = self.services.settings.player.commit_max_bytes
        if (
            found is None
            or not authorization.startswith("Bearer ")
            or not (length_header.isascii() and length_header.isdigit())
            or int(length_header) > limit
            or environ.get("HTTP_TRANSFER_ENCODING")
        ):
            return self.flask_app(environ, start_response)
        return self._commit(environ, start_response, found.group(1), found.group(2), authorization, int(length_header))

    def _compact(self) -> bool:
        """Whether ``jsonify`` answers compact JSON (not in debug mode): the bytes this path writes."""
        compact = getattr(self.app.json, "compact", False)
        return compact is True or (compact is None and not self.app.debug)

    def _commit(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        attempt_id: str,
        item_id: str,
        authorization: str,
        length: int,
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        rid = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        context = request_id_var.set(rid)
        raw: bytes | None = None  # None: the body was not read (Flask reads it from the socket)
        failed: Exception | None = None
        try:
            services = self.services
            services.platform_gate.check_attempt(attempt_id)
            player.check_token(authorization[7:].strip(), attempt_id, services.runtime_signer)
            raw = environ["wsgi.input"].read(length) if length else b""
            if len(raw) != length:  # the client went away mid-body: Flask answers that as before
                return self._to_flask(environ, start_response, rid, started, raw, None)
            body = parse_json_object(raw, services.settings.player.commit_max_bytes, what="the commit body")
            player.check_seq_bound(body)
            reply = service.commit(services, attempt_id, item_id, body)
            if reply.menu is not None:  # its URLs and words are the request's: built in its context
                with self.app.request_context(environ):
                    answer = player.commit_answer(reply)
            else:
                answer = player.commit_answer(reply)
            # jsonify's bytes outside debug mode (flask.json.provider.DefaultJSONProvider.response)
            data = (self.app.json.dumps(answer, separators=(",", ":")) + "\n").encode()
        except Exception as exc:
            failed = exc
        finally:
            request_id_var.reset(context)
        if failed is not None:
            return self._to_flask(environ, start_response, rid, started, raw, failed)
        start_response(
            "200 OK",
            [("Content-Type", _JSON), ("Content-Length", str(len(data))), (REQUEST_ID_HEADER, rid)],
        )
        observe_request(self.rule, COMMIT_ENDPOINT, "POST", 200, time.perf_counter() - started)
        return [data]

    def _to_flask(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        rid: str,
        started: float,
        raw: bytes | None,
        failed: Exception | None,
    ) -> Iterable[bytes]:
        """Hand the request to the Flask app: what was read of its body, its id and start, the failure."""
        if raw is not None:
            environ["wsgi.input"] = io.BytesIO(raw)
        environ["HTTP_X_REQUEST_ID"] = rid
        environ[STARTED_KEY] = started
        if failed is not None:
            environ[player.FAST_PATH_FAILED] = failed
        return self.flask_app(environ, start_response)


def install(app: Flask) -> None:
    """Put the fast path in front of ``app``'s WSGI callable (``app.wsgi_app``, as middleware goes)."""
    app.wsgi_app = CommitFastPath(app, app.wsgi_app)  # type: ignore[method-assign]
