"""Small helpers shared by the player browser tests (no fixtures here: see conftest.py; the golf
SCO driver is ``tests/golf_sco.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition", page: Any = None) -> Any:
    """Poll ``predicate`` until truthy; fail with ``what`` after ``timeout`` seconds.

    Pass ``page`` when the page may need Playwright to act meanwhile (dialog or route handlers
    run only inside sync-API calls): the wait then goes through ``page.wait_for_timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)


def runtime_value(page: Any, element: str) -> str | None:
    """A value of the player's in-memory CMI state (None when unset)."""
    return page.evaluate(
        "(e) => { const v = cbsiRuntime.runtime.model.values.get(e); return v === undefined ? null : v; }", element
    )
