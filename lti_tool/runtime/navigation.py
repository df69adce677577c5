"""Navigation: a player request through the SN engine (``scorm.sequencing``), in one transaction.

The request is applied to the attempt's sequencing state, the SCO whose attempt it ends (or
suspends) is recorded, the course is rolled up, and — when an item is delivered — its session is
started and the refreshed menu built, all in the same unit of work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.messages import NAVIGATION
from lti_tool.runtime import learner_store, store
from lti_tool.runtime.attempts import OpenedAttempt, opened_view
from lti_tool.runtime.commits import roll_up
from lti_tool.runtime.errors import AttemptNotFound
from lti_tool.runtime.sessions import ItemSession, start_session
from lti_tool.runtime.structure import PlayerItem, activity_tree
from lti_tool.services import Services
from lti_tool.storage import learners
from lti_tool.storage.models import utcnow
from scorm import sequencing
from scorm.sequencing.messages import NOT_POSSIBLE

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class NavDecision:
    """What a navigation request leads to, the refreshed menu, and the delivered item's session."""

    item: PlayerItem | None = None
    end: bool = False
    message: str | None = None
    error: str | None = None
    opened: OpenedAttempt | None = None
    session: ItemSession | None = None  # started when the caller named the learner


def _record_suspension(s: Session, tree: sequencing.ActivityTree, attempt_id: str, suspended: str | None) -> None:
    """A suspendAll suspended the SCO ``suspended``: its next session resumes its data.

    SCORM 2004 (RTE 4th ed. cmi.entry; ADL CTS DMB: ``cmi.exit=normal`` then ``suspendAll``
    relaunches with ``entry=resume`` and the suspend data) — suspendAll suspends the SCO's attempt
    whatever ``cmi.exit`` it wrote (``""``, ``normal``, or none before the player's Exit). The
    stored (write-only) ``cmi.exit`` becomes ``suspend``: it is what the session start reads to
    continue the attempt. Without this the relaunch delivered the right SCO through resumeAll but
    with ``entry=ab-initio`` and no location or suspend data.
    """
    if suspended is None or suspended not in tree.activities or not tree.activities[suspended].is_leaf:
        return  # a cluster was suspended (the SCO had already exited): nothing of a SCO to keep
    row = learners.sco_state(s, attempt_id, suspended)
    if row is None or row.cmi_version != "2004" or not row.state:
        return
    values = dict(row.state.get("values") or {})
    if values.get("cmi.exit") == "suspend":
        return
    values["cmi.exit"] = "suspend"
    row.state = {**row.state, "values": values}
    logger.info(
        "suspendAll suspended %s of attempt %s: its next session resumes",
        suspended,
        attempt_id,
        extra={"action": "runtime_suspend_all"},
    )


def _record_attempt_end(
    s: Session,
    tree: sequencing.ActivityTree,
    attempt_id: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> None:
    """Sequencing ended (not suspended) the attempt of the SCO that was current: its next session
    is a new attempt, even if it never wrote ``cmi.exit``.

    ``scorm.cmi.attempt_continues`` resumes a session whose SCO wrote no ``cmi.exit`` (a closed tab
    must not lose progress); once sequencing has ended that SCO's attempt (continue, choice,
    exit, exitAll...) the stored write-only ``cmi.exit`` becomes ``""`` (RTE 4th: a new attempt,
    ``entry=ab-initio``; ADL CTS DMB: Terminate without ``cmi.exit``, then a choice of the same
    SCO, relaunches it ab-initio). SCORM 1.2 keeps its data within the attempt: untouched.
    """
    leaf = before.get("current") if tree.standard == "scorm2004" else None
    if leaf is None or leaf not in tree.activities or not tree.activities[leaf].is_leaf:
        return
    was, now = before["activities"][leaf], after["activities"][leaf]
    ended = was["active"] and (not now["active"] or now["attempts"] != was["attempts"])
    if not ended or now["suspended"]:
        return
    row = learners.sco_state(s, attempt_id, leaf)
    if row is None or row.cmi_version != "2004" or not row.state:
        return
    values = dict(row.state.get("values") or {})
    if "cmi.exit" in values:
        return
    values["cmi.exit"] = ""
    row.state = {**row.state, "values": values}


def _refused(request: Any, target: Any) -> NavDecision | None:
    if not isinstance(request, str) or not request or len(request) > 300:
        return NavDecision(error="nav_invalid_request", message=NAVIGATION["nav_invalid_request"])
    if target is not None and (not isinstance(target, str) or len(target) > 255):
        return NavDecision(error="nav_invalid_target", message=NAVIGATION["nav_invalid_target"])
    return None


def navigate(
    services: Services, attempt_id: str, request: str, target: Any = None, *, learner_id: str | None = None
) -> NavDecision:
    """Run a navigation request through the SN engine (``scorm.sequencing``) for the attempt.

    ``request`` is a player request (``continue``, ``previous``, ``choice``, ``jump``, ``exit``,
    ``exitAll``, ``suspendAll``, ``abandon``, ``abandonAll``) or a raw ``adl.nav.request``
    value. A refused request changes nothing and answers the SN exception in plain words.
    With ``learner_id``, the delivered item's session is started for that learner (their name
    from their registration) in the same transaction.

    Raises:
        AttemptNotFound, AttemptClosed.
    """
    refused = _refused(request, target)
    if refused is not None:
        return refused
    with services.db.session() as s:
        attempt, version = store.active_attempt(s, attempt_id)
        reg = learners.registration_by_id(s, attempt.registration_id)
        if reg is None:  # pragma: no cover - FK
            raise AttemptNotFound()
        tree = activity_tree(services, version)
        if tree is None or not attempt.sequencing:
            return NavDecision(error="nav_unavailable", message=NAVIGATION["nav_unavailable"])
        try:
            result = sequencing.navigate(tree, attempt.sequencing, request, target)
        except sequencing.SequencingError as exc:
            return NavDecision(error=f"nav_{exc.code}", message=str(exc))
        if result.exception:
            return NavDecision(
                error="nav_refused",
                message=result.message or NOT_POSSIBLE,
                opened=opened_view(services, attempt, version, version.course.title, reg, resumed=True),
            )
        before = attempt.sequencing
        attempt.sequencing = dict(result.state)
        attempt.current_item = result.deliver
        learner_store.save_globals(s, attempt, tree)
        if sequencing.parse_nav_request(request, target).request == "suspendAll":
            _record_suspension(s, tree, attempt.id, result.state.get("suspended"))
        else:
            _record_attempt_end(s, tree, attempt.id, before, result.state)
        if tree.standard == "scorm2004":
            # ending an attempt (exit, the LMS-set status of SCOs that set none) rolls the course up
            roll_up(s, services, attempt, utcnow())
        opened = opened_view(services, attempt, version, version.course.title, reg, resumed=True)
        item = next((i for i in opened.items if i.id == result.deliver), None) if result.deliver else None
        session = None
        if item is not None and learner_id is not None:
            session = start_session(s, services, attempt, version, item.id, learner_id=learner_id, learner_name=None)
        return NavDecision(
            item=item, end=result.end or item is None, message=result.message, opened=opened, session=session
        )
