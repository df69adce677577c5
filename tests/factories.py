"""Factories for test and benchmark data: platforms, learner launches, courses and attempts.

The one place that knows how to build these; every test folder and ``bench/`` use it instead of
writing its own copy. Tests import it as ``factories`` (the root ``tests/conftest.py`` puts
``tests/`` on ``sys.path``); the benchmarks, which run from the repository root, import
``tests.factories``.

The defaults describe one example academy (``https://lms.example``, client ``client-1``,
deployment ``dep-1``) and one learner, Ana, on resource link ``rl-1`` of context ``course-7``;
every field can be overridden by keyword.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lti_tool import catalogue
from lti_tool.catalogue import ImportOutcome
from lti_tool.lti.context import Launch
from lti_tool.runtime import service
from lti_tool.runtime.service import ItemSession, OpenedAttempt
from lti_tool.services import Services
from lti_tool.storage import Database
from lti_tool.storage.models import Deployment, Platform

ISSUER = "https://lms.example"
CLIENT_ID = "client-1"
DEPLOYMENT_ID = "dep-1"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
PRESENTATION_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"

_UNSET: Any = object()


def add_platform(
    db: Database,
    *,
    issuer: str = ISSUER,
    client_id: str = CLIENT_ID,
    name: str = "Example Academy",
    endpoints: str | None = None,
    token_url: str | None = None,
    audience: str | None = None,
    status: str = "active",
    deployment_id: str | None = DEPLOYMENT_ID,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Register a platform (active, with one deployment unless ``deployment_id`` is None); its id.

    The login, token and key-set URLs are ``<endpoints>/auth``, ``/token`` and ``/jwks``, with
    ``endpoints`` defaulting to the issuer; ``token_url`` replaces the token URL alone.
    """
    base = endpoints or issuer
    with db.session() as s:
        platform = Platform(
            issuer=issuer,
            client_id=client_id,
            name=name,
            auth_login_url=f"{base}/auth",
            auth_token_url=token_url or f"{base}/token",
            key_set_url=f"{base}/jwks",
            auth_audience=audience,
            status=status,
            details=dict(details or {}),
        )
        if deployment_id is not None:
            platform.deployments.append(Deployment(deployment_id=deployment_id))
        s.add(platform)
        s.flush()
        return platform.id


def ags_claim(
    lineitem: str | None = f"{ISSUER}/lineitems/1/lineitem?type_id=1",
    *,
    lineitems: str | None = None,
    scopes: tuple[str, ...] = (SCOPE_SCORE,),
) -> dict[str, Any]:
    """The claims of a launch that may post scores: the AGS endpoint claim."""
    endpoint: dict[str, Any] = {"scope": list(scopes)}
    if lineitem:
        endpoint["lineitem"] = lineitem
    if lineitems:
        endpoint["lineitems"] = lineitems
    return {AGS_CLAIM: endpoint}


def launch(
    course: str,
    *,
    platform_id: int,
    sub: str = "learner-1",
    link: str = "rl-1",
    roles: tuple[str, ...] = (LEARNER,),
    launch_id: str = "launch-1",
    claims: Mapping[str, Any] = _UNSET,
    **fields: Any,
) -> Launch:
    """A learner's resource-link launch of catalogue course ``course`` (its ``custom.course``).

    ``claims`` defaults to :func:`ags_claim` (the launch may post scores); ``fields`` replace any
    other :class:`Launch` field (``issuer``, ``name``, ``context_title``, ``custom`` …).
    """
    base = Launch(
        id=launch_id,
        platform_id=platform_id,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        deployment_id=DEPLOYMENT_ID,
        message_type="LtiResourceLinkRequest",
        sub=sub,
        roles=roles,
        context_id="course-7",
        context_title="Police Academy Intake 12",
        resource_link_id=link,
        resource_link_title="Evidence module",
        name="Ana Learner",
        email="ana@example.org",
        custom={"course": course},
        claims=ags_claim() if claims is _UNSET else claims,
    )
    return dataclasses.replace(base, **fields) if fields else base


def import_course(services: Services, package: Path) -> ImportOutcome:
    """Import a course package into the catalogue (a new course, or a new version of it)."""
    return catalogue.import_package(services, package)


def start_attempt(
    services: Services, launch: Launch, *, item: str | None = None, learner_name: str = "x"
) -> tuple[OpenedAttempt, ItemSession]:
    """What a learner's launch does: open (or resume) the attempt, then start a session of ``item``
    (default: the attempt's current item), as the launch's ``sub``."""
    opened = service.open_attempt(services, launch)
    session = service.start_item_session(
        services,
        opened.attempt_id,
        item or opened.current_item or "",
        learner_id=launch.sub or "",
        learner_name=learner_name,
    )
    return opened, session
