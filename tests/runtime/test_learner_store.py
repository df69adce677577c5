"""What SCORM 2004 keeps per learner across attempts (lti_tool.runtime.learner_store): global
objectives (objectivesGlobalToSystem) and adl.data shared data stores with their permissions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from manifest_dsl import Course, Map, Objective, Sco, Seq, build_package
from sqlalchemy import select

from lti_tool import catalogue
from lti_tool.lti.context import Launch
from lti_tool.runtime import service
from lti_tool.services import Services
from lti_tool.storage.models import LearnerSharedState
from scorm.cmi import get_value


@pytest.fixture
def dsl_course(services: Services, tmp_path: Path) -> Callable[[Course], str]:
    def run(course: Course) -> str:
        return catalogue.import_package(services, build_package(course, tmp_path / f"{course.id}.zip")).course_key

    return run


def _open(services: Services, launch: Launch) -> service.OpenedAttempt:
    opened, _ = service.open_and_start(services, launch, learner_id=launch.sub, learner_name="Ana")
    return opened


def _start(services: Services, attempt_id: str, item: str, learner: str = "learner-1") -> service.ItemSession:
    return service.start_item_session(services, attempt_id, item, learner_id=learner, learner_name="Ana")


def _commit(services: Services, attempt_id: str, item: str, seq: int, changes: dict, terminate: bool = False):
    return service.commit(services, attempt_id, item, {"seq": seq, "changes": changes, "terminate": terminate})


def _objective_course(course_id: str, global_to_system: bool | None) -> Course:
    writer = Objective("done", maps=(Map("g_done", write_satisfied=True),))
    reader = Objective("gate", maps=(Map("g_done", read_satisfied=True),))
    return Course(
        course_id,
        [Sco("a", seq=Seq(objectives=(writer,))), Sco("b", seq=Seq(objectives=(reader,)))],
        seq=Seq(flow=True, choice=True),
        global_to_system=global_to_system,
    )


def _finish_first_attempt(services: Services, launch: Launch) -> str:
    opened = _open(services, launch)
    assert opened.current_item == "a"
    done = {
        "cmi.objectives.0.id": "done",
        "cmi.objectives.0.success_status": "passed",
        "cmi.completion_status": "completed",
        "cmi.exit": "normal",
    }
    _commit(services, opened.attempt_id, "a", 1, done, terminate=True)
    moved = service.navigate(services, opened.attempt_id, "continue")
    assert moved.item is not None and moved.item.id == "b"
    _start(services, opened.attempt_id, "b")
    _commit(services, opened.attempt_id, "b", 1, {"cmi.completion_status": "completed"}, terminate=True)
    assert service.navigate(services, opened.attempt_id, "exitAll").end
    return opened.attempt_id


@pytest.mark.parametrize(("global_to_system", "expected"), [(None, "passed"), (True, "passed"), (False, "unknown")])
def test_a_new_attempt_sees_the_global_objective_the_previous_attempt_satisfied(
    services: Services,
    dsl_course: Callable,
    make_launch: Callable[..., Launch],
    global_to_system: bool | None,
    expected: str,
) -> None:
    key = dsl_course(_objective_course(f"ls-globals-{global_to_system}", global_to_system))
    first = _finish_first_attempt(services, make_launch(key))
    second = _open(services, make_launch(key))
    assert second.attempt_id != first and second.number == 2  # a new attempt, a new sequencing state
    session = _start(services, second.attempt_id, "b")
    assert get_value(session.state, "cmi.objectives.0.id", "2004")[0] == "gate"
    assert get_value(session.state, "cmi.objectives.0.success_status", "2004")[0] == expected
    # another learner's attempt never sees it
    other = _open(services, make_launch(key, sub="learner-2"))
    assert get_value(_start(services, other.attempt_id, "b", "learner-2").state,
                     "cmi.objectives.0.success_status", "2004")[0] == "unknown"  # fmt: skip


def _data_course(course_id: str, shared_global: bool | None) -> Course:
    return Course(
        course_id,
        [
            Sco("a", data=(("notes", True, True), ("hidden", False, True))),
            Sco("b", data=(("notes", True, False), ("hidden", True, True))),
        ],
        seq=Seq(flow=True, choice=True),
        shared_data_global=shared_global,
    )


def test_shared_data_is_kept_for_the_learner_with_its_permissions(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    key = dsl_course(_data_course("ls-data", None))
    opened = _open(services, make_launch(key))
    a = _start(services, opened.attempt_id, "a")
    assert get_value(a.state, "adl.data._count", "2004") == ("2", 0)
    assert get_value(a.state, "adl.data.0.store", "2004") == ("", 403)  # nothing stored yet
    reply = _commit(services, opened.attempt_id, "a", 1, {"adl.data.0.store": "n1", "adl.data.1.store": "h1"})
    assert reply.rejected == ()
    assert get_value(_start(services, opened.attempt_id, "a").state, "adl.data.1.store", "2004") == ("", 405)
    b = _start(services, opened.attempt_id, "b")
    assert get_value(b.state, "adl.data.0.store", "2004") == ("n1", 0)
    assert get_value(b.state, "adl.data.1.store", "2004") == ("h1", 0)  # b may read what a may only write
    refused = _commit(services, opened.attempt_id, "b", 1, {"adl.data.0.store": "changed"})
    assert [r["code"] for r in refused.rejected] == [404]
    # system-wide (the default): the learner's other registration sees the stores, another learner does not
    elsewhere = _open(services, make_launch(key, link="rl-2"))
    assert get_value(_start(services, elsewhere.attempt_id, "b").state, "adl.data.0.store", "2004")[0] == "n1"
    stranger = _open(services, make_launch(key, sub="learner-2"))
    found = _start(services, stranger.attempt_id, "b", "learner-2").state
    assert get_value(found, "adl.data.0.store", "2004") == ("", 403)
    with services.db.session() as s:
        rows = s.scalars(select(LearnerSharedState).where(LearnerSharedState.kind == "data")).all()
        assert {(r.learner_sub, r.scope, r.target_id, r.value) for r in rows} == {
            ("learner-1", "", "notes", "n1"),
            ("learner-1", "", "hidden", "h1"),
        }


def test_shared_data_not_global_to_system_is_scoped_to_the_attempt(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    key = dsl_course(_data_course("ls-data-scoped", False))
    opened = _open(services, make_launch(key))
    _start(services, opened.attempt_id, "a")
    _commit(services, opened.attempt_id, "a", 1, {"adl.data.0.store": "n1"})
    assert get_value(_start(services, opened.attempt_id, "b").state, "adl.data.0.store", "2004")[0] == "n1"
    elsewhere = _open(services, make_launch(key, link="rl-2"))  # another attempt of the learner's
    assert get_value(_start(services, elsewhere.attempt_id, "b").state, "adl.data.0.store", "2004") == ("", 403)


def test_erasing_the_learner_removes_their_shared_state(
    services: Services, dsl_course: Callable, make_launch: Callable[..., Launch], platform_id: int
) -> None:
    from lti_tool import privacy

    key = dsl_course(_data_course("ls-erase", None))
    for sub in ("learner-1", "learner-2"):
        opened = _open(services, make_launch(key, sub=sub))
        _start(services, opened.attempt_id, "a", sub)
        _commit(services, opened.attempt_id, "a", 1, {"adl.data.0.store": f"n-{sub}"})
    report = privacy.erase_learner(services.db, platform_id=platform_id, sub="learner-1", actor="t", source="cli")
    assert report.counts["learner_shared_state"] == 1
    with services.db.session() as s:
        assert [r.learner_sub for r in s.scalars(select(LearnerSharedState))] == ["learner-2"]
