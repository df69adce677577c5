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
    continue_refusal,
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
  xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
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


def _s_sb_10_2() -> tuple[ActivityTree, State, str, str | None]:
    # retryAll ends the root's attempt; a child left suspended (cmi.exit=suspend) makes the
    # root suspended (UP.4), and SB.2.10 refuses to retry a suspended activity
    t = tree_of([leaf("b"), leaf("a", post("retryAll"))])
    s = report_sco_outcome(t, started(t), "b", completion="incomplete", attempt_ended=True, suspended=True)
    return t, go(t, s, "continue"), "continue", None


def _s_db_1_1_1() -> tuple[ActivityTree, State, str, str | None]:
    t = tree_of([cluster("m", [leaf("a")], FLOW), leaf("z")])
    return t, started(t), "jump", "m"


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
    "SB.2.10-2": _s_sb_10_2,
    "SB.2.10-3": _s_sb_10_3,
    "DB.1.1-1": _s_db_1_1_1,
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


# --- flow, control modes, rules -----------------------------------------------------------------


def _delivers(tree: ActivityTree, state: State, requests: list[tuple[str, str | None]]) -> list[Any]:
    out: list[Any] = []
    for request, target in requests:
        result = navigate(tree, state, request, target)
        out.append(result.exception or ("END" if result.end else result.deliver))
        state = dict(result.state)
    return out


@pytest.mark.parametrize(
    ("items", "root_seq", "requests", "expected"),
    [
        # plain flow through three SCOs, then the end of the course
        (
            FLAT3,
            'controlMode flow="true"',
            [("start", None), ("continue", None), ("continue", None), ("continue", None)],
            ["a", "b", "c", "END"],
        ),
        # previous and continue go both ways when forwardOnly is off
        (
            FLAT3,
            'controlMode flow="true"',
            [("start", None), ("continue", None), ("previous", None), ("previous", None)],
            ["a", "b", "a", "SB.2.1-3"],
        ),
        # forwardOnly blocks previous
        (
            FLAT3,
            'controlMode flow="true" forwardOnly="true"',
            [("start", None), ("continue", None), ("previous", None), ("continue", None)],
            ["a", "b", "NB.2.1-5", "c"],
        ),
        # a skip rule makes flow pass over b in both directions
        (
            [leaf("a"), leaf("b", pre("skip", "always")), leaf("c")],
            'controlMode flow="true"',
            [("start", None), ("continue", None), ("previous", None)],
            ["a", "c", "a"],
        ),
        # skip rule on a condition: b skipped only once it is attempted
        (
            [leaf("a"), leaf("b", pre("skip", "attempted")), leaf("c")],
            'controlMode flow="true"',
            [("start", None), ("continue", None), ("continue", None), ("previous", None)],
            ["a", "b", "c", "a"],
        ),
        # nested clusters: flow enters and leaves clusters
        (
            [cluster("m", [leaf("a"), leaf("b")], FLOW), cluster("n", [leaf("c")], FLOW)],
            'controlMode flow="true"',
            [("start", None), ("continue", None), ("continue", None), ("previous", None)],
            ["a", "b", "c", "b"],
        ),
        # choiceExit=false on a cluster: free choice inside, refused outside
        (
            [
                cluster("m", [leaf("a"), leaf("b")], '<imsss:controlMode flow="true" choiceExit="false"/>'),
                leaf("z"),
            ],
            'controlMode flow="true"',
            [("start", None), ("choice", "b"), ("choice", "z"), ("choice", "a")],
            ["a", "b", "SB.2.9-7", "a"],
        ),
        # choiceExit=false on the current SCO itself
        (
            [leaf("a", '<imsss:controlMode choiceExit="false"/>'), leaf("b")],
            'controlMode flow="true"',
            [("start", None), ("choice", "b"), ("continue", None)],
            ["a", "NB.2.1-8", "b"],
        ),
        # choiceExit binds while the cluster is active, even after its SCO exited ...
        (
            [cluster("m", [leaf("a"), leaf("b")], '<imsss:controlMode flow="true" choiceExit="false"/>'), leaf("z")],
            'controlMode flow="true"',
            [("start", None), ("exit", None), ("choice", "z"), ("choice", "b")],
            ["a", None, "SB.2.9-7", "b"],
        ),
        # ... but not once the cluster's attempt has ended (exit action rule on m)
        (
            [
                cluster(
                    "m",
                    [leaf("a"), leaf("b")],
                    '<imsss:controlMode flow="true" choiceExit="false"/>' + exit_rule(),
                ),
                leaf("z"),
            ],
            'controlMode flow="true"',
            [("start", None), ("exit", None), ("choice", "z")],
            ["a", None, "z"],
        ),
        # exit action rule on the cluster: leaving a leaves m too, continue goes on after m
        (
            [cluster("m", [leaf("a"), leaf("b")], FLOW + exit_rule()), leaf("z")],
            'controlMode flow="true"',
            [("start", None), ("continue", None)],
            ["a", "z"],
        ),
        # exitParent post-condition: same effect from the leaf's side
        (
            [cluster("m", [leaf("a", post("exitParent")), leaf("b")], FLOW), leaf("z")],
            'controlMode flow="true"',
            [("start", None), ("continue", None)],
            ["a", "z"],
        ),
        # exitAll post-condition ends the session on any navigation away from a
        (
            [leaf("a", post("exitAll")), leaf("b")],
            'controlMode flow="true"',
            [("start", None), ("continue", None), ("start", None)],
            ["a", "END", "a"],
        ),
        # jump (4th ed.) ignores flow/choice control modes but not disabled activities
        (
            [leaf("a"), leaf("b"), leaf("c", pre("disabled", "always"))],
            'controlMode flow="true" choice="false" forwardOnly="true"',
            [("start", None), ("jump", "b"), ("jump", "a"), ("jump", "c")],
            ["a", "b", "a", "DB.1.1-3"],
        ),
        # exit leaves nothing delivered; exit again is refused; a choice then works
        (
            FLAT3,
            'controlMode flow="true"',
            [("start", None), ("exit", None), ("exit", None), ("choice", "c")],
            ["a", None, "NB.2.1-12", "c"],
        ),
        # abandon, then abandonAll ends the session
        (
            FLAT3,
            'controlMode flow="true"',
            [("start", None), ("abandon", None), ("continue", None), ("abandonAll", None)],
            ["a", None, "b", "END"],
        ),
        # adl.nav.request values as content sends them
        (
            FLAT3,
            'controlMode flow="true"',
            [("start", None), ("{target=c}choice", None), ("{target=a}jump", None), ("_none_", None)],
            ["a", "c", "a", None],
        ),
    ],
    ids=[
        "flow",
        "previous",
        "forward-only",
        "skip-always",
        "skip-attempted",
        "nested",
        "choice-exit-cluster",
        "choice-exit-leaf",
        "choice-exit-after-sco-exit",
        "choice-exit-after-cluster-exit",
        "exit-action-rule",
        "exit-parent",
        "exit-all-post",
        "jump",
        "exit",
        "abandon",
        "adl-nav-request",
    ],
)
def test_navigation_sequences(
    items: list[str], root_seq: str, requests: list[tuple[str, str | None]], expected: list[Any]
) -> None:
    tree = tree_of(items, root_seq)
    assert _delivers(tree, new_state(tree), requests) == expected


def test_retry_post_condition_repeats_until_satisfied() -> None:
    tree = tree_of([leaf("a", post("retry", "satisfied", "not")), leaf("b")])
    s = started(tree)
    s = done(tree, s, "a", success="failed")
    r = navigate(tree, s, "continue")
    assert r.deliver == "a" and r.state["activities"]["a"]["attempts"] == 2
    # the new attempt starts with no completion recorded
    assert r.state["activities"]["a"]["completed"] is None
    s = done(tree, dict(r.state), "a", success="passed")
    assert navigate(tree, s, "continue").deliver == "b"


def test_retry_all_restarts_the_course() -> None:
    tree = tree_of([leaf("a"), leaf("b", post("retryAll", "satisfied", "not"))])
    s = go(tree, started(tree), "continue")
    s = done(tree, s, "a")
    s = done(tree, s, "b", success="failed")
    r = navigate(tree, s, "continue")
    assert r.deliver == "a"
    assert r.state["activities"]["org"]["attempts"] == 2
    assert r.state["activities"]["a"]["attempts"] == 2
    # b keeps its own results, but with useCurrentAttemptObjectiveInfo (default true) they do
    # not count for the new attempt of the course
    s = dict(r.state)
    assert s["activities"]["b"]["objectives"]["_primary"]["satisfied"] is False
    s = done(tree, s, "a")
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is None
    assert s["activities"]["org"]["completed"] is None  # b unknown in this attempt


def test_retry_of_a_cluster_flows_into_it_again() -> None:
    tree = tree_of([cluster("m", [leaf("a", post("exitParent")), leaf("b")], FLOW + post("retry")), leaf("z")])
    s = started(tree)
    r = navigate(tree, s, "continue")
    assert r.deliver == "a"
    assert r.state["activities"]["m"]["attempts"] == 2


def test_exit_all_ends_and_a_new_session_can_start() -> None:
    tree = tree_of(FLAT3)
    s = go(tree, started(tree), "continue")
    r = navigate(tree, s, "exitAll")
    assert r.end and r.deliver is None and r.exception is None
    assert r.state["current"] is None and r.state["ended"] is True
    assert not any(a["active"] for a in r.state["activities"].values())
    again = navigate(tree, r.state, "start")
    assert again.deliver == "a" and again.state["ended"] is False


@pytest.mark.parametrize(
    ("limit", "expected_previous"),
    [("1", "SB.2.2-2"), ("2", "a"), ("0", "a")],
)
def test_attempt_limit(limit: str, expected_previous: str) -> None:
    tree = tree_of([leaf("a", f'<imsss:limitConditions attemptLimit="{limit}"/>'), leaf("b")])
    s = go(tree, started(tree), "continue")
    r = navigate(tree, s, "previous")
    assert (r.exception or r.deliver) == expected_previous
    row = {x["id"]: x for x in toc(tree, s)}["a"]
    assert row["disabled"] is (expected_previous != "a")


def test_attempt_limit_exceeded_condition_skips() -> None:
    tree = tree_of(
        [
            leaf("a"),
            leaf(
                "b",
                "<imsss:sequencingRules><imsss:preConditionRule><imsss:ruleConditions>"
                '<imsss:ruleCondition condition="attemptLimitExceeded"/></imsss:ruleConditions>'
                '<imsss:ruleAction action="skip"/></imsss:preConditionRule></imsss:sequencingRules>'
                '<imsss:limitConditions attemptLimit="1"/>',
            ),
            leaf("c"),
        ]
    )
    deliveries = _delivers(
        tree,
        new_state(tree),
        [("start", None), ("continue", None), ("choice", "a"), ("continue", None)],
    )
    assert deliveries == ["a", "b", "a", "c"]


def test_suspend_all_and_resume_all() -> None:
    tree = tree_of(FLAT3)
    s = go(tree, started(tree), "continue")
    s = report_sco_outcome(tree, s, "b", completion="incomplete", attempt_ended=True, suspended=True)
    r = navigate(tree, s, "suspendAll")
    assert r.end and r.state["suspended"] == "b" and r.state["current"] is None
    assert r.state["activities"]["b"]["suspended"] is True
    resumed = begin(tree, r.state)
    assert resumed.deliver == "b"
    assert resumed.state["activities"]["b"]["attempts"] == 1  # resumed, not a new attempt
    assert resumed.state["suspended"] is None
    assert resumed.state["activities"]["b"]["suspended"] is False
    # the suspended SCO's incomplete status survived (no automatic completion on suspend)
    assert resumed.state["activities"]["b"]["completed"] is False


def test_choosing_elsewhere_clears_a_suspended_activity() -> None:
    tree = tree_of(FLAT3)
    s = go(tree, started(tree), "continue")
    r = navigate(tree, s, "suspendAll")
    s = go(tree, dict(r.state), "start")
    assert s["suspended"] is None and not s["activities"]["b"]["suspended"]


# --- rollup ---------------------------------------------------------------------------------


def _weight(w: str) -> str:
    return f'<imsss:rollupRules objectiveMeasureWeight="{w}"/>'


@pytest.mark.parametrize(
    ("weights", "measures", "expected"),
    [
        (("1", "1", "1"), (0.5, 1.0, None), 0.5),  # c counts with weight 1 and no measure
        (("0.25", "0.75", "0"), (0.5, 1.0, None), 0.875),
        (("0", "0", "0"), (0.5, 1.0, 0.2), None),  # nothing weighs: measure unknown
        (("1", "1", "1"), (None, None, None), None),
        (("0.5", "0.5", "1"), (-1.0, 1.0, 0.5), 0.25),
    ],
)
def test_measure_rollup_with_weights(
    weights: tuple[str, str, str], measures: tuple[Any, Any, Any], expected: float | None
) -> None:
    tree = tree_of([leaf(n, _weight(w)) for n, w in zip("abc", weights, strict=True)])
    s = new_state(tree)
    for name, measure in zip("abc", measures, strict=True):
        s = report_sco_outcome(tree, s, name, measure=measure)
    assert s["activities"]["org"]["objectives"]["_primary"]["measure"] == expected


def test_root_satisfied_by_measure() -> None:
    root = (
        FLOW + '<imsss:objectives><imsss:primaryObjective objectiveID="course" '
        'satisfiedByMeasure="true"><imsss:minNormalizedMeasure>0.8</imsss:minNormalizedMeasure>'
        "</imsss:primaryObjective></imsss:objectives>"
    )
    tree = tree_of([leaf("a"), leaf("b")], root_seq=root)
    s = report_sco_outcome(tree, new_state(tree), "a", measure=0.7)
    # b has no measure yet but still weighs in: (0.7 + 0) / 2 (RB.1.1)
    assert s["activities"]["org"]["objectives"]["course"] == {"satisfied": False, "measure": 0.35}
    s = report_sco_outcome(tree, s, "b", measure=0.95)
    assert s["activities"]["org"]["objectives"]["course"] == {"satisfied": True, "measure": 0.825}
    s = report_sco_outcome(tree, s, "b", measure=0.8)
    assert s["activities"]["org"]["objectives"]["course"]["satisfied"] is False


@pytest.mark.parametrize(
    ("b_seq", "expected_satisfied"),
    [
        ("", False),
        ('<imsss:rollupRules rollupObjectiveSatisfied="false"/>', True),
        ('<imsss:deliveryControls tracked="false"/>', True),
    ],
    ids=["b-counts", "rollupObjectiveSatisfied-false", "tracked-false"],
)
def test_children_excluded_from_objective_rollup(b_seq: str, expected_satisfied: bool) -> None:
    tree = tree_of([leaf("a"), leaf("b", b_seq)])
    s = done(tree, new_state(tree), "a")
    s = done(tree, s, "b", success="failed")
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is expected_satisfied


def test_rollup_progress_completion_false() -> None:
    tree = tree_of([leaf("a"), leaf("b", '<imsss:rollupRules rollupProgressCompletion="false"/>')])
    s = done(tree, new_state(tree), "a")
    assert s["activities"]["org"]["completed"] is True
    s = done(tree, s, "b", completion="incomplete")
    assert s["activities"]["org"]["completed"] is True


def test_tracked_false_activity_is_not_recorded_or_counted() -> None:
    tree = tree_of([leaf("a"), leaf("b", '<imsss:deliveryControls tracked="false"/>'), leaf("c")])
    s = go(tree, started(tree), "continue")
    assert s["current"] == "b" and s["activities"]["b"]["attempts"] == 0
    s = report_sco_outcome(tree, s, "b", completion="completed", success="failed")
    assert s["activities"]["b"]["completed"] is None
    s = done(tree, s, "a")
    s = done(tree, s, "c")
    assert s["activities"]["org"]["completed"] is True
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is True


def _rollup(rule: str) -> str:
    return f"<imsss:rollupRules>{rule}</imsss:rollupRules>"


def _rule(child_set: str, condition: str, action: str, extra: str = "", op: str = "noOp") -> str:
    return (
        f'<imsss:rollupRule childActivitySet="{child_set}" {extra}><imsss:rollupConditions>'
        f'<imsss:rollupCondition condition="{condition}" operator="{op}"/></imsss:rollupConditions>'
        f'<imsss:rollupAction action="{action}"/></imsss:rollupRule>'
    )


@pytest.mark.parametrize(
    ("rules", "results", "satisfied", "completed"),
    [
        # default rules: all satisfied -> satisfied; all known, one failed -> not satisfied
        ("", ("passed", "passed", "passed"), True, True),
        ("", ("passed", "failed", "passed"), False, True),
        ("", ("passed", None, "passed"), None, False),
        # any
        (_rule("any", "satisfied", "satisfied"), ("failed", "passed", "failed"), True, True),
        # none + not: none failed
        (
            _rule("none", "satisfied", "satisfied", op="not"),
            ("passed", "passed", "passed"),
            True,
            True,
        ),
        # at least 2 completed
        (
            _rule("atLeastCount", "completed", "completed", 'minimumCount="2"'),
            ("passed", "passed", None),
            None,
            True,
        ),
        # at least 50 % satisfied
        (
            _rule("atLeastPercent", "satisfied", "satisfied", 'minimumPercent="0.5"'),
            ("passed", "failed", "passed"),
            True,
            True,
        ),
        # a lone "satisfied" rule gets no default "not satisfied" rule (SN 4.6.4, ADL CTS RU-12a)
        (
            _rule("atLeastPercent", "satisfied", "satisfied", 'minimumPercent="0.9"'),
            ("passed", "failed", "passed"),
            None,
            True,
        ),
    ],
)
def test_rollup_rules(
    rules: str, results: tuple[Any, Any, Any], satisfied: bool | None, completed: bool | None
) -> None:
    root = FLOW + (_rollup(rules) if rules else "")
    tree = tree_of(FLAT3, root_seq=root)
    s = new_state(tree)
    for name, result in zip("abc", results, strict=True):
        if result is None:
            s = report_sco_outcome(tree, s, name, completion="incomplete")
        else:
            s = done(tree, s, name, success=result)
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is satisfied
    assert s["activities"]["org"]["completed"] is completed


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [("always", None), ("ifAttempted", True), ("ifNotSuspended", True), ("ifNotSkipped", None)],
)
def test_rollup_considerations(requirement: str, expected: bool | None) -> None:
    consider = (
        f'<adlseq:rollupConsiderations requiredForSatisfied="{requirement}" requiredForNotSatisfied="{requirement}"/>'
    )
    tree = tree_of([leaf("a"), leaf("b", consider)])
    s = go(tree, new_state(tree), "start")
    s = done(tree, s, "a")
    # b never attempted: only ifAttempted / ifNotSuspended leave it out of the rollup
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is expected


def test_if_not_skipped_leaves_out_a_skipped_child() -> None:
    consider = '<adlseq:rollupConsiderations requiredForSatisfied="ifNotSkipped"/>'
    tree = tree_of([leaf("a"), leaf("b", pre("skip", "always") + consider)])
    s = done(tree, new_state(tree), "a")
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is True


def test_end_attempt_completes_and_satisfies_when_content_does_not() -> None:
    tree = tree_of(
        [leaf("a"), leaf("b", '<imsss:deliveryControls completionSetByContent="true" objectiveSetByContent="true"/>')]
    )
    s = go(tree, started(tree), "continue")  # a ends without reporting anything
    assert s["activities"]["a"]["completed"] is True
    assert s["activities"]["a"]["objectives"]["_primary"]["satisfied"] is True
    s = go(tree, s, "previous")
    assert s["activities"]["b"]["completed"] is None  # set by content only


def test_satisfied_by_measure_and_completion_threshold_on_a_sco() -> None:
    a = (
        '<imsss:objectives><imsss:primaryObjective objectiveID="p" satisfiedByMeasure="true">'
        "<imsss:minNormalizedMeasure>0.6</imsss:minNormalizedMeasure></imsss:primaryObjective>"
        "</imsss:objectives>"
    )
    items = [
        leaf("a", a).replace(
            "<title>A</title>",
            '<title>A</title><adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.5"/>',
        )
    ]
    tree = tree_of(items)
    s = report_sco_outcome(tree, new_state(tree), "a", measure=0.7, progress=0.6, success="failed")
    assert s["activities"]["a"]["objectives"]["p"]["satisfied"] is True
    assert s["activities"]["a"]["completed"] is True
    s = report_sco_outcome(tree, s, "a", measure=0.5, progress=0.4, completion="completed")
    assert s["activities"]["a"]["objectives"]["p"]["satisfied"] is False
    assert s["activities"]["a"]["completed"] is False


def test_cmi_objectives_write_a_global_read_by_another_activity() -> None:
    a = (
        '<imsss:objectives><imsss:primaryObjective objectiveID="pa"/>'
        '<imsss:objective objectiveID="skill"><imsss:mapInfo targetObjectiveID="G" '
        'writeSatisfiedStatus="true" writeNormalizedMeasure="true"/></imsss:objective>'
        "</imsss:objectives>"
    )
    b = pre("disabled", "satisfied", "not", 'referencedObjective="need"') + (
        '<imsss:objectives><imsss:primaryObjective objectiveID="pb"/>'
        '<imsss:objective objectiveID="need"><imsss:mapInfo targetObjectiveID="G"/>'
        "</imsss:objective></imsss:objectives>"
    )
    tree = tree_of([leaf("a", a), leaf("b", b)], root_seq='controlMode flow="true" choice="true"')
    s = started(tree)
    s = report_sco_outcome(tree, s, "a", objectives={"skill": {"success": "failed", "measure": 0.2}})
    assert s["globals"]["G"]["satisfied"] is False and s["globals"]["G"]["measure"] == 0.2
    assert navigate(tree, s, "choice", "b").exception == "DB.1.1-3"
    s = report_sco_outcome(tree, s, "a", objectives={"skill": {"success": "passed"}})
    assert navigate(tree, s, "choice", "b").deliver == "b"
    # unknown ids (the SCO's own objectives) are ignored
    s2 = report_sco_outcome(tree, s, "a", objectives={"other": {"success": "failed"}})
    assert s2["globals"] == s["globals"]


def test_globals_can_be_carried_into_a_new_attempt() -> None:
    tree = tree_of(FLAT3)
    carried = {"G": {"satisfied": True, "measure": None, "completion": None, "progress": None}}
    s = new_state(tree, globals_=carried)
    assert s["globals"] == carried and s["globals"] is not carried
    assert new_state(tree)["globals"] == {}


# --- randomization --------------------------------------------------------------------------


def _random_tree(controls: str) -> ActivityTree:
    return tree_of([cluster("m", [leaf(n) for n in "abcde"], FLOW + controls)])


@pytest.mark.parametrize("seed", [0, 1, 7, 42])
def test_reorder_once_is_deterministic_in_the_seed(seed: int) -> None:
    tree = _random_tree('<imsss:randomizationControls reorderChildren="true" randomizationTiming="once"/>')
    first = new_state(tree, seed=seed)["activities"]["m"]["available"]
    assert first == new_state(tree, seed=seed)["activities"]["m"]["available"]
    assert sorted(first) == list("abcde")
    # flow follows the shuffled order
    s = go(tree, new_state(tree, seed=seed), "start")
    assert s["current"] == first[0]
    s = go(tree, s, "continue")
    assert s["current"] == first[1]


def test_reorder_changes_the_order_for_some_seed() -> None:
    tree = _random_tree('<imsss:randomizationControls reorderChildren="true" randomizationTiming="once"/>')
    orders = {tuple(new_state(tree, seed=seed)["activities"]["m"]["available"]) for seed in range(10)}
    assert len(orders) > 1


def test_select_count_keeps_document_order_and_hides_the_rest() -> None:
    tree = _random_tree('<imsss:randomizationControls selectCount="2" selectionTiming="once"/>')
    s = new_state(tree, seed=3)
    chosen = s["activities"]["m"]["available"]
    assert len(chosen) == 2 and chosen == sorted(chosen)
    rows = {r["id"]: r for r in toc(tree, s)}
    for name in "abcde":
        assert rows[name]["visible"] is (name in chosen)
        assert rows[name]["disabled"] is (name not in chosen)
    deliveries = _delivers(tree, s, [("start", None), ("continue", None), ("continue", None)])
    assert deliveries == [chosen[0], chosen[1], "END"]


def test_randomize_on_each_new_attempt() -> None:
    tree = tree_of(
        [
            cluster(
                "m",
                [leaf(n) for n in "abcde"],
                FLOW + post("retry") + '<imsss:randomizationControls reorderChildren="true" '
                'randomizationTiming="onEachNewAttempt"/>',
            )
        ]
    )
    s = new_state(tree, seed=5)
    assert s["activities"]["m"]["available"] is None  # nothing happens before the first attempt
    s = go(tree, s, "start")
    first = list(s["activities"]["m"]["available"])
    assert s["current"] == first[0] and s["activities"]["m"]["randomized_for"] == 1
    # same seed, same attempt -> same order
    assert go(tree, new_state(tree, seed=5), "start")["activities"]["m"]["available"] == first


# --- TOC, buttons, request validity -------------------------------------------------------------


def test_toc_rows() -> None:
    tree = tree_of(
        [
            cluster("m", [leaf("a"), leaf("h", visible=False)], FLOW),
            leaf("b", pre("hiddenFromChoice", "always")),
            leaf("c", pre("disabled", "always")),
        ]
    )
    s = started(tree)
    rows = toc(tree, s)
    assert [r["id"] for r in rows] == ["m", "a", "h", "b", "c"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["m"]["kind"] == "cluster" and by_id["m"]["depth"] == 0 and by_id["m"]["url"] is None
    assert by_id["a"] == {
        "id": "a",
        "title": "A",
        "kind": "sco",
        "depth": 1,
        "visible": True,
        "disabled": False,
        "completed": False,
        "satisfied": None,
        "current": True,
        "url": "a.html",
    }
    assert by_id["h"]["visible"] is False and by_id["h"]["disabled"] is False
    assert by_id["b"]["visible"] is False and by_id["b"]["disabled"] is True
    assert by_id["c"]["visible"] is True and by_id["c"]["disabled"] is True
    s = done(tree, s, "a")
    assert {r["id"]: r for r in toc(tree, s)}["a"]["completed"] is True


@pytest.mark.parametrize(
    ("root_seq", "moves", "expected"),
    [
        ('controlMode flow="true"', 0, {"previous": False, "continue": True}),
        ('controlMode flow="true"', 1, {"previous": True, "continue": True}),
        ('controlMode flow="true" forwardOnly="true"', 1, {"previous": False, "continue": True}),
        ('controlMode flow="false"', 0, {"previous": False, "continue": False}),
    ],
)
def test_nav_state(root_seq: str, moves: int, expected: dict[str, bool]) -> None:
    tree = tree_of(FLAT3, root_seq=root_seq)
    s = begin(tree, new_state(tree)).state
    for _ in range(moves):
        s = go(tree, dict(s), "continue")
    assert nav_state(tree, s, s["current"]) == expected
    assert nav_state(tree, s, "c" if s["current"] != "c" else "a") == {
        "previous": False,
        "continue": False,
    }


def test_valid_requests_and_request_valid_elements() -> None:
    tree = tree_of([leaf("a"), leaf("b", pre("disabled", "always")), leaf("c")])
    s = started(tree)
    valid = valid_requests(tree, s)
    # Continue is valid by NB.2.1 (the root allows flow) although the flow stops at the disabled
    # b (SB.2.2-2): ADL CTS CM-07d; continue_refusal names the reason.
    assert valid == {
        "continue": True,
        "previous": False,
        "choice": {"a": True, "b": False, "c": True},
        "jump": {"a": True, "b": False, "c": True},
    }
    cases = {
        "adl.nav.request_valid.continue": "true",
        "adl.nav.request_valid.previous": "false",
        "adl.nav.request_valid.choice.{target=c}": "true",
        "adl.nav.request_valid.choice.{target=b}": "false",
        "adl.nav.request_valid.jump.{target=a}": "true",
        "adl.nav.request_valid.choice.{target=zzz}": "unknown",
        "adl.nav.request_valid.exitAll": "unknown",
    }
    for element, value in cases.items():
        assert request_valid_value(tree, s, element) == value, element
    assert continue_refusal(tree, s) == "The next section is locked until you complete the previous one."


def test_begin_without_flow_chooses_the_first_deliverable_leaf() -> None:
    tree = tree_of([leaf("a", pre("disabled", "always")), leaf("b")], root_seq="")
    r = begin(tree, new_state(tree))
    assert r.deliver == "b" and r.exception is None
    again = begin(tree, r.state)  # relaunch while b is still open: same SCO, nothing changes
    assert again.deliver == "b" and again.exception is None and again.state is r.state


@pytest.mark.parametrize(
    ("root_seq", "expected"),
    [('controlMode flow="true"', "c"), ('controlMode flow="false"', "b")],
)
def test_begin_after_the_current_sco_exited(root_seq: str, expected: str) -> None:
    tree = tree_of(FLAT3, root_seq=root_seq)
    s = begin(tree, new_state(tree)).state
    s = go(tree, dict(s), "choice", "b")
    s = go(tree, s, "exit")
    assert s["current"] == "b" and not s["activities"]["b"]["active"]
    r = begin(tree, s)
    assert r.deliver == expected
    if expected == "b":
        assert r.state["activities"]["b"]["attempts"] == 2


def test_begin_with_nothing_left_to_open() -> None:
    tree = tree_of([leaf("a", '<imsss:limitConditions attemptLimit="1"/>')], root_seq='controlMode flow="false"')
    s = go(tree, begin(tree, new_state(tree)).state, "exit")  # type: ignore[arg-type]
    r = begin(tree, s)
    assert r.deliver is None and r.exception is None and r.state is s
    assert r.message == "Choose where to go next from the course menu."


def test_begin_reports_when_nothing_can_open() -> None:
    tree = tree_of([leaf("a", pre("disabled", "always"))], root_seq="")
    r = begin(tree, new_state(tree))
    assert r.exception == "SB.2.2-1" and r.deliver is None


# --- the request parser and programming errors ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "kind", "parsed_target"),
    [
        ("continue", None, "continue", None),
        ("previous", None, "previous", None),
        ("{target=sco-1}choice", None, "choice", "sco-1"),
        ("{target=x}jump", None, "jump", "x"),
        ("choice", "b", "choice", "b"),
        ("{target=b}choice", "b", "choice", "b"),
        (" exitAll ", None, "exitAll", None),
        ("_none_", None, "_none_", None),
        ("suspendAll", None, "suspendAll", None),
    ],
)
def test_parse_nav_request(value: str, target: str | None, kind: str, parsed_target: str | None) -> None:
    parsed = parse_nav_request(value, target)
    assert (parsed.request, parsed.target) == (kind, parsed_target)


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("forward", None),
        ("Continue", None),
        ("{target=}choice", None),
        ("{target=a}continue", None),
        ("{target=a}choice", "b"),
        ("continue", "b"),
        ("", None),
    ],
)
def test_parse_nav_request_refuses(value: str, target: str | None) -> None:
    with pytest.raises(InvalidNavigationRequest) as info:
        parse_nav_request(value, target)
    assert info.value.code == "invalid_navigation_request"


def test_navigate_refuses_a_bad_request_and_a_foreign_state() -> None:
    tree = tree_of(FLAT3)
    with pytest.raises(InvalidNavigationRequest):
        navigate(tree, new_state(tree), "jump-around")
    other = tree_of([leaf("x")])
    with pytest.raises(InvalidState) as info:
        navigate(tree, new_state(other), "start")
    assert info.value.code == "invalid_state"
    with pytest.raises(InvalidState):
        toc(tree, {"version": 99})
    bad = new_state(tree)
    bad["current"] = "ghost"
    with pytest.raises(InvalidState):
        nav_state(tree, bad)
    broken = new_state(tree)
    del broken["activities"]["a"]["stamp"]
    with pytest.raises(InvalidState):
        report_sco_outcome(tree, broken, "a")
    no_globals = new_state(tree)
    del no_globals["globals"]
    with pytest.raises(InvalidState):
        valid_requests(tree, no_globals)


@pytest.mark.parametrize(
    ("activity", "values", "error", "code"),
    [
        ("ghost", {}, UnknownActivity, "unknown_activity"),
        ("m", {}, NotALeaf, "not_a_leaf"),
        ("a", {"completion": "done"}, InvalidTrackingValue, "invalid_tracking_value"),
        ("a", {"success": "PASSED!"}, InvalidTrackingValue, "invalid_tracking_value"),
        ("a", {"measure": 1.5}, InvalidTrackingValue, "invalid_tracking_value"),
        ("a", {"measure": "abc"}, InvalidTrackingValue, "invalid_tracking_value"),
        ("a", {"progress": -0.1}, InvalidTrackingValue, "invalid_tracking_value"),
        ("a", {"lesson_status": "finished"}, InvalidTrackingValue, "invalid_tracking_value"),
        (
            "a",
            {"objectives": {"o": {"measure": 2}}},
            InvalidTrackingValue,
            "invalid_tracking_value",
        ),
    ],
)
def test_report_refuses(activity: str, values: dict[str, Any], error: type[Exception], code: str) -> None:
    obj = '<imsss:objectives><imsss:primaryObjective/><imsss:objective objectiveID="o"/></imsss:objectives>'
    tree = tree_of([cluster("m", [leaf("a", obj)], FLOW)])
    with pytest.raises(error) as info:
        report_sco_outcome(tree, new_state(tree), activity, **values)
    assert getattr(info.value, "code", None) == code


@pytest.mark.parametrize(
    ("completion", "success", "completed", "satisfied"),
    [
        ("completed", "passed", True, True),
        ("incomplete", "failed", False, False),
        ("not attempted", "unknown", False, None),
        ("not_attempted", None, False, None),
        ("unknown", None, None, None),
        (None, None, None, None),
    ],
)
def test_report_mapping(
    completion: str | None, success: str | None, completed: bool | None, satisfied: bool | None
) -> None:
    tree = tree_of(FLAT3)
    s = report_sco_outcome(tree, new_state(tree), "a", completion=completion, success=success)
    assert s["activities"]["a"]["completed"] is completed
    assert s["activities"]["a"]["objectives"]["_primary"]["satisfied"] is satisfied
    json.dumps(s)  # always JSON-able


@pytest.mark.parametrize(
    ("flags", "m_completed", "m_satisfied"),
    [
        ("", None, None),
        (
            ' useCurrentAttemptObjectiveInfo="false" useCurrentAttemptProgressInfo="false"',
            True,
            True,
        ),
        (' useCurrentAttemptProgressInfo="false"', True, None),
    ],
    ids=["current-attempt-only", "all-attempts", "progress-all-attempts"],
)
def test_use_current_attempt_info_on_reentry(flags: str, m_completed: bool | None, m_satisfied: bool | None) -> None:
    tree = tree_of([cluster("m", [leaf("a"), leaf("b")], f'<imsss:controlMode flow="true"{flags}/>'), leaf("z")])
    s = started(tree)
    s = done(tree, s, "a")
    s = go(tree, s, "continue")
    s = done(tree, s, "b")
    s = go(tree, s, "continue")
    assert s["current"] == "z" and s["activities"]["m"]["completed"] is True
    s = go(tree, s, "choice", "a")  # a new attempt on m
    assert s["activities"]["m"]["attempts"] == 2
    s = done(tree, s, "a")
    assert s["activities"]["m"]["completed"] is m_completed
    assert s["activities"]["m"]["objectives"]["_primary"]["satisfied"] is m_satisfied
    # b's own record is untouched either way
    rows = {r["id"]: r for r in toc(tree, s)}
    assert rows["b"]["completed"] is True and rows["b"]["satisfied"] is True


_EQUIV_TREES: dict[str, list[str]] = {
    "constrained": [
        cluster("m", [leaf("a"), leaf("b")], FLOW + '<adlseq:constrainedChoiceConsiderations constrainChoice="true"/>'),
        cluster("n", [leaf("c"), leaf("d", pre("disabled", "satisfied", "not"))], FLOW),
        cluster("o", [leaf("e")], FLOW + '<adlseq:constrainedChoiceConsiderations preventActivation="true"/>'),
    ],
    "exits-and-posts": [
        cluster("m", [leaf("a", post("exitParent")), leaf("b")], FLOW + post("continue", "completed")),
        leaf("c", '<imsss:controlMode choiceExit="false"/>' + pre("stopForwardTraversal", "completed", "not")),
        leaf("d", pre("hiddenFromChoice", "attempted")),
        leaf("e", '<imsss:limitConditions attemptLimit="1"/>'),
    ],
    "forward-only": [
        cluster("m", [leaf("a"), leaf("b")], '<imsss:controlMode flow="true" forwardOnly="true"/>'),
        cluster("n", [leaf("c")], '<imsss:controlMode choice="false" flow="true"/>'),
    ],
    # a post-condition replaces every choice with "continue"
    "post-continue": [leaf("a", post("continue", "attempted")), leaf("b"), leaf("c"), leaf("d")],
    # leaving a fails in termination (TB.2.3-4) for every target
    "termination-fails": [leaf("a", post("exitParent")), leaf("b")],
}
_EQUIV_ROOTS: dict[str, str] = {"termination-fails": FLOW + post("exitParent")}


@pytest.mark.parametrize("name", sorted(_EQUIV_TREES))
@pytest.mark.parametrize("request_kind", ["choice", "jump"])
def test_batch_validity_agrees_with_the_full_process(name: str, request_kind: str) -> None:
    from scorm.sequencing.engine import choice_validity, run_request

    tree = tree_of(_EQUIV_TREES[name], _EQUIV_ROOTS.get(name, 'controlMode flow="true"'))
    targets = [a for a in tree.order if a != tree.root]
    state: State = new_state(tree) if request_kind == "choice" else started(tree)
    checked = 0
    for step in range(12):
        before = json.dumps(state, sort_keys=True)
        batch = choice_validity(tree, state, targets, request_kind)
        assert json.dumps(state, sort_keys=True) == before  # never mutates its input
        single = {t: run_request(tree, state, request_kind, t).exception for t in targets}
        assert batch == single, (name, step)
        checked += 1
        # wander: report the current SCO done and take the first valid choice after it
        if state["current"] is not None and tree.activities[state["current"]].is_leaf:
            state = done(tree, state, state["current"])
        options = [t for t in targets if single[t] is None and t != state["current"]]
        if not options:
            break
        state = dict(navigate(tree, state, request_kind, options[step % len(options)]).state)
    assert checked >= (1 if name == "termination-fails" else 3), checked


def test_a_changed_global_rolls_up_the_clusters_of_its_readers() -> None:
    writes = (
        '<imsss:objectives><imsss:primaryObjective objectiveID="pa">'
        '<imsss:mapInfo targetObjectiveID="G" writeSatisfiedStatus="true"/>'
        "</imsss:primaryObjective></imsss:objectives>"
    )
    reads = (
        '<imsss:objectives><imsss:primaryObjective objectiveID="pc">'
        '<imsss:mapInfo targetObjectiveID="G" readSatisfiedStatus="true"/>'
        "</imsss:primaryObjective></imsss:objectives>"
    )
    tree = tree_of([cluster("m", [leaf("a", writes)], FLOW), cluster("n", [leaf("c", reads)], FLOW)])
    s = report_sco_outcome(tree, new_state(tree), "a", success="passed")
    # c has no data of its own but reads G, so n (not on a's path) is satisfied too
    assert s["activities"]["n"]["objectives"]["_primary"]["satisfied"] is True
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is True
    s = report_sco_outcome(tree, s, "a", success="failed")
    assert s["activities"]["n"]["objectives"]["_primary"]["satisfied"] is False


def test_report_cmi_state_2004() -> None:
    from scorm.cmi.lifecycle import initial_state
    from scorm.cmi.model import set_value
    from scorm.sequencing import report_cmi_state

    obj = '<imsss:objectives><imsss:primaryObjective/><imsss:objective objectiveID="skill"/></imsss:objectives>'
    tree = tree_of([leaf("a", obj), leaf("b")])
    cmi = initial_state("2004", learner_id="u1", learner_name="L", scaled_passing_score=0.6)
    for element, value in [
        ("cmi.score.scaled", "0.75"),
        ("cmi.completion_status", "completed"),
        ("cmi.progress_measure", "1"),
        ("cmi.objectives.0.id", "skill"),
        ("cmi.objectives.0.success_status", "failed"),
        ("cmi.objectives.0.score.scaled", "-0.5"),
        ("cmi.exit", "suspend"),
    ]:
        cmi, error = set_value(cmi, element, value, "2004")
        assert error == 0, element
    s = report_cmi_state(tree, started(tree), "a", cmi, terminated=True)
    a = s["activities"]["a"]
    assert a["completed"] is True and a["progress"] == 1.0 and a["suspended"] is True
    assert a["objectives"]["_primary"] == {
        "satisfied": True,
        "measure": 0.75,
        "raw": None,
        "min": None,
        "max": None,
        "completion_by_content": True,  # the SCO wrote cmi.completion_status
        "success_by_content": False,
    }
    skill = a["objectives"]["skill"]
    assert {k: skill[k] for k in ("satisfied", "measure", "raw", "completion")} == {
        "satisfied": False,
        "measure": -0.5,
        "raw": None,
        "completion": None,
    }


@pytest.mark.parametrize(("status", "completed", "satisfied"), [("passed", True, True), ("incomplete", False, None)])
def test_report_cmi_state_12(status: str, completed: bool, satisfied: bool | None) -> None:
    from scorm.cmi.lifecycle import initial_state
    from scorm.cmi.model import set_value
    from scorm.sequencing import report_cmi_state

    tree = tree_of([leaf("a")])
    cmi = initial_state("1.2", learner_id="u1", learner_name="L")
    cmi, error = set_value(cmi, "cmi.core.lesson_status", status, "1.2")
    assert error == 0
    s = report_cmi_state(tree, new_state(tree), "a", cmi)
    assert s["activities"]["a"]["status12"] == status
    assert s["activities"]["a"]["completed"] is completed
    assert s["activities"]["a"]["objectives"]["_primary"]["satisfied"] is satisfied


@pytest.mark.parametrize(
    "cmi",
    [{}, {"version": "2004"}, {"version": "2004", "values": {"cmi.score.scaled": "x"}, "counts": {}}],
)
def test_report_cmi_state_refuses_garbage(cmi: dict[str, Any]) -> None:
    from scorm.sequencing import report_cmi_state

    tree = tree_of([leaf("a")])
    with pytest.raises(InvalidTrackingValue):
        report_cmi_state(tree, new_state(tree), "a", cmi)


_NO_4TH_ED_DATA = {
    "score.raw": None,
    "score.min": None,
    "score.max": None,
    "completion_status": "unknown",
    "progress_measure": None,
}


def test_launch_data_for_a_sco() -> None:
    from scorm.sequencing import launch_data

    a = (
        '<imsss:objectives><imsss:primaryObjective objectiveID="p" satisfiedByMeasure="true">'
        "<imsss:minNormalizedMeasure>0.6</imsss:minNormalizedMeasure></imsss:primaryObjective>"
        '<imsss:objective objectiveID="skill"><imsss:mapInfo targetObjectiveID="G"/></imsss:objective>'
        "</imsss:objectives>"
    )
    items = [
        leaf("a", a).replace(
            "<title>A</title>",
            '<title>A</title><adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.5"/>',
        ),
        leaf("b"),
    ]
    tree = tree_of(items)
    carried = {"G": {"satisfied": True, "measure": 0.9, "completion": None, "progress": None}}
    data = launch_data(tree, new_state(tree, globals_=carried), "a")
    assert data == {
        "scaled_passing_score": 0.6,
        "completion_threshold": 0.5,
        "objectives": [
            {"id": "p", "success_status": "unknown", "score.scaled": None, **_NO_4TH_ED_DATA},
            {"id": "skill", "success_status": "passed", "score.scaled": 0.9, **_NO_4TH_ED_DATA},
        ],
    }
    assert launch_data(tree, new_state(tree), "b") == {
        "scaled_passing_score": None,
        "completion_threshold": None,
        "objectives": [],
    }
    with pytest.raises(UnknownActivity):
        launch_data(tree, new_state(tree), "zz")


def test_hide_lms_ui_is_carried_to_the_activity() -> None:
    ui = (
        "<adlnav:presentation><adlnav:navigationInterface>"
        "<adlnav:hideLMSUI>continue</adlnav:hideLMSUI><adlnav:hideLMSUI>previous</adlnav:hideLMSUI>"
        "</adlnav:navigationInterface></adlnav:presentation>"
    )
    tree = tree_of([leaf("a").replace("<title>A</title>", "<title>A</title>" + ui), leaf("b")])
    assert tree.activities["a"].hide_lms_ui == ("continue", "previous")
    assert tree.activities["b"].hide_lms_ui == ()


def test_package_needs_no_lxml_or_packaging_at_runtime() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, scorm.sequencing\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'lxml', 'flask', 'sqlalchemy'}"
        " or m.startswith('scorm.packaging')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done_ = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done_.returncode == 0, done_.stdout + done_.stderr


@pytest.mark.parametrize(("if_active", "while_active"), [("true", True), ("false", None)])
def test_measure_satisfaction_if_active(if_active: str, while_active: bool | None) -> None:
    root = (
        FLOW + f'<adlseq:rollupConsiderations measureSatisfactionIfActive="{if_active}"/>'
        '<imsss:objectives><imsss:primaryObjective objectiveID="course" satisfiedByMeasure="true">'
        "<imsss:minNormalizedMeasure>0.5</imsss:minNormalizedMeasure></imsss:primaryObjective>"
        "</imsss:objectives>"
    )
    tree = tree_of([leaf("a"), leaf("b")], root_seq=root)
    s = started(tree)
    s = report_sco_outcome(tree, s, "a", measure=1.0)
    assert s["activities"]["org"]["objectives"]["course"]["satisfied"] is while_active
    s = go(tree, s, "exitAll")  # the root's attempt ends: now the measure decides
    assert s["activities"]["org"]["objectives"]["course"]["satisfied"] is True


def test_cluster_completed_by_rolled_up_progress() -> None:
    threshold = '<adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.5"/>'
    m = cluster("m", [leaf("a"), leaf("b")], FLOW).replace("<title>M</title>", "<title>M</title>" + threshold)
    b_weighted = '<adlcp:completionThreshold progressWeight="0.5"/>'
    m = m.replace("<title>B</title>", "<title>B</title>" + b_weighted)
    tree = tree_of([m])
    s = report_sco_outcome(tree, new_state(tree), "a", progress=0.3)
    assert s["activities"]["m"]["progress"] == 0.2  # (0.3 * 1 + 0 * 0.5) / 1.5
    assert s["activities"]["m"]["completed"] is False
    s = report_sco_outcome(tree, s, "b", progress=0.9)
    assert s["activities"]["m"]["progress"] == 0.5  # (0.3 + 0.45) / 1.5
    assert s["activities"]["m"]["completed"] is True


@pytest.mark.parametrize(
    ("limit", "duration", "blocked"),
    [
        ("PT1M", 59.0, False),
        ("PT1M", 60.0, True),
        ("PT1H30M", 5400.5, True),
        ("", 9999.0, False),
        ("soon", 9999.0, False),  # unreadable: ignored (no limit)
    ],
)
def test_attempt_absolute_duration_limit(limit: str, duration: float, blocked: bool) -> None:
    limits = f'<imsss:limitConditions attemptAbsoluteDurationLimit="{limit}"/>' if limit else ""
    tree = tree_of([leaf("a", limits), leaf("b")])
    s = started(tree)
    s = report_sco_outcome(tree, s, "a", completion="completed", attempt_duration=duration)
    assert s["activities"]["a"]["duration"] == duration
    s = go(tree, s, "continue")
    r = navigate(tree, s, "previous")
    assert (r.exception == "SB.2.2-2") is blocked
    assert (r.deliver == "a") is not blocked
    if not blocked:  # a new attempt starts with no duration
        assert r.state["activities"]["a"]["duration"] is None


def test_time_limit_exceeded_condition() -> None:
    limits = '<imsss:limitConditions attemptAbsoluteDurationLimit="PT10S"/>'
    tree = tree_of([leaf("a"), leaf("b", limits + pre("skip", "timeLimitExceeded")), leaf("c")])
    s = go(tree, started(tree), "continue")
    assert s["current"] == "b"
    s = report_sco_outcome(tree, s, "b", attempt_duration=11)
    s = go(tree, s, "continue")
    assert s["current"] == "c"
    assert navigate(tree, s, "previous").deliver == "a"  # b is skipped now


@pytest.mark.parametrize("bad", [-1, "x", float("nan")])
def test_attempt_duration_refuses(bad: Any) -> None:
    tree = tree_of([leaf("a")])
    with pytest.raises(InvalidTrackingValue):
        report_sco_outcome(tree, new_state(tree), "a", attempt_duration=bad)


def test_report_cmi_state_carries_the_attempt_time() -> None:
    from scorm.cmi.lifecycle import initial_state
    from scorm.cmi.model import set_value
    from scorm.sequencing import report_cmi_state

    tree = tree_of([leaf("a", '<imsss:limitConditions attemptAbsoluteDurationLimit="PT2M"/>'), leaf("b")])
    cmi = initial_state("2004", learner_id="u1", learner_name="L")
    cmi, error = set_value(cmi, "cmi.session_time", "PT2M5S", "2004")
    assert error == 0
    s = report_cmi_state(tree, started(tree), "a", cmi, terminated=True)
    assert s["activities"]["a"]["duration"] == 125.0
    s = go(tree, s, "continue")
    assert navigate(tree, s, "previous").exception == "SB.2.2-2"


@pytest.mark.parametrize(
    ("m_seq", "n_seq", "root_extra", "expected"),
    [
        ("", "", "", "c"),
        ("", pre("stopForwardTraversal", "always"), "", "SB.2.4-1"),  # on the target's cluster
        ("", "", pre("stopForwardTraversal", "always"), "SB.2.4-1"),  # on the common ancestor
        (pre("stopForwardTraversal", "always"), "", "", "c"),  # only the path to the target counts
    ],
)
def test_stop_forward_traversal_on_the_choice_path(m_seq: str, n_seq: str, root_extra: str, expected: str) -> None:
    tree = tree_of(
        [cluster("m", [leaf("a")], FLOW + m_seq), cluster("n", [leaf("c")], FLOW + n_seq)],
        root_seq=FLOW + root_extra,
    )
    s = started(tree)
    r = navigate(tree, s, "choice", "c")
    assert (r.exception or r.deliver) == expected


def test_error_types_have_distinct_codes_and_default_messages() -> None:
    from scorm.sequencing import ALL_ERROR_TYPES, SequencingError

    codes = [cls.code for cls in ALL_ERROR_TYPES]
    assert len(set(codes)) == len(codes) and SequencingError.code not in codes
    assert set(codes) == {
        "unknown_activity",
        "not_a_leaf",
        "invalid_tracking_value",
        "invalid_state",
        "invalid_navigation_request",
        "invalid_prerequisites",
    }
    for cls in ALL_ERROR_TYPES:
        error = cls()
        assert issubclass(cls, SequencingError)
        assert error.message == (cls.__doc__ or "").strip() and str(error) == error.message


@pytest.mark.parametrize(
    "request_kind",
    ["resumeAll", "continue", "previous", "exit", "exitAll", "abandon", "abandonAll", "suspendAll", "jump"],
)
def test_requests_before_the_session_starts(request_kind: str) -> None:
    tree = tree_of(FLAT3)
    target = "b" if request_kind == "jump" else None
    expected = "NB.2.1-3" if request_kind == "resumeAll" else "NB.2.1-2"
    assert navigate(tree, new_state(tree), request_kind, target).exception == expected
    if request_kind == "resumeAll":
        assert navigate(tree, started(tree), "resumeAll").exception == "NB.2.1-1"


@pytest.mark.parametrize(
    ("items", "requests", "expected"),
    [
        # exitParent from a child of the root exits the root: the session ends
        ([leaf("a", post("exitParent")), leaf("b")], [("start", None), ("continue", None)], ["a", "END"]),
        # previous into a forwardOnly cluster enters it at its first child
        (
            [
                leaf("x"),
                cluster("m", [leaf("a"), leaf("b")], '<imsss:controlMode flow="true" forwardOnly="true"/>'),
                leaf("z"),
            ],
            [("start", None), ("jump", "z"), ("previous", None)],
            ["x", "z", "a"],
        ),
        # ... and a skipped first child there is passed over forwards
        (
            [
                leaf("x"),
                cluster(
                    "m",
                    [leaf("a", pre("skip", "always")), leaf("b")],
                    '<imsss:controlMode flow="true" forwardOnly="true"/>',
                ),
                leaf("z"),
            ],
            [("start", None), ("jump", "z"), ("previous", None)],
            ["x", "z", "b"],
        ),
        # previous from the first child of a cluster leaves it backwards
        (
            [leaf("x"), cluster("m", [leaf("a"), leaf("b")], FLOW)],
            [("start", None), ("continue", None), ("previous", None)],
            ["x", "a", "x"],
        ),
        # constrainChoice: the cluster next to the constrained one is reachable backwards too
        (
            [
                cluster("k", [leaf("p")], FLOW),
                cluster("m", [leaf("a")], FLOW),
                cluster("n", [leaf("b")], FLOW + '<adlseq:constrainedChoiceConsiderations constrainChoice="true"/>'),
                cluster("o", [leaf("c")], FLOW),
            ],
            [("start", None), ("jump", "b"), ("choice", "a"), ("jump", "b"), ("choice", "p"), ("choice", "c")],
            ["p", "b", "a", "b", "SB.2.9-8", "c"],
        ),
        # choosing an enclosing cluster checks choiceExit of the clusters left on the way up
        (
            [
                cluster(
                    "m",
                    [cluster("k", [leaf("a"), leaf("b")], '<imsss:controlMode flow="true" choiceExit="false"/>')],
                    FLOW,
                )
            ],
            [("start", None), ("choice", "m"), ("choice", "k")],
            ["a", "SB.2.9-7", "a"],
        ),
    ],
    ids=[
        "exit-parent-to-root",
        "previous-into-forward-only",
        "previous-into-forward-only-skip",
        "previous-out-of-cluster",
        "constrained-both-ways",
        "choice-of-ancestor",
    ],
)
def test_more_navigation_sequences(
    items: list[str], requests: list[tuple[str, str | None]], expected: list[Any]
) -> None:
    tree = tree_of(items)
    assert _delivers(tree, new_state(tree), requests) == expected


def test_begin_after_suspend_all_of_an_exited_sco_starts_again() -> None:
    tree = tree_of(FLAT3)
    s = go(tree, go(tree, started(tree), "continue"), "exit")
    r = navigate(tree, s, "suspendAll")
    assert r.end and r.state["suspended"] == "org"  # the parent of the exited SCO
    assert navigate(tree, r.state, "resumeAll").exception == "DB.1.1-1"
    again = begin(tree, r.state)
    assert again.deliver == "a" and again.state["suspended"] is None


@pytest.mark.parametrize(
    ("condition", "operator", "threshold", "report", "disabled"),
    [
        ("objectiveMeasureKnown", "noOp", 0, {"measure": 0.1}, True),
        ("objectiveMeasureKnown", "noOp", 0, {}, False),
        ("objectiveMeasureGreaterThan", "noOp", 0.5, {"measure": 0.6}, True),
        ("objectiveMeasureGreaterThan", "noOp", 0.5, {"measure": 0.5}, False),
        ("objectiveMeasureGreaterThan", "not", 0.5, {}, False),  # unknown stays unknown
        ("objectiveMeasureLessThan", "noOp", 0.5, {"measure": -0.2}, True),
        ("objectiveMeasureLessThan", "not", 0.5, {"measure": 0.7}, True),
        ("activityProgressKnown", "noOp", 0, {"completion": "incomplete"}, True),
        ("activityProgressKnown", "not", 0, {"completion": "unknown"}, True),
        ("completed", "noOp", 0, {"completion": "completed"}, True),
        ("completed", "not", 0, {}, False),
        ("satisfied", "noOp", 0, {"success": "passed"}, True),
        ("objectiveStatusKnown", "noOp", 0, {"success": "failed"}, True),
        ("attempted", "noOp", 0, {}, False),
        ("outsideAvailableTimeRange", "not", 0, {}, True),
    ],
)
def test_rule_conditions(
    condition: str, operator: str, threshold: float, report: dict[str, Any], disabled: bool
) -> None:
    extra = f'measureThreshold="{threshold}"'
    tree = tree_of([leaf("a"), leaf("b", pre("disabled", condition, operator, extra))])
    s = report_sco_outcome(tree, started(tree), "b", **report)
    assert {r["id"]: r for r in toc(tree, s)}["b"]["disabled"] is disabled


@pytest.mark.parametrize(
    ("condition", "reports", "expected"),
    [
        ("objectiveMeasureKnown", {"a": 0.5, "b": 0.1, "c": -1.0}, True),
        ("objectiveMeasureKnown", {"a": 0.5}, None),
    ],
)
def test_more_rollup_conditions(condition: str, reports: dict[str, float], expected: bool | None) -> None:
    tree = tree_of(FLAT3, root_seq=FLOW + _rollup(_rule("all", condition, "satisfied")))
    s = new_state(tree)
    for name, measure in reports.items():
        s = report_sco_outcome(tree, s, name, measure=measure)
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is expected


def test_attempted_rollup_condition_counts_deliveries() -> None:
    tree = tree_of(FLAT3, root_seq=FLOW + _rollup(_rule("all", "attempted", "completed")))
    s = started(tree)
    s = go(tree, go(tree, s, "continue"), "continue")
    s = report_sco_outcome(tree, s, "c", completion="incomplete")
    assert s["activities"]["org"]["completed"] is True


def test_empty_contributing_bag_changes_nothing() -> None:
    none_count = '<imsss:rollupRules rollupObjectiveSatisfied="false" rollupProgressCompletion="false"/>'
    tree = tree_of([leaf("a", none_count), leaf("b", none_count)])
    s = done(tree, done(tree, new_state(tree), "a"), "b")
    assert s["activities"]["org"]["objectives"]["_primary"]["satisfied"] is None
    assert s["activities"]["org"]["completed"] is None


def test_non_primary_objective_satisfied_by_measure() -> None:
    obj = (
        '<imsss:objectives><imsss:primaryObjective/><imsss:objective objectiveID="q" satisfiedByMeasure="true">'
        "<imsss:minNormalizedMeasure>0.3</imsss:minNormalizedMeasure></imsss:objective></imsss:objectives>"
    )
    tree = tree_of([leaf("a", obj)])
    s = report_sco_outcome(tree, new_state(tree), "a", objectives={"q": {"success": "failed", "measure": 0.4}})
    q = s["activities"]["a"]["objectives"]["q"]
    assert (q["satisfied"], q["measure"]) == (True, 0.4)


def test_adlseq_maps_share_completion_and_progress() -> None:
    writer = (
        '<imsss:objectives><imsss:primaryObjective objectiveID="pa"/></imsss:objectives>'
        '<adlseq:objectives><adlseq:objective objectiveID="pa"><adlseq:mapInfo targetObjectiveID="G" '
        'writeCompletionStatus="true" writeProgressMeasure="true"/></adlseq:objective></adlseq:objectives>'
    )
    reader = (
        '<imsss:objectives><imsss:primaryObjective objectiveID="pb"/></imsss:objectives>'
        '<adlseq:objectives><adlseq:objective objectiveID="pb"><adlseq:mapInfo targetObjectiveID="G"/>'
        "</adlseq:objective></adlseq:objectives>"
    )
    tree = tree_of([leaf("a", writer), cluster("m", [leaf("b", reader)], FLOW)])
    s = report_sco_outcome(tree, new_state(tree), "a", completion="completed", progress=0.75)
    assert s["globals"]["G"]["completion"] is True and s["globals"]["G"]["progress"] == 0.75
    assert {r["id"]: r for r in toc(tree, s)}["b"]["completed"] is True
    assert s["activities"]["m"]["completed"] is True  # rolled up through the reader
    assert s["activities"]["org"]["completed"] is True
