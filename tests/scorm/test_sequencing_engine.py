"""Sequencing engine on small synthetic SCORM 2004 trees (manifests parsed with scorm.packaging)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from scorm.packaging import DEFAULT_LIMITS, ScormManifest, parse_manifest_bytes
from scorm.sequencing import (
    ActivityTree,
    InvalidNavigationRequest,
    InvalidState,
    InvalidTrackingValue,
    NotALeaf,
    UnknownActivity,
    begin,
    build_tree,
    nav_state,
    navigate,
    new_state,
    parse_nav_request,
    report_sco_outcome,
    request_valid_value,
    toc,
    valid_requests,
)
from scorm.sequencing.messages import DEFENSIVE_CODES, LEARNER_MESSAGES, SN_MEANING

State = dict[str, Any]

# --- a tiny manifest DSL -------------------------------------------------------------------------


def leaf(identifier: str, seq: str = "", *, visible: bool = True) -> str:
    vis = "" if visible else ' isvisible="false"'
    return (
        f'<item identifier="{identifier}" identifierref="r_{identifier}"{vis}>'
        f"<title>{identifier.upper()}</title>{_seq(seq)}</item>"
    )


def cluster(identifier: str, children: list[str], seq: str = "") -> str:
    return f'<item identifier="{identifier}"><title>{identifier.upper()}</title>{"".join(children)}{_seq(seq)}</item>'


def _seq(body: str) -> str:
    return f"<imsss:sequencing>{body}</imsss:sequencing>" if body else ""


def manifest(items: list[str], root_seq: str = 'controlMode flow="true"') -> ScormManifest:
    leaves = []
    for chunk in items:
        leaves.extend(part.split('"')[0] for part in chunk.split('identifierref="r_')[1:])
    resources = "".join(
        f'<resource identifier="r_{i}" type="webcontent" adlcp:scormType="sco" href="{i}.html"/>' for i in leaves
    )
    root = f"<imsss:{root_seq}/>" if root_seq and not root_seq.startswith("<") else root_seq
    xml = f"""<?xml version="1.0"?>
<manifest identifier="m" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
  xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
  xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
 <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"><title>Course</title>
  {"".join(items)}
  {_seq(root)}
 </organization></organizations>
 <resources>{resources}</resources>
</manifest>"""
    structure = parse_manifest_bytes(xml.encode(), file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    assert isinstance(structure, ScormManifest)
    return structure


def tree_of(items: list[str], root_seq: str = 'controlMode flow="true"') -> ActivityTree:
    return build_tree(manifest(items, root_seq))


def go(tree: ActivityTree, state: State, request: str, target: str | None = None) -> State:
    result = navigate(tree, state, request, target)
    assert result.exception is None, (request, target, result.exception, result.message)
    return dict(result.state)


def done(tree: ActivityTree, state: State, sco: str, **kw: Any) -> State:
    values: dict[str, Any] = {"completion": "completed", "success": "passed"}
    values.update(kw)
    return report_sco_outcome(tree, state, sco, **values)


def started(tree: ActivityTree) -> State:
    return go(tree, new_state(tree), "start")


# rule snippets
def pre(action: str, condition: str, operator: str = "noOp", extra: str = "") -> str:
    return (
        "<imsss:sequencingRules><imsss:preConditionRule><imsss:ruleConditions>"
        f'<imsss:ruleCondition condition="{condition}" operator="{operator}" {extra}/>'
        f'</imsss:ruleConditions><imsss:ruleAction action="{action}"/>'
        "</imsss:preConditionRule></imsss:sequencingRules>"
    )


def post(action: str, condition: str = "always", operator: str = "noOp") -> str:
    return (
        "<imsss:sequencingRules><imsss:postConditionRule><imsss:ruleConditions>"
        f'<imsss:ruleCondition condition="{condition}" operator="{operator}"/>'
        f'</imsss:ruleConditions><imsss:ruleAction action="{action}"/>'
        "</imsss:postConditionRule></imsss:sequencingRules>"
    )


def exit_rule(condition: str = "always") -> str:
    return (
        "<imsss:sequencingRules><imsss:exitConditionRule><imsss:ruleConditions>"
        f'<imsss:ruleCondition condition="{condition}"/>'
        '</imsss:ruleConditions><imsss:ruleAction action="exit"/>'
        "</imsss:exitConditionRule></imsss:sequencingRules>"
    )


FLOW = '<imsss:controlMode flow="true"/>'
FLAT3 = [leaf("a"), leaf("b"), leaf("c")]

# --- every exception code the engine can return -------------------------------------------------

Scenario = Callable[[], tuple[ActivityTree, State, str, str | None]]


def _s_nb_1() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3)
    return t, started(t), "start", None


def _s_nb_2() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3)
    return t, new_state(t), "continue", None


def _s_nb_3() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3)
    return t, new_state(t), "resumeAll", None


def _s_nb_4() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3, root_seq='controlMode flow="false"')
    return t, go(t, new_state(t), "choice", "a"), "continue", None


def _s_nb_5() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3, root_seq='controlMode flow="true" forwardOnly="true"')
    s = go(t, started(t), "continue")
    return t, s, "previous", None


def _s_nb_8() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(
        [leaf("a", '<imsss:controlMode choiceExit="false"/>'), leaf("b"), leaf("c")],
    )
    return t, started(t), "choice", "c"


def _s_nb_10() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([cluster("m", [leaf("a"), leaf("b")], '<imsss:controlMode choice="false" flow="true"/>')])
    return t, started(t), "choice", "b"


def _s_nb_11() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3)
    return t, started(t), "choice", "nope"


def _s_nb_12() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3)
    return t, go(t, started(t), "exit"), "exit", None


def _s_tb_4() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(
        [leaf("a", post("exitParent")), leaf("b")],
        root_seq=FLOW + post("exitParent"),
    )
    return t, started(t), "continue", None


def _s_sb_1_2() -> tuple[ActivityTree, State, str, str | None]:
    empty = '<imsss:randomizationControls selectCount="0" selectionTiming="once"/>'
    t = tree_of([cluster("m", [leaf("a")], FLOW + empty), leaf("b")])
    return t, new_state(t), "start", None


def _s_sb_1_3() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3)
    return t, started(t), "previous", None


def _s_sb_1_4() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(
        [leaf("x"), cluster("m", [leaf("a"), leaf("b")], FLOW)],
        root_seq='controlMode flow="true" forwardOnly="true"',
    )
    s = go(t, started(t), "continue")  # x -> a (first child of m)
    return t, s, "previous", None


def _s_sb_2_1() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3, root_seq='controlMode flow="false"')
    return t, new_state(t), "start", None


def _s_sb_2_2() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([leaf("a"), leaf("b", pre("disabled", "always")), leaf("c")])
    return t, started(t), "continue", None


def _s_sb_4_1() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([leaf("a"), leaf("b", pre("stopForwardTraversal", "always")), leaf("c")])
    return t, started(t), "choice", "c"


def _s_sb_4_2() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(FLAT3, root_seq='controlMode choice="true" flow="true" forwardOnly="true"')
    s = go(t, started(t), "continue")
    return t, s, "choice", "a"


def _s_sb_7_2() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([leaf("a", post("continue")), leaf("b")], root_seq='controlMode flow="false"')
    return t, go(t, new_state(t), "choice", "a"), "exit", None


def _s_sb_8_2() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([leaf("a"), leaf("b", post("previous"))], root_seq='controlMode flow="false"')
    return t, go(t, new_state(t), "choice", "b"), "exit", None


def _s_sb_9_2() -> tuple[ActivityTree, State, str, str | None]:
    pick = '<imsss:randomizationControls selectCount="1" selectionTiming="once"/>'
    t = tree_of([cluster("m", [leaf("a"), leaf("b")], FLOW + pick)])
    s = new_state(t, seed=1)
    dropped = ({"a", "b"} - set(s["activities"]["m"]["available"])).pop()
    return t, s, "choice", dropped


def _s_sb_9_3() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([leaf("a"), leaf("b", pre("hiddenFromChoice", "always"))])
    return t, started(t), "choice", "b"


def _s_sb_9_6() -> tuple[ActivityTree, State, str, str | None]:
    prevent = '<adlseq:constrainedChoiceConsiderations preventActivation="true"/>'
    t = tree_of([leaf("x"), cluster("m", [leaf("a"), leaf("b")], FLOW + prevent)])
    return t, started(t), "choice", "b"


def _s_sb_9_7() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(
        [cluster("m", [leaf("a"), leaf("b")], '<imsss:controlMode flow="true" choiceExit="false"/>'), leaf("z")]
    )
    return t, started(t), "choice", "z"


def _s_sb_9_8() -> tuple[ActivityTree, State, str, str | None]:
    constrain = '<adlseq:constrainedChoiceConsiderations constrainChoice="true"/>'
    t = tree_of(
        [cluster("m", [leaf("a")], FLOW + constrain), cluster("n", [leaf("b")], FLOW), cluster("o", [leaf("c")], FLOW)]
    )
    return t, started(t), "choice", "c"


def _s_sb_9_9() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([leaf("x"), cluster("m", [leaf("a", pre("disabled", "always"))], FLOW)])
    return t, started(t), "choice", "m"


def _s_sb_10_3() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of(
        [cluster("m", [leaf("a", post("exitParent"))], '<imsss:controlMode flow="false"/>' + post("retry"))],
        root_seq='controlMode flow="false"',
    )
    return t, go(t, new_state(t), "choice", "a"), "exit", None


def _s_db_1_1_3() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([leaf("a"), leaf("b", pre("disabled", "always"))])
    return t, started(t), "choice", "b"


EXCEPTION_SCENARIOS: dict[str, Scenario] = {
    "NB.2.1-1": _s_nb_1,
    "NB.2.1-2": _s_nb_2,
    "NB.2.1-3": _s_nb_3,
    "NB.2.1-4": _s_nb_4,
    "NB.2.1-5": _s_nb_5,
    "NB.2.1-8": _s_nb_8,
    "NB.2.1-10": _s_nb_10,
    "NB.2.1-11": _s_nb_11,
    "NB.2.1-12": _s_nb_12,
    "TB.2.3-4": _s_tb_4,
    "SB.2.1-2": _s_sb_1_2,
    "SB.2.1-3": _s_sb_1_3,
    "SB.2.1-4": _s_sb_1_4,
    "SB.2.2-1": _s_sb_2_1,
    "SB.2.2-2": _s_sb_2_2,
    "SB.2.4-1": _s_sb_4_1,
    "SB.2.4-2": _s_sb_4_2,
    "SB.2.7-2": _s_sb_7_2,
    "SB.2.8-2": _s_sb_8_2,
    "SB.2.9-2": _s_sb_9_2,
    "SB.2.9-3": _s_sb_9_3,
    "SB.2.9-6": _s_sb_9_6,
    "SB.2.9-7": _s_sb_9_7,
    "SB.2.9-8": _s_sb_9_8,
    "SB.2.9-9": _s_sb_9_9,
    "SB.2.10-3": _s_sb_10_3,
    "DB.1.1-3": _s_db_1_1_3,
}


@pytest.mark.parametrize("code", sorted(EXCEPTION_SCENARIOS))
def test_exception_code(code: str) -> None:
    tree, state, request, target = EXCEPTION_SCENARIOS[code]()
    before = json.dumps(state, sort_keys=True)
    result = navigate(tree, state, request, target)
    assert result.exception == code, result.message
    assert result.deliver is None and result.end is False
    assert result.message == LEARNER_MESSAGES[code]
    # a refused request leaves the stored state exactly as it was
    assert json.dumps(result.state, sort_keys=True) == before


def test_every_reachable_code_has_a_scenario_and_words() -> None:
    reachable = set(LEARNER_MESSAGES) - DEFENSIVE_CODES
    assert reachable == set(EXCEPTION_SCENARIOS)
    assert set(LEARNER_MESSAGES) == set(SN_MEANING)
    assert DEFENSIVE_CODES <= set(LEARNER_MESSAGES)
