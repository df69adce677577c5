"""LRS storage: statements (write, void, query with paging), attachments, activities.

Documents are :mod:`lti_tool.lrs.documents_store`'s; the driver-level write path is
:mod:`lti_tool.lrs.driver`'s, and the comparison of a resent statement :mod:`lti_tool.lrs.comparison`'s.

Every function takes a SQLAlchemy session and a tenant; every query filters by the tenant.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, false, func, select, true, update
from sqlalchemy.orm import Session, aliased

from lti_tool.lrs.comparison import differing_properties, same_statement
from lti_tool.lrs.driver import _MISSING, Driver
from lti_tool.storage.models import (
    LrsActivity,
    LrsAttachment,
    LrsStatement,
    LrsStatementActivity,
    LrsStatementAgent,
)
from scorm.xapi.formats import parse_timestamp
from scorm.xapi.normalize import index_keys

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
MAX_LIMIT = 500


class LrsConflict(Exception):
    """A write conflicts with stored data (HTTP 409)."""


class LrsBadRequest(Exception):
    """A request breaks an LRS rule (HTTP 400)."""


def iso(moment: datetime) -> str:
    """``2026-01-02T03:04:05.678Z``: millisecond precision, UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def dumps(value: Any) -> str:
    """Compact JSON, the stored form."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# The stored form of a statement (what :func:`dumps` writes), by one encoder made once: a statement
# is parsed JSON plus the LRS's own properties, so it holds no cycle to check for
_encode_statement = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode


_STATEMENT_COLUMNS = (
    "tenant", "statement_id", "registration", "verb_id", "ref_target", "voided", "is_voiding", "stored",
    "timestamp", "credential_id", "payload", "attachment_hashes",
)  # fmt: skip
# positions in a row of :func:`_statement_row` (a list in _STATEMENT_COLUMNS order)
_SID, _REF, _IS_VOIDING = (_STATEMENT_COLUMNS.index(c) for c in ("statement_id", "ref_target", "is_voiding"))


# -- statements ----------------------------------------------------------------------------------


@dataclass
class NewStatement:
    """A validated, normalised statement ready to store (``id``, ``stored``, ``authority`` set)."""

    statement: dict[str, Any]
    attachment_hashes: list[str] = field(default_factory=list)
    #: the LRS set ``timestamp`` (the sender gave none): a stored statement's timestamp matches it
    timestamp_assigned: bool = False


def existing_statements(session: Session, tenant: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Stored statements among ``ids`` (lower-case UUIDs)."""
    ids = list(ids)
    found: dict[str, dict[str, Any]] = {}
    driver = Driver.of(session)
    if driver is not None:
        rows = driver.select_in(
            "SELECT statement_id, payload FROM lrs_statements WHERE tenant = {} AND statement_id IN", [tenant], ids
        )
        return {sid: json.loads(payload) for sid, payload in rows}
    for chunk in range(0, len(ids), 500):
        rows = session.connection().execute(
            select(LrsStatement.statement_id, LrsStatement.payload).where(
                LrsStatement.tenant == tenant, LrsStatement.statement_id.in_(ids[chunk : chunk + 500])
            )
        )
        found.update({sid: json.loads(payload) for sid, payload in rows})
    return found


def _batch_ids(batch: Sequence[NewStatement]) -> list[str]:
    """The batch's ids (lower case).

    Raises:
        LrsBadRequest: two statements of the batch share an id (Communication 2.1.1: reject the batch).
    """
    ids = [n.statement["id"].lower() for n in batch]
    if len(set(ids)) != len(ids):
        twice = next(sid for i, sid in enumerate(ids) if sid in ids[:i])
        raise LrsBadRequest(f"the batch holds two statements with the same id {twice}")
    return ids


def _changed(sid: str, stored: Mapping[str, Any], new: NewStatement) -> LrsConflict:
    return LrsConflict(
        f"statement {sid} is already stored with different content (differs in: "
        f"{', '.join(differing_properties(stored, new.statement, new.timestamp_assigned))}); "
        "a statement cannot be changed, send it under a new id"
    )


def new_statements(session: Session, tenant: str, batch: Sequence[NewStatement]) -> list[NewStatement]:
    """The statements of ``batch`` not stored yet: a resent statement (same id, same content) is dropped.

    xAPI Communication 2.1.1/2.1.2: receiving a statement whose id is stored changes nothing; the
    request still succeeds when the content matches (Data 2.3.1 comparison), 409 when it does not.

    Raises:
        LrsBadRequest: two statements of the batch share an id (Communication 2.1.1: reject the batch).
        LrsConflict: an id is stored with different content.
    """
    ids = _batch_ids(batch)
    existing = existing_statements(session, tenant, ids)
    if not existing:
        return list(batch)
    fresh: list[NewStatement] = []
    for new, sid in zip(batch, ids, strict=True):
        if sid not in existing:
            fresh.append(new)
        elif not same_statement(existing[sid], new.statement, timestamp_assigned=new.timestamp_assigned):
            raise _changed(sid, existing[sid], new)
    return fresh


def store_batch(
    session: Session, tenant: str, batch: Sequence[NewStatement], *, credential_id: int | None, stored: datetime
) -> list[str]:
    """Store a batch as :func:`insert_statements` does, with no look-up before the insert: the
    INSERT skips the ids already stored (``ON CONFLICT DO NOTHING``), and only those are read and
    compared (a resend changes nothing, another content is a conflict). For callers that need not
    judge the fresh statements before they are stored (no cmi5 rules, no outcome to apply).

    Raises:
        LrsConflict: an id is stored with different content.
        LrsBadRequest: two statements share an id, or a voiding statement targets a voiding statement.
    """
    driver = Driver.of(session)
    if driver is None:  # another dialect: look up first
        return insert_statements(session, tenant, batch, credential_id=credential_id, stored=stored)
    ids = _batch_ids(batch)
    rows = [_statement_row(tenant, new, credential_id=credential_id, stored=stored) for new in batch]
    voiding = [(r[_REF], r[_SID]) for r in rows if r[_IS_VOIDING] and r[_REF]]
    seq_of: dict[str, int] = dict(
        driver.insert_returning(
            LrsStatement.__table__, _STATEMENT_COLUMNS, rows, "statement_id, seq", skip_existing="tenant, statement_id"
        )
    )
    if len(seq_of) < len(ids):
        resent = [(new, sid) for new, sid in zip(batch, ids, strict=True) if sid not in seq_of]
        existing = existing_statements(session, tenant, [sid for _new, sid in resent])
        for new, sid in resent:
            if sid not in existing:  # pragma: no cover - the row that stopped the insert is there
                raise LrsConflict(f"statement {sid} is being stored by a concurrent request; read it and retry")
            if not same_statement(existing[sid], new.statement, timestamp_assigned=new.timestamp_assigned):
                raise _changed(sid, existing[sid], new)
    fresh = [(new.statement, seq_of[sid]) for new, sid in zip(batch, ids, strict=True) if sid in seq_of]
    voiding_targets = {ref: sid for ref, sid in voiding if sid in seq_of}
    if voiding_targets:
        # after the insert (a refusal rolls the request back): the batch's own rows are stored now
        _refuse_voiding_of_voiding(session, tenant, voiding_targets, [])
    _after_insert(session, tenant, [st for st, _seq in fresh], [seq for _st, seq in fresh], voiding_targets)
    return ids


def insert_statements(
    session: Session,
    tenant: str,
    batch: Sequence[NewStatement],
    *,
    credential_id: int | None,
    stored: datetime,
    fresh_only: bool = False,
) -> list[str]:
    """Store a batch; resent statements (same id and content as a stored one) are skipped.

    ``fresh_only``: the caller already dropped them with :func:`new_statements`.

    Raises:
        LrsConflict: an id is stored with different content.
        LrsBadRequest: two statements share an id, or a voiding statement targets a voiding statement.
    """
    ids = [n.statement["id"].lower() for n in batch]
    todo = list(batch) if fresh_only else new_statements(session, tenant, batch)
    voiding_targets: dict[str, str] = {}
    rows: list[list[Any]] = []
    fresh: list[dict[str, Any]] = []
    for new in todo:
        st = new.statement
        row = _statement_row(tenant, new, credential_id=credential_id, stored=stored)
        if row[_IS_VOIDING] and row[_REF]:
            voiding_targets[row[_REF]] = row[_SID]
        rows.append(row)
        fresh.append(st)
    if voiding_targets:
        _refuse_voiding_of_voiding(session, tenant, voiding_targets, rows)
    if not rows:
        return ids
    _after_insert(session, tenant, fresh, _insert_rows(session, rows), voiding_targets)
    return ids


def _after_insert(
    session: Session,
    tenant: str,
    statements: Sequence[Mapping[str, Any]],
    seqs: Sequence[int],
    voiding_targets: Mapping[str, str],
) -> None:
    """What follows the insert of new statements: their index rows, the statements they void, the
    activity definitions they carry."""
    if not statements:
        return
    _insert_links(session, statements, seqs)
    if voiding_targets:
        session.connection().execute(
            update(LrsStatement)
            .where(
                LrsStatement.tenant == tenant,
                LrsStatement.statement_id.in_(list(voiding_targets)),
                LrsStatement.is_voiding == false(),
            )
            .values(voided=True)
        )
    _remember_activities(session, tenant, statements)


def _statement_row(tenant: str, new: NewStatement, *, credential_id: int | None, stored: datetime) -> list[Any]:
    """The ``lrs_statements`` row of a new statement, in :data:`_STATEMENT_COLUMNS` order."""
    st = new.statement
    obj = st["object"]
    ref = obj["id"].lower() if obj.get("objectType") == "StatementRef" else None
    is_voiding = st["verb"]["id"] == VOIDED
    registration = (st.get("context") or {}).get("registration")
    ts = stored if new.timestamp_assigned else parse_timestamp(st.get("timestamp")) or stored
    return [
        tenant,
        st["id"].lower(),
        registration.lower() if registration else None,
        st["verb"]["id"],
        ref,
        False,  # voided
        is_voiding,
        stored,
        ts,
        credential_id,
        _encode_statement(st),
        dumps(new.attachment_hashes) if new.attachment_hashes else None,
    ]


def _refuse_voiding_of_voiding(
    session: Session, tenant: str, voiding_targets: Mapping[str, str], rows: Sequence[Sequence[Any]]
) -> None:
    """Raise :class:`LrsBadRequest` when a voiding statement targets a (stored or batched) voiding statement."""
    targets = (
        session.connection()
        .execute(
            select(LrsStatement.statement_id, LrsStatement.is_voiding).where(
                LrsStatement.tenant == tenant, LrsStatement.statement_id.in_(list(voiding_targets))
            )
        )
        .all()
    )
    batch_voiding = {r[_SID] for r in rows if r[_IS_VOIDING]}
    for target_id, target_is_voiding in targets:
        if target_is_voiding:
            raise LrsBadRequest(f"statement {voiding_targets[target_id]} voids {target_id}, a voiding statement")
    for target in voiding_targets:
        if target in batch_voiding:
            raise LrsBadRequest(f"statement {voiding_targets[target]} voids {target}, a voiding statement")


def _insert_links(session: Session, statements: Sequence[Mapping[str, Any]], seqs: Sequence[int]) -> None:
    """The agent and activity index rows of the stored statements (``[seq, key, direct]``)."""
    link_agents: list[list[Any]] = []
    link_acts: list[list[Any]] = []
    for st, seq in zip(statements, seqs, strict=True):
        # one row per name: direct (actor/object) rows serve both filters, the others only related_*
        d_agents, o_agents, d_acts, o_acts = index_keys(st)
        link_agents += [[seq, k, True] for k in d_agents]
        link_agents += [[seq, k, False] for k in o_agents]
        link_acts += [[seq, a, True] for a in d_acts]
        link_acts += [[seq, a, False] for a in o_acts]
    driver = Driver.of(session)
    for table, columns, links in (
        (LrsStatementAgent.__table__, ("seq", "agent_key", "direct"), link_agents),
        (LrsStatementActivity.__table__, ("seq", "activity_id", "direct"), link_acts),
    ):
        if not links:
            continue
        if driver is not None:
            driver.insert_many(table, columns, links)
        else:
            session.connection().execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in links])


def _insert_rows(session: Session, rows: list[list[Any]]) -> list[int]:
    """Insert rows of :func:`_statement_row` (the driver path converts them in place); their seqs."""
    table = LrsStatement.__table__
    driver = Driver.of(session)
    if driver is not None:
        seq_of = dict(
            (sid, seq) for seq, sid in driver.insert_returning(table, _STATEMENT_COLUMNS, rows, "seq, statement_id")
        )
        return [seq_of[r[_SID]] for r in rows]
    named = [dict(zip(_STATEMENT_COLUMNS, r, strict=True)) for r in rows]
    result = session.connection().execute(table.insert().returning(table.c.seq, sort_by_parameter_order=True), named)
    return [r[0] for r in result]


def _remember_activities(session: Session, tenant: str, statements: Sequence[Mapping[str, Any]]) -> None:
    """Keep the newest definition of each activity an object names (Activities API)."""
    definitions: dict[str, list[dict[str, Any]]] = {}
    for st in statements:
        obj = st.get("object") or {}
        if obj.get("objectType", "Activity") == "Activity" and "definition" in obj:
            definitions.setdefault(obj["id"], []).append(obj["definition"])
    if not definitions:
        return
    table = LrsActivity.__table__
    driver = Driver.of(session)
    if driver is not None:
        stored: dict[str, str] = dict(
            driver.select_in(  # type: ignore[arg-type]
                "SELECT activity_id, payload FROM lrs_activities WHERE tenant = {} AND activity_id IN",
                [tenant],
                list(definitions),
            )
        )
    else:
        stored = dict(
            session.connection()
            .execute(
                select(LrsActivity.activity_id, LrsActivity.payload).where(
                    LrsActivity.tenant == tenant, LrsActivity.activity_id.in_(list(definitions))
                )
            )
            .all()
        )
    inserts: list[dict[str, Any]] = []
    for activity_id, defs in definitions.items():
        before = stored.get(activity_id)
        if before is not None and _definitions_known(before, defs):
            continue  # the usual case: the same definition again (no parse of the stored one, no write)
        merged = json.loads(before) if before else {"objectType": "Activity", "id": activity_id}
        merged_def = merged.setdefault("definition", {})
        changed = before is None
        for definition in defs:
            for key, value in definition.items():
                if isinstance(value, dict) and isinstance(merged_def.get(key), dict) and key != "extensions":
                    value = {**merged_def[key], **value}
                if not _same_json(merged_def.get(key, _MISSING), value):
                    merged_def[key] = value
                    changed = True
        if not changed:  # the usual case: the same definition again (no re-serialisation, no write)
            continue
        payload = dumps(merged)
        if before is None:
            inserts.append({"tenant": tenant, "activity_id": activity_id, "payload": payload})
        elif payload != before:
            session.connection().execute(
                update(LrsActivity)
                .where(LrsActivity.tenant == tenant, LrsActivity.activity_id == activity_id)
                .values(payload=payload)
            )
    if inserts:
        if driver is not None:
            driver.insert_many(table, ("tenant", "activity_id", "payload"), inserts)
        else:
            session.connection().execute(table.insert(), inserts)


# Stored activity payloads already parsed, by their exact text (read only; bounded in entries and size).
_PARSED_ACTIVITIES: dict[str, dict[str, Any]] = {}
_PARSED_MAX, _PARSED_LEN = 2048, 8192


def _definitions_known(before: str, defs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether merging ``defs`` into the stored payload ``before`` changes nothing (never mutates it)."""
    parsed = _PARSED_ACTIVITIES.get(before)
    if parsed is None:
        parsed = json.loads(before)
        if len(before) <= _PARSED_LEN:
            if len(_PARSED_ACTIVITIES) >= _PARSED_MAX:
                _PARSED_ACTIVITIES.clear()
            _PARSED_ACTIVITIES[before] = parsed
    known = parsed.get("definition")
    if not isinstance(known, dict):
        known = {}
    for definition in defs:
        for key, value in definition.items():
            if isinstance(value, dict) and isinstance(known.get(key), dict) and key != "extensions":
                value = {**known[key], **value}
            if not _same_json(known.get(key, _MISSING), value):
                return False
    return True


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values (``==`` alone takes ``1``, ``1.0`` and ``true`` for one another)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_json(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def get_activity(session: Session, tenant: str, activity_id: str) -> dict[str, Any]:
    """The stored definition of an activity, or a bare Activity when none is known."""
    row = session.get(LrsActivity, (tenant, activity_id))
    return json.loads(row.payload) if row else {"objectType": "Activity", "id": activity_id}


def save_attachments(session: Session, tenant: str, parts: Mapping[str, tuple[str, bytes]]) -> None:
    """Store attachment bytes by SHA-2 (already checked against their hash)."""
    for sha2, (ctype, content) in parts.items():
        if session.get(LrsAttachment, (tenant, sha2)) is None:
            session.add(LrsAttachment(tenant=tenant, sha2=sha2, content_type=ctype, content=content))


def load_attachments(session: Session, tenant: str, hashes: Iterable[str]) -> dict[str, tuple[str, bytes]]:
    """Attachment bytes by SHA-2."""
    hashes = list(set(hashes))
    if not hashes:
        return {}
    rows = session.connection().execute(
        select(LrsAttachment.sha2, LrsAttachment.content_type, LrsAttachment.content).where(
            LrsAttachment.tenant == tenant, LrsAttachment.sha2.in_(hashes)
        )
    )
    return {sha: (ctype, bytes(content)) for sha, ctype, content in rows}


@dataclass
class StatementQuery:
    """The filters of GET /statements (already parsed and checked)."""

    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 0
    ascending: bool = False
    format: str = "exact"
    attachments: bool = False
    after_seq: int | None = None
    max_seq: int | None = None

    def token(self, last_seq: int, max_seq: int) -> str:
        """The opaque ``more`` token of the next page."""
        data = {
            "ag": self.agent, "vb": self.verb, "ac": self.activity, "rg": self.registration,
            "ra": self.related_activities, "rag": self.related_agents,
            "si": self.since.isoformat() if self.since else None,
            "un": self.until.isoformat() if self.until else None,
            "li": self.limit, "as": self.ascending, "af": last_seq, "mx": max_seq,
            "fm": self.format, "at": self.attachments,
        }  # fmt: skip
        return base64.urlsafe_b64encode(dumps(data).encode()).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> StatementQuery:
        """Decode a ``more`` token.

        Raises:
            LrsBadRequest: not a token this LRS issued.
        """
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return cls(
                agent=data["ag"], verb=data["vb"], activity=data["ac"], registration=data["rg"],
                related_activities=data["ra"], related_agents=data["rag"],
                since=datetime.fromisoformat(data["si"]) if data["si"] else None,
                until=datetime.fromisoformat(data["un"]) if data["un"] else None,
                limit=int(data["li"]), ascending=bool(data["as"]), after_seq=int(data["af"]), max_seq=int(data["mx"]),
                format=str(data["fm"]), attachments=bool(data["at"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise LrsBadRequest("the 'more' token is not one this LRS issued") from exc


def _target_conditions(q: StatementQuery, s: Any) -> list[Any]:
    """Conditions of the non-time filters on statement alias ``s`` (each one an indexed lookup)."""
    conds: list[Any] = []
    if q.agent is not None:
        agent_match = [LrsStatementAgent.agent_key == q.agent]
        if not q.related_agents:
            agent_match.append(LrsStatementAgent.direct == true())
        conds.append(s.seq.in_(select(LrsStatementAgent.seq).where(*agent_match)))
    if q.activity is not None:
        activity_match = [LrsStatementActivity.activity_id == q.activity]
        if not q.related_activities:
            activity_match.append(LrsStatementActivity.direct == true())
        conds.append(s.seq.in_(select(LrsStatementActivity.seq).where(*activity_match)))
    if q.verb is not None:
        conds.append(s.verb_id == q.verb)
    if q.registration is not None:
        conds.append(s.registration == q.registration)
    return conds


def query_statements(
    session: Session, tenant: str, q: StatementQuery
) -> tuple[list[tuple[int, str, str | None, datetime]], bool, int]:
    """One page: ``[(seq, payload, attachment_hashes, stored)]``, whether more exist, the max seq.

    Voided statements are left out. Statements whose object is a StatementRef to a statement that
    meets the non-time filters match too, as xAPI requires; that branch is a separate indexed
    query (statements with a ``ref_target`` are few), so the main branch keeps its index.
    """
    s = LrsStatement
    max_seq = q.max_seq
    if max_seq is None:
        # seq is global, so the table's max bounds every tenant's pages (an O(1) primary-key
        # lookup; "WHERE tenant = ? ORDER BY seq DESC" would walk the tenant's whole index)
        max_seq = session.connection().scalar(select(func.max(s.seq))) or 0
    base = [s.tenant == tenant, s.voided == false(), s.seq <= max_seq]
    if q.since is not None:
        base.append(s.stored > q.since)
    if q.until is not None:
        base.append(s.stored <= q.until)
    if q.after_seq is not None:
        base.append(s.seq > q.after_seq if q.ascending else s.seq < q.after_seq)
    limit = q.limit if 0 < q.limit <= MAX_LIMIT else MAX_LIMIT
    order = s.seq.asc() if q.ascending else s.seq.desc()
    target = _target_conditions(q, s)
    main = select(s.seq).where(*base, *target).order_by(order).limit(limit + 1)
    seqs = list(session.connection().scalars(main))
    if target:
        t = aliased(LrsStatement)
        refs = (
            select(s.seq)
            .join(t, and_(t.tenant == s.tenant, t.statement_id == s.ref_target))
            .where(*base, s.ref_target.is_not(None), *_target_conditions(q, t))
            .order_by(order)
            .limit(limit + 1)
        )
        seqs = sorted(set(seqs) | set(session.connection().scalars(refs)), reverse=not q.ascending)[: limit + 1]
    more = len(seqs) > limit
    seqs = seqs[:limit]
    if not seqs:
        return [], False, max_seq
    page = select(s.seq, s.payload, s.attachment_hashes, s.stored).where(s.seq.in_(seqs))
    rows = {r.seq: (r.seq, r.payload, r.attachment_hashes, r.stored) for r in session.connection().execute(page)}
    return [rows[seq] for seq in seqs], more, max_seq


def get_statement(session: Session, tenant: str, statement_id: str, *, voided: bool) -> tuple[str, str | None] | None:
    """A statement by id: a non-voided one, or (``voided``) a voided one; payload and attachment hashes."""
    row = (
        session.connection()
        .execute(
            select(LrsStatement.payload, LrsStatement.attachment_hashes, LrsStatement.voided).where(
                LrsStatement.tenant == tenant, LrsStatement.statement_id == statement_id.lower()
            )
        )
        .first()
    )
    if row is None or bool(row.voided) != voided:
        return None
    return row.payload, row.attachment_hashes


def statement_owner(session: Session, tenant: str, statement_id: str) -> set[str]:
    """The direct agent keys of a stored statement (scope checks)."""
    rows = session.connection().execute(
        select(LrsStatementAgent.agent_key)
        .join(LrsStatement, LrsStatement.seq == LrsStatementAgent.seq)
        .where(
            LrsStatement.tenant == tenant,
            LrsStatement.statement_id == statement_id.lower(),
            LrsStatementAgent.direct == true(),
        )
    )
    return {r[0] for r in rows}


# -- documents -----------------------------------------------------------------------------------


# -- reads of the forwarder (lti_tool.lrs.forwarder): the tenant's statements in stored order -----


def max_seq(session: Session) -> int:
    """The newest statement's position in the stored order (0 when none is stored)."""
    return int(session.connection().scalar(select(func.max(LrsStatement.seq))) or 0)


def statements_after(session: Session, tenant: str, after_seq: int, limit: int) -> list[Any]:
    """Up to ``limit`` statements of ``tenant`` after ``after_seq``, in stored order (voided ones
    too): rows of ``seq, statement_id, payload, attachment_hashes, stored``."""
    s = LrsStatement
    query = (
        select(s.seq, s.statement_id, s.payload, s.attachment_hashes, s.stored)
        .where(s.tenant == tenant, s.seq > after_seq)
        .order_by(s.seq)
        .limit(limit)
    )
    return list(session.connection().execute(query))


def statements_by_seq(session: Session, tenant: str, seqs: Sequence[int]) -> dict[int, Any]:
    """The statements of ``tenant`` at these positions (same row shape as :func:`statements_after`)."""
    s = LrsStatement
    query = select(s.seq, s.statement_id, s.payload, s.attachment_hashes, s.stored).where(
        s.tenant == tenant, s.seq.in_(list(seqs))
    )
    return {r.seq: r for r in session.connection().execute(query)} if seqs else {}


def count_after(session: Session, tenant: str, after_seq: int, cap: int) -> int:
    """How many statements of ``tenant`` follow ``after_seq``, counted up to ``cap + 1``."""
    sub = (
        select(LrsStatement.seq)
        .where(LrsStatement.tenant == tenant, LrsStatement.seq > after_seq)
        .limit(cap + 1)
        .subquery()
    )
    return int(session.connection().scalar(select(func.count()).select_from(sub)) or 0)
