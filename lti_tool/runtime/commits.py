"""Commits: the server side of the SCORM runtime's CommitQueue (DESIGN.md §3, §5.5, §5.6).

Each commit is one transaction: the item's delivery applies the values (for a SCO
``scorm.cmi.apply_commit`` re-validates them) and derives the item's outcome; when what is
graded (or the SCO's objectives) changed, sequencing hears of it, the attempt's outcome is rolled
up, the outcome listeners run (the grade outbox), and the reply carries the refreshed
menu — all inside that same transaction.

Concurrency: a commit is applied with a conditional ``UPDATE ... WHERE seq = <seq read>``, so
two commits racing for one SCO can never both win; the loser gets ``stale_seq`` (409) and the
browser resends with the next number. That works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lti_tool.outcome_events import OutcomeChanged
from lti_tool.runtime import learner_store, store
from lti_tool.runtime.attempts import OpenedAttempt, reopened_view
from lti_tool.runtime.deliveries import CommitInput, Committed, deliveries
from lti_tool.runtime.errors import AttemptClosed, AttemptNotFound, InvalidCommit, ItemNotFound, StaleCommit
from lti_tool.runtime.structure import ASSET, activity_tree, player_items
from lti_tool.services import Services
from lti_tool.storage import courses as course_store
from lti_tool.storage import learners
from lti_tool.storage.models import AttemptStatus, utcnow
from scorm import sequencing
from scorm.cmi import rollup_outcomes
from scorm.outcome import Completion, Outcome

if TYPE_CHECKING:
    from lti_tool.storage.models import Attempt, CourseVersion

logger = logging.getLogger(__name__)

MAX_CHANGES = 5000


@dataclass(frozen=True, kw_only=True)
class CommitReply:
    """What the commit endpoint answers.

    ``menu``: when the commit reached sequencing (``sequencing_changed``) in a course of several
    items, the attempt's player view rebuilt in the commit's own transaction (a passed SCO can
    enable items and Continue).
    """

    seq: int
    stored: int
    rejected: tuple[dict[str, Any], ...]
    outcome: dict[str, Any]
    attempt_outcome: dict[str, Any]
    replayed: bool = False
    sequencing_changed: bool = False  # the SCO's data reached sequencing: the menu may change
    menu: OpenedAttempt | None = None


@dataclass(frozen=True, kw_only=True)
class CommitBody:
    """A commit request, checked."""

    seq: int
    commit_id: str | None
    changes: dict[str, Any]
    terminate: bool
    asset_completed: bool
    unloaded: bool


def parse_body(body: Mapping[str, Any]) -> CommitBody:
    """The commit request's fields (see runtime.js COMMIT CONTRACT).

    Raises:
        InvalidCommit: a field is missing or malformed.
    """
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidCommit("'seq' must be a positive whole number")
    commit_id = body.get("id")
    # printable: a NUL or a lone surrogate (JSON's "\ud800") fits no database column (PostgreSQL
    # refused it with a 500); the player's ids are short ASCII
    if commit_id is not None and (not isinstance(commit_id, str) or len(commit_id) > 64 or not commit_id.isprintable()):
        raise InvalidCommit("'id' must be a string of at most 64 printable characters")
    changes = body.get("changes", {})
    if not isinstance(changes, dict):
        raise InvalidCommit("'changes' must be an object of element → value")
    if len(changes) > MAX_CHANGES:
        raise InvalidCommit(f"a commit may carry at most {MAX_CHANGES} values")
    for key, value in changes.items():
        # a string value, the common case, is one type check (a commit of a whole model has ~170)
        if not isinstance(key, str) or (
            type(value) is not str and (not isinstance(value, str | int | float) or isinstance(value, bool))
        ):
            raise InvalidCommit("every change must be an element name with a string or number value")
    terminate = body.get("terminate", False)
    asset_completed = body.get("asset_completed", False)
    if not isinstance(terminate, bool) or not isinstance(asset_completed, bool):
        raise InvalidCommit("'terminate' and 'asset_completed' must be true or false")
    return CommitBody(
        seq=seq,
        commit_id=commit_id,
        changes=changes,
        terminate=terminate,
        asset_completed=asset_completed,
        unloaded=body.get("unloaded") is True,
    )


def commit(services: Services, attempt_id: str, item_id: str, body: Mapping[str, Any]) -> CommitReply:
    """Apply one commit from the player (already authenticated for ``attempt_id``).

    The hot path is two statements, each its own transaction (``Database.autocommit``: on
    PostgreSQL two round trips, no BEGIN/COMMIT): one read of the SCO's state joined with its
    attempt, one UPDATE guarded by the ``seq`` read (another commit in between makes it match no
    row: ``stale_seq``). Only when the commit reaches further (the SCO's graded outcome or
    objectives changed, the session ended, or an ``adl.data`` store was written) are the UPDATE
    and everything it entails (sequencing report, attempt rollup, outcome listeners, shared data,
    the refreshed menu) one transaction.

    Raises:
        InvalidCommit: malformed body (nothing stored).
        StaleCommit: ``seq`` not newer than the stored one (nothing stored).
        AttemptNotFound, AttemptClosed, ItemNotFound.
    """
    request = parse_body(body)
    now = utcnow()
    for _ in range(WRITE_TRIES):
        reply = _commit_once(services, attempt_id, item_id, request, now)
        if reply is not None:
            return reply
    raise StaleCommit(request.seq + 1)


#: How often a commit is applied again when another commit of the same SCO was stored between
#: its read and its guarded write (two page-exit commits of one tab arrive together): the newer
#: ``seq`` is re-read and re-judged, never refused for a race it did not lose.
WRITE_TRIES = 4


def _commit_once(
    services: Services, attempt_id: str, item_id: str, request: CommitBody, now: datetime
) -> CommitReply | None:
    """One read-apply-write of :func:`commit`; ``None`` when another commit won the guarded write."""
    with services.db.autocommit() as conn:
        row = store.commit_row(conn, attempt_id, item_id)
        if row is None:
            with services.db.session() as s:
                if learners.attempt_by_id(s, attempt_id) is None:
                    raise AttemptNotFound()
            raise ItemNotFound("this part of the course was not started in this attempt; reload the player")
        if row.status != AttemptStatus.ACTIVE:
            raise AttemptClosed()
        if request.seq <= row.seq:
            if request.commit_id is not None and request.commit_id == row.last_commit_id:
                return CommitReply(
                    seq=row.seq,
                    stored=0,
                    rejected=(),
                    outcome=row.outcome,
                    attempt_outcome=row.attempt_outcome,
                    replayed=True,
                )
            raise StaleCommit(row.seq + 1)
        done = _apply(services, row, request)
        if done.rejected:
            logger.warning(
                "content defect in attempt %s item %s: %d value(s) refused (%s)",
                attempt_id,
                item_id,
                len(done.rejected),
                ", ".join(f"{r['element']}→{r['code']}" for r in done.rejected[:5]),
                extra={"action": "runtime_values_refused"},
            )
        outcome = done.outcome.to_json() if done.outcome is not None else {}
        values = {
            "state": done.state,
            "seq": request.seq,
            "outcome": outcome,
            "session_open": done.session_open,
            "last_commit_id": request.commit_id,
            "updated_at": now,
        }
        # Session time moves on every commit; only a change in what is graded or in the SCO's
        # objectives (or the end of a session) is worth the sequencing report and the attempt
        # rollup. An objective written alone can enable the next activity (a post test whose
        # precondition reads it): the player's Continue must learn it now, not at Terminate.
        tracked = request.terminate or done.objectives_changed or graded(outcome) != graded(row.outcome)
        reply = CommitReply(
            seq=request.seq,
            stored=done.stored,
            rejected=done.rejected,
            outcome=outcome,
            attempt_outcome=row.attempt_outcome,
            sequencing_changed=tracked,
        )
        if not tracked and not learner_store.writes_shared_data(done.stored_elements):
            if not store.write_commit(conn, attempt_id, item_id, row.seq, values):
                return None
            return reply
    with services.db.session() as s:
        if not store.write_commit(s.connection(), attempt_id, item_id, row.seq, values):
            return None
        learner_store.save_shared_data(s, services, attempt_id, done.state, done.stored_elements)
        if not tracked:
            return reply
        attempt, version = _track(
            s, services, attempt_id, item_id, row.cmi_version, done.state, terminated=request.terminate
        )
        return dataclasses.replace(
            reply,
            attempt_outcome=roll_up(s, services, attempt, now, version=version, known={item_id: outcome}),
            menu=_menu(s, services, attempt, version),
        )


def _apply(services: Services, row: Any, request: CommitBody) -> Committed:
    """The item's delivery applies the commit (``Delivery.commit``: state and outcome)."""
    delivery = deliveries(services).for_stored(row.cmi_version)
    assert delivery.commit is not None  # for_stored answers playable deliveries only
    return delivery.commit(
        CommitInput(
            state=row.state,
            stored_as=row.cmi_version,
            changes=request.changes,
            session_open=row.session_open,
            terminate=request.terminate,
            unloaded=request.unloaded,
            asset_completed=request.asset_completed,
            previous_outcome=row.outcome,
        )
    )


def _menu(s: Session, services: Services, attempt: Attempt, version: CourseVersion | None) -> OpenedAttempt | None:
    """The refreshed player view for the commit's reply (read in the commit's transaction).

    ``version``: the attempt's course version, read once by :func:`_track` (the session's identity
    map holds rows weakly: one read again when its last reference went would be queried again).
    None for a course of one item: its player shows no menu and no buttons.
    """
    if version is None or len(player_items(version)) <= 1:
        return None
    return reopened_view(s, services, attempt, version)


def _track(
    s: Session,
    services: Services,
    attempt_id: str,
    item_id: str,
    stored_as: str,
    state: Mapping[str, Any],
    *,
    terminated: bool,
) -> tuple[Attempt, CourseVersion | None]:
    """Report a SCO's (or asset's) data to the attempt's sequencing state, same transaction.

    Returns the attempt and its course version (for the rollup and the menu).
    """
    attempt = learners.attempt_by_id(s, attempt_id)
    if attempt is None:  # pragma: no cover - read with the SCO's row in this transaction
        raise AttemptNotFound()
    version = course_store.version_by_id(s, attempt.course_version_id)
    if version is None or not attempt.sequencing:
        return attempt, version
    tree = activity_tree(services, version)
    if tree is None or item_id not in tree.activities:
        return attempt, version
    if stored_as == ASSET:
        attempt.sequencing = dict(
            sequencing.report_sco_outcome(tree, attempt.sequencing, item_id, completion="completed", attempt_ended=True)
        )
    else:
        attempt.sequencing = dict(
            sequencing.report_cmi_state(tree, attempt.sequencing, item_id, state, terminated=terminated)
        )
    learner_store.save_globals(s, attempt, tree)
    return attempt, version


def graded(outcome: Mapping[str, Any]) -> dict[str, Any]:
    """An outcome without its time, which changes on every commit."""
    return {k: v for k, v in outcome.items() if k != "total_time_seconds"}


def _sequenced(services: Services, version: CourseVersion, attempt: Attempt, rolled: Outcome) -> Outcome:
    """A SCORM 2004 attempt's completion/success/score from its sequencing root (issue 13)."""
    if not deliveries(services).for_course(version.standard).rolls_up_by_sequencing or not attempt.sequencing:
        return rolled
    tree = activity_tree(services, version)
    if tree is None:
        return rolled
    seq = sequencing.course_outcome(tree, attempt.sequencing)
    found = {k: v for k, v in seq.items() if v is not None or k in ("completion", "success")}
    return Outcome.from_json({**rolled.to_json(), **found})


def roll_up(
    s: Session,
    services: Services,
    attempt: Attempt,
    now: datetime,
    *,
    version: CourseVersion | None = None,
    known: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Recompute the attempt's outcome; on change store it and tell the outcome listeners.

    ``version``: the attempt's course version when the caller read it already (else read here).
    ``known``: item outcomes the caller has just stored in this transaction (a commit's item):
    when they are every item's (a course of one SCO), nothing is read back.
    """
    if version is None:
        version = course_store.version_by_id(s, attempt.course_version_id)
    items = tuple(i.id for i in player_items(version)) if version is not None else ()
    if known is not None and all(item in known for item in items):
        stored = dict(known)
    else:
        # the attempt's pending changes (its sequencing state) are flushed once, with its outcome
        # below, not before this read of the items' rows, which they do not touch
        with s.no_autoflush:
            stored = store.item_outcomes(s, attempt.id)
    rolled = rollup_outcomes(
        [Outcome.from_json(stored.get(item, {}), default=Completion.NOT_ATTEMPTED) for item in items]
    )
    if version is not None:
        rolled = _sequenced(services, version, attempt, rolled)
    return store_outcome(s, services, attempt, rolled, now)


def store_outcome(s: Session, services: Services, attempt: Attempt, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """Store the attempt's outcome (every delivery's); on a graded change tell the outcome listeners.

    A change of the total time alone is stored without telling anyone. Returns the stored form.
    """
    as_json = outcome.to_json()
    previous = attempt.outcome or {}
    if graded(previous) == graded(as_json):
        if previous.get("total_time_seconds") != as_json.get("total_time_seconds"):
            attempt.outcome = as_json
        return as_json
    attempt.outcome = as_json
    attempt.outcome_at = now
    reg = learners.registration_by_id(s, attempt.registration_id)
    event = OutcomeChanged(session=s, registration=reg, attempt=attempt, outcome=outcome, changed_at=now)
    for listener in services.outcome_listeners:
        listener.outcome_changed(event)
    return as_json
