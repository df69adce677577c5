"""Item sessions: what a SCO (or asset) session starts with, through the item's delivery.

An earlier session that never terminated (closed tab, dropped connection) is finished first, so
its session time counts and nothing the learner did is lost; whether the new session continues
the SCO's attempt, and with which launch parameters, is the delivery's business
(``Delivery.start``, ``lti_tool.runtime.scorm_delivery``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lti_tool.runtime import learner_store, store
from lti_tool.runtime.deliveries import Delivery, SessionStart, deliveries
from lti_tool.runtime.errors import ItemNotFound
from lti_tool.runtime.structure import ASSET, activity_tree, manifest_items, player_items
from lti_tool.services import Services
from lti_tool.storage import learners

if TYPE_CHECKING:
    from lti_tool.storage.models import Attempt, CourseVersion, ScoState

DEFAULT_LEARNER_NAME = "Learner"  # cmi learner name when the LMS sent none (a launch without PII)


@dataclass(frozen=True, kw_only=True)
class ItemSession:
    """The runtime data a SCO session starts with."""

    item_id: str
    cmi_version: str
    state: dict[str, Any]
    seq: int
    kind: str
    last_commit_id: str | None = None


def start_item_session(
    services: Services, attempt_id: str, item_id: str, *, learner_id: str, learner_name: str | None = None
) -> ItemSession:
    """Begin a session of one item: the state document the SCO starts with.

    An earlier session that never terminated (closed tab, dropped connection) is finished
    first, so its session time counts and nothing the learner did is lost; a suspended (or
    1.2) session resumes with ``entry=resume``. ``learner_name`` None: the name the LMS sent
    with the learner's latest launch (their registration), as for pages opened without a launch
    (navigation to the next item, the new-window player).

    Raises:
        AttemptNotFound, AttemptClosed, ItemNotFound.
    """
    with services.db.session() as s:
        attempt, version = store.active_attempt(s, attempt_id)
        return start_session(s, services, attempt, version, item_id, learner_id=learner_id, learner_name=learner_name)


def start_current(
    s: Session,
    services: Services,
    attempt: Attempt,
    version: CourseVersion,
    *,
    learner_id: str,
    learner_name: str | None,
    fresh: bool = False,
) -> ItemSession | None:
    """The session of the attempt's current item, started in ``s``; None when it delivers no item."""
    if not any(i.id == attempt.current_item for i in player_items(version)):
        return None
    return start_session(
        s,
        services,
        attempt,
        version,
        str(attempt.current_item),
        learner_id=learner_id,
        learner_name=learner_name,
        fresh=fresh,
    )


def start_session(
    s: Session,
    services: Services,
    attempt: Attempt,
    version: CourseVersion,
    item_id: str,
    *,
    learner_id: str,
    learner_name: str | None,
    fresh: bool = False,
) -> ItemSession:
    """:func:`start_item_session` of a playable attempt already loaded in ``s``.

    ``fresh``: the attempt was created in this transaction, so it has no SCO state to look up.
    What the session starts with is the item's delivery's business (``Delivery.start``).

    Raises:
        ItemNotFound.
    """
    if learner_name is None:
        reg = learners.registration_by_id(s, attempt.registration_id)
        learner_name = (reg.name if reg is not None else None) or DEFAULT_LEARNER_NAME
    items = {i.id: i for i in player_items(version)}
    if item_id not in items:
        raise ItemNotFound()
    registry = deliveries(services)
    delivery = registry.for_item(registry.for_course(version.standard), items[item_id].kind)
    store.assign(attempt, {"current_item": item_id})
    row = None if fresh else learners.sco_state(s, attempt.id, item_id)
    state = _session_state(s, services, delivery, attempt, version, item_id, row, learner_id, learner_name)
    stored_as = str(delivery.stored_as)
    if row is None:
        row = learners.new_sco_state(
            attempt_id=attempt.id, item_id=item_id, cmi_version=stored_as, state=state, seq=0, sessions=0, outcome={}
        )
        s.add(row)
    store.assign(row, {"state": state, "session_open": delivery.runtime is not None})
    row.sessions += 1
    return ItemSession(
        item_id=item_id,
        cmi_version=stored_as,
        state=state,
        seq=row.seq,
        kind="sco" if delivery.runtime is not None else ASSET,
        last_commit_id=row.last_commit_id,
    )


def _session_state(
    s: Session,
    services: Services,
    delivery: Delivery,
    attempt: Attempt,
    version: CourseVersion,
    item_id: str,
    row: ScoState | None,
    learner_id: str,
    learner_name: str,
) -> dict[str, Any]:
    """What the item's delivery starts its session with (from the stored state of the last one)."""
    assert delivery.start is not None  # for_course refused unplayable deliveries
    if delivery.runtime is None:
        return delivery.start(SessionStart(learner_id=learner_id, learner_name=learner_name, item_id=item_id))
    item = manifest_items(services, version).get(item_id)
    start = SessionStart(
        learner_id=learner_id,
        learner_name=learner_name,
        item_id=item_id,
        item=item,
        stored=row.state if row is not None and row.state else None,
        stored_open=row is not None and row.session_open,
        tree=activity_tree(services, version),
        sequencing=attempt.sequencing,
        shared_data=learner_store.shared_data(s, services, version, attempt, item) if item is not None else (),
    )
    return delivery.start(start)
