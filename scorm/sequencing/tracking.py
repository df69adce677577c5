"""Activity state document, tracking data read through global maps, and rule evaluation.

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

from scorm.sequencing.errors import InvalidState
from scorm.sequencing.prereq12 import evaluate_prerequisites
from scorm.sequencing.tree import Activity, ActivityTree, Rule

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
        raise InvalidState(key="sequencing_state_missing_from_unknown")
    acts = state.get("activities")
    if not isinstance(acts, Mapping) or set(acts) != set(tree.order):
        raise InvalidState(
            key="sequencing_state_does_match_course"
        )
    for key in ("current", "suspended"):
        value = state.get(key)
        if value is not None and value not in tree.activities:
            raise InvalidState(key="state_names_activity_course", params={"key": key})
    for activity_id, record in acts.items():
        if not isinstance(record, Mapping) or not _RECORD_KEYS <= record.keys():
            raise InvalidState(key="state_record_activity_incomplete", params={"activity_id": activity_id})
    if not isinstance(state.get("globals"), Mapping) or "seed" not in state:
        raise InvalidState(key="sequencing_state_global_objectives_seed")


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


SCORE_KEYS: Final = ("raw", "min", "max")


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
        return dict.fromkeys(("satisfied", "measure", *SCORE_KEYS, "completion", "progress"))
    satisfied, measure = objective_status(tree, state, activity, objective.key)
    record = state["activities"][activity.id]["objectives"].get(objective.key, {})
    data: dict[str, Any] = {"satisfied": satisfied, "measure": measure}
    for name in SCORE_KEYS:
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


def set_objective(state: State, activity: Activity, key: str, **values: Any) -> None:
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
    return attempt_condition(activity, a_st, kind)


def attempt_condition(activity: Activity, a_st: Mapping[str, Any], kind: str) -> bool:
    """The conditions on an activity's attempts (rule and rollup conditions alike, SN 5.1.2.1.3 / 5.1.5.1.3).

    ``attempted``, ``attemptLimitExceeded``, ``timeLimitExceeded``; any other kind is False.
    """
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


def combine_tri(values: list[Tri], combination: str) -> Tri:
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
    return combine_tri(values, rule.combination) is True


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
