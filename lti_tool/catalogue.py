"""The course catalogue: import packages as versioned courses, list and show them.

Import = safe extraction (``scorm.packaging``) into the content folder + one transaction that
records the course version. Identical bytes are a no-op; a refused package leaves nothing
behind; if the database step fails the extracted folder is removed again.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from lti_tool.services import Services
from lti_tool.storage import Database
from lti_tool.storage.models import Course, CourseVersion
from scorm.packaging import ImportedPackage, ImportLimits, PackageError, extract_package
from scorm.packaging.cmi5 import Cmi5Course
from scorm.packaging.scorm_manifest import ScormManifest
from scorm.packaging.tincan import TinCanManifest

logger = logging.getLogger(__name__)


class CatalogueError(Exception):
    """A catalogue operation failed."""

    code = "catalogue_error"


class CourseNotFound(CatalogueError):
    """No such course in the catalogue."""

    code = "course_not_found"


@dataclass(frozen=True, kw_only=True)
class ImportOutcome:
    """What importing one file did."""

    status: str  # "imported" | "unchanged"
    course_id: int
    course_key: str
    version: int
    version_id: int
    title: str
    standard: str
    edition: str | None
    launchable_count: int
    size_bytes: int
    sha256: str


@dataclass(frozen=True, kw_only=True)
class CourseSummary:
    """A catalogue course with its newest version (picker, ``packages list``)."""

    course_id: int
    key: str
    title: str
    description: str
    language: str
    standard: str
    edition: str | None
    latest_version: int
    latest_version_id: int
    launchable_count: int
    size_bytes: int
    versions: int
    imported_at: datetime
    imported_by: str


def limits_from(services: Services) -> ImportLimits:
    """Import limits from the ``[packages]`` settings."""
    cfg = services.settings.packages
    return ImportLimits(
        max_total_bytes=cfg.max_total_bytes,
        max_entry_ratio=float(cfg.max_compression_ratio),
        max_entries=cfg.max_entries,
        max_manifest_bytes=cfg.max_manifest_bytes,
    )


def to_jsonable(value: Any) -> Any:
    """Frozen dataclasses, enums, tuples and paths as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        out["_type"] = type(value).__name__
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:120] or "course"


def course_key_for(package: ImportedPackage) -> str:
    """A stable catalogue key for a package: its manifest or course identifier."""
    structure = package.structure
    if isinstance(structure, ScormManifest) and structure.identifier:
        return structure.identifier[:255]
    if isinstance(structure, Cmi5Course):
        return structure.id[:255]
    if isinstance(structure, TinCanManifest):
        try:
            return structure.launch_activity.id[:255]
        except IndexError:
            pass
    return _slug(package.title)


def _edition(package: ImportedPackage) -> str | None:
    if package.edition is None:
        return None
    return {2: "2nd", 3: "3rd", 4: "4th"}.get(package.edition, str(package.edition))


def import_package(
    services: Services, source: Path, *, course_key: str | None = None, imported_by: str = "cli"
) -> ImportOutcome:
    """Import one package file as a new version of its course.

    Args:
        services: app services.
        source: the package (zip, or a standalone cmi5.xml).
        course_key: id or key of an existing course to add the package to as a new version;
            by default the course is found (or created) by the key derived from the manifest.
        imported_by: who imports (shown in the catalogue).

    Returns:
        What happened; identical bytes already in the catalogue give status ``unchanged``.

    Raises:
        PackageError: the package is refused (nothing is left behind).
        CourseNotFound: ``course_key`` names no course.
    """
    content_root = services.settings.content_path
    content_root.mkdir(parents=True, exist_ok=True)
    sha = _sha256(source)
    with services.db.session() as s:
        existing = s.scalars(select(CourseVersion).where(CourseVersion.sha256 == sha)).first()
        if existing is not None:
            return _outcome("unchanged", existing)

    folder_existed = (content_root / sha).exists()
    package = extract_package(source, content_root, limits_from(services), durable=True)
    content_dir = package.content_dir
    if content_dir is None:  # pragma: no cover - extract_package always sets it
        raise CatalogueError("the importer returned no content folder")
    try:
        with services.db.session() as s:
            if course_key is not None:
                course = find_course(s, course_key)
                if course is None:
                    raise CourseNotFound(
                        f"no course '{course_key}' to add a version to: see 'cbsi-connect packages list'"
                    )
            else:
                key = course_key_for(package)
                course = s.scalars(select(Course).where(Course.key == key)).first()
                if course is None:
                    course = Course(
                        key=key,
                        title=package.title[:512],
                        description=package.description or "",
                        language=package.language or "",
                        standard=package.standard.value,
                    )
                    s.add(course)
                    s.flush()
            latest = s.scalar(select(func.max(CourseVersion.version)).where(CourseVersion.course_id == course.id))
            version = CourseVersion(
                course_id=course.id,
                version=(latest or 0) + 1,
                sha256=package.sha256,
                standard=package.standard.value,
                edition=_edition(package),
                title=package.title[:512],
                launchable_count=len(package.launchables),
                size_bytes=package.total_size,
                content_dir=content_dir.name,
                structure={
                    "manifest_file": package.manifest_file,
                    "launchables": to_jsonable(package.launchables),
                    "manifest": to_jsonable(package.structure),
                },
                source_name=source.name[:512],
                imported_by=imported_by[:255],
            )
            # newest version's metadata becomes the course's
            course.title = package.title[:512]
            course.description = package.description or course.description
            course.language = package.language or course.language
            s.add(version)
            s.flush()
            s.refresh(version, ["course"])
            outcome = _outcome("imported", version)
    except BaseException:
        if not folder_existed:
            shutil.rmtree(content_dir, ignore_errors=True)
        raise
    logger.info(
        "imported %s as %s v%d", source.name, outcome.course_key, outcome.version, extra={"action": "package_import"}
    )
    return outcome


def find_course(s: Session, ident: str) -> Course | None:
    """A course by numeric id or by key, in the caller's session."""
    course = s.get(Course, int(ident)) if ident.isdigit() else None
    return course or s.scalars(_COURSE_BY_KEY, {"key": ident}).first()


# Built once: every learner's launch looks its course up by key.
_COURSE_BY_KEY = select(Course).where(Course.key == bindparam("key")).limit(1)


def _outcome(status: str, version: CourseVersion) -> ImportOutcome:
    return ImportOutcome(
        status=status,
        course_id=version.course_id,
        course_key=version.course.key,
        version=version.version,
        version_id=version.id,
        title=version.title,
        standard=version.standard,
        edition=version.edition,
        launchable_count=version.launchable_count,
        size_bytes=version.size_bytes,
        sha256=version.sha256,
    )


def search(
    services: Services,
    query: str = "",
    *,
    standard: str | None = None,
    language: str | None = None,
    limit: int = 200,
) -> list[CourseSummary]:
    """Courses matching a title/description/key search, standard and language (prefix)."""
    return search_db(services.db, query, standard=standard, language=language, limit=limit)


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere (``%`` and ``_`` in it are not wildcards)."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_db(
    db: Database,
    query: str = "",
    *,
    standard: str | None = None,
    language: str | None = None,
    limit: int = 200,
) -> list[CourseSummary]:
    """:func:`search` over a bare database handle (the deep-linking picker's catalogue source)."""
    with db.session() as s:
        stmt = select(Course).order_by(Course.title)
        if query.strip():
            like = _like(query)
            stmt = stmt.where(
                or_(
                    func.lower(Course.title).like(like, escape="\\"),
                    func.lower(Course.description).like(like, escape="\\"),
                    func.lower(Course.key).like(like, escape="\\"),
                )
            )
        if standard:
            stmt = stmt.where(Course.standard == standard)
        if language:
            stmt = stmt.where(func.lower(Course.language).like(f"{language.strip().lower()}%"))
        courses = s.scalars(stmt.limit(limit)).all()
        return [_summary(c) for c in courses if c.versions]


def _summary(course: Course) -> CourseSummary:
    latest = course.versions[-1]
    return CourseSummary(
        course_id=course.id,
        key=course.key,
        title=course.title,
        description=course.description,
        language=course.language,
        standard=course.standard,
        edition=latest.edition,
        latest_version=latest.version,
        latest_version_id=latest.id,
        launchable_count=latest.launchable_count,
        size_bytes=latest.size_bytes,
        versions=len(course.versions),
        imported_at=latest.imported_at,
        imported_by=latest.imported_by,
    )


def get_course(services: Services, ident: str) -> tuple[CourseSummary, Sequence[dict[str, Any]]]:
    """One course by id or key, with every version's facts.

    Raises:
        CourseNotFound: no such course.
    """
    with services.db.session() as s:
        course = find_course(s, ident)
        if course is None or not course.versions:
            raise CourseNotFound(f"no course '{ident}' in the catalogue: see 'cbsi-connect packages list'")
        versions = [
            {
                "version": v.version,
                "version_id": v.id,
                "title": v.title,
                "standard": v.standard,
                "edition": v.edition,
                "launchables": v.structure.get("launchables", []),
                "size_bytes": v.size_bytes,
                "sha256": v.sha256,
                "source_name": v.source_name,
                "imported_by": v.imported_by,
                "imported_at": v.imported_at.isoformat(),
            }
            for v in course.versions
        ]
        return _summary(course), versions


__all__ = [
    "CatalogueError",
    "CourseNotFound",
    "CourseSummary",
    "ImportOutcome",
    "PackageError",
    "get_course",
    "import_package",
    "search",
]
