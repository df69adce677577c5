"""Grade delivery wiring: the runtime's outcomes → the SQL grade outbox → the ``sync`` worker.

* ``GradeOutboxListener`` is the runtime's ``OutcomeListener``: it turns a learner's new attempt outcome
  into a ``ScoreUpdate`` and enqueues it with ``SqlOutboxStore.enqueue_in_session`` in the SAME
  transaction as the runtime commit (DESIGN.md §5.6): both commit, or neither.
* ``SqlPlatformDirectory`` adapts the platforms table to ``sync``'s ports (the token cache and the
  signing key come from ``lti_tool.lti.tokens``); ``build_worker`` assembles a ``sync.worker.Worker``
  over the token provider and AGS client ``lti_tool.services.build_services`` built.

Keys: ``platform_key = str(platforms.id)`` (stable, short, and the row the directory reads; the
issuer/client_id pair is unique per row anyway). ``line_item_key = "<deployment_id>/<resource
link id>"`` — when the launch carried no ``lineitem`` claim (Moodle sends it only when exactly one
grade item is coupled, DESIGN.md §6) the worker finds or creates the line item by
(resourceLinkId, tag) and the key gets ``"#<tag>"`` appended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lti_tool.keys import KeyStore
from lti_tool.logging_setup import delivery_request_id, request_id_var
from lti_tool.lti import platforms
from lti_tool.lti.tokens import DbTokenCache, KeyStoreSigning, endpoints_of
from lti_tool.outbound import check_service_url
from lti_tool.outcome_events import OutcomeChanged
from lti_tool.storage import Database
from lti_tool.storage.models import LearnerRegistration, PlatformStatus
from lti_tool.storage.outbox import SqlOutboxStore, outbox_rows_for
from scorm.outcome import Outcome
from sync.breaker import BreakerConfig
from sync.errors import InvalidOutcomeError, PlatformNotFoundError
from sync.lti_claims import SCOPE_LINEITEM, SCOPE_SCORE
from sync.model import LineItemRef, OutboxItem, ScoreUpdate
from sync.ports import EnqueueResult, PlatformEndpoints, TokenCache
from sync.retry import RetryPolicy
from sync.scores import build_score_update
from sync.tokens import ClientCredentialsTokenProvider, LocalTokenMemo
from sync.worker import Worker, WorkerConfig, utc_now

if TYPE_CHECKING:
    from lti_tool.outbound import OutboundClient
    from lti_tool.services import Services
    from lti_tool.settings import Settings
    from sync.worker import RunStats

logger = logging.getLogger(__name__)

#: Tag of line items the tool creates when the launch had no ``lineitem`` claim (AGS 2.0 §3.2).
LINE_ITEM_TAG = "cbsi-connect-score"
#: Every score is sent out of 100; Moodle rescales to the grade item's maximum.
SCORE_MAXIMUM = 100.0


# -- the outcome listener -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LineItemTarget:
    """Where one registration's grade goes: the coalescing key part and the line item ref."""

    key: str
    ref: LineItemRef


def line_item_target(registration: LearnerRegistration) -> LineItemTarget | None:
    """The line item for a registration, from the AGS claim of its launch; None: no grades.

    None when the launch carried no AGS claim, or the platform granted neither the ``score``
    scope nor (for find-or-create) the ``lineitem`` scope.
    """
    ags: Mapping[str, Any] = registration.ags or {}
    scopes = set(ags.get("scope") or ())
    lineitem = ags.get("lineitem") if isinstance(ags.get("lineitem"), str) else None
    lineitems = ags.get("lineitems") if isinstance(ags.get("lineitems"), str) else None
    if SCOPE_SCORE not in scopes:
        return None
    base_key = f"{registration.deployment_id}/{registration.resource_link_id}"
    label = registration.resource_link_title or "CBSI-Connect course"
    if lineitem:
        ref = LineItemRef(
            url=lineitem,
            lineitems_url=lineitems,
            resource_link_id=registration.resource_link_id,
            label=label,
            score_maximum=SCORE_MAXIMUM,
        )
        return LineItemTarget(key=base_key, ref=ref)
    if lineitems and SCOPE_LINEITEM in scopes:
        ref = LineItemRef(
            lineitems_url=lineitems,
            resource_link_id=registration.resource_link_id,
            tag=LINE_ITEM_TAG,
            label=label,
            score_maximum=SCORE_MAXIMUM,
        )
        return LineItemTarget(key=f"{base_key}#{LINE_ITEM_TAG}", ref=ref)
    return None


def score_update_for(
    registration: LearnerRegistration, outcome: Outcome, changed_at: datetime
) -> ScoreUpdate | None:
    """The ``ScoreUpdate`` for a learner's new outcome, or None when nothing is to be sent.

    Nothing is sent for non-learners (an instructor's launch: Moodle answers 400 for users
    without a gradebook role) or links without a usable AGS claim.

    Raises:
        sync.errors.InvalidOutcomeError: the outcome cannot become a score.
    """
    if not registration.is_learner:
        return None
    target = line_item_target(registration)
    if target is None:
        return None
    return build_score_update(
        replace(outcome, changed_at=changed_at),
        platform_key=str(registration.platform_id),
        line_item_key=target.key,
        line_item=target.ref,
        user_id=registration.learner_sub,
    )


def enqueue_score(event: OutcomeChanged) -> EnqueueResult | None:
    """Enqueue the score of ``event``'s new outcome in the commit's transaction.

    A database error propagates and rolls the runtime commit back with it (no outcome without
    its outbox row). An outcome that cannot become a score is logged and skipped: the learner's
    progress must not be refused for it.
    """
    registration = event.registration
    if registration is None:
        return None
    try:
        update = score_update_for(registration, event.outcome, event.changed_at)
    except InvalidOutcomeError as exc:
        logger.warning(
            "outcome not sent to the gradebook: %s",
            exc.message,
            extra={"action": "outcome_not_gradable", "registration": registration.id, "code": exc.code},
        )
        return None
    if update is None:
        return None
    return SqlOutboxStore.enqueue_in_session(event.session, update, now=event.changed_at)


class GradeOutboxListener:
    """The ``OutcomeListener`` that feeds the grade outbox (wired by ``build_services``)."""

    def outcome_changed(self, event: OutcomeChanged) -> None:
        """Enqueue the score (see :func:`enqueue_score`)."""
        enqueue_score(event)


# -- ports over the app's storage ----------------------------------------------------------------


def _loading(locks: dict[str, threading.Lock], guard: threading.Lock, key: str) -> threading.Lock:
    """The lock under which ``key``'s cache entry is (re)loaded: when it expires, the threads
    that miss together wait for one database read instead of each making their own."""
    with guard:
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = threading.Lock()
    return lock


class SqlPlatformDirectory:
    """``sync.ports.PlatformDirectory`` over the ``platforms`` table (cached for ``ttl_seconds``)."""

    def __init__(
        self, db: Database, *, ttl_seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, PlatformEndpoints]] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get_platform(self, platform_key: str) -> PlatformEndpoints:
        """See ``sync.ports.PlatformDirectory.get_platform``.

        Raises:
            PlatformNotFoundError: unknown key, or the platform is disabled.
        """
        now = self._monotonic()
        hit = self._cache.get(platform_key)  # one dict read: atomic, no lock needed
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        with _loading(self._loading, self._lock, platform_key):  # one reader per key, not one per thread
            hit = self._cache.get(platform_key)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
            return self._load(platform_key, now)

    def _load(self, platform_key: str, now: float) -> PlatformEndpoints:
        if not platform_key.isdigit():
            raise PlatformNotFoundError(f"no platform registered under {platform_key!r}")
        row = platforms.find_platform(self._db, int(platform_key))
        if row is None:
            raise PlatformNotFoundError(
                f"platform {platform_key} is no longer registered; its grades cannot be delivered"
            )
        if row.status == PlatformStatus.DISABLED.value:
            raise PlatformNotFoundError(
                f"platform {platform_key} ({row.name or row.issuer}) is disabled; enable it, then run "
                f"'cbsi-connect sync retry --dead --platform {platform_key}'"
            )
        endpoints = endpoints_of(row, key=platform_key)
        with self._lock:
            self._cache[platform_key] = (now, endpoints)
        return endpoints


# -- the worker ----------------------------------------------------------------------------------


def worker_config(services: Services, *, concurrency: int | None = None) -> WorkerConfig:
    """``WorkerConfig`` from the ``[sync]`` settings; ``concurrency`` overrides the global one."""
    cfg = services.settings.sync
    total = concurrency or cfg.global_concurrency
    return WorkerConfig(
        batch_size=cfg.batch_size,
        lease_seconds=float(cfg.lease_seconds),
        per_platform_concurrency=min(cfg.concurrency_per_platform, total),
        global_concurrency=total,
        retry_policy=RetryPolicy(base_seconds=cfg.backoff_base_seconds, cap_seconds=cfg.backoff_cap_seconds),
        breaker=BreakerConfig(),
    )


def token_cache_for(services: Services) -> TokenCache:
    """The token cache workers share: the database's ``service_tokens`` (every process, every node)."""
    return DbTokenCache(services.db)


def delivery_state(
    services: Services, *, platform_id: int, deployment_id: str, resource_link_id: str, user_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """What reached the gradebook for each learner of one activity (class view).

    Each learner's entry: the outbox ``status``, a ``code`` of ``lti_tool.messages.DELIVERY`` and
    its ``params`` (``score`` "80/100" or "" for progress only, ``when``, ``error``); the class
    view renders the words in the reader's language (``lti_tool.web.i18n.delivery_text``).
    """
    prefix = f"{deployment_id}/{resource_link_id}"
    rows = outbox_rows_for(
        services.db,
        platform_key=str(platform_id),
        line_item_keys=[prefix, f"{prefix}#{LINE_ITEM_TAG}"],
        user_ids=user_ids,
    )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        score = (
            f"{row.score_given:g}/{row.score_maximum:g}"
            if row.score_given is not None and row.score_maximum
            else ""  # "progress only", in the reader's words
        )
        params: dict[str, Any] = {"score": score}
        if row.status == "delivered":
            code = "delivered_on" if row.delivered_at else "delivered"
            params["when"] = row.delivered_at
        elif row.status in ("pending", "in_flight"):
            code = "retrying" if row.attempts else "pending"
        elif row.status == "superseded":
            code, params = "superseded", {}
        else:
            code, params = "dead", {"error": (row.last_error or "")[:160]}
        out[row.user_id] = {"status": row.status, "code": code, "params": params}
    return out


def build_worker(
    services: Services,
    *,
    concurrency: int | None = None,
    config: WorkerConfig | None = None,
    clock: Callable[[], datetime] = utc_now,
    worker_id: str | None = None,
) -> Worker:
    """A ``Worker`` over the SQL outbox and the services' platform directory and AGS client.

    Args:
        services: the services of this process (``build_services``: one token provider, one AGS
            client over the one outbound client, shared with ``sync verify``).
        concurrency: override of ``sync.global_concurrency``.
        config: full worker config (default: from the ``[sync]`` settings).
        clock: injectable time for the outbox and the worker loop.
        worker_id: name in leases and logs.
    """
    cfg = config or worker_config(services, concurrency=concurrency)
    return ObservedWorker(
        SqlOutboxStore(services.db, clock=clock),
        services.platform_directory,
        services.ags,
        config=cfg,
        clock=clock,
        worker_id=worker_id,
    )


class ObservedWorker(Worker):
    """A ``Worker`` whose log lines carry a request id per delivery attempt of an outbox row.

    Everything logged while one row is delivered (token fetch, AGS calls, its settle line) has
    ``request_id = delivery_request_id(row id, version, attempts)``; settle lines written later
    in a batch get the same id from their ``outbox_id`` field (``RequestIdFilter``).
    """

    def _process(self, item: OutboxItem, stats: RunStats) -> None:
        token = request_id_var.set(delivery_request_id(item.id, item.version, item.attempts))
        try:
            super()._process(item, stats)
        finally:
            request_id_var.reset(token)


def grade_tokens(
    settings: Settings, db: Database, keys: KeyStore, http: OutboundClient
) -> ClientCredentialsTokenProvider:
    """The client-credentials token provider of grade delivery (the shared token table, read at
    most every 30 s through ``LocalTokenMemo`` rather than before every score)."""
    return ClientCredentialsTokenProvider(
        KeyStoreSigning(keys), LocalTokenMemo(DbTokenCache(db)), session=http, timeout=ags_timeout(settings)
    )


def ags_timeout(settings: Settings) -> tuple[float, float]:
    """(connect, read) timeouts of AGS calls."""
    return (settings.outbound.connect_timeout_seconds, settings.sync.http_timeout_seconds)


class RegisteredHostsGuard:
    """``sync.ags.UrlGuard``: AGS URLs only on the platform's registered hosts (or ``outbound.service_hosts``).

    The line item URLs come from launches (and from the platform's own answers); the platform's
    bearer token must not go anywhere else (DESIGN.md §5 decision 9). Registered URLs are read
    from the ``platforms`` row and cached for ``ttl_seconds``.
    """

    def __init__(self, db: Database, *, extra_hosts: tuple[str, ...] = (), ttl_seconds: float = 60.0) -> None:
        self._db = db
        self._extra = extra_hosts
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._accepted: dict[tuple[str, str], tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def _registered(self, platform_key: str) -> tuple[str, ...]:
        now = time.monotonic()
        hit = self._cache.get(platform_key)  # one dict read: atomic, no lock needed
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        with _loading(self._loading, self._lock, platform_key):  # one reader per key, not one per thread
            hit = self._cache.get(platform_key)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
            return self._load_registered(platform_key, now)

    def _load_registered(self, platform_key: str, now: float) -> tuple[str, ...]:
        urls: tuple[str, ...] = ()
        if platform_key.isdigit():
            row = platforms.find_platform(self._db, int(platform_key))
            if row is not None:
                candidates = (row.issuer, row.auth_login_url, row.auth_token_url, row.auth_audience)
                urls = tuple(u for u in (*candidates, row.key_set_url) if u)
        with self._lock:
            self._cache[platform_key] = (now, urls)
        return urls

    def __call__(self, platform: PlatformEndpoints, url: str) -> None:
        """Raises ``ServiceUrlRefused`` (a ``ValueError``) for a URL on another host.

        An accepted (platform, URL) is remembered as long as the registered URLs it was checked
        against (``ttl_seconds``): the worker posts many scores to one line item URL.
        """
        registered = self._registered(platform.key) or (platform.issuer, platform.token_url)
        memo_key = (platform.key, url)
        with self._lock:
            if self._accepted.get(memo_key) is registered:
                return
        check_service_url(url, registered_urls=registered, extra_hosts=self._extra)
        with self._lock:
            if len(self._accepted) >= 10_000:
                self._accepted.clear()
            self._accepted[memo_key] = registered
