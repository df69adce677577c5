"""Finding, reading and checking a package's manifest (import steps 3 and 4).

The manifest is found at the root of the zip (cmi5.xml, imsmanifest.xml or tincan.xml, the most
specific standard first), parsed into its typed structure, and every file it references is
checked to be in the package.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Sequence

from lxml import etree

from scorm.packaging import cmi5 as cmi5_mod
from scorm.packaging import scorm_manifest, tincan
from scorm.packaging.cmi5 import Cmi5Course, parse_cmi5
from scorm.packaging.errors import (
    Findings,
    InvalidManifest,
    ManifestMissing,
    MissingFile,
    UnsupportedStandard,
)
from scorm.packaging.model import (
    ImportLimits,
    Launchable,
    LaunchKind,
    Standard,
    pick_lang,
)
from scorm.packaging.scorm_manifest import ScormManifest, parse_scorm_manifest
from scorm.packaging.tincan import TinCanManifest, parse_tincan
from scorm.packaging.urls import url_scheme
from scorm.packaging.xmlsafe import local_name, parse_xml, schema_locations

logger = logging.getLogger(__name__)

PackageStructure = ScormManifest | TinCanManifest | Cmi5Course

# Manifest precedence when a zip carries several (a cmi5 course often ships a tincan.xml too,
# and some SCORM exports add one): the most specific standard wins.
MANIFEST_PRECEDENCE: tuple[tuple[str, Standard], ...] = (
    (cmi5_mod.MANIFEST_FILE, Standard.CMI5),
    (scorm_manifest.MANIFEST_FILE, Standard.SCORM2004),  # 1.2 vs 2004 decided by the parser
    (tincan.MANIFEST_FILE, Standard.XAPI),
)

# AICC CMI001 course structure files: .crs (course), .au, .des, .cst (+ optional .ort, .pre, .cmp)
_AICC_SUFFIXES = (".crs", ".au", ".des", ".cst", ".ort", ".pre", ".cmp")


# --- step 3: manifest ------------------------------------------------------------------------


def find_manifest(infos: Sequence[zipfile.ZipInfo]) -> tuple[zipfile.ZipInfo, Standard]:
    at_root = {info.filename.casefold(): info for info in infos if "/" not in info.filename}
    for name, standard in MANIFEST_PRECEDENCE:
        if name in at_root:
            # SPEC COMPLIANCE NOTE: the file names are lower case in every spec; we also accept
            # other casings (e.g. IMSManifest.xml from old Windows tools). Strict: exact name.
            return at_root[name], standard
    aicc = sorted(name for name in at_root if name.endswith(_AICC_SUFFIXES))
    if any(name.endswith(".crs") for name in aicc):
        raise UnsupportedStandard(
            key="aicc_course_aicc_supported_platform",
            params={"names": ", ".join(at_root[n].filename for n in aicc[:4])},
            file=at_root[aicc[0]].filename,
            rule="supported standards: SCORM 1.2, SCORM 2004, xAPI, cmi5",
        )
    nested = sorted(
        info.filename
        for info in infos
        if info.filename.rsplit("/", 1)[-1].casefold() in {n for n, _ in MANIFEST_PRECEDENCE}
    )
    raise ManifestMissing(
        key="manifest_missing_nested" if nested else "manifest_missing_at_root",
        params={"nested": nested[0]} if nested else None,
        rule="CAM 2.1 / cmi5 14.1: manifest at the package root",
    )


def parse_manifest_bytes(
    data: bytes,
    *,
    file: str,
    limits: ImportLimits,
    in_package: bool = True,
    findings: Findings | None = None,
) -> PackageStructure:
    """Parse manifest bytes (any supported format, told apart by the root element).

    Args:
        data: the file's bytes.
        file: its name, for error reports.
        limits: import limits (``max_manifest_bytes``).
        in_package: ``False`` for a standalone cmi5.xml.
        findings: collects refusals and warnings (see
            :func:`scorm.packaging.scorm_manifest.parse_scorm_manifest`); the caller raises.

    Returns:
        The typed structure.

    Raises:
        PackageError: parsing or validation failed.
    """
    root = parse_xml(data, file=file, max_bytes=limits.max_manifest_bytes)
    return parse_root(root, file=file, in_package=in_package, findings=findings)


def _warn_schema_locations(root: etree._Element, file: str, findings: Findings) -> None:
    """Warn about ``xsi:schemaLocation`` entries outside the package (never fetched).

    Local schema file names (``imscp_v1p1.xsd``, the usual case) are normal and not reported;
    no schema is ever read, local or remote: manifests are checked by this parser's rules.
    """
    for el, location in schema_locations(root):
        if url_scheme(location) is None and not location.startswith(("/", "\\")) and ".." not in location:
            continue
        findings.warn(
            "schema_location_remote",
            "names_schema_outside_package_was",
            file=file,
            element=f"{local_name(el)}/@xsi:schemaLocation",
            rule="XML Schema instance schemaLocation (hint only)", params={"file": file, "location": location[:200]},
        )


def parse_root(
    root: etree._Element, *, file: str, in_package: bool, findings: Findings | None = None
) -> PackageStructure:
    name = local_name(root)
    if findings is not None:
        _warn_schema_locations(root, file, findings)
    if name == "manifest":
        return parse_scorm_manifest(root, file=file, findings=findings)
    if name == "courseStructure":
        return parse_cmi5(root, file=file, in_package=in_package)
    if name == "tincan":
        return parse_tincan(root, file=file)
    raise InvalidManifest(
        key="root_element_which_scorm_manifest", params={"file": file, "name": name},
        file=file,
        element="/",
        rule="manifest root element",
    )


# --- step 4: referenced files ------------------------------------------------------------------


def check_required_files(
    structure: PackageStructure,
    infos: Sequence[zipfile.ZipInfo],
    limits: ImportLimits,
    file: str,
    findings: Findings | None = None,
) -> None:
    """Refuse when the manifest points at a file that is not in the zip (every such file).

    A missing external metadata file (``adlcp:location``) is only a warning when ``findings``
    is given (see :meth:`ScormManifest.optional_files`).
    """
    own = findings is None
    findings = Findings() if findings is None else findings
    if isinstance(structure, ScormManifest):
        needed = structure.required_files(include_listed=limits.require_listed_files)
    else:
        needed = structure.required_files()
    names = {info.filename for info in infos if not info.is_dir()}
    folded = {name.casefold(): name for name in names}
    reported: set[str] = set()
    if isinstance(structure, ScormManifest):
        for path, where in structure.optional_files():
            if path in names:
                continue
            findings.warn(
                "metadata_file_missing",
                "metadata_file_named_adlcp_location",
                file=file,
                element=where,
                rule="CAM adlcp:location (external metadata)", params={"path": path},
            )
    for path, where in needed:
        if path in names or path in reported:
            continue
        reported.add(path)
        near = folded.get(path.casefold())
        findings.refuse(
            MissingFile(
                key="missing_file_case_differs" if near else "missing_file_referenced",
                params={"path": path, "near": near} if near else {"path": path},
                file=file,
                element=where,
                rule="every file the manifest references is in the package",
            )
        )
    if own:
        findings.raise_if_refused()


# --- summary -----------------------------------------------------------------------------------


def summarize(
    structure: PackageStructure,
) -> tuple[str, str | None, str | None, int, tuple[Launchable, ...]]:
    launchables = structure.launchables()
    if isinstance(structure, ScormManifest):
        meta = structure.metadata
        sco_count = sum(1 for item in launchables if item.kind is LaunchKind.SCO)
        return (
            structure.title,
            meta.description if meta else None,
            meta.language if meta else None,
            sco_count,
            launchables,
        )
    if isinstance(structure, Cmi5Course):
        lang = structure.title_strings[0].lang if structure.title_strings else None
        return structure.title, structure.description, lang, len(launchables), launchables
    launch = structure.launch_activity
    return (
        structure.title,
        pick_lang(launch.description),
        launch.launch_lang or (launch.name[0].lang if launch.name else None),
        len(launchables),
        launchables,
    )
