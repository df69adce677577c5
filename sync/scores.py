"""From a learning outcome to an AGS Score (LTI AGS 2.0 §3.4), with Moodle's rules applied.

Moodle facts that shape this module (mod/lti/service/gradebookservices, read for understanding):

* ``userId``, ``timestamp``, ``activityProgress`` and ``gradingProgress`` are all required, else
  400 "Incorrect score received".
* A ``scoreGiven`` sent with ``gradingProgress`` other than ``FullyGraded`` is discarded, and a
  Score without ``scoreGiven`` writes an EMPTY grade: any non-final post clears the gradebook
  grade (and its feedback). Hence ``suppression_reason``: once a grade has been delivered for a
  (line item, learner), progress-only or non-final updates are not sent at all.
* A missing ``scoreMaximum`` means 1, so it is always sent with ``scoreGiven``.
* The timestamp must be strictly later, at 1-second resolution, than the stored one (else 409).

The outcome is :class:`scorm.outcome.Outcome` (re-exported here with ``Completion`` and
``Success``): the one type the runtime produces and stores, and this module grades.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scorm.outcome import Completion, Outcome, Success
from sync.errors import InvalidOutcomeError
from sync.model import (
    ActivityProgress,
    GradingProgress,
    LineItemRef,
    ScoreUpdate,
    ensure_aware,
    format_timestamp,
)

#: Comments longer than this are cut (Moodle stores feedback as text; keep payloads small).
COMMENT_LIMIT = 4000


# activityProgress table (AGS 2.0 §3.4.5), first matching row wins.
# Columns: (completion or None=any, success or None=any) -> progress.
_ACTIVITY_TABLE: tuple[tuple[Completion | None, Success | None, ActivityProgress], ...] = (
    (Completion.COMPLETED, None, ActivityProgress.COMPLETED),
    (None, Success.PASSED, ActivityProgress.COMPLETED),  # a pass/fail verdict ends the activity
    (None, Success.FAILED, ActivityProgress.COMPLETED),
    (Completion.INCOMPLETE, None, ActivityProgress.IN_PROGRESS),
    (Completion.NOT_ATTEMPTED, None, ActivityProgress.INITIALIZED),
    (Completion.UNKNOWN, None, ActivityProgress.STARTED),
)


def activity_progress(outcome: Outcome) -> ActivityProgress:
    """Map completion/success/finality to AGS ``activityProgress``.

    A final attempt that is not completed is ``Submitted`` (the learner handed it in); an
    unknown completion with a score is ``InProgress``.
    """
    progress = ActivityProgress.STARTED
    for completion, success, value in _ACTIVITY_TABLE:
        if (completion is None or completion is outcome.completion) and (
            success is None or success is outcome.success
        ):
            progress = value
            break
    if progress is ActivityProgress.STARTED and outcome.score_scaled is not None:
        progress = ActivityProgress.IN_PROGRESS
    if outcome.final and progress is not ActivityProgress.COMPLETED:
        progress = ActivityProgress.SUBMITTED
    return progress


def _scaled(outcome: Outcome, *, score_from_success: bool) -> float | None:
    value = outcome.score_scaled
    if value is None:
        if score_from_success and outcome.final and outcome.success is not Success.UNKNOWN:
            return 1.0 if outcome.success is Success.PASSED else 0.0
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidOutcomeError(key="score_scaled_must_finite_number", params={"value": repr(value)})
    if not -1.0 <= value <= 1.0:
        raise InvalidOutcomeError(key="score_scaled_must_lie_got", params={"value": repr(value)})
    # SPEC COMPLIANCE NOTE: SCORM 2004 scaled_score ranges -1..1 (RTE 4.2.20.5) but AGS scoreGiven
    # must be >= 0 (AGS 2.0 §3.4.2). Strict form would reject negatives; we clamp them to 0 so a
    # negative-scoring package still produces a (zero) grade.
    return max(0.0, float(value))


def build_score_update(
    outcome: Outcome,
    *,
    platform_key: str,
    line_item_key: str,
    line_item: LineItemRef,
    user_id: str,
    score_from_success: bool = False,
) -> ScoreUpdate:
    """Turn an outcome into the ``ScoreUpdate`` to enqueue.

    ``scoreGiven`` = scaled score × the line item's ``score_maximum`` (rounded to 4 decimals),
    always together with ``scoreMaximum``. ``gradingProgress`` is ``FullyGraded`` only for a final
    score, ``Pending`` for a provisional score, ``NotReady`` without a score.

    Args:
        outcome: the learner's outcome.
        platform_key: the tenant/platform key (PlatformDirectory key).
        line_item_key: stable key of the line item for coalescing (e.g. resource link pk + tag).
        line_item: URL or find-or-create data.
        user_id: the learner's LTI ``sub`` on that platform.
        score_from_success: without a score, send passed=100 % / failed=0 % on a final outcome.

    Raises:
        InvalidOutcomeError: score out of range, empty user id, bad score maximum.
    """
    if not user_id:
        raise InvalidOutcomeError(key="user_id_lti_sub_must")
    if outcome.changed_at is None:
        raise InvalidOutcomeError(key="outcome_changed_score_needs_timestamp")
    maximum = line_item.score_maximum
    if isinstance(maximum, bool) or not math.isfinite(maximum) or maximum <= 0:
        raise InvalidOutcomeError(key="score_maximum_must_positive_number", params={"maximum": repr(maximum)})
    scaled = _scaled(outcome, score_from_success=score_from_success)
    given = None if scaled is None else round(scaled * maximum, 4)
    if given is None:
        grading = GradingProgress.NOT_READY
    elif outcome.final:
        grading = GradingProgress.FULLY_GRADED
    else:
        grading = GradingProgress.PENDING
    comment = outcome.comment[:COMMENT_LIMIT] if outcome.comment else None
    return ScoreUpdate(
        platform_key=platform_key,
        line_item_key=line_item_key,
        line_item=line_item,
        user_id=user_id,
        score_given=given,
        score_maximum=float(maximum) if given is not None else None,
        activity_progress=activity_progress(outcome),
        grading_progress=grading,
        outcome_at=ensure_aware(outcome.changed_at, "changed_at"),
        comment=comment,
    )


def score_payload(update: ScoreUpdate, *, timestamp: datetime) -> dict[str, Any]:
    """The Score JSON (AGS 2.0 §3.4) for ``update`` sent with ``timestamp``.

    ``scoreGiven`` and ``scoreMaximum`` travel together or not at all.
    """
    payload: dict[str, Any] = {
        "userId": update.user_id,
        "activityProgress": str(update.activity_progress),
        "gradingProgress": str(update.grading_progress),
        "timestamp": format_timestamp(timestamp),
    }
    if update.score_given is not None and update.score_maximum is not None:
        payload["scoreGiven"] = update.score_given
        payload["scoreMaximum"] = update.score_maximum
    if update.comment:
        payload["comment"] = update.comment
    return payload


def suppression_reason(update: ScoreUpdate, *, grade_delivered: bool) -> str | None:
    """Why ``update`` must NOT be sent, or None to send it.

    Moodle clears the gradebook grade on any Score that is not ``FullyGraded`` with a value
    (see module docstring). Once a grade has been delivered for the key, a progress-only or
    provisional update would wipe it; such updates are suppressed (settled as superseded with
    this reason). Before any grade exists they are sent: they only show progress.
    """
    if grade_delivered and not update.is_grade:
        return (
            "not sent: a grade was already delivered and a "
            f"{update.grading_progress} update would clear it in the gradebook"
        )
    return None


def _service_url(lineitem_url: str, suffix: str) -> str:
    parts = urlsplit(lineitem_url)
    path = parts.path.rstrip("/") + suffix
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def scores_url(lineitem_url: str) -> str:
    """Line item URL with ``/scores`` appended to the PATH (before any ``?query``), AGS 2.0 §3.4.

    Moodle's line item URLs carry ``?type_id=…``; appending to the string would break them.
    """
    return _service_url(lineitem_url, "/scores")


def results_url(lineitem_url: str) -> str:
    """Line item URL with ``/results`` appended to the path (AGS 2.0 §3.3)."""
    return _service_url(lineitem_url, "/results")
