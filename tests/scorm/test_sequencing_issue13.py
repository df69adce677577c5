"""Issue 13 items 3-6 on small manifests, through the same CMI runtime + sequencer the player uses.

Each SCO session is a real ``scorm.cmi`` state document (``initial_state`` with the sequencer's
``launch_data``, API calls through ``scorm.cmi.api``), reported with ``report_cmi_state`` at
Terminate, then the SCO's (or learner's) navigation request goes to ``navigate``.
"""

from __future__ import annotations

from typing import Any

from scorm.cmi import api, finish_session, initial_state, outcome_from_state, rollup_outcomes
from scorm.sequencing import ActivityTree, course_outcome, launch_data, navigate, new_state, report_cmi_state
from scorm.sequencing.tracking import completion_status, objective_status
from tests.scorm.test_sequencing_engine import cluster, leaf, pre, tree_of

State = dict[str, Any]


def objectives(primary: str = "", *others: str) -> str:
    return f"<imsss:objectives>{primary or '<imsss:primaryObjective/>'}{''.join(others)}</imsss:objectives>"


def primary(objective_id: str, maps: str = "", by_measure: float | None = None) -> str:
    measure = ""
    attrs = f' objectiveID="{objective_id}"'
    if by_measure is not None:
        attrs += ' satisfiedByMeasure="true"'
        measure = f"<imsss:minNormalizedMeasure>{by_measure}</imsss:minNormalizedMeasure>"
    return f"<imsss:primaryObjective{attrs}>{measure}{maps}</imsss:primaryObjective>"


def map_info(target: str, **flags: bool) -> str:
    attrs = "".join(f' {k}="{str(v).lower()}"' for k, v in flags.items())
    return f'<imsss:mapInfo targetObjectiveID="{target}"{attrs}/>'


def adl_map(objective_id: str, target: str, **flags: bool) -> str:
    attrs = "".join(f' {k}="{str(v).lower()}"' for k, v in flags.items())
    return (
        f'<adlseq:objectives><adlseq:objective objectiveID="{objective_id}">'
        f'<adlseq:mapInfo targetObjectiveID="{target}"{attrs}/></adlseq:objective></adlseq:objectives>'
    )


class Player:
    """The player's server-side steps for one learner's attempt."""

    def __init__(self, tree: ActivityTree) -> None:
        self.tree = tree
        self.state: State = dict(new_state(tree))
        self.current: str | None = None
        self.docs: list[dict[str, Any]] = []  # every finished session's CMI document

    def _apply(self, request: str, target: str | None = None) -> str | None:
        result = navigate(self.tree, self.state, request, target)
        assert result.exception is None, (request, target, result.exception)
        self.state = dict(result.state)
        self.current = result.deliver
        return result.deliver

    def start(self) -> str | None:
        return self._apply("start")

    def visit(self, calls: list[tuple[str, str]], nav: str | None = None) -> str | None:
        """Launch the current SCO, SetValue each call, Terminate; then its adl.nav.request."""
        sco = self.current
        assert sco is not None
        data = launch_data(self.tree, self.state, sco)
        doc = initial_state(
            "2004",
            learner_id="u1",
            learner_name="L",
            scaled_passing_score=data["scaled_passing_score"],
            completion_threshold=data["completion_threshold"],
            objectives=data["objectives"],
        )
        session = api.open_session(doc, "2004")
        session, ok = api.initialize(session)
        assert ok == "true"
        for element, value in calls:
            session, ok = api.set_value(session, element, value)
            assert ok == "true", (element, value, session.last_error)
        if nav is not None:
            session, ok = api.set_value(session, "adl.nav.request", nav)
            assert ok == "true"
        session, ok = api.terminate(session)
        assert ok == "true"
        finished = finish_session(session.state, "2004")
        self.docs.append(finished)
        self.state = dict(report_cmi_state(self.tree, self.state, sco, finished, terminated=True))
        if nav is None:
            return None
        if nav in ("exitAll", "suspendAll"):
            result = navigate(self.tree, self.state, nav)
            assert result.exception is None
            self.state = dict(result.state)
            self.current = None
            return None
        return self._apply(nav)

    def satisfied(self, activity_id: str) -> bool | None:
        return objective_status(self.tree, self.state, self.tree.activities[activity_id])[0]

    def completed(self, activity_id: str) -> bool | None:
        return completion_status(self.tree, self.state, self.tree.activities[activity_id])[0]


# --- item 3: 4th-edition shared completion / progress objectives ---------------------------------


def test_precondition_reads_a_completed_shared_objective() -> None:
    """A reads G's completion (adlseq readCompletionStatus): 'skip if completed' skips it."""
    writer = objectives(primary("p")) + adl_map("p", "G", writeCompletionStatus=True, writeProgressMeasure=True)
    reader = pre("skip", "completed") + objectives(primary("p")) + adl_map("p", "G")
    tree = tree_of([leaf("intro", writer), leaf("recap", reader), leaf("end")])
    player = Player(tree)
    assert player.start() == "intro"
    delivered = player.visit([("cmi.completion_status", "completed"), ("cmi.progress_measure", "0.9")], "continue")
    assert delivered == "end"  # recap skipped: it reads the completed shared objective
    assert player.state["globals"]["G"]["completion"] is True
    assert player.state["globals"]["G"]["progress"] == 0.9


def test_shared_scores_and_progress_initialise_cmi_objectives() -> None:
    """4th ed. adlseq:mapInfo raw/min/max/completion/progress reach the next SCO's cmi.objectives."""
    writer = objectives("", '<imsss:objective objectiveID="o"/>') + adl_map(
        "o", "G", writeRawScore=True, writeMinScore=True, writeMaxScore=True, writeCompletionStatus=True
    )
    reader = objectives("", '<imsss:objective objectiveID="o"/>') + adl_map("o", "G")
    tree = tree_of([leaf("a", writer), leaf("b", reader)])
    player = Player(tree)
    player.start()
    player.visit(  # cmi.objectives.0.id = "o" was initialised by the LMS from the manifest
        [
            ("cmi.objectives.0.score.raw", "7"),
            ("cmi.objectives.0.score.min", "1"),
            ("cmi.objectives.0.score.max", "10"),
            ("cmi.objectives.0.completion_status", "completed"),
        ],
        "continue",
    )
    assert player.current == "b"
    objs = {o["id"]: o for o in launch_data(tree, player.state, "b")["objectives"]}
    assert objs["o"]["score.raw"] == 7 and objs["o"]["score.min"] == 1 and objs["o"]["score.max"] == 10
    assert objs["o"]["completion_status"] == "completed"
    doc = initial_state("2004", learner_id="u1", learner_name="L", objectives=list(objs.values()))
    assert doc["values"]["cmi.objectives.0.id"] == "o"
    assert doc["values"]["cmi.objectives.0.score.raw"] == "7"
    assert doc["values"]["cmi.objectives.0.completion_status"] == "completed"


# --- item 4: a SCO that only calls Initialize and Terminate ---------------------------------------


def test_sco_with_only_initialize_terminate_is_completed_and_satisfied_by_the_lms() -> None:
    tree = tree_of([leaf("a"), leaf("b")])
    player = Player(tree)
    player.start()
    player.visit([], "continue")
    assert player.current == "b"
    assert player.completed("a") is True and player.satisfied("a") is True
    player.visit([], "exitAll")
    assert player.completed(tree.root) is True and player.satisfied(tree.root) is True
    assert course_outcome(tree, player.state) == {
        "completion": "completed",
        "success": "passed",
        "score_scaled": None,
        "progress": None,
    }
    # what grading the SCOs' own cmi values said (the bug): unknown / unknown
    cmi_only = rollup_outcomes([outcome_from_state(d, "2004") for d in player.docs])
    assert (cmi_only.completion.value, cmi_only.success.value) == ("unknown", "unknown")


def test_content_set_status_is_not_overridden_by_the_lms() -> None:
    seq = '<imsss:deliveryControls completionSetByContent="true" objectiveSetByContent="true"/>'
    tree = tree_of([leaf("a", seq), leaf("b")])
    player = Player(tree)
    player.start()
    player.visit([], "continue")
    assert player.completed("a") is None and player.satisfied("a") is None


# --- item 5: pre-test / post-test through a shared global objective -------------------------------


def _pre_post_tree() -> ActivityTree:
    """pretest, content, posttest; both tests write MASTERY; content and posttest are skipped
    once MASTERY is satisfied (they read it through a second objective ``m``); the wrapper's
    primary objective reads MASTERY, so the module is passed when either test was passed."""
    mastery = '<imsss:objective objectiveID="m">' + map_info("MASTERY") + "</imsss:objective>"
    test = primary("p", map_info("MASTERY", writeSatisfiedStatus=True), by_measure=0.8)
    skip = pre("skip", "satisfied", extra='referencedObjective="m"')
    rollup = (
        '<imsss:rollupRules><imsss:rollupRule childActivitySet="any"><imsss:rollupConditions>'
        '<imsss:rollupCondition condition="satisfied"/></imsss:rollupConditions>'
        '<imsss:rollupAction action="satisfied"/></imsss:rollupRule></imsss:rollupRules>'
    )
    wrapper = '<imsss:controlMode flow="true"/>' + rollup + objectives(primary("course", map_info("MASTERY")))
    return tree_of(
        [
            cluster(
                "module",
                [
                    leaf("pretest", objectives(test)),
                    leaf("content", skip + objectives("", mastery)),
                    leaf("posttest", skip + objectives(test, mastery)),
                ],
                wrapper,
            )
        ]
    )


def test_passed_pretest_skips_content_and_posttest_and_passes_the_course() -> None:
    tree = _pre_post_tree()
    player = Player(tree)
    assert player.start() == "pretest"
    assert player.visit([("cmi.score.scaled", "0.9")], "continue") is None  # nothing left to deliver
    assert player.state["ended"] is True
    assert player.satisfied("module") is True and player.satisfied(tree.root) is True


def test_failed_pretest_then_passed_posttest_passes_the_course() -> None:
    tree = _pre_post_tree()
    player = Player(tree)
    player.start()
    assert player.visit([("cmi.score.scaled", "0.5")], "continue") == "content"
    assert player.visit([], "continue") == "posttest"
    player.visit([("cmi.score.scaled", "0.9")], "exitAll")
    assert player.state["globals"]["MASTERY"]["satisfied"] is True
    assert player.satisfied("module") is True  # passed, not failed with the average 0.7
    assert player.satisfied(tree.root) is True
    assert course_outcome(tree, player.state)["success"] == "passed"
    cmi_only = rollup_outcomes([outcome_from_state(d, "2004") for d in player.docs])
    assert cmi_only.success.value == "failed"  # what the player graded before


# --- item 6: randomized test with selectCount -----------------------------------------------------


def test_randomized_test_with_select_count_rolls_up_after_passing() -> None:
    random = (
        '<imsss:controlMode flow="true"/>'
        '<imsss:randomizationControls selectCount="2" selectionTiming="onEachNewAttempt" '
        'reorderChildren="true" randomizationTiming="onEachNewAttempt"/>'
    )
    questions = [leaf(f"q{i}") for i in range(1, 6)]
    course_rollup = (
        '<imsss:controlMode flow="true"/>'
        "<imsss:rollupRules>"
        '<imsss:rollupRule childActivitySet="all"><imsss:rollupConditions>'
        '<imsss:rollupCondition condition="satisfied"/></imsss:rollupConditions>'
        '<imsss:rollupAction action="satisfied"/></imsss:rollupRule>'
        "</imsss:rollupRules>"
    )
    tree = tree_of([cluster("test", questions, random)], root_seq=course_rollup)
    player = Player(tree)
    first = player.start()
    assert first is not None
    second = player.visit([("cmi.success_status", "passed"), ("cmi.completion_status", "completed")], "continue")
    assert second is not None and second != first
    assert player.visit([("cmi.success_status", "passed"), ("cmi.completion_status", "completed")], "continue") is None
    assert player.state["ended"] is True
    assert player.completed("test") is True and player.satisfied("test") is True
    assert player.completed(tree.root) is True and player.satisfied(tree.root) is True
    outcome = course_outcome(tree, player.state)
    assert (outcome["completion"], outcome["success"]) == ("completed", "passed")
    # the 3 questions never selected leave a per-SCO average incomplete
    unselected = [initial_state("2004", learner_id="u1", learner_name="L")] * 3
    cmi_only = rollup_outcomes([outcome_from_state(d, "2004") for d in [*player.docs, *unselected]])
    assert cmi_only.completion.value != "completed"
