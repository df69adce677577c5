"""Small helpers shared by the player browser tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

GOLF_PAGES = [
    "Playing/Playing.html",
    "Playing/Par.html",
    "Playing/Scoring.html",
    "Playing/OtherScoring.html",
    "Playing/RulesOfGolf.html",
    "Etiquette/Course.html",
    "Etiquette/Distracting.html",
    "Etiquette/Play.html",
    "Handicapping/Overview.html",
    "Handicapping/CalculatingHandicap.html",
    "Handicapping/CalculatingScore.html",
    "Handicapping/Example.html",
    "HavingFun/HowToHaveFun.html",
    "HavingFun/MakeFriends.html",
    "shared/assessmenttemplate.html",
]
"""The golf SCO's page list (pageArray in shared/launchpage.html of both RuntimeBasicCalls packages)."""


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


class Dialogs:
    """Answers the SCO's confirm() prompts and records every dialog (alerts mean API errors)."""

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


def golf_launch_frame(page: Any) -> Any:
    """The golf SCO's launch page frame (inside the player's content iframe)."""
    return wait_until(
        lambda: next((f for f in page.frames if f.url.endswith("shared/launchpage.html")), None),
        what="the SCO launch page",
        page=page,
    )


def golf_current_page(page: Any) -> str:
    """The golf SCO's current inner page URL (its #contentFrame)."""
    launch = golf_launch_frame(page)
    return launch.evaluate("document.getElementById('contentFrame').src")


def golf_goto_page(page: Any, index: int) -> None:
    """Click the SCO's own Next button until page ``index`` shows."""
    launch = golf_launch_frame(page)
    wait_until(lambda: launch.evaluate("typeof currentPage === 'number'"), what="SCO started")
    current = launch.evaluate("currentPage")
    while current < index:
        launch.click("#butNext")
        current += 1
        wait_until(
            lambda c=current: (
                launch.evaluate("currentPage") == c
                and GOLF_PAGES[c].split("?")[0] in launch.evaluate("document.getElementById('contentFrame').src")
            ),
            what=f"golf page {current}",
        )


def golf_pass_assessment(page: Any) -> None:
    """Answer the golf knowledge check correctly (the right answers carry class correctAnswer)."""
    quiz = wait_until(
        lambda: next((f for f in page.frames if "assessmenttemplate.html" in f.url), None),
        what="the quiz frame",
        page=page,
    )
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


def runtime_value(page: Any, element: str) -> str | None:
    """A value of the player's in-memory CMI state (None when unset)."""
    return page.evaluate(
        "(e) => { const v = cbsiRuntime.runtime.model.values.get(e); return v === undefined ? null : v; }", element
    )
