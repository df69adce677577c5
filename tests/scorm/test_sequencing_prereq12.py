"""SCORM 1.2 trees and ``adlcp:prerequisites`` (CAM 2.3.2.5.2 aicc_script)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import pytest

from scorm.packaging import DEFAULT_LIMITS, ScormManifest, parse_manifest_bytes
from scorm.sequencing import (
    ActivityTree,
    InvalidPrerequisites,
    build_tree,
    evaluate_prerequisites,
    navigate,
    new_state,
    parse_prerequisites,
    referenced_items,
    report_sco_outcome,
    toc,
)


def manifest12(items: str) -> ScormManifest:
    ids = [chunk.split('"')[0] for chunk in items.split('identifierref="r_')[1:]]
    resources = "".join(
        f'<resource identifier="r_{i}" type="webcontent" adlcp:scormtype="sco" href="{i}.html"/>' for i in ids
    )
    xml = f"""<?xml version="1.0"?>
<manifest identifier="m12" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
 <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"><title>C</title>{items}
 </organization></organizations><resources>{resources}</resources></manifest>"""
    structure = parse_manifest_bytes(xml.encode(), file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    assert isinstance(structure, ScormManifest)
    return structure


def item(identifier: str, prereq: str | None = None) -> str:
    req = (
        f'<adlcp:prerequisites type="aicc_script">{escape(prereq)}</adlcp:prerequisites>' if prereq is not None else ""
    )
    return f'<item identifier="{identifier}" identifierref="r_{identifier}"><title>{identifier}</title>{req}</item>'


STATUS = {
    "A": "passed",
    "B": "completed",
    "C": "failed",
    "D": "incomplete",
    "E": "browsed",
    "F": "not attempted",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", True),
        ("B", True),
        ("C", False),
        ("E", False),
        ("~C", True),
        ("~A", False),
        ("A & B", True),
        ("A & C", False),
        ("A&B&D", False),
        ("C | D", False),
        ("C | B", True),
        ("~(C | D)", True),
        ("(A | C) & ~D", True),
        ("A | C & D", True),  # & binds tighter than |
        ("(A | C) & D", False),
        ("C = failed", True),
        ('C="failed"', True),
        ("C = f", True),
        ("C = Passed", False),
        ("A <> passed", False),
        ("D <> passed & D <> completed", True),
        ("F = not attempted", True),
        ('F = "not attempted"', True),
        ("F = n", True),
        ("E = browsed", True),
        ("2*{A,B,C}", True),
        ("3*{A,B,C}", False),
        ("1*{C,D,A & B}", True),
        ("0*{C}", True),
        ("~2*{A,C,D}", True),
    ],
)
def test_prerequisite_expressions(text: str, expected: bool) -> None:
    expr = parse_prerequisites(text)
    assert evaluate_prerequisites(expr, STATUS.__getitem__) is expected


@pytest.mark.parametrize(
    ("text", "items"),
    [("A", {"A"}), ("A & ~(B | C=passed)", {"A", "B", "C"}), ("2*{X,Y,Z & W}", {"X", "Y", "Z", "W"})],
)
def test_referenced_items(text: str, items: set[str]) -> None:
    assert referenced_items(parse_prerequisites(text)) == items


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "A &",
        "& A",
        "(A",
        "A)",
        "A = done",
        "A =",
        "x*{A}",
        "2*{A",
        "2*A",
        "A B",
        'A = "',
        "A = (",
        "~",
        "2*{}",
    ],
)
def test_bad_prerequisites(text: str) -> None:
    with pytest.raises(InvalidPrerequisites) as info:
        parse_prerequisites(text)
    assert info.value.code == "invalid_prerequisites"


def _tree(*items: str) -> ActivityTree:
    return build_tree(manifest12("".join(items)))


def _rows(tree: ActivityTree, state: Any) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in toc(tree, state)}


def test_scorm12_tree_is_flow_and_choice_everywhere() -> None:
    tree = _tree(item("a"), item("b", "a"), item("c", "a & b"))
    assert tree.standard == "scorm12"
    assert all(a.flow and a.choice for a in tree.activities.values())
    assert tree.activities["c"].prerequisites == ("and", ("id", "a"), ("id", "b"))


@pytest.mark.parametrize(
    ("report", "b_open", "c_open"),
    [
        ({"a": "not attempted"}, False, False),
        ({"a": "incomplete"}, False, False),
        ({"a": "failed"}, False, False),
        ({"a": "completed"}, True, False),
        ({"a": "passed", "b": "browsed"}, True, False),
        ({"a": "passed", "b": "passed"}, True, True),
    ],
)
def test_scorm12_prerequisites_lock_items(report: dict[str, str], b_open: bool, c_open: bool) -> None:
    tree = _tree(item("a"), item("b", "a"), item("c", "a & b"))
    state = navigate(tree, new_state(tree), "start").state
    for sco, status in report.items():
        state = report_sco_outcome(tree, state, sco, lesson_status=status)
        assert state["activities"][sco]["status12"] == status
    rows = _rows(tree, state)
    assert rows["b"]["disabled"] is not b_open
    assert rows["c"]["disabled"] is not c_open
    result = navigate(tree, state, "choice", "c")
    assert (result.deliver == "c") is c_open
    if not c_open:
        assert result.exception == "DB.1.1-3"
    assert (navigate(tree, state, "continue").deliver == "b") is b_open


def test_scorm12_sco_that_never_reports_is_completed_when_left() -> None:
    tree = _tree(item("a"), item("b", "a"), item("c", "a = passed"))
    state = navigate(tree, new_state(tree), "start").state
    state = navigate(tree, state, "continue").state
    assert state["current"] == "b"
    assert state["activities"]["a"]["status12"] == "completed"
    assert state["activities"]["a"]["objectives"] == {}
    assert _rows(tree, state)["c"]["disabled"] is True


def test_scorm12_status_without_lesson_status_is_derived() -> None:
    tree = _tree(item("a"), item("b", "a=passed"), item("c", "a<>not attempted"))
    state = new_state(tree)
    assert _rows(tree, state)["c"]["disabled"] is True
    state = report_sco_outcome(tree, state, "a", completion="completed", success="passed")
    rows = _rows(tree, state)
    assert rows["b"]["disabled"] is False and rows["c"]["disabled"] is False


def test_scorm12_lesson_status_and_explicit_values_combine() -> None:
    tree = _tree(item("a"))
    state = report_sco_outcome(tree, new_state(tree), "a", lesson_status=" Passed ")
    assert state["activities"]["a"]["completed"] is True
    assert state["activities"]["a"]["objectives"]["_primary"]["satisfied"] is True
    assert state["activities"]["org"]["completed"] is True


@pytest.mark.parametrize(
    ("prereq", "warning"),
    [("a & (", "ends too early"), ("ghost", "unknown item(s) ghost")],
)
def test_unusable_prerequisites_are_ignored_with_a_warning(prereq: str, warning: str) -> None:
    tree = _tree(item("a"), item("b", prereq))
    assert tree.activities["b"].prerequisites is None
    assert len(tree.warnings) == 1 and warning in tree.warnings[0]
    state = navigate(tree, new_state(tree), "start").state
    assert _rows(tree, state)["b"]["disabled"] is False
