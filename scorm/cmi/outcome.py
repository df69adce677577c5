"""Outcome of a SCO (score, completion, success, progress, time) and a simple attempt rollup.

The type itself (:class:`scorm.outcome.Outcome`, with ``Completion`` and ``Success``) is the one
the grade outbox takes too; it is re-exported here.

The outcome is what the grade outbox compares and sends. It is read from a state document with
the version's rules; :func:`rollup_outcomes` combines the SCOs of one attempt with a deliberately
simple, documented rule (full SCORM 2004 sequencing rollup is the sequencing package's job).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from scorm.cmi.durations import CS_PER_SECOND, parse_span
from scorm.cmi.errors import InvalidArgumentError
from scorm.cmi.state import _unpack, evaluated_completion_status, evaluated_success_status
from scorm.outcome import Completion, Outcome, Success

logger = logging.getLogger(__name__)

__all__ = ["Completion", "Outcome", "Success", "outcome_from_state", "rollup_outcomes"]


# SCORM 1.2 lesson_status → (completion, success). "failed" means the learner finished and did
# not pass (as SCORM 2004 maps it: completed + failed); "browsed" is a look in browse mode,
# not a completion.
STATUS_12_MAP: Final = {
    "passed": (Completion.COMPLETED, Success.PASSED),
    "completed": (Completion.COMPLETED, Success.UNKNOWN),
    "failed": (Completion.COMPLETED, Success.FAILED),
    "incomplete": (Completion.INCOMPLETE, Success.UNKNOWN),
    "browsed": (Completion.INCOMPLETE, Success.UNKNOWN),
    "not attempted": (Completion.NOT_ATTEMPTED, Success.UNKNOWN),
}
COMPLETION_2004_MAP: Final = {
    "completed": Completion.COMPLETED,
    "incomplete": Completion.INCOMPLETE,
    "not attempted": Completion.NOT_ATTEMPTED,
    "unknown": Completion.UNKNOWN,
}


def _float(values: Mapping[str, str], key: str) -> float | None:
    text = values.get(key)
    if text is None or text == "":
        return None
    return float(text)


def _clamp01(number: float) -> float:
    return min(1.0, max(0.0, number))


def _scaled_from_raw(raw: float | None, low: float | None, high: float | None) -> float | None:
    if raw is None or low is None or high is None or high <= low:
        return None
    return _clamp01((raw - low) / (high - low))


def _time_seconds(values: Mapping[str, str], version: str, total: str, session: str) -> float:
    cs = 0
    for key in (total, session):
        text = values.get(key)
        if text:
            cs += parse_span(text, version)
    return cs / CS_PER_SECOND


def outcome_from_state(state: Mapping[str, Any], version: str) -> Outcome:
    """Read a SCO's :class:`Outcome` from its state document.

    SCORM 1.2: ``score_scaled = (raw - min) / (max - min)`` with min and max defaulting to 0
    and 100 (RTE 1.2 §3.4.4 cmi.core.score: "normalized between 0 and 100"), clamped to 0..1;
    status mapped by ``STATUS_12_MAP``; no progress.

    SCORM 2004: completion/success as GetValue evaluates them (RTE 4th §4.2.4.1, §4.2.22.1);
    ``score_scaled = cmi.score.scaled`` clamped to 0..1 (a gradebook takes no negative
    fraction); when the SCO reported only raw/min/max, scaled is derived from them as for
    1.2 but only when both min and max are present; progress from ``cmi.progress_measure``.

    Time includes a pending ``session_time`` so the result is right before and after
    ``finish_session`` (which moves it into ``total_time``).
    """
    v, values, _ = _unpack(state, version)
    if v == "1.2":
        raw = _float(values, "cmi.core.score.raw")
        low = _float(values, "cmi.core.score.min")
        high = _float(values, "cmi.core.score.max")
        status = values.get("cmi.core.lesson_status", "not attempted")
        completion, success = STATUS_12_MAP.get(status, (Completion.UNKNOWN, Success.UNKNOWN))
        return Outcome(
            score_scaled=_scaled_from_raw(
                raw, 0.0 if low is None else low, 100.0 if high is None else high
            ),
            score_raw=raw,
            score_min=low,
            score_max=high,
            completion=completion,
            success=success,
            progress=None,
            total_time_seconds=_time_seconds(
                values, v, "cmi.core.total_time", "cmi.core.session_time"
            ),
        )
    raw = _float(values, "cmi.score.raw")
    low = _float(values, "cmi.score.min")
    high = _float(values, "cmi.score.max")
    scaled = _float(values, "cmi.score.scaled")
    progress = _float(values, "cmi.progress_measure")
    return Outcome(
        score_scaled=_clamp01(scaled) if scaled is not None else _scaled_from_raw(raw, low, high),
        score_raw=raw,
        score_min=low,
        score_max=high,
        completion=COMPLETION_2004_MAP[evaluated_completion_status(values)],
        success=Success(evaluated_success_status(values)),
        progress=progress,
        total_time_seconds=_time_seconds(values, v, "cmi.total_time", "cmi.session_time"),
    )


def rollup_outcomes(outcomes: Sequence[Outcome], weights: Sequence[float] | None = None) -> Outcome:
    """Combine the SCO outcomes of one attempt (simple rule, not SCORM 2004 sequencing).

    * score_scaled: weighted mean of the SCOs that have a scaled score (weight default 1; a
      SCO with weight 0 does not count); None if none has one. raw/min/max: None.
    * completion: completed if all are completed; not_attempted if all are not_attempted;
      unknown if all are unknown; otherwise incomplete. Empty list: unknown.
    * success: failed if any failed; passed if all passed; otherwise unknown.
    * progress: weighted mean of the SCOs that report progress; None if none.
    * total_time_seconds: sum.

    Args:
        outcomes: one per SCO.
        weights: optional non-negative weights, one per outcome.

    Raises:
        InvalidArgumentError: weights of the wrong length, or negative.
    """
    if weights is None:
        weights = [1.0] * len(outcomes)
    if len(weights) != len(outcomes):
        raise InvalidArgumentError(
            f"rollup_outcomes: {len(weights)} weights for {len(outcomes)} outcomes."
        )
    if any(w < 0 for w in weights):
        raise InvalidArgumentError("rollup_outcomes: weights must be non-negative.")
    if not outcomes:
        return Outcome()

    def weighted(pairs: list[tuple[float, float]]) -> float | None:
        total = sum(w for _, w in pairs)
        if total <= 0:
            return None
        return sum(x * w for x, w in pairs) / total

    score = weighted(
        [
            (o.score_scaled, w)
            for o, w in zip(outcomes, weights, strict=True)
            if o.score_scaled is not None
        ]
    )
    progress = weighted(
        [(o.progress, w) for o, w in zip(outcomes, weights, strict=True) if o.progress is not None]
    )
    completions = {o.completion for o in outcomes}
    if len(completions) == 1:
        completion = next(iter(completions))
    else:
        completion = Completion.INCOMPLETE
    successes = [o.success for o in outcomes]
    if Success.FAILED in successes:
        success = Success.FAILED
    elif all(s is Success.PASSED for s in successes):
        success = Success.PASSED
    else:
        success = Success.UNKNOWN
    return Outcome(
        score_scaled=score,
        completion=completion,
        success=success,
        progress=progress,
        total_time_seconds=sum(o.total_time_seconds for o in outcomes),
    )
