"""What the player shows: table of contents, Previous/Continue buttons, request validity.

Validity is evaluated by running the real Overall Sequencing Process on a throw-away copy of the
state (SN 4.4.3 "the LMS shall evaluate the request as if it were issued"), so the TOC can never
disagree with what :func:`scorm.sequencing.navigate` would do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from scorm.sequencing.engine import choice_validity, run_request
from scorm.sequencing.tracking import (
    available_children,
    check_rules,
    check_state,
    completion_status,
    objective_status,
)
from scorm.sequencing.tree import ActivityTree

logger = logging.getLogger(__name__)

_HIDDEN = frozenset({"hiddenFromChoice"})


def request_is_valid(tree: ActivityTree, state: Mapping[str, Any], request: str, target: str | None = None) -> bool:
    """``True`` when ``navigate(tree, state, request, target)`` would succeed (state untouched)."""
    check_state(tree, state)
    return run_request(tree, state, request, target).exception is None


def _visible(tree: ActivityTree, state: Mapping[str, Any], activity_id: str) -> bool:
    """Whether the menu shows the activity.

    ``isvisible="false"`` hides the item itself only (the CAM attribute is about displaying that
    item): its visible descendants are still listed, as SCORM Cloud does; else a course wrapped
    in an invisible cluster shows an empty menu. Deselection (SR.1) and ``hiddenFromChoice`` (SN 4.3.2) hide a whole
    subtree.
    """
    if not tree.activities[activity_id].visible:
        return False
    for node in tree.path_to_root(activity_id):
        activity = tree.activities[node]
        if activity.parent is None:
            break
        if node not in available_children(tree, state, activity.parent):
            return False  # deselected by SR.1
        if check_rules(tree, state, activity, activity.pre_rules, _HIDDEN):
            return False
    return True


def toc(tree: ActivityTree, state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Table of contents rows in course order (the root organization is not a row).

    Each row: ``{id, title, kind ("sco"|"asset"|"cluster"), depth (0 = top level), visible,
    disabled, completed, satisfied, current, url}``. ``visible`` is false for ``isvisible="false"``
    items (not their descendants), ``hiddenFromChoice`` rules (on the item or an ancestor) and
    items not selected by randomization (or under one that was not); ``disabled`` is true when a
    ``choice`` to it would be refused.

    Raises:
        InvalidState: ``state`` does not belong to ``tree``.
    """
    check_state(tree, state)
    ids = [a for a in tree.order if tree.activities[a].parent is not None]
    refused = choice_validity(tree, state, ids)
    rows: list[dict[str, Any]] = []
    for activity_id in tree.order:
        activity = tree.activities[activity_id]
        if activity.parent is None:
            continue
        completed, _ = completion_status(tree, state, activity)
        satisfied, _ = objective_status(tree, state, activity)
        rows.append(
            {
                "id": activity.id,
                "title": activity.title,
                "kind": activity.kind,
                "depth": activity.depth - 1,
                "visible": _visible(tree, state, activity_id),
                "disabled": refused[activity_id] is not None,
                "completed": completed is True,
                "satisfied": satisfied,
                "current": state["current"] == activity_id,
                "url": activity.url,
            }
        )
    return rows


def nav_state(tree: ActivityTree, state: Mapping[str, Any], current: str | None = None) -> dict[str, bool]:
    """Whether the player's Previous / Continue buttons should be enabled.

    Args:
        tree: the activity tree.
        state: the attempt's state.
        current: the activity on screen; must be the state's current activity when given.

    Returns:
        ``{"previous": bool, "continue": bool}``.
    """
    check_state(tree, state)
    if current is not None and current != state["current"]:
        logger.info("nav_state asked for %s but the current activity is %s", current, state["current"])
        return {"previous": False, "continue": False}
    return {
        "previous": run_request(tree, state, "previous", None).exception is None,
        "continue": continue_is_valid(tree, state),
    }


def continue_is_valid(tree: ActivityTree, state: Mapping[str, Any]) -> bool:
    """Whether a Continue navigation request is valid now: the Navigation Request Process (SN 4th
    NB.2.1, Continue case), which asks only that the current activity is not the root and that
    its parent allows flow. It does not run the flow: a Continue that flows into something the
    sequencer cannot deliver (SB.2.2-1 flow disabled below, a precondition that disables the next
    activity) is valid here and refused when it is made, with the sequencer's message. ADL's CTS
    holds the LMS's Continue control to this answer (CM-07d: Continue enabled at Activity 3 though
    Activity 4 has flow="false"); Previous is evaluated in full (CM-02a: disabled on the first).
    """
    current = state.get("current")
    if current is None or current not in tree:
        return False
    parent = tree.activities[current].parent
    return parent is not None and tree.activities[parent].flow


def jump_targets(tree: ActivityTree, state: Mapping[str, Any]) -> list[str]:
    """The leaves a ``{target=..}jump`` would deliver now (what request_valid.jump answers)."""
    check_state(tree, state)
    leaves = [a for a in tree.order if tree.activities[a].parent is not None and tree.activities[a].is_leaf]
    return [a for a, code in choice_validity(tree, state, leaves, "jump").items() if code is None]


def continue_refusal(tree: ActivityTree, state: Mapping[str, Any]) -> str | None:
    """The learner's message when a Continue that NB.2.1 validates would still be refused.

    The player shows it when the learner clicks Continue, without taking the activity on screen
    away (the request would fail after the SCO is unloaded, stranding the learner). None when
    Continue is not valid at all or would go through.
    """
    check_state(tree, state)
    if not continue_is_valid(tree, state):
        return None
    result = run_request(tree, state, "continue", None)
    return None if result.exception is None else result.message


def valid_requests(tree: ActivityTree, state: Mapping[str, Any]) -> dict[str, Any]:
    """Everything ``adl.nav.request_valid.*`` can ask (SCORM 2004 RTE 4.4.3).

    Returns:
        ``{"continue": bool, "previous": bool, "choice": {id: bool}, "jump": {id: bool}}`` for
        every non-root activity (``jump`` only lists leaves).
    """
    check_state(tree, state)
    buttons = nav_state(tree, state)
    ids = [a for a in tree.order if tree.activities[a].parent is not None]
    refused = choice_validity(tree, state, ids)
    return {
        "continue": buttons["continue"],
        "previous": buttons["previous"],
        "choice": {a: refused[a] is None for a in ids},
        "jump": {
            a: code is None
            for a, code in choice_validity(tree, state, [a for a in ids if tree.activities[a].is_leaf], "jump").items()
        },
    }


_VALID_ELEMENT = re.compile(
    r"^adl\.nav\.request_valid\.(?:(?P<simple>continue|previous)"
    r"|(?P<kind>choice|jump)\.\{target=(?P<target>[^{}]+)\})$"
)


def request_valid_value(tree: ActivityTree, state: Mapping[str, Any], element: str) -> str:
    """The value of one ``adl.nav.request_valid.*`` element: ``"true"``/``"false"``/``"unknown"``.

    Example elements: ``adl.nav.request_valid.continue``,
    ``adl.nav.request_valid.choice.{target=sco2}``. An element that is not one of these, or a
    target that is not in the course, answers ``"unknown"`` (RTE 4.4.3: the LMS cannot tell).
    """
    check_state(tree, state)
    match = _VALID_ELEMENT.match(element.strip())
    if match is None:
        return "unknown"
    if match.group("simple") == "continue":
        return "true" if continue_is_valid(tree, state) else "false"
    if match.group("simple"):
        return "true" if request_is_valid(tree, state, match.group("simple")) else "false"
    target = match.group("target")
    if target not in tree:
        return "unknown"
    return "true" if request_is_valid(tree, state, match.group("kind"), target) else "false"
