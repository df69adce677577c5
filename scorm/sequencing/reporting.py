"""What a SCO reports (at Commit/Terminate) recorded in the activity state and rolled up.

:func:`report_sco_outcome` takes the values already mapped from the run-time data (see
:mod:`scorm.sequencing.cmi_adapter` for the RTE -> SN table).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from scorm.sequencing.errors import InvalidTrackingValue, NotALeaf
from scorm.sequencing.rollup import overall_rollup, stamp
from scorm.sequencing.tracking import (
    COMPLETION_VALUES,
    LESSON_STATUS_12,
    SCORE_KEYS,
    SUCCESS_VALUES,
    State,
    check_state,
    clone_state,
    set_objective,
)
from scorm.sequencing.tree import PRIMARY_KEY, Activity, ActivityTree

logger = logging.getLogger(__name__)


def _check_unit(name: str, value: float | None, low: float) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidTrackingValue(key="value_not_number", params={"name": name, "value": repr(value)}) from exc
    if not (low <= number <= 1.0):
        raise InvalidTrackingValue(key="value_out_of_range", params={"name": name, "value": repr(value), "low": low})
    return number


def _scores(values: Mapping[str, Any], name: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in SCORE_KEYS:
        raw = values.get(key)
        if raw is None:
            out[key] = None
            continue
        try:
            out[key] = float(raw)
        except (TypeError, ValueError) as exc:
            raise InvalidTrackingValue(
                key="map_value_not_number", params={"name": name, "key": key, "raw": repr(raw)}
            ) from exc
    return out


def _lookup(table: Mapping[str | None, bool | None], name: str, value: Any) -> bool | None:
    key = None if value is None else str(getattr(value, "value", value)).strip()
    if key not in table:
        allowed = ", ".join(sorted(str(k) for k in table if k))
        raise InvalidTrackingValue(
            key="value_not_in_vocabulary", params={"name": name, "value": repr(value), "allowed": allowed}
        )
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
        raise NotALeaf(key="section_sco_only_scos_report", params={"activity_id": activity_id})
    new: State = clone_state(state)
    a_st = new["activities"][activity_id]
    reported = _reported_status(a_st, completion, success, measure, progress, lesson_status)
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


def _reported_status(
    a_st: dict[str, Any],
    completion: str | None,
    success: str | None,
    measure: float | None,
    progress: float | None,
    lesson_status: str | None,
) -> dict[str, Any]:
    """The SCO's primary status, checked (SCORM 1.2 ``lesson_status`` fills completion/success)."""
    if lesson_status is not None:
        completion, success = _lesson_status_12(a_st, lesson_status, completion, success)
    return {
        "completed": _lookup(COMPLETION_VALUES, "completion", completion),
        "satisfied": _lookup(SUCCESS_VALUES, "success", success),
        "measure": _check_unit("measure", measure, -1.0),
        "progress": _check_unit("progress", progress, 0.0),
    }


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
    set_objective(new, activity, primary.key, satisfied=satisfied, measure=measure)
    set_objective(new, activity, primary.key, **primary_scores)
    set_objective(new, activity, primary.key, completion_by_content=content_set[0], success_by_content=content_set[1])


def _lesson_status_12(
    a_st: dict[str, Any], lesson_status: str, completion: str | None, success: str | None
) -> tuple[str | None, str | None]:
    """SCORM 1.2 ``cmi.core.lesson_status``: recorded, and completion/success where not given."""
    status = " ".join(str(lesson_status).strip().lower().split())
    if status not in LESSON_STATUS_12:
        raise InvalidTrackingValue(key="lesson_status_scorm_status", params={"lesson_status": repr(lesson_status)})
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
        raise InvalidTrackingValue(
            key="attempt_duration_number", params={"attempt_duration": repr(attempt_duration)}
        ) from exc
    if not seconds >= 0:
        raise InvalidTrackingValue(
            key="attempt_duration_must_negative", params={"attempt_duration": repr(attempt_duration)}
        )
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
        set_objective(new, activity, objective.key, satisfied=o_sat, measure=o_measure)
        o_completion = _lookup(COMPLETION_VALUES, f"objectives[{objective_id}].completion", values.get("completion"))
        o_progress = _check_unit(f"objectives[{objective_id}].progress", values.get("progress"), 0.0)
        set_objective(
            new,
            activity,
            objective.key,
            completion=o_completion,
            progress=o_progress,
            **_scores(values, f"objectives[{objective_id}]"),
        )
