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
