"""LRS storage: statements (write, void, query with paging), attachments, activities, documents.

Every function takes a SQLAlchemy session and a tenant; every query filters by the tenant.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, false, func, select, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from lti_tool.storage.models import (
    LrsActivity,
    LrsAttachment,
    LrsDocument,
    LrsStatement,
    LrsStatementActivity,
    LrsStatementAgent,
)
from scorm.xapi.formats import parse_timestamp, truncate_duration
from scorm.xapi.normalize import agent_key, index_keys

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
MAX_LIMIT = 500
# Properties the LRS assigns (xAPI Data 2.3.1, first exception); ``timestamp`` is compared on its own.
_IGNORED_IN_COMPARISON = ("stored", "authority", "version", "id", "timestamp")


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


class _Driver:
    """The statement write path at the driver level, in the session's transaction.

    A batch of 50 statements is five statements of SQL; through SQLAlchemy Core each one pays for
    its cache key, parameter processing and result set-up, which cost more CPU than SQLite spends
    on the rows. Here the SQL is written once per dialect (SQLite and PostgreSQL; ``None`` for any
    other dialect, which keeps the Core path) and the values go through the same bind processors
    SQLAlchemy would apply, so the stored values are identical.
    """

    def __init__(self, conn: Any) -> None:
        self.dialect = conn.dialect
        self.mark = "?" if self.dialect.name == "sqlite" else "%s"
        self.owner = conn.connection.dbapi_connection
        self.cursor = conn.connection.cursor()
        # SQLite before 3.32 allows 999 variables per statement; PostgreSQL 65,535
        self.max_params = 999 if self.dialect.name == "sqlite" else 30_000

    @classmethod
    def of(cls, session: Session) -> _Driver | None:
        """The driver of the session's connection (one cursor per pooled connection, kept in its info)."""
        transaction = session.get_transaction()
        known = session.info.get("cbsi_lrs_driver")
        if transaction is not None and known is not None and known[0] is transaction:
            return known[1]  # type: ignore[no-any-return]  # same transaction: same connection
        conn = session.connection()
        if conn.dialect.name not in ("sqlite", "postgresql"):
            return None
        driver = conn.info.get("cbsi_lrs_driver")
        if driver is None or driver.owner is not conn.connection.dbapi_connection:
            driver = conn.info["cbsi_lrs_driver"] = cls(conn)
        session.info["cbsi_lrs_driver"] = (session.get_transaction(), driver)
        return driver  # type: ignore[no-any-return]

    def run(self, sql: str, params: Any, *, many: bool = False) -> None:
        """Execute on the driver; its errors become SQLAlchemy's (IntegrityError and the rest), as through Core."""
        try:
            (self.cursor.executemany if many else self.cursor.execute)(sql, params)
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, params, exc, self.dialect.loaded_dbapi.Error) from exc

    def processors(self, table: Any, columns: Sequence[str]) -> list[Any]:
        key = (id(self.dialect), table.name, tuple(columns))
        found = _PROCESSORS.get(key)
        if found is None:
            found = _PROCESSORS[key] = [table.c[name].type.bind_processor(self.dialect) for name in columns]
        return found

    def values(self, table: Any, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        out = [[r[c] for c in columns] for r in rows]
        for i, proc in enumerate(self.processors(table, columns)):
            if proc is None:
                continue
            # column by column, the last value's conversion reused for the same object (a batch's
            # ``stored``, the booleans): one datetime formatted per batch instead of one per row
            last_in: Any = _MISSING
            last_out: Any = None
            for values in out:
                value = values[i]
                if value is None:
                    continue
                if value is not last_in:
                    last_in, last_out = value, proc(value)
                values[i] = last_out
        return out

    def insert_many(self, table: Any, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
        marks = ", ".join([self.mark] * len(columns))
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - names from the models
        self.run(sql, self.values(table, columns, rows), many=True)

    def insert_returning(
        self, table: Any, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], returning: str
    ) -> list[tuple[Any, ...]]:
        """Multi-row INSERT ... RETURNING (order not guaranteed: return a column to match rows by)."""
        values = self.values(table, columns, rows)
        one = "(" + ", ".join([self.mark] * len(columns)) + ")"
        step = max(1, self.max_params // len(columns))
        out: list[tuple[Any, ...]] = []
        for i in range(0, len(values), step):
            chunk = values[i : i + step]
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608
            self.run(sql + f"RETURNING {returning}", [v for row in chunk for v in row])
            out += self.cursor.fetchall()
        return out

    def select_in(self, sql: str, first: Sequence[Any], many: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``sql`` ends with ``IN``; its other markers are ``{}``; ``many`` fills the IN list in chunks."""
        out: list[tuple[Any, ...]] = []
        head = sql.replace("{}", self.mark)
        for i in range(0, len(many), 500):
            chunk = list(many[i : i + 500])
            self.run(f"{head} ({', '.join([self.mark] * len(chunk))})", [*first, *chunk])
            out += self.cursor.fetchall()
        return out


_MISSING = object()
_PROCESSORS: dict[tuple[int, str, tuple[str, ...]], list[Any]] = {}
_STATEMENT_COLUMNS = (
    "tenant", "statement_id", "registration", "verb_id", "ref_target", "voided", "is_voiding", "stored",
    "timestamp", "credential_id", "payload", "attachment_hashes",
)  # fmt: skip


def _comparable(statement: Mapping[str, Any]) -> Any:
    """The parts of a statement that xAPI's Statement Comparison Requirements compare (Data 2.3.1).

    Ignored, as the immutability exceptions allow: what the LRS assigns (id, authority, stored,
    version), the serialisation of timestamps (compared as instants), Activity definitions and verb
    displays (not part of the statement), the order of Group members, and the case of case-insensitive
    values (UUIDs, hex hashes, the domain of an mbox). ``result.duration`` is compared as a string, at
    the 0.01 s precision xAPI 2.0 lets an LRS keep.
    """
    body = _comparable_body(statement)
    sub = body.get("object")
    if isinstance(sub, dict) and sub.get("objectType") == "SubStatement":
        body["object"] = _comparable_body(sub)
    return body


def _comparable_body(statement: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: _case_folded(k, v) for k, v in statement.items() if k not in _IGNORED_IN_COMPARISON}
    verb = body.get("verb")
    if isinstance(verb, dict):
        body["verb"] = {k: v for k, v in verb.items() if k != "display"}
    obj = body.get("object")
    if isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity":
        body["object"] = {k: v for k, v in obj.items() if k != "definition"}
    context = body.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        ca = context["contextActivities"]
        context["contextActivities"] = {
            k: [{kk: vv for kk, vv in a.items() if kk != "definition"} if isinstance(a, dict) else a for a in v]
            if isinstance(v, list) else v
            for k, v in ca.items()
        }  # fmt: skip
    result = body.get("result")
    if isinstance(result, dict) and isinstance(result.get("duration"), str):
        body["result"] = {**result, "duration": truncate_duration(result["duration"])}
    return body


_CASELESS = frozenset({"registration", "mbox_sha1sum", "sha2"})


def _case_folded(key: str, node: Any) -> Any:
    """``node`` with case-insensitive values lower-cased and Group members in a canonical order."""
    if isinstance(node, dict):
        out = {k: _case_folded(k, v) for k, v in node.items()}
        if out.get("objectType") == "StatementRef" and isinstance(out.get("id"), str):
            out["id"] = out["id"].lower()
        if key == "statement" and isinstance(out.get("id"), str):  # context.statement (a StatementRef)
            out["id"] = out["id"].lower()
        if isinstance(out.get("member"), list):
            out["member"] = sorted(out["member"], key=lambda m: json.dumps(m, sort_keys=True))
        return out
    if isinstance(node, list):
        return [_case_folded(key, v) for v in node]
    if isinstance(node, str):
        if key in _CASELESS:
            return node.lower()
        if key == "mbox" and "@" in node:
            local, _, domain = node.rpartition("@")
            return f"{local}@{domain.lower()}"
    return node


def same_statement(stored: Mapping[str, Any], resent: Mapping[str, Any], *, timestamp_assigned: bool = False) -> bool:
    """Whether ``resent`` is the stored statement again, by xAPI's Statement Comparison Requirements.

    A resent statement sent without a ``timestamp`` (none, or ``timestamp_assigned`` by the LRS)
    matches any stored one (the LRS assigns a missing timestamp); with one, both name the same instant.
    """
    if _comparable(stored) != _comparable(resent):
        return False
    if timestamp_assigned or "timestamp" not in resent:
        return True
    return parse_timestamp(stored.get("timestamp")) == parse_timestamp(resent.get("timestamp"))


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
    driver = _Driver.of(session)
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


def new_statements(session: Session, tenant: str, batch: Sequence[NewStatement]) -> list[NewStatement]:
    """The statements of ``batch`` not stored yet: a resent statement (same id, same content) is dropped.

    xAPI Communication 2.1.1/2.1.2: receiving a statement whose id is stored changes nothing; the
    request still succeeds when the content matches (Data 2.3.1 comparison), 409 when it does not.

    Raises:
        LrsBadRequest: two statements of the batch share an id (Communication 2.1.1: reject the batch).
        LrsConflict: an id is stored with different content.
    """
    ids = [n.statement["id"].lower() for n in batch]
    if len(set(ids)) != len(ids):
        twice = next(sid for i, sid in enumerate(ids) if sid in ids[:i])
        raise LrsBadRequest(f"the batch holds two statements with the same id {twice}")
    existing = existing_statements(session, tenant, ids)
    if not existing:
        return list(batch)
    fresh: list[NewStatement] = []
    for new, sid in zip(batch, ids, strict=True):
        if sid not in existing:
            fresh.append(new)
        elif not same_statement(existing[sid], new.statement, timestamp_assigned=new.timestamp_assigned):
            raise LrsConflict(
                f"statement {sid} is already stored with different content (differs in: "
                f"{', '.join(differing_properties(existing[sid], new.statement, new.timestamp_assigned))}); "
                "a statement cannot be changed, send it under a new id"
            )
    return fresh


def differing_properties(stored: Mapping[str, Any], resent: Mapping[str, Any], timestamp_assigned: bool) -> list[str]:
    """The top-level properties in which two statements differ by the comparison rules."""
    a, b = _comparable(stored), _comparable(resent)
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if not timestamp_assigned and "timestamp" in resent:
        if parse_timestamp(stored.get("timestamp")) != parse_timestamp(resent["timestamp"]):
            keys.append("timestamp")
    return keys or ["?"]


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
    rows: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    for new in todo:
        st = new.statement
        row = _statement_row(tenant, new, credential_id=credential_id, stored=stored)
        if row["is_voiding"] and row["ref_target"]:
            voiding_targets[row["ref_target"]] = row["statement_id"]
        rows.append(row)
        fresh.append(st)
    if voiding_targets:
        _refuse_voiding_of_voiding(session, tenant, voiding_targets, rows)
    if not rows:
        return ids
    seqs = _insert_rows(session, rows)
    _insert_links(session, fresh, seqs)
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
    _remember_activities(session, tenant, fresh)
    return ids


def _statement_row(tenant: str, new: NewStatement, *, credential_id: int | None, stored: datetime) -> dict[str, Any]:
    """The ``lrs_statements`` row of a new statement."""
    st = new.statement
    obj = st["object"]
    ref = obj["id"].lower() if obj.get("objectType") == "StatementRef" else None
    is_voiding = st["verb"]["id"] == VOIDED
    registration = (st.get("context") or {}).get("registration")
    ts = stored if new.timestamp_assigned else parse_timestamp(st.get("timestamp")) or stored
    return {
        "tenant": tenant,
        "statement_id": st["id"].lower(),
        "registration": registration.lower() if registration else None,
        "verb_id": st["verb"]["id"],
        "ref_target": ref,
        "voided": False,
        "is_voiding": is_voiding,
        "stored": stored,
        "timestamp": ts,
        "credential_id": credential_id,
        "payload": dumps(st),
        "attachment_hashes": dumps(new.attachment_hashes) if new.attachment_hashes else None,
    }


def _refuse_voiding_of_voiding(
    session: Session, tenant: str, voiding_targets: Mapping[str, str], rows: Sequence[Mapping[str, Any]]
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
    batch_voiding = {r["statement_id"] for r in rows if r["is_voiding"]}
    for target_id, target_is_voiding in targets:
        if target_is_voiding:
            raise LrsBadRequest(f"statement {voiding_targets[target_id]} voids {target_id}, a voiding statement")
    for target in voiding_targets:
        if target in batch_voiding:
            raise LrsBadRequest(f"statement {voiding_targets[target]} voids {target}, a voiding statement")


def _insert_links(session: Session, statements: Sequence[Mapping[str, Any]], seqs: Sequence[int]) -> None:
    """The agent and activity index rows of the stored statements."""
    link_agents: list[dict[str, Any]] = []
    link_acts: list[dict[str, Any]] = []
    for st, seq in zip(statements, seqs, strict=True):
        # one row per name: direct (actor/object) rows serve both filters, the others only related_*
        d_agents, o_agents, d_acts, o_acts = index_keys(st)
        link_agents += [{"seq": seq, "agent_key": k, "direct": True} for k in d_agents]
        link_agents += [{"seq": seq, "agent_key": k, "direct": False} for k in o_agents]
        link_acts += [{"seq": seq, "activity_id": a, "direct": True} for a in d_acts]
        link_acts += [{"seq": seq, "activity_id": a, "direct": False} for a in o_acts]
    driver = _Driver.of(session)
    if link_agents:
        if driver is not None:
            driver.insert_many(LrsStatementAgent.__table__, ("seq", "agent_key", "direct"), link_agents)
        else:
            session.connection().execute(LrsStatementAgent.__table__.insert(), link_agents)
    if link_acts:
        if driver is not None:
            driver.insert_many(LrsStatementActivity.__table__, ("seq", "activity_id", "direct"), link_acts)
        else:
            session.connection().execute(LrsStatementActivity.__table__.insert(), link_acts)


def _insert_rows(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    table = LrsStatement.__table__
    driver = _Driver.of(session)
    if driver is not None:
        seq_of = dict(
            (sid, seq) for seq, sid in driver.insert_returning(table, _STATEMENT_COLUMNS, rows, "seq, statement_id")
        )
        return [seq_of[r["statement_id"]] for r in rows]
    result = session.connection().execute(table.insert().returning(table.c.seq, sort_by_parameter_order=True), rows)
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
    driver = _Driver.of(session)
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


@dataclass(frozen=True)
class DocKey:
    """Which document set: kind, activity, agent, registration ("" when not part of the key)."""

    kind: str
    activity_id: str = ""
    agent_key: str = ""
    registration: str = ""


def etag_of(content: bytes) -> str:
    """The document's entity tag (SHA-1 of its bytes, as most LRSs use)."""
    return hashlib.sha1(content).hexdigest()  # noqa: S324 - an ETag, not a security hash


def _doc_where(tenant: str, key: DocKey) -> list[Any]:
    d = LrsDocument
    return [
        d.tenant == tenant,
        d.kind == key.kind,
        d.activity_id == key.activity_id,
        d.agent_key == key.agent_key,
        d.registration == key.registration,
    ]


def get_document(session: Session, tenant: str, key: DocKey, doc_id: str) -> LrsDocument | None:
    """One document."""
    return session.scalars(select(LrsDocument).where(*_doc_where(tenant, key), LrsDocument.doc_id == doc_id)).first()


def list_documents(
    session: Session, tenant: str, key: DocKey, since: datetime | None
) -> tuple[list[str], datetime | None]:
    """Ids of the documents of ``key`` (updated after ``since``), and the newest update."""
    conds = _doc_where(tenant, key)
    if since is not None:
        conds.append(LrsDocument.updated > since)
    rows = session.execute(select(LrsDocument.doc_id, LrsDocument.updated).where(*conds).order_by(LrsDocument.id)).all()
    newest = max((r.updated for r in rows), default=None)
    return [r.doc_id for r in rows], newest


def put_document(
    session: Session, tenant: str, key: DocKey, doc_id: str, content: bytes, content_type: str, now: datetime
) -> None:
    """Create or replace a document."""
    row = get_document(session, tenant, key, doc_id)
    if row is None:
        session.add(
            LrsDocument(
                tenant=tenant, kind=key.kind, activity_id=key.activity_id, agent_key=key.agent_key,
                registration=key.registration, doc_id=doc_id, content_type=content_type, content=content,
                etag=etag_of(content), updated=now,
            )
        )  # fmt: skip
    else:
        row.content, row.content_type, row.etag, row.updated = content, content_type, etag_of(content), now
    session.flush()


def delete_documents(session: Session, tenant: str, key: DocKey, doc_id: str | None) -> None:
    """Delete one document, or every document of ``key``."""
    conds = _doc_where(tenant, key)
    if doc_id is not None:
        conds.append(LrsDocument.doc_id == doc_id)
    session.execute(delete(LrsDocument).where(*conds))


def agent_key_or_none(agent: Mapping[str, Any]) -> str | None:
    """Re-exported :func:`scorm.xapi.agent_key` (document keys)."""
    return agent_key(agent)


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
