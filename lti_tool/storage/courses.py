"""The catalogue's tables (``courses``, ``course_versions``): their store in the shared core.

Several packages read them (the catalogue, the runtime, content serving, the admin pages, the
CLI, privacy exports), so they belong to no single feature: only this module builds queries on
them (docs/ARCHITECTURE.md, "Storage boundary"; the catalogue's and the runtime's own queries
move here as those modules are reworked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, func, or_, select
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


_NEWEST_VERSION = (
    select(CourseVersion)
    .where(CourseVersion.course_id == bindparam("course_id"))
    .order_by(CourseVersion.version.desc())
    .limit(1)
)


def newest_version(s: Session, course_id: int) -> CourseVersion | None:
    """The course's newest imported version (the one a new attempt plays)."""
    return s.scalars(_NEWEST_VERSION, {"course_id": course_id}).first()


# The catalogue's statements (lti_tool/catalogue.py keeps the import, search and title rules).

# Built once: every learner's launch looks its course up by key.
_COURSE_BY_KEY = select(Course).where(Course.key == bindparam("key")).limit(1)


def find_course(s: Session, ident: str) -> Course | None:
    """A course by numeric id or by key, in the caller's session."""
    course = s.get(Course, int(ident)) if ident.isdigit() else None
    return course or s.scalars(_COURSE_BY_KEY, {"key": ident}).first()


def course_by_key(s: Session, key: str) -> Course | None:
    """The course with this key, if any."""
    return s.scalars(select(Course).where(Course.key == key)).first()


def new_course(**values: Any) -> Course:
    """A new course row, not yet added to a session."""
    return Course(**values)


def version_by_sha256(s: Session, sha256: str) -> CourseVersion | None:
    """The version imported from a package with these bytes, if any."""
    return s.scalars(select(CourseVersion).where(CourseVersion.sha256 == sha256)).first()


def latest_version_number(s: Session, course_id: int) -> int | None:
    """The course's highest version number (None before its first version)."""
    return s.scalar(select(func.max(CourseVersion.version)).where(CourseVersion.course_id == course_id))


def new_version(**values: Any) -> CourseVersion:
    """A new course version row, not yet added to a session."""
    return CourseVersion(**values)


def search_courses(
    s: Session, like: str | None, *, standard: str | None, language: str | None, limit: int
) -> list[Course]:
    """Courses ordered by the title people see: ``like`` (an escaped LIKE pattern, ``\\`` escapes)
    on title, display title, description or key; a standard; a language prefix."""
    stmt = select(Course).order_by(func.coalesce(Course.display_title, Course.title), Course.id)
    if like is not None:
        stmt = stmt.where(
            or_(
                func.lower(Course.title).like(like, escape="\\"),
                func.lower(Course.display_title).like(like, escape="\\"),
                func.lower(Course.description).like(like, escape="\\"),
                func.lower(Course.key).like(like, escape="\\"),
            )
        )
    if standard:
        stmt = stmt.where(Course.standard == standard)
    if language:
        stmt = stmt.where(func.lower(Course.language).like(f"{language.strip().lower()}%"))
    return list(s.scalars(stmt.limit(limit)).all())


def course_title_rows(s: Session) -> list[Row[Any]]:
    """Every course's ``id``, ``title``, ``display_title`` and ``standard``."""
    return list(s.execute(select(Course.id, Course.title, Course.display_title, Course.standard)).all())


def newest_editions(s: Session, course_ids: Iterable[int]) -> dict[int, str | None]:
    """Course id -> the edition of its newest version, for these courses."""
    editions: dict[int, str | None] = {}
    for cid, edition in s.execute(
        select(CourseVersion.course_id, CourseVersion.edition)
        .where(CourseVersion.course_id.in_(list(course_ids)))
        .order_by(CourseVersion.course_id, CourseVersion.version)
    ):
        editions[cid] = edition  # the newest version's edition wins
    return editions
