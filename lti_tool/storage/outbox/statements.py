"""The grade outbox's SQL statements (built once per dialect and kind) and row mapping."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    Row,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as _pg_psycopg  # noqa: F401 (dialect module)
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from lti_tool.storage.models import GradeOutbox, UtcDateTime
from sync.model import (
    ActivityProgress,
    GradingProgress,
    LineItemRef,
    OutboxItem,
    OutboxStatus,
    ScoreUpdate,
)

T = GradeOutbox.__table__
S = OutboxStatus

#: Columns replaced by a newer payload (``line_item_url`` is handled apart: kept when the new
#: payload has none, it may have been resolved by find-or-create).
_PAYLOAD_COLUMNS = (
    "lineitems_url",
    "resource_link_id",
    "tag",
    "label",
    "resource_id",
    "line_item_score_maximum",
    "score_given",
    "score_maximum",
    "activity_progress",
    "grading_progress",
    "comment",
    "outcome_at",
)


def _payload(update: ScoreUpdate) -> dict[str, Any]:
    li = update.line_item
    return {
        "platform_key": update.platform_key,
        "line_item_key": update.line_item_key,
        "user_id": update.user_id,
        "line_item_url": li.url,
        "lineitems_url": li.lineitems_url,
        "resource_link_id": li.resource_link_id,
        "tag": li.tag,
        "label": li.label,
        "resource_id": li.resource_id,
        "line_item_score_maximum": float(li.score_maximum),
        "score_given": update.score_given,
        "score_maximum": update.score_maximum,
        "activity_progress": str(update.activity_progress),
        "grading_progress": str(update.grading_progress),
        "comment": update.comment,
        "outcome_at": update.outcome_at,
    }


def _dt(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=UtcDateTime())


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE ... WHERE newer RETURNING version``, built once per dialect
    (statement construction costs more than its execution; parameters: ``_payload`` + ``now``)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = ("platform_key", "line_item_key", "user_id", "line_item_url", *_PAYLOAD_COLUMNS)
    values: dict[str, Any] = {name: bindparam(name, type_=T.c[name].type) for name in columns}
    values.update(
        status=S.PENDING.value,
        version=1,
        attempts=0,
        next_attempt_at=_dt("now"),
        grade_delivered=False,
        created_at=_dt("now"),
        updated_at=_dt("now"),
    )
    stmt = insert(T).values(values)
    excluded = stmt.excluded
    changes: dict[str, Any] = {name: excluded[name] for name in _PAYLOAD_COLUMNS}
    changes.update(
        line_item_url=func.coalesce(excluded.line_item_url, T.c.line_item_url),
        version=T.c.version + 1,
        attempts=0,
        next_attempt_at=excluded.next_attempt_at,
        last_error=None,
        last_status_code=None,
        # an in-flight row keeps its lease: one request per key at a time; the worker's settle
        # sees the version moved and re-queues the newer payload
        status=case((T.c.status == S.IN_FLIGHT.value, S.IN_FLIGHT.value), else_=S.PENDING.value),
        updated_at=excluded.updated_at,
    )
    return stmt.on_conflict_do_update(
        index_elements=[T.c.platform_key, T.c.line_item_key, T.c.user_id],
        set_=changes,
        where=excluded.outcome_at > T.c.outcome_at,
    ).returning(T.c.version)


def _settle_values(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values when the version matches, values applied whatever the version) of a settle kind."""
    code = bindparam("status_code", type_=Integer())
    error = bindparam("error", type_=Text())
    if kind == "delivered":
        sent = _dt("sent")
        always: dict[str, Any] = {
            "last_sent_timestamp": case(
                (or_(T.c.last_sent_timestamp.is_(None), T.c.last_sent_timestamp < sent), sent),
                else_=T.c.last_sent_timestamp,
            ),
            "delivered_at": _dt("now"),
            "grade_delivered": or_(T.c.grade_delivered, bindparam("graded", type_=Boolean())),
        }
        return {"status": S.DELIVERED.value, "last_status_code": code, "last_error": None}, always
    if kind == "superseded":
        return {"status": S.SUPERSEDED.value, "last_status_code": code, "last_error": error}, {}
    if kind == "retry":
        current = {
            "status": S.PENDING.value,
            "attempts": T.c.attempts + 1,
            "next_attempt_at": _dt("at"),
            "last_status_code": code,
            "last_error": error,
        }
        return current, {}
    if kind == "dead":
        return {"status": S.DEAD.value, "attempts": T.c.attempts + 1, "last_status_code": code, "last_error": error}, {}
    if kind == "release":
        return {"status": S.PENDING.value, "next_attempt_at": _dt("at")}, {}
    raise ValueError(f"unknown settle kind {kind!r}")  # pragma: no cover - internal


@functools.cache
def _settle_statements(kind: str) -> tuple[Any, Any]:
    """The two UPDATEs of a settle: version matches (applied), or moved on (re-queue)."""
    current, always = _settle_values(kind)
    in_flight = T.c.status == S.IN_FLIGHT.value
    now = _dt("now")
    applied = (
        update(T)
        .where(T.c.id == bindparam("item_id"), T.c.version == bindparam("expected_version"), in_flight)
        .values(**always, **current, lease_expires_at=None, leased_by=None, updated_at=now)
    )
    moved = (
        update(T)
        .where(T.c.id == bindparam("item_id"))
        .values(
            **always,
            status=case((in_flight, S.PENDING.value), else_=T.c.status),
            next_attempt_at=case((in_flight, now), else_=T.c.next_attempt_at),
            lease_expires_at=case((in_flight, None), else_=T.c.lease_expires_at),
            leased_by=case((in_flight, None), else_=T.c.leased_by),
            updated_at=case((in_flight, now), else_=T.c.updated_at),
        )
    )
    return applied, moved


@functools.cache
def _settle_one_statement(kind: str) -> Any:
    """Both branches of a settle in ONE statement, so a batch runs as one ``executemany``.

    ``UPDATE ... WHERE id = :item_id``; every column is ``CASE WHEN <version matches and the row
    is in flight> THEN <settled value> WHEN <in flight> THEN <re-queued value> ELSE <unchanged>``
    (the right-hand sides all read the row as it was), the delivery facts apply whatever the
    version. Same effect as ``_settle_statements``' applied-else-moved pair, without needing the
    first statement's row count.
    """
    return update(T).where(T.c.id == bindparam("item_id")).values(**_settle_case_values(kind))


def _settle_case_values(kind: str) -> dict[str, Any]:
    """The SET clause of :func:`_settle_one_statement` (column name -> CASE expression)."""
    current, always = _settle_values(kind)
    in_flight = T.c.status == S.IN_FLIGHT.value
    matches = and_(T.c.version == bindparam("expected_version"), in_flight)
    now = _dt("now")
    applied: dict[str, Any] = {**current, "lease_expires_at": None, "leased_by": None, "updated_at": now}
    moved: dict[str, Any] = {
        "status": S.PENDING.value,
        "next_attempt_at": now,
        "lease_expires_at": None,
        "leased_by": None,
        "updated_at": now,
    }
    values: dict[str, Any] = dict(always)
    for name, value in applied.items():
        column = T.c[name]
        requeued = moved.get(name, column)
        values[name] = case((matches, value), (in_flight, requeued), else_=column)
    return values


#: Type of each per-row parameter of a settle (the columns of the batched statement's ``unnest``).
_SETTLE_PARAM_TYPES: dict[str, Any] = {
    "item_id": BigInteger(),
    "expected_version": Integer(),
    "sent": DateTime(timezone=True),
    "graded": Boolean(),
    "status_code": Integer(),
    "error": Text(),
    "at": DateTime(timezone=True),
}


@functools.cache
def _settle_batch_statement(kind: str) -> tuple[Any, tuple[str, ...]]:
    """PostgreSQL: a whole batch of one settle kind as ONE ``UPDATE ... FROM unnest(arrays)``.

    The same CASE expressions as :func:`_settle_one_statement`, with every per-row parameter
    read from the row of ``unnest(:item_id, :expected_version, ...)`` that matches the outbox
    row instead of a bind parameter: one statement and one round trip per batch (``executemany``
    still sends, and the driver still adapts, one parameter set per row). ``now`` stays a
    scalar. Parameters: ``now`` and, per name of the returned tuple, one array literal
    (:func:`pg_array_literal`, aligned by row) that the statement casts to the column's array type.
    """
    names = ("item_id", "expected_version", *_SETTLE_DEFAULTS[kind])
    rows = (
        func.unnest(*[cast(bindparam(n, type_=Text()), postgresql.ARRAY(_SETTLE_PARAM_TYPES[n])) for n in names])
        .table_valued(*[column(n, _SETTLE_PARAM_TYPES[n]) for n in names])
        .render_derived(name="v")
    )

    def from_row(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.key in names:
            return rows.c[element.key]
        return None

    values = {
        name: visitors.replacement_traverse(value, {}, from_row) for name, value in _settle_case_values(kind).items()
    }
    where = T.c.id == rows.c.item_id
    return update(T).where(where).values(values), names


def pg_array_literal(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of ``values`` (``None``, bools, ints, aware datetimes, strings).

    The settle batch's columns travel as one text each, built with a join, instead of lists the
    driver dumps element by element in Python (that dumping was a tenth of the worker's CPU).
    Strings and timestamps are double-quoted with backslash escapes, so any text is kept as is.
    """
    parts: list[str] = []
    for value in values:
        if type(value) is int:  # the ids and versions of every settle: the common case first
            parts.append(str(value))
        elif value is None:
            parts.append("NULL")
        elif value is True or value is False:
            parts.append("t" if value else "f")
        elif isinstance(value, int):
            parts.append(str(int(value)))
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime refused: use timezone-aware UTC datetimes")
            text = _ISO.get(value)
            if text is None:
                if len(_ISO) >= 4096:  # bounded: the settles' whole-second timestamps repeat
                    _ISO.clear()
                text = _ISO[value] = f'"{value.isoformat()}"'
            parts.append(text)
        elif isinstance(value, str):
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            raise TypeError(f"no array literal for {type(value).__name__}")
    return "{" + ",".join(parts) + "}"


#: ``pg_array_literal``'s recent timestamp texts, keyed by the instant (an equal aware datetime
#: with another offset is the same ``timestamptz``).
_ISO: dict[datetime, str] = {}


#: Parameters every settle kind's statement binds (absent ones default to NULL / False).
_SETTLE_DEFAULTS: dict[str, dict[str, Any]] = {
    "delivered": {"sent": None, "graded": False, "status_code": None},
    "superseded": {"status_code": None, "error": None},
    "retry": {"at": None, "status_code": None, "error": None},
    "dead": {"status_code": None, "error": None},
    "release": {"at": None},
}


@functools.cache
def _claim_sql() -> tuple[str, dict[str, Any], dict[str, int]]:
    """PostgreSQL: the claim as driver SQL (compiled once), its fixed parameters and the position
    of each returned column.

    ``UPDATE ... WHERE id IN (SELECT id ... due ... AND platform_key <> ALL(:excluded) ORDER BY
    next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING *`` (the same rows as the
    Core statement ``SqlOutboxStore.claim_due`` builds on SQLite; the exclusion list is one array
    parameter, so the text never changes). Parameters: now, lease, worker, excluded, limit.
    """
    now = _dt("now")
    due = or_(
        and_(T.c.status == S.PENDING.value, T.c.next_attempt_at <= now),
        and_(T.c.status == S.IN_FLIGHT.value, T.c.lease_expires_at <= now),
    )
    excluded = bindparam("excluded", type_=postgresql.ARRAY(Text()))
    pick = (
        select(T.c.id)
        .where(due, T.c.platform_key != func.all(excluded))
        .order_by(T.c.next_attempt_at, T.c.id)
        .limit(bindparam("limit", type_=Integer()))
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(T)
        .where(T.c.id.in_(pick.scalar_subquery()))
        .values(status=S.IN_FLIGHT.value, lease_expires_at=_dt("lease"), leased_by=bindparam("worker"), updated_at=now)
        .returning(*T.c)
    )
    compiled = stmt.compile(dialect=postgresql.psycopg.dialect())
    fixed = {k: v for k, v in compiled.params.items() if v is not None}  # the status literals
    return str(compiled), fixed, {c.name: i for i, c in enumerate(T.c)}


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: The ``grade_outbox`` columns ``items_from_tuples`` reads, in the order it unpacks them.
_TUPLE_COLUMNS = (
    "id", "platform_key", "line_item_key", "line_item_url", "lineitems_url", "resource_link_id", "tag", "label",
    "line_item_score_maximum", "resource_id", "user_id", "score_given", "score_maximum", "activity_progress",
    "grading_progress", "outcome_at", "comment", "status", "version", "attempts", "next_attempt_at",
    "lease_expires_at", "last_status_code", "last_error", "delivered_at", "last_sent_timestamp",
    "grade_delivered", "created_at", "updated_at",
)  # fmt: skip


def items_from_tuples(rows: Sequence[tuple[Any, ...]], at: dict[str, int]) -> list[OutboxItem]:
    """``item_from_row`` for a whole claim of plain driver rows (column positions ``at``).

    The columns of each row are taken in one C-level call (``operator.itemgetter``) and unpacked
    by position instead of one name lookup per column; timestamps made UTC."""
    pick = operator.itemgetter(*[at[name] for name in _TUPLE_COLUMNS])
    activity, grading, status_of = _ACTIVITY, _GRADING, _STATUS

    utc = _utc

    out: list[OutboxItem] = []
    for row in rows:
        (
            id_, platform_key, line_item_key, url, lineitems_url, resource_link_id, tag, label, li_max,
            resource_id, user_id, score_given, score_maximum, activity_progress, grading_progress, outcome_at,
            comment, status, version, attempts, next_attempt_at, lease_expires_at, last_status_code, last_error,
            delivered_at, last_sent_timestamp, grade_delivered, created_at, updated_at,
        ) = pick(row)  # fmt: skip
        out.append(
            OutboxItem(
                id=id_,
                update=ScoreUpdate(
                    platform_key=platform_key,
                    line_item_key=line_item_key,
                    line_item=LineItemRef(
                        url=url,
                        lineitems_url=lineitems_url,
                        resource_link_id=resource_link_id,
                        tag=tag,
                        label=label,
                        score_maximum=li_max,
                        resource_id=resource_id,
                    ),
                    user_id=user_id,
                    score_given=score_given,
                    score_maximum=score_maximum,
                    activity_progress=activity.get(activity_progress) or ActivityProgress(activity_progress),
                    grading_progress=grading.get(grading_progress) or GradingProgress(grading_progress),
                    outcome_at=utc(outcome_at),
                    comment=comment,
                ),
                status=status_of.get(status) or OutboxStatus(status),
                version=version,
                attempts=attempts,
                next_attempt_at=utc(next_attempt_at),
                lease_expires_at=utc(lease_expires_at),
                last_status_code=last_status_code,
                last_error=last_error,
                delivered_at=utc(delivered_at),
                last_sent_timestamp=utc(last_sent_timestamp),
                grade_delivered=bool(grade_delivered),
                created_at=utc(created_at),
                updated_at=utc(updated_at),
            )
        )
    return out


_ACTIVITY = {p.value: p for p in ActivityProgress}
_GRADING = {g.value: g for g in GradingProgress}
_STATUS = {st.value: st for st in OutboxStatus}


def item_from_row(row: Row[Any] | Any) -> OutboxItem:
    """Build the domain ``OutboxItem`` from a ``grade_outbox`` row."""
    update = ScoreUpdate(
        platform_key=row.platform_key,
        line_item_key=row.line_item_key,
        line_item=LineItemRef(
            url=row.line_item_url,
            lineitems_url=row.lineitems_url,
            resource_link_id=row.resource_link_id,
            tag=row.tag,
            label=row.label,
            score_maximum=row.line_item_score_maximum,
            resource_id=row.resource_id,
        ),
        user_id=row.user_id,
        score_given=row.score_given,
        score_maximum=row.score_maximum,
        activity_progress=_ACTIVITY.get(row.activity_progress) or ActivityProgress(row.activity_progress),
        grading_progress=_GRADING.get(row.grading_progress) or GradingProgress(row.grading_progress),
        outcome_at=row.outcome_at,
        comment=row.comment,
    )
    return OutboxItem(
        id=row.id,
        update=update,
        status=_STATUS.get(row.status) or OutboxStatus(row.status),
        version=row.version,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_expires_at=row.lease_expires_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        last_sent_timestamp=row.last_sent_timestamp,
        grade_delivered=bool(row.grade_delivered),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
