"""The lean POST path (issue 16: grade delivery CPU): request head, raw HTTP/1.1 answer reader."""

from __future__ import annotations

import http.client
import socket
import ssl
import struct
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import requests

from lti_tool.outbound.guard import _Call
from lti_tool.outbound.policy import DEFAULT_PORTS, ConnectionFailed, OutboundTimeout, ResponseTooLarge


def _lean_head(url: str, user_agent: str) -> tuple[tuple[str, str, int], str]:
    """``((scheme, host, port), request line + Host + base headers)`` of a POST to ``url``."""
    parts = urlsplit(requests.utils.requote_uri(url))
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an http(s) URL")
    hostname = parts.hostname
    if not hostname.isascii():
        hostname = hostname.encode("idna").decode("ascii")
    port = parts.port or DEFAULT_PORTS[scheme]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(c <= " " or c >= "\x7f" for c in target) or any(c <= " " or c in "/?#@" for c in hostname):
        raise ValueError("not a usable URL")
    host_header = f"[{hostname}]" if ":" in hostname else hostname
    if port != DEFAULT_PORTS[scheme]:
        host_header = f"{host_header}:{port}"
    prefix = (
        f"POST {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {user_agent}\r\n"
        "Accept: */*\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n"
    )
    return (scheme, hostname, port), prefix


#: (prefix, headers) -> the checked and encoded head without its length: the worker sends every
#: score of a line item with the same head (same URL, token and media type).
_HEADS: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}


def _lean_message(prefix: str, headers: dict[str, str], body: bytes, host: _HostName) -> bytes:
    """The whole request: ``prefix`` (from :func:`_lean_head`), ``headers``, length and ``body``."""
    key = (prefix, tuple(headers.items()))
    encoded = _HEADS.get(key)
    if encoded is None:
        head = [prefix]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise ConnectionFailed(f"{host}: a request header is not valid")
            head.append(f"{name}: {value}\r\n")
        encoded = "".join(head).encode("latin-1")
        if len(_HEADS) >= 1024:  # bounded: (line item, token) pairs, not scores
            _HEADS.clear()
        _HEADS[key] = encoded
    return b"%sContent-Length: %d\r\n\r\n%s" % (encoded, len(body), body)


def _lean_send(
    conn: Any, message: bytes, call: _Call, timeouts: tuple[float, float], total: float, host: _HostName
) -> _Bounded:
    """Connect ``conn`` if it has no socket (guarded: resolved, checked, connected to the checked
    address), bound its socket by the call's deadline and send ``message``; the bounded socket.

    The socket is in blocking mode with kernel timeouts (``SO_RCVTIMEO``/``SO_SNDTIMEO``, see
    :class:`_Bounded`): a send or read is one system call, not a ``poll`` before each (and every
    such call is a GIL hand-off between the delivery threads)."""
    connect, read = timeouts
    if conn.sock is None:
        conn.timeout = max(min(connect, total), 0.001)
        conn.connect()  # guarded: resolved, checked, connected to the checked address
        call.attach(conn.sock)  # under the watchdog while it is armed (a new connection)
    bounded = _Bounded.of(conn)
    remaining = call.remaining()
    if remaining <= 0:
        raise OutboundTimeout(f"{host} did not answer within {total:g} s")
    bounded.bound(min(read, remaining))
    try:
        bounded.sock.sendall(message)
    except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
        raise TimeoutError("send timed out") from None
    return bounded


#: a kernel timeout already set is kept while it is at most this share of the limit below it
_TIMEOUT_SLACK = 0.05


class _Bounded:
    """A pooled connection's socket with every send and read bounded, at the fewest system calls.

    Plain TCP: blocking mode with kernel timeouts (``SO_RCVTIMEO`` and ``SO_SNDTIMEO``) instead
    of Python's timeout (a ``poll`` before every ``recv``/``send`` and an ``ioctl`` for every
    ``settimeout``); a wait that runs out raises ``BlockingIOError``, read as a timeout. TLS:
    Python's timeout (CPython's ``ssl`` retries a blocking read that the kernel timed out, so a
    kernel timeout would not hold there), set only when it has to change.

    :meth:`bound` keeps each wait ≤ the limit asked (the read timeout or the time left before
    the call's deadline, whichever is shorter, never more) and ≥ 95 % of it: the timeout is set
    only when the value set before is above the limit or more than 5 % below it, and then set
    2.5 % below the limit, so the next call on a reused connection (a new deadline, the same
    read timeout) needs no system call for it."""

    __slots__ = ("kernel", "sock", "value")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.kernel = not isinstance(sock, ssl.SSLSocket)
        self.value = -1.0  # nothing set yet

    @classmethod
    def of(cls, conn: Any) -> _Bounded:
        """The bounded socket of a connected ``conn`` (made once per socket, kept on ``conn``)."""
        sock: socket.socket = conn.sock
        bounded: _Bounded | None = conn.__dict__.get("_lean_bounded")
        if bounded is None or bounded.sock is not sock:
            bounded = conn.__dict__["_lean_bounded"] = cls(sock)
        current = sock.gettimeout()  # new, or used by ``request`` (its own timeouts) meanwhile?
        if bounded.kernel:
            if current is not None:
                sock.settimeout(None)
        elif current != bounded.value:
            bounded.value = -1.0
        return bounded

    def bound(self, limit: float) -> None:
        """Make every following send and read wait at most ``limit`` seconds (> 0)."""
        if limit * (1 - _TIMEOUT_SLACK) < self.value <= limit:
            return
        value = max(limit * (1 - _TIMEOUT_SLACK / 2), 0.001)  # 0 would mean "no timeout"
        if self.kernel:
            seconds = int(value)
            packed = struct.pack("@ll", seconds, int((value - seconds) * 1_000_000))
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, packed)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, packed)
        else:
            self.sock.settimeout(value)
        self.value = value


class StaleConnection(Exception):
    """A reused keep-alive connection failed before any byte of the answer arrived: the server
    had closed it while it was idle (its keep-alive timeout). Nothing was answered, so the
    request may be sent again on a new connection."""


class RawAnswer:
    """What :meth:`OutboundClient.post_bytes` got back: status, reason, headers and the whole body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-cased names
        self.body = body

    def header(self, name: str) -> str | None:
        """A response header (name in any case), repeated ones joined with ``, ``."""
        return self.headers.get(name.lower())

    def text(self) -> str:
        """The body as text (charset from ``Content-Type``, else UTF-8; undecodable bytes replaced)."""
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")


_MAX_HEAD = 65536  # longest status line + headers (http.client's line limit)
_MAX_HEADERS = 100


class _Reader:
    """Buffered reads from one bounded socket, each ``recv`` bounded by the read timeout AND the
    time left before the call's deadline (so the total deadline holds without the watchdog)."""

    __slots__ = ("bounded", "buf", "call", "read_timeout", "received", "sock")

    def __init__(self, bounded: _Bounded, call: _Call, read_timeout: float) -> None:
        self.bounded = bounded
        self.sock = bounded.sock
        self.call = call
        self.read_timeout = read_timeout
        self.buf = b""
        self.received = 0

    def fill(self) -> bool:
        remaining = self.call.deadline - time.monotonic()
        if remaining <= 0 or self.call.expired:
            raise TimeoutError("deadline")
        self.bounded.bound(min(self.read_timeout, remaining))
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise TimeoutError("read timed out") from None
        except ConnectionError:
            if self.received:  # part of an answer came: the server had the request, never resent
                raise http.client.IncompleteRead(self.buf) from None
            raise
        if not data:
            return False
        self.received += len(data)
        self.buf += data
        return True

    def until(self, marker: bytes, limit: int) -> bytes:
        while True:
            at = self.buf.find(marker)
            if at >= 0:
                found, self.buf = self.buf[:at], self.buf[at + len(marker) :]
                return found
            if len(self.buf) > limit:
                raise http.client.LineTooLong("header section")
            if not self.fill():
                raise http.client.IncompleteRead(self.buf)

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self.fill():
                raise http.client.IncompleteRead(self.buf, n - len(self.buf))
        found, self.buf = self.buf[:n], self.buf[n:]
        return found


def _read_answer(
    bounded: _Bounded, limit: int, call: _Call, host: _HostName, *, read_timeout: float, reused: bool = False
) -> tuple[RawAnswer, bool]:
    """Read one HTTP/1.x answer (1xx skipped); returns it and whether the connection may be reused.

    Raises:
        StaleConnection: ``reused`` and the connection ended (closed or reset) before any byte.
    """
    reader = _Reader(bounded, call, read_timeout)
    if reused:
        try:
            if not reader.fill():
                raise StaleConnection("closed before answering")
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
            raise StaleConnection("reset before answering") from exc
    while True:
        head = reader.until(b"\r\n\r\n", _MAX_HEAD)
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(lines[0][:100])
        status = int(code)
        if len(lines) > _MAX_HEADERS + 1:
            raise http.client.HTTPException("too many headers")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise http.client.HTTPException("malformed header")
            key = name.lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if 100 <= status < 200 and status != 101:
            continue  # interim answer: the real one follows
        break
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    length_text = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    if status in (204, 304) or status < 200:
        body = b""
    elif chunked:
        parts: list[bytes] = []
        size = 0
        while True:
            line = reader.until(b"\r\n", 4096)
            try:
                chunk_size = int(line.split(b";", 1)[0].strip() or b"x", 16)
            except ValueError:
                raise http.client.HTTPException("bad chunk size") from None
            if chunk_size < 0:
                raise http.client.HTTPException("bad chunk size")
            if chunk_size == 0:
                while reader.until(b"\r\n", _MAX_HEAD):  # trailers up to the empty line
                    pass
                break
            size += chunk_size
            if size > limit:
                raise ResponseTooLarge(f"the answer of {host} is larger than {limit} bytes")
            parts.append(reader.exact(chunk_size))
            reader.exact(2)
            if call.expired:
                raise OutboundTimeout(f"{host} did not answer in time")
        body = b"".join(parts)
    elif length_text is not None:
        if not length_text.isdigit():
            raise http.client.HTTPException("bad Content-Length")
        length = int(length_text)
        if length > limit:
            raise ResponseTooLarge(f"the answer of {host} is larger than {limit} bytes")
        body = reader.exact(length)
    else:  # read until the server closes
        keep = False
        while reader.fill():
            if len(reader.buf) > limit:
                raise ResponseTooLarge(f"the answer of {host} is larger than {limit} bytes")
        body, reader.buf = reader.buf, b""
    if reader.buf:
        keep = False  # more than one answer's worth: do not trust the connection
    encoding = headers.get("content-encoding", "").strip().lower()
    if body and encoding in ("gzip", "x-gzip", "deflate"):
        body = _decompress(body, encoding, limit, host)
    return RawAnswer(status, reason.strip(), headers, body), keep


def _decompress(body: bytes, encoding: str, limit: int, host: _HostName) -> bytes:
    """A gzip/deflate body decoded (a server may compress although ``identity`` was asked), capped."""
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    try:
        decoder = zlib.decompressobj(wbits)
        out = decoder.decompress(body, limit + 1)
    except zlib.error:
        if encoding != "deflate":
            raise http.client.HTTPException("bad gzip body") from None
        try:  # raw deflate, as some servers send it
            decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            out = decoder.decompress(body, limit + 1)
        except zlib.error:
            raise http.client.HTTPException("bad deflate body") from None
    if len(out) > limit or decoder.unconsumed_tail:
        raise ResponseTooLarge(f"the answer of {host} is larger than {limit} bytes")
    return out


class _HostName:
    """The host of a URL for error messages, parsed on first use (not on every successful call)."""

    __slots__ = ("_url",)

    def __init__(self, url: str | bytes) -> None:
        self._url = url

    def __str__(self) -> str:
        url = self._url if isinstance(self._url, str) else self._url.decode("utf-8", "replace")
        try:
            return urlsplit(url).hostname or "?"
        except ValueError:
            return "?"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)
