"""Issue 13 on the server side, on courses written with the manifest DSL: what the player is
told (nav state, hideLMSUI), what a commit reports to sequencing, resume after a suspension,
and the course outcome that sequencing rolls up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from unittest.mock import ANY

import pytest
from manifest_dsl import Cluster, Cond, Course, Map, Objective, Rule, Sco, Seq, build_package

from lti_tool import catalogue
from lti_tool.lti.context import Launch
from lti_tool.runtime import service
from lti_tool.services import Services
from scorm.cmi import get_value


@pytest.fixture
def dsl_course(services: Services, tmp_path: Path) -> Callable[[Course], str]:
    """Import a DSL course; returns its course key."""

    def run(course: Course) -> str:
        outcome = catalogue.import_package(services, build_package(course, tmp_path / f"{course.id}.zip"))
        return outcome.course_key

    return run


def start(services: Services, attempt_id: str, item: str) -> service.ItemSession:
    return service.start_item_session(services, attempt_id, item, learner_id="learner-1", learner_name="Ana")


def commit(services: Services, attempt_id: str, item: str, seq: int, changes: dict, terminate: bool = False):
    return service.commit(services, attempt_id, item, {"seq": seq, "changes": changes, "terminate": terminate})


def test_nav_state_under_an_invisible_cluster_and_hide_lms_ui(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    key = dsl_course(
        Course(
            "rt-invisible",
            [Cluster("wrap", [Sco("a"), Sco("b", hide=("continue",))], seq=Seq(flow=True), visible=False)],
            seq=Seq(flow=True),
        )
    )
    opened, _ = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    assert opened.current_item == "a"
    assert opened.nav == {"previous": False, "continue": True, "jump": ANY}
    rows = {r["id"]: r["visible"] for r in opened.toc}
    assert rows == {"wrap": False, "a": True, "b": True}  # the children of an invisible item are listed
    moved = service.navigate(services, opened.attempt_id, "continue")
    assert moved.item is not None and moved.item.id == "b"
    assert moved.opened is not None
    assert moved.opened.nav == {"previous": True, "continue": True, "hide": ["continue"], "jump": ANY}


def test_a_commit_of_objectives_only_reaches_sequencing(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    gate = Objective("gate", maps=(Map("g_done", read_satisfied=True),))
    locked = Rule(
        "pre",
        "disabled",
        (Cond("satisfied", "gate", negate=True), Cond("objectiveStatusKnown", "gate", negate=True)),
        "any",
    )
    key = dsl_course(
        Course(
            "rt-objective-commit",
            [
                Sco("a", seq=Seq(objectives=(Objective("done", maps=(Map("g_done", write_satisfied=True),)),))),
                Sco("b", seq=Seq(rules=(locked,), objectives=(gate,))),
            ],
            seq=Seq(flow=True, choice=True),
        )
    )
    opened, _ = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    commit(services, opened.attempt_id, "a", 1, {"cmi.location": "1"})
    before = service.reopen_attempt(services, opened.attempt_id).nav
    assert before["continue"] is True and before["continue_refused"]  # NB.2.1 valid, the flow refuses
    reply = commit(
        services,
        opened.attempt_id,
        "a",
        2,
        {"cmi.objectives.0.id": "done", "cmi.objectives.0.success_status": "passed"},
    )
    assert reply.sequencing_changed
    after = service.reopen_attempt(services, opened.attempt_id).nav
    assert after["continue"] is True and "continue_refused" not in after


@pytest.mark.parametrize("exit_value", ["normal", "", None])
def test_suspend_all_resumes_the_sco_whatever_exit_it_wrote(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch], exit_value: str | None
) -> None:
    key = dsl_course(Course(f"rt-suspend-{exit_value}", [Sco("a"), Sco("b")], seq=Seq(flow=True)))
    opened, _ = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    changes = {"cmi.location": "p7", "cmi.suspend_data": "sd-7"}
    if exit_value is not None:
        changes["cmi.exit"] = exit_value
    commit(services, opened.attempt_id, "a", 1, changes, terminate=True)
    assert service.navigate(services, opened.attempt_id, "suspendAll").end
    again, session = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    assert again.attempt_id == opened.attempt_id and session is not None and session.item_id == "a"
    read = {e: get_value(session.state, e, "2004")[0] for e in ("cmi.entry", "cmi.location", "cmi.suspend_data")}
    assert read == {"cmi.entry": "resume", "cmi.location": "p7", "cmi.suspend_data": "sd-7"}


def test_exit_all_after_exit_normal_starts_the_sco_afresh(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    key = dsl_course(Course("rt-exit-all", [Sco("a"), Sco("b")], seq=Seq(flow=True)))
    opened, _ = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    commit(services, opened.attempt_id, "a", 1, {"cmi.location": "p7", "cmi.exit": "normal"}, terminate=True)
    assert service.navigate(services, opened.attempt_id, "exitAll").end
    _, session = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    assert session is not None and session.item_id == "a"
    assert get_value(session.state, "cmi.entry", "2004")[0] == "ab-initio"
    assert get_value(session.state, "cmi.location", "2004")[0] == ""


def test_a_completed_attempt_left_suspended_is_resumed(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    key = dsl_course(Course("rt-completed-suspended", [Sco("only")]))
    opened, _ = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    done = {"cmi.completion_status": "completed", "cmi.location": "p7", "cmi.exit": "suspend"}
    reply = commit(services, opened.attempt_id, "only", 1, done, terminate=True)
    assert reply.attempt_outcome["completion"] == "completed"
    again, session = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    assert again.attempt_id == opened.attempt_id and again.number == 1
    assert session is not None and get_value(session.state, "cmi.location", "2004")[0] == "p7"


def test_the_course_outcome_is_the_sequencing_rollup(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    """Only the test counts (the intro does not contribute to rollup): passing it passes the
    course, with its score, although the intro never reported anything."""
    key = dsl_course(
        Course(
            "rt-outcome",
            [Sco("intro", seq=Seq(rollup_satisfied=False, rollup_completion=False, measure_weight=0)), Sco("test")],
            seq=Seq(flow=True),
        )
    )
    opened, _ = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    commit(services, opened.attempt_id, "intro", 1, {"cmi.location": "1"})
    moved = service.navigate(services, opened.attempt_id, "continue")
    assert moved.item is not None and moved.item.id == "test"
    start(services, opened.attempt_id, "test")
    result = {"cmi.success_status": "passed", "cmi.completion_status": "completed", "cmi.score.scaled": "0.9"}
    reply = commit(services, opened.attempt_id, "test", 1, result, terminate=True)
    outcome = reply.attempt_outcome
    assert (outcome["completion"], outcome["success"]) == ("completed", "passed"), outcome
    assert outcome["score_scaled"] == pytest.approx(0.9)


def test_a_sco_attempt_ended_by_sequencing_starts_afresh_without_cmi_exit(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    """ADL CTS DMB (Act1V9 -> Act1V10): Terminate without cmi.exit, then a choice of the same
    SCO: sequencing starts a new attempt of it, so the SCO gets entry=ab-initio and no data."""
    key = dsl_course(Course("rt-attempt-end", [Sco("a"), Sco("b")], seq=Seq(flow=True, choice=True)))
    opened, _ = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    commit(services, opened.attempt_id, "a", 1, {"cmi.location": "p7"}, terminate=True)
    moved = service.navigate(services, opened.attempt_id, "choice", "a")
    assert moved.item is not None and moved.item.id == "a"
    session = start(services, opened.attempt_id, "a")
    assert get_value(session.state, "cmi.entry", "2004")[0] == "ab-initio"
    assert get_value(session.state, "cmi.location", "2004")[0] == ""
    # ... while a relaunch after a closed tab (no navigation) keeps the open attempt's data
    commit(services, opened.attempt_id, "a", 2, {"cmi.location": "p8"})
    _, again = service.open_and_start(services, make_launch(key), learner_id="learner-1", learner_name="Ana")
    assert again is not None and again.item_id == "a"
    assert get_value(again.state, "cmi.entry", "2004")[0] == "resume"
    assert get_value(again.state, "cmi.location", "2004")[0] == "p8"
