"""Ports the grade-delivery package needs from the outside world (``typing.Protocol``).

``lti_tool/storage`` implements ``OutboxStore``, ``PlatformDirectory``, ``TokenCache`` and
``SigningKeyProvider`` with SQLAlchemy; ``sync.memory`` holds in-memory fakes with the same
semantics. The docstrings state the intended SQL.

Intended table (one row per coalescing key)::

    grade_outbox(
      id              BIGINT PK,
      platform_key    TEXT NOT NULL,   -- tenant / platform registration key
      line_item_key   TEXT NOT NULL,   -- caller-chosen stable key of the line item
      user_id         TEXT NOT NULL,   -- LTI sub
      line_item_url, lineitems_url, resource_link_id, tag, label, resource_id TEXT NULL,
      line_item_score_maximum FLOAT NOT NULL,
      score_given, score_maximum FLOAT NULL, activity_progress, grading_progress TEXT NOT NULL,
      comment TEXT NULL, outcome_at TIMESTAMPTZ NOT NULL,
      status TEXT NOT NULL
        CHECK (status IN ('pending','in_flight','delivered','superseded','dead')),
      version INT NOT NULL, attempts INT NOT NULL, next_attempt_at TIMESTAMPTZ NOT NULL,
      lease_expires_at TIMESTAMPTZ NULL, leased_by TEXT NULL,
      last_status_code INT NULL, last_error TEXT NULL, delivered_at TIMESTAMPTZ NULL,
      last_sent_timestamp TIMESTAMPTZ NULL, grade_delivered BOOL NOT NULL DEFAULT false,
      created_at, updated_at TIMESTAMPTZ NOT NULL,
      UNIQUE (platform_key, line_item_key, user_id),
      CHECK (status <> 'in_flight' OR lease_expires_at IS NOT NULL))
    INDEX (status, next_attempt_at)  -- the claim query

Every settle call quotes the ``version`` it claimed: ``... WHERE id = :id AND version = :version``.
If no row matched, a newer outcome was coalesced while the request was in flight; the store then
records only the delivery facts and makes the row claimable again (see each method).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from sync.model import OutboxItem, OutboxStatus, ScoreUpdate


class EnqueueResult(enum.StrEnum):
    """What ``OutboxStore.enqueue`` did."""

    INSERTED = "inserted"  # no row for the key yet
    COALESCED = "coalesced"  # replaced the payload of the existing row
    STALE = "stale"  # the stored outcome is newer or equal: nothing changed


class Clock(Protocol):
    """Returns the current time, timezone-aware (UTC)."""

    def __call__(self) -> datetime:
        """Now."""
        ...


@dataclass(frozen=True, kw_only=True)
class SettleResult:
    """Outcome of a settle call: ``applied`` is False when the version had moved on."""

    applied: bool


@dataclass(frozen=True, kw_only=True)
class SettleRequest:
    """One settle of ``OutboxStore.settle_many``.

    Attributes:
        kind: ``delivered``, ``superseded``, ``retry``, ``dead`` or ``release``.
        item_id, version: the claimed row and the version it was claimed at.
        params: the single-item method's arguments: ``sent`` (timestamp sent) and ``graded``
            for delivered; ``status_code`` and ``error`` (the reason) for the others; ``at``
            (next attempt / not before) for retry and release.
    """

    kind: str
    item_id: int
    version: int
    params: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ResendFilter:
    """Which rows ``OutboxStore.resend`` re-queues (all given fields must match)."""

    platform_key: str | None = None
    line_item_key: str | None = None
    user_id: str | None = None
    statuses: frozenset[OutboxStatus] = frozenset(
        {OutboxStatus.DELIVERED, OutboxStatus.SUPERSEDED, OutboxStatus.DEAD}
    )


class OutboxStore(Protocol):
    """The grade outbox (DESIGN.md §5.6)."""

    def enqueue(self, update: ScoreUpdate, *, now: datetime) -> EnqueueResult:
        """Insert or coalesce the newest outcome for ``update.key``.

        Runs in the caller's transaction (same transaction as the runtime state). SQL::

            INSERT INTO grade_outbox (...) VALUES (..., status='pending', version=1, attempts=0,
                                                   next_attempt_at=:now)
            ON CONFLICT (platform_key, line_item_key, user_id) DO UPDATE SET
                <payload columns> = excluded.<payload columns>,
                version = grade_outbox.version + 1, attempts = 0, next_attempt_at = :now,
                last_error = NULL, last_status_code = NULL,
                -- an in-flight row keeps its lease: one request per key at a time; the worker's
                -- settle sees the version moved and re-queues the newer payload
                status = CASE WHEN grade_outbox.status = 'in_flight' THEN 'in_flight'
                              ELSE 'pending' END,
                updated_at = :now
            WHERE excluded.outcome_at > grade_outbox.outcome_at

        (SQLite ≥ 3.24 supports the same upsert.) A not-newer outcome changes nothing (STALE).
        The line item URL is kept when the new payload has none (it may have been resolved).
        """
        ...

    def claim_due(
        self,
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        worker_id: str,
        exclude_platforms: Collection[str] = (),
    ) -> list[OutboxItem]:
        """Lease up to ``limit`` due rows, oldest ``next_attempt_at`` first.

        Due = ``status='pending' AND next_attempt_at <= :now`` or an expired lease
        (``status='in_flight' AND lease_expires_at <= :now``). Rows of ``exclude_platforms``
        are skipped: the worker excludes platforms whose local queue is full, so a slow academy
        with a large backlog cannot fill the claim batches and starve the others. PostgreSQL::

            UPDATE grade_outbox SET status='in_flight', lease_expires_at = :now + :lease,
                   leased_by = :worker_id
            WHERE id IN (SELECT id FROM grade_outbox
                         WHERE <due> AND platform_key <> ALL(:exclude)
                         ORDER BY next_attempt_at
                         LIMIT :limit FOR UPDATE SKIP LOCKED)
            RETURNING *

        SQLite: the same without ``FOR UPDATE SKIP LOCKED``, in a ``BEGIN IMMEDIATE``
        transaction; run a single worker.
        """
        ...

    def mark_delivered(
        self,
        item_id: int,
        *,
        version: int,
        sent_timestamp: datetime,
        status_code: int,
        graded: bool,
        now: datetime,
    ) -> SettleResult:
        """The platform accepted the payload of ``version`` sent with ``sent_timestamp``.

        Always (any version): ``last_sent_timestamp = max(last_sent_timestamp, :sent)``,
        ``delivered_at = :now``, ``grade_delivered = grade_delivered OR :graded``.
        Version matches: ``status='delivered'``, lease cleared. Version moved: ``status='pending'``,
        ``next_attempt_at=:now``, lease cleared (the newer payload goes out next).
        """
        ...

    def mark_superseded(
        self, item_id: int, *, version: int, status_code: int | None, reason: str, now: datetime
    ) -> SettleResult:
        """The platform holds a newer-or-equal score (409), or the update was suppressed.

        Version matches: ``status='superseded'``, ``last_error=:reason``. Version moved: pending.
        """
        ...

    def schedule_retry(
        self,
        item_id: int,
        *,
        version: int,
        next_attempt_at: datetime,
        status_code: int | None,
        error: str,
        now: datetime,
    ) -> SettleResult:
        """Transient failure: ``status='pending'``, ``attempts += 1``, ``next_attempt_at``, error.

        Version moved: pending due now, attempts untouched (they belong to the new payload).
        """
        ...

    def mark_dead(
        self, item_id: int, *, version: int, status_code: int | None, error: str, now: datetime
    ) -> SettleResult:
        """Permanent failure: ``status='dead'`` + platform message. Version moved: pending."""
        ...

    def release(
        self, item_id: int, *, version: int, not_before: datetime, now: datetime
    ) -> SettleResult:
        """Give a claimed row back unsent (breaker open, shutdown, timestamp in the future).

        ``status='pending'``, ``next_attempt_at=:not_before`` (``:now`` if the version moved),
        lease cleared, attempts unchanged.
        """
        ...

    def settle_many(self, settlements: Sequence[SettleRequest], *, now: datetime) -> None:
        """Settle a batch: the effect on each row is that of the matching single-item method.

        SQL: one transaction, one ``executemany`` per kind whose statement folds both branches
        (version matches → settled; moved on → pending now) into ``CASE`` expressions.
        """
        ...

    def set_line_item_url(self, *, platform_key: str, line_item_key: str, url: str) -> int:
        """Store a resolved line item URL on every row of that line item; return rows changed.

        ``UPDATE grade_outbox SET line_item_url=:url WHERE platform_key=:p AND
        line_item_key=:k AND line_item_url IS NULL``.
        """
        ...

    def status_counts(self) -> Mapping[str, Mapping[OutboxStatus, int]]:
        """``SELECT platform_key, status, count(*) ... GROUP BY 1, 2`` as nested mapping."""
        ...

    def retry_dead(self, *, now: datetime, platform_key: str | None = None) -> int:
        """Re-queue dead rows (optionally of one platform): pending, attempts 0, due now."""
        ...

    def resend(self, flt: ResendFilter, *, now: datetime) -> int:
        """Re-queue matching settled rows (pending, attempts 0, due now); return how many.

        The Score timestamp of a resend is one second after the last accepted one (see
        ``sync.model.next_score_timestamp``) so the platform takes it.
        """
        ...

    def get(self, item_id: int) -> OutboxItem | None:
        """One row by id."""
        ...

    def list_items(
        self, *, platform_key: str | None = None, statuses: Sequence[OutboxStatus] | None = None
    ) -> list[OutboxItem]:
        """Rows for admin pages / ``sync status`` (filtered)."""
        ...


@dataclass(frozen=True, kw_only=True)
class PlatformEndpoints:
    """What the worker needs to talk to one platform registration.

    Attributes:
        key: the platform key used in outbox rows.
        issuer: the platform's ``iss``.
        client_id: the tool's client id at that platform.
        token_url: OAuth2 token endpoint.
        token_audience: ``aud`` of the client assertion; defaults to ``token_url`` (Moodle).
    """

    key: str
    issuer: str
    client_id: str
    token_url: str
    token_audience: str | None = None


class PlatformDirectory(Protocol):
    """Platform registrations by key."""

    def get_platform(self, platform_key: str) -> PlatformEndpoints:
        """Return the registration.

        Raises:
            sync.errors.PlatformNotFoundError: unknown key.
        """
        ...


class TokenProvider(Protocol):
    """OAuth2 access tokens for LTI services (client_credentials + JWT assertion)."""

    def get_token(
        self, platform: PlatformEndpoints, scopes: Sequence[str], *, force_refresh: bool = False
    ) -> str:
        """A bearer token for ``scopes`` (cached per (issuer, client_id, scopes) until expiry).

        Raises:
            sync.errors.TokenRequestError: the token endpoint refused (status kept).
            sync.errors.AgsTransportError: it could not be reached.
        """
        ...


@dataclass(frozen=True, kw_only=True)
class CachedToken:
    """A cached access token (never log ``access_token``).

    ``expires_at`` is the platform's expiry; ``obtained_at`` (when known) lets the provider keep a
    short-lived token for half its life instead of a margin longer than the token.
    """

    access_token: str
    expires_at: datetime
    obtained_at: datetime | None = None


class TokenCache(Protocol):
    """Storage for access tokens, shared by workers (DB table in production).

    Key: ``(issuer, client_id, " ".join(sorted(scopes)))``.
    """

    def get(self, key: tuple[str, str, str]) -> CachedToken | None:
        """The cached token or None."""
        ...

    def put(self, key: tuple[str, str, str], token: CachedToken) -> None:
        """Store (replace) a token."""
        ...

    def invalidate(self, key: tuple[str, str, str]) -> None:
        """Forget a token (after a 401)."""
        ...


@dataclass(frozen=True, kw_only=True)
class SigningKey:
    """The tool's current private key and its JWKS ``kid``."""

    kid: str
    private_key: RSAPrivateKey


class SigningKeyProvider(Protocol):
    """The tool's current signing key (``keys/``, rotated by ``cbsi-connect keys``)."""

    def current_signing_key(self) -> SigningKey:
        """The key to sign client assertions with.

        Raises:
            sync.errors.SigningKeyError: no usable key.
        """
        ...
