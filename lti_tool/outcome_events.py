"""The typed port between the runtime and whoever reacts to a learner's new outcome.

The runtime calls every :class:`OutcomeListener` on ``Services.outcome_listeners`` inside the
transaction of the commit that changed the attempt's graded outcome; a listener that raises rolls
that commit back (the grade outbox row and the outcome commit together, or neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from lti_tool.storage.models import Attempt, LearnerRegistration
from scorm.outcome import Outcome


@dataclass(frozen=True, kw_only=True)
class OutcomeChanged:
    """An attempt's graded outcome changed (score, completion or success).

    Attributes:
        session: the commit's open transaction; listeners write in it.
        registration: the learner registration of the attempt (None when it was erased).
        attempt: the attempt row, already carrying the new outcome.
        outcome: the rolled-up outcome (the one outcome type, :class:`scorm.outcome.Outcome`).
        changed_at: when the commit happened (UTC).
    """

    session: Session
    registration: LearnerRegistration | None
    attempt: Attempt
    outcome: Outcome
    changed_at: datetime


class OutcomeListener(Protocol):
    """Reacts to :class:`OutcomeChanged` in the commit's transaction (e.g. the grade outbox)."""

    def outcome_changed(self, event: OutcomeChanged) -> None:
        """Handle one change; raising rolls the runtime commit back."""
        ...
