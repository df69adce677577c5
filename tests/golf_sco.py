"""The golf example SCO (the Rustici "golf" RuntimeBasicCalls and sequencing packages) driven in a
real browser: its own page navigation, its knowledge check, and the dialogs it opens.

One driver for the player tests (``tests/player``, a harness server) and the end-to-end tests
(``tests/e2e``, the full stack); both import it as ``golf_sco`` (the root conftest puts
``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

GOLF_PAGE_COUNT = 15
"""Pages of the single-SCO golf packages (pageArray in shared/launchpage.html); the last one is the quiz."""


class Dialogs:
    """Answers the SCO's confirm() prompts and records every dialog (an alert means an API error)."""

    def __init__(self, page: Any, *, confirm: bool = True) -> None:
        self.messages: list[tuple[str, str]] = []
        self.confirm = confirm
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Any) -> None:
        self.messages.append((dialog.type, dialog.message))
        if dialog.type == "confirm" and self.confirm:
            dialog.accept()
        else:
            dialog.dismiss()

    @property
    def alerts(self) -> list[str]:
        return [m for t, m in self.messages if t == "alert"]


def _poll(page: Any, predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll ``predicate`` until truthy, waiting with ``page.wait_for_timeout``: the sync API updates
    ``page.frames`` and runs dialog handlers only while it is inside a Playwright call, so a
    sleeping loop could see a stale frame list forever."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        page.wait_for_timeout(50)


def wait_for_frame(page: Any, needle: str, what: str, timeout: float = 10.0) -> Any:
    """The first frame whose URL contains ``needle``."""
    try:
        return _poll(page, lambda: next((f for f in page.frames if needle in f.url), None), what, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; frames {[f.url for f in page.frames]}") from None


def golf_frame(page: Any) -> Any:
    """The golf SCO's launch page frame (inside the player's content iframe)."""
    return wait_for_frame(page, "shared/launchpage.html", "the golf SCO launch page")


def golf_started(page: Any) -> Any:
    """The launch page frame, once the SCO has started (its ``currentPage`` is set)."""
    frame = golf_frame(page)
    _poll(page, lambda: frame.evaluate("typeof currentPage === 'number'"), "the golf SCO to start")
    return frame


def golf_current_page(page: Any) -> str:
    """The URL of the golf SCO's current inner page (its #contentFrame)."""
    return str(golf_frame(page).evaluate("document.getElementById('contentFrame').src"))


def golf_goto_page(page: Any, index: int) -> None:
    """Click the SCO's own Next button until page ``index`` (0-based, of the SCO's own pageArray) shows."""
    frame = golf_started(page)
    current = frame.evaluate("currentPage")
    while current < index:
        frame.click("#butNext")
        current += 1
        target = str(frame.evaluate("(c) => pageArray[c]", current)).split("?")[0]
        _poll(
            page,
            lambda c=current, t=target: (
                frame.evaluate("currentPage") == c and any(t in f.url for f in frame.child_frames)
            ),
            f"golf page {current} ({target})",
        )


def golf_pass_quiz(page: Any) -> None:
    """Answer the golf knowledge check correctly (the right answers carry class correctAnswer)."""
    quiz = wait_for_frame(page, "assessmenttemplate.html", "the quiz frame")
    quiz.wait_for_selector("#frmTest")
    quiz.evaluate(
        """() => {
        for (const div of document.querySelectorAll('.correctAnswer')) {
          const radio = div.querySelector('input[type=radio]');
          if (radio) { radio.checked = true; continue; }
          const text = div.querySelector('input[type=text]');
          const m = /\\((\\d+)\\)/.exec(div.textContent);
          if (text && m) text.value = m[1];
        }
      }"""
    )
    quiz.click("input[value='Submit Answers']")
    quiz.wait_for_selector("text=Score: 100")
