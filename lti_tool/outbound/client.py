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

import http.client
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

from lti_tool.outbound.guard import _WATCHDOG, _active_call, _Call, _current, _GuardedAdapter
from lti_tool.outbound.lean import (
    RawAnswer,
    StaleConnection,
    _HostName,
    _lean_head,
    _lean_message,
    _lean_send,
    _read_answer,
)
from lti_tool.outbound.policy import (
    USER_AGENT,
    AddressRefused,
    ConnectionFailed,
    OutboundError,
    OutboundPolicy,
    OutboundTimeout,
    ResponseTooLarge,
    policy_from_settings,
)

logger = logging.getLogger(__name__)


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
        adapter = _GuardedAdapter(pool_connections=self.policy.pool_connections, pool_maxsize=self.policy.pool_maxsize)
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
        except (
            OutboundError,
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
        ) as exc:
            raise _typed_error(exc, call, host, total) from None
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

        A new connection is opened under the watchdog; on a reused one every send and read is
        bounded by the time left before the deadline instead. A reused connection that the server
        closed while it was idle (no byte of an answer came back) is replaced and the request sent
        once more, on the new connection only (a score POST is idempotent: the LMS keeps the
        latest score by timestamp); a fresh connection's failure is never retried here.

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
        handle: int | None = None
        pool: Any = None
        conn: Any = None
        reusable = False
        try:
            pool, prefix = self._lean_target(url)
            message = _lean_message(prefix, headers, body, host)
            conn = _checkout(pool)
            for _ in range(2):
                reused = conn.sock is not None
                if not reused and handle is None:
                    # Connecting (name resolution, TCP, TLS) runs under the watchdog; on a reused
                    # connection every send and read is bounded by the time left instead.
                    handle = _WATCHDOG.arm(call)
                try:
                    bounded = _lean_send(conn, message, call, (connect, read), total, host)
                    answer, reusable = _read_answer(
                        bounded, policy.max_response_bytes, call, host, read_timeout=read, reused=reused
                    )
                except (StaleConnection, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                    if not reused or call.expired:
                        raise
                    # The server closed the idle connection (keep-alive timeout) and answered
                    # nothing: send again, once, on a new connection (a Score POST is idempotent).
                    conn.close()
                    continue
                break
            if call.expired:
                reusable = False
                raise OutboundTimeout(f"{host} did not answer within {total:g} s")
            return answer
        except (
            OutboundError,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
            ValueError,
            StaleConnection,
        ) as exc:
            raise _typed_error(exc, call, host, total) from None
        finally:
            if handle is not None:
                _WATCHDOG.cancel(handle)
            _current.call = previous
            if conn is not None:
                if not reusable:
                    conn.close()
                _checkin(pool, conn)

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


def _checkout(pool: HTTPConnectionPool) -> Any:
    """A connection of ``pool`` (the most recently returned one first) or a new unconnected one.

    Unlike urllib3's ``_get_conn`` this does not poll the socket for a close first (a syscall
    per score): a connection the server closed while idle is found when it fails before any byte
    of the answer, and the request is then sent again on a new one (``post_bytes``). The pool's
    ``LifoQueue`` is used through its list (``pop`` is atomic): no lock and condition per score
    that every delivery thread contends for (urllib3 never blocks on this queue either).
    """
    queue = pool.pool
    if queue is None:
        raise urllib3.exceptions.ClosedPoolError(pool, "Pool is closed.")
    try:
        conn = queue.queue.pop()  # type: ignore[attr-defined]
    except IndexError:
        conn = None
    return conn or pool._new_conn()


def _checkin(pool: HTTPConnectionPool, conn: Any) -> None:
    """Give ``conn`` back to ``pool`` (``_put_conn``'s rules: closed if the pool is closed or full)."""
    queue = pool.pool
    if queue is not None:
        kept = queue.queue  # type: ignore[attr-defined]
        if len(kept) < queue.maxsize:
            kept.append(conn)
            return
    conn.close()


def _split_timeout(value: Any, policy: OutboundPolicy) -> tuple[float, float]:
    if isinstance(value, tuple) and len(value) == 2:
        connect = policy.connect_timeout_seconds if value[0] is None else float(value[0])
        read = policy.read_timeout_seconds if value[1] is None else float(value[1])
        return connect, read
    if isinstance(value, int | float):
        return min(float(value), policy.connect_timeout_seconds), float(value)
    return policy.connect_timeout_seconds, policy.read_timeout_seconds


def _typed_error(exc: BaseException, call: _Call, host: _HostName, total: float) -> BaseException:
    """The typed error a failed call raises (both send paths): a timeout once the deadline passed,
    the guard's own error, or a connection failure that tells nothing of the target's ports."""
    expired = OutboundTimeout(f"{host} did not answer within {total:g} s")
    if isinstance(exc, OutboundError):
        return expired if call.expired and not isinstance(exc, OutboundTimeout | AddressRefused) else exc
    if call.expired or isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
        return expired
    cause = _outbound_cause(exc)
    if cause is not None:
        return cause
    if isinstance(exc, ValueError) and not isinstance(exc, OSError):  # requests' InvalidURL, MissingSchema too
        return ConnectionFailed(f"{host}: not a usable URL")
    return ConnectionFailed(f"could not connect to {host}")


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


def build_client(settings: Any) -> OutboundClient:
    """The service's outbound client (built once, in ``build_services``)."""
    return OutboundClient(policy_from_settings(settings))


ClientFactory = Callable[[], OutboundClient]
