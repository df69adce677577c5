"""Issue 13 in the real player (Chromium, full stack): SCORM 2004 courses written with the manifest
DSL (tests/player/manifest_dsl.py), played by scripted SCOs through window.API_1484_11.

Each test asserts what the learner sees (delivered SCO, menu, buttons) and what the runtime
stored (sco_states, attempts.outcome)."""

from __future__ import annotations

import pytest
from e2e_stack import Stack, wait_until
from manifest_dsl import Cluster, Course, Sco, Seq
from seq_player import buttons, click, delivered, launch_course, menu, run

pytestmark = pytest.mark.browser

ENABLED = {"visible": True, "enabled": True}
DISABLED = {"visible": True, "enabled": False}
HIDDEN = {"visible": False, "enabled": False}
DONE = [["set", "cmi.completion_status", "completed"], ["terminate"]]


# -- item 1: stranded behind an invisible cluster --------------------------------------------


def test_items_under_an_invisible_cluster_navigate_and_are_listed(stack: Stack, context):
    course = Course(
        "issue13-invisible-cluster",
        [
            Cluster(
                "wrapper",
                [Sco("intro", "Introduction"), Cluster("part", [Sco("lesson", "Lesson")], "Part 1", Seq(flow=True))],
                "Wrapper",
                Seq(flow=True),
                visible=False,
            ),
            Sco("outro", "Summary"),
        ],
        seq=Seq(flow=True),
    )
    page = context.new_page()
    attempt, _ = launch_course(stack, page, course)
    assert delivered(page) == "intro"
    # The invisible wrapper is not listed; what it holds is, indented by the listed ancestors only.
    assert menu(page) == [(0, "Introduction", True), (0, "Part 1", False), (1, "Lesson", True), (0, "Summary", True)]
    assert buttons(page) == {"previous": DISABLED, "continue": ENABLED}

    assert click(page, "continue") == "lesson"
    assert buttons(page) == {"previous": ENABLED, "continue": ENABLED}
    assert click(page, "continue") == "outro"
    assert buttons(page) == {"previous": ENABLED, "continue": ENABLED}  # continue past the end ends the course
    assert click(page, "previous") == "lesson"
    page.click('#cbsi-toc-list a[data-item-id="intro"]')
    assert delivered(page) == "intro"
    assert stack.attempt(attempt).current_item == "intro"


def test_hide_lms_ui_hides_the_buttons_of_that_sco_only(stack: Stack, context):
    course = Course(
        "issue13-hide-lms-ui",
        [Sco("a"), Sco("b", hide=("previous", "continue")), Sco("c", hide=("previous",))],
        seq=Seq(flow=True),
    )
    page = context.new_page()
    launch_course(stack, page, course)
    assert delivered(page) == "a"
    assert buttons(page) == {"previous": DISABLED, "continue": ENABLED}
    assert click(page, "continue") == "b"
    assert buttons(page) == {"previous": HIDDEN, "continue": HIDDEN}
    # the SCO navigates itself, as a SCO that hides the LMS's buttons must
    run(page, "b", [["set", "adl.nav.request", "continue"], ["terminate"]])
    wait_until(lambda: page.evaluate("cbsiPlayer.currentId") == "c", what="c delivered by the SCO's request")
    assert delivered(page) == "c"
    assert buttons(page) == {"previous": HIDDEN, "continue": ENABLED}
