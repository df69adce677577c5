"""Session lifecycle (initial_state / finish_session / resume) and outcomes with rollup."""

from __future__ import annotations

import pytest

from scorm.cmi import (
    Completion,
    InvalidArgumentError,
    LmsComment,
    Outcome,
    Success,
    apply_commit,
    attempt_continues,
    finish_session,
    get_value,
    initial_state,
    outcome_from_state,
    rollup_outcomes,
    session_exit,
    set_value,
)


def _session(version, body, previous=None, **launch):
    params = {"learner_id": "s1", "learner_name": "Ann"}
    params.update(launch)
    state = initial_state(version, previous_state=previous, **params)
    result = apply_commit(state, body, version)
    assert result.rejected == ()
    return finish_session(result.state, version)


# --- initial_state ---------------------------------------------------------------------------


def test_initial_state_12_fresh():
    state = initial_state(
        "1.2",
        learner_id="u-42",
        learner_name="Doe, Ann",
        launch_data="level=2",
        mastery_score=80,
        max_time_allowed=5400,
        time_limit_action="exit,message",
        credit=False,
        mode="browse",
    )
    expected = {
        "cmi.core.student_id": "u-42",
        "cmi.core.student_name": "Doe, Ann",
        "cmi.core.entry": "ab-initio",
        "cmi.core.credit": "no-credit",
        "cmi.core.lesson_mode": "browse",
        "cmi.core.lesson_status": "not attempted",
        "cmi.core.total_time": "0000:00:00.00",
        "cmi.launch_data": "level=2",
        "cmi.student_data.mastery_score": "80",
        "cmi.student_data.max_time_allowed": "0001:30:00.00",
        "cmi.student_data.time_limit_action": "exit,message",
    }
    for element, value in expected.items():
        assert get_value(state, element, "1.2") == (value, 0)
    assert state["counts"] == {}


def test_initial_state_2004_fresh():
    state = initial_state(
        "2004",
        learner_id="urn:lti:user:42",
        learner_name="{lang=nl}Jan",
        launch_data="x=1",
        scaled_passing_score=0.75,
        completion_threshold="0.6",
        max_time_allowed="PT1H",
        time_limit_action="continue,message",
        comments_from_lms=[LmsComment(comment="Welcome", timestamp="2026-11-01T09:00:00.0Z")],
        shared_data=[("urn:store:a", "saved"), ("urn:store:b", None)],
        mode="review",
    )
    expected = {
        "cmi.learner_id": "urn:lti:user:42",
        "cmi.learner_name": "{lang=nl}Jan",
        "cmi.entry": "ab-initio",
        "cmi.credit": "credit",
        "cmi.mode": "review",
        "cmi.total_time": "PT0H0M0S",
        "cmi.launch_data": "x=1",
        "cmi.scaled_passing_score": "0.75",
        "cmi.completion_threshold": "0.6",
        "cmi.max_time_allowed": "PT1H",
        "cmi.time_limit_action": "continue,message",
        "cmi.comments_from_lms._count": "1",
        "cmi.comments_from_lms.0.comment": "Welcome",
        "cmi.comments_from_lms.0.timestamp": "2026-11-01T09:00:00.0Z",
        "adl.data._count": "2",
        "adl.data.0.id": "urn:store:a",
        "adl.data.0.store": "saved",
        "adl.data.1.id": "urn:store:b",
    }
    for element, value in expected.items():
        assert get_value(state, element, "2004") == (value, 0), element
    assert get_value(state, "adl.data.1.store", "2004") == ("", 403)
    assert get_value(state, "cmi.comments_from_lms.0.location", "2004") == ("", 403)


@pytest.mark.parametrize(
    ("version", "kwargs"),
    [
        ("1.2", {"scaled_passing_score": 0.5}),
        ("1.2", {"completion_threshold": 0.5}),
        ("1.2", {"comments_from_lms": [LmsComment(comment="x")]}),
        ("1.2", {"mastery_score": 101}),
        ("1.2", {"mode": "preview"}),
        ("1.2", {"credit": "maybe"}),
        ("1.2", {"learner_id": ""}),
        ("1.2", {"max_time_allowed": "PT1H"}),
        ("1.2", {"time_limit_action": "stop"}),
        ("2004", {"mastery_score": 80}),
        ("2004", {"scaled_passing_score": 1.5}),
        ("2004", {"completion_threshold": -0.1}),
        ("2004", {"learner_id": "has space"}),
        ("2004", {"learner_name": "x" * 251}),
        ("2004", {"max_time_allowed": "01:00:00"}),
        ("2004", {"comments_from_lms": [LmsComment(comment="c", timestamp="yesterday")]}),
    ],
)
def test_initial_state_refuses_invalid_launch_parameters(version, kwargs):
    params = {"learner_id": "s1", "learner_name": "Ann"}
    params.update(kwargs)
    with pytest.raises(InvalidArgumentError) as info:
        initial_state(version, **params)
    assert info.value.code == "invalid_argument"


# --- resume ----------------------------------------------------------------------------------

BODY_12 = {
    "cmi.core.lesson_location": "page-5",
    "cmi.suspend_data": "bookmark",
    "cmi.core.lesson_status": "incomplete",
    "cmi.core.score.raw": "40",
    "cmi.core.session_time": "00:10:00",
    "cmi.interactions.0.id": "q1",
    "cmi.objectives.0.id": "o1",
    "cmi.student_preference.audio": "50",
}


@pytest.mark.parametrize(("exit_value", "entry"), [("suspend", "resume"), ("", ""), ("logout", "")])
def test_resume_12(exit_value, entry):
    first = _session("1.2", {**BODY_12, "cmi.core.exit": exit_value})
    assert session_exit(first, "1.2") == exit_value
    assert attempt_continues(first, "1.2") is True
    second = initial_state("1.2", learner_id="s1", learner_name="Ann B", previous_state=first)
    assert get_value(second, "cmi.core.entry", "1.2") == (entry, 0)
    for element in (
        "cmi.core.lesson_location",
        "cmi.suspend_data",
        "cmi.core.lesson_status",
        "cmi.core.score.raw",
        "cmi.objectives.0.id",
        "cmi.student_preference.audio",
    ):
        assert get_value(second, element, "1.2") == (BODY_12[element], 0)
    assert get_value(second, "cmi.core.total_time", "1.2") == ("0000:10:00.00", 0)
    assert get_value(second, "cmi.core.student_name", "1.2") == ("Ann B", 0)
    assert get_value(second, "cmi.interactions._count", "1.2") == ("1", 0)
    assert "cmi.core.exit" not in second["values"]
    assert "cmi.core.session_time" not in second["values"]


def test_first_launch_12_is_ab_initio():
    state = initial_state("1.2", learner_id="s1", learner_name="Ann")
    assert get_value(state, "cmi.core.entry", "1.2") == ("ab-initio", 0)


BODY_2004 = {
    "cmi.location": "page-5",
    "cmi.suspend_data": "bookmark",
    "cmi.completion_status": "incomplete",
    "cmi.score.scaled": "0.4",
    "cmi.session_time": "PT10M",
    "cmi.interactions.0.id": "q1",
    "cmi.objectives.0.id": "o1",
    "cmi.learner_preference.audio_level": "0.5",
    "cmi.comments_from_learner.0.comment": "note",
    "adl.nav.request": "continue",
}


def test_resume_2004_after_suspend():
    first = _session(
        "2004",
        {**BODY_2004, "cmi.exit": "suspend"},
        comments_from_lms=[LmsComment(comment="old")],
    )
    assert attempt_continues(first, "2004") is True
    second = initial_state("2004", learner_id="s1", learner_name="Ann", previous_state=first)
    assert get_value(second, "cmi.entry", "2004") == ("resume", 0)
    for element in (
        "cmi.location",
        "cmi.suspend_data",
        "cmi.completion_status",
        "cmi.score.scaled",
        "cmi.interactions.0.id",
        "cmi.objectives.0.id",
        "cmi.learner_preference.audio_level",
        "cmi.comments_from_learner.0.comment",
    ):
        assert get_value(second, element, "2004") == (BODY_2004[element], 0), element
    assert get_value(second, "cmi.total_time", "2004") == ("PT0H10M0S", 0)
    assert get_value(second, "cmi.comments_from_lms._count", "2004") == ("0", 0)
    assert get_value(second, "adl.nav.request", "2004") == ("_none_", 0)
    assert get_value(second, "cmi.exit", "2004") == ("", 405)
    assert "cmi.exit" not in second["values"]


@pytest.mark.parametrize("exit_value", ["normal", "", "logout", "time-out"])
def test_new_attempt_2004_after_non_suspend_exit(exit_value):
    first = _session("2004", {**BODY_2004, "cmi.exit": exit_value})
    assert attempt_continues(first, "2004") is False
    second = initial_state("2004", learner_id="s1", learner_name="Ann", previous_state=first)
    assert get_value(second, "cmi.entry", "2004") == ("ab-initio", 0)
    assert get_value(second, "cmi.location", "2004") == ("", 403)
    assert get_value(second, "cmi.suspend_data", "2004") == ("", 403)
    assert get_value(second, "cmi.interactions._count", "2004") == ("0", 0)
    assert get_value(second, "cmi.total_time", "2004") == ("PT0H0M0S", 0)
    assert get_value(second, "cmi.completion_status", "2004") == ("unknown", 0)
    # learner-level preferences survive a new attempt
    assert get_value(second, "cmi.learner_preference.audio_level", "2004") == ("0.5", 0)


@pytest.mark.parametrize(("lenient", "entry"), [(True, "resume"), (False, "ab-initio")])
def test_2004_exit_never_written(lenient, entry):
    first = _session("2004", BODY_2004)  # tab closed: no cmi.exit at all
    assert session_exit(first, "2004") is None
    second = initial_state(
        "2004",
        learner_id="s1",
        learner_name="Ann",
        previous_state=first,
        resume_if_exit_unset=lenient,
    )
    assert get_value(second, "cmi.entry", "2004") == (entry, 0)
    assert ("cmi.suspend_data" in second["values"]) is lenient


# --- finish_session --------------------------------------------------------------------------


def test_finish_accumulates_time_once():
    state = initial_state("2004", learner_id="s1", learner_name="Ann")
    state = apply_commit(state, {"cmi.session_time": "PT1H0M0.5S"}, "2004").state
    once = finish_session(state, "2004")
    twice = finish_session(once, "2004")
    assert get_value(once, "cmi.total_time", "2004") == ("PT1H0M0.5S", 0)
    assert twice == once
    later = apply_commit(once, {"cmi.session_time": "PT30M"}, "2004").state
    assert get_value(finish_session(later, "2004"), "cmi.total_time", "2004") == (
        "PT1H30M0.5S",
        0,
    )


def test_finish_accumulates_time_12_over_99_hours():
    state = initial_state("1.2", learner_id="s1", learner_name="Ann")
    state["values"]["cmi.core.total_time"] = "0099:59:00.00"
    state = apply_commit(state, {"cmi.core.session_time": "00:02:30.25"}, "1.2").state
    done = finish_session(state, "1.2")
    assert get_value(done, "cmi.core.total_time", "1.2") == ("0100:01:30.25", 0)


STATUS_12 = [
    # (set status, raw, mastery, credit, mode, expected status)
    (None, None, None, True, "normal", "completed"),
    (None, None, None, True, "browse", "browsed"),
    (None, None, None, False, "normal", "completed"),
    (None, "85", "80", True, "normal", "passed"),
    (None, "75", "80", True, "normal", "failed"),
    (None, "80", "80", True, "normal", "passed"),
    ("completed", "75", "80", True, "normal", "failed"),
    ("passed", "75", "80", True, "normal", "failed"),
    ("failed", "95", "80", True, "normal", "passed"),
    ("incomplete", "95", "80", True, "normal", "incomplete"),
    ("completed", "75", "80", False, "normal", "completed"),  # no-credit: no override
    ("completed", "75", None, True, "normal", "completed"),  # no mastery score
    ("completed", None, "80", True, "normal", "completed"),  # no raw score
    ("passed", None, None, True, "normal", "passed"),
    ("completed", "75", "80", True, "review", "completed"),
]


@pytest.mark.parametrize(("status", "raw", "mastery", "credit", "mode", "expected"), STATUS_12)
def test_finish_status_rules_12(status, raw, mastery, credit, mode, expected):
    state = initial_state(
        "1.2", learner_id="s1", learner_name="Ann", mastery_score=mastery, credit=credit, mode=mode
    )
    body = {}
    if status is not None:
        body["cmi.core.lesson_status"] = status
    if raw is not None:
        body["cmi.core.score.raw"] = raw
    state = apply_commit(state, body, "1.2").state
    done = finish_session(state, "1.2")
    assert get_value(done, "cmi.core.lesson_status", "1.2") == (expected, 0)


@pytest.mark.parametrize(
    ("launch", "body", "completion", "success"),
    [
        ({}, {}, "unknown", "unknown"),
        ({}, {"cmi.completion_status": "completed"}, "completed", "unknown"),
        ({"completion_threshold": 0.5}, {"cmi.progress_measure": "0.5"}, "completed", "unknown"),
        (
            {"completion_threshold": 0.5},
            {"cmi.progress_measure": "0.4", "cmi.completion_status": "completed"},
            "incomplete",
            "unknown",
        ),
        ({"scaled_passing_score": 0.6}, {"cmi.score.scaled": "0.6"}, "unknown", "passed"),
        (
            {"scaled_passing_score": 0.6},
            {"cmi.score.scaled": "0.5", "cmi.success_status": "passed"},
            "unknown",
            "failed",
        ),
        ({"scaled_passing_score": 0.6}, {"cmi.success_status": "passed"}, "unknown", "unknown"),
    ],
)
def test_finish_status_evaluation_2004(launch, body, completion, success):
    state = initial_state("2004", learner_id="s1", learner_name="Ann", **launch)
    done = finish_session(apply_commit(state, body, "2004").state, "2004")
    # stored as evaluated; an "unknown" the SCO never wrote stays unwritten (the default)
    assert done["values"].get("cmi.completion_status", "unknown") == completion
    assert done["values"].get("cmi.success_status", "unknown") == success
    for element in ("cmi.completion_status", "cmi.success_status"):
        if element in body:
            assert element in done["values"]  # the SCO wrote it: it stays the content's


# --- outcome ---------------------------------------------------------------------------------

OUTCOME_12 = [
    ("passed", Completion.COMPLETED, Success.PASSED),
    ("completed", Completion.COMPLETED, Success.UNKNOWN),
    ("failed", Completion.COMPLETED, Success.FAILED),
    ("incomplete", Completion.INCOMPLETE, Success.UNKNOWN),
    ("browsed", Completion.INCOMPLETE, Success.UNKNOWN),
    ("not attempted", Completion.NOT_ATTEMPTED, Success.UNKNOWN),
]


@pytest.mark.parametrize(("status", "completion", "success"), OUTCOME_12)
def test_outcome_status_mapping_12(status, completion, success):
    state = initial_state("1.2", learner_id="s1", learner_name="Ann")
    state["values"]["cmi.core.lesson_status"] = status
    outcome = outcome_from_state(state, "1.2")
    assert (outcome.completion, outcome.success) == (completion, success)


@pytest.mark.parametrize(
    ("raw", "low", "high", "scaled"),
    [
        ("85", None, None, 0.85),
        ("0", None, None, 0.0),
        ("100", None, None, 1.0),
        ("15", "10", "20", 0.5),
        ("5", "10", "20", 0.0),  # clamped
        ("50", "0", "40", 1.0),  # clamped
        ("50", "50", "50", None),  # degenerate range
        (None, "0", "100", None),
        ("", None, None, None),
    ],
)
def test_outcome_score_12(raw, low, high, scaled):
    state = initial_state("1.2", learner_id="s1", learner_name="Ann")
    for key, value in (("raw", raw), ("min", low), ("max", high)):
        if value is not None:
            state["values"][f"cmi.core.score.{key}"] = value
    outcome = outcome_from_state(state, "1.2")
    assert outcome.score_scaled == (pytest.approx(scaled) if scaled is not None else None)
    assert outcome.progress is None


@pytest.mark.parametrize(
    ("values", "scaled"),
    [
        ({"cmi.score.scaled": "0.8"}, 0.8),
        ({"cmi.score.scaled": "-0.5"}, 0.0),  # gradebooks take no negative fraction
        ({"cmi.score.raw": "30", "cmi.score.min": "0", "cmi.score.max": "40"}, 0.75),
        ({"cmi.score.raw": "30"}, None),  # no min/max: not derivable in 2004
        ({"cmi.score.raw": "30", "cmi.score.max": "40", "cmi.score.scaled": "0.1"}, 0.1),
        ({}, None),
    ],
)
def test_outcome_score_2004(values, scaled):
    state = initial_state("2004", learner_id="s1", learner_name="Ann")
    state["values"].update(values)
    outcome = outcome_from_state(state, "2004")
    assert outcome.score_scaled == (pytest.approx(scaled) if scaled is not None else None)


def test_outcome_2004_full():
    state = initial_state(
        "2004",
        learner_id="s1",
        learner_name="Ann",
        completion_threshold=0.8,
        scaled_passing_score=0.5,
    )
    state = apply_commit(
        state,
        {
            "cmi.progress_measure": "0.9",
            "cmi.score.scaled": "0.7",
            "cmi.score.raw": "7",
            "cmi.score.min": "0",
            "cmi.score.max": "10",
            "cmi.session_time": "PT2M",
        },
        "2004",
    ).state
    expected = Outcome(
        score_scaled=0.7,
        score_raw=7.0,
        score_min=0.0,
        score_max=10.0,
        completion=Completion.COMPLETED,
        success=Success.PASSED,
        progress=0.9,
        total_time_seconds=120.0,
    )
    assert outcome_from_state(state, "2004") == expected
    assert outcome_from_state(finish_session(state, "2004"), "2004") == expected


def test_outcome_12_time_includes_pending_session():
    state = initial_state("1.2", learner_id="s1", learner_name="Ann")
    state["values"]["cmi.core.total_time"] = "0001:00:00.00"
    state["values"]["cmi.core.session_time"] = "00:00:30.5"
    assert outcome_from_state(state, "1.2").total_time_seconds == 3630.5


def _o(scaled=None, completion=Completion.COMPLETED, success=Success.UNKNOWN, progress=None, t=0):
    return Outcome(
        score_scaled=scaled,
        completion=completion,
        success=success,
        progress=progress,
        total_time_seconds=t,
    )


C, INC, N, U = (
    Completion.COMPLETED,
    Completion.INCOMPLETE,
    Completion.NOT_ATTEMPTED,
    Completion.UNKNOWN,
)
P, F, S_U = Success.PASSED, Success.FAILED, Success.UNKNOWN


@pytest.mark.parametrize(
    ("outcomes", "weights", "expected"),
    [
        ([], None, Outcome()),
        (
            [_o(0.5, t=10), _o(1.0, t=20)],
            None,
            Outcome(score_scaled=0.75, completion=C, total_time_seconds=30),
        ),
        ([_o(0.5), _o(1.0)], [3, 1], Outcome(score_scaled=0.625, completion=C)),
        ([_o(0.5), _o(None)], None, Outcome(score_scaled=0.5, completion=C)),
        ([_o(0.5), _o(1.0)], [0, 1], Outcome(score_scaled=1.0, completion=C)),
        ([_o(0.5), _o(1.0)], [0, 0], Outcome(score_scaled=None, completion=C)),
        ([_o(completion=C), _o(completion=INC)], None, Outcome(completion=INC)),
        ([_o(completion=N), _o(completion=N)], None, Outcome(completion=N)),
        ([_o(completion=N), _o(completion=C)], None, Outcome(completion=INC)),
        ([_o(completion=U), _o(completion=U)], None, Outcome(completion=U)),
        ([_o(completion=U), _o(completion=C)], None, Outcome(completion=INC)),
        ([_o(success=P), _o(success=P)], None, Outcome(completion=C, success=P)),
        ([_o(success=P), _o(success=F)], None, Outcome(completion=C, success=F)),
        ([_o(success=P), _o(success=S_U)], None, Outcome(completion=C, success=S_U)),
        ([_o(success=F), _o(success=S_U)], None, Outcome(completion=C, success=F)),
        ([_o(progress=0.2), _o(progress=0.6), _o()], None, Outcome(completion=C, progress=0.4)),
    ],
)
def test_rollup(outcomes, weights, expected):
    got = rollup_outcomes(outcomes, weights)
    assert got.completion == expected.completion
    assert got.success == expected.success
    assert got.total_time_seconds == expected.total_time_seconds
    for name in ("score_scaled", "progress"):
        want = getattr(expected, name)
        assert getattr(got, name) == (pytest.approx(want) if want is not None else None)
    assert (got.score_raw, got.score_min, got.score_max) == (None, None, None)


@pytest.mark.parametrize("weights", [[1], [1, 2, 3], [1, -1]])
def test_rollup_bad_weights(weights):
    with pytest.raises(InvalidArgumentError):
        rollup_outcomes([_o(0.5), _o(0.7)], weights)


def test_objective_ids_initialised_and_appended_on_resume():
    state = initial_state(
        "2004", learner_id="s1", learner_name="Ann", objective_ids=["PRIMARY", "obj_a", "obj_a"]
    )
    assert state["counts"]["cmi.objectives"] == 2
    assert get_value(state, "cmi.objectives.1.id", "2004") == ("obj_a", 0)
    body = {
        "cmi.objectives.1.score.scaled": "0.5",
        "cmi.objectives.2.id": "sco_own",
        "cmi.exit": "suspend",
    }
    first = finish_session(apply_commit(state, body, "2004").state, "2004")
    second = initial_state(
        "2004",
        learner_id="s1",
        learner_name="Ann",
        objective_ids=["PRIMARY", "obj_a", "obj_b"],
        previous_state=first,
    )
    assert get_value(second, "cmi.objectives._count", "2004") == ("4", 0)
    assert [second["values"][f"cmi.objectives.{i}.id"] for i in range(4)] == [
        "PRIMARY",
        "obj_a",
        "sco_own",
        "obj_b",
    ]
    assert get_value(second, "cmi.objectives.1.score.scaled", "2004") == ("0.5", 0)


def test_objective_ids_are_2004_only():
    with pytest.raises(InvalidArgumentError):
        initial_state("1.2", learner_id="s1", learner_name="Ann", objective_ids=["o"])


def test_shared_data_permissions_of_the_manifest_map_are_enforced() -> None:
    """RTE 4th §4.3 / CAM adlcp:map: readSharedData=false -> 405, writeSharedData=false -> 404."""
    state = initial_state(
        "2004",
        learner_id="s1",
        learner_name="Ann",
        shared_data=(
            ("store-both", "b", True, True),
            ("store-read-only", "r", True, False),
            ("store-write-only", "w", False, True),
            ("store-none", "n", False, False),
        ),
    )
    assert get_value(state, "adl.data._count", "2004") == ("4", 0)
    assert get_value(state, "adl.data.1.store", "2004") == ("r", 0)
    assert set_value(state, "adl.data.1.store", "x", "2004")[1] == 404
    # a store the SCO may not read is not even loaded into the document
    assert "adl.data.2.store" not in state["values"]
    assert get_value(state, "adl.data.2.store", "2004") == ("", 405)
    written, code = set_value(state, "adl.data.2.store", "x", "2004")
    assert code == 0 and written["values"]["adl.data.2.store"] == "x"
    assert get_value(written, "adl.data.2.store", "2004") == ("", 405)
    assert get_value(state, "adl.data.3.store", "2004") == ("", 405)
    assert set_value(state, "adl.data.3.store", "x", "2004")[1] == 404
    # the ids stay readable, the permission record is no element a SCO can reach
    assert get_value(state, "adl.data.3.id", "2004") == ("store-none", 0)
    assert get_value(state, "adl.data.3.~access", "2004")[1] == 401
    assert set_value(state, "adl.data.3.~access", "rw", "2004")[1] == 401
    # a browser commit goes through the same rules
    result = apply_commit(state, {"adl.data.1.store": "x", "adl.data.0.store": "y"}, "2004")
    assert [r.code for r in result.rejected] == [404]
    assert result.state["values"]["adl.data.0.store"] == "y"
    # an empty store reads as not initialised (ADL CTS DMI)
    cleared, code = set_value(state, "adl.data.0.store", "", "2004")
    assert code == 0 and get_value(cleared, "adl.data.0.store", "2004") == ("", 403)


# --- one function per version over typed launch parameters (issue 11) ------------------------


def test_initial_state_12_from_typed_parameters():
    from scorm.cmi import Scorm12Launch, initial_state_12

    params = Scorm12Launch(learner_id="s1", learner_name="Ann", mastery_score=80, max_time_allowed=90.5)
    state = initial_state_12(params)
    assert state == initial_state("1.2", learner_id="s1", learner_name="Ann", mastery_score=80, max_time_allowed=90.5)
    assert state["values"]["cmi.student_data.mastery_score"] == "80"
    assert state["values"]["cmi.student_data.max_time_allowed"] == "0000:01:30.50"
    assert state["values"]["cmi.core.entry"] == "ab-initio"
    resumed = initial_state_12(params, {**state, "values": {**state["values"], "cmi.core.exit": "suspend"}})
    assert resumed["values"]["cmi.core.entry"] == "resume"


def test_initial_state_2004_from_typed_parameters():
    from scorm.cmi import Scorm2004Launch, initial_state_2004

    params = Scorm2004Launch(
        learner_id="s1",
        learner_name="Ann",
        scaled_passing_score=0.5,
        completion_threshold=0.75,
        objective_ids=("obj-a",),
        objectives=({"id": "obj-b", "success_status": "passed"},),
    )
    state = initial_state_2004(params)
    values = state["values"]
    assert (values["cmi.scaled_passing_score"], values["cmi.completion_threshold"]) == ("0.5", "0.75")
    assert (values["cmi.objectives.0.id"], values["cmi.objectives.1.id"]) == ("obj-a", "obj-b")
    assert values["cmi.objectives.1.success_status"] == "passed"
    assert state["counts"]["cmi.objectives"] == 2
    # a session that never wrote cmi.exit resumes only when the caller says so
    assert initial_state_2004(params, state)["values"]["cmi.entry"] == "resume"
    assert initial_state_2004(params, state, resume_if_exit_unset=False)["values"]["cmi.entry"] == "ab-initio"


@pytest.mark.parametrize(
    ("version", "kwargs", "message"),
    [
        ("1.2", {"objectives": [{"id": "o"}]}, "objectives is a SCORM 2004 setting, not SCORM 1.2."),
        ("2004", {"mastery_score": 80}, "mastery_score is a SCORM 1.2 setting, not SCORM 2004; use scaled_passing_score."),  # noqa: E501
        ("2004", {"lesson_location": "x"}, "lesson_location is not a launch parameter."),
    ],
)
def test_launch_parameters_name_the_wrong_version(version, kwargs, message):
    from scorm.cmi import launch_parameters

    with pytest.raises(InvalidArgumentError) as info:
        launch_parameters(version, learner_id="s1", learner_name="Ann", **kwargs)
    assert info.value.args[0] == message


def test_launch_parameters_are_frozen():
    import dataclasses

    from scorm.cmi import Scorm2004Launch

    params = Scorm2004Launch(learner_id="s1", learner_name="Ann")
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.learner_id = "s2"  # type: ignore[misc]
