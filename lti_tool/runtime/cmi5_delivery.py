"""cmi5 AU delivery: launch an AU, hand out its LRS credential once, judge what it sends.

The LMS side of cmi5 (spec §8–§10) over the built-in LRS, with the rules in ``scorm.xapi.cmi5``
and the LMS's builders in ``scorm.xapi.cmi5_lms``:

* :func:`launch_au`: one transaction. An AU session still open in the attempt is ended with an
  ``abandoned`` statement (its duration) and its credential expired; a new session gets its id,
  ``LMS.LaunchData`` is written to the State API for (activityId, actor, registration), the
  ``launched`` statement is recorded, and the AU's launch URL carries the five cmi5 parameters
  with a one-time fetch URL.
* :func:`fetch_token`: the fetch URL's answer: ``{"auth-token": …}`` the first time (a launch
  credential scoped to the learner, registration and AU activity, expiring with the session),
  the spec's error JSON with ``error-code`` "1" after that.
* :class:`StatementHook`: the LRS calls it for statements posted with a cmi5 session's
  credential: each is judged (a violation is rejected whole batch, cmi5 §6.3), and accepted ones
  update the session and the AU's record in the LRS's transaction; then moveOn is evaluated, the
  ``satisfied`` statements of blocks and the course are recorded (once per registration) and the
  attempt's outcome goes to the outcome listeners (the grade outbox) exactly like SCORM's.

The cmi5 registration is the attempt id read as a UUID (:func:`registration_of`); activity ids
of AUs, blocks and the course are generated under the tool's base URL (§9.4: never the
publisher's ids, which go into the context's grouping).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lti_tool.lrs.credentials import Credential, expire_launch_credential, mint_launch_credential
from lti_tool.lrs.identity import learner_agent, learner_agent_key, learner_tenant
from lti_tool.lrs.recording import CMI5_LEARNER_PREFERENCES, put_agent_profile, put_state, record_statements
from lti_tool.lti.platforms import get_platform
from lti_tool.runtime import cmi5_store
from lti_tool.runtime import store as runtime_store
from lti_tool.runtime.commits import store_outcome
from lti_tool.runtime.deliveries import DeliveryKind, lrs_reporting
from lti_tool.runtime.errors import AttemptNotFound, ItemNotFound
from lti_tool.services import Services
from lti_tool.storage import courses, learners
from scorm.outcome import Completion, Outcome, Success
from scorm.packaging import DEFAULT_LIMITS, parse_manifest_bytes
from scorm.packaging.cmi5 import Cmi5AU, Cmi5Block, Cmi5Course
from scorm.xapi import agent_key
from scorm.xapi.cmi5 import (
    ABANDONED,
    COMPLETED,
    FAILED,
    LAUNCH_DATA,
    PASSED,
    SATISFIED,
    TERMINATED,
    TYPE_BLOCK,
    TYPE_COURSE,
    AuRecord,
    AuSession,
    LaunchMode,
    SessionState,
    judge,
)
from scorm.xapi.cmi5_lms import iso_duration, launch_data, launch_url, launched_statement, lms_statement, satisfaction

if TYPE_CHECKING:
    from lti_tool.storage.models import Attempt, Cmi5AuSession, CourseVersion

#: How long an AU session (and its LRS credential) lives without a new launch.
SESSION_TTL = timedelta(hours=12)
FETCH_PATH = "/cmi5/fetch/"
#: cmi5 §8.2.3 error codes of the fetch URL.
FETCH_ALREADY_USED = "1"
FETCH_SECURITY_ERROR = "2"


def registration_of(attempt_id: str) -> str:
    """The cmi5 registration of an attempt: its id (32 hex digits) as a UUID, else a UUID derived from it."""
    try:
        return str(uuid.UUID(hex=attempt_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cbsi-connect:attempt:{attempt_id}"))


@functools.lru_cache(maxsize=128)
def _course(path: str) -> Cmi5Course:
    parsed = parse_manifest_bytes(Path(path).read_bytes(), file="cmi5.xml", limits=DEFAULT_LIMITS)
    if not isinstance(parsed, Cmi5Course):
        raise ItemNotFound("this course version has no cmi5 course structure")
    return parsed


def course_structure(services: Services, version: CourseVersion) -> Cmi5Course:
    """The version's cmi5 course structure (parsed once per process and file)."""
    manifest_file = str(version.structure.get("manifest_file", "cmi5.xml"))
    return _course(str(services.settings.content_path / version.content_dir / manifest_file))


def node_activity_id(base_url: str, version: CourseVersion, node_id: str) -> str:
    """The activity id the tool generates for an AU, block or course of a catalogue course (§9.4)."""
    return f"{base_url.rstrip('/')}/xapi/activities/cmi5/{version.course_id}/{cmi5_store.node_key(node_id)[:40]}"


def _find_au(course: Cmi5Course, au_id: str) -> Cmi5AU:
    for au in course.aus():
        if au.id == au_id:
            return au
    raise ItemNotFound(f"this course has no AU {au_id!r}")


def _blocks(node: Cmi5Course | Cmi5Block) -> list[Cmi5Block]:
    found: list[Cmi5Block] = []
    for child in node.children:
        if isinstance(child, Cmi5Block):
            found.append(child)
            found.extend(_blocks(child))
    return found


@dataclass(frozen=True, kw_only=True)
class LrsLearner:
    """Who launches cmi5 or TinCan content: the platform (its LRS tenant) and the LMS's issuer and ``sub``."""

    platform_id: int
    issuer: str
    sub: str

    @property
    def tenant(self) -> str:
        """The learner's LRS tenant: their platform's."""
        return learner_tenant(self.platform_id)

    @property
    def actor(self) -> dict[str, Any]:
        """The learner as an xAPI agent: an account on the LMS's issuer (no name or e-mail address)."""
        return learner_agent(self.issuer, self.sub)

    @property
    def actor_key(self) -> str:
        """The agent key the LRS stores documents of :attr:`actor` under."""
        return learner_agent_key(self.issuer, self.sub)


@dataclass(frozen=True, kw_only=True)
class Cmi5Launch:
    """A started AU session: where the player sends the learner and how (``launch_method``)."""

    session_id: str
    registration: str
    au_id: str
    activity_id: str
    url: str
    launch_method: str
    fetch_url: str


def learner_of(services: Services, attempt_id: str) -> LrsLearner:
    """Who plays an attempt (its registration's platform and ``sub``, the platform's issuer)."""
    with services.db.session() as s:
        attempt, _version = runtime_store.active_attempt(s, attempt_id)
        reg = learners.registration_by_id(s, attempt.registration_id)
        if reg is None:  # pragma: no cover - FK
            raise AttemptNotFound()
        platform_id, sub = reg.platform_id, reg.learner_sub
    return LrsLearner(platform_id=platform_id, issuer=get_platform(services.db, platform_id).issuer, sub=sub)


def _now() -> datetime:
    return datetime.now(UTC)


def _abandon(s: Session, services: Services, row: Cmi5AuSession, now: datetime) -> None:
    """End a session the AU never terminated: an ``abandoned`` statement with its duration (§9.3.6)."""
    base = services.settings.server.base_url
    started = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=UTC)
    statement = lms_statement(
        ABANDONED,
        actor=row.actor,
        registration=row.registration,
        session_id=row.session_id,
        object_id=row.activity_id,
        publisher_id=row.au_id,
        timestamp=now,
        result={"duration": iso_duration((now - started).total_seconds())},
    )
    record_statements(s, row.tenant, [statement], base_url=base, now=now)
    cmi5_store.end_session(row, "abandoned", now)
    if row.credential_key:
        expire_launch_credential(s, row.credential_key, at=now)


def launch_au(
    services: Services,
    *,
    attempt_id: str,
    au_id: str,
    content_base: Callable[[int], str],
    return_url: str | None = None,
    launch_mode: LaunchMode = LaunchMode.NORMAL,
    language: str | None = None,
) -> Cmi5Launch:
    """Start a session of one AU of an active attempt (see the module docstring), in one transaction.

    The learner is the attempt's: their platform's LRS tenant, an account on its issuer named
    by their LMS ``sub`` (``lti_tool.lrs.identity``).

    Args:
        content_base: the URL prefix (ending in ``/``) a course version's files are served under.
        return_url: ``LMS.LaunchData``'s ``returnURL``: where the AU sends the learner when it exits.
        language: the learner's language (an RFC 5646 tag): ``cmi5LearnerPreferences``'s
            ``languagePreference``, written before the launch (``audioPreference`` is not known).

    Raises:
        AttemptNotFound, AttemptClosed, ItemNotFound.
    """
    base = services.settings.server.base_url.rstrip("/")
    learner = learner_of(services, attempt_id)
    with services.db.session() as s:
        attempt, version = runtime_store.active_attempt(s, attempt_id)
        au = _find_au(course_structure(services, version), au_id)
        now = _now()
        for old in cmi5_store.open_sessions(s, attempt.id, au.id):
            _abandon(s, services, old, now)
        registration = registration_of(attempt.id)
        actor, actor_key, tenant = learner.actor, learner.actor_key, learner.tenant
        activity_id = node_activity_id(base, version, au.id)
        session_id = str(uuid.uuid4())
        token = secrets.token_urlsafe(32)
        fetch_url = f"{base}{FETCH_PATH}{token}"
        au_url = au.url if "://" in au.url else content_base(version.id) + au.url
        url = launch_url(
            au_url, endpoint=f"{base}/xapi/", fetch=fetch_url, actor=actor, registration=registration,
            activity_id=activity_id,
        )  # fmt: skip
        document = launch_data(au, session_id=session_id, launch_mode=launch_mode, return_url=return_url)
        put_state(
            s, tenant, activity_id=activity_id, agent_key=actor_key, registration=registration,
            state_id=LAUNCH_DATA, document=document, now=now,
        )  # fmt: skip
        put_agent_profile(
            s, tenant, agent_key=actor_key, profile_id=CMI5_LEARNER_PREFERENCES,
            document=learner_preferences(language), now=now,
        )  # fmt: skip
        launched = launched_statement(
            au, actor=actor, registration=registration, session_id=session_id, activity_id=activity_id,
            launch_url=au_url, launch_mode=launch_mode, timestamp=now,
        )  # fmt: skip
        record_statements(s, tenant, [launched], base_url=base, now=now)
        cmi5_store.new_session(
            s, session_id=session_id, attempt_id=attempt.id, au_key=cmi5_store.node_key(au.id), au_id=au.id,
            registration=registration, activity_id=activity_id, tenant=tenant, actor_key=actor_key,
            actor=actor, launch_mode=launch_mode.value, mastery_score=au.mastery_score, verbs=[],
            status="open", fetch_hash=_digest(token), expires_at=now + SESSION_TTL, started_at=now,
        )  # fmt: skip
        attempt.current_item = au.id
        return Cmi5Launch(
            session_id=session_id, registration=registration, au_id=au.id, activity_id=activity_id, url=url,
            launch_method=str(au.launch_method.value), fetch_url=fetch_url,
        )  # fmt: skip


def learner_preferences(language: str | None, audio: str | None = None) -> dict[str, str]:
    """The ``cmi5LearnerPreferences`` document (cmi5 §11): ``languagePreference`` a comma-separated
    list of RFC 5646 tags, ``audioPreference`` "on"/"off"; a value the LMS does not know is left out."""
    document: dict[str, str] = {}
    if language:
        document["languagePreference"] = language.replace("_", "-")
    if audio in ("on", "off"):
        document["audioPreference"] = audio
    return document


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fetch_token(services: Services, token: str) -> dict[str, str]:
    """The answer of the session's fetch URL (cmi5 §8.2): the auth token once, then error code 1."""
    with services.db.session() as s:
        row = cmi5_store.session_by_fetch(s, _digest(token))
        now = _now()
        if row is None:
            return _fetch_error(FETCH_SECURITY_ERROR, "this fetch URL is unknown")
        if row.fetched_at is not None:
            return _fetch_error(FETCH_ALREADY_USED, "this fetch URL was already used: launch the AU again")
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if row.status != "open" or expires <= now:
            return _fetch_error(FETCH_SECURITY_ERROR, "this AU session has ended: launch the AU again")
        issued = mint_launch_credential(
            s, tenant=row.tenant, registration=row.registration, activity_id=row.activity_id, agent=row.actor,
            ttl=expires - now, name="cmi5 session", now=now,
        )  # fmt: skip
        row.fetched_at = now
        row.credential_key = issued.key
        return {"auth-token": base64.b64encode(f"{issued.key}:{issued.secret}".encode()).decode()}


def _fetch_error(code: str, text: str) -> dict[str, str]:
    return {"error-code": code, "error-text": text}


def _au_record(row: Any) -> AuRecord:
    if row is None:
        return AuRecord()
    return AuRecord(
        completed=row.completed, passed=row.passed, failed=row.failed, waived=row.waived,
        score_scaled=row.score_scaled,
    )  # fmt: skip


class StatementHook:
    """The cmi5 rules for one batch posted with a cmi5 session's credential (see the module docstring)."""

    def __init__(self, s: Session, services: Services, row: Cmi5AuSession) -> None:
        self._s, self._services, self._row = s, services, row
        self._au = AuSession(
            session_id=row.session_id, registration=row.registration, activity_id=row.activity_id,
            publisher_id=row.au_id, actor_key=row.actor_key, launch_mode=LaunchMode(row.launch_mode),
            mastery_score=row.mastery_score,
        )  # fmt: skip
        self._session = SessionState(
            verbs=frozenset(row.verbs or ()),
            terminated=row.status == "terminated",
            abandoned=row.status == "abandoned",
        )
        self._record_row = cmi5_store.records(s, row.attempt_id).get(row.au_id)
        self._record = _au_record(self._record_row)
        self._verbs: set[str] = set()

    def judge(self, statements: Sequence[Mapping[str, Any]]) -> None:
        """Judge the batch in order.

        Raises:
            Cmi5Violation: a statement breaks a cmi5 rule (the whole batch is refused).
        """
        session, record = self._session, self._record
        for statement in statements:
            verdict = judge(statement, self._au, session, record, actor_key=agent_key(statement.get("actor") or {}))
            if verdict.kind == "defined":
                self._verbs.add(str(statement["verb"]["id"]))
            session, record = verdict.session, verdict.record
        self._session, self._record = session, record

    def apply(self, now: datetime | None = None) -> None:
        """Store the accepted batch's effect on the session and the AU record; then moveOn and the outcome."""
        if not self._verbs:
            return
        now = now or _now()
        row = self._row
        row.verbs = sorted(self._session.verbs)
        if self._session.terminated:
            cmi5_store.end_session(row, "terminated", now)
        rec = cmi5_store.record(self._s, row.attempt_id, row.au_id, "au")
        rec.completed, rec.passed, rec.failed = self._record.completed, self._record.passed, self._record.failed
        rec.score_scaled = self._record.score_scaled
        rec.updated_at = now
        if self._verbs & {PASSED, FAILED, COMPLETED, TERMINATED}:
            _move_on(self._s, self._services, row, now)


def statement_hook(s: Session, services: Services, credential: Credential | None) -> StatementHook | None:
    """The cmi5 hook for a request authenticated by ``credential``, or None (not a cmi5 session's)."""
    if credential is None or not credential.is_launch:
        return None
    row = cmi5_store.session_by_credential(s, credential.key)
    return StatementHook(s, services, row) if row is not None else None


def _move_on(s: Session, services: Services, row: Cmi5AuSession, now: datetime) -> None:
    """Evaluate moveOn; record ``satisfied`` for newly satisfied blocks and the course; send the outcome."""
    attempt = learners.attempt_by_id(s, row.attempt_id)
    if attempt is None:  # pragma: no cover - FK
        return
    version = courses.version_by_id(s, attempt.course_version_id)
    if version is None:  # pragma: no cover - FK
        return
    course = course_structure(services, version)
    rows = cmi5_store.records(s, attempt.id)
    records = {node: _au_record(r) for node, r in rows.items() if r.kind == "au"}
    result = satisfaction(course, records)
    base = services.settings.server.base_url
    newly: list[tuple[str, str, str]] = [
        (block.id, "block", TYPE_BLOCK) for block in _blocks(course) if block.id in result.blocks
    ]
    if result.course:
        newly.append((course.id, "course", TYPE_COURSE))
    statements = []
    for node_id, kind, object_type in newly:
        rec = cmi5_store.record(s, attempt.id, node_id, kind)
        if rec.satisfied_at is not None:
            continue
        rec.satisfied_at = now
        statements.append(
            lms_statement(
                SATISFIED, actor=row.actor, registration=row.registration, session_id=row.session_id,
                object_id=node_activity_id(base, version, node_id), publisher_id=node_id, timestamp=now,
                object_type=object_type,
            )
        )  # fmt: skip
    if statements:
        record_statements(s, row.tenant, statements, base_url=base, now=now)
    send_outcome(s, services, attempt, course_outcome(course, records, satisfied=result.course), now)


def course_outcome(course: Cmi5Course, records: Mapping[str, AuRecord], *, satisfied: bool) -> Outcome:
    """The attempt's outcome: mean scaled score of the scored AUs, completed once the course is satisfied."""
    scores = [records[au.id].score_scaled for au in course.aus() if au.id in records]
    known = [score for score in scores if score is not None]
    passed = any(records.get(au.id, AuRecord()).passed for au in course.aus())
    failed = any(records.get(au.id, AuRecord()).failed for au in course.aus())
    success = Success.PASSED if satisfied and passed else Success.FAILED if failed and not passed else Success.UNKNOWN
    return Outcome(
        score_scaled=sum(known) / len(known) if known else None,
        completion=Completion.COMPLETED if satisfied else Completion.INCOMPLETE,
        success=success,
        is_final=satisfied,
    )


def send_outcome(s: Session, services: Services, attempt: Attempt, outcome: Outcome, now: datetime) -> None:
    """Store the attempt's outcome, stamped ``now``, as SCORM commits do (:func:`commits.store_outcome`)."""
    store_outcome(s, services, attempt, replace(outcome, changed_at=now), now)


# -- the registry entry ------------------------------------------------------------------------------


CMI5 = lrs_reporting(DeliveryKind.CMI5_AU, "cmi5", "cmi5", "player/cmi5.html")
