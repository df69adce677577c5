"""The course catalogue: import packages as versioned courses, list and show them.

Import = safe extraction (``scorm.packaging``) into the content folder + one transaction that
records the course version. Identical bytes are a no-op; a refused package leaves nothing
behind; if the database step fails the extracted folder is removed again.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lti_tool.services import Services
from lti_tool.storage import Database
from lti_tool.storage import courses as course_store
from lti_tool.storage.courses import find_course
from scorm.packaging import ImportedPackage, ImportLimits, PackageError, extract_package, package_digest
from scorm.packaging.cmi5 import Cmi5Course
from scorm.packaging.scorm_manifest import ScormManifest
from scorm.packaging.tincan import TinCanManifest

if TYPE_CHECKING:
    from lti_tool.storage.models import Course, CourseVersion

logger = logging.getLogger(__name__)


class CatalogueError(Exception):
    """A catalogue operation failed."""

    code = "catalogue_error"


class CourseNotFound(CatalogueError):
    """No such course in the catalogue."""

    code = "course_not_found"


class InvalidTitle(CatalogueError):
    """The display title is not acceptable."""

    code = "invalid_title"


MAX_TITLE = 512
STANDARD_LABELS = {"scorm12": "SCORM 1.2", "scorm2004": "SCORM 2004", "xapi": "xAPI", "cmi5": "cmi5"}


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
    warnings: tuple[dict[str, Any], ...] = ()
    """The import report: defects tolerated in this package (code, message, file, element, rule)."""


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
    display_title: str | None = None
    """Set by the operator (``packages set-title``, the admin catalogue); ``None`` = package title."""
    link_title: str = ""
    """What the LMS sees (picker, deep-linked activity, grade column): see :func:`link_titles`."""


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
    limits = limits_from(services)
    # Hashed once: the digest checks for identical bytes and is handed to the importer.
    digest = package_digest(source, limits.chunk_bytes)
    with services.db.session() as s:
        existing = course_store.version_by_sha256(s, digest.sha256)
        if existing is not None:
            return _outcome("unchanged", existing)

    folder_existed = (content_root / digest.sha256).exists()
    package = extract_package(source, content_root, limits, durable=True, digest=digest)
    content_dir = package.content_dir
    if content_dir is None:  # pragma: no cover - extract_package always sets it
        raise CatalogueError("the importer returned no content folder")
    try:
        with services.db.session() as s:
            course = _target_course(s, package, course_key)
            version = _new_version(s, course, package, content_dir.name, source.name, imported_by)
            outcome = _outcome("imported", version)
    except BaseException:
        if not folder_existed:
            shutil.rmtree(content_dir, ignore_errors=True)
        raise
    logger.info(
        "imported %s as %s v%d", source.name, outcome.course_key, outcome.version, extra={"action": "package_import"}
    )
    return outcome


def _target_course(s: Session, package: ImportedPackage, course_key: str | None) -> Course:
    """The course a package becomes a version of: the one named, else the one its key finds or a new one."""
    if course_key is not None:
        course = find_course(s, course_key)
        if course is None:
            raise CourseNotFound(f"no course '{course_key}' to add a version to: see 'cbsi-connect packages list'")
        return course
    key = course_key_for(package)
    course = course_store.course_by_key(s, key)
    if course is None:
        course = course_store.new_course(
            key=key,
            title=package.title[:512],
            description=package.description or "",
            language=package.language or "",
            standard=package.standard.value,
        )
        s.add(course)
        s.flush()
    return course


def _new_version(
    s: Session, course: Course, package: ImportedPackage, content_dir: str, source_name: str, imported_by: str
) -> CourseVersion:
    """Record the package as the course's next version; its metadata becomes the course's."""
    latest = course_store.latest_version_number(s, course.id)
    version = course_store.new_version(
        course_id=course.id,
        version=(latest or 0) + 1,
        sha256=package.sha256,
        standard=package.standard.value,
        edition=_edition(package),
        title=package.title[:512],
        launchable_count=len(package.launchables),
        size_bytes=package.total_size,
        content_dir=content_dir,
        # The import summary the catalogue lists; the structure itself is read from the
        # manifest in the content folder (lti_tool.course_structure), never from a copy.
        structure={
            "manifest_file": package.manifest_file,
            "launchables": to_jsonable(package.launchables),
            "import_warnings": [w.as_dict() for w in package.warnings],
        },
        source_name=source_name[:512],
        imported_by=imported_by[:255],
    )
    course.title = package.title[:512]
    course.description = package.description or course.description
    course.language = package.language or course.language
    s.add(version)
    s.flush()
    s.refresh(version, ["course"])
    return version


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
        warnings=tuple(version.structure.get("import_warnings") or ()),
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
        like = _like(query) if query.strip() else None
        found = course_store.search_courses(s, like, standard=standard, language=language, limit=limit)
        courses = [c for c in found if c.versions]
        titles = link_titles(s, [c.id for c in courses])
        return [_summary(c, titles) for c in courses]


def _norm(title: str) -> str:
    return " ".join(title.split()).casefold()


def link_titles(s: Session, course_ids: Sequence[int]) -> dict[int, str]:
    """The title the LMS sees for each course: distinguishable across the catalogue.

    The rule (issue 12, Moodle item 8):

    1. an operator-set display title is used exactly as set;
    2. otherwise the package title, and when another catalogue course shows the same title
       (ignoring case and spacing) the standard is added: ``"Fire safety (SCORM 1.2)"``,
       ``"Fire safety (SCORM 2004 4th edition)"``, ``"Fire safety (xAPI)"``, ``"Fire safety (cmi5)"``;
    3. if that is still not unique (same title, same standard and edition), ``" · course <id>"``
       is added too.

    Deep-linked activities and their grade columns get the title at the moment they are added;
    an operator can always set a display title to choose a better one.
    """
    rows = course_store.course_title_rows(s)
    shown = {row.id: row.display_title or row.title for row in rows}
    groups: dict[str, list[int]] = {}
    for row in rows:
        groups.setdefault(_norm(shown[row.id]), []).append(row.id)
    wanted = set(course_ids)
    clashing = {cid for ids in groups.values() if len(ids) > 1 for cid in ids}
    editions = course_store.newest_editions(s, clashing) if clashing else {}
    standards = {row.id: row.standard for row in rows}
    overrides = {row.id for row in rows if row.display_title}
    result: dict[int, str] = {}
    labelled: dict[int, str] = {}
    for cid in clashing:
        if cid in overrides:
            continue
        label = STANDARD_LABELS.get(standards[cid], standards[cid])
        if editions.get(cid):
            label = f"{label} {editions[cid]} edition"
        labelled[cid] = f"{shown[cid]} ({label})"
    seen: dict[str, list[int]] = {}
    for cid, title in labelled.items():
        seen.setdefault(_norm(title), []).append(cid)
    for cid in wanted:
        if cid not in shown:
            continue
        title = labelled.get(cid, shown[cid])
        if cid in labelled and len(seen[_norm(title)]) > 1:
            title = f"{title} · course {cid}"
        result[cid] = title[:MAX_TITLE]
    return result


def _summary(course: Course, titles: dict[int, str] | None = None) -> CourseSummary:
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
        display_title=course.display_title,
        link_title=(titles or {}).get(course.id) or course.display_title or course.title,
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
                "warnings": v.structure.get("import_warnings") or [],
                "size_bytes": v.size_bytes,
                "sha256": v.sha256,
                "source_name": v.source_name,
                "imported_by": v.imported_by,
                "imported_at": v.imported_at.isoformat(),
            }
            for v in course.versions
        ]
        return _summary(course, link_titles(s, [course.id])), versions


def clean_title(title: str | None) -> str | None:
    """A display title as stored: spacing collapsed; ``None`` for empty (= use the package title).

    Raises:
        InvalidTitle: longer than 512 characters or containing control characters.
    """
    if title is None:
        return None
    if any((ord(ch) < 0x20 and ch not in "\t\n\r") or ord(ch) == 0x7F for ch in title):
        raise InvalidTitle("the title contains control characters: type it again as plain text")
    cleaned = " ".join(title.split())
    if len(cleaned) > MAX_TITLE:
        raise InvalidTitle(f"the title is {len(cleaned)} characters long; at most {MAX_TITLE} are allowed")
    return cleaned or None


def set_display_title(services: Services, ident: str, title: str | None) -> CourseSummary:
    """Set (or with an empty/``None`` title, clear) a course's display title.

    The package title (``courses.title``, updated by each import) is never changed. Activities
    already deep-linked into an LMS keep the title they were created with; new ones use this.

    Raises:
        CourseNotFound: no such course.
        InvalidTitle: see :func:`clean_title`.
    """
    cleaned = clean_title(title)
    with services.db.session() as s:
        course = find_course(s, ident)
        if course is None or not course.versions:
            raise CourseNotFound(f"no course '{ident}' in the catalogue: see 'cbsi-connect packages list'")
        previous = course.display_title
        course.display_title = cleaned
        s.flush()
        summary = _summary(course, link_titles(s, [course.id]))
    logger.info(
        "course %s display title %r -> %r",
        summary.key,
        previous,
        cleaned,
        extra={"action": "course_display_title", "course_id": summary.course_id},
    )
    return summary


__all__ = [
    "CatalogueError",
    "CourseNotFound",
    "CourseSummary",
    "ImportOutcome",
    "InvalidTitle",
    "PackageError",
    "get_course",
    "import_package",
    "link_titles",
    "search",
    "set_display_title",
]
