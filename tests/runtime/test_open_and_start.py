"""The player page's path: the attempt opened and its current item's session started in one go."""

from __future__ import annotations

import types
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from lti_tool import catalogue
from lti_tool.lti.context import Launch
from lti_tool.runtime import attempts, service
from lti_tool.runtime.errors import AttemptLimitReached, CourseNotLinked, CourseUnavailable, StandardNotPlayable
from lti_tool.services import Services
from lti_tool.settings import load_settings
from lti_tool.storage.models import Attempt, LearnerRegistration, ScoState
from lti_tool.web.player import learner_page
from scorm.cmi import get_value

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
ASSETS12 = "scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip"
SCO_COLUMNS = ("cmi_version", "state", "seq", "sessions", "session_open", "outcome", "last_commit_id")


def open_and_start(services: Services, launch: Launch) -> tuple[service.OpenedAttempt, service.ItemSession | None]:
    return service.open_and_start(services, launch, learner_id="learner-1", learner_name="Ana")


def sco_rows(services: Services, attempt_id: str) -> dict[str, dict[str, Any]]:
    with services.db.session() as s:
        rows = s.scalars(select(ScoState).where(ScoState.attempt_id == attempt_id)).all()
        return {r.item_id: {c: getattr(r, c) for c in SCO_COLUMNS} for r in rows}


def attempt_row(services: Services, attempt_id: str) -> dict[str, Any]:
    with services.db.session() as s:
        a = s.get(Attempt, attempt_id)
        assert a is not None
        return {"number": a.number, "status": a.status, "current_item": a.current_item, "sequencing": a.sequencing}


@pytest.mark.parametrize("package", [GOLF12, GOLF2004, ASSETS12])
def test_same_attempt_and_session_as_open_then_start(
    services: Services,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    monkeypatch: pytest.MonkeyPatch,
    package: str,
) -> None:
    monkeypatch.setattr(attempts, "secrets", types.SimpleNamespace(randbits=lambda bits: 7))  # same sequencing seed
    course = import_course(package)
    together, session = open_and_start(services, make_launch(course.course_key, sub="together"))
    apart = service.open_attempt(services, make_launch(course.course_key, sub="apart"))
    assert apart.current_item is not None and session is not None
    separate = service.start_item_session(
        services, apart.attempt_id, apart.current_item, learner_id="learner-1", learner_name="Ana"
    )
    assert session == separate
    skip = {"attempt_id", "registration_id", "toc"}
    assert {k: v for k, v in vars(together).items() if k not in skip} == {
        k: v for k, v in vars(apart).items() if k not in skip
    }
    assert together.toc == apart.toc
    assert attempt_row(services, together.attempt_id) == attempt_row(services, apart.attempt_id)
    assert sco_rows(services, together.attempt_id) == sco_rows(services, apart.attempt_id)
    assert sco_rows(services, together.attempt_id)[session.item_id]["sessions"] == 1


def test_one_unit_of_work_per_launch(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], counted: list[int]
) -> None:
    course = import_course(GOLF12)
    counted.clear()
    open_and_start(services, make_launch(course.course_key))
    assert len(counted) == 1
    open_and_start(services, make_launch(course.course_key))  # resumed
    assert len(counted) == 2


def test_resume_restores_the_suspended_session(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    first, session = open_and_start(services, make_launch(course.course_key))
    assert session is not None and get_value(session.state, "cmi.core.entry", "1.2")[0] == "ab-initio"
    changes = {
        "cmi.core.lesson_location": "page-3",
        "cmi.suspend_data": "abc",
        "cmi.core.lesson_status": "incomplete",
        "cmi.core.exit": "suspend",
    }
    service.commit(services, first.attempt_id, session.item_id, {"seq": 1, "changes": changes, "terminate": True})
    again, resumed = open_and_start(services, make_launch(course.course_key))
    assert again.attempt_id == first.attempt_id and again.resumed and resumed is not None
    assert resumed.seq == 1
    assert get_value(resumed.state, "cmi.core.entry", "1.2")[0] == "resume"
    assert get_value(resumed.state, "cmi.core.lesson_location", "1.2")[0] == "page-3"
    assert get_value(resumed.state, "cmi.suspend_data", "1.2")[0] == "abc"
    assert sco_rows(services, first.attempt_id)[session.item_id]["sessions"] == 2


def test_unterminated_session_is_finished_on_resume(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF2004)
    first, session = open_and_start(services, make_launch(course.course_key))
    assert session is not None
    changes = {"cmi.location": "2", "cmi.session_time": "PT2M", "cmi.suspend_data": "x"}
    service.commit(services, first.attempt_id, session.item_id, {"seq": 1, "changes": changes})
    _, resumed = open_and_start(services, make_launch(course.course_key))
    assert resumed is not None
    assert get_value(resumed.state, "cmi.entry", "2004")[0] == "resume"
    assert get_value(resumed.state, "cmi.total_time", "2004")[0] == "PT0H2M0S"


def test_completed_attempt_gives_a_fresh_attempt_and_session(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    first, session = open_and_start(services, make_launch(course.course_key))
    assert session is not None
    service.commit(
        services, first.attempt_id, session.item_id, {"seq": 1, "changes": {"cmi.core.lesson_status": "passed"}}
    )
    second, fresh = open_and_start(services, make_launch(course.course_key))
    assert second.number == 2 and not second.resumed and fresh is not None
    assert fresh.seq == 0 and get_value(fresh.state, "cmi.core.entry", "1.2")[0] == "ab-initio"
    assert attempt_row(services, first.attempt_id)["status"] == "completed"
    assert sco_rows(services, second.attempt_id)[fresh.item_id]["sessions"] == 1


def test_running_attempt_plays_its_own_version(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], fixtures_dir: Path, tmp_path: Path
) -> None:
    course = import_course(GOLF12)
    first, _ = open_and_start(services, make_launch(course.course_key))
    v2 = tmp_path / "v2.zip"
    with zipfile.ZipFile(fixtures_dir / GOLF12) as src, zipfile.ZipFile(v2, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("notes.txt", "v2")
    new = catalogue.import_package(services, v2)
    again, session = open_and_start(services, make_launch(course.course_key))
    assert again.attempt_id == first.attempt_id and again.version_id == course.version_id
    assert session is not None and sco_rows(services, first.attempt_id)[session.item_id]["sessions"] == 2
    other, _ = open_and_start(services, make_launch(course.course_key, sub="learner-2"))
    assert other.version_id == new.version_id


def test_registration_keeps_known_values_and_takes_new_ones(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    open_and_start(services, make_launch(course.course_key))
    open_and_start(
        services, make_launch(course.course_key, name=None, email=None, context_title="Intake 13", claims={})
    )
    with services.db.session() as s:
        reg = s.scalars(select(LearnerRegistration)).one()
        assert (reg.name, reg.email, reg.context_title) == ("Ana Learner", "ana@example.org", "Intake 13")
        assert reg.ags["lineitem"].endswith("?type_id=1")  # a launch without AGS keeps the known endpoint


def test_refusals_store_nothing(
    monkeypatch: pytest.MonkeyPatch,
    services: Services,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    settings_overrides: dict[str, Any],
) -> None:
    import dataclasses

    with pytest.raises(CourseNotLinked):
        open_and_start(services, make_launch("", custom={}))
    with pytest.raises(CourseUnavailable):
        open_and_start(services, make_launch("no-such-course"))
    xapi = import_course("xapi/GolfExample_TCAPI.zip")
    _xapi_not_playable(monkeypatch)  # xAPI plays now: a registry where it is known but not playable
    with pytest.raises(StandardNotPlayable):
        open_and_start(services, make_launch(xapi.course_key))
    course = import_course(GOLF12)
    limited = dataclasses.replace(
        services,
        settings=load_settings(
            environ={}, overrides={**settings_overrides, "player": {"attempt_policy": "new", "max_attempts": 1}}
        ),
    )
    open_and_start(limited, make_launch(course.course_key))
    with pytest.raises(AttemptLimitReached):
        open_and_start(limited, make_launch(course.course_key))
    with services.db.session() as s:
        assert len(s.scalars(select(Attempt)).all()) == 1
        assert len(s.scalars(select(ScoState)).all()) == 1


def test_player_page_starts_the_session_with_the_attempt(
    app: Flask, services: Services, import_course: Callable, make_launch: Callable[..., Launch], counted: list[int]
) -> None:
    course = import_course(GOLF12)
    launch = make_launch(course.course_key)
    counted.clear()
    for visit in (1, 2):  # a reload resumes the same attempt
        with app.test_request_context(f"/play/{launch.id}"):
            html = learner_page(launch)
        assert len(counted) == visit  # one unit of work per page
        assert "cbsi-player-config" in html
    with services.db.session() as s:
        rows = s.scalars(select(ScoState)).all()
        assert [r.sessions for r in rows] == [2]
        assert len(s.scalars(select(Attempt)).all()) == 1


@pytest.fixture
def writes(services: Services) -> Iterator[list[str]]:
    """The INSERT/UPDATE/DELETE statements run on ``services.db`` (verb and table)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        if words[0] in ("INSERT", "UPDATE", "DELETE"):
            seen.append(f"{words[0]} {words[2] if words[0] != 'UPDATE' else words[1]}")

    event.listen(services.db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(services.db.engine, "before_cursor_execute", record)


def test_a_launch_writes_only_what_changed(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], writes: list[str]
) -> None:
    course = import_course(GOLF12)
    writes.clear()
    open_and_start(services, make_launch(course.course_key))
    # the attempt is inserted with its sequencing state (no UPDATE after the INSERT)
    assert writes == ["INSERT learner_registrations", "INSERT attempts", "INSERT sco_states"]
    writes.clear()
    open_and_start(services, make_launch(course.course_key))
    # resumed: registration and attempt are unchanged, the SCO session restarts
    assert writes == ["UPDATE sco_states"]
    writes.clear()
    open_and_start(services, make_launch(course.course_key, name="Ana L."))
    assert writes == ["UPDATE learner_registrations", "UPDATE sco_states"]


def test_new_window_reopens_and_starts_in_one_unit_of_work(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], counted: list[int]
) -> None:
    course = import_course(GOLF2004)
    first, session = open_and_start(services, make_launch(course.course_key))
    assert session is not None
    counted.clear()
    view, again = service.reopen_and_start(services, first.attempt_id, learner_id="learner-1")
    assert len(counted) == 1
    assert view.attempt_id == first.attempt_id and view.resumed and again is not None
    assert again.item_id == session.item_id
    assert sco_rows(services, first.attempt_id)[session.item_id]["sessions"] == 2
    # the SCO gets the learner's name from the registration (the launch said "Ana Learner")
    assert get_value(again.state, "cmi.learner_name", "2004")[0] == "Ana Learner"


def _xapi_not_playable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The launch's registry with the xAPI entry known but without start/commit (not playable)."""
    from lti_tool.runtime import attempts
    from lti_tool.runtime.deliveries import Deliveries, Delivery, DeliveryKind, default_deliveries

    full = default_deliveries()
    entries = [full[kind] for kind in DeliveryKind if kind is not DeliveryKind.XAPI_ACTIVITY]
    registry = Deliveries([*entries, Delivery(kind=DeliveryKind.XAPI_ACTIVITY, label="xAPI", standard="xapi")])
    monkeypatch.setattr(attempts, "deliveries", lambda services: registry)
