"""Learner progress tables (``learner_registrations``, ``attempts``, ``sco_states``): their store in
the shared core.

The runtime writes them; the class report, grade delivery, the platform gate, privacy and the CLI
read them. Only this module builds queries on them (docs/ARCHITECTURE.md, "Storage boundary"; the
runtime's own queries move here as the runtime is reworked).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, Row, Text, bindparam, case, func, select, type_coerce, update
from sqlalchemy.orm import Session

from lti_tool.storage import documents
from lti_tool.storage.db import Database, driver_errors, run_prepared
from lti_tool.storage.models import Attempt, AttemptStatus, LearnerRegistration, ScoState, utcnow

if TYPE_CHECKING:
    from lti_tool.audit import Actor


class ActivityLearner(NamedTuple):
    """One learner registration of an activity, its newest attempt (None: never started) and how
    many attempts it has."""

    registration: LearnerRegistration
    newest_attempt: Attempt | None
    attempts: int


def _with_newest_attempt(*where: Any) -> Any:
    """Registrations matching ``where``, each with its newest attempt (or None) and attempt count."""
    newest = (
        select(Attempt.registration_id, func.max(Attempt.number).label("number"), func.count().label("n"))
        .group_by(Attempt.registration_id)
        .subquery()
    )
    return (
        select(LearnerRegistration, Attempt, newest.c.n)
        .join(newest, newest.c.registration_id == LearnerRegistration.id, isouter=True)
        .join(
            Attempt,
            (Attempt.registration_id == LearnerRegistration.id) & (Attempt.number == newest.c.number),
            isouter=True,
        )
        .where(*where)
    )


def activity_learners(
    db: Database, *, platform_id: int, deployment_id: str, resource_link_id: str
) -> list[ActivityLearner]:
    """Every learner (not instructor) registration of one activity of one tenant, in one query."""
    query = _with_newest_attempt(
        LearnerRegistration.platform_id == platform_id,
        LearnerRegistration.deployment_id == deployment_id,
        LearnerRegistration.resource_link_id == resource_link_id,
        LearnerRegistration.is_learner.is_(True),
    )
    with db.session() as s:
        rows = s.execute(query).all()
    return [ActivityLearner(reg, attempt, int(count or 0)) for reg, attempt, count in rows]


def course_registrations(s: Session, course_id: int) -> Sequence[LearnerRegistration]:
    """Every registration (any platform, any activity) on one catalogue course, in the caller's session."""
    return s.scalars(select(LearnerRegistration).where(LearnerRegistration.course_id == course_id)).all()


_ATTEMPT_PLATFORM = (
    select(LearnerRegistration.platform_id)
    .join(Attempt, Attempt.registration_id == LearnerRegistration.id)
    .where(Attempt.id == bindparam("b_id"))
)


def attempt_platform_id(db: Database, attempt_id: str) -> int | None:
    """The platform of an attempt (None: no such attempt); the platform gate's lookup (one prebuilt statement)."""
    with db.engine.connect() as conn:
        owner = conn.execute(_ATTEMPT_PLATFORM, {"b_id": attempt_id}).scalar()
    return None if owner is None else int(owner)


# -- read models of the operator console and the class/learner pages -----------------------------
# Grouped queries only (one per figure, whatever the number of learners); the aggregation that
# turns the rows into a report stays with the report (``lti.academies``, ``regional``,
# ``catalogue_usage``, ``class_insights``, ``learner_home``).


class PlatformUsage(NamedTuple):
    """One platform's use: distinct learners (learner role), distinct activities, attempts."""

    learners: int
    activities: int
    attempts: int


def usage_by_platform(s: Session) -> dict[int, PlatformUsage]:
    """Every platform's use, in three grouped queries in the caller's session (no row: never used)."""
    learners = dict(
        s.execute(
            select(LearnerRegistration.platform_id, func.count(func.distinct(LearnerRegistration.learner_sub)))
            .where(LearnerRegistration.is_learner.is_(True))
            .group_by(LearnerRegistration.platform_id)
        ).all()
    )
    links = (
        select(LearnerRegistration.platform_id, LearnerRegistration.deployment_id, LearnerRegistration.resource_link_id)
        .distinct()
        .subquery()
    )
    activities = dict(s.execute(select(links.c.platform_id, func.count()).group_by(links.c.platform_id)).all())
    attempts = dict(
        s.execute(
            select(LearnerRegistration.platform_id, func.count(Attempt.id))
            .join(Attempt, Attempt.registration_id == LearnerRegistration.id)
            .group_by(LearnerRegistration.platform_id)
        ).all()
    )
    return {
        pid: PlatformUsage(int(learners.get(pid, 0)), int(activities.get(pid, 0)), int(attempts.get(pid, 0)))
        for pid in {*learners, *activities, *attempts}
    }


def enrolment_attempts(db: Database, platform_id: int | None) -> Iterator[Row[Any]]:
    """Every learner-role registration (of one platform, or all) joined to its attempts, ordered by
    registration, streamed (``registration_id, platform_id, course_id, learner_sub, outcome,
    completed_at, outcome_at``; the attempt columns are None for a registration without attempts)."""
    query = (
        select(
            LearnerRegistration.id,
            LearnerRegistration.platform_id,
            LearnerRegistration.course_id,
            LearnerRegistration.learner_sub,
            Attempt.outcome,
            Attempt.completed_at,
            Attempt.outcome_at,
        )
        .join(Attempt, Attempt.registration_id == LearnerRegistration.id, isouter=True)
        .where(LearnerRegistration.is_learner.is_(True))
        .order_by(LearnerRegistration.id)
    )
    if platform_id is not None:
        query = query.where(LearnerRegistration.platform_id == platform_id)
    with db.session() as s:
        yield from s.execute(query).yield_per(2000)


def course_version_usage(s: Session, course_id: int) -> list[Row[Any]]:
    """Per (course version, platform) of one course: distinct activities, attempts, active attempts
    (``course_version_id, platform_id, activities, attempts, active``), one grouped query."""
    return list(
        s.execute(
            select(
                Attempt.course_version_id,
                LearnerRegistration.platform_id,
                func.count(func.distinct(LearnerRegistration.resource_link_id)),
                func.count(Attempt.id),
                func.sum(case((Attempt.status == "active", 1), else_=0)),
            )
            .join(LearnerRegistration, LearnerRegistration.id == Attempt.registration_id)
            .where(LearnerRegistration.course_id == course_id)
            .group_by(Attempt.course_version_id, LearnerRegistration.platform_id)
        ).all()
    )


def course_activity_count(s: Session, course_id: int, *, exclude_platforms: Sequence[int] = ()) -> int:
    """How many activities (platform, deployment, resource link) use one course (not counting
    ``exclude_platforms``' activities)."""
    links = (
        select(LearnerRegistration.platform_id, LearnerRegistration.deployment_id, LearnerRegistration.resource_link_id)
        .where(
            LearnerRegistration.course_id == course_id,
            LearnerRegistration.platform_id.not_in(list(exclude_platforms)),
        )
        .distinct()
        .subquery()
    )
    return int(s.scalar(select(func.count()).select_from(links)) or 0)


def newest_attempt_sco_states(
    db: Database, *, platform_id: int, deployment_id: str, resource_link_id: str
) -> list[tuple[str, Any]]:
    """``(item id, state document)`` of every SCO state of each learner's newest attempt of one activity."""
    newest = (
        select(Attempt.registration_id, func.max(Attempt.number).label("number"))
        .join(LearnerRegistration, LearnerRegistration.id == Attempt.registration_id)
        .where(
            LearnerRegistration.platform_id == platform_id,
            LearnerRegistration.deployment_id == deployment_id,
            LearnerRegistration.resource_link_id == resource_link_id,
            LearnerRegistration.is_learner.is_(True),
        )
        .group_by(Attempt.registration_id)
        .subquery()
    )
    query = (
        select(ScoState.item_id, ScoState.state)
        .join(Attempt, Attempt.id == ScoState.attempt_id)
        .join(
            newest,
            (newest.c.registration_id == Attempt.registration_id) & (newest.c.number == Attempt.number),
        )
    )
    with db.session() as s:
        return [(item_id, state) for item_id, state in s.execute(query).all()]


def context_learner_activities(
    s: Session, *, platform_id: int, deployment_id: str, context_id: str, learner_sub: str
) -> list[ActivityLearner]:
    """One learner's registrations in one LMS course (context) of one tenant, each with its newest
    attempt and attempt count, in one query in the caller's session."""
    query = _with_newest_attempt(
        LearnerRegistration.platform_id == platform_id,
        LearnerRegistration.deployment_id == deployment_id,
        LearnerRegistration.context_id == context_id,
        LearnerRegistration.learner_sub == learner_sub,
    )
    return [ActivityLearner(reg, attempt, int(count or 0)) for reg, attempt, count in s.execute(query).all()]


def attempt_is_active(db: Database, attempt_id: str) -> bool:
    """Whether attempt ``attempt_id`` exists and is still running (the player can reopen it)."""
    with db.session() as s:
        status = s.scalar(select(Attempt.status).where(Attempt.id == attempt_id))
    return status == AttemptStatus.ACTIVE.value


def abandon_newest_attempt(
    db: Database,
    *,
    platform_id: int,
    deployment_id: str,
    resource_link_id: str,
    learner_sub: str,
    actor: Actor | None,
) -> bool | None:
    """End a learner's newest attempt on one activity of one tenant, kept in history as ``abandoned``.

    The learner's next launch then starts a new attempt (the next number): an instructor's
    "reset". Audited as ``attempts.reset`` in the same transaction.

    Returns:
        True when an attempt was ended; False when the newest attempt was abandoned already
        (nothing to do); None when the learner has no attempt on this activity.
    """
    from lti_tool.audit import record_as  # the audit log imports the storage package

    with db.session() as s:
        attempt = s.scalars(
            select(Attempt)
            .join(LearnerRegistration, LearnerRegistration.id == Attempt.registration_id)
            .where(
                LearnerRegistration.platform_id == platform_id,
                LearnerRegistration.deployment_id == deployment_id,
                LearnerRegistration.resource_link_id == resource_link_id,
                LearnerRegistration.learner_sub == learner_sub,
            )
            .order_by(Attempt.number.desc())
            .limit(1)
        ).first()
        if attempt is None:
            return None
        if attempt.status == AttemptStatus.ABANDONED.value:
            return False
        previous = attempt.status
        attempt.status = AttemptStatus.ABANDONED.value
        attempt.completed_at = attempt.completed_at or utcnow()
        record_as(
            s,
            actor,
            "attempts.reset",
            params={"deployment_id": deployment_id, "resource_link_id": resource_link_id, "sub": learner_sub,
                    "attempt": attempt.number, "was": previous},
            platform_id=platform_id,
        )  # fmt: skip
        return True

def attempt_by_id(s: Session, attempt_id: str) -> Attempt | None:
    """One attempt, any status (the cmi5 LRS hook: an AU session's attempt)."""
    return s.get(Attempt, attempt_id)


def registration_by_id(s: Session, registration_id: int) -> LearnerRegistration | None:
    """One learner registration (erased: None)."""
    return s.get(LearnerRegistration, registration_id)


# The attempt aggregate's rows, for the runtime (lti_tool/runtime/): it creates and changes them
# with ORM objects in its own transactions; the statements and constructors live here, with the
# tables' other queries.

_REGISTRATION = select(LearnerRegistration).where(
    LearnerRegistration.platform_id == bindparam("platform_id"),
    LearnerRegistration.deployment_id == bindparam("deployment_id"),
    LearnerRegistration.resource_link_id == bindparam("resource_link_id"),
    LearnerRegistration.learner_sub == bindparam("learner_sub"),
)
_LAST_ATTEMPT = (
    select(Attempt)
    .where(Attempt.registration_id == bindparam("registration_id"))
    .order_by(Attempt.number.desc())
    .limit(1)
)
_COMMIT_READ = (
    select(
        type_coerce(ScoState.state, Text),
        ScoState.seq,
        ScoState.cmi_version,
        ScoState.session_open,
        ScoState.last_commit_id,
        type_coerce(ScoState.outcome, Text),
        Attempt.status,
        type_coerce(Attempt.outcome, Text),
    )
    .join(Attempt, Attempt.id == ScoState.attempt_id)
    .where(ScoState.attempt_id == bindparam("attempt_id"), ScoState.item_id == bindparam("item_id"))
)


def registration(
    s: Session, *, platform_id: int, deployment_id: str, resource_link_id: str, learner_sub: str
) -> LearnerRegistration | None:
    """The learner's registration on one resource link, if any."""
    params = {
        "platform_id": platform_id,
        "deployment_id": deployment_id,
        "resource_link_id": resource_link_id,
        "learner_sub": learner_sub,
    }
    return s.scalars(_REGISTRATION, params).first()


def new_registration(**values: Any) -> LearnerRegistration:
    """A new registration row, not yet added to a session."""
    return LearnerRegistration(**values)


def last_attempt(s: Session, registration_id: int) -> Attempt | None:
    """The registration's attempt with the highest number."""
    return s.scalars(_LAST_ATTEMPT, {"registration_id": registration_id}).first()


def new_attempt(**values: Any) -> Attempt:
    """A new attempt row, not yet added to a session."""
    return Attempt(**values)


def sco_state(s: Session, attempt_id: str, item_id: str) -> ScoState | None:
    """One item's stored state in an attempt, by primary key."""
    return s.get(ScoState, (attempt_id, item_id))


def new_sco_state(**values: Any) -> ScoState:
    """A new SCO state row, not yet added to a session."""
    return ScoState(**values)


_SCO_STATES = ScoState.__table__
_COMMIT_WRITE = (
    update(_SCO_STATES)
    .where(
        _SCO_STATES.c.attempt_id == bindparam("w_attempt_id"),
        _SCO_STATES.c.item_id == bindparam("w_item_id"),
        _SCO_STATES.c.seq == bindparam("read_seq"),
    )
    .values(
        state=bindparam("state", type_=_SCO_STATES.c.state.type),
        seq=bindparam("seq"),
        outcome=bindparam("outcome", type_=_SCO_STATES.c.outcome.type),
        session_open=bindparam("session_open"),
        last_commit_id=bindparam("last_commit_id"),
        updated_at=bindparam("updated_at", type_=_SCO_STATES.c.updated_at.type),
    )
)
# The commit's two statements on PostgreSQL, run under the SQLAlchemy connection (same connection,
# same transaction or autocommit): SQLAlchemy's execution of a Core statement (compiled cache,
# execution context, result wrapping, bind processors) cost about as much CPU as the rest of a
# commit's SQL. On the autocommit connection both are libpq's own prepared statements
# (``db.run_prepared``); inside a unit of work (a commit that reaches sequencing) the write runs on
# the psycopg cursor. Same columns, same guard and the same JSON documents as _COMMIT_READ and
# _COMMIT_WRITE (SQLite keeps those); the documents travel as text, decoded and encoded by
# ``storage.documents`` (orjson).
_PG_COMMIT_READ = (
    "SELECT s.state::text, s.seq, s.cmi_version, s.session_open, s.last_commit_id, s.outcome::text, a.status,"
    " a.outcome::text FROM sco_states s JOIN attempts a ON a.id = s.attempt_id"
    " WHERE s.attempt_id = $1 AND s.item_id = $2"
)
_PG_COMMIT_WRITE = (
    "UPDATE sco_states SET state = %s, seq = %s, outcome = %s, session_open = %s, last_commit_id = %s,"
    " updated_at = %s WHERE attempt_id = %s AND item_id = %s AND seq = %s"
)


def _numbered(statement: str) -> str:
    """``statement`` with libpq's ``$1``, ``$2``… in place of psycopg's ``%s`` placeholders."""
    count = itertools.count(1)
    return re.sub("%s", lambda _: f"${next(count)}", statement)


# The write as libpq's own prepared statement (``db.run_prepared``), on an autocommit connection; the
# read is only ever that (``commit_row``), so it is written with libpq's placeholders above.
_PQ_COMMIT_WRITE = _numbered(_PG_COMMIT_WRITE)
COMMIT_COLUMNS = frozenset(("state", "seq", "outcome", "session_open", "last_commit_id", "updated_at"))


class CommitRow(NamedTuple):
    """What a commit reads: one SCO's state joined with its attempt's status and outcome."""

    state: Any
    seq: int
    cmi_version: str
    session_open: bool
    last_commit_id: str | None
    outcome: Any
    status: str
    attempt_outcome: Any


def _document(text: str | bytes | None) -> Any:
    return None if text is None else documents.loads(text)


def _commit_row(found: Sequence[Any] | None) -> CommitRow | None:
    if found is None:
        return None
    state, seq, cmi_version, session_open, last_commit_id, outcome, status, attempt_outcome = found
    return CommitRow(
        _document(state),
        seq,
        cmi_version,
        session_open,
        last_commit_id,
        _document(outcome),
        status,
        _document(attempt_outcome),
    )


def commit_row(conn: Connection, attempt_id: str, item_id: str) -> CommitRow | None:
    """One SCO's state joined with its attempt's status and outcome (the commit's only read).

    ``conn`` is ``Database.autocommit``'s connection. On SQLite a Core statement: the ORM's
    per-statement work (compile state, identity map) buys nothing for a row of plain columns on
    the hot path. On PostgreSQL libpq's own prepared statement (``db.run_prepared``, which refuses
    a connection inside a transaction), see _PG_COMMIT_READ.
    """
    if conn.dialect.name == "postgresql":
        params = (attempt_id, item_id)
        with driver_errors(conn, _PG_COMMIT_READ, params):
            result = run_prepared(conn, b"cbsi_commit_read", _PG_COMMIT_READ, params)
        return _pq_commit_row(result) if result.ntuples else None
    return _commit_row(conn.execute(_COMMIT_READ, {"attempt_id": attempt_id, "item_id": item_id}).first())


def _autocommitting(conn: Connection) -> bool:
    """``conn`` is ``Database.autocommit``'s: libpq's own calls serve it (``db.run_prepared``)."""
    return bool(conn.connection.driver_connection.autocommit)


def _pq_commit_row(result: Any) -> CommitRow:
    """The read's row from libpq's text result (bytes, or None for NULL)."""
    value = result.get_value
    last_commit_id = value(0, 4)
    return CommitRow(
        _document(value(0, 0)),
        int(value(0, 1)),
        value(0, 2).decode(),
        value(0, 3) == b"t",
        None if last_commit_id is None else last_commit_id.decode(),
        _document(value(0, 5)),
        value(0, 6).decode(),
        _document(value(0, 7)),
    )


def write_commit(conn: Connection, attempt_id: str, item_id: str, read_seq: int, values: Mapping[str, Any]) -> bool:
    """Store a SCO's new state if its ``seq`` is still ``read_seq``; False when another commit won.

    ``values`` holds exactly :data:`COMMIT_COLUMNS`. One prebuilt Core UPDATE on ``conn`` (the
    seq guard is its WHERE clause, so it is safe outside a transaction too); no ORM object is
    loaded or synchronised.
    """
    if conn.dialect.name == "postgresql":
        params = (
            documents.dumps(values["state"]),
            values["seq"],
            documents.dumps(values["outcome"]),
            values["session_open"],
            values["last_commit_id"],
            values["updated_at"],
            attempt_id,
            item_id,
            read_seq,
        )
        with driver_errors(conn, _PG_COMMIT_WRITE, params):
            if _autocommitting(conn):
                return run_prepared(conn, b"cbsi_commit_write", _PQ_COMMIT_WRITE, params).command_tuples == 1
            with conn.connection.driver_connection.cursor() as cur:
                return bool(cur.execute(_PG_COMMIT_WRITE, params).rowcount == 1)
    params = {**values, "w_attempt_id": attempt_id, "w_item_id": item_id, "read_seq": read_seq}
    done = conn.execute(_COMMIT_WRITE, params)
    return bool(done.rowcount == 1)


def item_outcomes(s: Session, attempt_id: str) -> dict[str, dict[str, Any]]:
    """The stored outcome of each started item of an attempt, by item id."""
    rows = s.execute(select(ScoState.item_id, ScoState.outcome).where(ScoState.attempt_id == attempt_id)).all()
    return {item_id: outcome for item_id, outcome in rows}
