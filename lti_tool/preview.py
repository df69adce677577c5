"""Operator preview: open any catalogue course without an LMS, once, under a preview tenant.

``cbsi-connect packages preview COURSE [--au ID] [--learner NAME]`` and the console's Preview
buttons call :func:`issue`: it returns a one-time URL ``/preview/<token>``.

* The **token** is the one signed-token scheme (``lti_tool.tokens``, ``PURPOSE_PREVIEW``): it
  binds the preview's id, the course version and the AU/learner, and expires after
  ``player.preview_ttl_seconds``.
* The **single use** is the server-side one-time record the LTI login already has
  (``launch_states``: an atomic ``UPDATE … WHERE used_at IS NULL``, ``lti_tool.lti.launches``):
  the preview's id is the state, the SHA-256 of the token its nonce. A second open is refused.
* The **tenant** is the preview platform (``source = "preview"``, :func:`ensure_platform`), made on
  first use in any mode (no demo mode, no development LMS). Its issuer is under ``.invalid``, so
  no LMS can ever launch as it. Its registrations have no AGS claim, so no score is ever queued
  for a gradebook (``grades.line_item_target``), and the academy lists and reports leave it out
  (``storage.learners``, ``lti.academies``).
* The **attempt** opens through the runtime's own entry for learners without a launch
  (``runtime.attempts.open_enrolled_and_start``), then plays through the delivery registry like
  any attempt (SCORM player, TinCan and cmi5 launch routes).

Learners: without ``--learner`` every preview is a fresh learner (a new attempt); with
``--learner NAME`` the same name on the same course version is the same learner, and opening
a preview again resumes their attempt (per the attempt policy), so an operator can check
bookmarks and resume.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lti_tool.errors import AppError
from lti_tool.lti import launches, platforms
from lti_tool.lti.platforms import PlatformInfo
from lti_tool.runtime.attempts import Enrolment
from lti_tool.services import Services
from lti_tool.storage import Database
from lti_tool.storage import courses as course_store
from lti_tool.tokens import PURPOSE_PREVIEW, ScopedSigner, TokenExpired, TokenInvalid, pack_json, unpack_json

SOURCE = platforms.PREVIEW_SOURCE
ISSUER = "https://preview.cbsi-connect.invalid"
CLIENT_ID = "cbsi-connect-preview"
DEPLOYMENT_ID = "preview"
PLATFORM_NAME = "Preview (operator checks, not an academy)"
DEFAULT_LEARNER = "Preview"
MAX_LEARNER_CHARS = 100
PATH = "/preview/"


class PreviewError(AppError):
    """A preview cannot be made or opened."""

    code = "preview_refused"
    status = 400


class PreviewCourseNotFound(PreviewError):
    code = "preview_course_not_found"
    status = 404


class PreviewAuNotFound(PreviewError):
    code = "preview_au_not_found"
    status = 404


class PreviewLinkInvalid(PreviewError):
    code = "preview_link_invalid"
    status = 404


class PreviewLinkExpired(PreviewError):
    code = "preview_link_expired"
    status = 410


class PreviewLinkUsed(PreviewError):
    code = "preview_link_used"
    status = 410


@dataclass(frozen=True, kw_only=True)
class PreviewLink:
    """A preview made by :func:`issue`."""

    url: str
    token: str
    course_id: int
    version_id: int
    version: int
    title: str
    standard: str
    au: str | None
    learner: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class PreviewTicket:
    """What an opened (consumed) preview URL names."""

    version_id: int
    au: str | None
    learner: str | None


def signer(services: Services) -> ScopedSigner:
    """The preview URLs' signer (purpose ``operator-preview``, ``player.preview_ttl_seconds``)."""
    return ScopedSigner(services.secret_key, PURPOSE_PREVIEW, services.settings.player.preview_ttl_seconds)


def ensure_platform(db: Database) -> PlatformInfo:
    """The preview tenant: an active platform (``source = "preview"``) with one deployment (idempotent)."""
    return platforms.ensure_builtin_platform(
        db, issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID, name=PLATFORM_NAME, source=SOURCE
    )


def _clean_learner(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = " ".join(name.split())
    if not cleaned:
        return None
    if len(cleaned) > MAX_LEARNER_CHARS or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in cleaned):
        raise PreviewError(
            f"the preview learner's name must be up to {MAX_LEARNER_CHARS} characters without control characters",
            code="preview_learner_invalid",
        )
    return cleaned


def issue(
    services: Services,
    course: str,
    *,
    version: int | None = None,
    au: str | None = None,
    learner: str | None = None,
    now: datetime | None = None,
) -> PreviewLink:
    """A one-time preview URL of a course's newest version (or ``version``), for the AU ``au`` (cmi5).

    Raises:
        PreviewCourseNotFound: no such course or version.
        PreviewAuNotFound: ``au`` is not an AU of the version, or the course is not cmi5.
        PreviewError: ``preview_learner_invalid``.
    """
    from lti_tool.runtime.structure import player_items

    name = _clean_learner(learner)
    now = now or datetime.now(UTC)
    with services.db.session() as s:
        found = course_store.find_course(s, course.strip()) if course.strip() else None
        listed = course_store.course_with_versions(s, found.id) if found is not None else None
        if found is None or listed is None or not listed[1]:
            raise PreviewCourseNotFound(
                f"no catalogue course {course!r} (see 'cbsi-connect packages list')", params={"course": course[:80]}
            )
        _course, versions = listed
        chosen = versions[0] if version is None else next((v for v in versions if v.version == version), None)
        if chosen is None:
            raise PreviewCourseNotFound(f"course {found.id} has no version {version}", params={"course": course[:80]})
        items = player_items(chosen)
        if chosen.standard == "cmi5":
            au = au or (items[0].id if items else None)
            if au is None or all(item.id != au for item in items):
                raise PreviewAuNotFound(f"this course has no AU {au!r}", params={"au": str(au)[:200]})
        elif au is not None:
            raise PreviewAuNotFound(
                f"--au picks an AU of a cmi5 course; this course is {chosen.standard}", params={"au": au[:200]}
            )
        link_fields = (found.id, chosen.id, chosen.version, found.display_title or chosen.title, chosen.standard)
    preview_id = "preview-" + secrets.token_hex(16)
    sign = signer(services)
    token = sign.sign([preview_id, str(link_fields[1]), pack_json({"au": au, "learner": name})])
    expires_at = now + timedelta(seconds=sign.ttl)
    launches.store_login(
        services.db, state=preview_id, nonce=_digest(token), issuer=ISSUER, client_id=CLIENT_ID,
        target_link_uri=PATH, login_hint="", lti_message_hint=None, deployment_id=DEPLOYMENT_ID,
        storage_target=None, now=now, expires_at=expires_at,
    )  # fmt: skip
    base = services.settings.server.base_url.rstrip("/")
    return PreviewLink(
        url=f"{base}{PATH}{token}", token=token, course_id=link_fields[0], version_id=link_fields[1],
        version=link_fields[2], title=link_fields[3], standard=link_fields[4], au=au, learner=name or DEFAULT_LEARNER,
        expires_at=expires_at,
    )  # fmt: skip


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check(services: Services, token: str) -> tuple[str, PreviewTicket]:
    """The preview id and what a preview URL names, without spending it.

    Raises:
        PreviewLinkInvalid: malformed, forged, or made for another purpose.
        PreviewLinkExpired: past its expiry.
    """
    try:
        (preview_id, version_id, packed), _expires = signer(services).verify(token[:2000], 3)
        data = unpack_json(packed)
    except TokenExpired as exc:
        raise PreviewLinkExpired("this preview link has expired: make a new one") from exc
    except TokenInvalid as exc:
        raise PreviewLinkInvalid("this preview link is not valid") from exc
    if not version_id.isdigit() or not isinstance(data, dict):  # pragma: no cover - signed by us
        raise PreviewLinkInvalid("this preview link is not valid")
    au, learner = data.get("au"), data.get("learner")
    return preview_id, PreviewTicket(
        version_id=int(version_id),
        au=au if isinstance(au, str) else None,
        learner=learner if isinstance(learner, str) else None,
    )


def check_unspent(services: Services, token: str, *, now: datetime | None = None) -> PreviewTicket:
    """:func:`check`, and that the link was not opened already (nothing is spent).

    Raises:
        PreviewLinkInvalid, PreviewLinkExpired, PreviewLinkUsed.
    """
    preview_id, ticket = check(services, token)
    row = launches.load_login(services.db, preview_id)
    if row is None or row.nonce != _digest(token):
        raise PreviewLinkInvalid("this preview link is not valid")
    if row.used_at is not None:
        raise PreviewLinkUsed("this preview link was opened already: make a new one")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= (now or datetime.now(UTC)):
        raise PreviewLinkExpired("this preview link has expired: make a new one")
    return ticket


def consume(services: Services, token: str, *, now: datetime | None = None) -> PreviewTicket:
    """Spend a preview URL: its ticket the first time; refused after that.

    Raises:
        PreviewLinkInvalid, PreviewLinkExpired, PreviewLinkUsed.
    """
    preview_id, ticket = check(services, token)
    now = now or datetime.now(UTC)
    if not launches.consume_once(services.db, state=preview_id, nonce=_digest(token), now=now):
        row = launches.load_login(services.db, preview_id)
        if row is None or row.nonce != _digest(token):
            raise PreviewLinkInvalid("this preview link is not valid")
        if row.used_at is not None:
            raise PreviewLinkUsed("this preview link was opened already: make a new one")
        raise PreviewLinkExpired("this preview link has expired: make a new one")
    return ticket


def enrolment(services: Services, ticket: PreviewTicket) -> Enrolment:
    """The preview learner of a ticket, on the preview tenant (a fresh one without a learner name)."""
    tenant = ensure_platform(services.db)
    if ticket.learner:
        sub = "preview-" + hashlib.sha256(ticket.learner.encode()).hexdigest()[:24]
    else:
        sub = "preview-" + secrets.token_hex(12)
    return Enrolment(
        platform_id=tenant.id,
        deployment_id=DEPLOYMENT_ID,
        resource_link_id=f"preview-version-{ticket.version_id}",
        resource_link_title="Preview",
        context_id="preview",
        context_title="Preview",
        learner_sub=sub,
        name=ticket.learner or DEFAULT_LEARNER,
    )


def preview_platform_ids(db: Database) -> frozenset[int]:
    """The ids of preview tenants (left out of academy lists and reports)."""
    with db.session() as s:
        return platforms.preview_platform_ids(s)
