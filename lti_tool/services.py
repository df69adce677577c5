"""The assembly: every long-lived object a request, a CLI command or a worker needs, built once.

:func:`build_services` is the one factory. The web app (``lti_tool.create_app``), the CLI
(``CliContext.services``) and the grade worker (``grades.build_worker``) all take their objects
from the :class:`Services` it returns; views reach it through ``lti_tool.web.services()`` (or
:func:`services_of` with an app at hand), never through string-keyed slots.

Everything is built eagerly: each object is a few attributes and no I/O (the database engine
connects on first use, the key store reads its keys on first use), so laziness would buy
nothing but a second construction path. The one side effect is the demo secret file, created
only in demo mode without ``server.secret_key`` (and needed by any signer anyway).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lti_tool import grades
from lti_tool.content import ContentSigner
from lti_tool.keys import KeyStore
from lti_tool.lti.context import LaunchHandlers
from lti_tool.lti.deeplinking import CatalogueSource, DbCatalogueSource
from lti_tool.lti.gate import PlatformGate
from lti_tool.lti.jwks import PlatformKeyCache
from lti_tool.lti.launches import LoginBudget
from lti_tool.lti.nrps import RosterClient
from lti_tool.lti.service import LtiService
from lti_tool.lti.tokens import ServiceTokens
from lti_tool.outbound import OutboundClient, build_client
from lti_tool.outcome_events import OutcomeListener
from lti_tool.settings import Settings
from lti_tool.storage import Database
from lti_tool.tokens import PURPOSE_RUNTIME, ScopedSigner
from sync.ags import AgsClient
from sync.tokens import ClientCredentialsTokenProvider

if TYPE_CHECKING:
    from collections.abc import Callable

    from flask import Flask

    from lti_tool.content import ContentGrant
    from lti_tool.runtime.deliveries import Deliveries

#: The one ``app.extensions`` entry: the app's :class:`Services` (read it with :func:`services_of`).
APP_EXTENSION = "cbsi"


@dataclass(frozen=True, kw_only=True)
class Services:
    """Long-lived collaborators, created by :func:`build_services` (never construct it by hand).

    The objects are built from ``settings``: for other settings call :func:`build_services` again
    (sharing ``db`` and ``keys`` if needed), never ``dataclasses.replace(services, settings=...)``,
    which would keep objects built from the old settings.
    """

    settings: Settings
    db: Database
    keys: KeyStore
    #: The one outbound HTTP client (deadline, size cap, address check; DESIGN.md §5 decision 9).
    http: OutboundClient
    #: ``server.secret_key``, or the per-instance demo secret: Flask sessions and every signer.
    secret_key: str
    #: Platforms' JWKS, cached (launch validation; the development platform has its own).
    key_cache: PlatformKeyCache
    #: Launch handlers by message type; blueprints register theirs in ``init_app``.
    launch_handlers: LaunchHandlers
    #: OIDC login, launch validation, launch sessions.
    lti: LtiService
    #: Client-credentials tokens of the interactive service calls (NRPS; AGS from web requests).
    service_tokens: ServiceTokens
    #: NRPS rosters (cached per context).
    roster: RosterClient
    #: Client-credentials tokens of grade delivery (the worker and ``sync verify``).
    grade_tokens: ClientCredentialsTokenProvider
    #: The AGS client of grade delivery, restricted to the platforms' registered hosts.
    ags: AgsClient
    #: Platforms' token and AGS endpoints for the worker (cached).
    platform_directory: grades.SqlPlatformDirectory
    #: Attempt-scoped runtime tokens of the player.
    runtime_signer: ScopedSigner
    #: Signed package-file URL prefixes under the content origin.
    content_signer: ContentSigner
    #: Extra checks a content grant must pass (``web.content.set_access_check``); empty by default.
    content_checks: list[Callable[[ContentGrant], bool]] = field(default_factory=list)
    #: The courses the deep-linking picker offers.
    catalogue: CatalogueSource
    #: Is a platform still enabled (cached per process).
    platform_gate: PlatformGate
    #: The cap on open OIDC logins.
    login_budget: LoginBudget
    #: Called in the commit's transaction when an attempt's graded outcome changes.
    outcome_listeners: tuple[OutcomeListener, ...] = ()
    #: The delivery registry keyed by standard (``lti_tool.runtime.deliveries``): how the launch,
    #: the player page and the commit path play each standard.
    deliveries: Deliveries


def build_services(
    settings: Settings,
    *,
    db: Database | None = None,
    keys: KeyStore | None = None,
    catalogue: CatalogueSource | None = None,
) -> Services:
    """Build every long-lived object for ``settings``.

    Args:
        settings: validated settings.
        db: an existing database handle to share (tests: one database, two configurations).
        keys: an existing key store to share (same reason).
        catalogue: the picker's catalogue (default: the ``courses`` table).
    """
    from lti_tool.runtime.deliveries import default_deliveries  # the runtime imports this module

    db = db or Database(settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size)
    keys = keys or KeyStore(
        db, settings.keys_path, overlap_seconds=settings.keys.rotation_overlap_seconds, bits=settings.keys.bits
    )
    http = build_client(settings)
    secret = settings.server.secret_key or demo_secret(settings.instance_path)
    lti = settings.lti
    key_cache = PlatformKeyCache(
        ttl_seconds=lti.jwks_cache_ttl_seconds,
        refetch_min_interval_seconds=lti.jwks_refetch_min_interval_seconds,
        timeout_seconds=lti.http_timeout_seconds,
        session=http,
    )
    handlers = LaunchHandlers()
    lti_service = LtiService(
        settings=settings,
        db=db,
        secret_key=secret,
        key_cache=key_cache,
        supported_message_types=handlers.message_types,
    )
    tokens = ServiceTokens(db, keys, timeout=lti.http_timeout_seconds, session=http)
    grade_tokens = grades.grade_tokens(settings, db, keys, http)
    guard = grades.RegisteredHostsGuard(db, extra_hosts=settings.outbound.service_hosts)
    return Services(
        settings=settings,
        db=db,
        keys=keys,
        http=http,
        secret_key=secret,
        key_cache=key_cache,
        launch_handlers=handlers,
        lti=lti_service,
        service_tokens=tokens,
        roster=RosterClient(db, tokens),
        grade_tokens=grade_tokens,
        ags=AgsClient(grade_tokens, session=http, timeout=grades.ags_timeout(settings), url_guard=guard),
        platform_directory=grades.SqlPlatformDirectory(db),
        runtime_signer=ScopedSigner(secret, PURPOSE_RUNTIME, settings.player.token_ttl_seconds),
        content_signer=ContentSigner(secret, settings.content.url_ttl_seconds),
        catalogue=catalogue or DbCatalogueSource(db),
        platform_gate=PlatformGate(db, ttl_seconds=lti.platform_status_cache_seconds),
        login_budget=LoginBudget(db, cap=lti.max_open_logins),
        outcome_listeners=(grades.GradeOutboxListener(),),
        deliveries=default_deliveries(),
    )


def services_of(app: Flask) -> Services:
    """The services of ``app`` (built by ``lti_tool.create_app``).

    Raises:
        RuntimeError: ``app`` was not built by ``create_app``.
    """
    found = app.extensions.get(APP_EXTENSION)
    if not isinstance(found, Services):
        raise RuntimeError(f"{app.name} carries no CBSI-Connect services: build it with lti_tool.create_app")
    return found


def attach(app: Flask, services: Services) -> None:
    """Make ``services`` the services of ``app`` (``create_app`` calls this once)."""
    app.extensions[APP_EXTENSION] = services


def demo_secret(instance: Path) -> str:
    """A per-instance secret for demo mode, created once with mode 0600."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "demo-secret-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
