"""The guarded connections: the deadline watchdog, checked name resolution, urllib3 pools that
connect to the checked address."""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from lti_tool.outbound.policy import (
    AddressRefused,
    ConnectionFailed,
    OutboundPolicy,
    OutboundTimeout,
    normalise_host,
)

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
