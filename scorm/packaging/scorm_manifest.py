"""SCORM 1.2 and SCORM 2004 (2nd/3rd/4th edition) ``imsmanifest.xml`` parsing.

References: SCORM 1.2 Content Aggregation Model (CAM) chapter 2 and SCORM 2004 CAM chapter 3
(content packaging; ``adlcp``/``adlnav`` extensions), SCORM 2004 SN book (``imsss``/``adlseq``,
parsed in :mod:`scorm.packaging.sequencing_xml` into :mod:`scorm.sequencing.definition`).

Content-packaging element names are matched by local name so that the common real-world mix of
namespaces (a 1.2 package declaring the 2004 CP namespace, or none) still imports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import unquote

from lxml import etree

from scorm.packaging.errors import Findings, InvalidManifest, PackageError, UnknownStandard
from scorm.packaging.model import Launchable, LaunchKind, Standard
from scorm.packaging.sequencing_xml import NS_ADLSEQ, NS_IMSSS, parse_sequencing_elements
from scorm.packaging.urls import (
    apply_parameters,
    check_web_url,
    is_absolute_url,
    join_base,
    normalize_package_path,
    split_url,
)
from scorm.packaging.values import ValueReader
from scorm.packaging.xmlsafe import local_name, namespace, text_of
from scorm.sequencing.definition import Sequencing, build_sequencing

logger = logging.getLogger(__name__)

T = TypeVar("T")

MANIFEST_FILE = "imsmanifest.xml"

NS_CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
NS_CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
NS_ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
NS_ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
NS_ADLNAV = "http://www.adlnet.org/xsd/adlnav_v1p3"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_ADLCP = (NS_ADLCP12, NS_ADLCP2004)
_NON_CP = frozenset({NS_ADLCP12, NS_ADLCP2004, NS_ADLNAV, NS_IMSSS, NS_ADLSEQ})

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
                needed.append((_strip_query(res.launch_path), f"{where}/@href"))
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


def _strip_query(path: str) -> str:
    return unquote(split_url(path)[0])


# --- helpers -----------------------------------------------------------------------------------


def _is_cp(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and namespace(el) not in _NON_CP


def _cp_children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _is_cp(c) and local_name(c) == name]


def _cp_child(el: etree._Element, name: str) -> etree._Element | None:
    found = _cp_children(el, name)
    return found[0] if found else None


def _adl_children(el: etree._Element, *names: str) -> list[etree._Element]:
    return [
        c
        for c in el
        if isinstance(c.tag, str) and namespace(c) in _ADLCP and local_name(c) in names
    ]


def _adl_child(el: etree._Element, *names: str) -> etree._Element | None:
    found = _adl_children(el, *names)
    return found[0] if found else None


def _adl_attr(el: etree._Element, *names: str) -> str | None:
    for ns in _ADLCP:
        for name in names:
            value = el.get(f"{{{ns}}}{name}")
            if value is not None:
                return value
    return None


class _Parser:
    def __init__(self, root: etree._Element, file: str, findings: Findings) -> None:
        self.root = root
        self.file = file
        self.findings = findings
        self.values = ValueReader(file, spec="SCORM CAM")
        # resources refused while parsing: items naming them are not reported a second time
        self.broken_resources: set[str] = set()

    def fail(self, element: str, message: str, rule: str) -> InvalidManifest:
        return InvalidManifest(message, file=self.file, element=element, rule=rule)

    def attempt(self, step: Callable[[], T], default: T) -> T:
        """Run one parsing step; a refusal is recorded (every problem is reported at once)."""
        try:
            return step()
        except PackageError as exc:
            self.findings.refuse(exc)
            return default

    # --- version detection ------------------------------------------------------------------

    def detect(self) -> tuple[Standard, int | None, str | None, str | None]:
        meta = _cp_child(self.root, "metadata")
        schema = text_of(_cp_child(meta, "schema")) if meta is not None else None
        version = text_of(_cp_child(meta, "schemaversion")) if meta is not None else None
        if version is not None:
            key = " ".join(version.lower().split())
            if key in SCHEMA_VERSIONS:
                standard, edition = SCHEMA_VERSIONS[key]
                return standard, edition, schema, version
            raise UnknownStandard(
                f'metadata/schemaversion is "{version}", which is not a SCORM version this '
                'platform knows ("1.2", "CAM 1.3", "2004 3rd Edition", "2004 4th Edition").',
                file=self.file,
                element="manifest/metadata/schemaversion",
                rule="SCORM 2004 CAM 3.4.1.3 schemaversion",
            )
        namespaces = set()
        for el in self.root.iter():
            namespaces.update(v for v in (el.nsmap or {}).values() if v)
            if isinstance(el.tag, str):
                namespaces.add(namespace(el))
        if NS_ADLCP12 in namespaces or (NS_CP12 in namespaces and NS_ADLCP2004 not in namespaces):
            return Standard.SCORM12, None, schema, None
        if NS_ADLCP2004 in namespaces or NS_IMSSS in namespaces or NS_CP2004 in namespaces:
            # SPEC COMPLIANCE NOTE: 2004 requires schemaversion; without it we assume the
            # 4th edition when 4th-only constructs appear, else the 3rd edition (strict: refuse).
            fourth = any(
                isinstance(el.tag, str)
                and (
                    (namespace(el) == NS_ADLCP2004 and local_name(el) == "data")
                    or (namespace(el) == NS_ADLSEQ and local_name(el) == "objectives")
                )
                for el in self.root.iter()
            )
            return Standard.SCORM2004, 4 if fourth else 3, schema, None
        raise UnknownStandard(
            "imsmanifest.xml has no metadata/schemaversion and no SCORM namespaces, so its SCORM "
            'version cannot be told. Add <schemaversion>1.2</schemaversion> or "2004 4th '
            'Edition" to the manifest metadata.',
            file=self.file,
            element="manifest/metadata",
            rule="SCORM CAM schemaversion",
        )

    # --- metadata ----------------------------------------------------------------------------

    def metadata(self, el: etree._Element | None) -> Metadata | None:
        meta = _cp_child(el, "metadata") if el is not None else None
        if meta is None:
            return None
        location_el = _adl_child(meta, "location")
        location = text_of(location_el)
        if location:
            location = normalize_package_path(
                location, file=self.file, element="metadata/adlcp:location"
            )
        lom = next(
            (c for c in meta if isinstance(c.tag, str) and local_name(c) == "lom"),
            None,
        )
        title = description = language = None
        keywords: list[str] = []
        if lom is not None:
            general = _first_local(lom, "general")
            if general is not None:
                title = _lom_text(_first_local(general, "title"))
                description = _lom_text(_first_local(general, "description"))
                language = text_of(_first_local(general, "language"))
                keywords = [
                    text
                    for kw in general
                    if isinstance(kw.tag, str) and local_name(kw) == "keyword"
                    for text in [_lom_text(kw)]
                    if text
                ]
        return Metadata(
            schema=text_of(_cp_child(meta, "schema")),
            schema_version=text_of(_cp_child(meta, "schemaversion")),
            location=location,
            title=title,
            description=description,
            language=language,
            keywords=tuple(keywords),
        )

    # --- resources ---------------------------------------------------------------------------

    def resources(self) -> dict[str, Resource]:
        container = _cp_child(self.root, "resources")
        result: dict[str, Resource] = {}
        if container is None:
            return result
        bases = tuple(
            b for b in (self.root.get(XML_BASE), container.get(XML_BASE)) if b is not None
        )
        for index, res in enumerate(_cp_children(container, "resource"), start=1):
            identifier = (res.get("identifier") or "").strip()
            where = f"resources/resource[{index}]"
            if not identifier:
                self.findings.refuse(
                    self.fail(
                        f"{where}/@identifier",
                        "every resource needs an identifier.",
                        "CAM resource@identifier",
                    )
                )
                continue
            if identifier in result or identifier in self.broken_resources:
                self.findings.refuse(
                    self.fail(
                        f"resource[@identifier='{identifier}']",
                        f'two resources have the identifier "{identifier}".',
                        "CAM identifiers are unique within a manifest",
                    )
                )
                continue
            parsed = self.attempt(lambda res=res, identifier=identifier: self.resource(res, identifier, bases), None)
            if parsed is None:
                self.broken_resources.add(identifier)
            else:
                result[identifier] = parsed
        for res_obj in result.values():
            for dep in res_obj.dependencies:
                if dep not in result and dep not in self.broken_resources:
                    self.findings.refuse(
                        self.fail(
                            f"resource[@identifier='{res_obj.identifier}']/dependency",
                            f'dependency "{dep}" names no resource in this manifest.',
                            "CAM dependency@identifierref",
                        )
                    )
        return result

    def resource(self, res: etree._Element, identifier: str, bases: tuple[str, ...]) -> Resource | None:
        """One ``<resource>``; ``None`` when it was refused (every href problem is recorded)."""
        before = len(self.findings.problems)
        where = f"resource[@identifier='{identifier}']"
        res_bases = (*bases, *(b for b in (res.get(XML_BASE),) if b is not None))
        raw_type = _adl_attr(res, "scormType", "scormtype")
        if raw_type is None:
            # SPEC COMPLIANCE NOTE: adlcp:scormType is required; a resource without it is
            # treated as an asset (no API expected) instead of refusing the package.
            scorm_type = ScormType.ASSET
        else:
            try:
                scorm_type = ScormType(raw_type.strip().lower())
            except ValueError:
                scorm_type = ScormType.ASSET
                self.findings.refuse(
                    self.fail(
                        f"{where}/@adlcp:scormType",
                        f'scormType is "{raw_type}"; it must be "sco" or "asset".',
                        "CAM adlcp:scormType",
                    )
                )
        href = res.get("href")
        launch_path = None
        if href is not None and href.strip():
            launch_path = self.attempt(
                lambda: self._resolve(res_bases, href.strip(), f"{where}/@href"), None
            )
            if launch_path is not None and is_absolute_url(launch_path):
                self.findings.warn(
                    "external_launch_url",
                    f'resource "{identifier}" launches "{launch_path[:200]}", a page outside the '
                    "package. It was imported but never fetched or checked: learners' browsers "
                    "load it from that site, which must stay reachable and allow being framed. "
                    "Put the page in the package if it belongs to the course.",
                    file=self.file,
                    element=f"{where}/@href",
                    rule="CAM resource@href (external URL)",
                )
        files = []
        for f_index, file_el in enumerate(_cp_children(res, "file"), start=1):
            fwhere = f"{where}/file[{f_index}]/@href"
            f_href = (file_el.get("href") or "").strip()
            if not f_href:
                self.findings.refuse(
                    self.fail(fwhere, "a <file> element needs an href.", "CAM file@href")
                )
                continue
            resolved = self.attempt(
                lambda f_href=f_href, fwhere=fwhere: self._resolve(res_bases, f_href, fwhere),
                None,
            )
            if resolved is None:
                continue
            if is_absolute_url(resolved):
                self.findings.warn(
                    "external_file_url",
                    f'resource "{identifier}" lists "{resolved[:200]}", a file outside the package; '
                    "it was not fetched and is not part of the imported course.",
                    file=self.file,
                    element=fwhere,
                    rule="CAM file@href (external URL)",
                )
            else:
                files.append(_strip_query(resolved))
        deps = tuple(
            (dep.get("identifierref") or "").strip()
            for dep in _cp_children(res, "dependency")
            if (dep.get("identifierref") or "").strip()
        )
        metadata = self.attempt(lambda: self.metadata(res), None)
        if len(self.findings.problems) > before:
            return None
        return Resource(
            identifier=identifier,
            type=(res.get("type") or "webcontent").strip(),
            scorm_type=scorm_type,
            href=href,
            launch_path=launch_path,
            files=tuple(files),
            dependencies=deps,
            metadata=metadata,
        )

    def _resolve(self, bases: tuple[str, ...], href: str, where: str) -> str:
        # SPEC COMPLIANCE NOTE: hrefs are URLs and must use "/" (CAM: href is xs:anyURI); old
        # Windows authoring tools write "\\". Browsers treat "\\" as "/" in http(s) URLs
        # (WHATWG URL), so we do the same instead of refusing. Zip *entry names* with
        # backslashes are still refused (importer.check_entry_name).
        href = href.replace("\\", "/")
        combined = join_base(bases, href)
        if check_web_url(combined, file=self.file, element=where) or is_absolute_url(combined):
            return combined
        path = split_url(combined)[0]
        rest = combined[len(path) :]
        return normalize_package_path(path, file=self.file, element=where) + rest

    # --- sequencing collection ---------------------------------------------------------------

    def collection(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        for coll in self.root:
            if not (
                isinstance(coll.tag, str)
                and namespace(coll) == NS_IMSSS
                and local_name(coll) == "sequencingCollection"
            ):
                continue
            for seq in coll:
                if not (isinstance(seq.tag, str) and seq.tag == f"{{{NS_IMSSS}}}sequencing"):
                    continue
                seq_id = (seq.get("ID") or "").strip()
                where = f"imsss:sequencingCollection/imsss:sequencing[@ID='{seq_id}']"
                if not seq_id:
                    self.findings.refuse(
                        self.fail(
                            "imsss:sequencingCollection/imsss:sequencing",
                            "every sequencing entry in a sequencingCollection needs an ID.",
                            "SN 5.1 sequencingCollection",
                        )
                    )
                    continue
                if seq_id in result:
                    self.findings.refuse(
                        self.fail(
                            where,
                            f'sequencingCollection has two entries with ID "{seq_id}".',
                            "SN 5.1 sequencingCollection",
                        )
                    )
                    continue
                # a broken entry is recorded; items naming it then use the defaults
                result[seq_id] = self.attempt(
                    lambda seq=seq, where=where: parse_sequencing_elements(seq, file=self.file, where=where),
                    {},
                )
        return result

    def sequencing(
        self, el: etree._Element, collection: Mapping[str, Mapping[str, Any]], where: str
    ) -> Sequencing:
        seq_el = next(
            (c for c in el if isinstance(c.tag, str) and c.tag == f"{{{NS_IMSSS}}}sequencing"),
            None,
        )
        if seq_el is None:
            return build_sequencing({})
        swhere = f"{where}/imsss:sequencing"
        own = parse_sequencing_elements(seq_el, file=self.file, where=swhere)
        ref = (seq_el.get("IDRef") or "").strip() or None
        if ref is not None and ref not in collection:
            raise self.fail(
                f"{swhere}/@IDRef",
                f'IDRef "{ref}" names no entry of the manifest\'s imsss:sequencingCollection.',
                "SN 5.1 sequencing@IDRef",
            )
        return build_sequencing(
            own, collection=collection.get(ref) if ref else None, collection_ref=ref
        )

    # --- organizations and items ---------------------------------------------------------------

    def completion_threshold(self, el: etree._Element, where: str) -> CompletionThreshold | None:
        ct = _adl_child(el, "completionThreshold")
        if ct is None:
            return None
        cwhere = f"{where}/adlcp:completionThreshold"
        raw_value = text_of(ct)
        has_attrs = any(
            ct.get(a) is not None
            for a in ("completedByMeasure", "minProgressMeasure", "progressWeight")
        )
        if raw_value is not None and not has_attrs:
            return CompletionThreshold(
                completed_by_measure=True,
                min_progress_measure=self.values.decimal(raw_value, 1.0, cwhere, 0.0, 1.0),
                raw_value=raw_value,
            )
        min_pm = self.values.decimal(
            ct.get("minProgressMeasure"), 1.0, f"{cwhere}/@minProgressMeasure", 0, 1
        )
        weight = self.values.decimal(ct.get("progressWeight"), 1.0, f"{cwhere}/@progressWeight", 0, 1)
        return CompletionThreshold(
            completed_by_measure=self.values.boolean(
                ct.get("completedByMeasure"), False, f"{cwhere}/@completedByMeasure"
            ),
            min_progress_measure=min_pm,
            progress_weight=weight,
            raw_value=raw_value,
        )

    def item(
        self,
        el: etree._Element,
        resources: Mapping[str, Resource],
        collection: Mapping[str, Mapping[str, Any]],
        standard: Standard,
        seen: set[str],
    ) -> Item | None:
        """One ``<item>`` and its children; ``None`` when it cannot be built (problem recorded).

        Every field is parsed even after one fails, so all problems are reported at once.
        """
        identifier = (el.get("identifier") or "").strip()
        if not identifier:
            self.findings.refuse(
                self.fail("item", "every item needs an identifier.", "CAM item@identifier")
            )
            return None
        where = f"item[@identifier='{identifier}']"
        if identifier in seen:
            self.findings.refuse(
                self.fail(
                    where,
                    f'two items have the identifier "{identifier}".',
                    "CAM identifiers are unique within a manifest",
                )
            )
            return None
        seen.add(identifier)
        title = text_of(_cp_child(el, "title")) or identifier
        children = tuple(
            child
            for child in (
                self.item(child_el, resources, collection, standard, seen)
                for child_el in _cp_children(el, "item")
            )
            if child is not None
        )
        has_child_items = bool(_cp_children(el, "item"))
        ref = (el.get("identifierref") or "").strip() or None
        parameters = el.get("parameters")
        launch_url = None
        scorm_type = None
        if ref is not None and has_child_items:
            # SPEC COMPLIANCE NOTE: only leaf items may reference a resource (CAM
            # item@identifierref; SN: only leaf activities are delivered). Real packages do it
            # anyway; we keep the item as a cluster and ignore the reference, with a warning,
            # instead of refusing the package.
            elsewhere = any(
                other is not el and (other.get("identifierref") or "").strip() == ref
                for other in self.root.iter()
                if isinstance(other.tag, str) and local_name(other) == "item"
            )
            reach = (
                "another item still launches it"
                if elsewhere
                else "no other item launches it, so learners cannot open that content"
            )
            self.findings.warn(
                "parent_item_resource_ignored",
                f'item "{identifier}" has child items and also references resource "{ref}"; only '
                f"items without children can be launched, so the reference was ignored ({reach}). "
                "Move the content into a child item of its own.",
                file=self.file,
                element=f"{where}/@identifierref",
                rule="CAM item@identifierref (leaf items only)",
            )
            ref = None
        if ref is not None:
            resource = resources.get(ref)
            if resource is None:
                if ref not in self.broken_resources:
                    self.findings.refuse(
                        self.fail(
                            f"{where}/@identifierref",
                            f'identifierref "{ref}" names no resource in this manifest.',
                            "CAM item@identifierref",
                        )
                    )
            elif resource.launch_path is None:
                self.findings.refuse(
                    self.fail(
                        f"{where}/@identifierref",
                        f'item "{identifier}" launches resource "{ref}", which has no href.',
                        "CAM resource@href required for launchable resources",
                    )
                )
            else:
                launch_url = apply_parameters(resource.launch_path, parameters)
                scorm_type = resource.scorm_type
        is_visible = self.attempt(
            lambda: self.values.boolean(el.get("isvisible"), True, f"{where}/@isvisible"), True
        )
        fields: dict[str, Any] = {}
        if standard is Standard.SCORM12:
            fields["mastery_score"] = self.attempt(
                lambda: self.values.decimal(
                    text_of(_adl_child(el, "masteryscore")), None, f"{where}/adlcp:masteryscore", 0, 100
                ),
                None,
            )
            prereq = _adl_child(el, "prerequisites")
            fields["prerequisites"] = text_of(prereq)
            fields["prerequisites_type"] = prereq.get("type") if prereq is not None else None
            fields["max_time_allowed"] = text_of(_adl_child(el, "maxtimeallowed"))
            fields["time_limit_action"] = self.attempt(
                lambda: self.time_limit_action(
                    text_of(_adl_child(el, "timelimitaction")), f"{where}/adlcp:timelimitaction"
                ),
                None,
            )
            fields["data_from_lms"] = text_of(_adl_child(el, "datafromlms"))
        else:
            fields["completion_threshold"] = self.attempt(
                lambda: self.completion_threshold(el, where), None
            )
            fields["data_from_lms"] = text_of(_adl_child(el, "dataFromLMS"))
            fields["time_limit_action"] = self.attempt(
                lambda: self.time_limit_action(
                    text_of(_adl_child(el, "timeLimitAction")), f"{where}/adlcp:timeLimitAction"
                ),
                None,
            )
            fields["shared_data"] = self.attempt(lambda: self.shared_data(el, where), ())
            fields["hide_lms_ui"] = self.attempt(lambda: self.hide_lms_ui(el, where), ())
            fields["sequencing"] = self.attempt(
                lambda: self.sequencing(el, collection, where), build_sequencing({})
            )
        return Item(
            identifier=identifier,
            title=title,
            identifierref=ref,
            is_visible=is_visible,
            parameters=parameters,
            launch_url=launch_url,
            scorm_type=scorm_type,
            children=children,
            metadata=self.attempt(lambda: self.metadata(el), None),
            **fields,
        )

    def time_limit_action(self, raw: str | None, where: str) -> str | None:
        if raw is None:
            return None
        # SPEC COMPLIANCE NOTE: the vocabulary is exact ("exit,message"); we accept other
        # letter case and spaces around the comma, and store the canonical token.
        value = ",".join(part.strip() for part in raw.lower().split(","))
        if value not in TIME_LIMIT_ACTIONS:
            raise self.fail(
                where,
                f'timeLimitAction "{raw}" must be one of: {", ".join(sorted(TIME_LIMIT_ACTIONS))}.',
                "CAM adlcp:timeLimitAction vocabulary",
            )
        return value

    def shared_data(self, el: etree._Element, where: str) -> tuple[SharedDataMap, ...]:
        maps: list[SharedDataMap] = []
        for data in _adl_children(el, "data"):
            for index, map_el in enumerate(_adl_children(data, "map"), start=1):
                mwhere = f"{where}/adlcp:data/adlcp:map[{index}]"
                target = (map_el.get("targetID") or "").strip()
                if not target:
                    raise self.fail(
                        f"{mwhere}/@targetID",
                        "adlcp:map needs a targetID.",
                        "SCORM 2004 4th CAM adlcp:map",
                    )
                maps.append(
                    SharedDataMap(
                        target_id=target,
                        read_shared_data=self.values.boolean(
                            map_el.get("readSharedData"), True, f"{mwhere}/@readSharedData"
                        ),
                        write_shared_data=self.values.boolean(
                            map_el.get("writeSharedData"), True, f"{mwhere}/@writeSharedData"
                        ),
                    )
                )
        return tuple(maps)

    def hide_lms_ui(self, el: etree._Element, where: str) -> tuple[str, ...]:
        values: list[str] = []
        for pres in el:
            if not (isinstance(pres.tag, str) and pres.tag == f"{{{NS_ADLNAV}}}presentation"):
                continue
            for nav in pres:
                if not (
                    isinstance(nav.tag, str) and nav.tag == f"{{{NS_ADLNAV}}}navigationInterface"
                ):
                    continue
                for hide in nav:
                    if not (isinstance(hide.tag, str) and hide.tag == f"{{{NS_ADLNAV}}}hideLMSUI"):
                        continue
                    value = text_of(hide) or ""
                    if value not in HIDE_LMS_UI:
                        raise self.fail(
                            f"{where}/adlnav:presentation/adlnav:navigationInterface/adlnav:hideLMSUI",
                            f'hideLMSUI "{value}" must be one of: '
                            f"{', '.join(sorted(HIDE_LMS_UI))}.",
                            "SCORM 2004 CAM adlnav:hideLMSUI vocabulary",
                        )
                    if value not in values:
                        values.append(value)
        return tuple(values)

    def organizations(
        self,
        resources: Mapping[str, Resource],
        collection: Mapping[str, Mapping[str, Any]],
        standard: Standard,
    ) -> tuple[str | None, tuple[Organization, ...]]:
        container = _cp_child(self.root, "organizations")
        if container is None:
            raise self.findings.fatal(
                self.fail(
                    "manifest/organizations",
                    "the manifest has no <organizations> element, so there is nothing to launch.",
                    "CAM organizations",
                )
            )
        default = (container.get("default") or "").strip() or None
        seen: set[str] = set()
        orgs: list[Organization] = []
        for org_el in _cp_children(container, "organization"):
            identifier = (org_el.get("identifier") or "").strip()
            if not identifier:
                self.findings.refuse(
                    self.fail(
                        "organization",
                        "every organization needs an identifier.",
                        "CAM organization@identifier",
                    )
                )
                continue
            where = f"organization[@identifier='{identifier}']"
            items = tuple(
                item
                for item in (
                    self.item(child, resources, collection, standard, seen)
                    for child in _cp_children(org_el, "item")
                )
                if item is not None
            )
            extra: dict[str, Any] = {}
            if standard is Standard.SCORM2004:
                extra["objectives_global_to_system"] = self.attempt(
                    lambda org_el=org_el, where=where: self.values.boolean(
                        org_el.get(f"{{{NS_ADLSEQ}}}objectivesGlobalToSystem"),
                        True,
                        f"{where}/@adlseq:objectivesGlobalToSystem",
                    ),
                    True,
                )
                extra["shared_data_global_to_system"] = self.attempt(
                    lambda org_el=org_el, where=where: self.values.boolean(
                        _adl_attr(org_el, "sharedDataGlobalToSystem"),
                        True,
                        f"{where}/@adlcp:sharedDataGlobalToSystem",
                    ),
                    True,
                )
                extra["sequencing"] = self.attempt(
                    lambda org_el=org_el, where=where: self.sequencing(org_el, collection, where),
                    build_sequencing({}),
                )
                extra["completion_threshold"] = self.attempt(
                    lambda org_el=org_el, where=where: self.completion_threshold(org_el, where),
                    None,
                )
            orgs.append(
                Organization(
                    identifier=identifier,
                    title=text_of(_cp_child(org_el, "title")) or identifier,
                    items=items,
                    structure=(org_el.get("structure") or "hierarchical").strip(),
                    metadata=self.attempt(lambda org_el=org_el: self.metadata(org_el), None),
                    **extra,
                )
            )
        if not orgs:
            if self.findings.problems:
                raise self.findings.aggregate()
            raise self.findings.fatal(
                self.fail(
                    "manifest/organizations",
                    "the manifest has no <organization>, so there is nothing to launch. Packages "
                    "for this catalogue must be content aggregations with at least one item.",
                    "CAM organizations",
                )
            )
        if default is not None and not any(o.identifier == default for o in orgs):
            # SPEC COMPLIANCE NOTE: organizations@default must name an organization (IDREF);
            # we fall back to the first organization, as most LMSs do, instead of refusing.
            self.findings.warn(
                "default_organization_missing",
                f'organizations@default is "{default}", but no organization has that identifier; '
                f'the first organization, "{orgs[0].identifier}", is delivered instead. Set '
                "default to the organization learners should get.",
                file=self.file,
                element="manifest/organizations/@default",
                rule="CAM organizations@default (IDREF)",
            )
        return default, tuple(orgs)


def _first_local(el: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in el if isinstance(c.tag, str) and local_name(c) == name), None)


def _lom_text(el: etree._Element | None) -> str | None:
    """Text of a LOM langstring container (1.2 ``langstring``, 2004 ``string``)."""
    if el is None:
        return None
    for child in el:
        if isinstance(child.tag, str) and local_name(child) in ("langstring", "string"):
            value = text_of(child)
            if value:
                return value
    return text_of(el)


def parse_scorm_manifest(
    root: etree._Element, *, file: str = MANIFEST_FILE, findings: Findings | None = None
) -> ScormManifest:
    """Parse a SCORM 1.2 / 2004 manifest root element into a :class:`ScormManifest`.

    Every problem is collected before refusing (the raised error's ``problems`` lists them all).

    Args:
        root: the parsed ``<manifest>`` element (see :func:`scorm.packaging.xmlsafe.parse_xml`).
        file: the manifest's path in the package, for error reports.
        findings: where refusals and warnings go. When given, recorded refusals are left for
            the caller to raise (so it can add its own checks to the same report) and the
            returned manifest may be partial; when ``None``, any refusal is raised here and
            warnings are only logged.

    Returns:
        The typed manifest.

    Raises:
        UnknownStandard: the SCORM version/edition cannot be determined.
        InvalidManifest: the manifest breaks a CAM or SN rule.
        ZipSlip: an href points outside the package.
    """
    if local_name(root) != "manifest":
        raise InvalidManifest(
            f"the root element of {file} is <{local_name(root)}>, not <manifest>.",
            file=file,
            element="/",
            rule="CAM manifest root element",
        )
    own = findings is None
    findings = Findings() if findings is None else findings
    parser = _Parser(root, file, findings)
    try:
        standard, edition, schema, schema_version = parser.detect()
    except PackageError as exc:
        raise findings.fatal(exc) from None
    resources = parser.resources()
    collection = parser.collection() if standard is Standard.SCORM2004 else {}
    default, organizations = parser.organizations(resources, collection, standard)
    manifest = ScormManifest(
        standard=standard,
        edition=edition,
        identifier=(root.get("identifier") or "").strip() or "manifest",
        version=root.get("version"),
        schema=schema,
        schema_version=schema_version,
        default_organization_id=default,
        organizations=organizations,
        resources=tuple(resources.values()),
        sequencing_collection=tuple(
            SequencingCollectionEntry(id=key, sequencing=build_sequencing(value))
            for key, value in collection.items()
        ),
        metadata=parser.attempt(lambda: parser.metadata(root), None),
    )
    if own:
        findings.raise_if_refused()
        for warning in findings.warnings:
            logger.debug("package warning: %s", warning, extra={"action": "package_parse", "code": warning.code})
    logger.debug(
        "parsed SCORM manifest",
        extra={"action": "package_parse", "standard": standard.value, "edition": edition},
    )
    return manifest


__all__ = [
    "MANIFEST_FILE",
    "CompletionThreshold",
    "Item",
    "Metadata",
    "Organization",
    "Resource",
    "ScormManifest",
    "ScormType",
    "SequencingCollectionEntry",
    "SharedDataMap",
    "parse_scorm_manifest",
]
