"""Deep Linking 2.0: the catalogue picker's data side and the signed ``LtiDeepLinkingResponse``.

1EdTech LTI Deep Linking 2.0. An instructor adding an activity sends an
``LtiDeepLinkingRequest`` (§4.4); the tool lets them pick catalogue courses and answers with a
JWT posted to ``deep_link_return_url`` (§4.5): ``iss`` = our client_id, ``aud`` = the platform
issuer, the request's ``deployment_id``, ``data`` echoed unchanged (§4.4.1), and one
``ltiResourceLink`` content item per pick (§3.1) with a ``lineItem`` so the LMS creates the
grade column (§3.1: ``scoreMaximum``, ``label``, ``resourceId``, ``tag``).

The picker's form posts carry a launch-scoped token (the one signed-token scheme of
``lti_tool.tokens``, purpose ``deep-linking-picker``: bound to the launch id, short-lived) holding
the request settings; a forged, altered, expired or foreign token is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import jwt

from lti_tool.errors import AppError
from lti_tool.keys import KeyStore
from lti_tool.lti.context import Launch
from lti_tool.storage import Database
from lti_tool.storage.models import utcnow
from lti_tool.tokens import PURPOSE_PICKER, ScopedSigner, TokenInvalid, pack_json, unpack_json
from sync.lti_claims import (
    CLAIM_DEPLOYMENT_ID,
    CLAIM_MESSAGE_TYPE,
    CLAIM_VERSION,
    DL_CLAIM_CONTENT_ITEMS,
    DL_CLAIM_DATA,
    DL_CLAIM_MSG,
    LTI_VERSION,
    MESSAGE_DEEP_LINKING_REQUEST,
    MESSAGE_DEEP_LINKING_RESPONSE,
)

logger = logging.getLogger(__name__)

MESSAGE_TYPE_REQUEST = MESSAGE_DEEP_LINKING_REQUEST
MESSAGE_TYPE_RESPONSE = MESSAGE_DEEP_LINKING_RESPONSE
CONTENT_ITEM_TYPE = "ltiResourceLink"
LINE_ITEM_TAG = "cbsi-grade"
SCORE_MAXIMUM = 100
RESPONSE_LIFETIME = timedelta(minutes=5)
PICKER_TOKEN_LIFETIME = timedelta(hours=1)
PICKER_AUDIENCE = "cbsi-connect/deep-linking-picker"
MAX_PICKS = 50


class DeepLinkingError(AppError):
    """The deep linking request cannot be answered."""

    code = "deep_linking_error"
    status = 400


class DeepLinkingNotAllowed(DeepLinkingError):
    """Only instructors and administrators can add catalogue courses."""

    code = "deep_linking_forbidden"
    status = 403


class DeepLinkingUnsupported(DeepLinkingError):
    """The LMS cannot accept what this tool offers."""

    code = "deep_linking_unsupported"


class PickerTokenInvalid(DeepLinkingError):
    """This course picker has expired or was not opened from your LMS: add the activity again."""

    code = "picker_token_invalid"
    status = 403


class SelectionInvalid(DeepLinkingError):
    """The selection is not valid."""

    code = "selection_invalid"


# -- catalogue port ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CatalogueEntry:
    """One course version offered in the picker.

    ``title`` is what the LMS gets (activity name and grade column label): the operator's
    display title, else the package title made distinguishable from other catalogue courses
    (see :func:`lti_tool.catalogue.link_titles`). ``package_title`` is the package's own title.
    """

    course_id: str
    version: int
    title: str
    description: str = ""
    standard: str = ""
    language: str = ""
    sco_count: int = 0
    package_title: str = ""


class CatalogueSource(Protocol):
    """Where the picker's courses come from (the catalogue team's tables, or a test fake)."""

    def search(self, query: str, standard: str | None, language: str | None) -> list[CatalogueEntry]:
        """Courses whose title contains ``query`` (case-insensitive), filtered by standard and language."""
        ...


class EmptyCatalogue:
    """A catalogue with nothing in it."""

    def search(self, query: str, standard: str | None, language: str | None) -> list[CatalogueEntry]:
        """Always empty."""
        return []


class DbCatalogueSource:
    """The catalogue's courses (``lti_tool.catalogue``), newest version of each.

    Args:
        db: storage.
        limit: maximum rows per search.
    """

    def __init__(self, db: Database, *, limit: int = 200) -> None:
        self.db = db
        self.limit = limit

    def search(self, query: str, standard: str | None, language: str | None) -> list[CatalogueEntry]:
        """Courses whose title, description or key contains ``query``, by standard and language."""
        from lti_tool.catalogue import search_db

        return [
            CatalogueEntry(
                course_id=str(c.course_id),
                version=c.latest_version,
                title=c.link_title or c.title,
                package_title=c.title,
                description=c.description,
                standard=c.standard,
                language=c.language,
                sco_count=c.launchable_count,
            )
            for c in search_db(self.db, query, standard=standard, language=language, limit=self.limit)
        ]


# -- request settings ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeepLinkingContext:
    """What the response needs from the request; carried in the picker token."""

    launch_id: str
    platform_id: int
    issuer: str
    client_id: str
    deployment_id: str
    return_url: str
    accept_multiple: bool
    accept_types: tuple[str, ...]
    data: str | None = None
    title: str | None = None


def context_from_launch(launch: Launch) -> DeepLinkingContext:
    """Check a deep linking launch and extract its settings (DL 2.0 §4.4.1).

    Raises:
        DeepLinkingNotAllowed: the user is neither instructor nor administrator.
        DeepLinkingUnsupported: no return URL, or ``ltiResourceLink`` is not accepted.
    """
    if launch.message_type != MESSAGE_TYPE_REQUEST:
        raise DeepLinkingUnsupported(f"not a deep linking request: {launch.message_type}")
    if not (launch.is_instructor or launch.is_admin):
        raise DeepLinkingNotAllowed()
    settings = launch.deep_linking_settings
    return_url = settings.get("deep_link_return_url")
    if not isinstance(return_url, str) or not return_url.startswith(("https://", "http://")):
        raise DeepLinkingUnsupported("the LMS sent no deep_link_return_url: the selection cannot be returned")
    accept_types_raw = settings.get("accept_types")
    accept_types = (
        tuple(t for t in accept_types_raw if isinstance(t, str)) if isinstance(accept_types_raw, list) else ()
    )
    if CONTENT_ITEM_TYPE not in accept_types:
        raise DeepLinkingUnsupported(
            "this place in the LMS does not accept LTI resource links; add the course as an activity "
            "(External tool) instead"
        )
    # DL 2.0 §4.4.1: accept_multiple is optional; absent means the platform takes a single item.
    accept_multiple = settings.get("accept_multiple") is True
    data = settings.get("data")
    title = settings.get("title")
    return DeepLinkingContext(
        launch_id=launch.id,
        platform_id=launch.platform_id,
        issuer=launch.issuer,
        client_id=launch.client_id,
        deployment_id=launch.deployment_id,
        return_url=return_url,
        accept_multiple=accept_multiple,
        accept_types=accept_types,
        data=data if isinstance(data, str) else None,
        title=title if isinstance(title, str) else None,
    )


# -- picker token --------------------------------------------------------------------------


def _picker_signer(secret: str, now: datetime) -> ScopedSigner:
    return ScopedSigner(
        secret, PURPOSE_PICKER, int(PICKER_TOKEN_LIFETIME.total_seconds()), clock=lambda: now.timestamp()
    )


def issue_picker_token(ctx: DeepLinkingContext, *, secret: str, now: datetime) -> str:
    """The launch-scoped token the picker's forms carry (the one signed-token scheme, ``lti_tool.tokens``).

    ``<launch id>.<settings as base64url JSON>.<expiry>.<MAC>``, purpose ``deep-linking-picker``:
    bound to the launch id and the deep linking settings; expires after an hour.
    """
    settings = {
        "platform_id": ctx.platform_id,
        "issuer": ctx.issuer,
        "client_id": ctx.client_id,
        "deployment_id": ctx.deployment_id,
        "return_url": ctx.return_url,
        "accept_multiple": ctx.accept_multiple,
        "accept_types": list(ctx.accept_types),
        "data": ctx.data,
        "title": ctx.title,
    }
    return _picker_signer(secret, now).sign([ctx.launch_id, pack_json(settings)])


def read_picker_token(
    token: str | None, *, secret: str, now: datetime, launch_id: str | None = None
) -> DeepLinkingContext:
    """Verify a picker token and return the deep linking context it carries.

    Args:
        token: the form field.
        secret: the server secret.
        now: current time (expiry check).
        launch_id: when given, the token must belong to this launch.

    Raises:
        PickerTokenInvalid: missing, forged, altered, expired or for another launch.
    """
    if not token:
        raise PickerTokenInvalid()
    if token.count(".") == 2:  # a picker the previous release opened (rolling upgrade)
        signed_launch, raw = _read_previous_release_token(token, secret=secret, now=now)
    else:
        try:
            (signed_launch, packed), _expires = _picker_signer(secret, now).verify(token, 2)
            raw = unpack_json(packed)
        except TokenInvalid as exc:
            raise PickerTokenInvalid() from exc
    if launch_id is not None and signed_launch != launch_id:
        raise PickerTokenInvalid()
    if not isinstance(raw, Mapping):
        raise PickerTokenInvalid()
    try:
        return DeepLinkingContext(
            launch_id=str(signed_launch),
            platform_id=int(raw["platform_id"]),
            issuer=str(raw["issuer"]),
            client_id=str(raw["client_id"]),
            deployment_id=str(raw["deployment_id"]),
            return_url=str(raw["return_url"]),
            accept_multiple=raw["accept_multiple"] is True,
            accept_types=tuple(str(t) for t in raw["accept_types"]),
            data=raw.get("data") if isinstance(raw.get("data"), str) else None,
            title=raw.get("title") if isinstance(raw.get("title"), str) else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PickerTokenInvalid() from exc


def _read_previous_release_token(token: str, *, secret: str, now: datetime) -> tuple[str, Any]:
    """(launch id, settings) of a picker token in the previous release's form (HS256 JWT).

    Kept so a picker opened on a node of the previous release keeps working on this one during a
    rolling upgrade (picker tokens live an hour). Remove it in the release after this one.
    """
    key = hmac.new(secret.encode("utf-8"), b"cbsi-connect deep-linking picker v1", hashlib.sha256).digest()
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=PICKER_AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud"], "verify_iat": False, "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise PickerTokenInvalid() from exc
    if not isinstance(claims["exp"], int) or claims["exp"] <= int(now.timestamp()):
        raise PickerTokenInvalid()
    return str(claims["sub"]), claims.get("ctx")


# -- selection and response ----------------------------------------------------------------


def parse_pick(value: str) -> tuple[str, int]:
    """A checkbox value ``<course_id>@<version>`` to its parts.

    Raises:
        SelectionInvalid: malformed value.
    """
    course_id, sep, version = value.rpartition("@")
    if not sep or not course_id or not version.isdigit() or len(value) > 300:
        raise SelectionInvalid("the selection was altered: pick the courses again")
    return course_id, int(version)


def resolve_selection(
    picks: Sequence[str], *, catalogue: CatalogueSource, accept_multiple: bool
) -> list[CatalogueEntry]:
    """Turn the posted picks into catalogue entries; nothing the catalogue does not hold is accepted.

    Raises:
        SelectionInvalid: nothing picked, too many, several when the LMS takes one, or an
            unknown course/version.
    """
    if not picks:
        raise SelectionInvalid("pick at least one course")
    if len(picks) > MAX_PICKS:
        raise SelectionInvalid(f"pick at most {MAX_PICKS} courses at once")
    if len(picks) > 1 and not accept_multiple:
        raise SelectionInvalid("this LMS accepts one course at a time: pick a single course")
    wanted = [parse_pick(p) for p in picks]
    available = {(e.course_id, e.version): e for e in catalogue.search("", None, None)}
    chosen: list[CatalogueEntry] = []
    for key in dict.fromkeys(wanted):
        entry = available.get(key)
        if entry is None:
            raise SelectionInvalid(f"course {key[0]} version {key[1]} is not in the catalogue (any more)")
        chosen.append(entry)
    return chosen


def content_item(entry: CatalogueEntry, *, launch_url: str) -> dict[str, Any]:
    """One ``ltiResourceLink`` content item with its grade line item (DL 2.0 §3.1).

    SPEC COMPLIANCE NOTE: LTI 1.3 §5.4.1 defines custom parameter values as strings, so the
    version is sent as ``"3"``, not ``3``.
    """
    item: dict[str, Any] = {
        "type": CONTENT_ITEM_TYPE,
        "title": entry.title,
        "url": launch_url,
        "custom": {"course": entry.course_id, "version": str(entry.version)},
        "lineItem": {
            "scoreMaximum": SCORE_MAXIMUM,
            "label": entry.title,
            "resourceId": entry.course_id,
            "tag": LINE_ITEM_TAG,
        },
    }
    if entry.description:
        item["text"] = entry.description
    return item


def build_response_claims(
    ctx: DeepLinkingContext,
    items: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    nonce: str,
    message: str | None = None,
) -> dict[str, Any]:
    """The claims of the ``LtiDeepLinkingResponse`` (DL 2.0 §4.5)."""
    claims: dict[str, Any] = {
        "iss": ctx.client_id,
        "aud": ctx.issuer,
        "iat": int(now.timestamp()),
        "exp": int((now + RESPONSE_LIFETIME).timestamp()),
        "nonce": nonce,
        CLAIM_MESSAGE_TYPE: MESSAGE_TYPE_RESPONSE,
        CLAIM_VERSION: LTI_VERSION,
        CLAIM_DEPLOYMENT_ID: ctx.deployment_id,
        DL_CLAIM_CONTENT_ITEMS: [dict(i) for i in items],
    }
    if ctx.data is not None:
        claims[DL_CLAIM_DATA] = ctx.data
    if message:
        claims[DL_CLAIM_MSG] = message
    return claims


def sign_response(claims: Mapping[str, Any], keys: KeyStore) -> str:
    """Sign the response with the tool's active key (RS256, ``kid`` in the header)."""
    signing = keys.signing_key()
    return jwt.encode(dict(claims), signing.private_key, algorithm="RS256", headers={"kid": signing.kid})


def build_deep_linking_response(
    ctx: DeepLinkingContext,
    entries: Sequence[CatalogueEntry],
    *,
    keys: KeyStore,
    launch_url: str,
    clock: Callable[[], datetime] = utcnow,
    nonce_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> str:
    """The signed response JWT for the picked ``entries``.

    Args:
        ctx: the request's settings (from the picker token).
        entries: the picked courses (already resolved against the catalogue).
        keys: the tool's key store.
        launch_url: the URL the LMS launches the new activities at.
        clock: current UTC time.
        nonce_factory: unique nonces.

    Returns:
        The compact JWT to post as the ``JWT`` form field to ``ctx.return_url``.
    """
    items = [content_item(e, launch_url=launch_url) for e in entries]
    count = len(items)
    message = f"{count} course{'s' if count != 1 else ''} added from the CBSI catalogue"
    claims = build_response_claims(ctx, items, now=clock(), nonce=nonce_factory(), message=message)
    token = sign_response(claims, keys)
    logger.info(
        "deep linking response for launch %s: %d item(s) to %s",
        ctx.launch_id,
        count,
        ctx.issuer,
        extra={"action": "deep_linking_response"},
    )
    return token
