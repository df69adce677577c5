"""SCORM 2004 interaction response formats (RTE 4th §4.2.9.1 / §4.2.9.2), through set_value."""

from __future__ import annotations

import pytest

from scorm.cmi import empty_state, get_value, set_value
from scorm.cmi.responses import RESPONSE_FORMATS, check_response

# (type, value, valid as correct pattern, valid as learner response). A learner response has
# no {case_matters}/{order_matters} delimiters: there such text is ordinary answer text.
CASES = [
    ("true-false", "true", True, True),
    # ADL CTS DMI: ISO 639 language codes, URI characters, long-fill-in "{lang=..}{case_matters=..}".
    ("fill-in", "{lang=frl}z", False, False),
    ("fill-in", "a[,]{lang=sp}z", False, False),
    ("fill-in", "{lang=eng}z", True, True),
    ("fill-in", "{lang=en-US}{case_matters=invalid}z", True, True),
    ("long-fill-in", "{lang=ruq-JM}z", False, False),
    ("long-fill-in", "{lang=eng}{case_matters=true}" + "x" * 4000, True, False),
    ("long-fill-in", "{lang=eng}{case_matters=invalid}z", False, True),
    ("long-fill-in", "{case_matters=true}{lang=eng}{case_matters=true}z", True, True),
    ("choice", "{}{[]}{}{[]}{}", False, False),
    ("likert", "uri.uri.uri[.]abcd", False, False),
    ("sequencing", "uri.uri.uri[.]abcd[,]testuri", False, False),
    ("true-false", "false", True, True),
    ("true-false", "t", False, False),
    ("true-false", "1", False, False),
    ("true-false", "True", False, False),
    ("true-false", "", False, False),
    ("choice", "a", True, True),
    ("choice", "a[,]b[,]c", True, True),
    ("choice", "", True, True),
    ("choice", "a[,]a", False, False),
    ("choice", "a b", False, False),
    ("choice", "a[,]", False, False),
    ("choice", "[,]".join(f"c{i}" for i in range(36)), True, True),
    ("choice", "[,]".join(f"c{i}" for i in range(37)), False, False),
    ("fill-in", "red", True, True),
    ("fill-in", "{lang=en}colour[,]{lang=fr}couleur", True, True),
    ("fill-in", "{case_matters=true}{order_matters=false}red[,]blue", True, True),
    ("fill-in", "{order_matters=true}{case_matters=false}red", True, True),
    ("fill-in", "{case_matters=yes}red", False, True),
    ("fill-in", "{case_matters=true}{case_matters=false}red", False, True),
    ("fill-in", "[,]".join("w" for _ in range(10)), True, True),
    ("fill-in", "[,]".join("w" for _ in range(11)), False, False),
    ("fill-in", "w" * 250, True, True),
    ("fill-in", "w" * 251, False, False),
    ("fill-in", "{lang=en-}a", False, False),
    ("long-fill-in", "{case_matters=true}a long answer", True, True),
    ("long-fill-in", "w" * 4000, True, True),
    ("long-fill-in", "w" * 4001, False, False),
    ("long-fill-in", "{order_matters=true}x", False, True),
    ("long-fill-in", "{lang=de}Antwort", True, True),
    ("likert", "strongly_agree", True, True),
    ("likert", "", False, False),
    ("likert", "a b", False, False),
    ("matching", "1[.]a[,]2[.]b", True, True),
    ("matching", "", True, True),
    ("matching", "1[.]a[,]2", False, False),
    ("matching", "1.a", False, False),
    ("matching", "1[.]a[.]b", False, False),
    ("matching", "[.]a", False, False),
    # A learner response has no delimiters, and "{order_matters=false}step1" is no URI (RFC 3986).
    ("performance", "{order_matters=false}step1[.]answer1[,]step2[.]5[:]10", True, False),
    ("performance", "step1[.]answer one[,]step2[.]7", True, True),
    ("performance", "[.]answer", True, True),
    ("performance", "step1[.]", True, True),
    ("performance", "[.]", False, False),
    ("performance", "step1", False, False),
    ("performance", "step1[.]10[:]5", False, True),
    # {case_matters} is no performance delimiter, and "{case_matters=true}s" is no URI either.
    ("performance", "{case_matters=true}s[.]a", False, False),
    ("performance", "bad id[.]x", False, False),
    ("sequencing", "a[,]b[,]c", True, True),
    ("sequencing", "a[,]a", True, True),
    ("sequencing", "", False, False),
    ("sequencing", "a[,][,]b", False, False),
    ("sequencing", "[,]".join(f"s{i}" for i in range(37)), False, False),
    ("numeric", "1[:]5", True, False),
    ("numeric", "[:]5", True, False),
    ("numeric", "1[:]", True, False),
    ("numeric", "-1.5[:]2.5", True, False),
    ("numeric", "3[:]3", True, False),
    ("numeric", "5[:]1", False, False),
    ("numeric", "5", True, True),  # single value: lenient
    ("numeric", "3.14", True, True),  # single value: lenient
    ("numeric", "-2", True, True),  # single value: lenient
    ("numeric", "a[:]b", False, False),
    ("numeric", "1[:]2[:]3", False, False),
    ("numeric", "abc", False, False),
    ("other", "anything goes, really", True, True),
    ("other", "", True, True),
    ("other", "w" * 4000, True, True),
    ("other", "w" * 4001, False, False),
]


def _with_interaction(itype):
    state = empty_state("2004")
    for element, value in (("cmi.interactions.0.id", "q1"), ("cmi.interactions.0.type", itype)):
        state, code = set_value(state, element, value, "2004")
        assert code == 0
    return state


@pytest.mark.parametrize(("itype", "value", "pattern_ok", "learner_ok"), CASES)
def test_correct_response_pattern(itype, value, pattern_ok, learner_ok):
    state = _with_interaction(itype)
    element = "cmi.interactions.0.correct_responses.0.pattern"
    new_state, code = set_value(state, element, value, "2004")
    assert code == (0 if pattern_ok else 406)
    if pattern_ok:
        assert get_value(new_state, element, "2004") == (value, 0)
        assert get_value(new_state, "cmi.interactions.0.correct_responses._count", "2004") == (
            "1",
            0,
        )
    else:
        assert "cmi.interactions.0.correct_responses" not in new_state["counts"]


@pytest.mark.parametrize(("itype", "value", "pattern_ok", "learner_ok"), CASES)
def test_learner_response(itype, value, pattern_ok, learner_ok):
    state = _with_interaction(itype)
    element = "cmi.interactions.0.learner_response"
    new_state, code = set_value(state, element, value, "2004")
    assert code == (0 if learner_ok else 406)
    if learner_ok:
        assert get_value(new_state, element, "2004") == (value, 0)


@pytest.mark.parametrize(
    ("itype", "first", "second", "code"),
    [
        ("true-false", "true", "false", 351),
        ("likert", "a", "b", 351),
        ("numeric", "1[:]2", "3[:]4", 351),
        ("other", "x", "y", 351),
        ("choice", "a", "a", 351),  # patterns unique for choice
        ("choice", "a", "b", 0),
        ("fill-in", "red", "red", 0),
        ("sequencing", "a[,]b", "b[,]a", 0),
        ("matching", "1[.]a", "1[.]b", 0),
    ],
)
def test_second_pattern(itype, first, second, code):
    state = _with_interaction(itype)
    state, c = set_value(state, "cmi.interactions.0.correct_responses.0.pattern", first, "2004")
    assert c == 0
    new_state, got = set_value(state, "cmi.interactions.0.correct_responses.1.pattern", second, "2004")
    assert got == code
    expected_count = "2" if code == 0 else "1"
    assert get_value(new_state, "cmi.interactions.0.correct_responses._count", "2004") == (
        expected_count,
        0,
    )


def test_pattern_index_gap():
    state = _with_interaction("choice")
    element = "cmi.interactions.0.correct_responses.1.pattern"
    assert set_value(state, element, "a", "2004")[1] == 351


def test_every_interaction_type_has_a_format():
    from scorm.cmi.tables import INTERACTION_TYPES_2004

    assert set(RESPONSE_FORMATS) == set(INTERACTION_TYPES_2004)
    assert check_response("essay", "x", is_pattern=True) is False
