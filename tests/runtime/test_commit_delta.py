"""Delta commits: the player posts the values set since its last commit; the server validates them
against the stored state and stores the merged document (runtime.js COMMIT CONTRACT).

On SQLite and PostgreSQL (``services``). The hot path (a commit that reaches neither sequencing nor
the rollup) is two autocommit statements, the seq-guarded UPDATE included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lti_tool.lti.context import Launch
from lti_tool.runtime import commits, service
from lti_tool.runtime.errors import StaleCommit
from lti_tool.services import Services
from lti_tool.storage.models import ScoState
from scorm.cmi import get_value

GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
Q1 = {
    "cmi.interactions.0.id": "q1",
    "cmi.interactions.0.type": "true-false",
    "cmi.interactions.0.learner_response": "true",
}


def _opened(services: Services, import_course: Callable, make_launch: Callable[..., Launch], sub: str = "u1") -> Any:
    course = import_course(GOLF2004)
    opened = service.open_attempt(services, make_launch(course.course_key, sub=sub))
    service.start_item_session(
        services, opened.attempt_id, opened.current_item or "", learner_id="learner-1", learner_name="Ana"
    )
    return opened


def _stored(services: Services, attempt_id: str, item: str) -> ScoState:
    with services.db.session() as s:
        row = s.get(ScoState, (attempt_id, item))
        assert row is not None
        s.expunge(row)
        return row


def _value(row: ScoState, element: str) -> str:
    return get_value(row.state, element, "2004")[0]


def test_a_delta_is_validated_against_the_stored_state_with_the_full_documents_codes(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    opened = _opened(services, import_course, make_launch)
    a, item = opened.attempt_id, opened.current_item or ""
    service.commit(services, a, item, {"seq": 1, "id": "c1", "changes": {**Q1, "cmi.location": "p1"}})
    # the interaction's type is only in the stored state: the delta's answer is checked against it
    bad = {"cmi.interactions.0.learner_response": "maybe", "cmi.interactions.3.id": "q4", "cmi.location": "p2"}
    reply = service.commit(services, a, item, {"seq": 2, "id": "c2", "changes": bad})
    codes = {r["element"]: r["code"] for r in reply.rejected}
    assert codes == {"cmi.interactions.0.learner_response": 406, "cmi.interactions.3.id": 351}
    assert reply.stored == 1 and reply.seq == 2
    row = _stored(services, a, item)
    assert _value(row, "cmi.interactions.0.learner_response") == "true"  # the refused value left no trace
    assert _value(row, "cmi.interactions._count") == "1" and _value(row, "cmi.location") == "p2"
    assert row.seq == 2

    # the same refused value in a full document (another learner, nothing stored yet): the same code
    other = _opened(services, import_course, make_launch, sub="u2")
    full = {**Q1, "cmi.interactions.0.learner_response": "maybe"}
    again = service.commit(services, other.attempt_id, other.current_item or "", {"seq": 1, "changes": full})
    assert {r["element"]: r["code"] for r in again.rejected} == {"cmi.interactions.0.learner_response": 406}


def test_deltas_out_of_order_and_duplicated(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    opened = _opened(services, import_course, make_launch)
    a, item = opened.attempt_id, opened.current_item or ""
    service.commit(services, a, item, {"seq": 1, "id": "c1", "changes": Q1})
    service.commit(services, a, item, {"seq": 4, "id": "c4", "changes": {"cmi.location": "four"}})  # a gap is fine
    with pytest.raises(StaleCommit) as late:  # an older delta arriving late changes nothing
        service.commit(services, a, item, {"seq": 3, "id": "c3", "changes": {"cmi.location": "three"}})
    assert late.value.expected_seq == 5
    # a retry of the acknowledged one (its answer was lost) is answered, not applied again
    replay = service.commit(services, a, item, {"seq": 4, "id": "c4", "changes": {"cmi.location": "not again"}})
    assert replay.replayed and replay.seq == 4 and replay.stored == 0
    with pytest.raises(StaleCommit):  # the same number under another id is another commit: stale
        service.commit(services, a, item, {"seq": 4, "id": "other", "changes": {"cmi.location": "x"}})
    row = _stored(services, a, item)
    assert _value(row, "cmi.location") == "four" and row.seq == 4 and row.last_commit_id == "c4"


def test_a_delta_against_a_state_another_tab_changed(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    opened = _opened(services, import_course, make_launch)
    a, item = opened.attempt_id, opened.current_item or ""
    service.commit(services, a, item, {"seq": 1, "id": "a1", "changes": {**Q1, "cmi.location": "tab-a"}})
    # tab B adds an interaction and its suspend data
    tab_b = {"cmi.interactions.1.id": "q2", "cmi.interactions.1.type": "numeric", "cmi.suspend_data": "b"}
    service.commit(services, a, item, {"seq": 2, "id": "b2", "changes": tab_b})
    # tab A's next delta carries the number B used: refused, then resent renumbered (CommitQueue)
    mine = {"cmi.location": "tab-a-2", "cmi.interactions.1.learner_response": "12.5"}
    with pytest.raises(StaleCommit) as stale:
        service.commit(services, a, item, {"seq": 2, "id": "a2", "changes": mine})
    assert stale.value.expected_seq == 3
    reply = service.commit(services, a, item, {"seq": 3, "id": "a2", "changes": mine})
    assert not reply.rejected and reply.stored == 2  # B's numeric interaction validates A's answer
    bad = service.commit(
        services, a, item, {"seq": 4, "id": "a3", "changes": {"cmi.interactions.1.learner_response": "true"}}
    )
    assert [r["code"] for r in bad.rejected] == [406]  # not a number, for the type B stored
    row = _stored(services, a, item)
    assert _value(row, "cmi.suspend_data") == "b" and _value(row, "cmi.location") == "tab-a-2"
    assert _value(row, "cmi.interactions._count") == "2"
    assert _value(row, "cmi.interactions.0.learner_response") == "true"
    assert _value(row, "cmi.interactions.1.learner_response") == "12.5"


def test_a_full_document_is_still_accepted(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    opened = _opened(services, import_course, make_launch)
    a, item = opened.attempt_id, opened.current_item or ""
    service.commit(services, a, item, {"seq": 1, "changes": {**Q1, "cmi.location": "p1", "cmi.suspend_data": "s"}})
    # an older player posts its whole data model: read-only values and keywords echoed as stored
    full = dict(_stored(services, a, item).state["values"])
    full.update({"cmi.interactions._count": "1", "cmi._version": "1.0", "cmi.location": "p2"})
    reply = service.commit(services, a, item, {"seq": 2, "changes": full})
    assert not reply.rejected and reply.stored == 1
    row = _stored(services, a, item)
    assert _value(row, "cmi.location") == "p2" and _value(row, "cmi.suspend_data") == "s"
    assert _value(row, "cmi.learner_id") == "learner-1"


def test_a_plain_commit_opens_no_unit_of_work(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], counted: list[int]
) -> None:
    opened = _opened(services, import_course, make_launch)
    a, item = opened.attempt_id, opened.current_item or ""
    service.commit(services, a, item, {"seq": 1, "changes": {**Q1, "cmi.location": "p1"}})
    counted.clear()
    service.commit(services, a, item, {"seq": 2, "changes": {"cmi.location": "p2", "cmi.session_time": "PT5S"}})
    assert counted == []  # two autocommit statements, no BEGIN/COMMIT
    service.commit(services, a, item, {"seq": 3, "changes": {"cmi.score.scaled": "0.9"}})
    assert counted == [1]  # the graded outcome moved: the write and the rollup are one transaction


def test_a_commit_that_lost_the_race_between_its_read_and_its_write_stores_nothing(
    services: Services,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = _opened(services, import_course, make_launch)
    a, item = opened.attempt_id, opened.current_item or ""
    service.commit(services, a, item, {"seq": 1, "changes": {"cmi.location": "p1"}})
    real = commits._apply
    raced: list[int] = []

    def apply_after_another(services_: Services, row: Any, request: commits.CommitBody) -> Any:
        if not raced:  # another node's commit lands after this one read the row
            raced.append(1)
            service.commit(services, a, item, {"seq": 2, "id": "winner", "changes": {"cmi.location": "winner"}})
        return real(services_, row, request)

    monkeypatch.setattr(commits, "_apply", apply_after_another)
    with pytest.raises(StaleCommit):
        service.commit(services, a, item, {"seq": 2, "id": "loser", "changes": {"cmi.location": "loser"}})
    row = _stored(services, a, item)
    assert _value(row, "cmi.location") == "winner" and row.last_commit_id == "winner"


@pytest.mark.parametrize("terminate", [False, True])
def test_a_newer_commit_that_met_an_older_one_between_its_read_and_its_write_is_applied_after_it(
    services: Services,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    monkeypatch: pytest.MonkeyPatch,
    terminate: bool,
) -> None:
    """A closing tab sends two keepalive commits at once (beforeunload, then the final pagehide that
    ends the session): when the older lands between the newer's read and its write, the newer is
    read and judged again and stored after it, never refused for a race it did not lose."""
    opened = _opened(services, import_course, make_launch)
    a, item = opened.attempt_id, opened.current_item or ""
    service.commit(services, a, item, {"seq": 1, "changes": {"cmi.location": "p1"}})
    real = commits._apply
    raced: list[int] = []

    def apply_after_another(services_: Services, row: Any, request: commits.CommitBody) -> Any:
        if not raced:
            raced.append(1)
            service.commit(services, a, item, {"seq": 2, "id": "older", "changes": {"cmi.suspend_data": "s=2"}})
        return real(services_, row, request)

    monkeypatch.setattr(commits, "_apply", apply_after_another)
    reply = service.commit(
        services, a, item,
        {"seq": 3, "id": "newer", "changes": {"cmi.location": "p3", "cmi.exit": "suspend"}, "terminate": terminate},
    )  # fmt: skip
    assert reply.seq == 3 and raced == [1]
    row = _stored(services, a, item)
    assert row.seq == 3 and row.last_commit_id == "newer"
    assert _value(row, "cmi.location") == "p3" and _value(row, "cmi.suspend_data") == "s=2"
    assert row.session_open is (not terminate)
