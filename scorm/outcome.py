"""The one outcome type: what a learner achieved, from the content to the gradebook.

A leaf module (stdlib only) that both sides import: ``scorm`` produces outcomes (a SCO's state
document, the attempt's rollup, later xAPI/cmi5 results), the runtime stores them (as
:meth:`Outcome.to_json`), and ``sync`` turns one into an AGS Score. ``sync`` imports this module
and nothing else of ``scorm`` (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final


class Completion(StrEnum):
    """Completion as the content reported it (SCORM completion_status / lesson_status, xAPI)."""

    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    NOT_ATTEMPTED = "not_attempted"
    UNKNOWN = "unknown"


class Success(StrEnum):
    """Success as the content reported it (SCORM success_status / lesson_status, xAPI)."""

    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"


class OutcomeError(ValueError):
    """A stored outcome that is not one (unknown completion/success, a score that is no number)."""


#: The fields the runtime stores (attempts.outcome, sco_states.outcome), in this order.
STORED_FIELDS: Final = (
    "score_scaled",
    "score_raw",
    "score_min",
    "score_max",
    "completion",
    "success",
    "progress",
    "total_time_seconds",
)
_NUMBERS: Final = ("score_scaled", "score_raw", "score_min", "score_max", "progress")


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a SCO, an attempt or an activity achieved.

    Attributes:
        score_scaled: 0..1 as the runtime produces it (SCORM 2004 allows -1..1; ``sync`` clamps
            negatives), or None when no score was reported.
        score_raw / score_min / score_max: as reported (None when absent).
        completion: completed / incomplete / not_attempted / unknown.
        success: passed / failed / unknown.
        progress: 0..1 or None.
        total_time_seconds: accumulated time, including a not-yet-finished session's time.
        is_final: the attempt is over, its score is the one to grade; None: :attr:`final`
            derives it (completed, or a pass/fail verdict).
        changed_at: when the outcome changed (tz-aware); the Score timestamp. Not stored.
        comment: feedback text for the gradebook. Not stored.
    """

    score_scaled: float | None = None
    score_raw: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    completion: Completion = Completion.UNKNOWN
    success: Success = Success.UNKNOWN
    progress: float | None = None
    total_time_seconds: float = 0.0
    is_final: bool | None = None
    changed_at: datetime | None = None
    comment: str | None = None

    @property
    def final(self) -> bool:
        """Whether the score is the one to grade (:attr:`is_final`, or derived when None)."""
        if self.is_final is not None:
            return self.is_final
        return self.completion is Completion.COMPLETED or self.success is not Success.UNKNOWN

    def to_json(self) -> dict[str, Any]:
        """The stored form (JSON object of :data:`STORED_FIELDS`; enums as their values)."""
        return {
            "score_scaled": self.score_scaled,
            "score_raw": self.score_raw,
            "score_min": self.score_min,
            "score_max": self.score_max,
            "completion": self.completion.value,
            "success": self.success.value,
            "progress": self.progress,
            "total_time_seconds": self.total_time_seconds,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, default: Completion = Completion.UNKNOWN) -> Outcome:
        """The outcome of a stored form (missing keys: unknown / no score; empty: ``default`` completion).

        Raises:
            OutcomeError: an unknown completion/success, or a number field that is no finite number.
        """
        if not data:
            return cls(completion=default)
        try:
            completion = Completion(data.get("completion") or Completion.UNKNOWN)
            success = Success(data.get("success") or Success.UNKNOWN)
        except ValueError as exc:
            raise OutcomeError(f"unknown completion/success in outcome: {exc}") from exc
        numbers: dict[str, float | None] = {}
        for name in _NUMBERS:
            value = data.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            ):
                raise OutcomeError(f"{name} must be a number, got {value!r}")
            numbers[name] = None if value is None else float(value)
        seconds = data.get("total_time_seconds", 0.0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise OutcomeError(f"total_time_seconds must be a number, got {seconds!r}")
        return cls(completion=completion, success=success, total_time_seconds=float(seconds), **numbers)
