"""Leaf types shared by every package format: standards, limits, language strings, launchables."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Standard(StrEnum):
    """The e-learning standard a package follows (stored in the catalogue as this value)."""

    SCORM12 = "scorm12"
    SCORM2004 = "scorm2004"
    XAPI = "xapi"
    CMI5 = "cmi5"


class LaunchKind(StrEnum):
    """What sort of thing a launchable is (decides which runtime the player wires up)."""

    SCO = "sco"
    ASSET = "asset"
    AU = "au"
    XAPI_ACTIVITY = "xapi_activity"


MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True, kw_only=True)
class ImportLimits:
    """Caps that protect the server from hostile or broken packages.

    Attributes:
        max_total_bytes: largest total uncompressed size of all entries (measured while
            extracting, never trusted from headers).
        max_entry_ratio: largest uncompressed/compressed ratio of one entry ...
        ratio_min_bytes: ... enforced once that entry has produced this many bytes (tiny, very
            compressible text files are normal and harmless).
        max_entries: largest number of entries (files and folders) in the zip.
        max_manifest_bytes: largest manifest (imsmanifest.xml, cmi5.xml, tincan.xml).
        max_path_length: longest entry name, in characters.
        chunk_bytes: copy buffer size (memory use per extraction is about this much).
        require_listed_files: refuse a SCORM package whose ``<file href>`` entries are missing
            (resource launch hrefs are always checked).
    """

    max_total_bytes: int = 2 * GiB
    max_entry_ratio: float = 200.0
    ratio_min_bytes: int = 1 * MiB
    max_entries: int = 20_000
    max_manifest_bytes: int = 8 * MiB
    max_path_length: int = 1024
    chunk_bytes: int = 1 * MiB
    require_listed_files: bool = True

    def __post_init__(self) -> None:
        for name in (
            "max_total_bytes",
            "max_entry_ratio",
            "max_entries",
            "max_manifest_bytes",
            "max_path_length",
            "chunk_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"ImportLimits.{name} must be positive")
        if self.ratio_min_bytes < 0:
            raise ValueError("ImportLimits.ratio_min_bytes must not be negative")


DEFAULT_LIMITS = ImportLimits()


@dataclass(frozen=True, kw_only=True)
class LangString:
    """A piece of text in one language (``lang`` ``None`` when the package gave none)."""

    lang: str | None
    value: str


def pick_lang(strings: tuple[LangString, ...], preferred: str | None = None) -> str | None:
    """Return the text in the preferred language, else English, else the first one.

    Args:
        strings: the alternatives.
        preferred: a language tag such as ``"fr"`` or ``"en-US"`` (prefix match).

    Returns:
        The chosen text, or ``None`` when there is none.
    """
    if not strings:
        return None
    for wanted in (preferred, "en"):
        if not wanted:
            continue
        for item in strings:
            if item.lang and item.lang.lower().split("-")[0] == wanted.lower().split("-")[0]:
                return item.value
    return strings[0].value


@dataclass(frozen=True, kw_only=True)
class Launchable:
    """One thing a learner can launch, in course order.

    Attributes:
        identifier: item identifier (SCORM), AU id (cmi5) or activity id (xAPI).
        title: display title.
        launch_url: URL relative to the content folder (or absolute for remote AUs), with the
            manifest's parameters already joined.
        kind: sco, asset, au or xapi_activity.
        visible: ``False`` for SCORM items with ``isvisible="false"``.
    """

    identifier: str
    title: str
    launch_url: str
    kind: LaunchKind
    visible: bool = True
