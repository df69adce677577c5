"""SCORM 1.2 and SCORM 2004 (2nd/3rd/4th edition) ``imsmanifest.xml`` parsing.

References: SCORM 1.2 Content Aggregation Model (CAM) chapter 2 and SCORM 2004 CAM chapter 3
(content packaging; ``adlcp``/``adlnav`` extensions), SCORM 2004 SN book (``imsss``/``adlseq``,
parsed in :mod:`scorm.packaging.sequencing_xml` into :mod:`scorm.sequencing.definition`).

Content-packaging element names are matched by local name so that the common real-world mix of
namespaces (a 1.2 package declaring the 2004 CP namespace, or none) still imports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lxml import etree

from scorm.packaging.cam_model import (
    MANIFEST_FILE,
    XML_BASE,
    CompletionThreshold,
    Item,
    Metadata,
    Organization,
    Resource,
    ScormManifest,
    ScormType,
    SequencingCollectionEntry,
    SharedDataMap,
    strip_query,
)
from scorm.packaging.cam_xml import ParserBase, adl_attr, cp_child, cp_children
from scorm.packaging.errors import Findings, InvalidManifest, PackageError
from scorm.packaging.model import Standard
from scorm.packaging.sequencing_xml import NS_ADLSEQ, NS_IMSSS, parse_sequencing_elements
from scorm.packaging.urls import (
    check_web_url,
    is_absolute_url,
    join_base,
    normalize_package_path,
    split_url,
)
from scorm.packaging.xmlsafe import local_name, namespace, text_of
from scorm.sequencing.definition import build_sequencing

logger = logging.getLogger(__name__)


class _Parser(ParserBase):
    # --- resources ---------------------------------------------------------------------------

    def resources(self) -> dict[str, Resource]:
        container = cp_child(self.root, "resources")
        result: dict[str, Resource] = {}
        if container is None:
            return result
        bases = tuple(
            b for b in (self.root.get(XML_BASE), container.get(XML_BASE)) if b is not None
        )
        for index, res in enumerate(cp_children(container, "resource"), start=1):
            identifier = (res.get("identifier") or "").strip()
            where = f"resources/resource[{index}]"
            if not identifier:
                self.findings.refuse(
                    self.fail(
                        f"{where}/@identifier",
                        "every_resource_needs_identifier",
                        "CAM resource@identifier",
                    )
                )
                continue
            if identifier in result or identifier in self.broken_resources:
                self.findings.refuse(
                    self.fail(
                        f"resource[@identifier='{identifier}']",
                        "two_resources_have_identifier",
                        "CAM identifiers are unique within a manifest", params={"identifier": identifier},
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
                            "dependency_names_resource_manifest",
                            "CAM dependency@identifierref", params={"dep": dep},
                        )
                    )
        return result

    def resource(self, res: etree._Element, identifier: str, bases: tuple[str, ...]) -> Resource | None:
        """One ``<resource>``; ``None`` when it was refused (every href problem is recorded)."""
        before = len(self.findings.problems)
        where = f"resource[@identifier='{identifier}']"
        res_bases = (*bases, *(b for b in (res.get(XML_BASE),) if b is not None))
        raw_type = adl_attr(res, "scormType", "scormtype")
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
                        "scormtype_must_sco_asset",
                        "CAM adlcp:scormType", params={"raw_type": raw_type},
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
                    "resource_launches_page_outside_package",
                    file=self.file,
                    element=f"{where}/@href",
                    rule="CAM resource@href (external URL)",
                    params={"identifier": identifier, "launch_path": launch_path[:200]},
                )
        files = self._resource_files(res, identifier, where, res_bases)
        deps = tuple(
            (dep.get("identifierref") or "").strip()
            for dep in cp_children(res, "dependency")
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
            files=files,
            dependencies=deps,
            metadata=metadata,
        )

    def _resource_files(
        self, res: etree._Element, identifier: str, where: str, res_bases: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The package paths of a resource's ``<file href>`` entries (problems recorded)."""
        files: list[str] = []
        for f_index, file_el in enumerate(cp_children(res, "file"), start=1):
            fwhere = f"{where}/file[{f_index}]/@href"
            f_href = (file_el.get("href") or "").strip()
            if not f_href:
                self.findings.refuse(
                    self.fail(fwhere, "file_element_needs_href", "CAM file@href")
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
                    "resource_lists_file_outside_package",
                    file=self.file,
                    element=fwhere,
                    rule="CAM file@href (external URL)", params={"identifier": identifier, "resolved": resolved[:200]},
                )
            else:
                files.append(strip_query(resolved))
        return tuple(files)

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
                            "every_sequencing_entry_sequencingcollection_needs",
                            "SN 5.1 sequencingCollection",
                        )
                    )
                    continue
                if seq_id in result:
                    self.findings.refuse(
                        self.fail(
                            where,
                            "sequencingcollection_two_entries_id",
                            "SN 5.1 sequencingCollection", params={"seq_id": seq_id},
                        )
                    )
                    continue
                # a broken entry is recorded; items naming it then use the defaults
                result[seq_id] = self.attempt(
                    lambda seq=seq, where=where: parse_sequencing_elements(seq, file=self.file, where=where),
                    {},
                )
        return result

    # --- organizations ------------------------------------------------------------------------

    def organizations(
        self,
        resources: Mapping[str, Resource],
        collection: Mapping[str, Mapping[str, Any]],
        standard: Standard,
    ) -> tuple[str | None, tuple[Organization, ...]]:
        container = cp_child(self.root, "organizations")
        if container is None:
            raise self.findings.fatal(
                self.fail(
                    "manifest/organizations",
                    "manifest_organizations_element_there_nothing",
                    "CAM organizations",
                )
            )
        default = (container.get("default") or "").strip() or None
        seen: set[str] = set()
        orgs: list[Organization] = []
        for org_el in cp_children(container, "organization"):
            identifier = (org_el.get("identifier") or "").strip()
            if not identifier:
                self.findings.refuse(
                    self.fail(
                        "organization",
                        "every_organization_needs_identifier",
                        "CAM organization@identifier",
                    )
                )
                continue
            orgs.append(self._organization(org_el, identifier, resources, collection, standard, seen))
        if not orgs:
            if self.findings.problems:
                raise self.findings.aggregate()
            raise self.findings.fatal(
                self.fail(
                    "manifest/organizations",
                    "manifest_organization_there_nothing_launch",
                    "CAM organizations",
                )
            )
        if default is not None and not any(o.identifier == default for o in orgs):
            # SPEC COMPLIANCE NOTE: organizations@default must name an organization (IDREF);
            # we fall back to the first organization, as most LMSs do, instead of refusing.
            self.findings.warn(
                "default_organization_missing",
                "organizations_default_but_organization_identifier",
                file=self.file,
                element="manifest/organizations/@default",
                rule="CAM organizations@default (IDREF)", params={"default": default, "identifier": orgs[0].identifier},
            )
        return default, tuple(orgs)



    def _organization(
        self,
        org_el: etree._Element,
        identifier: str,
        resources: Mapping[str, Resource],
        collection: Mapping[str, Mapping[str, Any]],
        standard: Standard,
        seen: set[str],
    ) -> Organization:
        """One ``<organization>`` with its items (problems recorded)."""
        where = f"organization[@identifier='{identifier}']"
        items = tuple(
            item
            for item in (
                self.item(child, resources, collection, standard, seen)
                for child in cp_children(org_el, "item")
            )
            if item is not None
        )
        extra: dict[str, Any] = {}
        if standard is Standard.SCORM2004:
            extra["objectives_global_to_system"] = self.attempt(
                lambda: self.values.boolean(
                    org_el.get(f"{{{NS_ADLSEQ}}}objectivesGlobalToSystem"),
                    True,
                    f"{where}/@adlseq:objectivesGlobalToSystem",
                ),
                True,
            )
            extra["shared_data_global_to_system"] = self.attempt(
                lambda: self.values.boolean(
                    adl_attr(org_el, "sharedDataGlobalToSystem"),
                    True,
                    f"{where}/@adlcp:sharedDataGlobalToSystem",
                ),
                True,
            )
            extra["sequencing"] = self.attempt(
                lambda: self.sequencing(org_el, collection, where),
                build_sequencing({}),
            )
            extra["completion_threshold"] = self.attempt(
                lambda: self.completion_threshold(org_el, where),
                None,
            )
        return Organization(
            identifier=identifier,
            title=text_of(cp_child(org_el, "title")) or identifier,
            items=items,
            structure=(org_el.get("structure") or "hierarchical").strip(),
            metadata=self.attempt(lambda: self.metadata(org_el), None),
            **extra,
        )


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
            key="root_element_manifest", params={"file": file, "local_name": local_name(root)},
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
