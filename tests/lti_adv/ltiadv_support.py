"""Test doubles for the LTI Advantage suites: a real HTTP fake server on 127.0.0.1, a clock, platforms."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lti_tool.lti.registration import TOOL_CONFIGURATION
from lti_tool.lti.tokens import TOOL_SCOPES
from lti_tool.services import Services
from lti_tool.storage.models import Deployment, Platform


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
    with services.db.session() as s:
        row = Platform(
            issuer=issuer,
            client_id=client_id,
            name="Test LMS",
            auth_login_url=issuer + "/auth",
            auth_token_url=token_url,
            key_set_url=issuer + "/jwks",
            auth_audience=audience,
            status="active",
            source="manual",
            details={},
        )
        row.deployments.append(Deployment(deployment_id=deployment_id))
        s.add(row)
        s.flush()
        s.refresh(row)
        s.expunge(row)
    return row


REG_TOKEN = "moodle-reg-token-3f9a1c"


class SimulatedMoodle:
    """Moodle's dynamic registration rules (mod/lti openid-configuration.php + registration endpoint).

    * ``/mod/lti/openid-configuration.php`` serves the platform configuration;
    * ``/mod/lti/openid-registration.php`` accepts one POST per registration token (single use:
      a second use answers 401), requires ``token_endpoint_auth_method == private_key_jwt`` and
      ``lti-tool-configuration.domain`` == the host of ``target_link_uri`` (else 400), and
      answers with a new client_id and its deployment_id.
    """

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        self.issuer = fake.base_url
        self.valid_tokens = {REG_TOKEN}
        self.registrations: list[dict[str, Any]] = []
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

    def register(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        auth = rec.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return json_reply(401, {"error": "unauthorized", "error_description": "Bad token"})
        self.valid_tokens.discard(token)  # single use
        body = rec.json()
        if body.get("token_endpoint_auth_method") != "private_key_jwt":
            return json_reply(
                400, {"error": "invalid_client_metadata", "error_description": "Must use private_key_jwt"}
            )
        conf = body.get(TOOL_CONFIGURATION) or {}
        if conf.get("domain") != urlsplit(conf.get("target_link_uri", "")).hostname:
            return json_reply(400, {"error": "invalid_client_metadata", "error_description": "domain mismatch"})
        client_id = f"moodle-client-{len(self.registrations) + 1}"
        self.registrations.append(body)
        answer = dict(body)
        answer["client_id"] = client_id
        answer[TOOL_CONFIGURATION] = {**conf, "deployment_id": str(len(self.registrations))}
        return json_reply(200, answer)
