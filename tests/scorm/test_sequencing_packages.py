"""Sequencing on the real course packages in ../shared/fixtures/packages (read-only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scorm.packaging import ScormManifest, inspect_package
from scorm.sequencing import (
    ActivityTree,
    begin,
    build_tree,
    continue_refusal,
    nav_state,
    navigate,
    new_state,
    report_sco_outcome,
    toc,
    valid_requests,
)

FORCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"
SCOS = ["playing_item", "etuqiette_item", "handicapping_item", "havingfun_item", "assessment_item"]
G = "com.scorm.golfsamples.sequencing.forcedsequential."


def _tree(pkg_fixtures: Path, name: str) -> ActivityTree:
    structure = inspect_package(pkg_fixtures / name).structure
    assert isinstance(structure, ScormManifest)
    return build_tree(structure)


@pytest.fixture(scope="module")
def forced(pkg_fixtures: Path) -> ActivityTree:
    return _tree(pkg_fixtures, FORCED)


def _pass(tree: ActivityTree, state: Any, sco: str, measure: float | None = None) -> Any:
    return report_sco_outcome(
        tree,
        state,
        sco,
        completion="completed",
        success="passed",
        measure=measure,
        attempt_ended=True,
    )


def test_forced_tree_shape(forced: ActivityTree) -> None:
    assert forced.root == "golf_sample_default_org"
    assert forced.order == ("golf_sample_default_org", *SCOS)
    assert forced.objectives_global_to_system is False
    root = forced.activities[forced.root]
    assert root.flow and root.choice
    for sco in SCOS:
        activity = forced.activities[sco]
        assert activity.kind == "sco" and activity.url.startswith("shared/launchpage.html")
        # the shared sequencingCollection entry applies to every item
        assert activity.measure_weight == 0.0
        assert activity.completion_set_by_content and activity.objective_set_by_content
    assert [r.action for r in forced.activities["etuqiette_item"].pre_rules] == ["disabled"]


def test_start_delivers_the_first_sco(forced: ActivityTree) -> None:
    result = navigate(forced, new_state(forced), "start")
    assert (result.deliver, result.exception, result.end) == ("playing_item", None, False)
    assert begin(forced, new_state(forced)).deliver == "playing_item"


@pytest.mark.parametrize("target", SCOS[1:])
def test_choice_ahead_is_refused_while_the_first_is_incomplete(forced: ActivityTree, target: str) -> None:
    state = navigate(forced, new_state(forced), "start").state
    result = navigate(forced, state, "choice", target)
    assert result.exception == "DB.1.1-3"
    assert result.message == "This section is locked until you complete the previous one."
    assert result.state == state
    rows = {r["id"]: r for r in toc(forced, state)}
    # the manifest says "disabled": shown in the tree but not selectable
    assert rows[target]["visible"] is True and rows[target]["disabled"] is True
    assert rows["playing_item"]["disabled"] is False
    # NB.2.1 validates Continue (ADL CTS CM-07d); the flow refuses it, with the learner's reason.
    assert nav_state(forced, state, "playing_item") == {"previous": False, "continue": True}
    assert continue_refusal(forced, state) == "The next section is locked until you complete the previous one."


def test_continue_after_the_first_completes_delivers_the_second(forced: ActivityTree) -> None:
    state = navigate(forced, new_state(forced), "start").state
    state = _pass(forced, state, "playing_item")
    assert nav_state(forced, state, "playing_item") == {"previous": False, "continue": True}
    rows = {r["id"]: r for r in toc(forced, state)}
    assert rows["etuqiette_item"]["disabled"] is False
    assert rows["handicapping_item"]["disabled"] is True  # still two steps ahead
    result = navigate(forced, state, "continue")
    assert result.deliver == "etuqiette_item"
    # going back for review is allowed
    back = navigate(forced, result.state, "previous")
    assert back.deliver == "playing_item"


def test_flow_through_all_five_and_course_rollup(forced: ActivityTree) -> None:
    state = navigate(forced, new_state(forced), "start").state
    delivered = ["playing_item"]
    for sco in SCOS:
        assert state["current"] == sco
        root = state["activities"][forced.root]
        assert root["completed"] is not True  # not before the last SCO is done
        state = _pass(forced, state, sco, measure=0.9 if sco == "assessment_item" else None)
        result = navigate(forced, state, "continue")
        assert result.exception is None
        state = result.state
        if result.deliver:
            delivered.append(result.deliver)
    assert delivered == SCOS
    assert result.end is True and result.message == "You have reached the end of the course."
    root = state["activities"][forced.root]
    assert root["completed"] is True
    assert root["objectives"]["_primary"]["satisfied"] is True
    # objectiveMeasureWeight="0" everywhere: no score rolls up to the course
    assert root["objectives"]["_primary"]["measure"] is None
    assert all(state["activities"][s]["attempts"] == 1 for s in SCOS)
    json.dumps(state)


def test_course_not_satisfied_when_one_sco_fails(forced: ActivityTree) -> None:
    state = new_state(forced)
    for sco in SCOS[:-1]:
        state = _pass(forced, state, sco)
    state = report_sco_outcome(forced, state, "assessment_item", completion="completed", success="failed")
    root = state["activities"][forced.root]
    assert root["completed"] is True
    assert root["objectives"]["_primary"]["satisfied"] is False


def test_global_objectives_written_by_one_sco_are_read_by_the_next(forced: ActivityTree) -> None:
    state = navigate(forced, new_state(forced), "start").state
    assert state["globals"] == {}
    state = report_sco_outcome(forced, state, "playing_item", completion="completed", success="failed")
    assert state["globals"][G + "playing_satisfied"]["satisfied"] is False
    assert valid_requests(forced, state)["choice"]["etuqiette_item"] is False
    state = _pass(forced, state, "playing_item")
    assert state["globals"][G + "playing_satisfied"]["satisfied"] is True
    choice = valid_requests(forced, state)["choice"]
    assert choice == {
        "playing_item": True,
        "etuqiette_item": True,
        "handicapping_item": False,
        "havingfun_item": False,
        "assessment_item": False,
    }
    # etiquette's local "previous_sco_satisfied" has no data of its own: it reads the global
    assert "previous_sco_satisfied" not in state["activities"]["etuqiette_item"]["objectives"]
    # the quiz writes no global (its primary objective has no mapInfo)
    state = _pass(forced, state, "assessment_item")
    assert set(state["globals"]) == {G + "playing_satisfied"}


def test_suspend_and_resume_on_the_real_course(forced: ActivityTree) -> None:
    state = navigate(forced, new_state(forced), "start").state
    state = _pass(forced, state, "playing_item")
    state = navigate(forced, state, "continue").state
    state = report_sco_outcome(
        forced,
        state,
        "etuqiette_item",
        completion="incomplete",
        attempt_ended=True,
        suspended=True,
    )
    suspended = navigate(forced, state, "suspendAll")
    assert suspended.end and suspended.state["suspended"] == "etuqiette_item"
    stored = json.loads(json.dumps(suspended.state))  # what the server stores and reads back
    resumed = begin(forced, stored)
    assert resumed.deliver == "etuqiette_item"
    assert resumed.state["activities"]["etuqiette_item"]["attempts"] == 1


@pytest.mark.parametrize(
    ("name", "first", "leaves"),
    [
        ("scorm2004/ContentPackagingSingleSCO_SCORM20042ndEdition.zip", "item_1", 1),
        ("scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip", "item_1", 1),
        ("scorm2004/RunTimeAdvancedCalls_SCORM20043rdEdition.zip", "item_1", 1),
        ("scorm12/RuntimeBasicCalls_SCORM12.zip", "item_1", 1),
        ("scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip", "playing_playing_item", 18),
    ],
)
def test_other_packages_open_and_flow_to_the_end(pkg_fixtures: Path, name: str, first: str, leaves: int) -> None:
    tree = _tree(pkg_fixtures, name)
    assert sum(1 for _ in tree.leaves()) == leaves
    result = begin(tree, new_state(tree))
    assert result.deliver == first
    state = result.state
    seen = [first]
    for _ in range(leaves + 1):
        result = navigate(tree, state, "continue")
        if result.end or result.exception:
            break
        seen.append(result.deliver)
        state = result.state
    if tree.activities[tree.root].flow:
        assert result.end and len(seen) == leaves
    else:
        # 2004 without sequencing: flow is off by default (SN 5.1.1), the menu is the way
        assert result.exception == "NB.2.1-4"
    rows = toc(tree, state)
    assert len(rows) == len(tree.order) - 1
    for row in rows:
        activity = tree.activities[row["id"]]
        assert row["kind"] == ("cluster" if activity.children else activity.kind)
        assert (row["url"] is None) is bool(activity.children)
        assert row["depth"] == activity.depth - 1 and row["visible"] is True
