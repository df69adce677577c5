"""Access rules, keywords, arrays, dependencies and error codes of get_value/set_value."""

from __future__ import annotations

import pytest

from scorm.cmi import (
    ErrorKind,
    InvalidStateError,
    UnknownVersionError,
    empty_state,
    error_code,
    error_message,
    get_value,
    get_value_kind,
    normalise_version,
    set_value,
    table_for,
)
from scorm.cmi.errors import CODES_12, CODES_2004, MESSAGES_12, MESSAGES_2004


def _apply(state, pairs, version):
    for element, value in pairs:
        state, code = set_value(state, element, value, version)
        assert code == 0, (element, value, code)
    return state


# --- Access rules: the element lists are written out from the specs, then checked against
# --- both the table and the behaviour.

RO_12 = [
    "cmi.core.student_id",
    "cmi.core.student_name",
    "cmi.core.credit",
    "cmi.core.entry",
    "cmi.core.total_time",
    "cmi.core.lesson_mode",
    "cmi.launch_data",
    "cmi.comments_from_lms",
    "cmi.student_data.mastery_score",
    "cmi.student_data.max_time_allowed",
    "cmi.student_data.time_limit_action",
]
WO_12 = [
    "cmi.core.exit",
    "cmi.core.session_time",
    "cmi.interactions.0.id",
    "cmi.interactions.0.objectives.0.id",
    "cmi.interactions.0.time",
    "cmi.interactions.0.type",
    "cmi.interactions.0.correct_responses.0.pattern",
    "cmi.interactions.0.weighting",
    "cmi.interactions.0.student_response",
    "cmi.interactions.0.result",
    "cmi.interactions.0.latency",
]
RO_2004 = [
    "cmi.comments_from_lms.0.comment",
    "cmi.comments_from_lms.0.location",
    "cmi.comments_from_lms.0.timestamp",
    "cmi.completion_threshold",
    "cmi.credit",
    "cmi.entry",
    "cmi.launch_data",
    "cmi.learner_id",
    "cmi.learner_name",
    "cmi.max_time_allowed",
    "cmi.mode",
    "cmi.scaled_passing_score",
    "cmi.time_limit_action",
    "cmi.total_time",
    "adl.nav.request_valid.continue",
    "adl.nav.request_valid.previous",
    "adl.nav.request_valid.choice.{target=sco1}",
    "adl.nav.request_valid.jump.{target=sco1}",
    "adl.data.0.id",
]
WO_2004 = ["cmi.exit", "cmi.session_time"]


def _concrete_to_path(element):
    import re

    if element.startswith("adl.nav.request_valid.choice"):
        return "adl.nav.request_valid.choice.{target=}"
    if element.startswith("adl.nav.request_valid.jump"):
        return "adl.nav.request_valid.jump.{target=}"
    return re.sub(r"\.\d+(?=\.|$)", ".n", element)


@pytest.mark.parametrize(("version", "ro", "wo"), [("1.2", RO_12, WO_12), ("2004", RO_2004, WO_2004)])
def test_table_access_matches_spec_lists(version, ro, wo):
    table = table_for(version)
    got_ro = {p for p, s in table.elements.items() if s.access.value == "RO" and not s.keyword}
    got_wo = {p for p, s in table.elements.items() if s.access.value == "WO"}
    assert got_ro == {_concrete_to_path(e) for e in ro}
    assert got_wo == {_concrete_to_path(e) for e in wo}


@pytest.mark.parametrize(
    ("version", "element", "code"),
    [("1.2", e, 403) for e in RO_12] + [("2004", e, 404) for e in RO_2004],
)
def test_read_only_write_refused(version, element, code):
    state = empty_state(version)
    if version == "2004":
        state["values"].update(
            {
                "cmi.comments_from_lms.0.comment": "c",
                "adl.data.0.id": "urn:d:1",
            }
        )
        state["counts"].update({"cmi.comments_from_lms": 1, "adl.data": 1})
    value = "x"
    new_state, got = set_value(state, element, value, version)
    assert got == code
    assert new_state["values"].get(element) == state["values"].get(element)


@pytest.mark.parametrize(
    ("version", "element", "code"),
    [("1.2", e, 404) for e in WO_12] + [("2004", e, 405) for e in WO_2004],
)
def test_write_only_read_refused(version, element, code):
    state = empty_state(version)
    if version == "1.2":
        state = _apply(
            state,
            [
                ("cmi.interactions.0.id", "q1"),
                ("cmi.interactions.0.objectives.0.id", "o1"),
                ("cmi.interactions.0.correct_responses.0.pattern", "a"),
            ],
            version,
        )
    value, got = get_value(state, element, version)
    assert (value, got) == ("", code)


def test_write_only_values_are_stored_though_unreadable():
    state, code = set_value(empty_state("2004"), "cmi.session_time", "PT5M", "2004")
    assert code == 0
    assert state["values"]["cmi.session_time"] == "PT5M"
    assert get_value(state, "cmi.session_time", "2004") == ("", 405)


# --- Undefined elements ---------------------------------------------------------------------

UNDEFINED = [
    "cmi.foo",
    "cmi.core.foo",
    "cmi.interactions.0.foo",
    "cmi",
    "cmi.core",
    "cmi.interactions",
    "adl.foo",
    "cmi.interactions.n.id",
    "cmi.interactions.-1.id",
    "cmi.interactions.0",
    "CMI.core.student_id",
    "cmi.learner_id ",
    "foo",
]


@pytest.mark.parametrize("element", UNDEFINED)
@pytest.mark.parametrize(("version", "code"), [("1.2", 201), ("2004", 401)])
def test_undefined_element(element, version, code):
    state = empty_state(version)
    assert get_value(state, element, version) == ("", code)
    assert set_value(state, element, "x", version)[1] == code


@pytest.mark.parametrize("index", ["00", "01", "007"])
def test_non_canonical_index_is_an_invalid_index_not_an_undefined_element(index):
    """ADL CTS DMI: SetValue("cmi.interactions.01.id") answers 351 (RTE 4th §4.1.1.3), not 401."""
    state, code = set_value(empty_state("2004"), "cmi.interactions.0.id", "q0", "2004")
    state, code = set_value(state, "cmi.interactions.1.id", "q1", "2004")
    assert code == 0
    assert set_value(state, f"cmi.interactions.{index}.id", "x", "2004")[1] == 351
    assert get_value(state, f"cmi.interactions.{index}.id", "2004") == ("", 301)
    assert set_value(empty_state("1.2"), f"cmi.interactions.{index}.id", "x", "1.2")[1] == 201


@pytest.mark.parametrize(
    ("version", "element"),
    [
        ("1.2", "cmi.learner_id"),  # a 2004 name
        ("1.2", "cmi.location"),
        ("1.2", "adl.nav.request"),
        ("2004", "cmi.core.student_id"),  # a 1.2 name
        ("2004", "cmi.student_data.mastery_score"),
        ("2004", "cmi.interactions.0.student_response"),
    ],
)
def test_other_versions_elements_are_undefined(version, element):
    code = 201 if version == "1.2" else 401
    assert get_value(empty_state(version), element, version)[1] == code


@pytest.mark.parametrize(("version", "get_code", "set_code"), [("1.2", 201, 201), ("2004", 301, 351)])
def test_empty_element_name(version, get_code, set_code):
    state = empty_state(version)
    assert get_value(state, "", version) == ("", get_code)
    assert set_value(state, "", "x", version)[1] == set_code


# --- Keywords --------------------------------------------------------------------------------

CHILDREN = [
    (
        "1.2",
        "cmi.core._children",
        "student_id,student_name,lesson_location,credit,lesson_status,entry,score,total_time,"
        "lesson_mode,exit,session_time",
    ),
    ("1.2", "cmi.core.score._children", "raw,min,max"),
    ("1.2", "cmi.objectives._children", "id,score,status"),
    ("1.2", "cmi.student_data._children", "mastery_score,max_time_allowed,time_limit_action"),
    ("1.2", "cmi.student_preference._children", "audio,language,speed,text"),
    (
        "1.2",
        "cmi.interactions._children",
        "id,objectives,time,type,correct_responses,weighting,student_response,result,latency",
    ),
    ("2004", "cmi.comments_from_learner._children", "comment,location,timestamp"),
    ("2004", "cmi.comments_from_lms._children", "comment,location,timestamp"),
    (
        "2004",
        "cmi.interactions._children",
        "id,type,objectives,timestamp,correct_responses,weighting,learner_response,result,latency,description",
    ),
    (
        "2004",
        "cmi.learner_preference._children",
        "audio_level,language,delivery_speed,audio_captioning",
    ),
    (
        "2004",
        "cmi.objectives._children",
        "id,score,success_status,completion_status,progress_measure,description",
    ),
    ("2004", "cmi.score._children", "scaled,raw,min,max"),
    ("2004", "adl.data._children", "id,store"),
    ("1.2", "cmi._version", "3.4"),
    ("2004", "cmi._version", "1.0"),
]


@pytest.mark.parametrize(("version", "element", "expected"), CHILDREN)
def test_children_and_version(version, element, expected):
    assert get_value(empty_state(version), element, version) == (expected, 0)


@pytest.mark.parametrize(("version", "element", "_expected"), CHILDREN)
def test_keyword_write_refused(version, element, _expected):
    code = 402 if version == "1.2" else 404
    assert set_value(empty_state(version), element, "x", version)[1] == code


@pytest.mark.parametrize(
    ("version", "element", "code"),
    [
        ("1.2", "cmi.core.student_id._children", 202),
        ("1.2", "cmi.core.lesson_status._children", 202),
        ("1.2", "cmi.suspend_data._children", 202),
        ("1.2", "cmi.core._count", 203),
        ("1.2", "cmi.core.score._count", 203),
        ("1.2", "cmi.student_data._count", 203),
        ("1.2", "cmi.foo._children", 201),
        ("1.2", "cmi.foo._count", 201),
        ("2004", "cmi.learner_id._children", 301),
        ("2004", "cmi.location._children", 301),
        ("2004", "cmi.score._count", 301),
        ("2004", "cmi.learner_preference._count", 301),
        ("2004", "cmi.foo._children", 401),
        ("2004", "cmi.foo._count", 401),
        ("2004", "cmi.foo._version", 401),
    ],
)
def test_keyword_on_element_without_it(version, element, code):
    assert get_value(empty_state(version), element, version) == ("", code)


@pytest.mark.parametrize(
    ("version", "element", "code"),
    [
        ("1.2", "cmi.core.student_id._children", 402),
        ("1.2", "cmi.core._count", 402),
        ("1.2", "cmi.interactions._count", 402),
        ("2004", "cmi.interactions._count", 404),
        ("2004", "cmi.score._count", 404),
        ("2004", "cmi.foo._count", 401),
    ],
)
def test_keyword_set_codes(version, element, code):
    assert set_value(empty_state(version), element, "1", version)[1] == code


# --- Arrays ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "gap_code"), [("1.2", 201), ("2004", 351)])
def test_array_index_gap_refused(version, gap_code):
    state = empty_state(version)
    assert set_value(state, "cmi.objectives.1.id", "o2", version)[1] == gap_code
    state = _apply(state, [("cmi.objectives.0.id", "o1")], version)
    assert get_value(state, "cmi.objectives._count", version) == ("1", 0)
    assert set_value(state, "cmi.objectives.2.id", "o3", version)[1] == gap_code
    state = _apply(state, [("cmi.objectives.1.id", "o2")], version)
    assert get_value(state, "cmi.objectives._count", version) == ("2", 0)
    # updating an existing entry does not change the count
    state = _apply(state, [("cmi.objectives.0.score.raw", "50")], version)
    assert get_value(state, "cmi.objectives._count", version) == ("2", 0)


@pytest.mark.parametrize(("version", "code"), [("1.2", 201), ("2004", 301)])
def test_get_beyond_count(version, code):
    state = _apply(empty_state(version), [("cmi.objectives.0.id", "o1")], version)
    assert get_value(state, "cmi.objectives.0.id", version) == ("o1", 0)
    assert get_value(state, "cmi.objectives.1.id", version) == ("", code)
    assert get_value(state, "cmi.objectives.7.score.raw", version) == ("", code)


def test_nested_counts_2004():
    state = _apply(
        empty_state("2004"),
        [
            ("cmi.interactions.0.id", "q1"),
            ("cmi.interactions.0.type", "choice"),
            ("cmi.interactions.0.objectives.0.id", "o1"),
            ("cmi.interactions.0.objectives.1.id", "o2"),
            ("cmi.interactions.0.correct_responses.0.pattern", "a"),
            ("cmi.interactions.1.id", "q2"),
        ],
        "2004",
    )
    assert get_value(state, "cmi.interactions._count", "2004") == ("2", 0)
    assert get_value(state, "cmi.interactions.0.objectives._count", "2004") == ("2", 0)
    assert get_value(state, "cmi.interactions.0.correct_responses._count", "2004") == ("1", 0)
    assert get_value(state, "cmi.interactions.1.objectives._count", "2004") == ("0", 0)
    assert get_value(state, "cmi.interactions.2.objectives._count", "2004") == ("", 301)
    assert state["counts"] == {
        "cmi.interactions": 2,
        "cmi.interactions.0.objectives": 2,
        "cmi.interactions.0.correct_responses": 1,
    }


def test_nested_arrays_12_create_parent_leniently():
    state, code = set_value(empty_state("1.2"), "cmi.interactions.0.objectives.0.id", "o1", "1.2")
    assert code == 0
    assert state["counts"] == {"cmi.interactions": 1, "cmi.interactions.0.objectives": 1}


def test_array_cap():
    state = empty_state("2004")
    state["counts"]["cmi.interactions"] = 1000
    assert set_value(state, "cmi.interactions.1000.id", "q", "2004")[1] == 351


@pytest.mark.parametrize(
    ("pairs", "element", "value", "code"),
    [
        # 2004: identifier first (408), RTE 4th §4.2.17 / §4.2.9
        ([], "cmi.objectives.0.score.raw", "1", 408),
        ([], "cmi.objectives.0.success_status", "passed", 408),
        ([], "cmi.objectives.0.description", "d", 408),
        ([], "cmi.interactions.0.type", "choice", 408),
        ([], "cmi.interactions.0.result", "correct", 408),
        ([], "cmi.interactions.0.objectives.0.id", "o1", 408),
        ([], "cmi.interactions.0.correct_responses.0.pattern", "a", 408),
        (
            [("cmi.interactions.0.id", "q")],
            "cmi.interactions.0.correct_responses.0.pattern",
            "a",
            408,
        ),
        ([("cmi.interactions.0.id", "q")], "cmi.interactions.0.learner_response", "a", 408),
        ([("cmi.interactions.0.id", "q")], "cmi.interactions.0.result", "correct", 0),
        ([("cmi.interactions.0.id", "q")], "cmi.interactions.0.objectives.0.id", "o", 0),
        # objective ids unique and immutable (351)
        ([("cmi.objectives.0.id", "o1")], "cmi.objectives.1.id", "o1", 351),
        ([("cmi.objectives.0.id", "o1")], "cmi.objectives.0.id", "o2", 351),
        ([("cmi.objectives.0.id", "o1")], "cmi.objectives.0.id", "o1", 0),
        (
            [("cmi.interactions.0.id", "q"), ("cmi.interactions.0.objectives.0.id", "o")],
            "cmi.interactions.0.objectives.1.id",
            "o",
            351,
        ),
        # LMS-only arrays cannot be appended by the SCO
        ([], "adl.data.0.store", "x", 351),
    ],
)
def test_dependencies_2004(pairs, element, value, code):
    state = _apply(empty_state("2004"), pairs, "2004")
    assert set_value(state, element, value, "2004")[1] == code


def test_dependencies_not_enforced_in_12():
    state = empty_state("1.2")
    for element, value in [
        ("cmi.objectives.0.score.raw", "10"),
        ("cmi.interactions.0.result", "correct"),
        ("cmi.objectives.0.id", "o1"),
        ("cmi.objectives.1.id", "o1"),
    ]:
        state, code = set_value(state, element, value, "1.2")
        assert code == 0


# --- Values and defaults ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "element", "expected"),
    [
        ("1.2", "cmi.core.lesson_status", ("not attempted", 0)),
        ("1.2", "cmi.core.entry", ("ab-initio", 0)),
        ("1.2", "cmi.core.credit", ("credit", 0)),
        ("1.2", "cmi.core.lesson_mode", ("normal", 0)),
        ("1.2", "cmi.core.total_time", ("0000:00:00.00", 0)),
        ("1.2", "cmi.core.lesson_location", ("", 0)),
        ("1.2", "cmi.suspend_data", ("", 0)),
        ("1.2", "cmi.core.score.raw", ("", 0)),
        ("1.2", "cmi.launch_data", ("", 0)),
        ("1.2", "cmi.objectives._count", ("0", 0)),
        ("1.2", "cmi.interactions._count", ("0", 0)),
        ("2004", "cmi.completion_status", ("unknown", 0)),
        ("2004", "cmi.success_status", ("unknown", 0)),
        ("2004", "cmi.entry", ("ab-initio", 0)),
        ("2004", "cmi.credit", ("credit", 0)),
        ("2004", "cmi.mode", ("normal", 0)),
        ("2004", "cmi.total_time", ("PT0H0M0S", 0)),
        ("2004", "cmi.time_limit_action", ("continue,no message", 0)),
        ("2004", "cmi.learner_preference.audio_level", ("1", 0)),
        ("2004", "cmi.learner_preference.delivery_speed", ("1", 0)),
        ("2004", "cmi.learner_preference.audio_captioning", ("0", 0)),
        ("2004", "cmi.learner_preference.language", ("", 0)),
        ("2004", "adl.nav.request", ("_none_", 0)),
        ("2004", "adl.nav.request_valid.continue", ("unknown", 0)),
        ("2004", "adl.nav.request_valid.choice.{target=sco1}", ("unknown", 0)),
        ("2004", "adl.nav.request_valid.choice.{target=}", ("", 401)),
        ("2004", "adl.nav.request_valid.choice.{target=a}b", ("", 401)),
        # 2004: not initialised (403)
        ("2004", "cmi.location", ("", 403)),
        ("2004", "cmi.suspend_data", ("", 403)),
        ("2004", "cmi.score.raw", ("", 403)),
        ("2004", "cmi.score.scaled", ("", 403)),
        ("2004", "cmi.progress_measure", ("", 403)),
        ("2004", "cmi.launch_data", ("", 403)),
        ("2004", "cmi.completion_threshold", ("", 403)),
        ("2004", "cmi.scaled_passing_score", ("", 403)),
        ("2004", "cmi.max_time_allowed", ("", 403)),
        ("2004", "cmi.learner_id", ("", 403)),
        ("2004", "cmi.comments_from_learner._count", ("0", 0)),
    ],
)
def test_defaults_and_uninitialised(version, element, expected):
    assert get_value(empty_state(version), element, version) == expected


def test_uninitialised_array_field_2004():
    state = _apply(empty_state("2004"), [("cmi.interactions.0.id", "q1")], "2004")
    assert get_value(state, "cmi.interactions.0.type", "2004") == ("", 403)
    assert get_value(state, "cmi.interactions.0.id", "2004") == ("q1", 0)
    state = _apply(state, [("cmi.objectives.0.id", "o1")], "2004")
    assert get_value(state, "cmi.objectives.0.success_status", "2004") == ("unknown", 0)
    assert get_value(state, "cmi.objectives.0.completion_status", "2004") == ("unknown", 0)
    assert get_value(state, "cmi.objectives.0.score.scaled", "2004") == ("", 403)


@pytest.mark.parametrize(
    ("values", "completion", "success"),
    [
        ({}, "unknown", "unknown"),
        ({"cmi.completion_status": "incomplete"}, "incomplete", "unknown"),
        (
            {"cmi.completion_threshold": "0.8", "cmi.progress_measure": "0.8"},
            "completed",
            "unknown",
        ),
        (
            {"cmi.completion_threshold": "0.8", "cmi.progress_measure": "0.79"},
            "incomplete",
            "unknown",
        ),
        (
            {"cmi.completion_threshold": "0.8", "cmi.completion_status": "completed"},
            "unknown",
            "unknown",
        ),
        (
            {
                "cmi.completion_threshold": "0.5",
                "cmi.progress_measure": "0.2",
                "cmi.completion_status": "completed",
            },
            "incomplete",
            "unknown",
        ),
        ({"cmi.success_status": "passed"}, "unknown", "passed"),
        ({"cmi.scaled_passing_score": "0.7", "cmi.score.scaled": "0.7"}, "unknown", "passed"),
        ({"cmi.scaled_passing_score": "0.7", "cmi.score.scaled": "0.69"}, "unknown", "failed"),
        ({"cmi.scaled_passing_score": "-0.5", "cmi.score.scaled": "-0.6"}, "unknown", "failed"),
        (
            {"cmi.scaled_passing_score": "0.7", "cmi.success_status": "passed"},
            "unknown",
            "unknown",
        ),
        (
            {
                "cmi.scaled_passing_score": "0.7",
                "cmi.score.scaled": "0.9",
                "cmi.success_status": "failed",
            },
            "unknown",
            "passed",
        ),
    ],
)
def test_evaluated_statuses_2004(values, completion, success):
    state = {"version": "2004", "values": dict(values), "counts": {}}
    assert get_value(state, "cmi.completion_status", "2004") == (completion, 0)
    assert get_value(state, "cmi.success_status", "2004") == (success, 0)


def test_get_value_kind_returns_symbolic_kind():
    assert get_value_kind(empty_state("2004"), "cmi.exit", "2004") == ("", ErrorKind.WRITE_ONLY)


# --- Error code tables -----------------------------------------------------------------------

EXPECTED_CODES = [
    (ErrorKind.NO_ERROR, 0, 0),
    (ErrorKind.GENERAL_EXCEPTION, 101, 101),
    (ErrorKind.INITIALIZATION_FAILED, 101, 102),
    (ErrorKind.ALREADY_INITIALIZED, 101, 103),
    (ErrorKind.CONTENT_TERMINATED, 101, 104),
    (ErrorKind.TERMINATION_FAILED, 101, 111),
    (ErrorKind.TERMINATION_BEFORE_INIT, 301, 112),
    (ErrorKind.TERMINATION_AFTER_TERMINATION, 101, 113),
    (ErrorKind.RETRIEVE_BEFORE_INIT, 301, 122),
    (ErrorKind.RETRIEVE_AFTER_TERMINATION, 101, 123),
    (ErrorKind.STORE_BEFORE_INIT, 301, 132),
    (ErrorKind.STORE_AFTER_TERMINATION, 101, 133),
    (ErrorKind.COMMIT_BEFORE_INIT, 301, 142),
    (ErrorKind.COMMIT_AFTER_TERMINATION, 101, 143),
    (ErrorKind.COMMIT_FAILED, 101, 391),
    (ErrorKind.GENERAL_ARGUMENT, 201, 201),
    (ErrorKind.GENERAL_GET_FAILURE, 201, 301),
    (ErrorKind.GENERAL_SET_FAILURE, 201, 351),
    (ErrorKind.NO_CHILDREN, 202, 301),
    (ErrorKind.NOT_AN_ARRAY, 203, 301),
    (ErrorKind.UNDEFINED_ELEMENT, 201, 401),
    (ErrorKind.UNIMPLEMENTED_ELEMENT, 401, 402),
    (ErrorKind.VALUE_NOT_INITIALIZED, 301, 403),
    (ErrorKind.KEYWORD_READ_ONLY, 402, 404),
    (ErrorKind.READ_ONLY, 403, 404),
    (ErrorKind.WRITE_ONLY, 404, 405),
    (ErrorKind.TYPE_MISMATCH, 405, 406),
    (ErrorKind.VALUE_OUT_OF_RANGE, 405, 407),
    (ErrorKind.DEPENDENCY_NOT_ESTABLISHED, 101, 408),
]


@pytest.mark.parametrize(("kind", "code_12", "code_2004"), EXPECTED_CODES)
def test_error_codes(kind, code_12, code_2004):
    assert error_code(kind, "1.2") == code_12
    assert error_code(kind, "2004") == code_2004
    assert error_message(code_12, "1.2") == MESSAGES_12[code_12]
    assert error_message(code_2004, "2004") == MESSAGES_2004[code_2004]


def test_every_kind_and_code_covered():
    assert {k for k, _, _ in EXPECTED_CODES} == set(ErrorKind)
    assert set(CODES_12.values()) == set(MESSAGES_12)
    assert set(CODES_2004.values()) == set(MESSAGES_2004)
    assert error_message(999, "2004") == "General exception"


@pytest.mark.parametrize(
    ("label", "expected"),
    [("1.2", "1.2"), ("2004", "2004"), ("2004_3rd", "2004"), ("2004 4th Edition", "2004")],
)
def test_normalise_version(label, expected):
    assert normalise_version(label) == expected


@pytest.mark.parametrize("label", ["1.3", "scorm", "", "12", "xapi"])
def test_unknown_version(label):
    with pytest.raises(UnknownVersionError) as info:
        get_value(empty_state("1.2"), "cmi.core.entry", label)
    assert info.value.code == "unknown_version"


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"version": "1.2", "values": {}},
        {"version": "2004", "values": {}, "counts": {}},  # wrong version for a 1.2 call
        {"version": "9", "values": {}, "counts": {}},
        {"version": "1.2", "values": [], "counts": {}},
        None,
    ],
)
def test_invalid_state_documents(state):
    with pytest.raises(InvalidStateError) as info:
        get_value(state, "cmi.core.entry", "1.2")
    assert info.value.code == "invalid_state"


# --- Hostile element names -------------------------------------------------------------------


def test_long_element_names_are_undefined_and_not_memoised():
    from scorm.cmi import model, paths

    before = paths._normalise_cached.cache_info().currsize
    long_name = "cmi." + "x" * 5000
    assert get_value(empty_state("2004"), long_name, "2004") == ("", 401)
    assert set_value(empty_state("1.2"), long_name, "v", "1.2")[1] == 201
    assert model.commit_order_key(long_name).startswith("15cmi\x00")
    assert paths._normalise_cached.cache_info().currsize == before


def test_nav_request_valid_with_long_target():
    target = "urn:sco:" + "t" * 3000
    element = f"adl.nav.request_valid.choice.{{target={target}}}"
    state = empty_state("2004")
    assert get_value(state, element, "2004") == ("unknown", 0)
    assert set_value(state, element, "true", "2004")[1] == 404


@pytest.mark.parametrize(
    ("element", "set_code", "get_code"),
    [
        ("cmi.interactions.99999999999999999999.id", 351, 301),
        ("cmi.objectives.1e3.id", 401, 401),
        ("cmi.objectives. 0.id", 401, 401),
    ],
)
def test_absurd_indices(element, set_code, get_code):
    state = empty_state("2004")
    assert set_value(state, element, "x", "2004")[1] == set_code
    assert get_value(state, element, "2004") == ("", get_code)
