"""The lean score POST (``OutboundClient.post_bytes``, issue 16) keeps every guarantee of the
outbound client: total deadline, size cap, address check after resolution (connect to the checked
address), TLS verification for the name, typed errors, keep-alive shared with ``request``.

Servers run on 127.0.0.1 inside the test with small limits (0.5 s, 64 KiB): bounded and fast.
"""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from test_outbound import (
    RawServer,
    _self_signed,
    _tls_server,
    endless_body,
    ok_json,
    policy,
    raw_server,
    trickle_body,
    trickle_headers,
)

from lti_tool.outbound import (
    AddressRefused,
    ConnectionFailed,
    OutboundClient,
    OutboundPolicy,
    OutboundTimeout,
    ResponseTooLarge,
)

BODY = b'{"userId":"1","scoreGiven":1.0}'
HEADERS = {"Authorization": "Bearer t0k", "Content-Type": "application/vnd.ims.lis.v1.score+json"}


def post(client: OutboundClient, url: str, **kw: Any) -> Any:
    return client.post_bytes(url, BODY, HEADERS, timeout=(1.0, 5.0), **kw)


def replying(reply: bytes, *, keep_open: bool = False) -> Callable[[RawServer], Callable[[socket.socket], None]]:
    def make(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            server.send(conn, reply)
            while keep_open:  # further requests on the same connection
                data = conn.recv(65536)
                if not data:
                    return
                server.send(conn, reply)

        return handle

    return make


# -- deadline ---------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", [trickle_body, trickle_headers])
def test_a_trickling_server_is_cut_at_the_total_deadline(behaviour):
    with raw_server(behaviour) as server:
        client = OutboundClient(policy())
        started = time.monotonic()
        with pytest.raises(OutboundTimeout) as err:
            post(client, f"http://127.0.0.1:{server.port}/scores")
        elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 2.5, elapsed  # 20 s without the deadline, 5 s read timeout
    assert err.value.kind == "timeout" and isinstance(err.value, requests.Timeout)
    assert "did not answer within 0.5 s" in str(err.value)


def test_a_silent_server_is_cut_at_the_deadline_and_the_connection_not_reused():
    def silent(server: RawServer) -> Callable[[socket.socket], None]:
        return lambda conn: time.sleep(3)

    with raw_server(silent) as server:
        client = OutboundClient(policy(deadline_seconds=0.3))
        started = time.monotonic()
        for _ in range(2):
            with pytest.raises(OutboundTimeout):
                post(client, f"http://127.0.0.1:{server.port}/")
        assert time.monotonic() - started < 2.0
        assert server.accepted == 2  # the cut connection went away, a new one was opened


# -- size cap ---------------------------------------------------------------------------------


def test_an_endless_body_is_cut_at_the_cap():
    with raw_server(endless_body) as server:
        client = OutboundClient(policy(max_response_bytes=64 * 1024, deadline_seconds=5.0))
        started = time.monotonic()
        with pytest.raises(ResponseTooLarge) as err:
            post(client, f"http://127.0.0.1:{server.port}/endless")
        assert time.monotonic() - started < 2.0
    assert err.value.kind == "too_large" and "65536 bytes" in str(err.value)


def test_an_endless_chunked_body_is_cut_at_the_cap():
    def chunked(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            server.send(conn, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(100_000):
                server.send(conn, b"10000\r\n" + b"x" * 65536 + b"\r\n")

        return handle

    with raw_server(chunked) as server:
        client = OutboundClient(policy(max_response_bytes=64 * 1024, deadline_seconds=5.0))
        started = time.monotonic()
        with pytest.raises(ResponseTooLarge):
            post(client, f"http://127.0.0.1:{server.port}/")
        assert time.monotonic() - started < 2.0


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
            post(client, f"http://127.0.0.1:{server.port}/")
        assert time.monotonic() - started < 1.5


def test_the_cap_counts_decompressed_bytes():
    bomb = gzip.compress(b"0" * 5_000_000)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
    with raw_server(replying(head + bomb)) as server:
        with pytest.raises(ResponseTooLarge):
            post(OutboundClient(policy(max_response_bytes=64 * 1024)), f"http://127.0.0.1:{server.port}/")
    small = gzip.compress(b'{"ok": 1}')
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(small)
    with raw_server(replying(head + small)) as server:
        assert post(OutboundClient(policy()), f"http://127.0.0.1:{server.port}/").body == b'{"ok": 1}'


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f000001", "127.1", "[::1]", "[::ffff:127.0.0.1]", "localhost"])
def test_loopback_is_refused_without_the_allow_list_and_nothing_is_sent(host):
    with raw_server(ok_json) as server:
        client = OutboundClient(OutboundPolicy(deadline_seconds=0.5))
        with pytest.raises(AddressRefused) as err:
            post(client, f"http://{host}:{server.port}/scores")
        assert server.accepted == 0
    assert err.value.kind == "refused_address"


def test_internal_ranges_are_refused():
    for host in ("10.0.0.1", "169.254.169.254", "192.168.1.1", "[fd00::1]"):
        with pytest.raises(AddressRefused):
            post(OutboundClient(OutboundPolicy(deadline_seconds=0.5)), f"http://{host}:8080/")


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch):
    """DNS rebinding: resolved once per connection, the socket connected to that checked address."""
    with raw_server(replying(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), host="127.0.0.2") as server:
        answers = ["127.0.0.2", "127.0.0.1"]
        asked: list[str] = []

        def resolver(name: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
            asked.append(name)
            address = answers[min(len(asked) - 1, len(answers) - 1)]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr("lti_tool.outbound.guard.socket.getaddrinfo", resolver)
        client = OutboundClient(OutboundPolicy(deadline_seconds=0.5, allow_private=("127.0.0.2/32",)))
        answer = post(client, f"http://rebind.example:{server.port}/li/scores?type_id=1")
        assert answer.status == 200 and asked == ["rebind.example"]
        head = server.requests[0]
        assert head.startswith(b"POST /li/scores?type_id=1 HTTP/1.1\r\n")
        assert f"Host: rebind.example:{server.port}\r\n".encode() in head
        # the server closed: the next connection is resolved again, rebound, refused, not connected
        with pytest.raises(AddressRefused):
            post(OutboundClient(client.policy), f"http://rebind.example:{server.port}/li/scores")
        assert server.accepted == 1


def test_https_goes_to_the_checked_address_with_sni_and_verification_for_the_name(tmp_path, monkeypatch):
    import ssl

    cert, key = _self_signed(tmp_path, "lms.academy.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen_sni: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    seen: list[bytes] = []
    port, close = _tls_server(context, connections=2, seen=seen)

    def resolver(name: str, port_: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        assert name == "lms.academy.test"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port_))]

    monkeypatch.setattr("lti_tool.outbound.guard.socket.getaddrinfo", resolver)
    try:
        client = OutboundClient(policy(ca_bundle=cert, deadline_seconds=5.0))
        answer = post(client, f"https://lms.academy.test:{port}/scores")
        assert answer.status == 200 and answer.body == b'{"ok": true}'
        assert seen_sni == ["lms.academy.test"]
        assert f"Host: lms.academy.test:{port}".encode() in seen[0]
        other = tmp_path / "other"
        other.mkdir()
        with pytest.raises(ConnectionFailed):  # a certificate for another name is refused
            post(OutboundClient(policy(ca_bundle=_self_signed(other, "other.test")[0])),
                 f"https://lms.academy.test:{port}/scores")
    finally:
        close()


# -- typed errors, HTTP details ---------------------------------------------------------------


def test_connection_failures_read_the_same_whatever_the_cause():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()
    client = OutboundClient(policy())
    texts = []
    with pytest.raises(ConnectionFailed) as err:
        post(client, f"http://127.0.0.1:{closed_port}/")
    texts.append(str(err.value))
    with raw_server(replying(b"SSH-2.0-OpenSSH_9.6\r\n")) as server:
        with pytest.raises(ConnectionFailed) as err:
            post(client, f"http://127.0.0.1:{server.port}/")
        texts.append(str(err.value))
    assert texts == ["could not connect to 127.0.0.1", "could not connect to 127.0.0.1"]


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent():
    with raw_server(ok_json) as server:
        client = OutboundClient(policy())
        with pytest.raises(ConnectionFailed):
            client.post_bytes(f"http://127.0.0.1:{server.port}/", BODY, {"Authorization": "Bearer x\r\nX-Evil: 1"})
        assert server.accepted == 0


def test_keep_alive_is_shared_with_request_and_answers_are_parsed():
    reply = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 422 Unprocessable\r\nRetry-After: 7\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n4\r\nno \xc2\r\n1;x=y\r\n\xa9\r\n0\r\n\r\n"
    )
    with raw_server(replying(reply, keep_open=True)) as server:
        client = OutboundClient(policy())
        for _ in range(5):
            answer = post(client, f"http://127.0.0.1:{server.port}/scores")
            assert (answer.status, answer.reason, answer.header("RETRY-AFTER")) == (422, "Unprocessable", "7")
            assert answer.text() == "no ©"
        assert client.get(f"http://127.0.0.1:{server.port}/").status_code == 422
        assert server.accepted == 1
        head = server.requests[0]
        assert b"Content-Length: %d\r\n" % len(BODY) in head and b"Authorization: Bearer t0k\r\n" in head


def test_a_redirected_score_goes_through_requests_and_its_checks():
    """A 3xx is not followed by the lean path; the AGS client re-sends through ``request``,
    whose redirect target is address-checked like any other."""
    from sync.ags import AgsClient
    from sync.errors import AgsTransportError
    from sync.ports import PlatformEndpoints

    class Tokens:
        def get_token(self, platform: Any, scopes: Any, *, force_refresh: bool = False) -> str:
            return "t0k"

    # the server closes after its answer and says so (an unannounced close of a pooled connection
    # is a separate race: a POST on it fails as "connection" and the worker retries)
    head = (
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/x\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    with raw_server(replying(head)) as server:
        client = OutboundClient(policy())
        ags = AgsClient(Tokens(), session=client)  # type: ignore[arg-type]
        platform = PlatformEndpoints(
            key="p", issuer="https://lms", client_id="c", token_url=f"http://127.0.0.1:{server.port}/token"
        )
        with pytest.raises(AgsTransportError) as err:
            ags.post_score(platform, f"http://127.0.0.1:{server.port}/li", {"userId": "1"})
        assert err.value.kind == "refused_address"
        assert server.accepted == 2  # the lean POST, then the same POST through requests


# -- stale keep-alive connections ---------------------------------------------------------------

OK_REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def _read_request(conn: socket.socket) -> bool:
    """Read one request head (and its body) from ``conn``; False when the client closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lower = head.lower()
    length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0]) if b"content-length" in lower else 0
    while len(rest) < length:
        rest += conn.recv(65536)
    return True


def idle_closing(*, reset: bool = False, idle: float = 0.1) -> Callable[[RawServer], Callable[[socket.socket], None]]:
    """Answers the first request, keeps the connection alive (no ``Connection: close``), then
    closes it silently after ``idle`` seconds without a request (``reset``: with an RST)."""

    def make(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            server.send(conn, OK_REPLY)
            time.sleep(idle)
            if reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

        return handle

    return make


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_a_pooled_connection_the_server_closed_while_idle_is_replaced_and_the_post_sent_again(reset):
    with raw_server(idle_closing(reset=reset)) as server:
        client = OutboundClient(policy())
        url = f"http://127.0.0.1:{server.port}/scores"
        assert post(client, url).status == 200
        time.sleep(0.4)  # the server closed the idle connection without a word
        answer = post(client, url)
        assert answer.status == 200 and answer.body == b"{}"
        assert server.accepted == 2 and len(server.requests) == 2  # nothing sent twice on one
        assert post(client, url).status == 200  # the replacement was pooled in turn (and closed)


def test_a_connection_closed_as_the_request_arrives_is_resent_once_on_a_new_one():
    """The race the idle check cannot see: the server closes the reused connection after reading
    the request, before answering. No byte of an answer came: the POST goes out again, once."""
    served: list[int] = []

    def make(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            served.append(1)
            server.send(conn, OK_REPLY)
            if len(served) == 1 and _read_request(conn):
                return  # read the second request, close without an answer
            while _read_request(conn):
                server.send(conn, OK_REPLY)

        return handle

    with raw_server(make) as server:
        client = OutboundClient(policy())
        url = f"http://127.0.0.1:{server.port}/scores"
        assert post(client, url).status == 200
        assert post(client, url).status == 200
        assert server.accepted == 2


def test_a_new_connection_that_closes_without_answering_is_not_resent():
    def closing(server: RawServer) -> Callable[[socket.socket], None]:
        return lambda conn: None  # read the request, close

    with raw_server(closing) as server:
        client = OutboundClient(policy())
        with pytest.raises(ConnectionFailed):
            post(client, f"http://127.0.0.1:{server.port}/scores")
        assert server.accepted == 1


def test_a_reused_connection_that_closes_without_answering_twice_fails_without_a_third_try():
    def make(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            if server.accepted == 1:
                server.send(conn, OK_REPLY)
                _read_request(conn)  # the second request: closed unanswered

        return handle  # every later connection: closed unanswered

    with raw_server(make) as server:
        client = OutboundClient(policy())
        url = f"http://127.0.0.1:{server.port}/scores"
        assert post(client, url).status == 200
        with pytest.raises(ConnectionFailed):
            post(client, url)
        assert server.accepted == 2  # one resend on a new connection, not more


def test_a_reused_connection_whose_answer_trickles_is_cut_at_the_total_deadline():
    """On a reused connection the deadline holds through the time left on every read."""

    def make(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            server.send(conn, OK_REPLY)
            if not _read_request(conn):
                return
            server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n")
            for _ in range(200):
                server.send(conn, b" ")
                time.sleep(0.05)

        return handle

    with raw_server(make) as server:
        client = OutboundClient(policy())
        url = f"http://127.0.0.1:{server.port}/scores"
        assert post(client, url).status == 200
        started = time.monotonic()
        with pytest.raises(OutboundTimeout):
            post(client, url)
        assert 0.45 <= time.monotonic() - started < 2.0
        assert server.accepted == 1  # a slow answer is not a stale connection: never resent
