"""A course version's structure as the runtime reads it: launchable items, manifest items and
the sequencing activity tree, each cached per process by the package's SHA-256 (a version's
content never changes once imported).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from lti_tool.services import Services
from lti_tool.storage.models import CourseVersion
from scorm import sequencing
from scorm.packaging import DEFAULT_LIMITS, parse_manifest_bytes
from scorm.packaging.scorm_manifest import Item, ScormManifest

ASSET = "asset"


@dataclass(frozen=True, kw_only=True)
class PlayerItem:
    """One launchable item of the attempt's course version, in course order."""

    id: str
    title: str
    url: str
    kind: str
    visible: bool


@functools.lru_cache(maxsize=256)
def _manifest(path: str) -> ScormManifest | None:
    data = Path(path).read_bytes()
    structure = parse_manifest_bytes(data, file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    return structure if isinstance(structure, ScormManifest) else None


def _version_manifest(services: Services, version: CourseVersion) -> ScormManifest | None:
    manifest_file = str(version.structure.get("manifest_file", "imsmanifest.xml"))
    return _manifest(str(services.settings.content_path / version.content_dir / manifest_file))


_ITEMS_BY_ID: dict[str, dict[str, Item]] = {}


def manifest_items(services: Services, version: CourseVersion) -> dict[str, Item]:
    """The manifest's items by identifier (parsed once per process and package checksum)."""
    found = _ITEMS_BY_ID.get(version.sha256)
    if found is None:
        manifest = _version_manifest(services, version)
        found = {} if manifest is None else {i.identifier: i for org in manifest.organizations for i in org.walk()}
        _ITEMS_BY_ID[version.sha256] = found
    return found


_TREES: dict[str, sequencing.ActivityTree | None] = {}


def activity_tree(services: Services, version: CourseVersion) -> sequencing.ActivityTree | None:
    """The sequencing activity tree of a SCORM version (built once per process and version)."""
    if version.sha256 not in _TREES:
        manifest = _version_manifest(services, version)
        _TREES[version.sha256] = sequencing.build_tree(manifest) if manifest is not None else None
    return _TREES[version.sha256]


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
