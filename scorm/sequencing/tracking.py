"""Activity state document, tracking updates, rule evaluation and the rollup process.

The state is a plain JSON-able ``dict`` (the server stores it per attempt)::

    {
      "version": 1,
      "seed": 12345,                  # randomization seed (SR.1/SR.2 are deterministic in it)
      "current": "sco1" | None,       # SN 4.2.2 Current Activity
      "suspended": "sco3" | None,     # SN 4.2.2 Suspended Activity
      "ended": False,                 # the sequencing session has ended
      "activities": {
        "<id>": {
          "active": bool, "suspended": bool,          # Activity is Active / is Suspended
          "attempts": int,                            # Activity Attempt Count
          "completed": bool | None,                   # Attempt Completion Status (None: unknown)
          "progress": float | None,                   # Attempt Completion Amount
          "objectives": {"<key>": {"satisfied": bool | None, "measure": float | None}},
          "available": [child ids] | None,            # SR.1/SR.2 result (None: all, in order)
          "randomized_for": int | None,               # attempt number the order was made for
          "status12": str | None,                     # SCORM 1.2 lesson_status as reported
          "duration": float | None,                   # Attempt Absolute Duration, seconds
          "stamp": int | None,                        # parent's attempt count when the data
                                                      # above was last recorded (SN 4.6.1 flags)
        }
      },
      "globals": {"<targetObjectiveID>": {"satisfied": .., "measure": .., "completion": ..,
                                           "progress": ..}},
    }

``None`` stands for "progress/measure status false" in the SN tracking model (SN 4.2.1).
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Mapping
from typing import Any, Final

from scorm.sequencing.errors import InvalidState, InvalidTrackingValue, NotALeaf
from scorm.sequencing.prereq12 import evaluate_prerequisites
from scorm.sequencing.tree import PRIMARY_KEY, Activity, ActivityTree, RollupCondition, RollupRule, Rule

logger = logging.getLogger(__name__)

STATE_VERSION: Final = 1
State = dict[str, Any]

# RTE 4.2.4 cmi.completion_status / cmi.success_status -> SN tracking (None = unknown). The
# scorm.cmi Outcome enum spells "not attempted" with an underscore; both are accepted.
COMPLETION_VALUES: Final[Mapping[str | None, bool | None]] = {
    "completed": True,
    "incomplete": False,
    "not attempted": False,
    "not_attempted": False,
    "unknown": None,
    None: None,
}
SUCCESS_VALUES: Final[Mapping[str | None, bool | None]] = {
    "passed": True,
    "failed": False,
    "unknown": None,
    None: None,
}
# SCORM 1.2 RTE 3.4.4 cmi.core.lesson_status -> (completion, success).
LESSON_STATUS_12: Final[Mapping[str, tuple[bool | None, bool | None]]] = {
    "passed": (True, True),
    "completed": (True, None),
    "failed": (True, False),
    "incomplete": (False, None),
    "browsed": (False, None),
    "not attempted": (False, None),
}


def clone_state(value: Any) -> Any:
    """Copy a JSON-like state (dicts, lists, scalars) much faster than ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        return {k: clone_state(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [clone_state(v) for v in value]
    return value


# --- state construction ------------------------------------------------------------------------


def _blank_activity() -> dict[str, Any]:
    return {
        "active": False,
        "suspended": False,
        "attempts": 0,
        "completed": None,
        "progress": None,
        "objectives": {},
        "available": None,
        "randomized_for": None,
        "status12": None,
        "stamp": None,
        "duration": None,
    }


_RECORD_KEYS: Final = frozenset(_blank_activity())


def new_state(
    tree: ActivityTree,
    *,
    seed: int = 0,
    globals_: Mapping[str, Mapping[str, Any]] | None = None,
) -> State:
    """Return the state of a fresh attempt on the course (nothing delivered yet).

    Args:
        tree: the course's activity tree.
        seed: randomization seed (store a random one per attempt; fixed in tests).
        globals_: global objectives carried over from earlier attempts. Per the project rule
            global objectives live per attempt; pass the previous attempt's ``state["globals"]``
            here only when ``tree.objectives_global_to_system`` is true and you want them to
            survive a new attempt (SN 4.2.1.2 / CAM organization@objectivesGlobalToSystem).

    Returns:
        A JSON-able state dict.
    """
    state: State = {
        "version": STATE_VERSION,
        "seed": int(seed),
        "current": None,
        "suspended": None,
        "ended": False,
        "activities": {a: _blank_activity() for a in tree.order},
        "globals": copy.deepcopy(dict(globals_)) if globals_ else {},
    }
    # SR.1 / SR.2 with timing "once" happen when the tree is first created (SN 4.8).
    for activity_id in tree.order:
        activity = tree.activities[activity_id]
        if activity.children:
            apply_randomization(tree, state, activity, once=True)
    return state


def check_state(tree: ActivityTree, state: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidState` unless ``state`` is a state document of this tree."""
    if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
        raise InvalidState("the sequencing state is missing or from an unknown version.")
    acts = state.get("activities")
    if not isinstance(acts, Mapping) or set(acts) != set(tree.order):
        raise InvalidState(
            "the sequencing state does not match this course's activities "
            "(was the package replaced under a running attempt?)."
        )
    for key in ("current", "suspended"):
        value = state.get(key)
        if value is not None and value not in tree.activities:
            raise InvalidState(f'state "{key}" names an activity that is not in the course.')
    for activity_id, record in acts.items():
        if not isinstance(record, Mapping) or not _RECORD_KEYS <= record.keys():
            raise InvalidState(f'the state record of activity "{activity_id}" is incomplete.')
    if not isinstance(state.get("globals"), Mapping) or "seed" not in state:
        raise InvalidState("the sequencing state has no global objectives or seed.")


# --- randomization (SR.1 Select Children Process, SR.2 Randomize Children Process) -------------


def _rng(state: Mapping[str, Any], activity_id: str, attempt: int, what: str) -> random.Random:
    # Deterministic per (seed, activity, attempt): replays and validity probes agree.
    return random.Random(f"{state['seed']}:{activity_id}:{attempt}:{what}")  # noqa: S311 - not security


def apply_randomization(tree: ActivityTree, state: State, activity: Activity, *, once: bool = False) -> None:
    """Apply SR.1 and SR.2 to ``activity`` if their timing says so.

    ``once=True`` is the tree-creation pass (timing ``once``); otherwise this is called before a
    new attempt on the cluster begins (timing ``onEachNewAttempt``).
    """
    a_st = state["activities"][activity.id]
    if a_st["active"] or a_st["suspended"]:
        return  # SR.1 step 1 / SR.2 step 1: never while active or suspended
    attempt = a_st["attempts"] + 1
    if not once and a_st["randomized_for"] == attempt:
        return
    wanted = "once" if once else "onEachNewAttempt"
    children = list(activity.children)
    available = list(a_st["available"]) if a_st["available"] is not None else children
    changed = False
    if activity.selection_timing == wanted and activity.select_count is not None:
        if activity.select_count < len(children):
            picked = set(_rng(state, activity.id, attempt, "select").sample(children, activity.select_count))
            available = [c for c in children if c in picked]  # SR.1: keep the original order
            changed = True
    if activity.randomization_timing == wanted and activity.reorder_children:
        _rng(state, activity.id, attempt, "order").shuffle(available)
        changed = True
    if changed:
        a_st["available"] = available
    if not once:
        a_st["randomized_for"] = attempt


def available_children(tree: ActivityTree, state: Mapping[str, Any], activity_id: str) -> list[str]:
    """The Available Children of an activity (SN 4.2.1 / SR.1), in delivery order."""
    available = state["activities"][activity_id]["available"]
    if available is None:
        return list(tree.activities[activity_id].children)
    return list(available)


# --- reading tracking data (with global objective maps, SN 4.2.1.2) ----------------------------


def objective_status(
    tree: ActivityTree,
    state: Mapping[str, Any],
    activity: Activity,
    key: str | None = None,
    *,
    local: bool = True,
) -> tuple[bool | None, float | None]:
    """(satisfied, measure) of an activity objective; ``None`` means unknown.

    Reads through ``mapInfo`` with ``readSatisfiedStatus``/``readNormalizedMeasure`` when the
    global objective's value is known (SN 4.2.1.2).
    """
    objective = activity.objective(key)
    if objective is None:
        return None, None
    record = state["activities"][activity.id]["objectives"].get(objective.key, {}) if local else {}
    satisfied = record.get("satisfied")
    measure = record.get("measure")
    for m in objective.maps:
        # A global objective exists from the start, "unknown" until written: a read map makes
        # it the objective's status even then (ADL reference LMS; ADL CTS CM-13: an activity
        # reading a never-written global is not satisfied by its own end-of-attempt status).
        shared = state["globals"].get(m.target) or {}
        if m.read_satisfied:
            satisfied = shared.get("satisfied")
        if m.read_measure:
            measure = shared.get("measure")
    if objective.satisfied_by_measure:
        # SN 4.2.1.1 / RB.1.2.a: satisfiedByMeasure makes the status follow the measure alone,
        # also a measure read from a global objective: no measure, no status (ADL CTS OB-05b);
        # unknown while an active cluster's attempt runs without measureSatisfactionIfActive.
        a_st = state["activities"][activity.id]
        usable = activity.is_leaf or not a_st["active"] or activity.measure_satisfaction_if_active
        satisfied = measure >= objective.min_measure if measure is not None and usable else None
    return satisfied, measure


def completion_status(
    tree: ActivityTree, state: Mapping[str, Any], activity: Activity, *, local: bool = True
) -> tuple[bool | None, float | None]:
    """(completed, progress measure) of an activity; reads 4th-edition adlseq maps."""
    a_st = state["activities"][activity.id]
    completed, progress = (a_st["completed"], a_st["progress"]) if local else (None, None)
    for m in activity.primary.maps:
        shared = state["globals"].get(m.target)
        if not shared:
            continue
        if m.read_completion and shared.get("completion") is not None:
            completed = shared["completion"]
        if m.read_progress and shared.get("progress") is not None:
            progress = shared["progress"]
    if activity.completed_by_measure:
        # RTE 4.2.4.1 / SN 4th ed.: with completedByMeasure the completion status follows the
        # progress measure alone, also one read from a shared objective; no measure, no status
        # (ADL CTS CO-02a, CO-04b).
        completed = progress >= activity.min_progress_measure if progress is not None else None
    return completed, progress


_SCORE_KEYS: Final = ("raw", "min", "max")


def objective_data(
    tree: ActivityTree, state: Mapping[str, Any], activity: Activity, key: str | None = None
) -> dict[str, Any]:
    """Everything known about one activity objective, read through its global maps.

    ``{"satisfied", "measure", "raw", "min", "max", "completion", "progress"}`` (``None`` =
    unknown). The primary objective's completion/progress are the activity's (SN 4th ed.:
    the primary objective carries the attempt's completion status and progress measure).
    4th-ed. ``adlseq:mapInfo`` reads raw/min/max score, completion and progress (SN 5.1.6.4).
    """
    objective = activity.objective(key)
    if objective is None:
        return dict.fromkeys(("satisfied", "measure", *_SCORE_KEYS, "completion", "progress"))
    satisfied, measure = objective_status(tree, state, activity, objective.key)
    record = state["activities"][activity.id]["objectives"].get(objective.key, {})
    data: dict[str, Any] = {"satisfied": satisfied, "measure": measure}
    for name in _SCORE_KEYS:
        data[name] = record.get(name)
    if objective.primary:
        data["completion"], data["progress"] = completion_status(tree, state, activity)
    else:
        data["completion"], data["progress"] = record.get("completion"), record.get("progress")
    for m in objective.maps:
        shared = state["globals"].get(m.target)
        if not shared:
            continue
        for name, flag in (("raw", m.read_raw), ("min", m.read_min), ("max", m.read_max)):
            if flag and shared.get(name) is not None:
                data[name] = shared[name]
        # The shared completion status as it was written, also for the primary objective: this
        # activity's completedByMeasure threshold decides its own attempt's completion, not what
        # the objective reports (ADL CTS CO-10: 0.39 read with a threshold of 0.40 is "completed").
        if m.read_completion and shared.get("completion") is not None:
            data["completion"] = shared["completion"]
        if m.read_progress and shared.get("progress") is not None:
            data["progress"] = shared["progress"]
    return data


_GLOBAL_BLANK: Final = {
    "satisfied": None,
    "measure": None,
    "completion": None,
    "progress": None,
    "raw": None,
    "min": None,
    "max": None,
}


def write_globals(tree: ActivityTree, state: State, activity: Activity) -> set[str]:
    """Copy an activity's objective values to the global objectives it writes (SN 4.2.1.2).

    Returns:
        The ids of the global objectives whose value changed.
    """
    a_st = state["activities"][activity.id]
    changed: set[str] = set()
    for objective in activity.objectives:
        if objective.key not in a_st["objectives"]:
            # nothing ever set this objective (a cluster's non-primary objective, a SCO's
            # objective it never reported): there is nothing to write, and writing "unknown"
            # would erase what another activity wrote (ADL CTS SX-05)
            continue
        local = a_st["objectives"][objective.key]
        for m in objective.maps:
            if not m.writes:
                continue
            before = {**_GLOBAL_BLANK, **(state["globals"].get(m.target) or {})}
            after = dict(before)
            if m.write_satisfied:
                after["satisfied"] = local.get("satisfied")
            if m.write_measure:
                after["measure"] = local.get("measure")
            if m.write_completion:
                after["completion"] = a_st["completed"] if objective.primary else local.get("completion")
            if m.write_progress:
                after["progress"] = a_st["progress"] if objective.primary else local.get("progress")
            for name, flag in (("raw", m.write_raw), ("min", m.write_min), ("max", m.write_max)):
                if flag:
                    after[name] = local.get(name)
            if after != before:
                state["globals"][m.target] = after
                changed.add(m.target)
    return changed


def _set_objective(state: State, activity: Activity, key: str, **values: Any) -> None:
    record = state["activities"][activity.id]["objectives"].setdefault(key, {"satisfied": None, "measure": None})
    record.update(values)


def status_12(tree: ActivityTree, state: Mapping[str, Any], activity_id: str) -> str:
    """SCORM 1.2 lesson_status of an item (reported, else derived from SN tracking)."""
    a_st = state["activities"][activity_id]
    if a_st["status12"]:
        return str(a_st["status12"])
    activity = tree.activities[activity_id]
    satisfied, _ = objective_status(tree, state, activity)
    completed, _ = completion_status(tree, state, activity)
    if satisfied is True:
        return "passed"
    if satisfied is False:
        return "failed"
    if completed is True:
        return "completed"
    if a_st["attempts"] > 0:
        return "incomplete"
    return "not attempted"


# --- sequencing rule evaluation (UP.2 / UP.2.1, SN 4.3.3) ---------------------------------------

Tri = bool | None


def _condition_value(tree: ActivityTree, state: Mapping[str, Any], activity: Activity, cond: Any) -> Tri:
    a_st = state["activities"][activity.id]
    kind = cond.condition
    if kind == "always":
        return True
    if not activity.tracked and kind not in ("attempted", "attemptLimitExceeded", "timeLimitExceeded"):
        # Delivery controls tracked=false (SN 5.1.9): the activity has no tracking status, not
        # even one read from a shared objective (ADL CTS CO-05a).
        return False if kind in ("objectiveStatusKnown", "objectiveMeasureKnown", "activityProgressKnown") else None
    if kind in (
        "satisfied",
        "objectiveStatusKnown",
        "objectiveMeasureKnown",
        "objectiveMeasureGreaterThan",
        "objectiveMeasureLessThan",
    ):
        satisfied, measure = objective_status(tree, state, activity, cond.objective)
        if kind == "satisfied":
            return satisfied
        if kind == "objectiveStatusKnown":
            return satisfied is not None
        if kind == "objectiveMeasureKnown":
            return measure is not None
        if measure is None:
            return None
        if kind == "objectiveMeasureGreaterThan":
            return measure > cond.threshold
        return measure < cond.threshold
    completed, _ = completion_status(tree, state, activity)
    if kind == "completed":
        return completed
    if kind == "activityProgressKnown":
        return completed is not None
    if kind == "attempted":
        return a_st["attempts"] > 0
    if kind == "attemptLimitExceeded":
        limit = activity.attempt_limit
        return bool(limit) and a_st["attempts"] >= limit  # type: ignore[operator]
    if kind == "timeLimitExceeded":
        return duration_exceeded(activity, a_st)
    # SPEC COMPLIANCE NOTE: outsideAvailableTimeRange (begin/end time limits) is optional in
    # SCORM (SN 5.1.4 requires only attemptLimit and attemptAbsoluteDurationLimit) and not
    # parsed by scorm.packaging: it always evaluates False here.
    return False


def duration_exceeded(activity: Activity, a_st: Mapping[str, Any]) -> bool:
    """Attempt Absolute Duration >= attemptAbsoluteDurationLimit (SN 5.1.4, UP.1 step 4)."""
    limit = activity.attempt_duration_limit
    duration = a_st.get("duration")
    return limit is not None and duration is not None and a_st["attempts"] > 0 and duration >= limit


def _combine(values: list[Tri], combination: str) -> Tri:
    if combination == "any":
        if any(v is True for v in values):
            return True
        return None if any(v is None for v in values) else False
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def rule_fires(tree: ActivityTree, state: Mapping[str, Any], activity: Activity, rule: Rule) -> bool:
    """UP.2.1 Sequencing Rule Check Subprocess: does the rule's condition set evaluate True?"""
    values: list[Tri] = []
    for cond in rule.conditions:
        value = _condition_value(tree, state, activity, cond)
        if cond.negate and value is not None:
            value = not value
        values.append(value)
    return _combine(values, rule.combination) is True


def check_rules(
    tree: ActivityTree,
    state: Mapping[str, Any],
    activity: Activity,
    rules: tuple[Rule, ...],
    actions: frozenset[str],
) -> str | None:
    """UP.2 Sequencing Rules Check Process: the action of the first firing rule in ``actions``."""
    for rule in rules:
        if rule.action in actions and rule_fires(tree, state, activity, rule):
            return rule.action
    return None


def prerequisites_met(tree: ActivityTree, state: Mapping[str, Any], activity: Activity) -> bool:
    """SCORM 1.2 CAM 2.3.2.5.2: evaluate ``adlcp:prerequisites`` against lesson statuses."""
    if activity.prerequisites is None:
        return True
    return evaluate_prerequisites(activity.prerequisites, lambda item: status_12(tree, state, item))


def is_disabled(tree: ActivityTree, state: Mapping[str, Any], activity: Activity) -> bool:
    """Pre-condition ``disabled`` rule (SN 4.3.3), or unmet SCORM 1.2 prerequisites."""
    if check_rules(tree, state, activity, activity.pre_rules, frozenset({"disabled"})):
        return True
    return not prerequisites_met(tree, state, activity)


def limit_exceeded(tree: ActivityTree, state: Mapping[str, Any], activity: Activity) -> bool:
    """UP.1 Limit Conditions Check Process (attemptLimit, attemptAbsoluteDurationLimit)."""
    if not activity.tracked:
        return False
    a_st = state["activities"][activity.id]
    if a_st["active"] or a_st["suspended"]:
        return False
    limit = activity.attempt_limit
    if bool(limit) and a_st["attempts"] > 0 and a_st["attempts"] >= limit:  # type: ignore[operator]
        return True
    return duration_exceeded(activity, a_st)


def check_activity(tree: ActivityTree, state: Mapping[str, Any], activity: Activity) -> bool:
    """UP.5 Check Activity Process: ``True`` when the activity must not be delivered."""
    return is_disabled(tree, state, activity) or limit_exceeded(tree, state, activity)


# --- rollup (RB.1.1 .. RB.1.5, SN 4.6) ---------------------------------------------------------


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


def measure_rollup(tree: ActivityTree, state: State, activity: Activity) -> None:
    """RB.1.1 Measure Rollup Process (weighted by objectiveMeasureWeight)."""
    total = 0.0
    counted = 0.0
    valid = False
    for child in _tracked_children(tree, state, activity):
        counted += child.measure_weight
        _, measure = child_objective(tree, state, activity, child)
        if measure is not None:
            valid = True
            total += measure * child.measure_weight
    primary = activity.primary.key
    if valid and counted > 0:
        _set_objective(state, activity, primary, measure=round(total / counted, 7))
    else:
        _set_objective(state, activity, primary, measure=None)


def completion_measure_rollup(tree: ActivityTree, state: State, activity: Activity) -> None:
    """RB.1.1 b (4th ed.) Completion Measure Rollup Process, weighted by progressWeight."""
    total = 0.0
    counted = 0.0
    valid = False
    for child in _tracked_children(tree, state, activity):
        counted += child.progress_weight
        _, progress = child_completion(tree, state, activity, child)
        if progress is not None:
            valid = True
            total += progress * child.progress_weight
    a_st = state["activities"][activity.id]
    a_st["progress"] = round(total / counted, 7) if valid and counted > 0 else None


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
    if kind == "attempted":
        return c_st["attempts"] > 0
    if kind == "attemptLimitExceeded":
        limit = child.attempt_limit
        return bool(limit) and c_st["attempts"] >= limit  # type: ignore[operator]
    if kind == "timeLimitExceeded":
        return duration_exceeded(child, c_st)
    return False  # outsideAvailableTimeRange: see the note in _condition_value


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
        bag.append(_combine(values, rule.combination))
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
            _set_objective(state, activity, primary.key, satisfied=None)
        else:
            _set_objective(state, activity, primary.key, satisfied=measure >= primary.min_measure)
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
    _set_objective(state, activity, primary.key, satisfied=satisfied)


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


def _check_unit(name: str, value: float | None, low: float) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidTrackingValue(f"{name}={value!r} is not a number.") from exc
    if not (low <= number <= 1.0):
        raise InvalidTrackingValue(f"{name}={value!r} must be between {low} and 1.")
    return number


def _scores(values: Mapping[str, Any], name: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in _SCORE_KEYS:
        raw = values.get(key)
        if raw is None:
            out[key] = None
            continue
        try:
            out[key] = float(raw)
        except (TypeError, ValueError) as exc:
            raise InvalidTrackingValue(f"{name}.{key}={raw!r} is not a number.") from exc
    return out


def _lookup(table: Mapping[str | None, bool | None], name: str, value: Any) -> bool | None:
    key = None if value is None else str(getattr(value, "value", value)).strip()
    if key not in table:
        allowed = ", ".join(sorted(str(k) for k in table if k))
        raise InvalidTrackingValue(f"{name}={value!r} is not one of: {allowed}.")
    return table[key]


def report_sco_outcome(
    tree: ActivityTree,
    state: Mapping[str, Any],
    activity_id: str,
    *,
    completion: str | None = None,
    success: str | None = None,
    measure: float | None = None,
    progress: float | None = None,
    attempt_ended: bool = False,
    suspended: bool = False,
    objectives: Mapping[str, Mapping[str, Any]] | None = None,
    lesson_status: str | None = None,
    attempt_duration: float | None = None,
    scores: Mapping[str, float | None] | None = None,
    content_set: tuple[bool, bool] = (False, False),
) -> State:
    """Record what a SCO reported (at Commit/Terminate) and roll it up.

    The RTE -> SN mapping is the table of :mod:`scorm.sequencing.cmi_adapter`; with
    ``satisfiedByMeasure``/``completedByMeasure`` the measures decide (RTE 4.2.4.1).

    Pass the SCO's complete current values on every call: ``None`` means "unknown" and replaces
    an earlier value. The attempt ends only when the next navigation request runs TB.2.3.

    Args:
        tree: the activity tree.
        state: the attempt's state (not modified; a new one is returned).
        activity_id: the leaf the SCO was launched for.
        completion: completed / incomplete / not attempted / unknown (or ``None``).
        success: passed / failed / unknown (or ``None``).
        measure: ``cmi.score.scaled`` (-1..1) or ``None``.
        progress: ``cmi.progress_measure`` (0..1) or ``None``.
        attempt_ended: the SCO called Terminate (its attempt ends at the next navigation).
        suspended: ``cmi.exit == "suspend"`` (the attempt will be resumed, not restarted).
        objectives: ``{cmi.objectives.n.id: {"success", "measure", "raw", "min", "max",
            "completion", "progress"}}`` (only ``success``/``measure`` required).
        lesson_status: SCORM 1.2 ``cmi.core.lesson_status``; fills completion/success.
        attempt_duration: seconds spent in this attempt so far (``cmi.total_time`` plus the
            pending session), checked against attemptAbsoluteDurationLimit.
        scores: ``{"raw", "min", "max"}`` of ``cmi.score`` (the primary objective's scores,
            shared through 4th-ed. ``adlseq:mapInfo``).
        content_set: the SCO itself wrote (completion, success), even "unknown": UP.4 then
            leaves them as they are (ADL CTS RU-19a).

    Returns:
        The new state.

    Raises:
        UnknownActivity: no such activity. NotALeaf: it is a cluster.
        InvalidTrackingValue: a value outside its vocabulary/range.
    """
    check_state(tree, state)
    activity = tree.get(activity_id)
    if not activity.is_leaf:
        raise NotALeaf(f'"{activity_id}" is a section, not a SCO; only SCOs report results.')
    new: State = clone_state(state)
    a_st = new["activities"][activity_id]
    if lesson_status is not None:
        completion, success = _lesson_status_12(a_st, lesson_status, completion, success)
    reported = {
        "completed": _lookup(COMPLETION_VALUES, "completion", completion),
        "satisfied": _lookup(SUCCESS_VALUES, "success", success),
        "measure": _check_unit("measure", measure, -1.0),
        "progress": _check_unit("progress", progress, 0.0),
    }
    primary_scores = _scores(scores or {}, "score")
    entry = (objectives or {}).get(activity.primary.key) if activity.primary.key != PRIMARY_KEY else None
    if entry is not None:
        _merge_primary_entry(reported, primary_scores, entry, content_set)
    if attempt_ended or suspended:
        a_st["suspended"] = bool(suspended)
    if attempt_duration is not None:
        a_st["duration"] = _duration(attempt_duration)
    if not activity.tracked:
        # Delivery controls tracked=false (SN 5.1.9): no tracking status is kept or rolled up.
        return new
    _record_primary(new, activity, reported, primary_scores, content_set)
    stamp(tree, new, activity_id)
    _record_objectives(new, activity, objectives or {})
    overall_rollup(tree, new, activity_id)
    return new


def _record_primary(
    new: State,
    activity: Activity,
    reported: Mapping[str, Any],
    primary_scores: Mapping[str, float | None],
    content_set: tuple[bool, bool],
) -> None:
    """The attempt's completion/progress and the primary objective (satisfiedByMeasure, completedByMeasure)."""
    completed, satisfied, measure, progress = (reported[k] for k in ("completed", "satisfied", "measure", "progress"))
    if activity.completed_by_measure and progress is not None:
        completed = progress >= activity.min_progress_measure
    primary = activity.primary
    if primary.satisfied_by_measure and measure is not None:
        satisfied = measure >= primary.min_measure
    a_st = new["activities"][activity.id]
    a_st["completed"] = completed
    a_st["progress"] = progress
    _set_objective(new, activity, primary.key, satisfied=satisfied, measure=measure)
    _set_objective(new, activity, primary.key, **primary_scores)
    _set_objective(new, activity, primary.key, completion_by_content=content_set[0], success_by_content=content_set[1])


def _lesson_status_12(
    a_st: dict[str, Any], lesson_status: str, completion: str | None, success: str | None
) -> tuple[str | None, str | None]:
    """SCORM 1.2 ``cmi.core.lesson_status``: recorded, and completion/success where not given."""
    status = " ".join(str(lesson_status).strip().lower().split())
    if status not in LESSON_STATUS_12:
        raise InvalidTrackingValue(f"lesson_status={lesson_status!r} is not a SCORM 1.2 status.")
    a_st["status12"] = status
    c12, s12 = LESSON_STATUS_12[status]
    completion = completion if completion is not None else ("completed" if c12 else "incomplete")
    if success is None and s12 is not None:
        success = "passed" if s12 else "failed"
    return completion, success


def _merge_primary_entry(
    reported: dict[str, Any],
    primary_scores: dict[str, float | None],
    entry: Mapping[str, Any],
    content_set: tuple[bool, bool],
) -> None:
    """The cmi.objectives entry of the primary objective (its objectiveID) describes it too.

    RTE 4.2.17: cmi.completion_status/success_status win when the SCO wrote them (even
    "unknown"; ADL CTS CO-13a), cmi.score.* and cmi.progress_measure when known.
    """
    if reported["satisfied"] is None and not content_set[1]:
        reported["satisfied"] = _lookup(SUCCESS_VALUES, "primary objective success", entry.get("success"))
    if reported["measure"] is None:
        reported["measure"] = _check_unit("primary objective measure", entry.get("measure"), -1.0)
    if reported["completed"] is None and not content_set[0]:
        reported["completed"] = _lookup(COMPLETION_VALUES, "primary objective completion", entry.get("completion"))
    if reported["progress"] is None:
        reported["progress"] = _check_unit("primary objective progress", entry.get("progress"), 0.0)
    for key, value in _scores(entry, "primary objective").items():
        if primary_scores[key] is None:
            primary_scores[key] = value


def _duration(attempt_duration: Any) -> float:
    try:
        seconds = float(attempt_duration)
    except (TypeError, ValueError) as exc:
        raise InvalidTrackingValue(f"attempt_duration={attempt_duration!r} is not a number.") from exc
    if not seconds >= 0:
        raise InvalidTrackingValue(f"attempt_duration={attempt_duration!r} must not be negative.")
    return seconds


def _record_objectives(new: State, activity: Activity, objectives: Mapping[str, Mapping[str, Any]]) -> None:
    """``cmi.objectives.n`` entries whose id is one of the activity's other objectives."""
    for objective_id, values in objectives.items():
        objective = activity.objective(objective_id)
        if objective is None or objective.primary:
            continue  # unknown ids are the SCO's own; the primary follows cmi.* (RTE 4.2.17)
        o_sat = _lookup(SUCCESS_VALUES, f"objectives[{objective_id}].success", values.get("success"))
        o_measure = _check_unit(f"objectives[{objective_id}].measure", values.get("measure"), -1.0)
        if objective.satisfied_by_measure and o_measure is not None:
            o_sat = o_measure >= objective.min_measure
        _set_objective(new, activity, objective.key, satisfied=o_sat, measure=o_measure)
        o_completion = _lookup(COMPLETION_VALUES, f"objectives[{objective_id}].completion", values.get("completion"))
        o_progress = _check_unit(f"objectives[{objective_id}].progress", values.get("progress"), 0.0)
        _set_objective(
            new,
            activity,
            objective.key,
            completion=o_completion,
            progress=o_progress,
            **_scores(values, f"objectives[{objective_id}]"),
        )
