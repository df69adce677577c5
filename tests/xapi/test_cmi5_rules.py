"""cmi5 statement rules (spec §7.1, §9.3–9.6) and the LMS side (launch URL, LaunchData, moveOn)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from scorm.packaging.cmi5 import Cmi5AU, Cmi5Block, Cmi5Course, MoveOn
from scorm.xapi import cmi5
from scorm.xapi.cmi5 import AuRecord, AuSession, Cmi5Violation, LaunchMode, SessionState, judge
from scorm.xapi.cmi5_lms import (
    iso_duration,
    launch_data,
    launch_url,
    launched_statement,
    move_on_met,
    satisfaction,
)
from scorm.xapi.formats import is_duration

ACTOR = {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "officer-17"}}
ACTOR_KEY = "account:https://lms.example|officer-17"
AU_ID = "https://tool.example/cmi5/v7/au/1"
PUBLISHER = "https://publisher.example/course/au-1"
SESSION = AuSession(
    session_id="sess-1",
    registration="760e3480-ba55-4991-94b0-01820dbd23a2",
    activity_id=AU_ID,
    publisher_id=PUBLISHER,
    actor_key=ACTOR_KEY,
    mastery_score=0.8,
)


def statement(verb: str, *, defined: bool = True, moveon: bool = False, **result: Any) -> dict[str, Any]:
    category = [{"id": cmi5.CATEGORY_CMI5}] if defined else []
    if moveon:
        category.append({"id": cmi5.CATEGORY_MOVEON})
    body: dict[str, Any] = {
        "actor": ACTOR,
        "verb": {"id": verb},
        "object": {"id": AU_ID},
        "context": {
            "registration": SESSION.registration,
            "contextActivities": {"grouping": [{"id": PUBLISHER}], "category": category},
            "extensions": {cmi5.EXT_SESSION: SESSION.session_id},
        },
    }
    if result:
        body["result"] = result
    return body


INIT = statement(cmi5.INITIALIZED)
TERM = statement(cmi5.TERMINATED, duration="PT5M")
DONE = statement(cmi5.COMPLETED, moveon=True, completion=True, duration="PT4M")
PASS = statement(cmi5.PASSED, moveon=True, success=True, score={"scaled": 0.9}, duration="PT4M")
FAIL = statement(cmi5.FAILED, moveon=True, success=False, score={"scaled": 0.5}, duration="PT4M")
ANSWERED = statement("http://adlnet.gov/expapi/verbs/answered", defined=False)


def run(
    *statements: dict[str, Any], record: AuRecord | None = None, au: AuSession = SESSION
) -> tuple[SessionState, AuRecord]:
    session, rec = SessionState(), record or AuRecord()
    for st in statements:
        verdict = judge(st, au, session, rec, actor_key=ACTOR_KEY)
        session, rec = verdict.session, verdict.record
    return session, rec


def refused(*statements: dict[str, Any], record: AuRecord | None = None, au: AuSession = SESSION) -> str:
    *before, last = statements
    session, rec = run(*before, record=record, au=au)
    with pytest.raises(Cmi5Violation) as info:
        judge(last, au, session, rec, actor_key=ACTOR_KEY)
    return info.value.code


def test_a_whole_session_is_accepted_and_recorded() -> None:
    session, record = run(INIT, ANSWERED, DONE, PASS, TERM)
    assert session.terminated and record.completed and record.passed and record.score_scaled == 0.9
    verdict = judge(
        ANSWERED, SESSION, SessionState(verbs=frozenset({cmi5.INITIALIZED})), AuRecord(), actor_key=ACTOR_KEY
    )
    assert verdict.kind == "allowed"


@pytest.mark.parametrize(
    ("statements", "code"),
    [
        ((ANSWERED,), "cmi5_not_initialized"),
        ((DONE,), "cmi5_not_initialized"),
        ((INIT, INIT), "cmi5_duplicate_verb"),
        ((INIT, TERM, ANSWERED), "cmi5_session_terminated"),
        ((INIT, PASS, FAIL), "cmi5_passed_failed"),
        ((INIT, FAIL, PASS), "cmi5_passed_failed"),
        ((INIT, statement(cmi5.VOIDED, defined=False)), "cmi5_no_voiding"),
        ((INIT, statement(cmi5.SATISFIED)), "cmi5_lms_verb"),
        ((INIT, statement("http://adlnet.gov/expapi/verbs/answered")), "cmi5_unknown_verb"),
    ],
)
def test_session_order_rules(statements: tuple[dict[str, Any], ...], code: str) -> None:
    assert refused(*statements) == code


def test_registration_rules_across_sessions() -> None:
    _, record = run(INIT, DONE, PASS, TERM)
    assert refused(INIT, DONE, record=record) == "cmi5_completed_twice"
    assert refused(INIT, PASS, record=record) == "cmi5_passed_twice"
    assert refused(INIT, FAIL, record=record) == "cmi5_failed_after_passed"
    _, failed_once = run(INIT, FAIL, TERM)
    _, passed_later = run(INIT, PASS, TERM, record=failed_once)  # a later pass after a failure is fine
    assert passed_later.passed and passed_later.failed


def test_abandoned_session_takes_nothing_more() -> None:
    session = SessionState(verbs=frozenset({cmi5.INITIALIZED}), abandoned=True)
    with pytest.raises(Cmi5Violation) as info:
        judge(ANSWERED, SESSION, session, AuRecord(), actor_key=ACTOR_KEY)
    assert info.value.code == "cmi5_session_abandoned"


def mutate(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy_ = copy.deepcopy(base)
    node = copy_
    *parents, leaf = path.split("/")
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return copy_


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (mutate(DONE, "result/completion", None), "cmi5_result"),
        (mutate(DONE, "result/success", True), "cmi5_result"),
        (mutate(DONE, "result/score", {"scaled": 1}), "cmi5_result"),
        (mutate(DONE, "result/duration", None), "cmi5_duration"),
        (mutate(DONE, "result/duration", "5 minutes"), "cmi5_duration"),
        (mutate(PASS, "result/success", False), "cmi5_result"),
        (mutate(PASS, "result/score", {"scaled": 0.79}), "cmi5_mastery"),
        (mutate(FAIL, "result/score", {"scaled": 0.8}), "cmi5_mastery"),
        (mutate(FAIL, "result/success", None), "cmi5_result"),
        (statement(cmi5.PASSED, success=True, duration="PT1M"), "cmi5_moveon_category"),  # moveOn category missing
        (statement(cmi5.TERMINATED, moveon=True, duration="PT1M"), "cmi5_moveon_category"),
        (mutate(PASS, "object/id", "https://elsewhere.example/au"), "cmi5_object"),
        (mutate(PASS, "context/contextActivities/grouping", []), "cmi5_publisher_id"),
        (mutate(PASS, "context/registration", "other-registration"), "cmi5_registration"),
        (mutate(PASS, "context/extensions", {}), "cmi5_session"),
        (mutate(PASS, "context", None), "cmi5_context"),
    ],
)
def test_statement_shape_rules(bad: dict[str, Any], code: str) -> None:
    assert refused(INIT, bad) == code


def test_terminated_needs_a_duration_and_allowed_statements_are_not_shape_checked() -> None:
    assert refused(INIT, statement(cmi5.TERMINATED)) == "cmi5_duration"
    run(INIT, mutate(ANSWERED, "result", {"success": True, "score": {"scaled": 0.1}}))


def test_actor_must_be_the_launch_actor() -> None:
    with pytest.raises(Cmi5Violation) as info:
        judge(INIT, SESSION, SessionState(), AuRecord(), actor_key="account:https://lms.example|someone-else")
    assert info.value.code == "cmi5_actor"


def test_browse_and_review_modes_allow_only_initialized_and_terminated() -> None:
    browse = AuSession(**{**SESSION.__dict__, "launch_mode": LaunchMode.BROWSE})
    assert refused(INIT, DONE, au=browse) == "cmi5_launch_mode"
    session, record = run(INIT, ANSWERED, TERM, au=browse)
    assert session.terminated and not record.completed


def test_no_mastery_score_means_any_scaled_score_may_pass() -> None:
    free = AuSession(**{**SESSION.__dict__, "mastery_score": None})
    _, record = run(INIT, mutate(PASS, "result/score", {"scaled": 0.1}), au=free)
    assert record.passed and record.score_scaled == 0.1


@pytest.mark.parametrize(
    ("rule", "record", "met"),
    [
        (MoveOn.NOT_APPLICABLE, AuRecord(), True),
        (MoveOn.PASSED, AuRecord(completed=True), False),
        (MoveOn.PASSED, AuRecord(passed=True), True),
        (MoveOn.COMPLETED, AuRecord(passed=True), False),
        (MoveOn.COMPLETED_AND_PASSED, AuRecord(passed=True), False),
        (MoveOn.COMPLETED_AND_PASSED, AuRecord(passed=True, completed=True), True),
        (MoveOn.COMPLETED_OR_PASSED, AuRecord(completed=True), True),
        (MoveOn.COMPLETED_OR_PASSED, AuRecord(failed=True), False),
        (MoveOn.PASSED, AuRecord(waived=True), True),
    ],
)
def test_move_on(rule: MoveOn, record: AuRecord, met: bool) -> None:
    assert move_on_met(rule, record) is met


def test_block_and_course_satisfaction() -> None:
    a = Cmi5AU(id="au-a", url="a.html", move_on=MoveOn.PASSED)
    b = Cmi5AU(id="au-b", url="b.html", move_on=MoveOn.COMPLETED)
    c = Cmi5AU(id="au-c", url="c.html", move_on=MoveOn.NOT_APPLICABLE)
    course = Cmi5Course(id="course", children=(Cmi5Block(id="block-1", children=(a, b)), c))
    none = satisfaction(course, {})
    assert none.blocks == frozenset() and not none.course
    half = satisfaction(course, {"au-a": AuRecord(passed=True)})
    assert half.blocks == frozenset() and not half.course
    full = satisfaction(course, {"au-a": AuRecord(passed=True), "au-b": AuRecord(completed=True)})
    assert full.blocks == {"block-1"} and full.course


def test_launch_url_keeps_the_aus_own_query_and_encodes_every_value() -> None:
    url = launch_url(
        "https://tool.example/content/x/index.html?lang=es#start",
        endpoint="https://tool.example/xapi/",
        fetch="https://tool.example/cmi5/fetch/abc?x=1&y=2",
        actor=ACTOR,
        registration=SESSION.registration,
        activity_id=AU_ID,
    )
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.fragment == "start" and query["lang"] == ["es"]
    assert query["fetch"] == ["https://tool.example/cmi5/fetch/abc?x=1&y=2"]
    assert json.loads(query["actor"][0]) == ACTOR
    assert query["activityId"] == [AU_ID] and query["registration"] == [SESSION.registration]


def test_launch_data_and_launched_statement() -> None:
    au = Cmi5AU(
        id=PUBLISHER,
        url="a.html",
        move_on=MoveOn.PASSED,
        mastery_score=0.8,
        launch_parameters="lvl=2",
        entitlement_key="ek-1",
    )
    doc = launch_data(au, session_id="sess-1", launch_mode=LaunchMode.NORMAL, return_url="https://lms.example/back")
    assert doc["contextTemplate"]["extensions"][cmi5.EXT_SESSION] == "sess-1"
    assert doc["contextTemplate"]["contextActivities"]["grouping"] == [{"objectType": "Activity", "id": PUBLISHER}]
    assert (doc["launchMode"], doc["moveOn"], doc["masteryScore"]) == ("Normal", "Passed", 0.8)
    assert doc["launchParameters"] == "lvl=2" and doc["returnURL"] == "https://lms.example/back"
    assert doc["entitlementKey"] == {"courseStructure": "ek-1"}
    launched = launched_statement(
        au,
        actor=ACTOR,
        registration=SESSION.registration,
        session_id="sess-1",
        activity_id=AU_ID,
        launch_url="https://tool.example/content/x/a.html",
        launch_mode=LaunchMode.NORMAL,
        timestamp=datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
    )
    ext = launched["context"]["extensions"]
    assert launched["verb"]["id"] == cmi5.LAUNCHED and launched["object"]["id"] == AU_ID
    assert (ext[cmi5.EXT_MOVE_ON], ext[cmi5.EXT_MASTERY], ext[cmi5.EXT_LAUNCH_MODE]) == ("Passed", 0.8, "Normal")
    assert ext[cmi5.EXT_LAUNCH_PARAMETERS] == "lvl=2" and ext[cmi5.EXT_SESSION] == "sess-1"
    assert {"objectType": "Activity", "id": cmi5.CATEGORY_CMI5} in launched["context"]["contextActivities"]["category"]
    assert launched["timestamp"] == "2026-12-05T10:00:00Z"


@pytest.mark.parametrize(("seconds", "text"), [(0, "PT0S"), (59.5, "PT59.5S"), (3723, "PT1H2M3S"), (-4, "PT0S")])
def test_iso_duration(seconds: float, text: str) -> None:
    assert iso_duration(seconds) == text and is_duration(text)
