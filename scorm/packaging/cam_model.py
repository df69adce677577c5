"""The SCORM 1.2 / 2004 content-packaging model: a parsed ``imsmanifest.xml``, typed and immutable.

References: SCORM 1.2 Content Aggregation Model (CAM) chapter 2 and SCORM 2004 CAM chapter 3.
The sequencing definition of an item is the IMS SS model of :mod:`scorm.sequencing.definition`.
Parsed by :func:`scorm.packaging.scorm_manifest.parse_scorm_manifest`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

from scorm.packaging.model import Launchable, LaunchKind, Standard
from scorm.packaging.urls import (
    is_absolute_url,
    split_url,
)
from scorm.sequencing.definition import Sequencing

MANIFEST_FILE = "imsmanifest.xml"

NS_CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
NS_CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
NS_ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
NS_ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
NS_ADLNAV = "http://www.adlnet.org/xsd/adlnav_v1p3"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"



# metadata/schemaversion -> (standard, edition). SCORM 2004 CAM 3.4.1.3 (schemaversion);
# SCORM 1.2 CAM 2.3.3.
SCHEMA_VERSIONS: Mapping[str, tuple[Standard, int | None]] = {
    "1.2": (Standard.SCORM12, None),
    "cam 1.3": (Standard.SCORM2004, 2),
    "1.3": (Standard.SCORM2004, 2),
    "2004 2nd edition": (Standard.SCORM2004, 2),
    "2004 3rd edition": (Standard.SCORM2004, 3),
    "2004 4th edition": (Standard.SCORM2004, 4),
}

# SCORM 1.2 CAM 2.3.x adlcp:timelimitaction; SCORM 2004 CAM adlcp:timeLimitAction.
TIME_LIMIT_ACTIONS = frozenset(
    {"exit,message", "exit,no message", "continue,message", "continue,no message"}
)

# SCORM 2004 4th CAM adlnav:hideLMSUI vocabulary (3rd ed has the first five).
HIDE_LMS_UI = frozenset(
    {"previous", "continue", "exit", "exitAll", "abandon", "abandonAll", "suspendAll"}
)


class ScormType(StrEnum):
    """``adlcp:scormtype`` (1.2) / ``adlcp:scormType`` (2004) of a resource."""

    SCO = "sco"
    ASSET = "asset"


@dataclass(frozen=True, kw_only=True)
class Metadata:
    """A ``<metadata>`` block: schema info, an external file reference and inline LOM basics."""

    schema: str | None = None
    schema_version: str | None = None
    location: str | None = None
    title: str | None = None
    description: str | None = None
    language: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CompletionThreshold:
    """``adlcp:completionThreshold`` (2004 3rd: element value; 4th: attributes).

    SPEC COMPLIANCE NOTE: a 3rd-edition value ``0.8`` is represented as
    ``completed_by_measure=True, min_progress_measure=0.8`` (the 4th-edition meaning of the same
    intent); ``raw_value`` keeps the original text for ``cmi.completion_threshold``.
    """

    completed_by_measure: bool = False
    min_progress_measure: float = 1.0
    progress_weight: float = 1.0
    raw_value: str | None = None


@dataclass(frozen=True, kw_only=True)
class SharedDataMap:
    """``adlcp:data/adlcp:map`` (SCORM 2004 4th edition shared data buckets)."""

    target_id: str
    read_shared_data: bool = True
    write_shared_data: bool = True


@dataclass(frozen=True, kw_only=True)
class Resource:
    """A ``<resource>``; ``launch_path`` is the href after xml:base, normalised (or a URL)."""

    identifier: str
    type: str
    scorm_type: ScormType
    href: str | None = None
    launch_path: str | None = None
    files: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    metadata: Metadata | None = None


@dataclass(frozen=True, kw_only=True)
class Item:
    """An ``<item>`` of an organization (an activity), with its children.

    SCORM 1.2 fields: ``mastery_score`` (0..100), ``prerequisites``, ``max_time_allowed``,
    ``time_limit_action``, ``data_from_lms``. SCORM 2004 fields: ``completion_threshold``,
    ``data_from_lms``, ``time_limit_action``, ``shared_data``, ``hide_lms_ui`` and the effective
    ``sequencing`` (always set for 2004, defaults when the manifest gives none).
    """

    identifier: str
    title: str
    identifierref: str | None = None
    is_visible: bool = True
    parameters: str | None = None
    launch_url: str | None = None
    scorm_type: ScormType | None = None
    children: tuple[Item, ...] = ()
    mastery_score: float | None = None
    prerequisites: str | None = None
    prerequisites_type: str | None = None
    max_time_allowed: str | None = None
    time_limit_action: str | None = None
    data_from_lms: str | None = None
    completion_threshold: CompletionThreshold | None = None
    shared_data: tuple[SharedDataMap, ...] = ()
    hide_lms_ui: tuple[str, ...] = ()
    sequencing: Sequencing | None = None
    metadata: Metadata | None = None

    @property
    def is_leaf(self) -> bool:
        """``True`` when the item has no children (a launchable activity)."""
        return not self.children

    @property
    def scaled_passing_score(self) -> float | None:
        """Initial ``cmi.scaled_passing_score`` for this SCO (SCORM 2004 RTE 4.2.21).

        The primary objective's ``minNormalizedMeasure`` when it is ``satisfiedByMeasure``;
        ``None`` (unknown to the SCO) otherwise, and always for SCORM 1.2.
        """
        if self.sequencing is None or self.sequencing.objectives.primary is None:
            return None
        primary = self.sequencing.objectives.primary
        return primary.min_normalized_measure if primary.satisfied_by_measure else None

    @property
    def completion_threshold_value(self) -> float | None:
        """Initial ``cmi.completion_threshold`` (SCORM 2004 RTE 4.2.3), or ``None``."""
        ct = self.completion_threshold
        if ct is None or not ct.completed_by_measure:
            return None
        return ct.min_progress_measure

    def walk(self) -> Iterator[Item]:
        """Yield this item and all its descendants in document (pre-)order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, kw_only=True)
class Organization:
    """An ``<organization>``: the activity tree root."""

    identifier: str
    title: str
    items: tuple[Item, ...] = ()
    structure: str = "hierarchical"
    objectives_global_to_system: bool = True
    shared_data_global_to_system: bool = True
    sequencing: Sequencing | None = None
    completion_threshold: CompletionThreshold | None = None
    metadata: Metadata | None = None

    def walk(self) -> Iterator[Item]:
        """Yield every item of the organization in document order."""
        for item in self.items:
            yield from item.walk()


@dataclass(frozen=True, kw_only=True)
class SequencingCollectionEntry:
    """One reusable ``imsss:sequencing ID="..."`` of the manifest's sequencingCollection."""

    id: str
    sequencing: Sequencing


@dataclass(frozen=True, kw_only=True)
class ScormManifest:
    """A parsed SCORM 1.2 / 2004 manifest."""

    standard: Standard
    edition: int | None
    identifier: str
    version: str | None = None
    schema: str | None = None
    schema_version: str | None = None
    default_organization_id: str | None = None
    organizations: tuple[Organization, ...] = ()
    resources: tuple[Resource, ...] = ()
    sequencing_collection: tuple[SequencingCollectionEntry, ...] = ()
    metadata: Metadata | None = None

    @property
    def default_organization(self) -> Organization:
        """The organization to deliver (``default``, else the first)."""
        for org in self.organizations:
            if org.identifier == self.default_organization_id:
                return org
        return self.organizations[0]

    def resource(self, identifier: str) -> Resource | None:
        """Return the resource with this identifier, or ``None``."""
        for resource in self.resources:
            if resource.identifier == identifier:
                return resource
        return None

    def item(self, identifier: str) -> Item | None:
        """Return the item (in any organization) with this identifier, or ``None``."""
        for org in self.organizations:
            for item in org.walk():
                if item.identifier == identifier:
                    return item
        return None

    @property
    def title(self) -> str:
        """Course title: the default organization's title, else the LOM title, else the id."""
        org_title = self.default_organization.title if self.organizations else ""
        return org_title or (self.metadata.title if self.metadata else None) or self.identifier

    def global_objective_ids(self) -> tuple[str, ...]:
        """Every global (shared) objective id that the default organization maps to, sorted.

        These are the ``targetObjectiveID`` values of ``imsss:mapInfo`` and ``adlseq:mapInfo``
        (SN 5.1.6.3); their scope is the learner (``objectivesGlobalToSystem`` true) or this
        course attempt (false).
        """
        org = self.default_organization
        ids: set[str] = set()
        for seq in [org.sequencing, *(item.sequencing for item in org.walk())]:
            if seq is None:
                continue
            for objective in seq.objectives.all():
                ids.update(m.target_objective_id for m in objective.map_info)
            for adl in seq.adl_objectives:
                ids.update(m.target_objective_id for m in adl.map_info)
        return tuple(sorted(ids))

    def launchables(self) -> tuple[Launchable, ...]:
        """Launchable items of the default organization, in course order."""
        result: list[Launchable] = []
        for item in self.default_organization.walk():
            if item.launch_url is None or item.scorm_type is None:
                continue
            result.append(
                Launchable(
                    identifier=item.identifier,
                    title=item.title,
                    launch_url=item.launch_url,
                    kind=LaunchKind.SCO if item.scorm_type is ScormType.SCO else LaunchKind.ASSET,
                    visible=item.is_visible,
                )
            )
        return tuple(result)

    def required_files(self, *, include_listed: bool = True) -> tuple[tuple[str, str], ...]:
        """Package files the manifest needs, as ``(path, element locator)`` pairs.

        Resource launch files always; ``<file href>`` entries when ``include_listed``. Remote
        (absolute URL) references are not included, nor metadata files (see
        :meth:`optional_files`).
        """
        needed: list[tuple[str, str]] = []
        for res in self.resources:
            where = f"resource[@identifier='{res.identifier}']"
            if res.launch_path and not is_absolute_url(res.launch_path):
                needed.append((strip_query(res.launch_path), f"{where}/@href"))
            if include_listed:
                needed.extend((path, f"{where}/file[@href='{path}']") for path in res.files)
        return tuple(needed)

    def optional_files(self) -> tuple[tuple[str, str], ...]:
        """External metadata files (``adlcp:location``) as ``(path, element locator)`` pairs.

        SPEC COMPLIANCE NOTE: CAM requires the file to be in the package, but nothing a learner
        plays depends on it, so a missing one is a warning (``metadata_file_missing``), not a
        refusal.
        """
        found: list[tuple[str, str]] = []
        for res in self.resources:
            if res.metadata and res.metadata.location:
                where = f"resource[@identifier='{res.identifier}']/metadata/adlcp:location"
                found.append((res.metadata.location, where))
        for meta, where in self._metadata_blocks():
            if meta.location:
                found.append((meta.location, f"{where}/metadata/adlcp:location"))
        return tuple(found)

    def _metadata_blocks(self) -> Iterator[tuple[Metadata, str]]:
        if self.metadata:
            yield self.metadata, "manifest"
        for org in self.organizations:
            if org.metadata:
                yield org.metadata, f"organization[@identifier='{org.identifier}']"
            for item in org.walk():
                if item.metadata:
                    yield item.metadata, f"item[@identifier='{item.identifier}']"


def strip_query(path: str) -> str:
    return unquote(split_url(path)[0])
