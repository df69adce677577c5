"""Test doubles for the LTI Advantage suites: a real HTTP fake server on 127.0.0.1, a clock, platforms."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import factories

from lti_tool.lti.tokens import TOOL_SCOPES
from lti_tool.services import Services
from lti_tool.storage.models import Platform
from sync.lti_claims import TOOL_CONFIGURATION


@dataclass
class Recorded:
    """One request the fake server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


Reply = tuple[int, Mapping[str, str], bytes]
Route = Callable[[Recorded], Reply]


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


@dataclass
class FakeServer:
    """A tiny HTTP server bound to 127.0.0.1; ``routes`` maps (method, path) to a callable."""

    base_url: str = ""
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def route(self, method: str, path: str, fn: Route) -> None:
        self.routes[(method, path)] = fn

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.split("?")[0] == path]


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeLMS/1.0"
    fake: FakeServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rec = Recorded(method=self.command, path=self.path, headers=dict(self.headers.items()), body=body)
        self.fake.requests.append(rec)
        fn = self.fake.routes.get((self.command, self.path.split("?")[0]))
        if fn is None:
            status, headers, payload = 404, {"Content-Type": "text/plain"}, b"not found"
        else:
            status, headers, payload = fn(rec)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle

    def log_message(self, format: str, *args: Any) -> None:
        return


class _QuietServer(ThreadingHTTPServer):
    """Clients that time out on purpose hang up early: that is not an error worth printing."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def running_fake_server() -> Iterator[FakeServer]:
    """A fake HTTP server on 127.0.0.1 for the duration of the block."""
    fake = FakeServer()
    handler = type("Handler", (_Handler,), {"fake": fake})
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


class Clock:
    """A settable UTC clock, starting at the real time (signed tokens are checked by real verifiers)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def add_platform(
    services: Services,
    *,
    issuer: str,
    client_id: str,
    token_url: str,
    audience: str | None = None,
    deployment_id: str = "d1",
) -> Platform:
    """Insert an active platform with one deployment and return it (detached, usable)."""
    platform_id = factories.add_platform(
        services.db,
        issuer=issuer,
        client_id=client_id,
        name="Test LMS",
        token_url=token_url,
        audience=audience,
        deployment_id=deployment_id,
    )
    with services.db.session() as s:
        row = s.get(Platform, platform_id)
        assert row is not None
        s.expunge(row)
    return row


REG_TOKEN = "moodle-reg-token-3f9a1c"


def moodle_domain(url: str) -> str:
    """Moodle 4.5's ``lti_get_domain_from_url``: the text before the first slash, scheme and www. dropped."""
    match = re.match(r"(?i)(?:https?://)?(?:www\.)?([^/]+)(?:/|$)", url or "")
    return match.group(1) if match else ""


def text_reply(status: int, text: str) -> Reply:
    """Moodle's registration endpoint answers errors with a bare text body (mod/lti ltiservice response)."""
    return status, {"Content-Type": "text/html; charset=utf-8"}, text.encode()


class SimulatedMoodle:
    """Moodle 4.5's dynamic registration rules (mod/lti openid-configuration.php + openid-registration.php).

    * ``/mod/lti/openid-configuration.php`` serves the platform configuration;
    * ``/mod/lti/openid-registration.php`` accepts one POST per new-registration token (single use:
      a second use answers 401 ``token_already_used``), requires ``token_endpoint_auth_method ==
      private_key_jwt`` (else 400 ``invalid_token_endpoint_auth_method``) and
      ``lti-tool-configuration.domain`` == host[:port] of ``target_link_uri`` compared as text
      (else 400 ``domain_targetlinkuri_mismatch``), errors as plain-text bodies like Moodle, and
      answers with a new client_id and its deployment_id (the tool type id);
    * an update token (:meth:`update_token`, Moodle's "Update" of an existing tool) may be used
      repeatedly and answers with the existing tool's client_id and deployment_id.
    """

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        self.issuer = fake.base_url
        self.valid_tokens = {REG_TOKEN}
        self.update_tokens: dict[str, int] = {}
        self.registrations: list[dict[str, Any]] = []
        self.types: dict[int, dict[str, Any]] = {}
        self.scopes_supported: list[str] | None = [*TOOL_SCOPES, "openid"]
        fake.route("GET", "/mod/lti/openid-configuration.php", self.configuration)
        fake.route("POST", "/mod/lti/openid-registration.php", self.register)

    @property
    def configuration_url(self) -> str:
        return self.fake.url("/mod/lti/openid-configuration.php")

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "issuer": self.issuer,
            "token_endpoint": self.fake.url("/mod/lti/token.php"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.fake.url("/mod/lti/certs.php"),
            "authorization_endpoint": self.fake.url("/mod/lti/auth.php"),
            "registration_endpoint": self.fake.url("/mod/lti/openid-registration.php"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "moodle",
                "version": "4.5.1",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
            },
        }
        if self.scopes_supported is not None:
            doc["scopes_supported"] = self.scopes_supported
        return doc

    def configuration(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        return json_reply(200, self.document())

    def update_token(self, type_id: int) -> str:
        """A registration token for Moodle's "Update" of tool type ``type_id`` (scope reg-update)."""
        token = f"moodle-update-token-{type_id}"
        self.update_tokens[token] = type_id
        return token

    def register(self, rec: Recorded) -> Reply:
        auth = rec.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return text_reply(401, "missing_registration_token")
        token = auth.removeprefix("Bearer ")
        update_of = self.update_tokens.get(token)
        if update_of is None and token not in self.valid_tokens:
            return text_reply(401, "token_already_used")
        body = rec.json()
        conf = body.get(TOOL_CONFIGURATION) or {}
        if not conf.get("domain"):
            return text_reply(400, "missing_domain")
        target = conf.get("target_link_uri") or "https://" + conf["domain"]
        if moodle_domain(conf["domain"]) != moodle_domain(target):
            return text_reply(400, "domain_targetlinkuri_mismatch")
        if body.get("token_endpoint_auth_method") != "private_key_jwt":
            return text_reply(400, "invalid_token_endpoint_auth_method")
        if update_of is not None:
            type_id = update_of
            client_id = self.types[type_id]["client_id"]
        else:
            self.valid_tokens.discard(token)  # single use
            type_id = len(self.types) + 1
            client_id = f"moodle-client-{type_id}"
        self.types[type_id] = {"client_id": client_id, "registration": body}
        self.registrations.append(body)
        answer = dict(body)
        answer["client_id"] = client_id
        answer[TOOL_CONFIGURATION] = {**conf, "deployment_id": str(type_id)}
        return json_reply(200, answer)
