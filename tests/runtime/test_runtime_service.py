"""Attempts, sessions and commits against real packages, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from sqlalchemy import select

from lti_tool import catalogue
from lti_tool.lti.context import Launch
from lti_tool.outcome_events import OutcomeChanged
from lti_tool.runtime import service
from lti_tool.runtime.errors import (
    AttemptLimitReached,
    CourseNotLinked,
    CourseUnavailable,
    InvalidCommit,
    StaleCommit,
    StandardNotPlayable,
)
from lti_tool.services import Services
from lti_tool.settings import load_settings
from lti_tool.storage.models import Attempt, LearnerRegistration, ScoState
from scorm.cmi import get_value

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"


def start(services: Services, opened: service.OpenedAttempt, item: str | None = None) -> service.ItemSession:
    return service.start_item_session(
        services, opened.attempt_id, item or opened.current_item or "", learner_id="learner-1", learner_name="Ana"
    )


def test_first_launch_opens_attempt_one_ab_initio(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    opened = service.open_attempt(services, make_launch(course.course_key))
    assert (opened.number, opened.resumed, opened.cmi_version) == (1, False, "1.2")
    assert [i.kind for i in opened.items] == ["sco"]
    session = start(services, opened)
    assert get_value(session.state, "cmi.core.entry", "1.2") == ("ab-initio", 0)
    assert get_value(session.state, "cmi.core.student_id", "1.2")[0] == "learner-1"
    assert get_value(session.state, "cmi.core.lesson_status", "1.2")[0] == "not attempted"
    with services.db.session() as s:
        reg = s.scalars(select(LearnerRegistration)).one()
        assert reg.ags["lineitem"].endswith("?type_id=1")
        assert reg.context_title == "Police Academy Intake 12"


def test_resume_restores_location_and_suspend_data(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    opened = service.open_attempt(services, make_launch(course.course_key))
    start(services, opened)
    body = {
        "seq": 1,
        "id": "c1",
        "changes": {
            "cmi.core.lesson_location": "page-3",
            "cmi.suspend_data": "answers=abc",
            "cmi.core.lesson_status": "incomplete",
            "cmi.core.exit": "suspend",
            "cmi.core.session_time": "00:05:00",
        },
        "terminate": True,
    }
    reply = service.commit(services, opened.attempt_id, opened.current_item or "", body)
    assert reply.stored == 5 and not reply.rejected
    again = service.open_attempt(services, make_launch(course.course_key))
    assert again.attempt_id == opened.attempt_id and again.resumed
    session = start(services, again)
    assert get_value(session.state, "cmi.core.entry", "1.2")[0] == "resume"
    assert get_value(session.state, "cmi.core.lesson_location", "1.2")[0] == "page-3"
    assert get_value(session.state, "cmi.suspend_data", "1.2")[0] == "answers=abc"
    assert get_value(session.state, "cmi.core.total_time", "1.2")[0] == "0000:05:00.00"


def test_unterminated_session_time_is_kept(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF2004)
    opened = service.open_attempt(services, make_launch(course.course_key))
    start(services, opened)
    changes = {"cmi.location": "2", "cmi.session_time": "PT2M", "cmi.suspend_data": "x"}
    service.commit(services, opened.attempt_id, opened.current_item or "", {"seq": 1, "changes": changes})
    # the tab closed without Terminate: the next launch finishes that session first
    session = start(services, service.open_attempt(services, make_launch(course.course_key)))
    assert get_value(session.state, "cmi.entry", "2004")[0] == "resume"
    assert get_value(session.state, "cmi.location", "2004")[0] == "2"
    assert get_value(session.state, "cmi.total_time", "2004")[0] == "PT0H2M0S"


def test_score_and_completion_roll_up_and_call_the_outcome_listeners(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    seen: list[dict[str, Any]] = []

    class Recorder:
        def outcome_changed(self, event: OutcomeChanged) -> None:
            assert event.registration is not None and event.attempt.outcome == event.outcome.to_json()
            seen.append({**event.outcome.to_json(), "sub": event.registration.learner_sub})

    services = dataclasses.replace(services, outcome_listeners=(*services.outcome_listeners, Recorder()))
    course = import_course(GOLF2004)
    opened = service.open_attempt(services, make_launch(course.course_key))
    start(services, opened)
    item = opened.current_item or ""
    changes = {"cmi.score.scaled": "0.85", "cmi.completion_status": "completed", "cmi.success_status": "passed"}
    reply = service.commit(services, opened.attempt_id, item, {"seq": 1, "changes": changes})
    assert reply.attempt_outcome["score_scaled"] == pytest.approx(0.85)
    assert reply.attempt_outcome["completion"] == "completed"
    assert reply.attempt_outcome["success"] == "passed"
    # a commit that changes nothing about the grade does not call the listeners again
    service.commit(services, opened.attempt_id, item, {"seq": 2, "changes": {"cmi.location": "9"}})
    assert len(seen) == 1 and seen[0]["sub"] == "learner-1"


def test_listener_failure_rolls_the_commit_back(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    class Broken:
        def outcome_changed(self, event: OutcomeChanged) -> None:
            raise RuntimeError("outbox unavailable")

    services = dataclasses.replace(services, outcome_listeners=(*services.outcome_listeners, Broken()))
    course = import_course(GOLF2004)
    opened = service.open_attempt(services, make_launch(course.course_key))
    start(services, opened)
    with pytest.raises(RuntimeError):
        service.commit(
            services, opened.attempt_id, opened.current_item or "", {"seq": 1, "changes": {"cmi.score.scaled": "0.5"}}
        )
    with services.db.session() as s:
        row = s.get(ScoState, (opened.attempt_id, opened.current_item))
        assert row is not None and row.seq == 0
        assert get_value(row.state, "cmi.score.scaled", "2004")[1] != 0


def test_stale_and_replayed_commits(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    opened = service.open_attempt(services, make_launch(course.course_key))
    start(services, opened)
    item = opened.current_item or ""
    service.commit(
        services, opened.attempt_id, item, {"seq": 5, "id": "a", "changes": {"cmi.core.lesson_location": "5"}}
    )
    replay = service.commit(
        services, opened.attempt_id, item, {"seq": 5, "id": "a", "changes": {"cmi.core.lesson_location": "5"}}
    )
    assert replay.replayed and replay.seq == 5
    with pytest.raises(StaleCommit) as err:
        service.commit(
            services, opened.attempt_id, item, {"seq": 4, "id": "b", "changes": {"cmi.core.lesson_location": "old"}}
        )
    assert err.value.expected_seq == 6
    with pytest.raises(StaleCommit):
        service.commit(
            services, opened.attempt_id, item, {"seq": 5, "id": "c", "changes": {"cmi.core.lesson_location": "old"}}
        )
    with services.db.session() as s:
        row = s.get(ScoState, (opened.attempt_id, item))
        assert row is not None and get_value(row.state, "cmi.core.lesson_location", "1.2")[0] == "5"


def test_invalid_values_are_refused_with_spec_codes_not_stored(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    opened = service.open_attempt(services, make_launch(course.course_key))
    start(services, opened)
    item = opened.current_item or ""
    changes = {
        "cmi.core.lesson_status": "brilliant",  # not in the vocabulary: 405
        "cmi.core.student_id": "someone-else",  # read-only: 403
        "cmi.core.score.raw": "150",  # out of range: 405
        "cmi.suspend_data": "ok",
    }
    reply = service.commit(services, opened.attempt_id, item, {"seq": 1, "changes": changes})
    codes = {r["element"]: r["code"] for r in reply.rejected}
    assert codes == {"cmi.core.lesson_status": 405, "cmi.core.student_id": 403, "cmi.core.score.raw": 405}
    assert reply.stored == 1
    with services.db.session() as s:
        row = s.get(ScoState, (opened.attempt_id, item))
        assert row is not None
        assert get_value(row.state, "cmi.core.student_id", "1.2")[0] == "learner-1"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"seq": 0, "changes": {}},
        {"seq": "1", "changes": {}},
        {"seq": True, "changes": {}},
        {"seq": 1, "changes": []},
        {"seq": 1, "changes": {"cmi.core.lesson_location": {"nested": 1}}},
        {"seq": 1, "changes": {"cmi.core.lesson_location": None}},
        {"seq": 1, "changes": {}, "terminate": "yes"},
        {"seq": 1, "changes": {}, "id": "x" * 100},
    ],
)
def test_malformed_commits_are_refused(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], body: dict[str, Any]
) -> None:
    course = import_course(GOLF12)
    opened = service.open_attempt(services, make_launch(course.course_key))
    start(services, opened)
    with pytest.raises(InvalidCommit):
        service.commit(services, opened.attempt_id, opened.current_item or "", body)


def test_completed_attempt_starts_a_new_one_on_relaunch(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    first = service.open_attempt(services, make_launch(course.course_key))
    start(services, first)
    service.commit(
        services,
        first.attempt_id,
        first.current_item or "",
        {"seq": 1, "changes": {"cmi.core.lesson_status": "passed"}},
    )
    second = service.open_attempt(services, make_launch(course.course_key))
    assert second.number == 2 and second.attempt_id != first.attempt_id
    with services.db.session() as s:
        assert s.get(Attempt, first.attempt_id).status == "completed"  # type: ignore[union-attr]
    session = start(services, second)
    assert get_value(session.state, "cmi.core.entry", "1.2")[0] == "ab-initio"


def test_policy_new_and_attempt_limit(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], settings_overrides: dict
) -> None:
    import dataclasses

    course = import_course(GOLF12)
    limited = dataclasses.replace(
        services,
        settings=load_settings(
            environ={}, overrides={**settings_overrides, "player": {"attempt_policy": "new", "max_attempts": 2}}
        ),
    )
    a = service.open_attempt(limited, make_launch(course.course_key))
    b = service.open_attempt(limited, make_launch(course.course_key))
    assert (a.number, b.number) == (1, 2)
    with pytest.raises(AttemptLimitReached, match="2 attempts"):
        service.open_attempt(limited, make_launch(course.course_key))


def test_running_attempt_stays_on_its_version(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], fixtures_dir: Path, tmp_path: Path
) -> None:
    course = import_course(GOLF12)
    opened = service.open_attempt(services, make_launch(course.course_key))
    v2 = tmp_path / "v2.zip"
    with zipfile.ZipFile(fixtures_dir / GOLF12) as src, zipfile.ZipFile(v2, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("notes.txt", "v2")
    new = catalogue.import_package(services, v2)
    assert new.version == 2
    again = service.open_attempt(services, make_launch(course.course_key))
    assert again.attempt_id == opened.attempt_id and again.version_id == course.version_id
    other = service.open_attempt(services, make_launch(course.course_key, sub="learner-2"))
    assert other.version_id == new.version_id


def test_learners_are_isolated_per_resource_link_and_user(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    a = service.open_attempt(services, make_launch(course.course_key))
    b = service.open_attempt(services, make_launch(course.course_key, sub="learner-2"))
    c = service.open_attempt(services, make_launch(course.course_key, link="rl-2"))
    assert len({a.attempt_id, b.attempt_id, c.attempt_id}) == 3
    assert len({a.registration_id, b.registration_id, c.registration_id}) == 3


def test_unlinked_missing_and_unplayable_courses(
    monkeypatch: pytest.MonkeyPatch, services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    with pytest.raises(CourseNotLinked):
        service.open_attempt(services, make_launch("", custom={}))
    with pytest.raises(CourseUnavailable):
        service.open_attempt(services, make_launch("no-such-course"))
    xapi = import_course("xapi/GolfExample_TCAPI.zip")
    _xapi_not_playable(monkeypatch)  # xAPI plays now: a registry where it is known but not playable
    with pytest.raises(StandardNotPlayable, match="xapi"):
        service.open_attempt(services, make_launch(xapi.course_key))


def test_multi_item_scorm12_assets_and_flow_navigation(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course("scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip")
    opened = service.open_attempt(services, make_launch(course.course_key))
    visible = [i for i in opened.items if i.visible]
    assert len(visible) == 18 and all(i.kind == "asset" for i in visible)
    session = start(services, opened)
    assert session.kind == "asset"
    reply = service.commit(
        services, opened.attempt_id, visible[0].id, {"seq": 1, "changes": {}, "asset_completed": True}
    )
    assert reply.outcome["completion"] == "completed"
    menu = service.reopen_attempt(services, opened.attempt_id).toc
    assert {row["id"] for row in menu if row["completed"] and row["kind"] == "asset"} == {visible[0].id}
    assert opened.nav == {"previous": False, "continue": True, "jump": ANY}
    assert [row["kind"] for row in opened.toc].count("cluster") >= 1  # aggregations are menu headings
    nxt = service.navigate(services, opened.attempt_id, "continue")
    assert nxt.item is not None and nxt.item.id == visible[1].id
    assert nxt.opened is not None and nxt.opened.nav["previous"] is True
    back = service.navigate(services, opened.attempt_id, "previous")
    assert back.item is not None and back.item.id == visible[0].id
    refused = service.navigate(services, opened.attempt_id, "previous")
    assert refused.error == "nav_refused" and refused.message
    jump = service.navigate(services, opened.attempt_id, "choice", visible[-1].id)
    assert jump.item is not None and jump.item.id == visible[-1].id
    end = service.navigate(services, opened.attempt_id, "continue")
    assert end.end and end.item is None
    assert service.navigate(services, opened.attempt_id, "choice", "nope").error
    assert service.navigate(services, opened.attempt_id, "").error == "nav_invalid_request"


def _xapi_not_playable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The launch's registry with the xAPI entry known but without start/commit (not playable)."""
    from lti_tool.runtime import attempts
    from lti_tool.runtime.deliveries import Deliveries, Delivery, DeliveryKind, default_deliveries

    full = default_deliveries()
    entries = [full[kind] for kind in DeliveryKind if kind is not DeliveryKind.XAPI_ACTIVITY]
    registry = Deliveries([*entries, Delivery(kind=DeliveryKind.XAPI_ACTIVITY, label="xAPI", standard="xapi")])
    monkeypatch.setattr(attempts, "deliveries", lambda services: registry)
