"""Interop: our token provider + AGS client + worker against the ``lti1p3platform`` package.

lti1p3platform 0.1.8 is a framework-agnostic LTI 1.3 *platform* library. It has no HTTP server
of its own; this file mounts its pieces on ``http.server``:

* token endpoint: ``LTI1P3PlatformConfAbstract.get_access_token(form)`` — validates the client
  assertion's RS256 signature against the tool JWKS (matching ``kid`` and ``alg``) and issues a
  platform-signed JWT access token (1 h). It does NOT check ``aud`` (``verify_aud: False``),
  iss/sub = client_id, or ``jti`` replay (the fake platform of this suite does).
* AGS: ``AssignmentsGradesService.handle_update_score`` — checks the bearer token (signature,
  issuer, expiry, scopes) and hands the Score to our ``update_score``; it does not validate the
  Score body (a TODO in the library), so Moodle's rules are not emulated.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService
from sync_harness import Harness

from sync.model import LineItemRef, OutboxStatus
from sync.ports import PlatformEndpoints

T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)


def _pem(key: rsa.RSAPrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class PeerPlatform:
    def __init__(self, tool_key: rsa.RSAPrivateKey, kid: str) -> None:
        platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private, public = _pem(platform_key)
        tool_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(tool_key.public_key()))
        tool_jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
        self.registration = (
            Registration()
            .set_iss("https://peer.example")
            .set_client_id("peer-client")
            .set_deployment_id("1")
            .set_platform_private_key(private)
            .set_platform_public_key(public)
            .set_tool_key_set({"keys": [tool_jwk]})
        )
        self.scores: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def config(self) -> LTI1P3PlatformConfAbstract:
        registration = self.registration

        class Conf(LTI1P3PlatformConfAbstract):
            def init_platform_config(self, **kwargs: Any) -> None:
                return None

            def get_registration_by_params(self, **kwargs: Any) -> Registration:
                return registration

        conf = Conf()
        conf.get_registration()
        return conf

    def start(self) -> PeerPlatform:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, code: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path).path
                conf = peer.config()
                if path == "/token":
                    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    try:
                        self._reply(200, conf.get_access_token(form))
                    except Exception as exc:  # library raises many types
                        self._reply(400, {"error": "invalid_client", "detail": type(exc).__name__})
                    return
                if path.startswith("/lineitems/") and path.endswith("/scores"):
                    line_item_id = path.split("/")[2]
                    request = _PeerRequest(
                        {
                            "method": "POST",
                            "form_data": {},
                            "get_data": {},
                            "headers": dict(self.headers.items()),
                            "content_type": self.headers.get("Content-Type"),
                            "path": self.path,
                            "json": json.loads(raw or b"null"),
                        }
                    )
                    service = _PeerAgs(
                        request, conf, lineitems_url=f"{peer.base}/lineitems", peer=peer
                    )
                    try:
                        response = service.handle_update_score(line_item_id)
                    except Exception as exc:  # bad tokens raise instead of answering 401
                        self._reply(401, {"error": type(exc).__name__})
                        return
                    self._reply(response.code, {"message": response.message})
                    return
                self._reply(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    @property
    def base(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _PeerRequest(Request):
    def build_metadata(self, request: Any) -> TRequest:
        return request  # type: ignore[no-any-return]


class _PeerAgs(AssignmentsGradesService):
    def __init__(self, *args: Any, peer: PeerPlatform, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peer = peer

    def update_score(self, line_item_id: str, score: Any) -> UpdateScoreStatus:
        with self.peer.lock:
            self.peer.scores.append({"line_item": line_item_id, **score})
        return UpdateScoreStatus.SUCCESS

    def find_lineitems(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def find_lineitem(self, line_item_id: str) -> Any:
        raise NotImplementedError

    def create_lineitem(self, creation_data: Any) -> Any:
        raise NotImplementedError

    def update_lineitem(self, update_data: Any) -> Any:
        raise NotImplementedError

    def delete_lineitem(self, line_item_id: str) -> None:
        raise NotImplementedError

    def get_results(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@pytest.fixture
def peer(private_key):
    peer = PeerPlatform(private_key, kid="tool-key-1").start()
    yield peer
    peer.stop()


def _harness(signing, peer: PeerPlatform) -> Harness:
    h = Harness(signing, {})
    h.directory.add(
        PlatformEndpoints(
            key="peer",
            issuer="https://peer.example",
            client_id="peer-client",
            token_url=f"{peer.base}/token",
        )
    )
    return h


def test_worker_delivers_scores_to_lti1p3platform(peer, signing):
    h = _harness(signing, peer)
    url = f"{peer.base}/lineitems/11/lineitem"
    for n in range(3):
        h.enqueue("peer", f"learner-{n}", score=0.25 * n, at=T0, line_item=LineItemRef(url=url))
    h.drain()
    assert h.store.status_counts()["peer"] == {OutboxStatus.DELIVERED: 3}
    assert sorted(s["userId"] for s in peer.scores) == ["learner-0", "learner-1", "learner-2"]
    assert {s["line_item"] for s in peer.scores} == {"11"}
    assert {s["scoreGiven"] for s in peer.scores} == {0.0, 25.0, 50.0}
    assert h.tokens.requests_made == 1


def test_lti1p3platform_rejects_assertion_signed_by_another_key(peer):
    from sync_harness import StaticSigning

    other = StaticSigning(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    h = _harness(other, peer)
    h.enqueue("peer", "learner", score=1.0, at=T0, line_item=LineItemRef(url=f"{peer.base}/li/1"))
    h.drain()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DEAD
    assert item.last_status_code == 400 and "token endpoint" in item.last_error
    assert peer.scores == []
