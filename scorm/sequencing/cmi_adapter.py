"""Feed a SCO's run-time data (the :mod:`scorm.cmi` state document) into the sequencing state.

RTE -> SN mapping (SCORM 2004 RTE 4th ed. 4.2.4, 4.2.17, 4.2.18, 4.2.20, 4.2.22, and SN 4.2.1):

================================  =================================================
run-time element                  tracking data
================================  =================================================
cmi.completion_status (evaluated) Attempt Completion Status (via completion threshold)
cmi.progress_measure              Attempt Completion Amount
cmi.success_status (evaluated)    primary objective Satisfied Status
cmi.score.scaled                  primary objective Normalized Measure
cmi.objectives.n (id match)       that activity objective's satisfied status / measure
cmi.exit == "suspend"             the activity is suspended when its attempt ends
cmi.core.lesson_status (1.2)      lesson status (and completion / success from it)
================================  =================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from scorm.cmi.errors import CmiError
from scorm.cmi.outcome import outcome_from_state
from scorm.cmi.state import evaluated_completion_status, evaluated_success_status
from scorm.sequencing.errors import InvalidTrackingValue
from scorm.sequencing.reporting import report_sco_outcome
from scorm.sequencing.tracking import (
    State,
    completion_status,
    objective_data,
    objective_status,
)
from scorm.sequencing.tree import PRIMARY_KEY, ActivityTree

logger = logging.getLogger(__name__)


_SUCCESS_WORD = {True: "passed", False: "failed", None: "unknown"}
_COMPLETION_WORD = {True: "completed", False: "incomplete", None: "unknown"}


def _number(values: Mapping[str, str], key: str) -> float | None:
    raw = values.get(key)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidTrackingValue(key="cmi_value_not_number", params={"key": key, "raw": repr(raw)}) from exc


def report_cmi_state(
    tree: ActivityTree,
    state: Mapping[str, Any],
    activity_id: str,
    cmi_state: Mapping[str, Any],
    *,
    terminated: bool = False,
) -> State:
    """Call :func:`report_sco_outcome` with the values of a SCO's CMI state document.

    Args:
        tree: the activity tree.
        state: the attempt's sequencing state.
        activity_id: the SCO's activity.
        cmi_state: the :mod:`scorm.cmi` state document (``{"version", "values", "counts"}``)
            after the commit was applied.
        terminated: the SCO called Terminate/LMSFinish.

    Returns:
        The new sequencing state.

    Raises:
        InvalidTrackingValue: the document is not a CMI state document or holds a value the
            mapping cannot use.
    """
    try:
        version = str(cmi_state["version"])
        values: Mapping[str, str] = cmi_state["values"]
        counts: Mapping[str, int] = cmi_state.get("counts", {})
    except (KeyError, TypeError) as exc:
        raise InvalidTrackingValue(key="cmi_state_must_have_version") from exc
    seconds = _attempt_seconds(cmi_state, version)
    if version == "1.2":
        status = values.get("cmi.core.lesson_status")
        return report_sco_outcome(
            tree,
            state,
            activity_id,
            lesson_status=status if status else None,
            attempt_ended=terminated,
            suspended=values.get("cmi.core.exit") == "suspend",
            attempt_duration=seconds,
        )
    if terminated and values.get("adl.nav.request") in ("abandon", "abandonAll"):
        # SN 4.4.4 / TB.2.3: an abandoned attempt's data is not kept; the SCO asked for its
        # attempt to be abandoned, so what it reported does not reach the tracking data
        # (ADL CTS SX-04a: pass + abandonAll, relaunch -> not skipped as satisfied).
        return dict(state)
    objectives = _objective_entries(values, counts)
    content_set = _content_set(tree, state, activity_id, values, objectives)
    success = evaluated_success_status(values)
    entry = objectives.get(tree.get(activity_id).primary.key)
    if content_set[1] and "cmi.success_status" not in values and entry is not None:
        success = entry.get("success", "unknown")  # the SCO wrote its primary objective's entry
    return report_sco_outcome(
        tree,
        state,
        activity_id,
        completion=evaluated_completion_status(values),
        success=success,
        measure=_number(values, "cmi.score.scaled"),
        progress=_number(values, "cmi.progress_measure"),
        attempt_ended=terminated,
        suspended=values.get("cmi.exit") == "suspend",
        objectives=objectives,
        attempt_duration=seconds,
        content_set=content_set,
        scores={
            "raw": _number(values, "cmi.score.raw"),
            "min": _number(values, "cmi.score.min"),
            "max": _number(values, "cmi.score.max"),
        },
    )


def _attempt_seconds(cmi_state: Mapping[str, Any], version: str) -> float | None:
    """The attempt's duration so far (``cmi.total_time`` plus the session), None if unreadable."""
    try:
        return outcome_from_state(cmi_state, version).total_time_seconds
    except (CmiError, ValueError) as exc:  # a document the CMI layer cannot read: no duration
        logger.info("no attempt duration from the CMI state: %s", exc)
        return None


def _objective_entries(values: Mapping[str, str], counts: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """``cmi.objectives.n`` by id, as :func:`report_sco_outcome` takes them."""
    objectives: dict[str, dict[str, Any]] = {}
    for n in range(int(counts.get("cmi.objectives", 0))):
        objective_id = values.get(f"cmi.objectives.{n}.id")
        if not objective_id:
            continue
        prefix = f"cmi.objectives.{n}"
        objectives[objective_id] = {
            "success": values.get(f"{prefix}.success_status", "unknown"),
            "measure": _number(values, f"{prefix}.score.scaled"),
            "raw": _number(values, f"{prefix}.score.raw"),
            "min": _number(values, f"{prefix}.score.min"),
            "max": _number(values, f"{prefix}.score.max"),
            "completion": values.get(f"{prefix}.completion_status", "unknown"),
            "progress": _number(values, f"{prefix}.progress_measure"),
        }
    return objectives


def _content_set(
    tree: ActivityTree,
    state: Mapping[str, Any],
    activity_id: str,
    values: Mapping[str, str],
    objectives: Mapping[str, Mapping[str, Any]],
) -> tuple[bool, bool]:
    """Whether the SCO itself wrote its (completion, success) status in this attempt.

    ``cmi.completion_status``/``cmi.success_status`` set (even "unknown"), or the primary
    objective's ``cmi.objectives`` entry changed from what the LMS initialised it with (the
    objective's tracking status): a SCO that sets its primary objective "unknown" keeps it
    unknown, UP.4 does not make it satisfied (ADL CTS OB-17b). Once set, it stays the content's
    for the rest of the attempt.
    """
    activity = tree.get(activity_id)
    primary = activity.primary
    record = state["activities"][activity_id]["objectives"].get(primary.key, {}) if activity.is_leaf else {}
    completion = "cmi.completion_status" in values or bool(record.get("completion_by_content"))
    success = "cmi.success_status" in values or bool(record.get("success_by_content"))
    entry = objectives.get(primary.key) if primary.key != PRIMARY_KEY else None
    if entry is not None and activity.is_leaf and not success:
        satisfied, _ = objective_status(tree, state, activity, primary.key)
        success = entry.get("success", "unknown") != _SUCCESS_WORD[satisfied]
    return completion, success


def launch_data(tree: ActivityTree, state: Mapping[str, Any], activity_id: str) -> dict[str, Any]:
    """What the player passes to ``scorm.cmi.lifecycle.initial_state`` for a 2004 SCO launch.

    * ``scaled_passing_score``: the primary objective's ``minNormalizedMeasure`` when it is
      ``satisfiedByMeasure`` (RTE 4.2.21);
    * ``completion_threshold``: ``minProgressMeasure`` when ``completedByMeasure`` (RTE 4.2.5);
    * ``objectives``: ``[{"id", "success_status", "score.scaled", "score.raw", "score.min",
      "score.max", "completion_status", "progress_measure"}]`` for every objective with an id,
      with its current status read through global maps (4th-ed. adlseq maps included), to
      initialise ``cmi.objectives.n`` (RTE 4.2.17: the LMS initialises objectives from the
      activity's objective tracking data; pass the list as ``initial_state(objectives=...)``).

    Raises:
        UnknownActivity: no such activity.
    """
    activity = tree.get(activity_id)
    primary = activity.primary
    objectives: list[dict[str, Any]] = []
    for objective in activity.objectives:
        if objective.key == PRIMARY_KEY:
            continue
        data = objective_data(tree, state, activity, objective.key)
        objectives.append(
            {
                "id": objective.key,
                "success_status": _SUCCESS_WORD[data["satisfied"]],
                "score.scaled": data["measure"],
                "score.raw": data["raw"],
                "score.min": data["min"],
                "score.max": data["max"],
                "completion_status": _COMPLETION_WORD[data["completion"]],
                "progress_measure": data["progress"],
            }
        )
    return {
        "scaled_passing_score": primary.min_measure if primary.satisfied_by_measure else None,
        "completion_threshold": activity.min_progress_measure if activity.completed_by_measure else None,
        "objectives": objectives,
    }


def course_outcome(tree: ActivityTree, state: Mapping[str, Any]) -> dict[str, Any]:
    """The course's result as the sequencer rolled it up (the root activity), for grading.

    For a SCORM 2004 course the root's tracking status is the result (SN 4.6: rollup, the LMS's
    end-of-attempt completion/satisfaction of SCOs that set none, shared objectives read by a
    wrapper, only the selected children of a randomized cluster, ...); averaging the SCOs'
    own ``cmi`` values gets pre/post tests, untouched SCOs and selectCount wrong (issue 13).

    Returns:
        ``{"completion": "completed"|"incomplete"|"unknown", "success": "passed"|"failed"|
        "unknown", "score_scaled": 0..1 | None, "progress": 0..1 | None}`` (the root's normalized
        measure, negative measures counting as 0).
    """
    root = tree.activities[tree.root]
    completed, progress = completion_status(tree, state, root)
    satisfied, measure = objective_status(tree, state, root)
    return {
        "completion": _COMPLETION_WORD[completed],
        "success": _SUCCESS_WORD[satisfied],
        "score_scaled": None if measure is None else max(0.0, float(measure)),
        "progress": progress,
    }
