"""End-to-end fixtures: the REAL app (threaded werkzeug server on 127.0.0.1) with its development
LMS, real packages imported through the catalogue, and Debian's chromium driven by Playwright.

One app/server per test module (imports and migrations are the slow part); every test adds its
own resource link in the development LMS, so each test has its own learner registration and
attempt. Assertions read the database (``sco_states``, ``attempts``), not only the page.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.catalogue import ImportOutcome, import_package
from lti_tool.demo import build_demo_package
from lti_tool.lti.devplatform import ensure_registered
from lti_tool.services import Services, build_services
from lti_tool.settings import load_settings
from lti_tool.storage import Database
from lti_tool.storage.models import Attempt, DevLineItem, DevResourceLink, ScoState
from scorm.cmi.model import get_value

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET = "e2e-secret-key-" + "e" * 40


def packages_dir() -> Path:
    """The real third-party packages (``../shared/fixtures/packages``); fail loudly when missing."""
    default = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "packages"
    path = Path(os.environ.get("CBSI_FIXTURES_DIR", default))
    if not path.is_dir():
        pytest.fail(f"real package fixtures missing at {path}: e2e tests must not skip", pytrace=False)
    return path


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Stack:
    """The running app, its services, and helpers over its database."""

    base: str
    services: Services
    tmp: Path
    imported: dict[str, ImportOutcome] = field(default_factory=dict)

    @property
    def platform(self) -> str:
        return self.base + "/dev/platform"

    def course(self, relpath: str) -> ImportOutcome:
        """Import a real package (once per module) through the catalogue."""
        if relpath not in self.imported:
            src = packages_dir() / relpath
            if not src.is_file():
                pytest.fail(f"fixture package {src} is missing", pytrace=False)
            self.imported[relpath] = import_package(self.services, src, imported_by="e2e")
        return self.imported[relpath]

    def add_link(self, course_key: str, title: str) -> int:
        """A graded resource link in the development LMS opening ``course_key`` (like deep linking)."""
        with self.services.db.session() as s:
            item = DevLineItem(label=title, score_maximum=100.0, resource_id=title, tag="grade")
            s.add(item)
            s.flush()
            link = DevResourceLink(title=title, url=None, custom={"course": course_key}, line_item_id=item.id)
            s.add(link)
            s.flush()
            item.resource_link_id = f"dev-link-{link.id}"
            return link.id

    def attempts_for_link(self, link_id: int) -> list[Attempt]:
        from lti_tool.storage.models import LearnerRegistration

        with self.services.db.session() as s:
            rows = s.scalars(
                select(Attempt)
                .join(LearnerRegistration, Attempt.registration_id == LearnerRegistration.id)
                .where(LearnerRegistration.resource_link_id == f"dev-link-{link_id}")
                .order_by(Attempt.number)
            ).all()
            s.expunge_all()
            return list(rows)

    def attempt(self, attempt_id: str) -> Attempt:
        with self.services.db.session() as s:
            row = s.get(Attempt, attempt_id)
            if row is None:
                raise AssertionError(f"no attempt {attempt_id} in the database")
            s.expunge(row)
            return row

    def sco_states(self, attempt_id: str) -> dict[str, ScoState]:
        with self.services.db.session() as s:
            rows = s.scalars(select(ScoState).where(ScoState.attempt_id == attempt_id)).all()
            s.expunge_all()
            return {r.item_id: r for r in rows}

    def sco_state(self, attempt_id: str, item_id: str) -> ScoState | None:
        return self.sco_states(attempt_id).get(item_id)

    def cmi_reader(self, attempt_id: str, item_id: str) -> Callable[[str], str | None]:
        """Reads of one stored state document (one query; for many elements)."""
        row = self.sco_state(attempt_id, item_id)
        if row is None:
            raise AssertionError(f"no state row for {item_id} in attempt {attempt_id}")

        def read(element: str) -> str | None:
            value, error = get_value(row.state, element, row.cmi_version)
            return value if error == 0 else None

        return read

    def cmi(self, attempt_id: str, item_id: str, element: str) -> str | None:
        """A stored CMI value (``scorm.cmi`` reads the state document); None when unset/no row."""
        row = self.sco_state(attempt_id, item_id)
        if row is None:
            return None
        value, error = get_value(row.state, element, row.cmi_version)
        return value if error == 0 else None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole tool on a loopback port, development LMS enabled, fresh SQLite database."""
    from werkzeug.serving import make_server

    packages_dir()
    tmp = tmp_path_factory.mktemp("e2e")
    db_path = tmp / "instance" / "cbsi-connect.sqlite3"
    db_path.parent.mkdir(parents=True)
    url = f"sqlite:///{db_path}"
    migrated = Database(url)
    migrated.upgrade()
    migrated.dispose()
    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    settings = load_settings(
        environ={},
        overrides={
            "server": {
                "base_url": base,
                "secret_key": SECRET,
                "instance_folder": str(tmp / "instance"),
                "log_level": "WARNING",
            },
            "database": {"url": url},
            "keys": {"folder": str(tmp / "keys")},
        },
    )
    services = build_services(settings)
    services.keys.generate(if_missing=True)
    app = create_app(settings, services=services)
    app.testing = True
    app.config["CBSI_DEV_PLATFORM"] = True
    ensure_registered(services.db, base)
    demo = import_package(services, build_demo_package(tmp / "demo-course.zip"), imported_by="e2e")
    server.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        # The LMS home creates its default "Sample activity" link (the demo course) on first view.
        home = requests.get(base + "/dev/platform/", timeout=10)
        if home.status_code != 200 or "Sample activity" not in home.text:
            pytest.fail(f"the development LMS did not come up: {home.status_code}", pytrace=False)
        yield Stack(base=base, services=services, tmp=tmp, imported={"demo": demo})
    finally:
        server.shutdown()
        thread.join(timeout=5)
        services.db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless (never a downloaded browser)."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (never `playwright install`)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def context(browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh browser profile (own cookies and localStorage) per test."""
    ctx = browser.new_context(base_url=stack.base, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15000)
    try:
        yield ctx
    finally:
        ctx.close()
