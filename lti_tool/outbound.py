"""The one outbound HTTP client: every call bounded in time and size, and checked in production.

DESIGN.md §5 decision 9. Every request this service makes to another server (Dynamic
Registration's configuration fetch and registration POST, platform key sets, service tokens,
NRPS rosters, AGS line items, scores and results) goes through an :class:`OutboundClient`:

* **Total deadline per call.** Besides the connect and per-read timeouts, a watchdog shuts the
  call's sockets down when ``deadline_seconds`` have passed since the call started, whatever the
  server is doing (a server trickling one byte every 2 s never trips a per-read timeout). Name
  resolution, connecting, TLS, headers, redirects and the body all count.
* **Response-size cap.** The body is always read here, streamed, decompressed size counted, and
  the call aborted as soon as it passes ``max_response_bytes``.
* **Keep-alive pools per host** (urllib3 pools keyed by scheme, host and port).
* **Address check after name resolution** (production): the host name is resolved once, every
  address is checked against loopback, private, link-local, multicast, reserved, shared and
  unspecified ranges (IPv4 and IPv6, IPv4-mapped IPv6 unwrapped), and the socket is connected to
  the address that was checked; TLS still verifies and sends SNI for the host name, and the
  ``Host`` header keeps the name. No DNS rebinding between check and connect. Operators on an
  internal network allow-list networks or host names (``outbound.allow_private``).
* **Typed errors** that say what happened (timeout, too large, refused address, connection
  failed) without revealing whether a port is open: an address is refused before any connection
  is tried, and every connection failure reads the same.

The errors subclass ``requests`` exceptions, so callers that catch ``requests.Timeout`` or
``requests.RequestException`` keep working; ``kind`` names the failure for logs and retry policies.
"""

from __future__ import annotations

import heapq
import http.client
import ipaddress
import itertools
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

logger = logging.getLogger(__name__)

USER_AGENT = "CBSI-Connect/0.1 (+LTI Advantage)"
DEFAULT_PORTS = {"http": 80, "https": 443}
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# -- errors ---------------------------------------------------------------------------------


class OutboundError(requests.RequestException):
    """An outbound call failed; ``kind`` says how, ``str()`` is safe to show."""

    kind = "connection"


class OutboundTimeout(OutboundError, requests.Timeout):
    """The call did not finish within its deadline (or a connect/read timeout)."""

    kind = "timeout"


class ResponseTooLarge(OutboundError):
    """The answer was longer than the configured cap; reading stopped there."""

    kind = "too_large"


class AddressRefused(OutboundError):
    """The URL's host is, or resolves to, an address this service must not call."""

    kind = "refused_address"


class ConnectionFailed(OutboundError, requests.ConnectionError):
    """No connection could be made, or it broke. Deliberately the same text for every cause."""

    kind = "connection"


class ServiceUrlRefused(ValueError):
    """A service URL from a launch is not on the platform's registered hosts nor allow-listed."""

    code = "service_url_refused"


# -- policy ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OutboundPolicy:
    """Limits and address rules of an :class:`OutboundClient`.

    Attributes:
        deadline_seconds: total time one call may take, redirects and body included.
        connect_timeout_seconds: time to open one TCP connection.
        read_timeout_seconds: longest silence between two reads (also capped by the deadline).
        max_response_bytes: longest answer body (decompressed) read before the call is aborted.
        check_addresses: refuse internal targets (production); off in demo mode only.
        allow_private: networks (``10.1.2.0/24``) and host names (``moodle.academy.internal``)
            that may be called although internal.
        service_hosts: extra hosts (``host`` or ``host:port``) on which service URLs from launches
            are accepted for every platform, besides each platform's registered hosts.
        pool_connections: hosts whose keep-alive pools are kept.
        pool_maxsize: kept-alive connections per host.
        ca_bundle: PEM file of the certificate authorities to trust instead of the bundled ones
            (an academy LMS behind an internal CA); empty for the defaults.
    """

    deadline_seconds: float = 10.0
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 10.0
    max_response_bytes: int = 8 * 1024 * 1024
    check_addresses: bool = True
    allow_private: tuple[str, ...] = ()
    service_hosts: tuple[str, ...] = ()
    pool_connections: int = 32
    pool_maxsize: int = 16
    ca_bundle: str = ""
    _networks: tuple[IpNetwork, ...] = field(default=(), init=False, repr=False, compare=False)
    _hosts: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks: list[IpNetwork] = []
        hosts: set[str] = set()
        for entry in self.allow_private:
            text = entry.strip()
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
            except ValueError:
                if not text:
                    raise ValueError("outbound.allow_private: empty entry") from None
                hosts.add(normalise_host(text))
        object.__setattr__(self, "_networks", tuple(networks))
        object.__setattr__(self, "_hosts", frozenset(hosts))

    def host_allowed(self, host: str) -> bool:
        """``host`` is allow-listed by name."""
        return normalise_host(host) in self._hosts

    def allows_internal_host(self, host: str) -> bool:
        """An internal host written in a URL (a name, or an IP literal in any spelling) that the
        operator allow-listed: by name, or as an address inside an allow-listed network."""
        if self.host_allowed(host):
            return True
        name = normalise_host(host)
        try:
            address: IpAddress | None = ipaddress.ip_address(name)
        except ValueError:
            address = legacy_ipv4(name)
        return address is not None and bool(self._networks) and self.address_allowed(address)

    def address_allowed(self, address: IpAddress) -> bool:
        """``address`` may be called: public, or inside an allow-listed network."""
        if not is_internal(address):
            return True
        candidates = {address, unwrap(address)}
        return any(a in net for a in candidates for net in self._networks if net.version == a.version)


def normalise_host(host: str) -> str:
    """Lower-case, without IPv6 brackets or a trailing dot (``localhost.`` is ``localhost``)."""
    return host.strip().strip("[]").rstrip(".").lower()


def unwrap(address: IpAddress) -> IpAddress:
    """The IPv4 address inside an IPv4-mapped (``::ffff:a.b.c.d``) or IPv4-compatible IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if int(address) >> 32 == 0 and int(address) > 1:  # deprecated ::a.b.c.d
            return ipaddress.IPv4Address(int(address))
    return address


def legacy_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address written the way ``inet_aton`` reads it (``0x7f000001``, ``2130706433``,
    ``127.1``, ``0177.0.0.1``) that ``ipaddress`` does not; ``None`` for anything else."""
    if not text or any(c not in "0123456789abcdefxABCDEFX." for c in text) or not text[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def is_internal(address: IpAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, shared or unspecified (not globally routable)."""
    plain = unwrap(address)
    for candidate in {address, plain}:
        if (
            candidate.is_loopback
            or candidate.is_private
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or not candidate.is_global
        ):
            return True
    return False


# -- the deadline watchdog ------------------------------------------------------------------


class _Call:
    """One outbound call: its deadline, policy and the sockets it opened or reused."""

    def __init__(self, policy: OutboundPolicy, deadline: float) -> None:
        self.policy = policy
        self.deadline = deadline
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shutdown(sock)
            elif sock not in self._sockets:
                self._sockets.append(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Watchdog:
    """One daemon thread expiring calls whose deadline passed (cheaper than a timer per call)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Call]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, call: _Call) -> int:
        with self._cond:
            handle = next(self._ids)
            # The thread sleeps until the earliest deadline; it needs waking only when this call's
            # deadline comes first (calls with one policy arrive in deadline order: almost never).
            earliest = not self._heap or call.deadline < self._heap[0][0]
            heapq.heappush(self._heap, (call.deadline, handle, call))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbound-deadlines", daemon=True)
                self._thread.start()
            if earliest:
                self._cond.notify()
            return handle

    def cancel(self, handle: int) -> None:
        with self._cond:
            self._cancelled.add(handle)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, handle, call = self._heap[0]
                if handle in self._cancelled:
                    heapq.heappop(self._heap)
                    self._cancelled.discard(handle)
                    continue
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            call.expire()


_WATCHDOG = _Watchdog()
_current = threading.local()


def _active_call() -> _Call | None:
    return getattr(_current, "call", None)


# -- resolving and connecting to the checked address ----------------------------------------


def resolve_checked(host: str, port: int, call: _Call | None) -> list[tuple[Any, ...]]:
    """Resolve ``host`` once and check every address; returns ``getaddrinfo`` rows to connect to.

    Raises:
        AddressRefused: an address is internal and not allow-listed (checked before any connect).
        ConnectionFailed: the name does not resolve.
        OutboundTimeout: resolution outlived the call's deadline.
    """
    policy = call.policy if call is not None else OutboundPolicy()
    name = normalise_host(host)
    refused = AddressRefused(f"{host} is an internal address; this service does not call it")
    local_name = name == "localhost" or name.endswith(".localhost")
    if policy.check_addresses and local_name and not policy.host_allowed(name):
        raise refused
    rows = _getaddrinfo(name, port, call)
    if not rows:
        raise ConnectionFailed(f"could not connect to {host}")
    if policy.check_addresses and not policy.host_allowed(name):
        for row in rows:
            address = ipaddress.ip_address(str(row[4][0]).split("%", 1)[0])
            if not policy.address_allowed(address):
                raise refused
    return rows


def _getaddrinfo(name: str, port: int, call: _Call | None) -> list[tuple[Any, ...]]:
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["rows"] = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            box["error"] = exc

    try:
        literal = ipaddress.ip_address(name)
    except ValueError:
        literal = None
    if call is None or literal is not None:  # an address literal needs no resolver thread
        work()
    else:
        # The resolver cannot be interrupted: wait for it no longer than the deadline allows.
        worker = threading.Thread(target=work, name="outbound-resolve", daemon=True)
        worker.start()
        worker.join(max(call.remaining(), 0.0))
        if worker.is_alive():
            raise OutboundTimeout(f"{name} did not resolve in time")
    if "error" in box:
        raise ConnectionFailed(f"could not connect to {name}") from None
    return list(box.get("rows", []))


class _GuardedConnectionMixin:
    """Connect to the address that was checked, and put every socket under the call's deadline."""

    host: str
    port: int
    timeout: Any
    socket_options: Any
    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        call = _active_call()
        rows = resolve_checked(self.host, self.port, call)
        last: OSError | None = None
        for family, socktype, proto, _canon, address in rows:
            sock = socket.socket(family, socktype, proto)
            if call is not None:
                call.attach(sock)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                timeout = self.timeout if isinstance(self.timeout, int | float) else None
                if call is not None:
                    remaining = call.remaining()
                    if remaining <= 0:
                        raise TimeoutError("deadline")
                    timeout = min(timeout, remaining) if timeout is not None else remaining
                sock.settimeout(timeout)
                sock.connect(address)
                return sock
            except OSError as exc:
                last = exc
                sock.close()
        if isinstance(last, TimeoutError):
            raise OutboundTimeout(f"could not connect to {self.host} in time")
        raise ConnectionFailed(f"could not connect to {self.host}")

    def request(self, *args: Any, **kwargs: Any) -> Any:
        call = _active_call()
        if call is not None:
            call.attach(self.sock)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


# -- the client -----------------------------------------------------------------------------


class OutboundClient(requests.Session):
    """A ``requests.Session`` whose every request is bounded and (in production) address-checked.

    ``request()`` always reads the whole body (under the cap) before returning, so callers may
    use ``.json()``, ``.text``, ``.iter_content()`` as usual; ``stream=True`` is accepted and
    means nothing more. Proxies and the environment (netrc, proxy variables) are not consulted.
    Thread-safe for concurrent requests, like a ``requests.Session`` used this way.
    """

    def __init__(self, policy: OutboundPolicy | None = None) -> None:
        super().__init__()
        self.policy = policy or OutboundPolicy()
        self.trust_env = False
        if self.policy.ca_bundle:
            self.verify = self.policy.ca_bundle
        self.headers["User-Agent"] = USER_AGENT
        adapter = _GuardedAdapter(
            pool_connections=self.policy.pool_connections, pool_maxsize=self.policy.pool_maxsize
        )
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """``requests``' merge for ``trust_env = False`` (no environment to read), done directly:
        the generic ``merge_setting`` calls were a noticeable share of every score's CPU."""
        if self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged_proxies = dict(self.proxies)
        for key, value in (proxies or {}).items():
            merged_proxies[key] = value
        return {
            "proxies": {k: v for k, v in merged_proxies.items() if v is not None},
            "stream": self.stream if stream is None else stream,
            "verify": self.verify if verify is None else verify,
            "cert": self.cert if cert is None else cert,
        }

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, deadline: float | None = None, **kwargs: Any
    ) -> requests.Response:
        """Like ``requests.Session.request``, with the policy's deadline and size cap.

        Args:
            method: HTTP method.
            url: absolute http(s) URL.
            deadline: seconds for this call, overriding the policy's (never longer than it).
            *args, **kwargs: as for ``requests``; ``timeout`` (a number or ``(connect, read)``)
                is kept but never longer than the time left.

        Raises:
            OutboundTimeout, ResponseTooLarge, AddressRefused, ConnectionFailed.
        """
        policy = self.policy
        total = policy.deadline_seconds if deadline is None else min(deadline, policy.deadline_seconds)
        call = _Call(policy, time.monotonic() + total)
        kwargs.pop("stream", None)
        kwargs.pop("proxies", None)
        connect, read = _split_timeout(kwargs.pop("timeout", None), policy)
        kwargs["timeout"] = (max(min(connect, total), 0.001), max(min(read, total), 0.001))
        host = _HostName(url)  # parsed only when an error message needs it
        previous = _active_call()
        _current.call = call
        handle = _WATCHDOG.arm(call)
        try:
            response = super().request(method, url, *args, stream=True, **kwargs)
            try:
                _read_body(response, policy.max_response_bytes, call)
            finally:
                response.close()
            if call.expired:
                raise OutboundTimeout(f"{host} did not answer within {total:g} s")
            return response
        except OutboundError as exc:
            if call.expired and not isinstance(exc, OutboundTimeout | AddressRefused):
                raise OutboundTimeout(f"{host} did not answer within {total:g} s") from None
            raise
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            raise OutboundTimeout(f"{host} did not answer within {total:g} s") from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            if call.expired:
                raise OutboundTimeout(f"{host} did not answer within {total:g} s") from None
            cause = _outbound_cause(exc)
            if cause is not None:
                raise cause from None
            if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
                raise ConnectionFailed(f"{host}: not a usable URL") from None
            raise ConnectionFailed(f"could not connect to {host}") from None
        finally:
            _WATCHDOG.cancel(handle)
            _current.call = previous


    # -- the lean POST path (issue 16: grade delivery CPU) -----------------------------------

    def post_bytes(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout: float | tuple[float | None, float | None] | None = None,
        deadline: float | None = None,
    ) -> RawAnswer:
        """POST ``body`` to ``url`` on the guarded keep-alive pools, without ``requests``' layers.

        The same guarantees as :meth:`request` (total deadline under the watchdog, response-size
        cap on the decompressed body, address check after name resolution with the socket
        connected to the checked address, TLS verified as ``requests`` would, the same typed
        errors) at a fraction of the CPU: the connection comes from the same urllib3 pool
        ``request`` uses (so keep-alive connections are shared), the request head is built from
        a per-URL prefix, and the answer is read as plain HTTP/1.1 (``Content-Length``, chunked
        or until close; 1xx skipped). Redirects are NOT followed: a 3xx comes back as is.

        Args:
            url: absolute http(s) URL.
            body: the request body, already serialised.
            headers: request headers besides the client's base ones (``User-Agent``, ``Accept``).
            timeout: as for :meth:`request` (a number or ``(connect, read)``), never longer than
                the time left.
            deadline: seconds for this call, overriding the policy's (never longer than it).

        Raises:
            OutboundTimeout, ResponseTooLarge, AddressRefused, ConnectionFailed.
        """
        policy = self.policy
        total = policy.deadline_seconds if deadline is None else min(deadline, policy.deadline_seconds)
        call = _Call(policy, time.monotonic() + total)
        host = _HostName(url)
        connect, read = _split_timeout(timeout, policy)
        previous = _active_call()
        _current.call = call
        handle = _WATCHDOG.arm(call)
        pool: Any = None
        conn: Any = None
        reusable = False
        try:
            pool, prefix = self._lean_target(url)
            head = [prefix]
            for name, value in headers.items():
                if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                    raise ConnectionFailed(f"{host}: a request header is not valid")
                head.append(f"{name}: {value}\r\n")
            head.append(f"Content-Length: {len(body)}\r\n\r\n")
            message = "".join(head).encode("latin-1") + body
            conn = pool._get_conn()
            if conn.sock is None:
                conn.timeout = max(min(connect, total), 0.001)
                conn.connect()  # guarded: resolved, checked, connected to the checked address
            sock = conn.sock
            call.attach(sock)
            remaining = call.remaining()
            if remaining <= 0:
                raise OutboundTimeout(f"{host} did not answer within {total:g} s")
            sock.settimeout(max(min(read, remaining), 0.001))
            sock.sendall(message)
            answer, reusable = _read_answer(sock, policy.max_response_bytes, call, host)
            if call.expired:
                reusable = False
                raise OutboundTimeout(f"{host} did not answer within {total:g} s")
            return answer
        except OutboundError as exc:
            if call.expired and not isinstance(exc, OutboundTimeout | AddressRefused):
                raise OutboundTimeout(f"{host} did not answer within {total:g} s") from None
            raise
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise OutboundTimeout(f"{host} did not answer within {total:g} s") from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
            if call.expired:
                raise OutboundTimeout(f"{host} did not answer within {total:g} s") from None
            cause = _outbound_cause(exc)
            if cause is not None:
                raise cause from None
            if isinstance(exc, ValueError) and not isinstance(exc, OSError):
                raise ConnectionFailed(f"{host}: not a usable URL") from None
            raise ConnectionFailed(f"could not connect to {host}") from None
        finally:
            _WATCHDOG.cancel(handle)
            _current.call = previous
            if conn is not None:
                if not reusable:
                    conn.close()
                pool._put_conn(conn)

    def _lean_target(self, url: str) -> tuple[HTTPConnectionPool, str]:
        """The guarded pool for ``url``'s origin (the one ``request`` uses) and the request head's
        first lines (request line, ``Host`` and the client's base headers), built once per URL."""
        targets: dict[str, tuple[tuple[str, str, int], str]] = self.__dict__.setdefault("_lean_targets", {})
        target = targets.get(url)
        if target is None:
            target = _lean_head(url, str(self.headers.get("User-Agent", USER_AGENT)))
            if len(targets) >= 4096:  # bounded: line items, not scores
                targets.clear()
            targets[url] = target
        origin, prefix = target
        pools: dict[tuple[str, str, int], HTTPConnectionPool] = self.__dict__.setdefault("_lean_pools", {})
        pool = pools.get(origin)
        if pool is None or pool.pool is None:  # first use, or closed by the pool manager's LRU
            pool = pools[origin] = self._guarded_pool(url)
        return pool, prefix

    def _guarded_pool(self, url: str) -> HTTPConnectionPool:
        """The pool ``requests`` would pick for ``url`` (same TLS verification settings)."""
        adapter = self.get_adapter(url)
        if not isinstance(adapter, HTTPAdapter):
            raise ValueError("no HTTP adapter for this URL")
        probe = requests.PreparedRequest()
        probe.url = url
        pool = adapter.get_connection_with_tls_context(probe, self.verify, None, self.cert)
        adapter.cert_verify(pool, url, self.verify, self.cert)
        return pool


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
    """Buffered reads from one socket."""

    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
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


def _read_answer(sock: socket.socket, limit: int, call: _Call, host: _HostName) -> tuple[RawAnswer, bool]:
    """Read one HTTP/1.x answer (1xx skipped); returns it and whether the connection may be reused."""
    reader = _Reader(sock)
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


def _split_timeout(value: Any, policy: OutboundPolicy) -> tuple[float, float]:
    if isinstance(value, tuple) and len(value) == 2:
        connect = policy.connect_timeout_seconds if value[0] is None else float(value[0])
        read = policy.read_timeout_seconds if value[1] is None else float(value[1])
        return connect, read
    if isinstance(value, int | float):
        return min(float(value), policy.connect_timeout_seconds), float(value)
    return policy.connect_timeout_seconds, policy.read_timeout_seconds


def _outbound_cause(exc: BaseException) -> OutboundError | None:
    """Our own error wrapped by urllib3/requests (e.g. AddressRefused inside a ProtocolError)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OutboundError) and current is not exc:
            return current
        todo.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        for linked in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                todo.append(linked)
    return None


def _read_body(response: requests.Response, limit: int, call: _Call) -> None:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise ResponseTooLarge(f"the answer of {urlsplit(response.url).hostname} is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.raw.stream(16384, decode_content=True):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"the answer of {urlsplit(response.url).hostname} is larger than {limit} bytes")
        if call.expired:
            break
        chunks.append(chunk)
    response._content = b"".join(chunks)  # requests' own cache of the body
    response._content_consumed = True


# -- service URLs from launches -------------------------------------------------------------


def host_port(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an http(s) URL, the port defaulted by scheme; ``None`` if not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return normalise_host(parts.hostname), port or DEFAULT_PORTS[parts.scheme]


def check_service_url(url: str, *, registered_urls: Iterable[str | None], extra_hosts: Sequence[str] = ()) -> None:
    """A service URL taken from a launch must be on one of the platform's registered hosts.

    Args:
        url: the NRPS memberships or AGS line item(s) URL the launch named.
        registered_urls: the platform's issuer, login, token, audience and key set URLs.
        extra_hosts: allow-listed ``host`` or ``host:port`` entries (``outbound.service_hosts``).

    Raises:
        ServiceUrlRefused: not an http(s) URL, or on another host (the token is not sent).
    """
    target = host_port(url)
    if target is None:
        raise ServiceUrlRefused("the LMS gave a service URL that is not an http(s) URL")
    allowed = {hp for hp in (host_port(u) for u in registered_urls if u) if hp is not None}
    for entry in extra_hosts:
        plain = normalise_host(entry)
        name, _, port = plain.partition(":") if plain.count(":") == 1 else (plain, "", "")
        if name == target[0] and (not port or (port.isdigit() and int(port) == target[1])):
            return
    if target not in allowed:
        raise ServiceUrlRefused(
            f"the LMS named a service URL on {target[0]}:{target[1]}, which is not one of its registered hosts; "
            "the request was not sent (allow the host with outbound.service_hosts if this is intended)"
        )


def policy_from_settings(settings: Any) -> OutboundPolicy:
    """The policy for a service instance (``[outbound]`` settings; no address check in demo mode)."""
    out = settings.outbound
    return OutboundPolicy(
        deadline_seconds=out.deadline_seconds,
        connect_timeout_seconds=out.connect_timeout_seconds,
        read_timeout_seconds=max(settings.lti.http_timeout_seconds, settings.sync.http_timeout_seconds),
        max_response_bytes=out.max_response_bytes,
        check_addresses=not settings.server.demo,
        allow_private=tuple(out.allow_private),
        service_hosts=tuple(out.service_hosts),
        pool_connections=out.pool_connections,
        pool_maxsize=max(out.pool_maxsize, settings.sync.concurrency_per_platform),
        ca_bundle=out.ca_bundle,
    )


def build_client(settings: Any) -> OutboundClient:
    """The service's outbound client (built once, in ``build_services``)."""
    return OutboundClient(policy_from_settings(settings))


ClientFactory = Callable[[], OutboundClient]

__all__ = [
    "AddressRefused",
    "ConnectionFailed",
    "OutboundClient",
    "OutboundError",
    "OutboundPolicy",
    "OutboundTimeout",
    "RawAnswer",
    "ResponseTooLarge",
    "ServiceUrlRefused",
    "build_client",
    "check_service_url",
    "is_internal",
    "legacy_ipv4",
    "policy_from_settings",
    "resolve_checked",
]
