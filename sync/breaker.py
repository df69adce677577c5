"""Per-platform circuit breaker: one academy down must not slow the others.

Pure state + transition functions (``allow``, ``record_success``, ``record_failure``) and a small
thread-safe registry (``Breakers``) with an injected clock. Only TRANSIENT failures (timeouts,
connection errors, 5xx, 429) count; a 4xx is the platform answering fine about a bad request.

closed --N consecutive failures--> open --cool-down elapsed--> half_open (one probe allowed)
half_open --probe ok--> closed;  half_open --probe fails--> open (cool-down again)
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


class BreakerMode(enum.StrEnum):
    """Circuit state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, kw_only=True)
class BreakerConfig:
    """Thresholds as data.

    Attributes:
        failure_threshold: consecutive transient failures that open the circuit.
        cooldown_seconds: how long an open circuit refuses calls before one probe.
    """

    failure_threshold: int = 5
    cooldown_seconds: float = 30.0


@dataclass(frozen=True, kw_only=True)
class BreakerState:
    """Immutable breaker state for one platform."""

    mode: BreakerMode = BreakerMode.CLOSED
    consecutive_failures: int = 0
    open_until: datetime | None = None
    probe_in_flight: bool = False


def allow(state: BreakerState, now: datetime) -> tuple[bool, BreakerState]:
    """May a call go out now? Returns (allowed, new state).

    In ``open`` after the cool-down, the first caller becomes the half-open probe; others wait.
    """
    if state.mode is BreakerMode.CLOSED:
        return True, state
    if state.mode is BreakerMode.OPEN:
        if state.open_until is not None and now >= state.open_until:
            return True, replace(state, mode=BreakerMode.HALF_OPEN, probe_in_flight=True)
        return False, state
    if state.probe_in_flight:
        return False, state
    return True, replace(state, probe_in_flight=True)


def record_success(state: BreakerState) -> BreakerState:
    """A call succeeded (or got a non-transient answer): close the circuit."""
    return BreakerState()


def record_failure(state: BreakerState, now: datetime, config: BreakerConfig) -> BreakerState:
    """A transient failure: count it; open at the threshold or when the probe failed."""
    failures = state.consecutive_failures + 1
    if state.mode is BreakerMode.HALF_OPEN or failures >= config.failure_threshold:
        return BreakerState(
            mode=BreakerMode.OPEN,
            consecutive_failures=failures,
            open_until=now + timedelta(seconds=config.cooldown_seconds),
        )
    return replace(state, consecutive_failures=failures)


def trip(state: BreakerState, until: datetime) -> BreakerState:
    """Force the circuit open until ``until`` (never shortens an open period)."""
    if state.mode is BreakerMode.OPEN and state.open_until is not None:
        until = max(until, state.open_until)
    return BreakerState(
        mode=BreakerMode.OPEN, consecutive_failures=state.consecutive_failures, open_until=until
    )


def release_probe(state: BreakerState) -> BreakerState:
    """The probe slot was taken but no call was made: free it."""
    return replace(state, probe_in_flight=False)


def retry_not_before(state: BreakerState, now: datetime) -> datetime:
    """When an item refused by the breaker should be looked at again."""
    if state.mode is BreakerMode.OPEN and state.open_until is not None:
        return max(state.open_until, now)
    return now + timedelta(seconds=1)


class Breakers:
    """Thread-safe registry of breaker states keyed by platform."""

    def __init__(self, config: BreakerConfig, clock: Callable[[], datetime]) -> None:
        self._config = config
        self._clock = clock
        self._states: dict[str, BreakerState] = {}
        self._lock = threading.Lock()

    def allow(self, platform_key: str) -> bool:
        """Take permission for one call to ``platform_key``."""
        state = self._states.get(platform_key)  # one dict read: atomic
        if state is None or state.mode is BreakerMode.CLOSED:
            return True  # closed: allowed, nothing changes (no lock, no clock)
        with self._lock:
            ok, new = allow(self._states.get(platform_key, BreakerState()), self._clock())
            self._states[platform_key] = new
            return ok

    def success(self, platform_key: str) -> None:
        """Record a successful call."""
        state = self._states.get(platform_key)  # one dict read: atomic
        if state is None or (
            state.mode is BreakerMode.CLOSED and not state.consecutive_failures and not state.probe_in_flight
        ):
            return  # already what a success leaves behind
        with self._lock:
            self._states[platform_key] = record_success(
                self._states.get(platform_key, BreakerState())
            )

    def failure(self, platform_key: str) -> None:
        """Record a transient failure."""
        with self._lock:
            self._states[platform_key] = record_failure(
                self._states.get(platform_key, BreakerState()), self._clock(), self._config
            )

    def cancel(self, platform_key: str) -> None:
        """Permission was taken but the call was not made."""
        with self._lock:
            state = self._states.get(platform_key, BreakerState())
            if state.probe_in_flight:
                self._states[platform_key] = release_probe(state)

    def trip(self, platform_key: str, until: datetime) -> None:
        """Open the circuit until ``until`` (a platform-wide ``Retry-After``)."""
        with self._lock:
            state = self._states.get(platform_key, BreakerState())
            self._states[platform_key] = trip(state, until)

    def state(self, platform_key: str) -> BreakerState:
        """Current state (for status pages and tests)."""
        with self._lock:
            return self._states.get(platform_key, BreakerState())

    def not_before(self, platform_key: str) -> datetime:
        """When to look again at items refused for ``platform_key``."""
        with self._lock:
            return retry_not_before(self._states.get(platform_key, BreakerState()), self._clock())
