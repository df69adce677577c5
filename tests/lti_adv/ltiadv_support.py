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
from urllib.parse import parse_qsl

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
