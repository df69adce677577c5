"""Shared fixtures: settings on a temp instance, a migrated database (SQLite or PostgreSQL), the app.

The suite runs on SQLite by default. With ``CBSI_TEST_POSTGRES_URL`` set (``.ci/run`` and
``make test`` start a throwaway cluster) every storage-backed test runs on PostgreSQL instead:
one fresh database per test session, tables emptied between tests.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import factories
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lti_tool import create_app
from lti_tool.devlms import schema as devlms_schema
from lti_tool.devlms.models import DevBase
from lti_tool.logging_setup import JsonFormatter, install_filters
from lti_tool.services import Services, build_services
from lti_tool.settings import Settings, load_settings
from lti_tool.storage import Database
from lti_tool.storage.models import Base

REPO = Path(__file__).resolve().parents[1]
TEST_SECRET = "test-secret-key-" + "x" * 40
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def _logging_is_left_as_found() -> Iterator[None]:
    """No test leaks logging levels into later ones (create_app sets the root level; a later test
    reading caplog at INFO would silently see nothing). Handlers are pytest's to manage."""
    import logging

    watched = [logging.getLogger(), *(logging.getLogger(n) for n in ("lti_tool", "sync", "scorm", "gunicorn"))]
    before = [(lg, lg.level, lg.propagate, lg.disabled) for lg in watched]
    yield
    for lg, level, propagate, disabled in before:
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, through one Playwright session shared by every browser test.

    Never a downloaded browser. One session for the whole run: a second sync Playwright cannot
    start while another is open in the same thread, so browser suites may run in any order.
    """
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (never `playwright install`)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real third-party packages in ``../shared/fixtures/packages`` (never skipped)."""
    path = Path(os.environ.get("CBSI_FIXTURES_DIR", REPO.parent / "shared" / "fixtures" / "packages"))
    if not path.is_dir():
        pytest.fail(f"real package fixtures missing at {path}: tests that read them must not skip", pytrace=False)
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database for this session, or None when running on SQLite."""
    admin_url = os.environ.get("CBSI_TEST_POSTGRES_URL")
    if not admin_url:
        yield None
        return
    name = f"cbsi_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # survives a restart test
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    migrated = Database(url)
    migrated.upgrade()
    devlms_schema.upgrade(migrated)  # the development LMS's tables too, as in demo mode
    migrated.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    devlms_schema.upgrade(db)  # the development LMS's tables too, as in demo mode
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def database_url(tmp_path: Path, postgres_url: str | None, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database for one test."""
    if postgres_url is None:
        target = tmp_path / "instance" / "cbsi-connect.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        owned = [*Base.metadata.sorted_tables, *DevBase.metadata.sorted_tables]
        tables = ", ".join(f'"{t.name}"' for t in owned)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield postgres_url


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[Database]:
    """An empty database (not migrated) on this run's backend: SQLite, or a new PostgreSQL database."""
    admin_url = os.environ.get("CBSI_TEST_POSTGRES_URL")
    if not admin_url:
        db = Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield db
        db.dispose()
        return
    name = f"cbsi_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    yield db
    db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings_overrides(tmp_path: Path, database_url: str) -> dict[str, dict[str, Any]]:
    """Settings for a test instance; tests may tweak the mapping before ``settings`` is built."""
    return {
        "server": {
            "base_url": "http://localhost",
            "secret_key": TEST_SECRET,
            "instance_folder": str(tmp_path / "instance"),
            "log_level": "INFO",
        },
        "database": {"url": database_url},
        "keys": {"folder": str(tmp_path / "keys")},
    }


@pytest.fixture
def settings(settings_overrides: dict[str, dict[str, Any]]) -> Settings:
    """Validated settings (no config file, no environment)."""
    return load_settings(environ={}, overrides=settings_overrides)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """Services over the test database, with one active tool key."""
    built = build_services(settings)
    built.keys.generate(if_missing=True)
    yield built
    built.db.dispose()


@pytest.fixture
def app(settings: Settings, services: Services) -> Flask:
    """The application over the test services."""
    flask_app = create_app(settings, services=services)
    flask_app.testing = True
    return flask_app


@pytest.fixture
def platform_id(services: Services) -> int:
    """An active platform (https://lms.example, client-1, deployment dep-1) for runtime and web tests."""
    return factories.add_platform(services.db)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client."""
    return app.test_client()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record of the process as JSON lines (the app's handler with its filters)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    install_filters(handler)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old)
