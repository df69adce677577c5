"""A course version's structure as the runtime reads it: launchable items, manifest items and
the sequencing activity tree, each cached per process by the package's SHA-256 (a version's
content never changes once imported).
"""

from __future__ import annotations

from dataclasses import dataclass

from lti_tool.course_structure import version_structure
from lti_tool.services import Services
from lti_tool.storage.models import CourseVersion
from scorm import sequencing
from scorm.packaging.scorm_manifest import Item

ASSET = "asset"


@dataclass(frozen=True, kw_only=True)
class PlayerItem:
    """One launchable item of the attempt's course version, in course order."""

    id: str
    title: str
    url: str
    kind: str
    visible: bool


def manifest_items(services: Services, version: CourseVersion) -> dict[str, Item]:
    """The manifest's items by identifier (the one bounded structure cache, keyed by checksum)."""
    return version_structure(services.settings.content_path, version).items


def activity_tree(services: Services, version: CourseVersion) -> sequencing.ActivityTree | None:
    """The sequencing activity tree of a SCORM version (the one bounded structure cache)."""
    return version_structure(services.settings.content_path, version).tree


_PLAYER_ITEMS: dict[str, tuple[PlayerItem, ...]] = {}


def player_items(version: CourseVersion) -> tuple[PlayerItem, ...]:
    """Launchable items of a version, in course order (cached per process and package checksum)."""
    found = _PLAYER_ITEMS.get(version.sha256)
    if found is None:
        found = tuple(
            PlayerItem(
                id=str(entry["identifier"]),
                title=str(entry["title"]),
                url=str(entry["launch_url"]),
                kind=ASSET if entry["kind"] == ASSET else "sco",
                visible=bool(entry.get("visible", True)),
            )
            for entry in version.structure.get("launchables", [])
        )
        _PLAYER_ITEMS[version.sha256] = found
    return found
