"""Helpers of the sequencing browser tests: DSL courses imported into the running stack, and the
scripted SCOs of ``manifest_dsl`` driven inside the real player."""

from __future__ import annotations

import time
from typing import Any

from e2e_helpers import launch_learner, player_idle
from e2e_stack import Stack
from manifest_dsl import Course, build_package

from lti_tool.catalogue import import_package


def launch_course(stack: Stack, page: Any, course: Course, *, link: int | None = None) -> tuple[str, int]:
    """Import the DSL course (once per module), add a resource link, launch it as the learner.

    Returns:
        (attempt id, link id); pass ``link`` to relaunch the same link.
    """
    if link is None:
        key = f"dsl:{course.id}"
        if key not in stack.imported:
            zip_path = build_package(course, stack.tmp / "dsl" / f"{course.id}.zip")
            stack.imported[key] = import_package(stack.services, zip_path, imported_by="e2e")
        link = stack.add_link(stack.imported[key].course_key, f"DSL {course.id} {time.monotonic_ns()}")
    attempt = launch_learner(page, stack, link)
    player_idle(page)
    return attempt, link


def sco_frame(page: Any, sco_id: str, timeout: float = 10.0) -> Any:
    """The frame of the scripted SCO ``sco_id`` once its script ran (Initialize done)."""
    deadline = time.monotonic() + timeout
    needle = f"/{sco_id}.html"
    while True:
        frame = next((f for f in page.frames if f.url.split("?")[0].endswith(needle)), None)
        if frame is not None:
            try:
                if frame.evaluate("window.scoReady === true"):
                    return frame
            except Exception:  # the frame navigated away meanwhile
                pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for SCO {sco_id}; frames {[f.url for f in page.frames]}")
        page.wait_for_timeout(50)


def run(page: Any, sco_id: str, steps: list[list[Any]]) -> list[str]:
    """Run API calls in the SCO's frame; returns their results ("true", values, ...)."""
    frame = sco_frame(page, sco_id)
    return list(frame.evaluate("(steps) => sco.run(steps)", steps))


def delivered(page: Any) -> str:
    """The item the player shows (waits until it is idle)."""
    player_idle(page)
    return str(page.evaluate("cbsiPlayer.currentId"))


def buttons(page: Any) -> dict[str, dict[str, bool]]:
    """Previous/Next as shown: visible and enabled."""
    return dict(
        page.evaluate(
            """() => Object.fromEntries([['previous', 'cbsi-prev'], ['continue', 'cbsi-next']].map(([k, id]) => {
              const b = document.getElementById(id);
              const shown = !!(b.offsetWidth || b.offsetHeight || b.getClientRects().length) && !b.hidden;
              return [k, {visible: shown, enabled: shown && !b.disabled}];
            }))"""
        )
    )


def menu(page: Any) -> list[tuple[int, str, bool]]:
    """The TOC as shown: (indent level, title, is a link), in order."""
    rows = page.evaluate(
        """() => Array.from(document.querySelectorAll('#cbsi-toc-list li')).filter(li => li.offsetParent !== null)
          .map(li => [Number(li.style.getPropertyValue('--depth')), li.firstElementChild.firstChild.textContent,
                      li.firstElementChild.tagName === 'A'])"""
    )
    return [(int(d), str(t), bool(a)) for d, t, a in rows]


def click(page: Any, which: str) -> str:
    """Click Previous/Continue and return the item delivered."""
    page.click({"previous": "#cbsi-prev", "continue": "#cbsi-next"}[which])
    return delivered(page)
