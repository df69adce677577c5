"""The rollup process (SN 4.6, RB.1.x) over the activity state of :mod:`scorm.sequencing.tracking`.

RB.1.1 Measure Rollup and the 4th-ed. Completion Measure Rollup, RB.1.2 Objective Rollup (using
measure, rules, default), RB.1.3 Activity Progress Rollup, RB.1.4 Rollup Rule Check with its
condition evaluation and child considerations, RB.1.5 Overall Rollup (plus the readers of a
changed global objective), and ``stamp``: the parent's attempt count when a child's data was
recorded (useCurrentAttemptObjectiveInfo / useCurrentAttemptProgressInfo).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from scorm.sequencing.tracking import (
    State,
    Tri,
    attempt_condition,
    available_children,
    check_rules,
    combine_tri,
    completion_status,
    objective_status,
    set_objective,
    write_globals,
)
from scorm.sequencing.tree import Activity, ActivityTree, RollupCondition, RollupRule

logger = logging.getLogger(__name__)


def _tracked_children(tree: ActivityTree, state: Mapping[str, Any], activity: Activity) -> list[Activity]:
    # Rollup only considers the Available Children (SR.1) that are tracked (SN 4.6, DB controls).
    return [tree.activities[c] for c in available_children(tree, state, activity.id) if tree.activities[c].tracked]


def stamp(tree: ActivityTree, state: State, activity_id: str) -> None:
    """Record that ``activity_id``'s tracking data belongs to its parent's current attempt."""
    parent = tree.activities[activity_id].parent
    attempts = state["activities"][parent]["attempts"] if parent is not None else 0
    state["activities"][activity_id]["stamp"] = attempts


def _current_for(state: Mapping[str, Any], parent: Activity, child: Activity) -> bool:
    return bool(state["activities"][child.id]["stamp"] == state["activities"][parent.id]["attempts"])


def child_objective(
    tree: ActivityTree, state: Mapping[str, Any], parent: Activity, child: Activity
) -> tuple[bool | None, float | None]:
    """A child's objective status as its parent's rollup may use it.

    useCurrentAttemptObjectiveInfo (SN 5.1.1): with ``true`` only data recorded during the
    parent's current attempt counts; older local data reads as unknown (global objective data
    read through mapInfo is shared, not attempt data, and always counts).
    """
    current = _current_for(state, parent, child) or not parent.use_current_attempt_objective_info
    return objective_status(tree, state, child, local=current)


def child_completion(
    tree: ActivityTree, state: Mapping[str, Any], parent: Activity, child: Activity
) -> tuple[bool | None, float | None]:
    """A child's completion as its parent's rollup may use it (useCurrentAttemptProgressInfo)."""
    current = _current_for(state, parent, child) or not parent.use_current_attempt_progress_info
    return completion_status(tree, state, child, local=current)


def _weighted_mean(
    tree: ActivityTree,
    state: State,
    activity: Activity,
    weight: Callable[[Activity], float],
    value: Callable[[Activity], float | None],
) -> float | None:
    """The tracked children's ``value`` averaged by ``weight`` (None when no child has a value)."""
    total = 0.0
    counted = 0.0
    valid = False
    for child in _tracked_children(tree, state, activity):
        counted += weight(child)
        known = value(child)
        if known is not None:
            valid = True
            total += known * weight(child)
    return round(total / counted, 7) if valid and counted > 0 else None


def measure_rollup(tree: ActivityTree, state: State, activity: Activity) -> None:
    """RB.1.1 Measure Rollup Process (weighted by objectiveMeasureWeight)."""
    measure = _weighted_mean(
        tree,
        state,
        activity,
        lambda child: child.measure_weight,
        lambda child: child_objective(tree, state, activity, child)[1],
    )
    set_objective(state, activity, activity.primary.key, measure=measure)


def completion_measure_rollup(tree: ActivityTree, state: State, activity: Activity) -> None:
    """RB.1.1 b (4th ed.) Completion Measure Rollup Process, weighted by progressWeight."""
    state["activities"][activity.id]["progress"] = _weighted_mean(
        tree,
        state,
        activity,
        lambda child: child.progress_weight,
        lambda child: child_completion(tree, state, activity, child)[1],
    )


def _include_child(tree: ActivityTree, state: Mapping[str, Any], child: Activity, action: str) -> bool:
    """RB.1.4.2 Check Child for Rollup Subprocess (with adlseq rollup considerations)."""
    if action in ("satisfied", "notSatisfied"):
        if not child.rollup_objective_satisfied:
            return False
        requirement = child.required_for_satisfied if action == "satisfied" else child.required_for_not_satisfied
    else:
        if not child.rollup_progress_completion:
            return False
        requirement = child.required_for_completed if action == "completed" else child.required_for_incomplete
    c_st = state["activities"][child.id]
    if requirement == "ifNotSuspended":
        return not (c_st["attempts"] == 0 or c_st["suspended"])
    if requirement == "ifAttempted":
        return c_st["attempts"] > 0
    if requirement == "ifNotSkipped":
        return not check_rules(tree, state, child, child.pre_rules, frozenset({"skip"}))
    return True


def _rollup_condition(
    tree: ActivityTree, state: Mapping[str, Any], parent: Activity, child: Activity, kind: str
) -> Tri:
    """RB.1.4.1 Evaluate Rollup Conditions Subprocess, one condition."""
    c_st = state["activities"][child.id]
    if kind == "satisfied":
        return child_objective(tree, state, parent, child)[0]
    if kind == "objectiveStatusKnown":
        return child_objective(tree, state, parent, child)[0] is not None
    if kind == "objectiveMeasureKnown":
        return child_objective(tree, state, parent, child)[1] is not None
    if kind == "completed":
        return child_completion(tree, state, parent, child)[0]
    if kind == "activityProgressKnown":
        return child_completion(tree, state, parent, child)[0] is not None
    return attempt_condition(child, c_st, kind)  # outsideAvailableTimeRange: False, see its note


def _rule_applies(tree: ActivityTree, state: Mapping[str, Any], activity: Activity, rule: RollupRule) -> bool:
    """RB.1.4 Rollup Rule Check Subprocess for one rule."""
    bag: list[Tri] = []
    for child in _tracked_children(tree, state, activity):
        if not _include_child(tree, state, child, rule.action):
            continue
        values: list[Tri] = []
        for cond in rule.conditions:
            value = _rollup_condition(tree, state, activity, child, cond.condition)
            if cond.negate and value is not None:
                value = not value
            values.append(value)
        bag.append(combine_tri(values, rule.combination))
    if not bag:
        # No contributing child: an "all"/"none" rule the activity defines holds vacuously (ADL
        # CTS RU-15b: the only child is excluded by ifNotSkipped); the default rules never
        # change a status from an empty bag.
        if any(rule is r for r in DEFAULT_ROLLUP_RULES.values()):
            return False
        return rule.child_activity_set in ("all", "none")
    trues = sum(1 for v in bag if v is True)
    if rule.child_activity_set == "all":
        return trues == len(bag)
    if rule.child_activity_set == "any":
        return trues > 0
    if rule.child_activity_set == "none":
        return all(v is False for v in bag)
    if rule.child_activity_set == "atLeastCount":
        return trues >= rule.minimum_count
    if rule.child_activity_set == "atLeastPercent":
        return trues / len(bag) >= rule.minimum_percent
    return False


def _rules_for(activity: Activity, action: str) -> list[RollupRule]:
    return [r for r in activity.rollup_rules if r.action == action]


# SN 4.6.4 default rollup rules, used for an action the activity defines no rule for.
DEFAULT_ROLLUP_RULES: Final[Mapping[str, RollupRule]] = {
    "notSatisfied": RollupRule(
        child_activity_set="all",
        conditions=(RollupCondition(condition="objectiveStatusKnown"),),
        action="notSatisfied",
    ),
    "satisfied": RollupRule(
        child_activity_set="all",
        conditions=(RollupCondition(condition="satisfied"),),
        action="satisfied",
    ),
    "incomplete": RollupRule(
        child_activity_set="all",
        conditions=(RollupCondition(condition="activityProgressKnown"),),
        action="incomplete",
    ),
    "completed": RollupRule(
        child_activity_set="all",
        conditions=(RollupCondition(condition="completed"),),
        action="completed",
    ),
}


_PAIRS: Final = {
    "satisfied": ("satisfied", "notSatisfied"),
    "notSatisfied": ("satisfied", "notSatisfied"),
    "completed": ("completed", "incomplete"),
    "incomplete": ("completed", "incomplete"),
}


def _check(tree: ActivityTree, state: Mapping[str, Any], activity: Activity, action: str) -> bool:
    # SN 4.6.4: the default rules stand in for a status only when the activity defines no rule
    # for either of its actions (a lone "not satisfied if all not satisfied" rule must not be
    # joined by the default "satisfied if all satisfied", ADL CTS RU-12a).
    if any(_rules_for(activity, a) for a in _PAIRS[action]):
        rules = _rules_for(activity, action)
    else:
        rules = [DEFAULT_ROLLUP_RULES[action]]
    return any(_rule_applies(tree, state, activity, r) for r in rules)


def objective_rollup(tree: ActivityTree, state: State, activity: Activity) -> None:
    """RB.1.2 Objective Rollup Process (measure RB.1.2.a, rules RB.1.2.b, default RB.1.2.c)."""
    primary = activity.primary
    if primary.satisfied_by_measure:
        # RB.1.2.a Objective Rollup Using Measure (the measure just rolled up, not a global's)
        measure = state["activities"][activity.id]["objectives"].get(primary.key, {}).get("measure")
        a_st = state["activities"][activity.id]
        if measure is None or (a_st["active"] and not activity.measure_satisfaction_if_active):
            set_objective(state, activity, primary.key, satisfied=None)
        else:
            set_objective(state, activity, primary.key, satisfied=measure >= primary.min_measure)
        return
    # RB.1.2.b/c: "not satisfied" first, "satisfied" overrides (SN 4.6.3 step order). With the
    # activity's own rules, a status stays as it was when none fires (RB.1.2.b sets it only on
    # a firing rule; ADL CTS RU-12a); the default rules (RB.1.2.c) recompute it.
    record = state["activities"][activity.id]["objectives"].get(primary.key, {})
    explicit = bool(_rules_for(activity, "satisfied") or _rules_for(activity, "notSatisfied"))
    satisfied: bool | None = record.get("satisfied") if explicit else None
    if _check(tree, state, activity, "notSatisfied"):
        satisfied = False
    if _check(tree, state, activity, "satisfied"):
        satisfied = True
    set_objective(state, activity, primary.key, satisfied=satisfied)


def progress_rollup(tree: ActivityTree, state: State, activity: Activity) -> None:
    """RB.1.3 Activity Progress Rollup Process (measure when completedByMeasure, else rules)."""
    a_st = state["activities"][activity.id]
    if activity.completed_by_measure:
        # 4th ed. RB.1.3.a Activity Progress Rollup Using Measure
        a_st["completed"] = None if a_st["progress"] is None else a_st["progress"] >= activity.min_progress_measure
        return
    explicit = bool(_rules_for(activity, "completed") or _rules_for(activity, "incomplete"))
    completed: bool | None = a_st["completed"] if explicit else None  # RB.1.3.b: kept, no rule fired
    if _check(tree, state, activity, "incomplete"):
        completed = False
    if _check(tree, state, activity, "completed"):
        completed = True
    a_st["completed"] = completed


def _rollup_path(tree: ActivityTree, state: State, activity_id: str, *, reader: bool = False) -> set[str]:
    """Roll up ``activity_id`` (a cluster) and the clusters above it; write their globals.

    ``reader=True`` for an activity that only *reads* a changed global: its own data did not
    change, so it is neither rolled up nor written (its local values would overwrite what was
    just written, ADL CTS OB-14a, T-01a); only its ancestors are.
    """
    changed: set[str] = set()
    for node_id in tree.path_to_root(activity_id):
        activity = tree.activities[node_id]
        if reader and node_id == activity_id:
            continue
        if activity.children:
            measure_rollup(tree, state, activity)
            completion_measure_rollup(tree, state, activity)
            objective_rollup(tree, state, activity)
            progress_rollup(tree, state, activity)
            stamp(tree, state, node_id)
        changed |= write_globals(tree, state, activity)
    return changed


def _readers(tree: ActivityTree, targets: set[str]) -> list[str]:
    return [
        activity_id
        for activity_id in tree.order
        if any(m.target in targets and m.reads for o in tree.activities[activity_id].objectives for m in o.maps)
    ]


MAX_GLOBAL_PROPAGATION: Final = 3


def overall_rollup(tree: ActivityTree, state: State, activity_id: str) -> None:
    """RB.1.5 Overall Rollup Process: roll up every cluster from ``activity_id`` to the root.

    When that changes a global objective, the clusters above every activity that *reads* it
    are rolled up too (their rollup inputs changed). SPEC COMPLIANCE NOTE: SN 3rd ed. rolls
    up only the path of the activity that changed; 4th ed. expects rollup wherever shared
    objective data changed. Propagation stops after ``MAX_GLOBAL_PROPAGATION`` rounds so that
    write/read cycles between activities cannot loop.
    """
    changed = _rollup_path(tree, state, activity_id)
    rounds = 0
    while changed and rounds < MAX_GLOBAL_PROPAGATION:
        rounds += 1
        follow: set[str] = set()
        for reader in _readers(tree, changed):
            follow |= _rollup_path(tree, state, reader, reader=True)
        changed = follow


# --- reporting SCO results (RTE 4.2 -> SN 4.2.1 tracking) --------------------------------------
