"""apply_commit: dependency order, refusals, reporting, copy-once semantics."""

from __future__ import annotations

import copy
import random

import pytest

from scorm.cmi import ErrorKind, apply_commit, get_value, initial_state, set_value
from scorm.cmi.commit import commit_order_key


def _fresh(version):
    if version == "1.2":
        return initial_state("1.2", learner_id="s1", learner_name="Ann", mastery_score=80)
    return initial_state("2004", learner_id="s1", learner_name="Ann", scaled_passing_score=0.8)


def _interactions_2004(n):
    body = {}
    for i in range(n):
        body[f"cmi.interactions.{i}.id"] = f"q{i}"
        body[f"cmi.interactions.{i}.type"] = "choice"
        body[f"cmi.interactions.{i}.objectives.0.id"] = f"obj{i % 3}"
        body[f"cmi.interactions.{i}.correct_responses.0.pattern"] = "a[,]b"
        body[f"cmi.interactions.{i}.learner_response"] = "a"
        body[f"cmi.interactions.{i}.result"] = "incorrect"
        body[f"cmi.interactions.{i}.latency"] = "PT3.5S"
        body[f"cmi.interactions.{i}.timestamp"] = "2026-11-28T10:00:00.0Z"
    return body


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_body_applies_in_dependency_order(seed):
    body = _interactions_2004(12)
    body.update(
        {
            "cmi.objectives.0.id": "obj0",
            "cmi.objectives.0.score.scaled": "0.5",
            "cmi.objectives.1.id": "obj1",
            "cmi.objectives.1.success_status": "passed",
            "cmi.location": "page-7",
            "cmi.suspend_data": "x" * 4000,
            "cmi.score.scaled": "0.9",
            "cmi.session_time": "PT10M",
            "cmi.exit": "suspend",
        }
    )
    items = list(body.items())
    random.Random(seed).shuffle(items)
    result = apply_commit(_fresh("2004"), items, "2004")
    assert result.rejected == ()
    assert result.ok and result.changed
    assert set(result.stored) == set(body)
    state = result.state
    assert get_value(state, "cmi.interactions._count", "2004") == ("12", 0)
    assert get_value(state, "cmi.interactions.11.id", "2004") == ("q11", 0)
    assert get_value(state, "cmi.interactions.10.correct_responses._count", "2004") == ("1", 0)
    assert get_value(state, "cmi.objectives._count", "2004") == ("2", 0)
    assert get_value(state, "cmi.success_status", "2004") == ("passed", 0)


def test_order_key_sorts_numerically_and_id_first():
    elements = [
        "cmi.interactions.10.id",
        "cmi.interactions.9.result",
        "cmi.interactions._count",
        "cmi.interactions.9.type",
        "cmi.interactions.9.correct_responses.0.pattern",
        "cmi.interactions.9.id",
        "cmi.interactions.9.learner_response",
    ]
    assert sorted(elements, key=commit_order_key) == [
        "cmi.interactions.9.id",
        "cmi.interactions.9.type",
        "cmi.interactions.9.correct_responses.0.pattern",
        "cmi.interactions.9.learner_response",
        "cmi.interactions.9.result",
        "cmi.interactions.10.id",
        "cmi.interactions._count",
    ]


@pytest.mark.parametrize(
    ("version", "element", "value", "code", "kind"),
    [
        ("1.2", "cmi.core.student_id", "someone-else", 403, ErrorKind.READ_ONLY),
        ("1.2", "cmi.core.credit", "no-credit", 403, ErrorKind.READ_ONLY),
        ("1.2", "cmi.core.lesson_status", "done", 405, ErrorKind.TYPE_MISMATCH),
        ("1.2", "cmi.core.score.raw", "150", 405, ErrorKind.VALUE_OUT_OF_RANGE),
        ("1.2", "cmi.core.foo", "1", 201, ErrorKind.UNDEFINED_ELEMENT),
        ("1.2", "cmi.objectives.5.id", "o", 201, ErrorKind.GENERAL_SET_FAILURE),
        ("1.2", "cmi.interactions._count", "4", 402, ErrorKind.KEYWORD_READ_ONLY),
        ("2004", "cmi.learner_id", "someone-else", 404, ErrorKind.READ_ONLY),
        ("2004", "cmi.scaled_passing_score", "0", 404, ErrorKind.READ_ONLY),
        ("2004", "cmi.score.scaled", "2", 407, ErrorKind.VALUE_OUT_OF_RANGE),
        ("2004", "cmi.completion_status", "done", 406, ErrorKind.TYPE_MISMATCH),
        ("2004", "cmi.objectives.0.score.raw", "1", 408, ErrorKind.DEPENDENCY_NOT_ESTABLISHED),
        ("2004", "cmi.interactions.3.id", "q", 351, ErrorKind.GENERAL_SET_FAILURE),
        ("2004", "cmi.foo", "1", 401, ErrorKind.UNDEFINED_ELEMENT),
        ("2004", "cmi.interactions._count", "4", 404, ErrorKind.KEYWORD_READ_ONLY),
        ("2004", "cmi._version", "2.0", 404, ErrorKind.KEYWORD_READ_ONLY),
        ("2004", "cmi.suspend_data", None, 406, ErrorKind.TYPE_MISMATCH),
    ],
)
def test_rejections_reported_and_not_stored(version, element, value, code, kind):
    state = _fresh(version)
    good = "cmi.core.lesson_location" if version == "1.2" else "cmi.location"
    result = apply_commit(state, {element: value, good: "p9"}, version)
    assert len(result.rejected) == 1
    rejection = result.rejected[0]
    assert (rejection.element, rejection.code, rejection.kind) == (element, code, kind)
    assert rejection.message
    assert result.stored == (good,)
    assert result.state["values"].get(element) == state["values"].get(element)
    assert result.state["values"][good] == "p9"
    assert not result.ok


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_echoed_read_only_values_and_keywords_are_unchanged(version):
    state = _fresh(version)
    if version == "1.2":
        body = {
            "cmi.core.student_id": "s1",
            "cmi.core.student_name": "Ann",
            "cmi.core.credit": "credit",
            "cmi.core.entry": "ab-initio",
            "cmi.student_data.mastery_score": "80",
            "cmi.core._children": get_value(state, "cmi.core._children", "1.2")[0],
            "cmi.interactions._count": "0",
            "cmi._version": "3.4",
        }
    else:
        body = {
            "cmi.learner_id": "s1",
            "cmi.learner_name": "Ann",
            "cmi.credit": "credit",
            "cmi.entry": "ab-initio",
            "cmi.scaled_passing_score": "0.8",
            "cmi.interactions._count": "0",
            "cmi._version": "1.0",
            # RO defaults that are served but not stored
            "cmi.time_limit_action": "continue,no message",
            "adl.nav.request_valid.continue": "unknown",
            "cmi.total_time": "PT0H0M0S",
        }
    result = apply_commit(state, body, version)
    assert result.rejected == ()
    assert result.stored == ()
    assert result.unchanged == len(body)
    assert result.state is state  # nothing changed: no copy


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("cmi.score", "cmi.scores"),  # a name before its extension
        ("cmi.objectives.2.id", "cmi.objectives.10.id"),
        ("cmi.objectives.999999.id", "cmi.objectives._count"),
        ("cmi.interactions.0.type", "cmi.interactions.0.description"),
        ("adl.data.0.store", "cmi.comments_from_learner.0.comment"),
    ],
)
def test_order_key_pairs(first, second):
    assert commit_order_key(first) < commit_order_key(second)


def test_duplicate_elements_with_incomparable_values_do_not_break_sorting():
    pairs = [("cmi.location", None), ("cmi.location", "p1"), ("cmi.location", 5)]
    result = apply_commit(_fresh("2004"), pairs, "2004")
    assert [r.code for r in result.rejected] == [406]
    assert result.state["values"]["cmi.location"] == "5"  # last one wins, in input order


def test_count_keyword_checked_after_entries():
    body = {
        "cmi.interactions._count": "2",
        "cmi.interactions.1.id": "q2",
        "cmi.interactions.0.id": "q1",
    }
    result = apply_commit(_fresh("2004"), body, "2004")
    assert result.rejected == ()
    assert result.unchanged == 1
    assert result.stored == ("cmi.interactions.0.id", "cmi.interactions.1.id")


def test_rejected_id_cascades_as_dependency_errors_2004():
    body = {
        "cmi.interactions.0.id": "has space",
        "cmi.interactions.0.type": "true-false",
        "cmi.interactions.0.learner_response": "true",
    }
    result = apply_commit(_fresh("2004"), body, "2004")
    assert [(r.element, r.code) for r in result.rejected] == [
        ("cmi.interactions.0.id", 406),
        ("cmi.interactions.0.type", 408),
        ("cmi.interactions.0.learner_response", 408),
    ]
    assert result.stored == ()


def test_input_state_not_mutated_and_copied_once():
    state = _fresh("2004")
    snapshot = copy.deepcopy(state)
    result = apply_commit(state, _interactions_2004(3), "2004")
    assert state == snapshot
    assert result.state is not state
    assert result.state["values"] is not state["values"]
    assert result.state["counts"] is not state["counts"]


def test_long_rejected_value_is_truncated():
    result = apply_commit(_fresh("2004"), {"cmi.location": "y" * 5000}, "2004")
    (rejection,) = result.rejected
    assert rejection.code == 406
    assert rejection.value == "y" * 64 + "…"


@pytest.mark.parametrize(
    ("version", "limit", "code"),
    [("1.2", 64000, 405), ("2004", 64000, 406)],
)
def test_suspend_data_limits_in_commit(version, limit, code):
    ok = apply_commit(_fresh(version), {"cmi.suspend_data": "s" * limit}, version)
    assert ok.rejected == () and ok.state["values"]["cmi.suspend_data"] == "s" * limit
    too_long = apply_commit(_fresh(version), {"cmi.suspend_data": "s" * (limit + 1)}, version)
    assert [r.code for r in too_long.rejected] == [code]


def test_commit_equals_sequential_set_value():
    body = _interactions_2004(5)
    body["cmi.score.raw"] = "7"
    body["cmi.score.scaled"] = "nonsense"
    state = _fresh("2004")
    result = apply_commit(state, body, "2004")
    expected = state
    for element, value in sorted(body.items(), key=lambda kv: commit_order_key(kv[0])):
        expected, _ = set_value(expected, element, value, "2004")
    assert result.state == expected
    assert [r.element for r in result.rejected] == ["cmi.score.scaled"]


def test_unchanged_values_skip_validation_and_count():
    state = apply_commit(_fresh("2004"), _interactions_2004(2), "2004").state
    again = apply_commit(state, _interactions_2004(2), "2004")
    assert again.stored == ()
    assert again.unchanged == len(_interactions_2004(2))
    assert again.state is state


def test_int_values_are_accepted_in_commit():
    result = apply_commit(_fresh("1.2"), {"cmi.core.score.raw": 85}, "1.2")
    assert result.state["values"]["cmi.core.score.raw"] == "85"


@pytest.mark.parametrize("seed", range(40))
def test_a_mapping_is_applied_as_its_pairs_are(seed):
    """A mapping's unchanged values are set aside before the sort (apply_commit); the pairs path
    judges each value in order. Both must store, skip and refuse the same things."""
    rng = random.Random(seed)
    version = rng.choice(["1.2", "2004"])
    if version == "2004":
        before = _interactions_2004(4)
        before.update({"cmi.location": "p1", "cmi.score.scaled": "0.5", "cmi.exit": "suspend"})
        pool = {**_interactions_2004(6), "cmi.location": "p2", "cmi.score.scaled": "0.5", "cmi.exit": "nonsense",
                "cmi.learner_id": "s1", "cmi.interactions._count": "4", "cmi.score.raw": "x"}  # fmt: skip
    else:
        before = {"cmi.core.lesson_location": "p1", "cmi.core.score.raw": "50", "cmi.suspend_data": "a"}
        pool = {"cmi.core.lesson_location": "p1", "cmi.core.score.raw": "51", "cmi.suspend_data": "a",
                "cmi.core.student_id": "s1", "cmi.core.lesson_status": "passed", "cmi.core.exit": "bad",
                "cmi.interactions.0.id": "q0", "cmi.interactions.1.id": "q1",
                "cmi.interactions._count": "0"}  # fmt: skip
    state = apply_commit(_fresh(version), before, version).state
    chosen = rng.sample(sorted(pool), rng.randint(1, len(pool)))
    body = {element: pool[element] for element in chosen}
    as_mapping = apply_commit(state, body, version)
    as_pairs = apply_commit(state, list(body.items()), version)
    assert as_mapping.state == as_pairs.state
    assert as_mapping.stored == as_pairs.stored and as_mapping.unchanged == as_pairs.unchanged
    assert [(r.element, r.code) for r in as_mapping.rejected] == [(r.element, r.code) for r in as_pairs.rejected]
