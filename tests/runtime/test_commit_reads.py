"""What a graded commit reads: the attempt's course version once, however far the commit reaches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from lti_tool.lti.context import Launch
from lti_tool.runtime import service
from lti_tool.services import Services

SEQUENCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"


def test_a_graded_commit_reads_the_course_version_once(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(SEQUENCED)
    opened = service.open_attempt(services, make_launch(course.course_key))
    item = opened.current_item or ""
    service.start_item_session(services, opened.attempt_id, item, learner_id="learner-1", learner_name="Ana")
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM course_versions" in statement:
            reads.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", seen)
    try:
        changes = {"cmi.completion_status": "completed", "cmi.success_status": "passed", "cmi.exit": "normal"}
        reply = service.commit(services, opened.attempt_id, item, {"seq": 1, "changes": changes, "terminate": True})
    finally:
        event.remove(services.db.engine, "before_cursor_execute", seen)
    # it reached sequencing, the rollup and the menu (a course of several SCOs), all in one reading
    assert reply.sequencing_changed and reply.menu is not None and reply.attempt_outcome
    assert len(reads) == 1, reads


GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"


def _statements(services: Services, run: Callable[[], Any]) -> tuple[Any, list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(services.db.engine, "before_cursor_execute", record)
    try:
        return run(), seen
    finally:
        event.remove(services.db.engine, "before_cursor_execute", record)


def test_a_one_sco_courses_graded_commit_reads_no_outcome_back_and_writes_the_attempt_once(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    """The SCO's outcome was just written by the commit itself: a course of one SCO rolls it up
    without reading it back, and the attempt's sequencing state and outcome are one UPDATE."""
    course = import_course(GOLF2004)
    opened = service.open_attempt(services, make_launch(course.course_key))
    item = opened.current_item or ""
    service.start_item_session(services, opened.attempt_id, item, learner_id="learner-1", learner_name="Ana")
    changes = {"cmi.score.scaled": "0.8", "cmi.success_status": "passed", "cmi.completion_status": "completed"}
    reply, seen = _statements(
        services, lambda: service.commit(services, opened.attempt_id, item, {"seq": 1, "changes": changes})
    )
    assert reply.sequencing_changed
    assert reply.attempt_outcome["score_scaled"] == 0.8 and reply.attempt_outcome["success"] == "passed"
    outcome_reads = [s for s in seen if s.startswith("SELECT sco_states.item_id, sco_states.outcome")]
    attempt_writes = [s for s in seen if s.startswith("UPDATE attempts")]
    assert outcome_reads == [] and len(attempt_writes) == 1, seen
    with services.db.session() as s:  # and what was stored is what was answered
        from lti_tool.storage import learners

        attempt = learners.attempt_by_id(s, opened.attempt_id)
        assert attempt is not None and attempt.outcome == reply.attempt_outcome and attempt.sequencing
