"""Browser helpers of the end-to-end tests: launching from the development LMS, and clicking
through the real Rustici "golf" packages (their own page navigation and knowledge check)."""

from __future__ import annotations

import time
from typing import Any

from e2e_stack import Stack, wait_until

GOLF_PAGE_COUNT = 15
"""Pages of the golf SCOs (pageArray in shared/launchpage.html); the last one is the quiz."""


class Dialogs:
    """Accepts the SCO's confirm() prompts and records every dialog (an alert means an API error)."""

    def __init__(self, page: Any) -> None:
        self.messages: list[tuple[str, str]] = []
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Any) -> None:
        self.messages.append((dialog.type, dialog.message))
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    @property
    def alerts(self) -> list[str]:
        return [m for t, m in self.messages if t == "alert"]


def launch_learner(page: Any, stack: Stack, link_id: int) -> str:
    """Open the development LMS, click "Launch as learner" on the link, land in the player.

    The real OIDC login → LMS auth → form_post → /lti/launch → 303 /play/ flow runs in the browser.

    Returns:
        The attempt id the player runs.
    """
    page.goto(stack.platform + "/")
    page.locator(f'a[href="/dev/platform/launch?user=learner&link={link_id}"]').click()
    page.wait_for_url("**/play/**")
    page.wait_for_function("() => window.cbsiPlayer !== undefined")
    return str(page.evaluate("cbsiPlayer.config.attemptId"))


def wait_for_frame(page: Any, needle: str, what: str, timeout: float = 10.0) -> Any:
    """The first frame whose URL contains ``needle``.

    Polls with ``page.wait_for_timeout``, not ``time.sleep``: the sync API updates ``page.frames``
    only while it is inside a Playwright call, so a sleeping loop would see a stale list forever.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = next((f for f in page.frames if needle in f.url), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; frames {[f.url for f in page.frames]}"
            )
        page.wait_for_timeout(50)


def golf_frame(page: Any) -> Any:
    """The golf SCO's launch page frame (inside the player's content iframe)."""
    return wait_for_frame(page, "shared/launchpage.html", "the golf SCO launch page")


def golf_started(page: Any) -> Any:
    frame = golf_frame(page)
    wait_until(lambda: frame.evaluate("typeof currentPage === 'number'"), what="the golf SCO to start")
    return frame


def golf_content_src(page: Any) -> str:
    return str(golf_frame(page).evaluate("document.getElementById('contentFrame').src"))


def golf_goto_page(page: Any, index: int) -> None:
    """Click the SCO's own Next button until page ``index`` (0-based) shows."""
    frame = golf_started(page)
    current = frame.evaluate("currentPage")
    while current < index:
        frame.click("#butNext")
        current += 1
        target = str(frame.evaluate("(c) => pageArray[c]", current)).split("?")[0]
        wait_until(
            lambda c=current, t=target: (
                frame.evaluate("currentPage") == c and any(t in f.url for f in frame.child_frames)
            ),
            what=f"golf page {current} ({target})",
        )


def golf_pass_quiz(page: Any) -> None:
    """Answer the golf knowledge check correctly (right answers carry class correctAnswer)."""
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


def toc_rows(page: Any) -> list[dict[str, Any]]:
    """The player's TOC as shown: title, link or not, disabled, completed mark."""
    return list(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('#cbsi-toc-list li')).map(li => {
              const n = li.firstElementChild;
              return {
                title: n.firstChild ? n.firstChild.textContent : '',
                id: n.dataset ? (n.dataset.itemId || null) : null,
                link: n.tagName === 'A',
                disabled: n.classList.contains('is-disabled'),
                completed: !!n.querySelector('.cbsi-done'),
                current: n.getAttribute('aria-current') === 'page',
              };
            })"""
        )
    )


def player_current(page: Any) -> str:
    return str(page.evaluate("cbsiPlayer.currentId"))


def player_idle(page: Any) -> None:
    """Wait until the player is not navigating (buttons re-enabled or exit panel shown)."""
    page.wait_for_function("() => window.cbsiPlayer && !window.cbsiPlayer.busy")
