"""Reading SCORM content-packaging XML: element helpers and the item-level parser.

:class:`ParserBase` holds what every part of the manifest parser shares (the file, the findings,
the one value reader) and parses what an ``<item>`` or ``<organization>`` carries: metadata,
completion threshold, ``adlcp`` item elements, shared data maps, ``hideLMSUI`` and the
sequencing definition. :mod:`scorm.packaging.scorm_manifest` adds the manifest-level steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from lxml import etree

from scorm.messages import Params
from scorm.packaging.cam_model import (
    HIDE_LMS_UI,
    NS_ADLCP12,
    NS_ADLCP2004,
    NS_ADLNAV,
    NS_CP12,
    NS_CP2004,
    SCHEMA_VERSIONS,
    TIME_LIMIT_ACTIONS,
    CompletionThreshold,
    Item,
    Metadata,
    Resource,
    ScormType,
    SharedDataMap,
)
from scorm.packaging.errors import Findings, InvalidManifest, PackageError, UnknownStandard
from scorm.packaging.model import Standard
from scorm.packaging.sequencing_xml import NS_ADLSEQ, NS_IMSSS, parse_sequencing_elements
from scorm.packaging.urls import (
    apply_parameters,
    normalize_package_path,
)
from scorm.packaging.values import ValueReader
from scorm.packaging.xmlsafe import local_name, namespace, text_of
from scorm.sequencing.definition import Sequencing, build_sequencing

T = TypeVar("T")

_ADLCP = (NS_ADLCP12, NS_ADLCP2004)
_NON_CP = frozenset({NS_ADLCP12, NS_ADLCP2004, NS_ADLNAV, NS_IMSSS, NS_ADLSEQ})


# --- helpers -----------------------------------------------------------------------------------


def is_cp(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and namespace(el) not in _NON_CP


def cp_children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if is_cp(c) and local_name(c) == name]


def cp_child(el: etree._Element, name: str) -> etree._Element | None:
    found = cp_children(el, name)
    return found[0] if found else None


def adl_children(el: etree._Element, *names: str) -> list[etree._Element]:
    return [
        c
        for c in el
        if isinstance(c.tag, str) and namespace(c) in _ADLCP and local_name(c) in names
    ]


def adl_child(el: etree._Element, *names: str) -> etree._Element | None:
    found = adl_children(el, *names)
    return found[0] if found else None


def adl_attr(el: etree._Element, *names: str) -> str | None:
    for ns in _ADLCP:
        for name in names:
            value = el.get(f"{{{ns}}}{name}")
            if value is not None:
                return value
    return None


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



class ParserBase:
    def __init__(self, root: etree._Element, file: str, findings: Findings) -> None:
        self.root = root
        self.file = file
        self.findings = findings
        self.values = ValueReader(file, spec="SCORM CAM")
        # resources refused while parsing: items naming them are not reported a second time
        self.broken_resources: set[str] = set()

    def fail(self, element: str, key: str, rule: str, params: Params | None = None) -> InvalidManifest:
        return InvalidManifest(key=key, params=params, file=self.file, element=element, rule=rule)

    def attempt(self, step: Callable[[], T], default: T) -> T:
        """Run one parsing step; a refusal is recorded (every problem is reported at once)."""
        try:
            return step()
        except PackageError as exc:
            self.findings.refuse(exc)
            return default

    # --- version detection ------------------------------------------------------------------

    def detect(self) -> tuple[Standard, int | None, str | None, str | None]:
        meta = cp_child(self.root, "metadata")
        schema = text_of(cp_child(meta, "schema")) if meta is not None else None
        version = text_of(cp_child(meta, "schemaversion")) if meta is not None else None
        if version is not None:
            key = " ".join(version.lower().split())
            if key in SCHEMA_VERSIONS:
                standard, edition = SCHEMA_VERSIONS[key]
                return standard, edition, schema, version
            raise UnknownStandard(
                key="metadata_schemaversion_which_scorm_version", params={"version": version},
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
            key="imsmanifest_xml_metadata_schemaversion_scorm",
            file=self.file,
            element="manifest/metadata",
            rule="SCORM CAM schemaversion",
        )

    # --- metadata ----------------------------------------------------------------------------

    def metadata(self, el: etree._Element | None) -> Metadata | None:
        meta = cp_child(el, "metadata") if el is not None else None
        if meta is None:
            return None
        location_el = adl_child(meta, "location")
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
            schema=text_of(cp_child(meta, "schema")),
            schema_version=text_of(cp_child(meta, "schemaversion")),
            location=location,
            title=title,
            description=description,
            language=language,
            keywords=tuple(keywords),
        )

    # --- items and their extensions ----------------------------------------------------------

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
                "idref_names_entry_manifest_imsss",
                "SN 5.1 sequencing@IDRef", params={"ref": ref},
            )
        return build_sequencing(
            own, collection=collection.get(ref) if ref else None, collection_ref=ref
        )

    # --- organizations and items ---------------------------------------------------------------

    def completion_threshold(self, el: etree._Element, where: str) -> CompletionThreshold | None:
        ct = adl_child(el, "completionThreshold")
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
                self.fail("item", "every_item_needs_identifier", "CAM item@identifier")
            )
            return None
        where = f"item[@identifier='{identifier}']"
        if identifier in seen:
            self.findings.refuse(
                self.fail(
                    where,
                    "two_items_have_identifier",
                    "CAM identifiers are unique within a manifest", params={"identifier": identifier},
                )
            )
            return None
        seen.add(identifier)
        title = text_of(cp_child(el, "title")) or identifier
        children = tuple(
            child
            for child in (
                self.item(child_el, resources, collection, standard, seen)
                for child_el in cp_children(el, "item")
            )
            if child is not None
        )
        parameters = el.get("parameters")
        ref, launch_url, scorm_type = self._item_launch(el, identifier, where, resources, parameters)
        is_visible = self.attempt(
            lambda: self.values.boolean(el.get("isvisible"), True, f"{where}/@isvisible"), True
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
            **self._item_fields(el, where, standard, collection),
            metadata=self.attempt(lambda: self.metadata(el), None),
        )

    def _item_launch(
        self,
        el: etree._Element,
        identifier: str,
        where: str,
        resources: Mapping[str, Resource],
        parameters: str | None,
    ) -> tuple[str | None, str | None, ScormType | None]:
        """The item's resource reference, launch URL and SCO/asset type (problems recorded)."""
        ref = (el.get("identifierref") or "").strip() or None
        if ref is not None and cp_children(el, "item"):
            # SPEC COMPLIANCE NOTE: only leaf items may reference a resource (CAM
            # item@identifierref; SN: only leaf activities are delivered). Real packages do it
            # anyway; we keep the item as a cluster and ignore the reference, with a warning,
            # instead of refusing the package.
            elsewhere = any(
                other is not el and (other.get("identifierref") or "").strip() == ref
                for other in self.root.iter()
                if isinstance(other.tag, str) and local_name(other) == "item"
            )
            self.findings.warn(
                "parent_item_resource_ignored",
                "parent_item_resource_elsewhere" if elsewhere else "parent_item_resource_unreachable",
                file=self.file,
                element=f"{where}/@identifierref",
                rule="CAM item@identifierref (leaf items only)",
                params={"identifier": identifier, "ref": ref},
            )
            ref = None
        if ref is not None:
            resource = resources.get(ref)
            if resource is None:
                if ref not in self.broken_resources:
                    self.findings.refuse(
                        self.fail(
                            f"{where}/@identifierref",
                            "identifierref_names_resource_manifest",
                            "CAM item@identifierref", params={"ref": ref},
                        )
                    )
            elif resource.launch_path is None:
                self.findings.refuse(
                    self.fail(
                        f"{where}/@identifierref",
                        "item_launches_resource_which_href",
                        "CAM resource@href required for launchable resources",
                        params={"identifier": identifier, "ref": ref},
                    )
                )
            else:
                return ref, apply_parameters(resource.launch_path, parameters), resource.scorm_type
        return ref, None, None

    def _item_fields(
        self,
        el: etree._Element,
        where: str,
        standard: Standard,
        collection: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, Any]:
        """The edition-specific item fields: 1.2 ``adlcp`` elements, 2004 extensions."""
        fields: dict[str, Any] = {}
        if standard is Standard.SCORM12:
            fields["mastery_score"] = self.attempt(
                lambda: self.values.decimal(
                    text_of(adl_child(el, "masteryscore")), None, f"{where}/adlcp:masteryscore", 0, 100
                ),
                None,
            )
            prereq = adl_child(el, "prerequisites")
            fields["prerequisites"] = text_of(prereq)
            fields["prerequisites_type"] = prereq.get("type") if prereq is not None else None
            fields["max_time_allowed"] = text_of(adl_child(el, "maxtimeallowed"))
            fields["time_limit_action"] = self.attempt(
                lambda: self.time_limit_action(
                    text_of(adl_child(el, "timelimitaction")), f"{where}/adlcp:timelimitaction"
                ),
                None,
            )
            fields["data_from_lms"] = text_of(adl_child(el, "datafromlms"))
        else:
            fields["completion_threshold"] = self.attempt(
                lambda: self.completion_threshold(el, where), None
            )
            fields["data_from_lms"] = text_of(adl_child(el, "dataFromLMS"))
            fields["time_limit_action"] = self.attempt(
                lambda: self.time_limit_action(
                    text_of(adl_child(el, "timeLimitAction")), f"{where}/adlcp:timeLimitAction"
                ),
                None,
            )
            fields["shared_data"] = self.attempt(lambda: self.shared_data(el, where), ())
            fields["hide_lms_ui"] = self.attempt(lambda: self.hide_lms_ui(el, where), ())
            fields["sequencing"] = self.attempt(
                lambda: self.sequencing(el, collection, where), build_sequencing({})
            )
        return fields

    def time_limit_action(self, raw: str | None, where: str) -> str | None:
        if raw is None:
            return None
        # SPEC COMPLIANCE NOTE: the vocabulary is exact ("exit,message"); we accept other
        # letter case and spaces around the comma, and store the canonical token.
        value = ",".join(part.strip() for part in raw.lower().split(","))
        if value not in TIME_LIMIT_ACTIONS:
            raise self.fail(
                where,
                "timelimitaction_must_one",
                "CAM adlcp:timeLimitAction vocabulary",
                params={"raw": raw, "names": ", ".join(sorted(TIME_LIMIT_ACTIONS))},
            )
        return value

    def shared_data(self, el: etree._Element, where: str) -> tuple[SharedDataMap, ...]:
        maps: list[SharedDataMap] = []
        for data in adl_children(el, "data"):
            for index, map_el in enumerate(adl_children(data, "map"), start=1):
                mwhere = f"{where}/adlcp:data/adlcp:map[{index}]"
                target = (map_el.get("targetID") or "").strip()
                if not target:
                    raise self.fail(
                        f"{mwhere}/@targetID",
                        "adlcp_map_needs_targetid",
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
                            "hidelmsui_must_one",
                            "SCORM 2004 CAM adlnav:hideLMSUI vocabulary",
                            params={"value": value, "names": ", ".join(sorted(HIDE_LMS_UI))},
                        )
                    if value not in values:
                        values.append(value)
        return tuple(values)
