"""The platform gate: a disabled platform's learners lose their runtime sessions and content.

Every page, runtime call and content file addressed to an attempt or a launch asks which
platform owns it and whether that platform is still active. The gate composes three owners'
lookups (``lti.platforms`` for the status, ``storage.learners`` for an attempt's platform,
``lti.launches`` for a launch's) and caches them; it builds no query itself.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from lti_tool.errors import AppError
from lti_tool.lti import launches, platforms
from lti_tool.storage import Database, learners
from lti_tool.storage.models import PlatformStatus


class PlatformAccessDisabled(AppError):
    """Your academy's access to these courses is switched off. Contact your academy (your LMS administrator)."""

    code = "platform_disabled"
    message_key = "platform_access_disabled"
    status = 403


_OWNERS_KEPT = 50_000


class PlatformGate:
    """Is a platform still allowed? Checked by every page, runtime call and content file of its learners.

    A platform's status is cached per process for ``ttl_seconds`` (the documented delay after
    ``platforms disable`` on other nodes; a change made in this process applies at once). Which
    platform owns an attempt or a launch never changes, so that is cached without expiry (LRU).

    Args:
        db: storage.
        ttl_seconds: how long a status read stays valid (0: read on every call).
        monotonic: clock for the cache.
    """

    def __init__(self, db: Database, *, ttl_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self.monotonic = monotonic
        self._status: dict[int, tuple[float, str | None]] = {}
        self._owners: OrderedDict[str, int | None] = OrderedDict()
        self._generation = platforms.generation()
        self._lock = threading.Lock()

    def status(self, platform_id: int) -> str | None:
        """The platform's status (None when it no longer exists), at most ``ttl`` seconds old."""
        now = self.monotonic()
        with self._lock:
            if self._generation != platforms.generation():
                self._status.clear()
                self._generation = platforms.generation()
            cached = self._status.get(platform_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = platforms.platform_status(self.db, platform_id)
        with self._lock:
            self._status[platform_id] = (now + self.ttl, found)
        return found

    def check(self, platform_id: int | None) -> None:
        """Raise unless the platform is active.

        Raises:
            PlatformAccessDisabled: disabled, pending or removed.
        """
        if platform_id is None:
            return
        if self.status(platform_id) != PlatformStatus.ACTIVE.value:
            raise PlatformAccessDisabled()

    def _owner(self, kind: str, key: str) -> int | None:
        cache_key = f"{kind}:{key}"
        with self._lock:
            if cache_key in self._owners:
                self._owners.move_to_end(cache_key)
                return self._owners[cache_key]
        lookup = learners.attempt_platform_id if kind == "a" else launches.launch_platform_id
        owner = lookup(self.db, key[:64])
        if owner is not None:  # an unknown id is not cached: the view answers it (404/401)
            with self._lock:
                self._owners[cache_key] = int(owner)
                while len(self._owners) > _OWNERS_KEPT:
                    self._owners.popitem(last=False)
        return None if owner is None else int(owner)

    def attempt_platform(self, attempt_id: str) -> int | None:
        """The platform of an attempt (None: no such attempt)."""
        return self._owner("a", attempt_id)

    def launch_platform(self, launch_id: str) -> int | None:
        """The platform of a stored launch (None: no such launch)."""
        return self._owner("l", launch_id)

    def check_attempt(self, attempt_id: str) -> None:
        """Raise :class:`PlatformAccessDisabled` when the attempt's platform is not active."""
        self.check(self.attempt_platform(attempt_id))

    def check_launch(self, launch_id: str) -> None:
        """Raise :class:`PlatformAccessDisabled` when the launch's platform is not active."""
        self.check(self.launch_platform(launch_id))

    def check_subject(self, subject: str) -> None:
        """A content token's subject is an attempt id or a launch id: check whichever it is."""
        owner = self.attempt_platform(subject)
        if owner is None:
            owner = self.launch_platform(subject)
        self.check(owner)
