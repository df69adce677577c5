"""A course version's structure, from one source: its manifest, parsed once per package checksum.

A version's content folder is content-addressed and never changes after import, so the manifest
in it is the source of truth for the version's structure (organizations, items, sequencing).
The runtime reads it through :func:`version_structure`: parsed on first use with the same parser
and limits the importer validated it with, then held in a bounded LRU keyed by the package's
SHA-256, beside the activity tree built from it.

Why the XML and not a stored JSON copy: the typed model (frozen dataclasses, enums, the nested
sequencing definition) would need a deserializer mirroring every field, a second reader of the
same structure to keep in step with the parser; a JSON copy would also need a format version
for rows written by older releases. Parsing one manifest costs milliseconds, once per process
and version. The import therefore no longer stores the full manifest dump in
``CourseVersion.structure`` (it was never read); that column keeps the import summary the
catalogue lists (``manifest_file``, ``launchables``, ``import_warnings``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lti_tool.storage.models import CourseVersion
from scorm import sequencing
from scorm.packaging import DEFAULT_LIMITS, PackageStructure, parse_manifest_bytes
from scorm.packaging.scorm_manifest import Item, ScormManifest

STRUCTURE_CACHE_SIZE = 256
"""Versions whose parsed structure a process keeps (least recently used dropped first)."""


@dataclass(frozen=True, kw_only=True)
class VersionStructure:
    """The parsed manifest of one course version and what the runtime derives from it."""

    sha256: str
    structure: PackageStructure
    items: dict[str, Item] = field(default_factory=dict)  # SCORM items by identifier

    @property
    def manifest(self) -> ScormManifest | None:
        """The SCORM manifest (``None`` for xAPI and cmi5 versions)."""
        return self.structure if isinstance(self.structure, ScormManifest) else None

    @cached_property
    def tree(self) -> sequencing.ActivityTree | None:
        """The sequencing activity tree of a SCORM version, built on first use."""
        manifest = self.manifest
        return None if manifest is None else sequencing.build_tree(manifest)


class _LRU:
    """A thread-safe, size-bounded least-recently-used map (loads run outside the lock)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[str, VersionStructure] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_load(self, key: str, load: Callable[[], VersionStructure]) -> VersionStructure:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
                return found
        value = load()
        with self._lock:
            value = self._data.setdefault(key, value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_CACHE = _LRU(STRUCTURE_CACHE_SIZE)


def _load(content_root: Path, version: CourseVersion) -> VersionStructure:
    manifest_file = str((version.structure or {}).get("manifest_file", "imsmanifest.xml"))
    data = (content_root / version.content_dir / manifest_file).read_bytes()
    structure = parse_manifest_bytes(data, file=manifest_file, limits=DEFAULT_LIMITS)
    items = (
        {item.identifier: item for org in structure.organizations for item in org.walk()}
        if isinstance(structure, ScormManifest)
        else {}
    )
    return VersionStructure(sha256=version.sha256, structure=structure, items=items)


def version_structure(content_root: Path, version: CourseVersion) -> VersionStructure:
    """The structure of ``version`` (its manifest parsed once per process and package checksum).

    Raises:
        OSError: the version's manifest is not in the content folder.
        PackageError: the manifest no longer parses (not cached; raised again on the next call).
    """
    return _CACHE.get_or_load(version.sha256, lambda: _load(content_root, version))


def clear_cache() -> None:
    """Forget every cached structure (tests; a process never needs to)."""
    _CACHE.clear()


__all__ = ["STRUCTURE_CACHE_SIZE", "VersionStructure", "clear_cache", "version_structure"]
