"""The runtime's view of the attempt aggregate: registrations, attempts and SCO states.

The statements live with the tables' owners (``lti_tool/storage/learners.py``,
``lti_tool/storage/courses.py``; docs/ARCHITECTURE.md, "Storage boundary"); this module keeps
the runtime's rules over them (which attempt may be played) and names the owner functions the
attempt, commit and navigation modules call, so they speak in rows, not statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lti_tool.runtime.errors import AttemptClosed, AttemptNotFound
from lti_tool.storage.courses import newest_version, version_by_id
from lti_tool.storage.learners import (
    COMMIT_COLUMNS,
    attempt_by_id,
    commit_row,
    item_outcomes,
    last_attempt,
    registration,
    write_commit,
)
from lti_tool.storage.models import AttemptStatus

if TYPE_CHECKING:
    from lti_tool.storage.models import Attempt, CourseVersion

__all__ = [
    "COMMIT_COLUMNS",
    "active_attempt",
    "assign",
    "commit_row",
    "item_outcomes",
    "last_attempt",
    "newest_version",
    "registration",
    "write_commit",
]


def assign(row: Any, values: Mapping[str, Any]) -> None:
    """Set the attributes whose value differs: equal values would mark the row dirty for nothing.

    The UPDATE is the same either way (none for equal values); a clean row just costs its
    transaction's flushes nothing.
    """
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)


def active_attempt(s: Session, attempt_id: str) -> tuple[Attempt, CourseVersion]:
    """An attempt that may still be played, with its pinned course version.

    Raises:
        AttemptNotFound: no such attempt.
        AttemptClosed: completed or abandoned.
    """
    attempt = attempt_by_id(s, attempt_id)
    if attempt is None:
        raise AttemptNotFound()
    if attempt.status != AttemptStatus.ACTIVE:
        raise AttemptClosed()
    version = version_by_id(s, attempt.course_version_id)
    if version is None:  # pragma: no cover - FK
        raise AttemptNotFound()
    return attempt, version
