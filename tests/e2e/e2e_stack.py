"""The running stack of the end-to-end tests and reads of its database (no fixtures here:
see conftest.py, which builds it)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lti_tool.catalogue import ImportOutcome, import_package
from lti_tool.devlms.models import DevLineItem, DevResourceLink
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, ScoState
from scorm.cmi.model import get_value

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
