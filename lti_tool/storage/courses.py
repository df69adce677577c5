"""The catalogue's tables (``courses``, ``course_versions``): their store in the shared core.

Several packages read them (the catalogue, the runtime, content serving, the admin pages, the
CLI, privacy exports), so they belong to no single feature: only this module builds queries on
them (docs/ARCHITECTURE.md, "Storage boundary"; the catalogue's and the runtime's own queries
move here as those modules are reworked).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.storage.db import Database
from lti_tool.storage.models import Course, CourseVersion


@dataclass(frozen=True)
class CatalogueSize:
    """How many courses the catalogue holds, and how many versions of them."""

    courses: int
    versions: int


def catalogue_size(db: Database) -> CatalogueSize:
    """The number of courses and of course versions (the admin dashboard)."""
    with db.session() as s:
        courses = s.scalar(select(func.count()).select_from(Course)) or 0
        versions = s.scalar(select(func.count()).select_from(CourseVersion)) or 0
    return CatalogueSize(courses=courses, versions=versions)


def version_by_id(s: Session, version_id: int) -> CourseVersion | None:
    """One course version."""
    return s.get(CourseVersion, version_id)
