"""TinCan (xAPI) activity delivery: the launch URL TinCan content expects, and its outcome.

* :func:`launch_activity`: the activity's launch URL with ``endpoint`` (the tool's ``/xapi/``),
  ``auth`` (``Basic …`` of a launch credential scoped to the learner, the registration and the
  activity, expiring like the player's token), ``actor`` (an account on the LMS's issuer: no name
  or e-mail address), ``registration`` and ``activity_id``. The registration is the attempt's
  (:func:`lti_tool.runtime.cmi5_delivery.registration_of`), so whatever the content keeps in the
  State API (its bookmark) is there again at the next launch of the same attempt.
* :class:`OutcomeHook`: statements the content posts with such a credential about the launched
  activity (completed / passed / failed, or any with ``result.completion``/``success``/``score``)
  become the attempt's outcome, sent to the outcome listeners (the grade outbox) like SCORM's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from lti_tool.lrs.credentials import Credential, mint_launch_credential
from lti_tool.runtime import store as runtime_store
from lti_tool.runtime.cmi5_delivery import learner_of, registration_of, send_outcome
from lti_tool.runtime.deliveries import DeliveryKind, lrs_reporting
from lti_tool.runtime.errors import ItemNotFound
from lti_tool.runtime.structure import player_items
from lti_tool.services import Services
from lti_tool.storage import courses, learners
from scorm.outcome import Completion, Outcome, Success

#: How long a TinCan launch credential lives.
LAUNCH_TTL = timedelta(hours=12)
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
FAILED = "http://adlnet.gov/expapi/verbs/failed"


@dataclass(frozen=True, kw_only=True)
class TinCanLaunch:
    """A TinCan launch: where the player sends the learner."""

    url: str
    registration: str
    activity_id: str


def launch_activity(
    services: Services, *, attempt_id: str, activity_id: str, content_base: Callable[[int], str]
) -> TinCanLaunch:
    """Mint the launch credential and build the activity's launch URL (one transaction).

    Raises:
        AttemptNotFound, AttemptClosed, ItemNotFound.
    """
    base = services.settings.server.base_url.rstrip("/")
    learner = learner_of(services, attempt_id)
    with services.db.session() as s:
        attempt, version = runtime_store.active_attempt(s, attempt_id)
        item = next((i for i in player_items(version) if i.id == activity_id), None)
        if item is None:
            raise ItemNotFound(f"this course has no activity {activity_id!r}")
        registration = registration_of(attempt.id)
        actor = learner.actor
        issued = mint_launch_credential(
            s,
            tenant=learner.tenant,
            registration=registration,
            activity_id=activity_id,
            agent=actor,
            ttl=LAUNCH_TTL,
            name="tincan launch",
        )
        attempt.current_item = activity_id
        target = item.url if "://" in item.url else content_base(version.id) + item.url
        parts = urlsplit(target)
        params = urlencode(
            {
                "endpoint": f"{base}/xapi/",
                "auth": issued.basic_auth,
                "actor": json.dumps(actor, separators=(",", ":")),
                "registration": registration,
                "activity_id": activity_id,
            }
        )
        query = f"{parts.query}&{params}" if parts.query else params
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
        return TinCanLaunch(url=url, registration=registration, activity_id=activity_id)


def _attempt_id_of(registration: str | None) -> str | None:
    try:
        return uuid.UUID(registration).hex if registration else None
    except ValueError:
        return None


def outcome_after(previous: Outcome, statement: Mapping[str, Any]) -> Outcome:
    """The activity's outcome after one statement about it (verbs and result, xAPI 4.1.5)."""
    verb = (statement.get("verb") or {}).get("id")
    result = statement.get("result") or {}
    outcome = previous
    if verb == COMPLETED or result.get("completion") is True:
        outcome = replace(outcome, completion=Completion.COMPLETED)
    elif result.get("completion") is False and outcome.completion is not Completion.COMPLETED:
        outcome = replace(outcome, completion=Completion.INCOMPLETE)
    success = result.get("success")
    if verb == PASSED or success is True:
        outcome = replace(outcome, success=Success.PASSED)
    elif verb == FAILED or success is False:
        outcome = replace(outcome, success=Success.FAILED)
    score = result.get("score") or {}
    scaled = score.get("scaled")
    if not isinstance(scaled, int | float) or isinstance(scaled, bool):
        raw, top, bottom = score.get("raw"), score.get("max"), score.get("min", 0)
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (raw, top, bottom))
        scaled = (raw - bottom) / (top - bottom) if numbers and top != bottom else None  # type: ignore[operator]
    if scaled is not None:
        outcome = replace(outcome, score_scaled=float(scaled))
    if outcome.completion is Completion.UNKNOWN and outcome != previous:
        outcome = replace(outcome, completion=Completion.INCOMPLETE)
    return outcome


class OutcomeHook:
    """The outcome of a TinCan attempt from the statements its launch credential posts."""

    def __init__(self, s: Session, services: Services, credential: Credential, attempt_id: str) -> None:
        self._s, self._services, self._credential, self._attempt_id = s, services, credential, attempt_id

    def apply_statements(self, statements: Sequence[Mapping[str, Any]], now: datetime | None = None) -> None:
        """Fold the statements about the launched activity into the attempt's outcome."""
        attempt = learners.attempt_by_id(self._s, self._attempt_id)
        if attempt is None:
            return
        about = [st for st in statements if (st.get("object") or {}).get("id") == self._credential.activity_id]
        if not about:
            return
        previous = Outcome.from_json(attempt.outcome or {})
        outcome = previous
        for statement in about:
            outcome = outcome_after(outcome, statement)
        if outcome != previous:
            send_outcome(self._s, self._services, attempt, outcome, now or datetime.now(UTC))


def outcome_hook(s: Session, services: Services, credential: Credential | None) -> OutcomeHook | None:
    """The hook for a TinCan launch credential (its registration is an xAPI course's attempt), else None."""
    if credential is None or not credential.is_launch:
        return None
    attempt_id = _attempt_id_of(credential.registration)
    attempt = learners.attempt_by_id(s, attempt_id) if attempt_id else None
    if attempt is None:
        return None
    version = courses.version_by_id(s, attempt.course_version_id)
    if version is None or version.standard != "xapi":
        return None
    return OutcomeHook(s, services, credential, attempt.id)


# -- the registry entry ------------------------------------------------------------------------------


XAPI = lrs_reporting(DeliveryKind.XAPI_ACTIVITY, "xAPI", "xapi", "player/xapi.html")
