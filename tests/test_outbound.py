"""The one outbound client: total deadline, size cap, address check after resolution, typed errors.

Every server here runs on 127.0.0.1 inside the test, and every limit is small (0.5 s, 64 KiB), so
the suite is bounded and fast. Loopback is refused unless the test allow-lists it explicitly.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.outbound import (
    AddressRefused,
    ConnectionFailed,
    OutboundClient,
    OutboundPolicy,
    OutboundTimeout,
    ResponseTooLarge,
    ServiceUrlRefused,
    check_service_url,
    is_internal,
)
from lti_tool.settings import SettingsError, load_settings

LOOPBACK_OK = ("127.0.0.0/8",)


def policy(**kw: Any) -> OutboundPolicy:
    values: dict[str, Any] = {"deadline_seconds": 0.5, "read_timeout_seconds": 5.0, "allow_private": LOOPBACK_OK}
    values.update(kw)
    return OutboundPolicy(**values)


class RawServer:
    """A TCP server on 127.0.0.1 whose handler writes whatever it likes (slowly, endlessly...)."""

    def __init__(self, handler: Callable[[socket.socket], None], host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.sent = 0
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            with self._lock:
                self.requests.append(head)
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.sent += len(data)

    def close(self) -> None:
        self.sock.close()


@contextmanager
def raw_server(
    make: Callable[[RawServer], Callable[[socket.socket], None]], host: str = "127.0.0.1"
) -> Iterator[RawServer]:
    holder: dict[str, RawServer] = {}
    server = RawServer(lambda conn: make(holder["s"])(conn), host=host)
    holder["s"] = server
    try:
        yield server
    finally:
        server.close()


def trickle_body(server: RawServer) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
        for _ in range(200):  # 20 s in all, one byte every 0.1 s: never a 5 s read timeout
            server.send(conn, b" ")
            time.sleep(0.1)

    return handle


def trickle_headers(server: RawServer) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
            server.send(conn, bytes([byte]))
            time.sleep(0.1)

    return handle


def endless_body(server: RawServer) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        block = b"x" * 65536
        for _ in range(100_000):  # 6.5 GB if nobody stops reading
            server.send(conn, block)

    return handle


def ok_json(server: RawServer) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        body = b'{"ok": true}'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        server.send(conn, head)
        server.send(conn, body)

    return handle


# -- total deadline ---------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", [trickle_body, trickle_headers])
def test_a_trickling_server_is_cut_at_the_total_deadline(behaviour):
    with raw_server(behaviour) as server:
        client = OutboundClient(policy())
        started = time.monotonic()
        with pytest.raises(OutboundTimeout) as err:
            client.get(f"http://127.0.0.1:{server.port}/slow", timeout=(1.0, 5.0))
        elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 2.5, elapsed  # 20 s without the deadline
    assert err.value.kind == "timeout" and isinstance(err.value, requests.Timeout)
    assert "did not answer within 0.5 s" in str(err.value)


def test_a_call_may_ask_for_a_shorter_deadline_never_a_longer_one():
    with raw_server(trickle_body) as server:
        client = OutboundClient(policy())
        started = time.monotonic()
        with pytest.raises(OutboundTimeout):
            client.get(f"http://127.0.0.1:{server.port}/", deadline=0.2)
        short = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(OutboundTimeout):
            client.get(f"http://127.0.0.1:{server.port}/", deadline=30)
        capped = time.monotonic() - started
    assert short < capped and capped < 2.5


def test_keep_alive_connections_are_reused_per_host():
    def keep_alive(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            body = b"{}"
            reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + body
            server.send(conn, reply)
            while True:  # further requests on the same connection
                data = conn.recv(65536)
                if not data:
                    return
                server.send(conn, reply)

        return handle

    with raw_server(keep_alive) as server:
        client = OutboundClient(policy())
        for _ in range(5):
            assert client.get(f"http://127.0.0.1:{server.port}/").json() == {}
        assert server.accepted == 1


# -- size cap ---------------------------------------------------------------------------------


def test_an_endless_body_is_cut_at_the_cap():
    with raw_server(endless_body) as server:
        client = OutboundClient(policy(max_response_bytes=64 * 1024, deadline_seconds=5.0))
        started = time.monotonic()
        with pytest.raises(ResponseTooLarge) as err:
            client.get(f"http://127.0.0.1:{server.port}/endless")
        assert time.monotonic() - started < 2.0
    assert err.value.kind == "too_large" and "65536 bytes" in str(err.value)


def test_a_declared_length_over_the_cap_is_refused_without_reading_it():
    def big(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n")
            time.sleep(2)

        return handle

    with raw_server(big) as server:
        client = OutboundClient(policy(max_response_bytes=1024))
        started = time.monotonic()
        with pytest.raises(ResponseTooLarge):
            client.get(f"http://127.0.0.1:{server.port}/")
        assert time.monotonic() - started < 1.5


def test_the_cap_counts_decompressed_bytes():
    bomb = gzip.compress(b"0" * 5_000_000)

    def gz(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
            server.send(conn, head + bomb)

        return handle

    assert len(bomb) < 64 * 1024
    with raw_server(gz) as server:
        client = OutboundClient(policy(max_response_bytes=64 * 1024))
        with pytest.raises(ResponseTooLarge):
            client.get(f"http://127.0.0.1:{server.port}/")


def test_a_normal_answer_reads_as_usual():
    with raw_server(ok_json) as server:
        response = OutboundClient(policy()).get(f"http://127.0.0.1:{server.port}/", stream=True)
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert b"".join(response.iter_content(4)) == b'{"ok": true}'


# -- addresses --------------------------------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "0x7f000001",
    "2130706433",
    "127.1",
    "0177.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "localhost",
    "localhost.",
    "LOCALHOST",
    "foo.localhost",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_without_the_allow_list(host):
    with raw_server(ok_json) as server:
        client = OutboundClient(OutboundPolicy(deadline_seconds=0.5))
        with pytest.raises(AddressRefused) as err:
            client.get(f"http://{host}:{server.port}/")
        assert server.accepted == 0  # refused before any connection
    assert err.value.kind == "refused_address"
    assert "internal address" in str(err.value) and str(server.port) not in str(err.value)


@pytest.mark.parametrize(
    "host",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "[fe80::1]",
        "[fc00::1]",
        "[::]",
        "[ff02::1]",
        "[::ffff:10.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[2002:7f00:1::]",
    ],
)
def test_internal_ranges_are_refused(host):
    with pytest.raises(AddressRefused):
        OutboundClient(OutboundPolicy(deadline_seconds=0.5)).get(f"http://{host}:8080/")


def test_the_error_reads_the_same_for_an_open_and_a_closed_port():
    with raw_server(ok_json) as server:
        free = socket.socket()
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
        free.close()
        client = OutboundClient(OutboundPolicy(deadline_seconds=0.5))
        texts = []
        for port in (server.port, closed_port):
            with pytest.raises(AddressRefused) as err:
                client.get(f"http://127.0.0.1:{port}/")
            texts.append(str(err.value))
    assert texts[0] == texts[1]


def test_connection_failures_read_the_same_whatever_the_cause():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()

    def garbage(server: RawServer) -> Callable[[socket.socket], None]:
        return lambda conn: server.send(conn, b"SSH-2.0-OpenSSH_9.6\r\n")

    client = OutboundClient(policy())
    texts = []
    with pytest.raises(ConnectionFailed) as err:
        client.get(f"http://127.0.0.1:{closed_port}/")
    texts.append(str(err.value))
    with raw_server(garbage) as server:
        with pytest.raises(ConnectionFailed) as err:
            client.get(f"http://127.0.0.1:{server.port}/")
        texts.append(str(err.value))
    assert texts == ["could not connect to 127.0.0.1", "could not connect to 127.0.0.1"]


def test_the_allow_list_takes_networks_and_host_names():
    with raw_server(ok_json) as server:
        assert OutboundClient(policy()).get(f"http://127.0.0.1:{server.port}/").status_code == 200
        by_name = OutboundClient(OutboundPolicy(deadline_seconds=0.5, allow_private=("localhost",)))
        assert by_name.get(f"http://localhost:{server.port}/").status_code == 200
        with pytest.raises(AddressRefused):  # the name is allowed, not the address
            by_name.get(f"http://127.0.0.1:{server.port}/")
        narrow = OutboundClient(OutboundPolicy(deadline_seconds=0.5, allow_private=("127.0.0.2/32",)))
        with pytest.raises(AddressRefused):
            narrow.get(f"http://127.0.0.1:{server.port}/")


def test_demo_mode_does_not_check_addresses():
    with raw_server(ok_json) as server:
        client = OutboundClient(OutboundPolicy(deadline_seconds=0.5, check_addresses=False))
        assert client.get(f"http://127.0.0.1:{server.port}/").status_code == 200


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch):
    """DNS rebinding: the name resolves once per connection; a second answer is never used."""
    with raw_server(ok_json, host="127.0.0.2") as server:
        answers = ["127.0.0.2", "127.0.0.1", "127.0.0.1"]
        asked: list[str] = []

        def resolver(name: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
            asked.append(name)
            address = answers[min(len(asked) - 1, len(answers) - 1)]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr("lti_tool.outbound.guard.socket.getaddrinfo", resolver)
        client = OutboundClient(OutboundPolicy(deadline_seconds=0.5, allow_private=("127.0.0.2/32",)))
        response = client.get(f"http://rebind.example:{server.port}/")
        assert response.status_code == 200
        assert asked == ["rebind.example"]
        assert f"Host: rebind.example:{server.port}".encode() in server.requests[0]
        # the next (fresh) connection gets the rebound answer, and it is refused, not connected
        client.close()
        with pytest.raises(AddressRefused):
            OutboundClient(client.policy).get(f"http://rebind.example:{server.port}/")


def test_redirects_are_checked_too():
    def redirect(server: RawServer) -> Callable[[socket.socket], None]:
        head = b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\n\r\n"
        return lambda conn: server.send(conn, head)

    with raw_server(redirect) as server:
        with pytest.raises(AddressRefused):
            OutboundClient(policy()).get(f"http://127.0.0.1:{server.port}/")


def test_is_internal_unwraps_mapped_addresses():
    import ipaddress

    assert is_internal(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not is_internal(ipaddress.ip_address("93.184.215.14"))
    assert not is_internal(ipaddress.ip_address("2606:4700::1111"))


# -- service URLs from launches ---------------------------------------------------------------


def test_service_urls_only_on_registered_hosts():
    registered = ["https://moodle.academy.example", "https://moodle.academy.example/mod/lti/token.php"]
    check_service_url("https://moodle.academy.example/mod/lti/services.php/2/memberships", registered_urls=registered)
    check_service_url("https://MOODLE.academy.example:443/x", registered_urls=registered)
    for bad in (
        "https://evil.example/collect",
        "https://moodle.academy.example:8443/x",
        "http://moodle.academy.example/x",
        "ftp://moodle.academy.example/x",
        "not a url",
    ):
        with pytest.raises(ServiceUrlRefused) as err:
            check_service_url(bad, registered_urls=registered)
        assert err.value.code == "service_url_refused"
    grades = ["grades.academy.example"]
    check_service_url("https://grades.academy.example/x", registered_urls=registered, extra_hosts=grades)
    ws = ["ws.academy.example:8080"]
    check_service_url("http://ws.academy.example:8080/x", registered_urls=registered, extra_hosts=ws)
    with pytest.raises(ServiceUrlRefused):
        check_service_url("http://ws.academy.example:9090/x", registered_urls=registered, extra_hosts=ws)


# -- settings ---------------------------------------------------------------------------------


def test_outbound_settings_are_validated():
    base = {"server": {"demo": True}}
    good = load_settings(
        environ={}, overrides={**base, "outbound": {"allow_private": ["10.1.2.0/24", "moodle.academy.internal"]}}
    )
    assert good.outbound.allow_private == ("10.1.2.0/24", "moodle.academy.internal")
    assert good.outbound.deadline_seconds == 15.0
    for key, value in (
        ("allow_private", ["10.1.2.0/33"]),
        ("allow_private", ["http://x"]),
        ("deadline_seconds", 0),
        ("max_response_bytes", 0),
        ("service_hosts", ["a b"]),
    ):
        with pytest.raises(SettingsError) as err:
            load_settings(environ={}, overrides={**base, "outbound": {key: value}})
        assert err.value.key == f"outbound.{key}"


# -- the web service keeps answering while registrations trickle ------------------------------


@pytest.fixture
def live_tool(settings_overrides: dict[str, dict[str, Any]]) -> Iterator[tuple[str, Flask]]:
    overrides = {
        **settings_overrides,
        "lti": {"http_timeout_seconds": 5.0},
        "outbound": {"deadline_seconds": 1.0, "allow_private": ["127.0.0.0/8"]},
    }
    settings = load_settings(environ={}, overrides=overrides)
    from lti_tool.services import build_services

    services = build_services(settings)
    services.keys.generate(if_missing=True)
    app = create_app(settings, services=services)
    app.testing = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=5)
        services.db.dispose()


def test_trickling_registration_fetches_are_cut_and_health_keeps_answering(live_tool):
    base, _app = live_tool
    with raw_server(trickle_body) as lms:  # each answer would take 20 s
        config_url = f"http://127.0.0.1:{lms.port}/mod/lti/openid-configuration.php"

        def register() -> tuple[int, str, float]:
            started = time.monotonic()
            r = requests.get(
                f"{base}/lti/register",
                params={"openid_configuration": config_url, "registration_token": "t"},
                timeout=30,
            )
            return r.status_code, r.text, time.monotonic() - started

        with ThreadPoolExecutor(max_workers=8) as pool:
            started = time.monotonic()
            futures = [pool.submit(register) for _ in range(8)]
            while lms.accepted < 8 and time.monotonic() - started < 1.0:
                time.sleep(0.01)
            health = requests.get(f"{base}/health", timeout=5)
            in_flight = sum(not f.done() for f in futures)
            results = [f.result() for f in futures]
        total = time.monotonic() - started
    assert lms.accepted == 8 and health.status_code == 200
    assert in_flight >= 1  # /health answered while registration fetches were still being trickled
    for status, text, elapsed in results:
        assert status >= 400 and "configuration_unreachable" in text and "did not answer in time" in text
        assert elapsed < 3.0, elapsed  # deadline 1 s; 20 s without it
    assert total < 5.0, total


def test_registration_refuses_loopback_without_the_allow_list(settings_overrides):
    settings = load_settings(environ={}, overrides=settings_overrides)
    from lti_tool.services import build_services

    services = build_services(settings)
    try:
        app = create_app(settings, services=services)
        app.testing = True  # plain http to loopback passes the scheme check; the client still refuses
        with raw_server(ok_json) as lms:
            texts = []
            for port in (lms.port, lms.port + 1 if lms.port < 65535 else lms.port - 1):
                r = app.test_client().get(
                    "/lti/register",
                    query_string={"openid_configuration": f"http://127.0.0.1:{port}/conf", "registration_token": "t"},
                )
                assert r.status_code >= 400
                assert "host_refused" in r.get_data(as_text=True)
                texts.append(r.get_data(as_text=True).replace(str(port), "PORT"))
            assert lms.accepted == 0
        assert texts[0] == texts[1]
    finally:
        services.db.dispose()


# -- platform key sets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [(trickle_body, "did not answer within 0.5 s"), (endless_body, "larger than 65536 bytes")],
)
def test_platform_key_sets_are_bounded(behaviour, words):
    from lti_tool.lti.jwks import JwksUnavailable, PlatformKeyCache

    with raw_server(behaviour) as lms:
        cache = PlatformKeyCache(
            ttl_seconds=60,
            refetch_min_interval_seconds=0,
            timeout_seconds=5.0,
            session=OutboundClient(policy(max_response_bytes=64 * 1024)),
        )
        started = time.monotonic()
        with pytest.raises(JwksUnavailable) as err:
            cache.key_for(f"http://127.0.0.1:{lms.port}/jwks", "k1")
        assert time.monotonic() - started < 2.5
    assert words in err.value.message


def test_platform_key_sets_on_loopback_are_refused_by_default():
    from lti_tool.lti.jwks import JwksUnavailable, PlatformKeyCache

    with raw_server(ok_json) as lms:
        cache = PlatformKeyCache(ttl_seconds=60, refetch_min_interval_seconds=0, timeout_seconds=5.0)
        with pytest.raises(JwksUnavailable) as err:
            cache.key_for(f"http://127.0.0.1:{lms.port}/jwks", "k1")
        assert lms.accepted == 0
    assert "internal address" in err.value.message


@pytest.mark.parametrize(
    "host",
    ["0x7f000001", "2130706433", "127.1", "0177.0.0.1", "[::ffff:127.0.0.1]", "localhost.", "a.localhost", "[fe80::1]"],
)
def test_the_registration_check_refuses_every_spelling_of_an_internal_address(host):
    """Before any request: these all got through the registration check (issue 12, security 3)."""
    from lti_tool.lti.registration_config import HostRefused, check_secure_url

    with pytest.raises(HostRefused):
        check_secure_url(f"https://{host}/mod/lti/openid-configuration.php", what="configuration URL",
                         allow_insecure_localhost=False)


def test_an_allow_listed_internal_lms_may_register_by_address_or_name():
    """outbound.allow_private is the one switch for an academy on an internal network: Dynamic
    Registration accepts its Moodle by IP literal (any spelling) or by name, and nothing else."""
    from lti_tool.lti.registration_config import HostRefused, check_secure_url

    allowed = OutboundPolicy(allow_private=("10.1.2.0/24", "moodle.academy.internal")).allows_internal_host
    for host in ("10.1.2.7", "0x0a010207", "moodle.academy.internal", "MOODLE.academy.internal."):
        check_secure_url(f"https://{host}/openid", what="configuration URL", allow_insecure_localhost=False,
                         private_allowed=allowed)
    for host in ("10.1.3.7", "127.0.0.1", "localhost", "169.254.169.254"):
        with pytest.raises(HostRefused):
            check_secure_url(f"https://{host}/openid", what="configuration URL", allow_insecure_localhost=False,
                             private_allowed=allowed)
    assert not OutboundPolicy().allows_internal_host("10.1.2.7")


# -- https: the checked address is connected to, the certificate is verified for the name ------


def _self_signed(tmp_path: Any, name: str) -> tuple[str, str]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def _tls_server(context: Any, *, connections: int, seen: list[bytes]) -> tuple[int, Callable[[], None]]:
    """An HTTPS server on 127.0.0.1 answering ``{"ok": true}`` to ``connections`` connections."""
    import ssl

    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen(4)

    def serve() -> None:
        for _ in range(connections):
            try:
                conn, _ = plain.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += tls.recv(65536)
                    seen.append(data)
                    body = b'{"ok": true}'
                    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                    tls.sendall(head + body)
            except (OSError, ssl.SSLError):
                pass  # the client refused our certificate

    threading.Thread(target=serve, daemon=True).start()
    return plain.getsockname()[1], plain.close


def test_https_goes_to_the_checked_address_with_sni_and_verification_for_the_name(tmp_path, monkeypatch):
    import ssl

    cert, key = _self_signed(tmp_path, "lms.academy.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen_sni: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)

    seen_requests: list[bytes] = []
    port, close = _tls_server(context, connections=2, seen=seen_requests)

    def resolver(name: str, port_: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        assert name == "lms.academy.test"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port_))]

    monkeypatch.setattr("lti_tool.outbound.guard.socket.getaddrinfo", resolver)
    try:
        client = OutboundClient(policy())
        response = client.get(f"https://lms.academy.test:{port}/jwks", verify=cert)
        assert response.json() == {"ok": True}
        assert seen_sni == ["lms.academy.test"]
        assert f"Host: lms.academy.test:{port}".encode() in seen_requests[0]
        with pytest.raises(ConnectionFailed):  # a certificate for another name is refused
            other = tmp_path / "other"
            other.mkdir()
            client.get(f"https://lms.academy.test:{port}/jwks", verify=_self_signed(other, "other.test")[0])
    finally:
        close()


def test_ca_bundle_setting_trusts_an_internal_certificate_authority(tmp_path, monkeypatch):
    """outbound.ca_bundle: an academy LMS whose certificate comes from the academy's own CA."""
    import ssl

    cert, key = _self_signed(tmp_path, "lms.academy.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port, close = _tls_server(context, connections=2, seen=[])
    monkeypatch.setattr(
        "lti_tool.outbound.guard.socket.getaddrinfo",
        lambda name, port_, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port_))],
    )
    try:
        with pytest.raises(ConnectionFailed):  # the bundled public authorities do not know it
            OutboundClient(policy()).get(f"https://lms.academy.test:{port}/jwks")
        trusting = OutboundClient(policy(ca_bundle=cert))
        assert trusting.get(f"https://lms.academy.test:{port}/jwks").json() == {"ok": True}
    finally:
        close()


def test_ca_bundle_setting_must_name_a_file(tmp_path):
    with pytest.raises(SettingsError) as err:
        load_settings(
            environ={}, overrides={"server": {"demo": True}, "outbound": {"ca_bundle": str(tmp_path / "missing.pem")}}
        )
    assert err.value.key == "outbound.ca_bundle"
