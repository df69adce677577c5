"""Issue 13 in the real player (Chromium, full stack): SCORM 2004 courses written with the manifest
DSL (tests/manifest_dsl.py), played by scripted SCOs through window.API_1484_11.

Each test asserts what the learner sees (delivered SCO, menu, buttons) and what the runtime
stored (sco_states, attempts.outcome)."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_seq_player import buttons, click, delivered, launch_course, menu, run, sco_frame
from e2e_stack import Stack, wait_until
from manifest_dsl import AdlMap, Cluster, Cond, Course, Map, Objective, Rule, Sco, Seq

pytestmark = pytest.mark.browser

ENABLED = {"visible": True, "enabled": True}
DISABLED = {"visible": True, "enabled": False}
HIDDEN = {"visible": False, "enabled": False}
DONE = [["set", "cmi.completion_status", "completed"], ["terminate"]]
BOOKMARK = (["set", "cmi.location", "page-1"], ["commit"])


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


# -- item 2: Continue at the end of content ---------------------------------------------------


def post_test_course(course_id: str) -> Course:
    """Content (two SCOs) then a post test that is disabled until the content's last SCO has
    satisfied its objective "content_done" (shared through the global objective g_done)."""
    done = Objective("content_done", maps=(Map("g_done", write_satisfied=True),))
    gate = Objective("gate", maps=(Map("g_done", read_satisfied=True),))
    locked = Rule(
        "pre",
        "disabled",
        (Cond("satisfied", "gate", negate=True), Cond("objectiveStatusKnown", "gate", negate=True)),
        "any",
    )
    return Course(
        course_id,
        [
            Cluster(
                "content",
                [Sco("c1", "Lesson 1"), Sco("c2", "Lesson 2", Seq(objectives=(done,)), on_load=BOOKMARK)],
                "Content",
                Seq(flow=True),
            ),
            Sco("post", "Post test", Seq(rules=(locked,), objectives=(gate,))),
        ],
        seq=Seq(flow=True),
    )


def refusal_notice(page: Any) -> str:
    """The message the player shows next to the buttons when Continue cannot go on ("" = none)."""
    return str(
        page.evaluate(
            "(() => { const n = document.getElementById('cbsi-nav-notice');"
            " return n && !n.hidden ? n.textContent : ''; })()"
        )
    )


def test_continue_is_enabled_once_the_content_satisfies_what_the_post_test_needs(stack: Stack, context):
    page = context.new_page()
    attempt, _ = launch_course(stack, page, post_test_course("issue13-post-test-gate"))
    assert delivered(page) == "c1"
    run(page, "c1", DONE)
    assert click(page, "continue") == "c2"
    # The post test is locked: the flow cannot deliver it yet. Continue is still valid by the SN
    # book's NB.2.1 (ADL CTS CM-07d), so it is enabled; clicking it says why it cannot go on and
    # keeps the lesson on screen (no learner stranded by a request that must fail).
    assert buttons(page)["continue"] == ENABLED
    assert click(page, "continue") == "c2"
    # the player sends the lesson's latest data first (its answer may unlock the flow), and says
    # why only when that answer still refuses: not "busy" meanwhile, so the notice is waited for
    wait_until(lambda: refusal_notice(page) != "", timeout=5, what="the refusal notice after the lesson's flush")
    assert refusal_notice(page) == "The next section is locked until you complete the previous one."
    wait_until(lambda: stack.cmi(attempt, "c2", "cmi.location") == "page-1", what="the lesson's first commit")
    # The last lesson satisfies its objective (written alone, no status change) and commits.
    results = run(
        page,
        "c2",
        [
            ["set", "cmi.objectives.0.id", "content_done"],
            ["set", "cmi.objectives.0.success_status", "passed"],
            ["commit"],
        ],
    )
    assert results == ["true", "true", "true"]
    wait_until(
        lambda: page.evaluate("!(cbsiPlayer.navState || {}).continue_refused"),
        timeout=5,
        what="Continue no longer refused once the objective reached sequencing",
    )
    assert buttons(page) == {"previous": ENABLED, "continue": ENABLED}
    assert refusal_notice(page) == ""
    assert click(page, "continue") == "post"
    assert stack.attempt(attempt).current_item == "post"


# -- item 7: resume after every exit/suspend path ---------------------------------------------

MARK_2004 = [["set", "cmi.location", "p7"], ["set", "cmi.suspend_data", "sd-7"]]
MARK_12 = [["set", "cmi.core.lesson_location", "p7"], ["set", "cmi.suspend_data", "sd-7"]]
EXIT_PATHS_2004 = {
    # the SCO suspends itself, then the learner leaves with the player's Exit
    "exit-suspend-then-exit-button": ([*MARK_2004, ["set", "cmi.exit", "suspend"], ["terminate"]], "exit"),
    # the SCO asks for suspendAll (no cmi.exit)
    "nav-suspendAll": ([*MARK_2004, ["set", "adl.nav.request", "suspendAll"], ["terminate"]], None),
    # the SCO suspends itself and asks for suspendAll
    "exit-suspend-and-suspendAll": (
        [*MARK_2004, ["set", "cmi.exit", "suspend"], ["set", "adl.nav.request", "suspendAll"], ["terminate"]],
        None,
    ),
    # the SCO exits "normal" but asks for suspendAll: suspendAll wins (ADL CTS DMB, Act1V10/V11)
    "exit-normal-and-suspendAll": (
        [*MARK_2004, ["set", "cmi.exit", "normal"], ["set", "adl.nav.request", "suspendAll"], ["terminate"]],
        None,
    ),
    # the player's Exit: the SCO's unload handler suspends and terminates
    "exit-button-unload-handler": ([*MARK_2004, ["commit"]], "exit"),
    # the player's Exit (a suspendAll): the SCO's unload handler writes cmi.exit="" and terminates
    "exit-button-unload-exit-empty": ([*MARK_2004, ["commit"]], "exit"),
    # the player's Exit: the SCO never calls Terminate
    "exit-button-no-terminate": ([*MARK_2004, ["commit"]], "exit-bare"),
    # the tab is closed without Terminate
    "close-window": (MARK_2004, "close"),
}


def two_scos(course_id: str, version: str = "2004", unload: tuple = ()) -> Course:
    flow = Seq(flow=True) if version == "2004" else None
    return Course(course_id, [Sco("a", "Lesson A"), Sco("b", "Lesson B", on_unload=unload)], seq=flow, version=version)


def leave(page, how: str | None) -> None:
    if how in ("exit", "exit-bare"):
        page.click("#cbsi-exit")
        page.wait_for_selector("#cbsi-panel:not([hidden]), body:not(.cbsi-player)", state="attached")
    elif how == "close":
        page.close(run_before_unload=True)
        return
    else:
        page.wait_for_selector("#cbsi-panel:not([hidden])")
    page.wait_for_function("() => !window.cbsiPlayer || !cbsiPlayer.busy")


@pytest.mark.parametrize("path", sorted(EXIT_PATHS_2004))
def test_scorm2004_relaunch_resumes_after(stack: Stack, browser, path: str):
    steps, how = EXIT_PATHS_2004[path]
    unload = {
        "exit-button-unload-handler": (["set", "cmi.exit", "suspend"], ["terminate"]),
        "exit-button-unload-exit-empty": (["set", "cmi.exit", ""], ["terminate"]),
    }.get(path, ())
    course = two_scos(f"issue13-resume-{path}", unload=unload)
    first = browser.new_context(base_url=stack.base)
    try:
        page = first.new_page()
        attempt, link = launch_course(stack, page, course)
        run(page, "a", DONE)
        assert click(page, "continue") == "b"
        assert run(page, "b", steps) == ["true"] * len(steps)
        leave(page, how)
        wait_until(lambda: stack.cmi(attempt, "b", "cmi.suspend_data") == "sd-7", what="b's data stored")
    finally:
        first.close()
    second = browser.new_context(base_url=stack.base)
    try:
        page = second.new_page()
        again, _ = launch_course(stack, page, course, link=link)
        assert again == attempt
        assert delivered(page) == "b"
        frame = sco_frame(page, "b")
        launched = frame.evaluate("launched")
        assert launched == {"cmi.entry": "resume", "cmi.location": "p7", "cmi.suspend_data": "sd-7"}, (
            launched,
            stack.sco_state(attempt, "b").state,
        )
    finally:
        second.close()


def relaunch(stack: Stack, browser, course: Course, link: int) -> tuple[object, object]:
    """A fresh browser profile launches the link again: (context, page)."""
    ctx = browser.new_context(base_url=stack.base)
    page = ctx.new_page()
    launch_course(stack, page, course, link=link)
    return ctx, page


EXIT_PATHS_12 = {
    # the SCO suspends itself in its unload handler; the learner leaves with the player's Exit
    "exit-button-suspend": ((["set", "cmi.core.exit", "suspend"], ["terminate"]), "exit", "resume"),
    # the SCO finishes without cmi.core.exit in its unload handler: 1.2 keeps the data, entry ""
    "exit-button-finish": ((["terminate"],), "exit", ""),
    # the player's Exit, the SCO never calls LMSFinish
    "exit-button-no-finish": ((), "exit-bare", ""),
    # the tab is closed without LMSFinish
    "close-window": ((), "close", ""),
}


@pytest.mark.parametrize("path", sorted(EXIT_PATHS_12))
def test_scorm12_relaunch_resumes_after(stack: Stack, browser, path: str):
    unload, how, entry = EXIT_PATHS_12[path]
    course = two_scos(f"issue13-resume12-{path}", version="1.2", unload=unload)
    first = browser.new_context(base_url=stack.base)
    try:
        page = first.new_page()
        attempt, link = launch_course(stack, page, course)
        assert run(page, "a", [["set", "cmi.core.lesson_status", "completed"], ["commit"]]) == ["true", "true"]
        assert click(page, "continue") == "b"
        steps = [["set", "cmi.core.lesson_status", "incomplete"], *MARK_12, ["commit"]]
        assert run(page, "b", steps) == ["true"] * len(steps)
        leave(page, how)
        wait_until(lambda: stack.cmi(attempt, "b", "cmi.suspend_data") == "sd-7", what="b's data stored")
    finally:
        first.close()
    ctx, page = relaunch(stack, browser, course, link)
    try:
        assert delivered(page) == "b"
        launched = sco_frame(page, "b").evaluate("launched")
        assert launched == {"cmi.core.entry": entry, "cmi.core.lesson_location": "p7", "cmi.suspend_data": "sd-7"}
        assert stack.attempts_for_link(link)[-1].id == attempt
    finally:
        ctx.close()


def test_scorm2004_exit_all_ends_the_attempts_of_the_scos(stack: Stack, browser):
    """exitAll is not a suspension: the relaunch starts the course over and a SCO that exited
    "normal" starts a new attempt of its own (ab-initio, no old data)."""
    course = two_scos("issue13-exit-all")
    first = browser.new_context(base_url=stack.base)
    try:
        page = first.new_page()
        attempt, link = launch_course(stack, page, course)
        run(page, "a", DONE)
        assert click(page, "continue") == "b"
        steps = [*MARK_2004, ["set", "cmi.exit", "normal"], ["set", "adl.nav.request", "exitAll"], ["terminate"]]
        assert run(page, "b", steps) == ["true"] * len(steps)
        page.wait_for_selector("#cbsi-panel:not([hidden])")
        wait_until(lambda: stack.cmi(attempt, "b", "cmi.suspend_data") == "sd-7", what="b's data stored")
        row = stack.sco_state(attempt, "b")
        assert row is not None and row.state["values"].get("cmi.exit") == "normal"  # not turned into a suspension
    finally:
        first.close()
    ctx, page = relaunch(stack, browser, course, link)
    try:
        assert delivered(page) == "a"
        assert click(page, "continue") == "b"
        launched = sco_frame(page, "b").evaluate("launched")
        assert launched == {"cmi.entry": "ab-initio", "cmi.location": "", "cmi.suspend_data": ""}
    finally:
        ctx.close()


@pytest.mark.parametrize("version", ["2004", "1.2"])
def test_a_completed_course_left_suspended_resumes_instead_of_starting_over(stack: Stack, browser, version: str):
    """A single-SCO course whose SCO completes early (all pages seen) but is left suspended: the
    relaunch gives the bookmark back (it used to open a new attempt: ab-initio, no data)."""
    v12 = version == "1.2"
    course = Course(f"issue13-completed-suspended-{version}", [Sco("only", "The lesson")], version=version)
    steps = [
        ["set", "cmi.core.lesson_status" if v12 else "cmi.completion_status", "completed"],
        *(MARK_12 if v12 else MARK_2004),
        ["set", "cmi.core.exit" if v12 else "cmi.exit", "suspend"],
        ["terminate"],
    ]
    first = browser.new_context(base_url=stack.base)
    try:
        page = first.new_page()
        attempt, link = launch_course(stack, page, course)
        assert run(page, "only", steps) == ["true"] * len(steps)
        page.wait_for_selector("#cbsi-panel:not([hidden])")
        wait_until(lambda: stack.attempt(attempt).outcome.get("completion") == "completed", what="course completed")
    finally:
        first.close()
    ctx, page = relaunch(stack, browser, course, link)
    try:
        assert [a.id for a in stack.attempts_for_link(link)] == [attempt]
        launched = sco_frame(page, "only").evaluate("launched")
        if v12:
            assert launched == {
                "cmi.core.entry": "resume",
                "cmi.core.lesson_location": "p7",
                "cmi.suspend_data": "sd-7",
            }
        else:
            assert launched == {"cmi.entry": "resume", "cmi.location": "p7", "cmi.suspend_data": "sd-7"}
    finally:
        ctx.close()


# -- items 3 to 6: what the learner gets at the end of real sequencing courses -----------------

LOCKED_UNTIL_COMPLETED = Rule(
    "pre", "disabled", (Cond("completed", negate=True), Cond("activityProgressKnown", negate=True)), "any"
)


def outcome_of(stack: Stack, attempt: str, **expected: object) -> dict:
    """Wait until the attempt's outcome has ``expected`` (the grade the LMS is sent)."""
    return wait_until(
        lambda: (lambda o: o if all(o.get(k) == v for k, v in expected.items()) else None)(
            stack.attempt(attempt).outcome
        ),
        what=f"attempt outcome {expected}; have {stack.attempt(attempt).outcome}",
    )


def test_shared_completion_objective_enables_the_exam(stack: Stack, context):
    """Item 3: the lesson writes its completion to a shared (4th edition) objective; the exam's
    precondition reads it (adlseq:mapInfo readCompletionStatus)."""
    lesson = Objective("lesson_obj", primary=True, adl_maps=(AdlMap("g_lesson", write_completion=True),))
    gate = Objective("exam_gate", primary=True, adl_maps=(AdlMap("g_lesson", read_completion=True),))
    course = Course(
        "issue13-shared-completion",
        [
            Sco("lesson", "Lesson", Seq(objectives=(lesson,), completion_by_content=True)),
            Sco("exam", "Exam", Seq(rules=(LOCKED_UNTIL_COMPLETED,), objectives=(gate,))),
        ],
        seq=Seq(flow=True, choice=True),
    )
    page = context.new_page()
    attempt, _ = launch_course(stack, page, course)
    assert delivered(page) == "lesson"
    # NB.2.1 validates Continue (ADL CTS CM-07d); the exam's precondition refuses the flow.
    assert buttons(page)["continue"] == ENABLED
    assert page.evaluate("cbsiPlayer.navState.continue_refused")
    assert [(title, link) for _, title, link in menu(page)] == [("Lesson", True), ("Exam", False)]
    run(page, "lesson", [["set", "cmi.completion_status", "completed"], ["commit"]])
    wait_until(lambda: page.evaluate("!(cbsiPlayer.navState || {}).continue_refused"), what="Continue not refused")
    assert [(title, link) for _, title, link in menu(page)] == [("Lesson", True), ("Exam", True)]
    run(page, "lesson", [["terminate"]])
    assert click(page, "continue") == "exam"
    run(page, "exam", [["set", "cmi.success_status", "passed"], *DONE])
    page.click("#cbsi-next")
    page.wait_for_selector("#cbsi-panel:not([hidden])")
    outcome_of(stack, attempt, completion="completed", success="passed")


def test_the_sco_reads_request_valid_from_the_sequencer(stack: Stack, context):
    """adl.nav.request_valid.* in the browser answer what the sequencer says (RTE 4th §4.4.3),
    refreshed by the commit that unlocks the exam; before, the browser answered "unknown"."""
    lesson = Objective("lesson_obj", primary=True, adl_maps=(AdlMap("g_rv", write_completion=True),))
    gate = Objective("exam_gate", primary=True, adl_maps=(AdlMap("g_rv", read_completion=True),))
    course = Course(
        "issue13-request-valid",
        [
            Sco("lesson", "Lesson", Seq(objectives=(lesson,), completion_by_content=True)),
            Sco("exam", "Exam", Seq(rules=(LOCKED_UNTIL_COMPLETED,), objectives=(gate,))),
        ],
        seq=Seq(flow=True, choice=True),
    )
    page = context.new_page()
    launch_course(stack, page, course)
    assert delivered(page) == "lesson"
    asks = [
        ["get", "adl.nav.request_valid.continue"],
        ["get", "adl.nav.request_valid.previous"],
        ["get", "adl.nav.request_valid.choice.{target=lesson}"],
        ["get", "adl.nav.request_valid.choice.{target=exam}"],
        ["get", "adl.nav.request_valid.jump.{target=exam}"],
        ["get", "adl.nav.request_valid.choice.{target=nowhere}"],
    ]
    # Continue: valid by NB.2.1 (the root flows) although the exam is locked (ADL CTS CM-07d).
    assert run(page, "lesson", asks) == ["true", "false", "true", "false", "false", "unknown"]
    run(page, "lesson", [["set", "cmi.completion_status", "completed"], ["commit"]])
    wait_until(lambda: page.evaluate("!(cbsiPlayer.navState || {}).continue_refused"), what="the exam unlocked")
    assert run(page, "lesson", asks) == ["true", "false", "true", "true", "true", "unknown"]


def test_scos_that_only_initialize_and_terminate_are_completed_by_the_lms(stack: Stack, context):
    """Item 4: completionSetByContent/objectiveSetByContent false (the defaults): the LMS sets
    completed and satisfied when the attempt ends; the menu marks them, the course is done."""
    course = Course(
        "issue13-lms-sets-status", [Sco("a", "Page A"), Sco("b", "Page B")], seq=Seq(flow=True, choice=True)
    )
    page = context.new_page()
    attempt, _ = launch_course(stack, page, course)
    assert delivered(page) == "a"
    run(page, "a", [["terminate"]])
    assert click(page, "continue") == "b"
    assert page.locator("#cbsi-toc-list li", has_text="Page A").locator(".cbsi-done").count() == 1
    run(page, "b", [["terminate"]])
    page.click("#cbsi-next")  # past the last page: the course ends
    page.wait_for_selector("#cbsi-panel:not([hidden])")
    outcome_of(stack, attempt, completion="completed", success="passed")


def pre_post_course(course_id: str) -> Course:
    """Item 5: pretest, content, post test; either test passes the course through the shared
    objective g_pass, which the organization reads; the post test is skipped once g_pass is
    satisfied (a precondition rule on an objective that reads it)."""

    def test_obj(name: str) -> Objective:
        return Objective(name, primary=True, maps=(Map("g_pass", write_satisfied=True, write_measure=True),))

    skip_if_passed = Rule("pre", "skip", (Cond("satisfied", "already"),))
    already = Objective("already", maps=(Map("g_pass", read_satisfied=True),))
    course_obj = Objective("course_obj", primary=True, maps=(Map("g_pass", read_satisfied=True, read_measure=True),))
    return Course(
        course_id,
        [
            Sco("pretest", "Pretest", Seq(objectives=(test_obj("pre_obj"),))),
            Cluster("content", [Sco("c1", "Chapter 1")], "Content", Seq(flow=True)),
            Sco("posttest", "Post test", Seq(rules=(skip_if_passed,), objectives=(test_obj("post_obj"), already))),
        ],
        seq=Seq(flow=True, choice=True, objectives=(course_obj,)),
    )


def take_test(page, sco: str, score: float) -> None:
    verdict = "passed" if score >= 0.8 else "failed"
    steps = [
        ["set", "cmi.score.scaled", str(score)],
        ["set", "cmi.success_status", verdict],
        ["set", "cmi.completion_status", "completed"],
        ["terminate"],
    ]
    assert run(page, sco, steps) == ["true"] * len(steps)


def test_pretest_passed_skips_the_post_test_and_passes_the_course(stack: Stack, context):
    page = context.new_page()
    attempt, _ = launch_course(stack, page, pre_post_course("issue13-prepost-pass-early"))
    assert delivered(page) == "pretest"
    take_test(page, "pretest", 0.9)
    assert click(page, "continue") == "c1"
    run(page, "c1", DONE)
    page.click("#cbsi-next")  # the post test is skipped: the course ends
    page.wait_for_function("() => !cbsiPlayer.busy")
    assert stack.sco_state(attempt, "posttest") is None  # never delivered
    assert page.is_visible("#cbsi-panel")
    outcome = outcome_of(stack, attempt, success="passed")
    assert outcome["score_scaled"] == pytest.approx(0.9)


def test_pretest_failed_post_test_passed_passes_the_course(stack: Stack, context):
    page = context.new_page()
    attempt, _ = launch_course(stack, page, pre_post_course("issue13-prepost-pass-late"))
    take_test(page, "pretest", 0.4)
    assert click(page, "continue") == "c1"
    run(page, "c1", DONE)
    assert click(page, "continue") == "posttest"
    take_test(page, "posttest", 0.85)
    page.click("#cbsi-next")
    page.wait_for_selector("#cbsi-panel:not([hidden])")
    outcome = outcome_of(stack, attempt, success="passed")
    assert outcome["score_scaled"] == pytest.approx(0.85)  # the passing test's score, not the mean


def test_randomized_test_counts_only_the_selected_questions(stack: Stack, context):
    """Item 6: a test cluster selects 2 of 4 questions; only the test counts for rollup."""
    questions = [Sco(f"q{n}", f"Question {n}") for n in range(1, 5)]
    course = Course(
        "issue13-randomized",
        [
            Sco("intro", "Introduction", Seq(rollup_satisfied=False, rollup_completion=False)),
            Cluster(
                "test",
                questions,
                "Test",
                Seq(
                    flow=True,
                    select_count=2,
                    selection_timing="onEachNewAttempt",
                    randomize_children=True,
                    randomization_timing="onEachNewAttempt",
                ),
            ),
        ],
        seq=Seq(flow=True, choice=True),
    )
    page = context.new_page()
    attempt, _ = launch_course(stack, page, course)
    assert delivered(page) == "intro"
    run(page, "intro", [["terminate"]])
    seen = []
    current = click(page, "continue")
    while current.startswith("q"):
        seen.append(current)
        take_test(page, current, 1.0)
        page.click("#cbsi-next")
        page.wait_for_function("() => !cbsiPlayer.busy")
        if page.is_visible("#cbsi-panel"):
            break
        current = delivered(page)
    assert len(seen) == 2 and len(set(seen)) == 2, seen
    listed = [title for _, title, _ in menu(page) if title.startswith("Question")]
    assert len(listed) == 2, listed  # the unselected questions are not in the menu
    outcome_of(stack, attempt, completion="completed", success="passed")
