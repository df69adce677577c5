"""The catalogue's tables (``courses``, ``course_versions``): their store in the shared core.

Several packages read them (the catalogue, the runtime, content serving, the admin pages, the
CLI, privacy exports), so they belong to no single feature: only this module builds queries on
them (docs/ARCHITECTURE.md, "Storage boundary"; the catalogue's and the runtime's own queries
move here as those modules are reworked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def content_dir(db: Database, version_id: int) -> str | None:
    """The folder (under ``content_path``) holding one course version's files; None: no such version."""
    with db.session() as s:
        return s.scalar(select(CourseVersion.content_dir).where(CourseVersion.id == version_id))


def course_titles(s: Session, course_ids: Iterable[int] | None = None) -> dict[int, str]:
    """Course id -> the title people see (the display title, else the package's), in the caller's
    session; every course, or those of ``course_ids`` (one query)."""
    query = select(Course.id, Course.title, Course.display_title)
    if course_ids is not None:
        query = query.where(Course.id.in_(list(course_ids)))
    return {cid: display or title for cid, title, display in s.execute(query)}


def course_with_versions(s: Session, course_id: int) -> tuple[Course, Sequence[CourseVersion]] | None:
    """A course and its versions, newest first, in the caller's session; None: no such course."""
    course = s.get(Course, course_id)
    if course is None:
        return None
    versions = s.scalars(
        select(CourseVersion).where(CourseVersion.course_id == course_id).order_by(CourseVersion.version.desc())
    ).all()
    return course, versions

def version_by_id(s: Session, version_id: int) -> CourseVersion | None:
    """One course version."""
    return s.get(CourseVersion, version_id)
