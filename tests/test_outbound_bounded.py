"""The lean POST's sockets are bounded by kernel timeouts (``SO_RCVTIMEO``/``SO_SNDTIMEO``, issue 16:
one system call per send and read instead of a ``poll`` before each): the read timeout and the
total deadline still hold, over plain HTTP and TLS, on reused keep-alive connections too, and a
connection moves between the lean path and ``request`` (Python timeouts) in either order.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from test_outbound import RawServer, _self_signed, policy, raw_server
from test_outbound_lean import HEADERS, OK_REPLY, _read_request, post

from lti_tool.outbound import ConnectionFailed, OutboundClient, OutboundTimeout
from lti_tool.outbound.lean import _Bounded


class _Recorder:
    """A socket stand-in recording the kernel timeouts set on it."""

    def __init__(self) -> None:
        self.set: list[tuple[int, bytes]] = []

    def setsockopt(self, level: int, option: int, value: bytes) -> None:
        self.set.append((option, value))


def test_kernel_timeouts_are_set_only_when_the_limit_moves_and_never_above_it():
    sock = _Recorder()
    bounded = _Bounded(sock)  # type: ignore[arg-type]
    assert bounded.kernel
    bounded.bound(10.0)
    assert {o for o, _ in sock.set} == {socket.SO_RCVTIMEO, socket.SO_SNDTIMEO}
    assert 9.5 < bounded.value <= 10.0
    sock.set.clear()
    for limit in (9.99999, 10.0, 9.8, 10.2):  # a new call on a reused connection: nothing to set
        bounded.bound(limit)
        assert bounded.value <= limit
    assert sock.set == []
    bounded.bound(2.0)  # less time left than the value set: lowered at once
    assert sock.set and 1.9 < bounded.value <= 2.0
    sock.set.clear()
    bounded.bound(10.0)  # far above: raised again (a short value would cut a patient read)
    assert sock.set and 9.5 < bounded.value <= 10.0
    bounded.bound(0.0001)  # never 0 (which would mean no timeout at all)
    assert bounded.value == 0.001


def _silent_on_second(server: RawServer) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        server.send(conn, OK_REPLY)
        if _read_request(conn):
            time.sleep(3.0)  # the second request is never answered

    return handle


def test_a_reused_connection_is_cut_at_the_read_timeout_when_it_is_shorter_than_the_deadline():
    with raw_server(_silent_on_second) as server:
        client = OutboundClient(policy(deadline_seconds=5.0))
        url = f"http://127.0.0.1:{server.port}/scores"
        assert post(client, url).status == 200
        started = time.monotonic()
        with pytest.raises(OutboundTimeout):
            client.post_bytes(url, b"{}", HEADERS, timeout=(1.0, 0.3))
        assert 0.27 <= time.monotonic() - started < 1.5
        assert server.accepted == 1  # a timeout is not a stale connection: not resent


def test_a_connection_moves_between_request_and_the_lean_path_in_both_directions():
    def keep_alive(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            server.send(conn, OK_REPLY)
            while _read_request(conn):
                server.send(conn, OK_REPLY)

        return handle

    with raw_server(keep_alive) as server:
        client = OutboundClient(policy(deadline_seconds=5.0))
        url = f"http://127.0.0.1:{server.port}/scores"
        assert client.request("POST", url, data=b"{}").status_code == 200
        assert post(client, url).status == 200  # Python timeouts -> kernel timeouts
        assert client.request("POST", url, data=b"{}").status_code == 200  # and back
        assert post(client, url).status == 200
        assert server.accepted == 1


def _tls_keep_alive_server(
    context: ssl.SSLContext, *, answers: int
) -> tuple[int, list[int], Callable[[], None]]:
    """An HTTPS server on 127.0.0.1 answering the first ``answers`` requests of each connection
    (keep-alive), then silent; returns its port, the requests seen per connection, and close."""
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen(4)
    seen: list[int] = []

    def one(conn: socket.socket) -> None:
        index = len(seen)
        seen.append(0)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                while True:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = tls.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    seen[index] += 1
                    if seen[index] > answers:
                        time.sleep(3.0)
                        return
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        except (OSError, ssl.SSLError):
            pass

    def serve() -> None:
        while True:
            try:
                conn, _ = plain.accept()
            except OSError:
                return
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return plain.getsockname()[1], seen, plain.close


@pytest.fixture
def tls_lms(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[int], tuple[str, list[int], str]]:
    """``make(answers)`` -> (scores URL on lms.academy.test, requests per connection, CA file)."""
    cert, key = _self_signed(tmp_path, "lms.academy.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    closers: list[Callable[[], None]] = []

    def resolver(name: str, port_: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        assert name == "lms.academy.test"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port_))]

    monkeypatch.setattr("lti_tool.outbound.guard.socket.getaddrinfo", resolver)

    def make(answers: int) -> tuple[str, list[int], str]:
        port, seen, close = _tls_keep_alive_server(context, answers=answers)
        closers.append(close)
        return f"https://lms.academy.test:{port}/scores", seen, cert

    yield make
    for close in closers:
        close()


def test_tls_keep_alive_connections_are_reused_with_kernel_timeouts(tls_lms):
    url, seen, ca = tls_lms(answers=100)
    client = OutboundClient(policy(ca_bundle=ca, deadline_seconds=5.0))
    for _ in range(3):
        answer = post(client, url)
        assert answer.status == 200 and answer.body == b"{}"
    assert seen == [3]  # one TLS connection, verified once, three requests


def test_a_silent_answer_on_a_reused_tls_connection_is_cut_at_the_deadline(tls_lms):
    url, seen, ca = tls_lms(answers=1)
    client = OutboundClient(policy(ca_bundle=ca, deadline_seconds=0.5))
    assert post(client, url).status == 200
    started = time.monotonic()
    with pytest.raises(OutboundTimeout):
        post(client, url)
    assert 0.45 <= time.monotonic() - started < 1.5
    assert seen == [2]  # not resent: the server had the request and was silent


def test_connections_go_back_to_the_pool_up_to_its_size_and_a_closed_pool_keeps_none():
    from urllib3 import HTTPConnectionPool

    from lti_tool.outbound.client import _checkin, _checkout

    class Conn:
        closed = False

        def close(self) -> None:
            self.closed = True

    pool = HTTPConnectionPool("127.0.0.1", 9, maxsize=2)
    first, second = _checkout(pool), _checkout(pool)  # the pool's free slots (None) -> new ones
    assert first is not None and second is not None
    assert _checkout(pool) is not None  # none free: a new one anyway (urllib3 does not block either)
    kept, extra = Conn(), Conn()
    _checkin(pool, kept)
    _checkin(pool, Conn())
    _checkin(pool, extra)  # over the pool's size: closed, not kept
    assert extra.closed and not kept.closed and len(pool.pool.queue) == 2
    assert _checkout(pool) is not kept and _checkout(pool) is kept  # most recently returned first
    pool.close()
    late = Conn()
    _checkin(pool, late)
    assert late.closed


@pytest.mark.parametrize(
    "partial",
    [b"HTTP/1.1 200 OK\r\nContent-Len", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial"],
    ids=["in-the-head", "in-the-body"],
)
def test_a_reset_in_the_middle_of_an_answer_on_a_reused_connection_fails_without_a_resend(partial):
    """Some bytes of the answer came: the LMS had the request, so it is never sent again here
    (the worker's retry policy decides); the broken connection is not pooled."""

    def make(server: RawServer) -> Callable[[socket.socket], None]:
        def handle(conn: socket.socket) -> None:
            server.send(conn, OK_REPLY)
            if _read_request(conn):
                server.send(conn, partial)
                time.sleep(0.05)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

        return handle

    with raw_server(make) as server:
        client = OutboundClient(policy(deadline_seconds=5.0))
        url = f"http://127.0.0.1:{server.port}/scores"
        assert post(client, url).status == 200
        with pytest.raises(ConnectionFailed):
            post(client, url)
        assert server.accepted == 1  # not resent on a new connection
