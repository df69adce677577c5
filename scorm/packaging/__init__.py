"""Safe import and parsing of course packages (SCORM 1.2, SCORM 2004 2nd-4th ed., xAPI, cmi5).

Framework-free (stdlib + lxml). Typical use from the CLI or the web app::

    from scorm.packaging import extract_package, PackageError

    try:
        package = extract_package(upload_path, content_root)
    except PackageError as exc:
        show(exc.code, exc.message, exc.file, exc.element)
    else:
        store(package.sha256, package.standard, package.title, package.launchables, ...)
"""

from __future__ import annotations

from scorm.packaging.cam_model import (
    CompletionThreshold,
    Item,
    Metadata,
    Organization,
    Resource,
    ScormManifest,
    ScormType,
    SequencingCollectionEntry,
    SharedDataMap,
)
from scorm.packaging.cmi5 import (
    Cmi5AU,
    Cmi5Block,
    Cmi5Course,
    Cmi5Objective,
    LaunchMethod,
    MoveOn,
    parse_cmi5,
)
from scorm.packaging.errors import ALL_ERROR_TYPES, PackageError
from scorm.packaging.importer import ImportedPackage, extract_package, inspect_package
from scorm.packaging.manifests import PackageStructure, parse_manifest_bytes
from scorm.packaging.model import (
    DEFAULT_LIMITS,
    ImportLimits,
    LangString,
    Launchable,
    LaunchKind,
    Standard,
)
from scorm.packaging.scorm_manifest import parse_scorm_manifest
from scorm.packaging.source import PackageDigest, package_digest
from scorm.packaging.tincan import TinCanActivity, TinCanManifest, parse_tincan
from scorm.sequencing.definition import Sequencing

__all__ = [
    "ALL_ERROR_TYPES",
    "DEFAULT_LIMITS",
    "Cmi5AU",
    "Cmi5Block",
    "Cmi5Course",
    "Cmi5Objective",
    "CompletionThreshold",
    "ImportLimits",
    "ImportedPackage",
    "Item",
    "LangString",
    "LaunchKind",
    "LaunchMethod",
    "Launchable",
    "Metadata",
    "MoveOn",
    "Organization",
    "PackageDigest",
    "PackageError",
    "PackageStructure",
    "Resource",
    "ScormManifest",
    "ScormType",
    "Sequencing",
    "SequencingCollectionEntry",
    "SharedDataMap",
    "Standard",
    "TinCanActivity",
    "TinCanManifest",
    "extract_package",
    "inspect_package",
    "package_digest",
    "parse_cmi5",
    "parse_manifest_bytes",
    "parse_scorm_manifest",
    "parse_tincan",
]
