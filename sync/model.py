"""Grade outbox domain: statuses, transitions, score updates, outbox items, score timestamps.

The outbox holds ONE row per (platform, line item, learner) — see DESIGN.md §5.6. A newer outcome
replaces the payload of the existing row (coalescing) and bumps its ``version``; the worker settles
a delivery attempt against the version it claimed, so a result never lands on a newer payload.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.errors import InvalidTransitionError, NaiveDatetimeError


class OutboxStatus(enum.StrEnum):
    """Lifecycle of an outbox row (mirror it in a DB ``CHECK``/enum).

    Transitions (``TRANSITIONS`` is the authoritative table):

    * ``pending -> in_flight``    claimed by a worker (lease set)
    * ``in_flight -> delivered``  platform accepted (2xx)
    * ``in_flight -> superseded`` platform already holds a newer-or-equal score (Moodle 409), or
      the update was suppressed because it would clear a delivered grade
    * ``in_flight -> pending``    transient failure (retry scheduled), released unsent, lease expiry
    * ``in_flight -> dead``       permanent failure (platform message kept for admins)
    * ``delivered|superseded|dead -> pending``  a newer outcome was enqueued, or an admin resend /
      retry-dead
    * ``pending -> pending``      a newer outcome replaced the payload before it was sent
    """

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    SUPERSEDED = "superseded"
    DEAD = "dead"


TRANSITIONS: frozenset[tuple[OutboxStatus, OutboxStatus]] = frozenset(
    {
        (OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT),
        (OutboxStatus.PENDING, OutboxStatus.PENDING),
        (OutboxStatus.IN_FLIGHT, OutboxStatus.DELIVERED),
        (OutboxStatus.IN_FLIGHT, OutboxStatus.SUPERSEDED),
        (OutboxStatus.IN_FLIGHT, OutboxStatus.PENDING),
        (OutboxStatus.IN_FLIGHT, OutboxStatus.DEAD),
        (OutboxStatus.IN_FLIGHT, OutboxStatus.IN_FLIGHT),  # newer payload coalesced mid-flight
        (OutboxStatus.DELIVERED, OutboxStatus.PENDING),
        (OutboxStatus.SUPERSEDED, OutboxStatus.PENDING),
        (OutboxStatus.DEAD, OutboxStatus.PENDING),
    }
)

#: Statuses a worker may claim (an ``in_flight`` row is claimable only once its lease expired).
CLAIMABLE: frozenset[OutboxStatus] = frozenset({OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT})


def check_transition(old: OutboxStatus, new: OutboxStatus) -> None:
    """Raise if ``old -> new`` is not in ``TRANSITIONS``.

    Raises:
        InvalidTransitionError: the transition is not allowed.
    """
    if (old, new) not in TRANSITIONS:
        raise InvalidTransitionError(key="outbox_item_cannot_go_from", params={"old": old, "new": new})


class ActivityProgress(enum.StrEnum):
    """AGS ``activityProgress`` (LTI AGS 2.0 §3.4.5)."""

    INITIALIZED = "Initialized"
    STARTED = "Started"
    IN_PROGRESS = "InProgress"
    SUBMITTED = "Submitted"
    COMPLETED = "Completed"


class GradingProgress(enum.StrEnum):
    """AGS ``gradingProgress`` (LTI AGS 2.0 §3.4.6)."""

    FULLY_GRADED = "FullyGraded"
    PENDING = "Pending"
    PENDING_MANUAL = "PendingManual"
    FAILED = "Failed"
    NOT_READY = "NotReady"


def ensure_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC, refusing naive datetimes.

    Raises:
        NaiveDatetimeError: ``value`` has no tzinfo.
    """
    tzinfo = value.tzinfo
    if tzinfo is UTC:  # already UTC (the common case): astimezone would return it unchanged
        return value
    if tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            key="must_timezone_aware_got_naive", params={"name": name, "isoformat": value.isoformat()}
        )
    return value.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class LineItemRef:
    """Where a score goes: a known line item URL, or what is needed to find or create one.

    Moodle sends the ``lineitem`` claim only when exactly one grade item is coupled to the link
    (DESIGN.md §6); otherwise the worker finds-or-creates by (resourceLinkId, tag) in the
    ``lineitems`` container.
    """

    url: str | None = None
    lineitems_url: str | None = None
    resource_link_id: str | None = None
    tag: str | None = None
    label: str | None = None
    score_maximum: float = 100.0
    resource_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ScoreUpdate:
    """One learner's newest result for one line item, as the tool wants the gradebook to show it.

    ``(platform_key, line_item_key, user_id)`` is the coalescing key: the storage keeps one row per
    key (UNIQUE constraint) and replaces the payload only when ``outcome_at`` is newer.
    """

    platform_key: str
    line_item_key: str
    line_item: LineItemRef
    user_id: str
    score_given: float | None
    score_maximum: float | None
    activity_progress: ActivityProgress
    grading_progress: GradingProgress
    outcome_at: datetime
    comment: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome_at", ensure_aware(self.outcome_at, "outcome_at"))

    @property
    def key(self) -> tuple[str, str, str]:
        """The coalescing key."""
        return (self.platform_key, self.line_item_key, self.user_id)

    @property
    def is_grade(self) -> bool:
        """True when this update sets a gradebook grade (a final score)."""
        graded = self.grading_progress is GradingProgress.FULLY_GRADED
        return self.score_given is not None and graded


@dataclass(frozen=True, kw_only=True)
class OutboxItem:
    """An outbox row: the update to send plus its delivery state.

    Attributes:
        id: storage id (stable for the key's lifetime).
        update: the newest payload for the key.
        status: see ``OutboxStatus``.
        version: incremented on every payload replacement; settle calls must quote it.
        attempts: failed attempts for the current payload (reset when the payload changes).
        next_attempt_at: not claimable before this instant.
        lease_expires_at: while ``in_flight``: after this the row is claimable again.
        last_status_code: HTTP status of the last attempt (None: no HTTP answer).
        last_error: platform message / reason of the last failure (truncated, no secrets).
        delivered_at: when the platform last accepted a score for this key.
        last_sent_timestamp: the Score ``timestamp`` the platform last accepted for this key; the
            next one must be at least one whole second later (Moodle, DESIGN.md §6).
        grade_delivered: a FullyGraded score with a value was accepted for this key; from then on
            non-final updates are not sent (Moodle would clear the grade, see ``scores``).
    """

    id: int
    update: ScoreUpdate
    status: OutboxStatus = OutboxStatus.PENDING
    version: int = 1
    attempts: int = 0
    next_attempt_at: datetime
    lease_expires_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    last_sent_timestamp: datetime | None = None
    grade_delivered: bool = False
    created_at: datetime
    updated_at: datetime

    def evolve(self, **changes: object) -> OutboxItem:
        """Return a copy with ``changes`` applied, checking the status transition."""
        new_status = changes.get("status")
        if isinstance(new_status, OutboxStatus):
            check_transition(self.status, new_status)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def log_context(self) -> dict[str, object]:
        """Fields for structured logging (no secrets, no scores)."""
        return {
            "outbox_id": self.id,
            "platform": self.update.platform_key,
            "line_item_key": self.update.line_item_key,
            "user_id": self.update.user_id,
            "version": self.version,
            "attempts": self.attempts,
        }


#: Moodle stores Score timestamps with 1-second resolution and answers 409 unless the new one is
#: strictly later than the stored one (mod/lti/service/gradebookservices, DESIGN.md §6).
TIMESTAMP_RESOLUTION = timedelta(seconds=1)


def floor_to_second(value: datetime) -> datetime:
    """Drop sub-second precision (UTC)."""
    return ensure_aware(value).replace(microsecond=0)


def next_score_timestamp(outcome_at: datetime, last_sent: datetime | None) -> datetime:
    """Return the Score ``timestamp`` to send for an outcome, given the last accepted one.

    The timestamp is the time the outcome changed (DESIGN.md §5.6), truncated to whole seconds,
    but never less than one second after the previous accepted timestamp for the same key, so it
    is strictly increasing at 1-second resolution. The result may lie in the future when outcomes
    change faster than once a second; the worker waits until then before sending.

    Args:
        outcome_at: when the outcome changed (tz-aware).
        last_sent: the timestamp the platform last accepted for this key, or None.

    Returns:
        A UTC datetime with microsecond 0.
    """
    candidate = floor_to_second(outcome_at)
    if last_sent is None:
        return candidate
    return max(candidate, floor_to_second(last_sent) + TIMESTAMP_RESOLUTION)


def format_timestamp(value: datetime) -> str:
    """ISO-8601 with milliseconds and an explicit offset: ``2026-11-28T14:49:16.000+00:00``.

    AGS 2.0 §3.4 asks for sub-second precision (its example: ``…T18:54:36.736+00:00``); Moodle
    parses the fraction and stores whole seconds, so the fraction we send is always ``.000``.
    """
    text = _FORMATTED.get(value)
    if text is None:
        text = ensure_aware(value).isoformat(timespec="milliseconds")
        if len(_FORMATTED) >= 4096:  # bounded: whole seconds recently sent, not every score
            _FORMATTED.clear()
        _FORMATTED[value] = text
    return text


#: ``format_timestamp``'s recent answers (``isoformat`` costs microseconds; scores sent in one
#: second share their whole-second timestamp). Keyed by the instant: equal aware datetimes are
#: the same instant whatever their offset, and the text is always that of the UTC value.
_FORMATTED: dict[datetime, str] = {}
