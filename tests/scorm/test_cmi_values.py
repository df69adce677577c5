"""Valid and invalid values per element and data type, SCORM 1.2 and 2004 (table-driven).

Each row names an element, a value, and the error code SetValue must answer (0 = stored).
The expected codes are written out by hand from the specs (1.2: 405 for type and range;
2004: 406 type mismatch, 407 out of range), not derived from the tables under test.
"""

from __future__ import annotations

import pytest

from scorm.cmi import get_value, initial_state, set_value

X = "x"


def _state_12():
    state = initial_state("1.2", learner_id="s1", learner_name="Doe, Ann")
    for element, value in (
        ("cmi.objectives.0.id", "obj1"),
        ("cmi.interactions.0.id", "q1"),
    ):
        state, code = set_value(state, element, value, "1.2")
        assert code == 0
    return state


def _state_2004(interaction_type: str = "choice"):
    state = initial_state(
        "2004",
        learner_id="urn:learner:1",
        learner_name="{lang=en}Ann Doe",
        shared_data=[("urn:data:1", None)],
    )
    for element, value in (
        ("cmi.objectives.0.id", "obj1"),
        ("cmi.interactions.0.id", "q1"),
        ("cmi.interactions.0.type", interaction_type),
        ("cmi.comments_from_learner.0.comment", "hi"),
    ):
        state, code = set_value(state, element, value, "2004")
        assert code == 0, element
    return state


CASES_12 = [
    # cmi.core.lesson_location: CMIString255
    ("cmi.core.lesson_location", "", 0),
    ("cmi.core.lesson_location", "page 3", 0),
    ("cmi.core.lesson_location", X * 255, 0),
    ("cmi.core.lesson_location", X * 256, 405),
    ("cmi.core.lesson_location", "\U0001f600" * 255, 0),  # lengths count code points
    ("cmi.core.lesson_location", "\U0001f600" * 256, 405),
    # cmi.core.lesson_status: vocabulary; SCO may not write "not attempted"
    *[("cmi.core.lesson_status", s, 0) for s in ("passed", "completed", "failed", "incomplete")],
    ("cmi.core.lesson_status", "browsed", 0),
    ("cmi.core.lesson_status", "not attempted", 405),
    ("cmi.core.lesson_status", "Passed", 405),
    ("cmi.core.lesson_status", "", 405),
    ("cmi.core.lesson_status", "unknown", 405),
    # cmi.core.score.*: CMIDecimal 0..100 or CMIBlank
    *[
        (f"cmi.core.score.{f}", v, 0)
        for f in ("raw", "min", "max")
        for v in ("0", "100", "55.5", "", "0.0", "99.999", ".5")
    ],
    *[
        (f"cmi.core.score.{f}", v, 405)
        for f in ("raw", "min", "max")
        for v in ("101", "-1", "100.01", "abc", "1e2", "5%", " 5", "+5", "-")
    ],
    # cmi.core.exit: vocabulary, no "normal" in 1.2
    *[("cmi.core.exit", v, 0) for v in ("time-out", "suspend", "logout", "")],
    *[("cmi.core.exit", v, 405) for v in ("normal", "SUSPEND", "exit")],
    # cmi.core.session_time: CMITimespan HHHH:MM:SS.SS
    *[
        ("cmi.core.session_time", v, 0)
        for v in (
            "00:00:00",
            "0000:00:05.5",
            "9999:59:59.99",
            "12:34:56.78",
            "100:00:00",
            "00:60:00",  # lenient: minutes/seconds 00-99
            "9999:99:99.99",
        )
    ],
    *[
        ("cmi.core.session_time", v, 405)
        for v in (
            "1:00:00",
            "00:0:00",
            "00:00:100",
            "00:00:00.123",
            "PT1H",
            "",
            "00000:00:00",
            "00:00",
            "00:00:00.",
        )
    ],
    # cmi.suspend_data: CMIString4096, accepted to 64000 (SPEC COMPLIANCE NOTE)
    ("cmi.suspend_data", "", 0),
    ("cmi.suspend_data", X * 4096, 0),
    ("cmi.suspend_data", X * 4097, 0),
    ("cmi.suspend_data", X * 64000, 0),
    ("cmi.suspend_data", X * 64001, 405),
    # cmi.comments: CMIString4096 (strict)
    ("cmi.comments", X * 4096, 0),
    ("cmi.comments", X * 4097, 405),
    # cmi.objectives.n.*
    ("cmi.objectives.0.id", "obj-2", 0),
    ("cmi.objectives.0.id", "urn:x:y", 0),
    ("cmi.objectives.0.id", "Question 1", 0),  # lenient CMIIdentifier
    ("cmi.objectives.0.id", X * 255, 0),
    ("cmi.objectives.0.id", "", 405),
    ("cmi.objectives.0.id", "   ", 405),
    ("cmi.objectives.0.id", "a\tb", 405),
    ("cmi.objectives.0.id", X * 256, 405),
    *[
        ("cmi.objectives.0.status", s, 0)
        for s in ("passed", "completed", "failed", "incomplete", "browsed", "not attempted")
    ],
    ("cmi.objectives.0.status", "unknown", 405),
    ("cmi.objectives.0.score.raw", "75", 0),
    ("cmi.objectives.0.score.raw", "", 0),
    ("cmi.objectives.0.score.raw", "175", 405),
    ("cmi.objectives.0.score.max", "x", 405),
    ("cmi.objectives.0.score.min", "0", 0),
    ("cmi.objectives.0.score.min", "-5", 405),
    ("cmi.objectives.0.score.max", "100", 0),
    # cmi.student_preference.*: CMISInteger with ranges
    *[("cmi.student_preference.audio", v, 0) for v in ("-1", "0", "100", "+5", "050")],
    *[("cmi.student_preference.audio", v, 405) for v in ("101", "-2", "1.5", "abc", "")],
    *[("cmi.student_preference.speed", v, 0) for v in ("-100", "0", "100")],
    *[("cmi.student_preference.speed", v, 405) for v in ("-101", "101", "fast")],
    *[("cmi.student_preference.text", v, 0) for v in ("-1", "0", "1")],
    *[("cmi.student_preference.text", v, 405) for v in ("2", "-2", "on")],
    ("cmi.student_preference.language", "Nederlands", 0),
    ("cmi.student_preference.language", X * 256, 405),
    # cmi.interactions.n.*
    ("cmi.interactions.0.id", "q-2", 0),
    ("cmi.interactions.0.id", "", 405),
    *[("cmi.interactions.0.time", v, 0) for v in ("23:59:59", "00:00:00.5", "12:00:00.25")],
    *[("cmi.interactions.0.time", v, 405) for v in ("24:00:00", "12:00", "12:60:00", "2024-01-01T10:00:00", "")],
    *[
        ("cmi.interactions.0.type", t, 0)
        for t in (
            "true-false",
            "choice",
            "fill-in",
            "matching",
            "performance",
            "sequencing",
            "likert",
            "numeric",
        )
    ],
    *[("cmi.interactions.0.type", t, 405) for t in ("long-fill-in", "other", "Choice", "")],
    *[("cmi.interactions.0.weighting", v, 0) for v in ("1", "-1.5", "0.25", "1000")],
    *[("cmi.interactions.0.weighting", v, 405) for v in ("abc", "", "1/2")],
    ("cmi.interactions.0.student_response", "a,b", 0),
    ("cmi.interactions.0.student_response", X * 255, 0),
    ("cmi.interactions.0.student_response", X * 256, 405),
    ("cmi.interactions.0.correct_responses.0.pattern", "a", 0),
    ("cmi.interactions.0.correct_responses.0.pattern", X * 256, 405),
    *[("cmi.interactions.0.result", v, 0) for v in ("correct", "wrong", "unanticipated", "neutral", "0.5", "-3")],
    *[("cmi.interactions.0.result", v, 405) for v in ("incorrect", "right", "")],
    ("cmi.interactions.0.latency", "00:00:12.5", 0),
    ("cmi.interactions.0.latency", "PT12S", 405),
    ("cmi.interactions.0.objectives.0.id", "obj1", 0),
    ("cmi.interactions.0.objectives.0.id", "", 405),
]


@pytest.mark.parametrize(("element", "value", "code"), CASES_12)
def test_set_value_12(element, value, code):
    state = _state_12()
    new_state, got = set_value(state, element, value, "1.2")
    assert got == code
    if code == 0:
        assert new_state["values"][element] == value
    else:
        assert new_state["values"].get(element) == state["values"].get(element)


# Primary subtags are ISO 639-1/639-2 codes (incl. the since withdrawn mo/mol/scc/scr), ADL CTS DMI.
LANG_OK = ("", "en", "en-US", "fr-CA", "zh-Hant", "i-klingon", "x-private", "nl-BE-x1", "eng", "EN-us", "mo", "scc")
LANG_BAD = ("e", "english", "en_US", "en-", "123", "en-x", "en US", "-en", "frl", "exg", "sp", "ruq-JM", "qq")
TIME_OK = (
    "1970",
    "2024",
    "2024-05",
    "2024-05-06",
    "2024-05-06T10",
    "2024-05-06T10:11",
    "2024-05-06T10:11:12",
    "2024-05-06T10:11:12.5",
    "2024-05-06T10:11:12.34Z",
    "2024-05-06T10:11:12.3+02:00",
    "2024-05-06T10:11:12.30-0500",
    "2024-05-06T10:11:12.5+01",
    "2038-01-19T03:14:07",
    "2024-02-29",
)
TIME_BAD = (
    "1969-12-31",
    "2039-01-01",
    "2024-13-01",
    "2024-02-30",
    "2023-02-29",
    "2024-04-31",
    "2024-05-06T24:00",
    "2024-05-06 10:11",
    "2024-05-06T10:11:12.345",
    "24-05-06",
    "2024-5-6",
    "2024-05-06Z",
    "2024-05-06T10:11:12+2",
    # RTE 4th §4.1.1.6: the TZD belongs to the fractional seconds (ADL CTS DMI refuses these).
    "2024-05-06T10:11:12+02:00",
    "2024-05-06T10:11:12-0500",
    "2024-05-06T10:11:12Z",
    "2024-05-06T10:11Z",
    "2024-05-06T10+01",
    "2024-05-06T10:11:12.345Z",
    "",
)
DURATION_OK = (
    "PT1H30M",
    "P1D",
    "PT0S",
    "P1Y2M3DT4H5M6.78S",
    "PT1.5S",
    "PT1.234S",  # lenient: rounded to centiseconds
    "P0D",
    "PT100H",
    "P0S",  # lenient: Rustici's formatter
    "P12.5S",
)
DURATION_BAD = (
    "PT",
    "P",
    "1H",
    "PT1H30",
    "P1DT",
    "-PT1H",
    "PT1.5M",
    "P1H",
    "PT1H1D",
    "pt1h",
    "",
    "PS",
    "P1D5S",
)
REAL_OK = ("0", "1", "-1", "0.5", "-0.123456789", "1000000", ".5")
REAL_BAD = ("abc", "1,5", "1e3", "", " 1", "--1", "0x10", "NaN", "Infinity")

CASES_2004 = [
    # cmi.location: characterstring SPM 1000
    ("cmi.location", "", 0),
    ("cmi.location", X * 1000, 0),
    ("cmi.location", X * 1001, 406),
    # statuses
    *[("cmi.completion_status", v, 0) for v in ("completed", "incomplete", "not attempted")],
    ("cmi.completion_status", "unknown", 0),
    *[("cmi.completion_status", v, 406) for v in ("passed", "Completed", "", "browsed")],
    *[("cmi.success_status", v, 0) for v in ("passed", "failed", "unknown")],
    *[("cmi.success_status", v, 406) for v in ("completed", "PASSED", "")],
    *[("cmi.exit", v, 0) for v in ("time-out", "suspend", "logout", "normal", "")],
    *[("cmi.exit", v, 406) for v in ("exit", "Suspend")],
    # real(10,7) with ranges
    *[("cmi.progress_measure", v, 0) for v in ("0", "1", "0.5", "1.0")],
    *[("cmi.progress_measure", v, 407) for v in ("1.01", "-0.1", "2")],
    *[("cmi.progress_measure", v, 406) for v in REAL_BAD],
    *[("cmi.score.scaled", v, 0) for v in ("-1", "1", "0.75", "0", "-0.5")],
    *[("cmi.score.scaled", v, 407) for v in ("1.5", "-1.01", "100")],
    *[("cmi.score.scaled", v, 406) for v in REAL_BAD],
    *[(f"cmi.score.{f}", v, 0) for f in ("raw", "min", "max") for v in REAL_OK],
    *[(f"cmi.score.{f}", v, 406) for f in ("raw", "min", "max") for v in REAL_BAD],
    # timeinterval
    *[("cmi.session_time", v, 0) for v in DURATION_OK],
    *[("cmi.session_time", v, 406) for v in DURATION_BAD],
    *[("cmi.interactions.0.latency", v, 0) for v in DURATION_OK],
    *[("cmi.interactions.0.latency", v, 406) for v in DURATION_BAD],
    # suspend data SPM 64000
    ("cmi.suspend_data", X * 64000, 0),
    ("cmi.suspend_data", X * 64001, 406),
    ("adl.data.0.store", X * 64000, 0),
    ("adl.data.0.store", X * 64001, 406),
    # learner preferences
    *[("cmi.learner_preference.audio_level", v, 0) for v in ("0", "2.5", "100")],
    ("cmi.learner_preference.audio_level", "-1", 407),
    ("cmi.learner_preference.audio_level", "loud", 406),
    *[("cmi.learner_preference.delivery_speed", v, 0) for v in ("0", "0.5", "3")],
    ("cmi.learner_preference.delivery_speed", "-0.1", 407),
    *[("cmi.learner_preference.audio_captioning", v, 0) for v in ("-1", "0", "1")],
    *[("cmi.learner_preference.audio_captioning", v, 406) for v in ("2", "on", "")],
    *[("cmi.learner_preference.language", v, 0) for v in LANG_OK],
    *[("cmi.learner_preference.language", v, 406) for v in LANG_BAD],
    ("cmi.learner_preference.language", "en-" + "a" * 250, 406),
    # localized strings
    *[
        ("cmi.comments_from_learner.0.comment", v, 0)
        for v in ("{lang=en}Hello", "plain", "{lang=en-US}" + X * 4000, X * 4000, "", "a{b}")
    ],
    *[
        ("cmi.comments_from_learner.0.comment", v, 406)
        for v in ("{lang=}x", "{lang=english}x", X * 4001, "{lang=en", "{lang=en}" + X * 4001)
    ],
    ("cmi.comments_from_learner.0.location", X * 250, 0),
    ("cmi.comments_from_learner.0.location", X * 251, 406),
    *[("cmi.comments_from_learner.0.timestamp", v, 0) for v in TIME_OK],
    *[("cmi.comments_from_learner.0.timestamp", v, 406) for v in TIME_BAD],
    # a new comment entry may be created by any of its fields
    ("cmi.comments_from_learner.1.location", "p2", 0),
    # interactions
    *[("cmi.interactions.0.id", v, 0) for v in ("q1", "urn:ADL:interaction-1", "http://x.example/y?z=1", X * 4000)],
    *[("cmi.interactions.0.id", v, 406) for v in ("", "a b", "urn::x", "urn:x", X * 4001)],
    *[
        ("cmi.interactions.0.type", t, 0)
        for t in (
            "true-false",
            "choice",
            "fill-in",
            "long-fill-in",
            "likert",
            "matching",
            "performance",
            "sequencing",
            "numeric",
            "other",
        )
    ],
    *[("cmi.interactions.0.type", t, 406) for t in ("essay", "", "Choice")],
    *[("cmi.interactions.0.timestamp", v, 0) for v in TIME_OK],
    *[("cmi.interactions.0.timestamp", v, 406) for v in TIME_BAD],
    *[("cmi.interactions.0.weighting", v, 0) for v in REAL_OK],
    *[("cmi.interactions.0.weighting", v, 406) for v in REAL_BAD],
    *[("cmi.interactions.0.result", v, 0) for v in ("correct", "incorrect", "unanticipated", "neutral", "0.5", "-2")],
    *[("cmi.interactions.0.result", v, 406) for v in ("wrong", "pass", "")],
    ("cmi.interactions.0.description", "{lang=nl}Vraag 1", 0),
    ("cmi.interactions.0.description", X * 250, 0),
    ("cmi.interactions.0.description", X * 251, 406),
    ("cmi.interactions.0.objectives.0.id", "obj1", 0),
    ("cmi.interactions.0.objectives.0.id", "", 406),
    # objectives
    ("cmi.objectives.0.score.scaled", "0.9", 0),
    ("cmi.objectives.0.score.scaled", "-2", 407),
    ("cmi.objectives.0.score.raw", "12", 0),
    ("cmi.objectives.0.score.raw", "12%", 406),
    ("cmi.objectives.0.score.min", "x", 406),
    ("cmi.objectives.0.score.max", "1000000", 0),
    ("cmi.objectives.0.score.max", "1e6", 406),
    ("cmi.objectives.0.score.min", "-10", 0),
    ("cmi.objectives.0.id", "obj1", 0),  # re-setting the same id is allowed
    ("cmi.objectives.1.id", "urn:ADL:objective:2", 0),
    *[("cmi.objectives.1.id", v, 406) for v in ("", "two words", "urn::x", X * 4001)],
    *[("cmi.objectives.0.success_status", v, 0) for v in ("passed", "failed", "unknown")],
    ("cmi.objectives.0.success_status", "completed", 406),
    *[("cmi.objectives.0.completion_status", v, 0) for v in ("completed", "incomplete", "not attempted", "unknown")],
    ("cmi.objectives.0.completion_status", "passed", 406),
    ("cmi.objectives.0.progress_measure", "0.3", 0),
    ("cmi.objectives.0.progress_measure", "1.3", 407),
    ("cmi.objectives.0.description", "{lang=de}Ziel", 0),
    ("cmi.objectives.0.description", X * 251, 406),
    # adl.nav.request
    *[
        ("adl.nav.request", v, 0)
        for v in (
            "continue",
            "previous",
            "exit",
            "exitAll",
            "abandon",
            "abandonAll",
            "suspendAll",
            "_none_",
            "{target=sco2}choice",
            "{target=sco-2}jump",
        )
    ],
    *[
        ("adl.nav.request", v, 406)
        for v in ("start", "choice", "{target=}choice", "{target=a b}choice", "Continue", "")
    ],
]


@pytest.mark.parametrize(("element", "value", "code"), CASES_2004)
def test_set_value_2004(element, value, code):
    state = _state_2004()
    new_state, got = set_value(state, element, value, "2004")
    assert got == code
    if code == 0:
        assert new_state["values"][element] == value
        # and it reads back (RW elements)
        if element != "cmi.session_time" and element != "cmi.exit":
            read, read_code = get_value(new_state, element, "2004")
            assert read_code == 0
            if element not in ("cmi.completion_status", "cmi.success_status"):
                assert read == value
    else:
        assert new_state["values"].get(element) == state["values"].get(element)


def test_state_not_mutated_by_failed_or_successful_set():
    state = _state_2004()
    snapshot = repr(state)
    set_value(state, "cmi.location", "p1", "2004")
    set_value(state, "cmi.location", X * 2000, "2004")
    set_value(state, "cmi.interactions.1.id", "q2", "2004")
    assert repr(state) == snapshot


@pytest.mark.parametrize(
    ("value", "stored", "code"),
    [
        (5, "5", 0),
        (0.75, "0.75", 0),
        (-1, "-1", 0),
        (None, None, 406),
        (True, None, 406),
        (float("nan"), None, 406),
        (1e-9, None, 406),
        ([1], None, 406),
    ],
)
def test_non_string_values_2004(value, stored, code):
    state = _state_2004()
    new_state, got = set_value(state, "cmi.score.raw", value, "2004")
    assert got == code
    assert new_state["values"].get("cmi.score.raw") == stored


def test_every_writable_element_has_value_cases():
    from scorm.cmi import table_for
    from scorm.cmi.paths import normalise_element

    # response formats are covered per interaction type in test_cmi_responses.py
    elsewhere = {
        "cmi.interactions.n.correct_responses.n.pattern",
        "cmi.interactions.n.learner_response",
    }
    for version, cases in (("1.2", CASES_12), ("2004", CASES_2004)):
        covered = {normalise_element(e)[0] for e, _, _ in cases} | elsewhere
        table = table_for(version)
        for path, spec in table.elements.items():
            if spec.access.value != "RO" and spec.keyword is None:
                assert path in covered, f"{version}: no value cases for {path}"
                valid = [c for e, _, c in cases if normalise_element(e)[0] == path and c == 0]
                invalid = [c for e, _, c in cases if normalise_element(e)[0] == path and c != 0]
                if path not in elsewhere:
                    assert valid and invalid, f"{version}: {path} needs valid and invalid cases"
