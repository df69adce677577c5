"""Demo seed: what ``cbsi-connect demo`` puts in a fresh instance.

Each feature adds its own seed step here (the development LMS's tables and its registration,
the sample course); every step is idempotent so the demo can be restarted on the same instance.
"""

from __future__ import annotations

import os
import secrets
import zipfile
from pathlib import Path

from lti_tool import catalogue, operators
from lti_tool.devlms import schema
from lti_tool.devlms.identity import ensure_registered
from lti_tool.services import Services

DEMO_COURSE = Path(__file__).resolve().parent / "course"
SHARED_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "packages"


def build_demo_package(target: Path) -> Path:
    """Zip the bundled demo course (a SCORM 1.2 SCO written for this project) into ``target``.

    The zip's entries carry a fixed timestamp so its bytes (and checksum) are stable: restarting
    the demo imports nothing new.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(DEMO_COURSE.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                info = zipfile.ZipInfo(path.name, date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    return target


def seed(services: Services) -> list[str]:
    """Seed the demo instance; returns human-readable lines about what is there."""
    kid = services.keys.signing_key().kid
    schema.upgrade(services.db)
    dev = ensure_registered(services.db, services.settings.server.base_url)
    lines = [f"tool key: {kid}", f"development LMS: platform {dev.id} ({dev.issuer})"]
    package = build_demo_package(services.settings.instance_path / "demo-course.zip")
    outcome = catalogue.import_package(services, package, imported_by="demo")
    lines.append(f"sample course: {outcome.title} (course {outcome.course_id}, {outcome.status})")
    lines.append(
        f"operator login: {services.settings.server.base_url}/admin  user admin  password {_demo_password(services)}"
    )
    if SHARED_FIXTURES.is_dir():
        imported = 0
        for zip_path in sorted(SHARED_FIXTURES.glob("*/*.zip")):
            catalogue.import_package(services, zip_path, imported_by="demo")
            imported += 1
        lines.append(f"also in the catalogue: {imported} real packages from {SHARED_FIXTURES}")
    return lines


def _demo_password(services: Services) -> str:
    """The demo operator's password: made once per instance, kept in a 0600 file beside it."""
    path = services.settings.instance_path / "demo-admin-password"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(12))
    password = path.read_text().strip()
    operators.set_operator(services, "admin", password)
    return password
