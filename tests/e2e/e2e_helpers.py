"""Browser helpers of the end-to-end tests: launching from the development LMS and reading the
player (the golf SCO driver is ``tests/golf_sco.py``)."""

from __future__ import annotations

from typing import Any

from e2e_stack import Stack


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
