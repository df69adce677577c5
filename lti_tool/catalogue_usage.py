"""Where a catalogue course is used: its versions, and per version the academies, activities and attempts.

The operator's answer to "can I replace this package, and who would notice": an attempt stays on
the version it started with, so a version with attempts in progress is still in use. A read model:
the course and its versions, the grouped usage and the academy names come from their owners
(``storage.courses``, ``storage.learners``, ``lti.platforms``) in one session; this module joins them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lti_tool.lti import platforms
from lti_tool.storage import Database
from lti_tool.storage import courses as course_store
from lti_tool.storage import learners as learner_store


@dataclass(frozen=True, kw_only=True)
class AcademyUse:
    """One academy's use of one version."""

    platform_id: int
    academy: str
    activities: int
    attempts: int
    active_attempts: int


@dataclass(frozen=True, kw_only=True)
class VersionUse:
    """One version of a course and where it is used."""

    version_id: int
    version: int
    title: str
    standard: str
    edition: str | None
    launchable_count: int
    size_bytes: int
    imported_at: datetime
    imported_by: str
    source_name: str
    academies: tuple[AcademyUse, ...]

    @property
    def attempts(self) -> int:
        """Attempts on this version, every academy."""
        return sum(a.attempts for a in self.academies)


@dataclass(frozen=True, kw_only=True)
class CourseUse:
    """A course, its titles and its versions, newest first."""

    course_id: int
    key: str
    title: str
    display_title: str | None
    standard: str
    versions: tuple[VersionUse, ...]
    activities: int


def course_usage(db: Database, course_id: int) -> CourseUse | None:
    """The course's versions and their use; None when there is no such course."""
    with db.session() as s:
        found = course_store.course_with_versions(s, course_id)
        if found is None:
            return None
        course, versions = found
        previews = platforms.preview_platform_ids(s)  # the operator preview's tenant is no academy
        usage = learner_store.course_version_usage(s, course_id)
        links = learner_store.course_activity_count(s, course_id, exclude_platforms=sorted(previews))
        names = platforms.platform_names(s)
        by_version: dict[int, list[AcademyUse]] = {}
        for version_id, platform_id, activities, attempts, active in usage:
            if platform_id in previews:
                continue
            by_version.setdefault(version_id, []).append(
                AcademyUse(
                    platform_id=platform_id,
                    academy=names.get(platform_id, f"#{platform_id}"),
                    activities=int(activities),
                    attempts=int(attempts),
                    active_attempts=int(active or 0),
                )
            )
        return CourseUse(
            course_id=course.id,
            key=course.key,
            title=course.title,
            display_title=course.display_title,
            standard=course.standard,
            activities=int(links or 0),
            versions=tuple(
                VersionUse(
                    version_id=v.id,
                    version=v.version,
                    title=v.title,
                    standard=v.standard,
                    edition=v.edition,
                    launchable_count=v.launchable_count,
                    size_bytes=v.size_bytes,
                    imported_at=v.imported_at,
                    imported_by=v.imported_by,
                    source_name=v.source_name,
                    academies=tuple(sorted(by_version.get(v.id, []), key=lambda a: a.academy.lower())),
                )
                for v in versions
            ),
        )
