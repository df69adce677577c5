"""The service container: everything a request, a CLI command or a worker needs, built once."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lti_tool.keys import KeyStore
from lti_tool.outbound import OutboundClient, build_client
from lti_tool.settings import Settings
from lti_tool.storage import Database


@dataclass(frozen=True, kw_only=True)
class Services:
    """Long-lived collaborators, created by :func:`build_services`."""

    settings: Settings
    db: Database
    keys: KeyStore
    #: The one outbound HTTP client (deadline, size cap, address check; DESIGN.md §5 decision 9).
    http: OutboundClient = field(default_factory=OutboundClient)
    hooks: dict[str, list[Callable[..., Any]]] = field(default_factory=dict)

    def add_hook(self, name: str, hook: Callable[..., Any]) -> None:
        """Register ``hook`` under ``name`` (e.g. ``outcome_changed``: the grade outbox)."""
        self.hooks.setdefault(name, []).append(hook)


def build_services(settings: Settings) -> Services:
    """Create the database handle and the key store for ``settings``."""
    db = Database(settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size)
    keys = KeyStore(
        db,
        settings.keys_path,
        overlap_seconds=settings.keys.rotation_overlap_seconds,
        bits=settings.keys.bits,
    )
    return Services(settings=settings, db=db, keys=keys, http=build_client(settings))


def demo_secret(instance: Path) -> str:
    """A per-instance secret for demo mode, created once with mode 0600."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "demo-secret-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
