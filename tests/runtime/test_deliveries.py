"""The delivery registry (issue 11): the launch, the session start, the commit and the player page
dispatch on it; navigation and the commit's refreshed menu each take one transaction; the
attempt status enum is the database's CHECK."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.lti.context import Launch
from lti_tool.runtime import deliveries as deliveries_module
from lti_tool.runtime import scorm_delivery, service
from lti_tool.runtime.deliveries import Deliveries, Delivery, DeliveryKind, SessionStart, default_deliveries
from lti_tool.runtime.errors import StandardNotPlayable
from lti_tool.services import Services, attach, services_of
from lti_tool.storage import models
from lti_tool.web.player import _toc_json, learner_page

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
FORCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"
REPO = Path(__file__).resolve().parents[2]


# -- the registry ------------------------------------------------------------------------------


def test_every_standard_has_an_entry_and_plays() -> None:
    registry = default_deliveries()
    assert {kind: registry[kind].playable for kind in DeliveryKind} == {
        DeliveryKind.SCORM12: True,
        DeliveryKind.SCORM2004: True,
        DeliveryKind.ASSET: True,
        DeliveryKind.XAPI_ACTIVITY: True,
        DeliveryKind.CMI5_AU: True,
    }
    assert registry.for_course("scorm12").runtime == "1.2" and registry.for_course("scorm2004").runtime == "2004"
    assert registry.for_item(registry.for_course("scorm12"), "asset") is registry[DeliveryKind.ASSET]
    assert registry.for_item(registry.for_course("scorm2004"), "sco") is registry[DeliveryKind.SCORM2004]
    assert registry.for_stored("asset") is registry[DeliveryKind.ASSET]
    assert registry.for_stored("cmi5") is registry[DeliveryKind.CMI5_AU]
    assert registry[DeliveryKind.CMI5_AU].runtime is None  # its AUs report to the LRS
    assert (
        registry.for_course("xapi") is registry[DeliveryKind.XAPI_ACTIVITY]
        and registry.for_stored("xapi").runtime is None
    )
    assert registry.runtimes() == {"1.2", "2004"}


@pytest.mark.parametrize("standard", ["aicc", ""])
def test_an_unplayable_or_unknown_standard_gets_the_precise_error(standard: str) -> None:
    with pytest.raises(StandardNotPlayable) as info:
        default_deliveries().for_course(standard)
    assert (info.value.code, info.value.status) == ("standard_not_playable", 409)
    plays = "SCORM 1.2, SCORM 2004, xAPI and cmi5"
    assert info.value.message == f"this course is {standard}; the player plays {plays} packages"


def test_a_new_entry_is_what_the_launch_and_the_commit_call(
    services: Services,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replacing the SCORM 1.2 entry changes what a session starts with and how commits apply:
    the runtime has no SCORM 1.2 branch of its own."""
    calls: list[str] = []

    def start(begin: SessionStart) -> dict[str, Any]:
        calls.append(f"start {begin.item_id} {begin.learner_name}")
        return scorm_delivery.start_12(begin)

    def commit(given: Any) -> Any:
        calls.append(f"commit {sorted(given.changes)}")
        return scorm_delivery.commit_sco(given, suspend_on_unload=False)

    entry = dataclasses.replace(scorm_delivery.SCORM12, start=start, commit=commit)
    custom = Deliveries([entry, scorm_delivery.SCORM2004, scorm_delivery.ASSET_DELIVERY])
    services = dataclasses.replace(services, deliveries=custom)  # the registry the factory would hold
    course = import_course(GOLF12)
    opened, session = service.open_and_start(
        services, make_launch(course.course_key), learner_id="l", learner_name="Li"
    )
    assert session is not None
    service.commit(
        services, opened.attempt_id, session.item_id, {"seq": 1, "changes": {"cmi.core.lesson_location": "p2"}}
    )
    assert calls == [f"start {session.item_id} Li", "commit ['cmi.core.lesson_location']"]


def test_a_course_whose_standard_left_the_registry_is_refused(
    services: Services,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    only_2004 = Deliveries([scorm_delivery.SCORM2004, scorm_delivery.ASSET_DELIVERY])
    services = dataclasses.replace(services, deliveries=only_2004)
    course = import_course(GOLF12)
    with pytest.raises(StandardNotPlayable) as info:
        service.open_attempt(services, make_launch(course.course_key))
    assert info.value.message == "this course is scorm12; the player plays SCORM 2004 packages"


def test_the_player_page_is_the_one_the_delivery_names(
    app: Flask,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "player").mkdir()
    (tmp_path / "player" / "other.html").write_text("other page {{ player_config.attemptId }}")
    app.jinja_loader.searchpath.append(str(tmp_path))  # type: ignore[union-attr]
    entry = dataclasses.replace(scorm_delivery.SCORM12, player_template="player/other.html")
    custom = Deliveries([entry, scorm_delivery.SCORM2004, scorm_delivery.ASSET_DELIVERY])
    attach(app, dataclasses.replace(services_of(app), deliveries=custom))
    launch = make_launch(import_course(GOLF12).course_key)
    with app.test_request_context(f"/play/{launch.id}"):
        assert learner_page(launch).startswith("other page ")


def test_entries_document_what_they_provide() -> None:
    documented = deliveries_module.__doc__ or ""
    for field in dataclasses.fields(Delivery):
        if field.name not in ("kind", "label"):
            assert f"``{field.name}``" in documented, field.name


# -- one transaction each ----------------------------------------------------------------------


def _forced(services: Services, import_course: Callable, make_launch: Callable[..., Launch]) -> tuple[Any, Any]:
    course = import_course(FORCED)
    return service.open_and_start(services, make_launch(course.course_key), learner_id="l-1", learner_name="Ana")


def test_navigation_starts_the_next_session_in_its_one_transaction(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], counted: list[int]
) -> None:
    opened, first = _forced(services, import_course, make_launch)
    changes = {"cmi.completion_status": "completed", "cmi.success_status": "passed", "cmi.exit": "normal"}
    service.commit(services, opened.attempt_id, first.item_id, {"seq": 1, "changes": changes, "terminate": True})
    counted.clear()
    decision = service.navigate(services, opened.attempt_id, "continue", learner_id="l-1")
    assert len(counted) == 1
    assert decision.item is not None and decision.session is not None
    assert decision.session.item_id == decision.item.id != first.item_id
    assert decision.session.state["values"]["cmi.learner_name"] == "Ana Learner"  # the registration's (the LMS's)
    fresh = service.reopen_attempt(services, opened.attempt_id)
    assert decision.opened is not None and (decision.opened.toc, decision.opened.nav) == (fresh.toc, fresh.nav)


def test_the_commit_reply_carries_the_menu_of_its_own_transaction(
    app: Flask,
    client: FlaskClient,
    services: Services,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    counted: list[int],
) -> None:
    launch = make_launch(import_course(FORCED).course_key)
    with app.test_request_context(f"/play/{launch.id}"):
        html = learner_page(launch)
    found = re.search(r'<script type="application/json" id="cbsi-player-config">(.*?)</script>', html, re.S)
    assert found
    rt = json.loads(found.group(1))["runtime"]
    changes = {"cmi.completion_status": "completed", "cmi.success_status": "passed", "cmi.exit": "normal"}
    counted.clear()
    reply = client.post(
        rt["commitUrl"],
        data=json.dumps({"seq": 1, "changes": changes, "terminate": True}),
        headers={"Authorization": f"Bearer {rt['token']}"},
        content_type="application/json",
    ).get_json()
    assert len(counted) == 1  # was two: the commit, then a second transaction to rebuild the menu
    fresh = service.reopen_attempt(services, rt["attemptId"])
    with app.test_request_context("/"):
        assert reply["items"] == _toc_json(fresh)
    assert reply["nav"] == fresh.nav and reply["nav"]["continue"] is True


# -- the attempt status ------------------------------------------------------------------------


def _check_values(sql: str) -> set[str]:
    match = re.fullmatch(r"status IN \(((?:'[a-z_]+',?)+)\)", sql)
    assert match, sql
    return set(re.findall(r"'([a-z_]+)'", match.group(1)))


def test_attempt_status_enum_is_the_database_check() -> None:
    enum_values = {s.value for s in models.AttemptStatus}
    (model_check,) = [
        c for c in models.Attempt.__table__.constraints if getattr(c, "name", None) == "ck_attempts_status"
    ]
    assert _check_values(str(model_check.sqltext)) == enum_values
    migration = (REPO / "lti_tool/storage/migrations/versions/0005_runtime.py").read_text()
    (sql,) = re.findall(r'sa\.CheckConstraint\("(status IN [^"]+)", name="ck_attempts_status"\)', migration)
    assert _check_values(sql) == enum_values == {"active", "completed", "abandoned"}
