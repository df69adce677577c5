"""The learner data registry: every table holding data about a learner, and how to find one
learner's rows in it; the errors, the learner lookup and the audit of refusals shared by
:mod:`~lti_tool.privacy.erasure` and :mod:`~lti_tool.privacy.export`.

A learner is identified by (platform, ``sub``): the same ``sub`` on two platforms is two people.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from lti_tool import audit
from lti_tool.lrs.identity import learner_agent_key, learner_tenant
from lti_tool.storage import Database
from lti_tool.storage.models import (
    Attempt,
    Base,
    Cmi5AuRecord,
    Cmi5AuSession,
    GradeOutbox,
    LaunchState,
    LearnerRegistration,
    LearnerSharedState,
    LrsCredential,
    LrsDocument,
    LrsForwardDead,
    LrsStatement,
    LrsStatementActivity,
    LrsStatementAgent,
    LtiLaunch,
    Platform,
    RosterCache,
    ScoState,
)

MAX_SUB_LENGTH = 255
ACTION_EXPORT = "learners.export"
ACTION_ERASE = "learners.erase"
UNDELIVERED = ("pending", "in_flight", "dead")


class PrivacyError(Exception):
    """A data lifecycle request was refused."""

    code = "privacy_error"


class UnknownPlatform(PrivacyError):
    """No platform has this id."""

    code = "unknown_platform"


class UnknownLearner(PrivacyError):
    """Nothing is held about this learner on this platform."""

    code = "unknown_learner"


class InvalidLearner(PrivacyError):
    """The learner id is empty or longer than any stored ``sub``."""

    code = "invalid_learner"


@dataclass(frozen=True, kw_only=True)
class Learner:
    """One learner of one platform (the platform's issuer/client id are needed by login rows)."""

    platform_id: int
    issuer: str
    client_id: str
    sub: str


# -- the registry ------------------------------------------------------------------------------


def _registration_ids(learner: Learner) -> Any:
    return select(LearnerRegistration.id).where(
        LearnerRegistration.platform_id == learner.platform_id, LearnerRegistration.learner_sub == learner.sub
    )


def _lrs_owned(model: type[LrsDocument] | type[LrsCredential], learner: Learner) -> ColumnElement[bool]:
    """Rows of an LRS table that belong to the learner (their platform's tenant, their agent)."""
    return and_(
        model.tenant == learner_tenant(learner.platform_id),
        model.agent_key == learner_agent_key(learner.issuer, learner.sub),
    )


def _lrs_statement_seqs(learner: Learner) -> Any:
    """The learner's own xAPI statements (actor or object) in their platform's LRS tenant."""
    return (
        select(LrsStatementAgent.seq)
        .join(LrsStatement, LrsStatement.seq == LrsStatementAgent.seq)
        .where(
            LrsStatement.tenant == learner_tenant(learner.platform_id),
            LrsStatementAgent.agent_key == learner_agent_key(learner.issuer, learner.sub),
            LrsStatementAgent.direct.is_(True),
        )
        .scalar_subquery()
    )


def _attempt_ids(learner: Learner) -> Any:
    return select(Attempt.id).where(Attempt.registration_id.in_(_registration_ids(learner)))


def _names_learner(row: Mapping[str, Any], learner: Learner) -> bool:
    members = row.get("members") or []
    return any(isinstance(m, Mapping) and str(m.get("user_id")) == learner.sub for m in members)


@dataclass(frozen=True, kw_only=True)
class LearnerTable:
    """A table holding learner data, and how to find one learner's rows in it.

    Attributes:
        table: the table name (``Base.metadata.tables`` key).
        where: the SQL condition selecting the learner's rows (on that platform only).
        refine: for rows the SQL can only narrow (JSON documents): a row predicate run in Python
            over the rows ``where`` selected; only those are deleted (by primary key).
        note: what the table holds, shown in the erasure report when useful.
    """

    table: str
    where: Callable[[Learner], ColumnElement[bool]]
    refine: Callable[[Mapping[str, Any], Learner], bool] | None = None
    note: str = ""


#: Every table holding learner data, children before parents (erasure deletes in this order).
LEARNER_TABLES: tuple[LearnerTable, ...] = (
    LearnerTable(
        table="cmi5_au_sessions",
        where=lambda k: Cmi5AuSession.attempt_id.in_(_attempt_ids(k)),
        note="the learner's cmi5 AU sessions",
    ),
    LearnerTable(
        table="cmi5_au_records",
        where=lambda k: Cmi5AuRecord.attempt_id.in_(_attempt_ids(k)),
        note="what the learner achieved in each cmi5 AU, block and course",
    ),
    LearnerTable(table="sco_states", where=lambda k: ScoState.attempt_id.in_(_attempt_ids(k))),
    LearnerTable(table="attempts", where=lambda k: Attempt.registration_id.in_(_registration_ids(k))),
    LearnerTable(
        table="learner_shared_state",
        where=lambda k: and_(
            LearnerSharedState.platform_id == k.platform_id, LearnerSharedState.learner_sub == k.sub
        ),
        note="SCORM 2004 global objectives and shared data (adl.data) kept across the learner's attempts",
    ),
    LearnerTable(
        table="grade_outbox",
        where=lambda k: and_(GradeOutbox.platform_key == str(k.platform_id), GradeOutbox.user_id == k.sub),
        note="scores already delivered stay in the LMS gradebook: erase them there",
    ),
    LearnerTable(
        table="learner_registrations",
        where=lambda k: and_(
            LearnerRegistration.platform_id == k.platform_id, LearnerRegistration.learner_sub == k.sub
        ),
    ),
    LearnerTable(
        table="roster_cache",
        where=lambda k: RosterCache.platform_id == k.platform_id,
        refine=_names_learner,
        note="cached LMS rosters naming the learner (pulled again from the LMS when needed)",
    ),
    LearnerTable(
        table="lrs_statement_activities",
        where=lambda k: LrsStatementActivity.seq.in_(_lrs_statement_seqs(k)),
        note="the activities index of the learner's xAPI statements",
    ),
    LearnerTable(
        table="lrs_forward_dead",
        where=lambda k: LrsForwardDead.seq.in_(_lrs_statement_seqs(k)),
        note="the learner's statements an academy's own LRS refused (the LRS's answer may quote them)",
    ),
    LearnerTable(
        table="lrs_statements",
        where=lambda k: LrsStatement.seq.in_(_lrs_statement_seqs(k)),
        note="xAPI statements whose actor or object is the learner",
    ),
    LearnerTable(
        table="lrs_statement_agents",
        where=lambda k: LrsStatementAgent.agent_key == learner_agent_key(k.issuer, k.sub),
        note="mentions of the learner in others' xAPI statements (index rows)",
    ),
    LearnerTable(
        table="lrs_documents",
        where=lambda k: _lrs_owned(LrsDocument, k),
        note="xAPI state and agent profile documents (bookmarks, cmi5 preferences)",
    ),
    LearnerTable(
        table="lrs_credentials",
        where=lambda k: _lrs_owned(LrsCredential, k),
        note="the learner's per-launch LRS credentials",
    ),
    LearnerTable(
        table="lti_launches", where=lambda k: and_(LtiLaunch.platform_id == k.platform_id, LtiLaunch.sub == k.sub)
    ),
    LearnerTable(
        table="launch_states",
        where=lambda k: and_(
            LaunchState.issuer == k.issuer,
            or_(LaunchState.client_id == k.client_id, LaunchState.client_id.is_(None)),
            LaunchState.login_hint == k.sub,
        ),
        note="logins in progress whose login_hint is the learner's id (they expire within minutes anyway)",
    ),
)

#: Tables with a learner-like column that are NOT the tool's learner records, and why.
NOT_LEARNER_DATA: Mapping[str, str] = {
    "devplatform_scores": "the development LMS's own gradebook (the LMS side, demo only), not the tool's records",
    "audit_log": "the record of lifecycle actions itself: holds only the opaque LMS id, kept as accountability",
}


def registry_tables() -> tuple[str, ...]:
    """Names of the tables in :data:`LEARNER_TABLES`, in erasure order."""
    return tuple(entry.table for entry in LEARNER_TABLES)


# -- lookups -----------------------------------------------------------------------------------


def _learner(s: Session, platform_id: int, sub: str | None) -> tuple[Platform, Learner | None]:
    platform = s.get(Platform, platform_id)
    if platform is None:
        raise UnknownPlatform(f"no platform {platform_id}: see 'cbsi-connect platforms list'")
    if sub is None:
        return platform, None
    if not sub or len(sub) > MAX_SUB_LENGTH:
        raise InvalidLearner(f"a learner id is 1 to {MAX_SUB_LENGTH} characters (the LMS's 'sub')")
    return platform, Learner(platform_id=platform.id, issuer=platform.issuer, client_id=platform.client_id, sub=sub)


def _matching(s: Session, entry: LearnerTable, learner: Learner) -> tuple[int, list[tuple[Any, ...]] | None]:
    """(row count, primary keys when ``refine`` picks them) of the learner's rows in one table."""
    table = Base.metadata.tables[entry.table]
    condition = entry.where(learner)
    if entry.refine is None:
        return int(s.execute(select(func.count()).select_from(table).where(condition)).scalar_one()), None
    pk = list(table.primary_key.columns)
    keys: list[tuple[Any, ...]] = []
    result = s.execute(select(table).where(condition).execution_options(yield_per=100))
    try:  # a server-side cursor on PostgreSQL: closed even when ``refine`` raises
        for row in result.mappings():
            if entry.refine(row, learner):
                keys.append(tuple(row[c.name] for c in pk))
    finally:
        result.close()
    return len(keys), keys


# -- audit of refused and failed requests ----------------------------------------------------


def _record_outcome(
    db: Database,
    action: str,
    actor: str,
    source: str,
    platform_id: int,
    params: Mapping[str, Any],
    outcome: audit.Outcome,
) -> None:
    """Audit a refused or failed request in a transaction of its own (the action's rolled back)."""
    known = platform_id if _platform_exists(db, platform_id) else None
    with db.session() as s:
        audit.record(s, actor=actor, action=action, source=source, platform_id=known, params=params, outcome=outcome)


def _platform_exists(db: Database, platform_id: int) -> bool:
    with db.session() as s:
        return s.get(Platform, platform_id) is not None
