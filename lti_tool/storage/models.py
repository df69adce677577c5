"""ORM models. The schema itself changes only through migrations (``migrations/versions``).

Every row that holds learner data carries its tenant; see DESIGN.md §7.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class PlatformStatus(enum.StrEnum):
    """Lifecycle of a registered LMS platform."""

    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


class AttemptStatus(enum.StrEnum):
    """Lifecycle of a learner's attempt (the values of ``ck_attempts_status``)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class KeyStatus(enum.StrEnum):
    """Lifecycle of a tool signing key."""

    ACTIVE = "active"
    RETIRED = "retired"


class Platform(Base):
    """An LMS registration: issuer + client_id (one issuer may hold several client ids)."""

    __tablename__ = "platforms"
    __table_args__ = (
        UniqueConstraint("issuer", "client_id", name="uq_platforms_issuer_client"),
        CheckConstraint("status IN ('pending','active','disabled')", name="ck_platforms_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    key_set_url: Mapped[str] = mapped_column(String(1024))
    auth_audience: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=PlatformStatus.PENDING.value)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_launch_at: Mapped[datetime | None] = mapped_column(nullable=True)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="Deployment.id"
    )


class Deployment(Base):
    """A deployment id of a platform; launches from unknown deployments are refused."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id", name="uq_deployments_platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class ToolKey(Base):
    """Public half and lifecycle of a tool signing key; the private PEM stays in ``keys/``."""

    __tablename__ = "tool_keys"
    __table_args__ = (CheckConstraint("status IN ('active','retired')", name="ck_tool_keys_status"),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=KeyStatus.ACTIVE.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(nullable=True)


class LaunchState(Base):
    """OIDC login state and nonce, server side, single use, with expiry (DESIGN.md §5.3)."""

    __tablename__ = "launch_states"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), unique=True)
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    target_link_uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # What the platform sent to ``/lti/login`` beside the state: enough to restart the login when
    # the state cookie does not come back (third-party cookies blocked): the client-side
    # postMessage storage target, or a relaunch in a new window with the same hints.
    login_hint: Mapped[str | None] = mapped_column(Text, nullable=True)
    lti_message_hint: Mapped[str | None] = mapped_column(Text, nullable=True)
    deployment_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    storage_target: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Course(Base):
    """A catalogue course; its content lives in versions."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(35), default="")
    standard: Mapped[str] = mapped_column(String(16))
    attempt_policy: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # set by the operator; deep links and the picker show it instead of the package's title
    display_title: Mapped[str | None] = mapped_column(String(512), nullable=True)

    versions: Mapped[list[CourseVersion]] = relationship(
        back_populates="course", order_by="CourseVersion.version", cascade="all, delete-orphan"
    )


class CourseVersion(Base):
    """One imported package of a course. Running attempts stay pinned to their version."""

    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("course_id", "version", name="uq_course_versions_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    standard: Mapped[str] = mapped_column(String(16))
    edition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    title: Mapped[str] = mapped_column(String(512))
    launchable_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_dir: Mapped[str] = mapped_column(String(255), unique=True)
    # the parsed manifest can be large (1,000-AU cmi5 courses): loaded only when read
    structure: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    source_name: Mapped[str] = mapped_column(String(512), default="")
    imported_by: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship(back_populates="versions")


class Operator(Base):
    """A person who runs the service (admin pages); the password is stored as an scrypt hash."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)


class OperatorSession(Base):
    """A logged-in operator's session, server side: the cookie holds a random id, the row its SHA-256.

    Logging out deletes the row, so an old cookie is worthless; ``expires_at`` is the absolute
    end, ``last_seen_at`` drives the idle timeout.
    """

    __tablename__ = "operator_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    client_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RateLimitCounter(Base):
    """One fixed-window counter of ``lti_tool.ratelimit`` (bucket + window index), shared by all nodes."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_ends_at: Mapped[datetime] = mapped_column(index=True)


class LearnerRegistration(Base):
    """One learner on one resource link of one tenant: the unit that owns attempts and a grade.

    Tenant = (platform, deployment). ``course_version_id`` is the version the current attempt
    is pinned to.
    """

    __tablename__ = "learner_registrations"
    __table_args__ = (
        UniqueConstraint(
            "platform_id", "deployment_id", "resource_link_id", "learner_sub", name="uq_registrations_learner_link"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    context_title: Mapped[str | None] = mapped_column(String(512), nullable=True)
    resource_link_id: Mapped[str] = mapped_column(String(255))
    resource_link_title: Mapped[str | None] = mapped_column(String(512), nullable=True)
    learner_sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    is_learner: Mapped[bool] = mapped_column(default=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    ags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Attempt(Base):
    """One attempt at a course by a registration, pinned to one course version."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("registration_id", "number", name="uq_attempts_number"),
        CheckConstraint("status IN ('active','completed','abandoned')", name="ck_attempts_status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("learner_registrations.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    course_version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.ACTIVE.value)
    current_item: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sequencing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ScoState(Base):
    """The runtime data of one SCO (or asset) in one attempt: one JSON document, not rows per element."""

    __tablename__ = "sco_states"

    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    cmi_version: Mapped[str] = mapped_column(String(8))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    session_open: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_commit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LearnerSharedState(Base):
    """What SCORM 2004 shares across a learner's attempts and courses (one row per shared id).

    ``kind`` "objective": a global shared objective's tracking data (``objectivesGlobalToSystem``,
    SN 4.2.1.2), ``value`` the sequencer's record; "data": an ``adl.data`` store (RTE 4th §4.3),
    ``value`` the stored string. ``scope`` is "" for the learner's system-wide store, or the
    attempt id when the organization keeps shared data to the attempt
    (``sharedDataGlobalToSystem="false"``). Ids can be 4000 characters: ``key`` is their SHA-256.
    """

    __tablename__ = "learner_shared_state"
    __table_args__ = (CheckConstraint("kind IN ('objective','data')", name="ck_learner_shared_state_kind"),)

    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    learner_sub: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_id: Mapped[str] = mapped_column(Text)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Cmi5AuSession(Base):
    """One launch of one cmi5 AU (cmi5 §8, §9.6.3.1): what LMS.LaunchData said, the cmi5 defined
    verbs the AU sent so far, the one-time fetch URL (its SHA-256) and the LRS credential it gave out.
    The registration is derived from the attempt id (``lti_tool.runtime.cmi5_delivery``)."""

    __tablename__ = "cmi5_au_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('open','terminated','abandoned')", name="ck_cmi5_au_sessions_status"),
        Index("ix_cmi5_au_sessions_attempt", "attempt_id", "au_key"),
    )

    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    au_key: Mapped[str] = mapped_column(String(64))
    au_id: Mapped[str] = mapped_column(Text)
    registration: Mapped[str] = mapped_column(String(36))
    activity_id: Mapped[str] = mapped_column(Text)
    tenant: Mapped[str] = mapped_column(String(64))
    actor_key: Mapped[str] = mapped_column(Text)
    actor: Mapped[Any] = mapped_column(JSON)
    launch_mode: Mapped[str] = mapped_column(String(16))
    mastery_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    verbs: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    fetch_hash: Mapped[str] = mapped_column(String(64), unique=True)
    fetched_at: Mapped[datetime | None] = mapped_column(nullable=True)
    credential_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Cmi5AuRecord(Base):
    """What one cmi5 AU achieved in an attempt's registration, and when it, a block or the course
    was satisfied (``kind``; ``node_key`` is the SHA-256 of the publisher id)."""

    __tablename__ = "cmi5_au_records"
    __table_args__ = (CheckConstraint("kind IN ('au','block','course')", name="ck_cmi5_au_records_kind"),)

    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True)
    node_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(8))
    completed: Mapped[bool] = mapped_column(default=False)
    passed: Mapped[bool] = mapped_column(default=False)
    failed: Mapped[bool] = mapped_column(default=False)
    waived: Mapped[bool] = mapped_column(default=False)
    score_scaled: Mapped[float | None] = mapped_column(Float, nullable=True)
    satisfied_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ServiceToken(Base):
    """A cached OAuth2 access token for LTI Advantage services (AGS, NRPS).

    Keyed by (issuer, client_id, sorted scopes): two registrations of one issuer never share a
    token (the released pylti1p3 2.0.2 keys its cache without client_id, DESIGN.md §5.1).
    ``cache_key`` is the SHA-256 of that triple so the primary key stays short on every engine.
    Shared by every process through the database; ``expires_at`` already includes the margin.
    """

    __tablename__ = "service_tokens"

    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[str] = mapped_column(Text)
    access_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RosterCache(Base):
    """A Names and Role Provisioning roster pulled for one context (and resource link), with a TTL.

    Tenant columns (platform, deployment) are part of the key (DESIGN.md §7). ``link_key`` is the
    resource link id the roster was asked for ("" for a context-level request); ``level`` says
    which level the platform actually answered (``resource_link`` or ``context``).
    """

    __tablename__ = "roster_cache"
    __table_args__ = (
        UniqueConstraint("platform_id", "deployment_id", "context_id", "link_key", name="uq_roster_cache_key"),
        CheckConstraint("level IN ('resource_link','context')", name="ck_roster_cache_level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str] = mapped_column(String(255))
    link_key: Mapped[str] = mapped_column(String(255), default="")
    level: Mapped[str] = mapped_column(String(16))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    members: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LtiLaunch(Base):
    """A validated launch (``lti_tool.lti.context.Launch``), referenced by launch-scoped tokens."""

    __tablename__ = "lti_launches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    message_type: Mapped[str] = mapped_column(String(64))
    sub: Mapped[str | None] = mapped_column(String(255), nullable=True)
    context_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    resource_link_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class GradeOutbox(Base):
    """The grade outbox (DESIGN.md §5.6): one row per (platform, line item, learner), coalesced.

    ``status`` mirrors ``sync.model.OutboxStatus``; ``version`` increases with every payload
    replacement and every settle quotes it. ``platform_key`` is ``str(platforms.id)``.
    """

    __tablename__ = "grade_outbox"
    __table_args__ = (
        UniqueConstraint("platform_key", "line_item_key", "user_id", name="uq_grade_outbox_key"),
        CheckConstraint(
            "status IN ('pending','in_flight','delivered','superseded','dead')", name="ck_grade_outbox_status"
        ),
        CheckConstraint("status <> 'in_flight' OR lease_expires_at IS NOT NULL", name="ck_grade_outbox_lease"),
        Index("ix_grade_outbox_due", "status", "next_attempt_at"),
        Index("ix_grade_outbox_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform_key: Mapped[str] = mapped_column(String(64))
    line_item_key: Mapped[str] = mapped_column(String(600))
    user_id: Mapped[str] = mapped_column(String(255))
    line_item_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    lineitems_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    resource_link_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    label: Mapped[str | None] = mapped_column(String(512), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    line_item_score_maximum: Mapped[float] = mapped_column(Float)
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_maximum: Mapped[float | None] = mapped_column(Float, nullable=True)
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column()
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    leased_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_sent_timestamp: Mapped[datetime | None] = mapped_column(nullable=True)
    grade_delivered: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class AuditEntry(Base):
    """One audited operator action (``lti_tool.audit``): who, what, when, from where, with what outcome.

    ``params`` never holds secrets, nor personal data beyond a learner's opaque LMS id (``sub``).
    ``platform_id`` is a plain column, not a foreign key: the record outlives the platform.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("outcome IN ('ok','refused','failed')", name="ck_audit_log_outcome"),
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_platform_at", "platform_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))


# -- built-in LRS (xAPI 1.0.3 / 2.0.0), migration 0012 -------------------------------------------
# ``tenant`` is the credential's tenant ("" for the operator's own LRS space); every LRS query
# filters by it. Optional keys of documents are "" rather than NULL so unique keys hold everywhere.


class LrsCredential(Base):
    """Basic-auth credentials of the LRS: an operator (reporting) or one launch (learner scope)."""

    __tablename__ = "lrs_credentials"
    __table_args__ = (CheckConstraint("scope IN ('operator','launch')", name="ck_lrs_credentials_scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(255), default="")
    registration: Mapped[str | None] = mapped_column(String(36), nullable=True)
    activity_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    agent_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    agent_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LrsStatement(Base):
    """One stored statement: its JSON exactly as stored, and the columns the GET filters use."""

    __tablename__ = "lrs_statements"
    __table_args__ = (
        UniqueConstraint("tenant", "statement_id", name="uq_lrs_statements_id"),
        Index(
            "ix_lrs_statements_registration", "tenant", "registration", "seq",
            sqlite_where=text("registration IS NOT NULL"), postgresql_where=text("registration IS NOT NULL"),
        ),  # partial (0018): most statements without a registration write no entry
        Index("ix_lrs_statements_verb", "tenant", "verb_id", "seq"),
        Index("ix_lrs_statements_stored", "tenant", "stored", "seq"),
        Index(
            "ix_lrs_statements_ref", "tenant", "ref_target",
            sqlite_where=text("ref_target IS NOT NULL"), postgresql_where=text("ref_target IS NOT NULL"),
        ),  # partial (0018): only StatementRef statements write an entry
    )  # fmt: skip

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(255))
    statement_id: Mapped[str] = mapped_column(String(36))
    registration: Mapped[str | None] = mapped_column(String(36), nullable=True)
    verb_id: Mapped[str] = mapped_column(String(1024))
    ref_target: Mapped[str | None] = mapped_column(String(36), nullable=True)
    voided: Mapped[bool] = mapped_column(default=False)
    is_voiding: Mapped[bool] = mapped_column(default=False)
    stored: Mapped[datetime] = mapped_column()
    timestamp: Mapped[datetime] = mapped_column()
    credential_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    attachment_hashes: Mapped[str | None] = mapped_column(Text, nullable=True)


class LrsStatementAgent(Base):
    """Agents a statement names: ``direct`` for actor/object, otherwise anywhere (related_agents)."""

    __tablename__ = "lrs_statement_agents"
    # WITHOUT ROWID on SQLite (0018): the primary key is the table, two B-trees per row instead of three
    __table_args__ = (Index("ix_lrs_statement_agents_key", "agent_key", "direct", "seq"), {"sqlite_with_rowid": False})

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("lrs_statements.seq", ondelete="CASCADE"),
        primary_key=True,
    )
    agent_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    direct: Mapped[bool] = mapped_column(primary_key=True)


class LrsStatementActivity(Base):
    """Activities a statement names: ``direct`` for its object, otherwise anywhere (related_activities)."""

    __tablename__ = "lrs_statement_activities"
    # WITHOUT ROWID on SQLite (0018), like lrs_statement_agents
    __table_args__ = (
        Index("ix_lrs_statement_activities_id", "activity_id", "direct", "seq"),
        {"sqlite_with_rowid": False},
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("lrs_statements.seq", ondelete="CASCADE"),
        primary_key=True,
    )
    activity_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    direct: Mapped[bool] = mapped_column(primary_key=True)


class LrsAttachment(Base):
    """An attachment's bytes, by SHA-2, shared by every statement that names it."""

    __tablename__ = "lrs_attachments"

    tenant: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class LrsActivity(Base):
    """The LRS's canonical definition of an activity (Activities API), merged from statements."""

    __tablename__ = "lrs_activities"

    tenant: Mapped[str] = mapped_column(String(255), primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)


class LrsDocument(Base):
    """A State, Activity Profile or Agent Profile document, with its ETag."""

    __tablename__ = "lrs_documents"
    __table_args__ = (
        CheckConstraint("kind IN ('state','activity_profile','agent_profile')", name="ck_lrs_documents_kind"),
        UniqueConstraint(
            "tenant", "kind", "activity_id", "agent_key", "registration", "doc_id", name="uq_lrs_documents_key"
        ),
        Index("ix_lrs_documents_updated", "tenant", "kind", "activity_id", "agent_key", "updated"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    activity_id: Mapped[str] = mapped_column(String(1024))
    agent_key: Mapped[str] = mapped_column(String(512))
    registration: Mapped[str] = mapped_column(String(36))
    doc_id: Mapped[str] = mapped_column(String(1024))
    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    updated: Mapped[datetime] = mapped_column()


# -- LRS forwarding to the academies' own LRSs, migration 0017 ------------------------------------


class LrsForwarding(Base):
    """One academy's forwarding: its LRS, credentials, state and cursor over ``lrs_statements.seq``.

    ``auth_secret`` is kept like the other secrets this service sends (``service_tokens``): in the
    database, never logged, never shown (``platforms show`` says only whether one is set).
    ``cursor_seq`` is the seq of the last statement settled (delivered or dead-lettered).
    """

    __tablename__ = "lrs_forwarding"
    __table_args__ = (
        CheckConstraint("state IN ('on','paused','off')", name="ck_lrs_forwarding_state"),
        CheckConstraint("xapi_version IN ('1.0.3','2.0.0')", name="ck_lrs_forwarding_version"),
    )

    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True)
    endpoint: Mapped[str] = mapped_column(Text)
    xapi_version: Mapped[str] = mapped_column(String(8))
    auth_key: Mapped[str] = mapped_column(String(255))
    auth_secret: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    cursor_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column()
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    leased_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    delivered: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_success_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class LrsForwardDead(Base):
    """A statement the academy's LRS refused for good (``dead``), or queued again by an operator (``retry``)."""

    __tablename__ = "lrs_forward_dead"
    __table_args__ = (
        UniqueConstraint("platform_id", "seq", name="uq_lrs_forward_dead_seq"),
        CheckConstraint("status IN ('dead','retry')", name="ck_lrs_forward_dead_status"),
        Index("ix_lrs_forward_dead_status", "platform_id", "status", "seq"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    statement_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
