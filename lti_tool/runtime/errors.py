"""Runtime errors: each a stable code, an HTTP status and words a learner or admin can act on."""

from __future__ import annotations

from lti_tool.errors import AppError


class RuntimeProblem(AppError):
    """The course cannot be played right now."""

    code = "runtime_error"
    status = 400


class CourseNotLinked(RuntimeProblem):
    """This activity is not linked to a catalogue course: ask your instructor to re-add it with 'Select content'."""

    code = "course_not_linked"
    status = 409


class CourseUnavailable(RuntimeProblem):
    """The catalogue course behind this activity no longer exists: tell your instructor."""

    code = "course_unavailable"
    status = 404


class StandardNotPlayable(RuntimeProblem):
    """This course's format cannot be played in the player yet."""

    code = "standard_not_playable"
    status = 409


class AttemptLimitReached(RuntimeProblem):
    """You have used every attempt this activity allows."""

    code = "attempt_limit_reached"
    status = 403


class AttemptNotFound(RuntimeProblem):
    """This attempt does not exist: relaunch the course from your LMS."""

    code = "attempt_not_found"
    status = 404


class ItemNotFound(RuntimeProblem):
    """This part of the course does not exist in your attempt's version."""

    code = "item_not_found"
    status = 404


class RuntimeTokenRefused(RuntimeProblem):
    """Your session for this course has ended or is not valid: relaunch the course from your LMS."""

    code = "runtime_token_refused"
    status = 401


class WrongAttempt(RuntimeProblem):
    """This session belongs to another attempt."""

    code = "forbidden_attempt"
    status = 403


class StaleCommit(RuntimeProblem):
    """This commit is older than one already saved."""

    code = "stale_seq"
    status = 409

    def __init__(self, expected_seq: int) -> None:
        super().__init__(params={"expected_seq": expected_seq})
        self.expected_seq = expected_seq


class InvalidCommit(RuntimeProblem):
    """The commit is not a valid runtime commit."""

    code = "invalid_commit"
    status = 400


class AttemptClosed(RuntimeProblem):
    """This attempt is finished; relaunch the course from your LMS to start a new one."""

    code = "attempt_closed"
    status = 409
