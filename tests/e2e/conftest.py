"""End-to-end fixtures: the REAL app (threaded werkzeug server on 127.0.0.1) with its development
LMS, real packages imported through the catalogue, and Debian's chromium driven by Playwright.

One app/server per test module (imports and migrations are the slow part); every test adds its
own resource link in the development LMS, so each test has its own learner registration and
attempt. Assertions read the database (``sco_states``, ``attempts``), not only the page.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from e2e_stack import SECRET, Stack, packages_dir

from lti_tool import create_app, devlms
from lti_tool.catalogue import import_package
from lti_tool.devlms.identity import ensure_registered
from lti_tool.devlms.seed import build_demo_package
from lti_tool.services import build_services
from lti_tool.settings import load_settings
from lti_tool.storage import Database

_ANSWER = "cbsi.e2e.answer"


def _closing(app: Any) -> Any:
    """The app, its answer kept in the environ so :class:`_Handler` can close it (WSGI: a server
    calls the answer's ``close()`` even when the client went away, as gunicorn does)."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        answer = environ[_ANSWER] = app(environ, start_response)
        return answer

    return wsgi


def _handler() -> type:
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        """werkzeug's development handler, closing the answer of a request whose client went away
        mid-answer (a page navigating away while a course's video streams): werkzeug's own path
        skips ``close()`` then, and the file being sent is left to the garbage collector (a
        ResourceWarning, an error in this suite)."""

        def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
            answer = (environ or {}).get(_ANSWER)
            if answer is not None and hasattr(answer, "close"):
                answer.close()
            super().connection_dropped(error, environ)

    return Handler


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
    devlms.schema.upgrade(migrated)  # what 'cbsi-connect db upgrade' does in demo mode
    migrated.dispose()
    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True, request_handler=_handler())
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
            # tool and development LMS both on loopback: allowed explicitly (production refuses it)
            "outbound": {"allow_private": ["127.0.0.0/8"]},
        },
    )
    services = build_services(settings)
    services.keys.generate(if_missing=True)
    app = create_app(settings, services=services)
    app.testing = True
    devlms.install(app, services)
    ensure_registered(services.db, base)
    demo = import_package(services, build_demo_package(tmp / "demo-course.zip"), imported_by="e2e")
    server.app = _closing(app)
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
def browser(chromium: Any) -> Any:
    """The shared headless chromium (``tests/conftest.py``)."""
    return chromium


@pytest.fixture
def context(browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh browser profile (own cookies and localStorage) per test."""
    ctx = browser.new_context(base_url=stack.base, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15000)
    try:
        yield ctx
    finally:
        ctx.close()
