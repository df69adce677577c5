"""The pure runtime API reference: lifecycle error codes of both versions, call by call."""

from __future__ import annotations

import pytest

from scorm.cmi import api, initial_state

INIT, T, G, S, C = "initialize", "terminate", "get", "set", "commit"


def _session(version):
    learner = "urn:l:1" if version == "2004" else "l1"
    return api.open_session(initial_state(version, learner_id=learner, learner_name="Ann"), version)


def _call(session, op, *args):
    if op == INIT:
        return api.initialize(session, *args)
    if op == T:
        return api.terminate(session, *args)
    if op == G:
        return api.get_value(session, *args)
    if op == S:
        return api.set_value(session, *args)
    return api.commit(session, *args)


LOC = {"1.2": "cmi.core.lesson_location", "2004": "cmi.location"}

# (calls before the checked one, checked call, expected return, 1.2 code, 2004 code)
SEQUENCES = [
    ([], (INIT,), "true", 0, 0),
    ([], (INIT, "x"), "false", 201, 201),
    ([(INIT,)], (INIT,), "false", 101, 103),
    ([(INIT,), (T,)], (INIT,), "false", 101, 104),
    ([], (T,), "false", 301, 112),
    ([(INIT,)], (T, "x"), "false", 201, 201),
    ([(INIT,)], (T,), "true", 0, 0),
    ([(INIT,), (T,)], (T,), "false", 101, 113),
    ([], (G, "LOC"), "", 301, 122),
    ([(INIT,), (T,)], (G, "LOC"), "", 101, 123),
    ([], (S, "LOC", "p1"), "false", 301, 132),
    ([(INIT,), (T,)], (S, "LOC", "p1"), "false", 101, 133),
    ([(INIT,)], (S, "LOC", "p1"), "true", 0, 0),
    ([], (C,), "false", 301, 142),
    ([(INIT,)], (C, "x"), "false", 201, 201),
    ([(INIT,), (T,)], (C,), "false", 101, 143),
    ([(INIT,)], (C,), "true", 0, 0),
    ([(INIT,), (S, "LOC", "p1")], (G, "LOC"), "p1", 0, 0),
]


def _resolve(args, version):
    return tuple(LOC[version] if a == "LOC" else a for a in args)


@pytest.mark.parametrize("version", ["1.2", "2004"])
@pytest.mark.parametrize(("before", "call", "result", "code_12", "code_2004"), SEQUENCES)
def test_lifecycle_codes(version, before, call, result, code_12, code_2004):
    session = _session(version)
    for step in before:
        session, _ = _call(session, step[0], *_resolve(step[1:], version))
        assert api.get_last_error(session) == "0"
    session, got = _call(session, call[0], *_resolve(call[1:], version))
    expected = code_12 if version == "1.2" else code_2004
    assert got == result
    assert api.get_last_error(session) == str(expected)


@pytest.mark.parametrize(
    ("version", "element", "value", "code"),
    [("1.2", "cmi.core.student_id", "x", 403), ("2004", "cmi.learner_id", "x", 404)],
)
def test_data_model_errors_surface_and_clear(version, element, value, code):
    session, _ = api.initialize(_session(version))
    session, result = api.set_value(session, element, value)
    assert (result, api.get_last_error(session)) == ("false", str(code))
    assert api.get_diagnostic(session) == api.get_error_string(session, str(code))
    session, result = api.get_value(session, element)  # RO elements are readable
    assert (result, api.get_last_error(session)) == (session.state["values"][element], "0")
    session, result = api.get_value(session, LOC[version])
    expected = "0" if version == "1.2" else "403"  # 2004: not initialised
    assert (result, api.get_last_error(session)) == ("", expected)


def test_set_marks_dirty_and_commit_clears():
    session, _ = api.initialize(_session("2004"))
    assert session.dirty is False
    session, _ = api.set_value(session, "cmi.location", "p2")
    assert session.dirty is True
    assert session.state["values"]["cmi.location"] == "p2"
    session, _ = api.commit(session)
    assert session.dirty is False


@pytest.mark.parametrize(
    ("version", "code", "message"),
    [
        ("1.2", "405", "Incorrect data type"),
        ("2004", "406", "Data model element type mismatch"),
        ("2004", "abc", ""),
        ("2004", "999", ""),  # RTE 4th 3.1.7.6: an unknown code answers "" (ADL CTS API)
        ("2004", "001", ""),
        ("1.2", "999", "General exception"),
    ],
)
def test_error_strings(version, code, message):
    assert api.get_error_string(_session(version), code) == message
