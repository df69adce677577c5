"""Safe import of course packages: inspect a zip, validate it, parse its manifest, extract it.

Threat model (DESIGN.md §7): packages come from vendors and academies and may be broken or
hostile. Every check below is an ordered, named step with its own error code:

1. the source is a zip (or a standalone cmi5.xml, cmi5 spec 14.2);
2. central directory checks, before a byte is written: entry count, names (zip slip,
   absolute, drive letters, backslashes, NUL), symlinks and special files, encryption,
   compression method, duplicates (also ignoring case), declared sizes and ratios;
3. the manifest is found at the root, read with a byte cap, parsed with a hardened parser and
   turned into typed structures (SCORM 1.2/2004, TinCan, cmi5);
4. every file the manifest needs exists in the zip;
5. extraction streams each entry in fixed-size chunks through our own decompressor, checking
   the *actual* bytes against the declared size, the ratio cap and the total cap, and the CRC;
   it writes into a temporary sibling folder which is renamed into place only when everything
   succeeded — a refused package leaves nothing behind.

Memory use is bounded by ``ImportLimits.chunk_bytes`` (plus the manifest), whatever the size of
the package.

This module runs the steps; each lives in its own module: the source file and its one SHA-256
(:mod:`~scorm.packaging.source`), central-directory checks (:mod:`~scorm.packaging.zipcheck`),
the manifest (:mod:`~scorm.packaging.manifests`), the entry reader
(:mod:`~scorm.packaging.zipstream`) and the atomic destination
(:mod:`~scorm.packaging.destination`).
"""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scorm.packaging import cmi5 as cmi5_mod
from scorm.packaging.destination import extract_atomically, final_name, target_path
from scorm.packaging.errors import (
    DestinationError,
    Findings,
    ManifestTooLarge,
    NotAZip,
    PackageError,
    PackageWarning,
)
from scorm.packaging.manifests import (
    PackageStructure,
    check_required_files,
    find_manifest,
    parse_manifest_bytes,
    parse_root,
    summarize,
)
from scorm.packaging.model import (
    DEFAULT_LIMITS,
    ImportLimits,
    Launchable,
    Standard,
)
from scorm.packaging.source import PackageDigest, digest_of, source_path
from scorm.packaging.xmlsafe import local_name, parse_xml
from scorm.packaging.zipcheck import check_central_directory
from scorm.packaging.zipstream import Budget, iter_entry

logger = logging.getLogger(__name__)





@dataclass(frozen=True, kw_only=True)
class ImportedPackage:
    """The result of importing (or inspecting) a package.

    Attributes:
        standard: scorm12, scorm2004, xapi or cmi5.
        edition: 2, 3 or 4 for SCORM 2004; ``None`` otherwise.
        title: course title.
        description: course description, if the package gives one.
        language: main language tag, if known.
        manifest_file: the manifest's name at the package root.
        sco_count: SCOs (SCORM), AUs (cmi5) or launchable activities (xAPI).
        file_count: number of files (not folders) in the package.
        total_size: uncompressed size of all files, in bytes.
        package_size: size of the package file itself, in bytes.
        sha256: hex SHA-256 of the package file's bytes.
        content_dir: where the files now live (``None`` from :func:`inspect_package`).
        structure: the parsed manifest (``ScormManifest``, ``TinCanManifest`` or ``Cmi5Course``).
        launchables: what a learner can launch, in course order.
        source_kind: ``"zip"`` or ``"xml"`` (a standalone cmi5.xml).
        warnings: tolerated defects (the import report); the package imported anyway.
    """

    standard: Standard
    edition: int | None
    title: str
    description: str | None
    language: str | None
    manifest_file: str
    sco_count: int
    file_count: int
    total_size: int
    package_size: int
    sha256: str
    content_dir: Path | None
    structure: PackageStructure
    launchables: tuple[Launchable, ...]
    source_kind: str = "zip"
    warnings: tuple[PackageWarning, ...] = ()

    def summary(self) -> dict[str, object]:
        """JSON-ready catalogue fields (everything except the parsed ``structure``)."""
        return {
            "standard": self.standard.value,
            "edition": self.edition,
            "title": self.title,
            "description": self.description,
            "language": self.language,
            "manifest_file": self.manifest_file,
            "sco_count": self.sco_count,
            "file_count": self.file_count,
            "total_size": self.total_size,
            "package_size": self.package_size,
            "sha256": self.sha256,
            "content_dir": str(self.content_dir) if self.content_dir else None,
            "source_kind": self.source_kind,
            "launchables": [
                {
                    "identifier": item.identifier,
                    "title": item.title,
                    "launch_url": item.launch_url,
                    "kind": item.kind.value,
                    "visible": item.visible,
                }
                for item in self.launchables
            ],
            "warnings": [warning.as_dict() for warning in self.warnings],
        }


# --- step 1: open -------------------------------------------------------------------------------


def _looks_like_xml(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip().startswith(b"<")


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise NotAZip(
            key="readable_zip_archive_export_course", params={"name": path.name, "exc": exc},
            file=path.name,
            rule="PKWARE APPNOTE zip format (cmi5 14.1)",
        ) from exc


# --- public entry points ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Validated:
    structure: PackageStructure
    manifest_file: str
    infos: tuple[zipfile.ZipInfo, ...]
    warnings: tuple[PackageWarning, ...] = ()


def _validate_zip(
    zf: zipfile.ZipFile, raw: BinaryIO, limits: ImportLimits, budget: Budget
) -> _Validated:
    infos = check_central_directory(zf, limits)
    manifest_info, _ = find_manifest(infos)
    if manifest_info.file_size > limits.max_manifest_bytes:
        raise _manifest_too_large(manifest_info.filename, manifest_info.file_size, limits)
    manifest_budget = Budget(limits)
    data = b"".join(
        iter_entry(
            raw,
            zf,
            manifest_info,
            limits,
            manifest_budget,
            max_bytes=limits.max_manifest_bytes,
        )
    )
    findings = Findings()
    try:
        structure = parse_manifest_bytes(
            data, file=manifest_info.filename, limits=limits, findings=findings
        )
    except PackageError as exc:
        raise findings.fatal(exc) from None
    check_required_files(structure, infos, limits, manifest_info.filename, findings)
    findings.raise_if_refused()
    _log_warnings(findings.report_warnings())
    return _Validated(
        structure=structure,
        manifest_file=manifest_info.filename,
        infos=infos,
        warnings=findings.report_warnings(),
    )


def _log_warnings(warnings: Sequence[PackageWarning]) -> None:
    if not warnings:
        return
    codes = sorted({warning.code for warning in warnings})
    logger.warning(
        "package accepted with %d warning(s): %s",
        len(warnings),
        ", ".join(codes),
        extra={"action": "package_import", "codes": codes},
    )


def _result(
    validated: _Validated,
    *,
    sha256: str,
    package_size: int,
    total_size: int,
    content_dir: Path | None,
    source_kind: str = "zip",
) -> ImportedPackage:
    title, description, language, sco_count, launchables = summarize(validated.structure)
    return ImportedPackage(
        standard=validated.structure.standard,
        edition=validated.structure.edition,
        title=title,
        description=description,
        language=language,
        manifest_file=validated.manifest_file,
        sco_count=sco_count,
        file_count=sum(1 for info in validated.infos if not info.is_dir()),
        total_size=total_size,
        package_size=package_size,
        sha256=sha256,
        content_dir=content_dir,
        structure=validated.structure,
        launchables=launchables,
        source_kind=source_kind,
        warnings=validated.warnings,
    )


def _manifest_too_large(name: str, size: int, limits: ImportLimits) -> ManifestTooLarge:
    """The refusal of a manifest (in a zip or on its own) larger than ``limits.max_manifest_bytes``."""
    return ManifestTooLarge(
        key="manifest_over_limit",
        params={"file": name, "size": f"{size:,}", "limit": f"{limits.max_manifest_bytes:,}"},
        file=name,
        rule="limits.max_manifest_bytes",
    )


def _standalone_cmi5(path: Path, limits: ImportLimits) -> _Validated:
    if path.stat().st_size > limits.max_manifest_bytes:
        raise _manifest_too_large(path.name, path.stat().st_size, limits)
    data = path.read_bytes()
    root = parse_xml(data, file=path.name, max_bytes=limits.max_manifest_bytes)
    if local_name(root) != "courseStructure":
        raise NotAZip(
            key="xml_file_but_cmi5_course", params={"name": path.name},
            file=path.name,
            rule="cmi5 14.2: course structure XML without a zip",
        )
    findings = Findings()
    try:
        structure = parse_root(root, file=path.name, in_package=False, findings=findings)
    except PackageError as exc:
        raise findings.fatal(exc) from None
    findings.raise_if_refused()
    _log_warnings(findings.report_warnings())
    info = zipfile.ZipInfo(cmi5_mod.MANIFEST_FILE)
    info.file_size = len(data)
    return _Validated(
        structure=structure,
        manifest_file=cmi5_mod.MANIFEST_FILE,
        infos=(info,),
        warnings=findings.report_warnings(),
    )


def inspect_package(
    source: str | os.PathLike[str],
    limits: ImportLimits = DEFAULT_LIMITS,
    *,
    verify_data: bool = False,
    digest: PackageDigest | None = None,
) -> ImportedPackage:
    """Validate and parse a package without writing anything.

    All central-directory checks, the manifest parse and the referenced-files check run. With
    ``verify_data`` every entry is also streamed through the decompressor (actual sizes, ratio,
    CRC), exactly as :func:`extract_package` would, but the bytes are discarded.

    Args:
        source: path to a zip package or a standalone cmi5.xml.
        limits: import limits.
        verify_data: also decompress and check every entry.
        digest: the file's :func:`package_digest`, when the caller already took it (the file
            is then not read a second time for its checksum).

    Returns:
        An :class:`ImportedPackage` with ``content_dir=None`` (``total_size`` is the declared
        size unless ``verify_data``).

    Raises:
        PackageError: the package is refused (see ``code``).
    """
    path = source_path(source)
    known = digest_of(path, limits, digest)
    sha256, package_size = known.sha256, known.size
    if not zipfile.is_zipfile(path):
        if _looks_like_xml(path):
            validated = _standalone_cmi5(path, limits)
            return _result(
                validated,
                sha256=sha256,
                package_size=package_size,
                total_size=package_size,
                content_dir=None,
                source_kind="xml",
            )
        _open_zip(path).close()  # raises NotAZip with the zipfile reason
    budget = Budget(limits)
    with _open_zip(path) as zf, path.open("rb") as raw:
        validated = _validate_zip(zf, raw, limits, budget)
        total = sum(info.file_size for info in validated.infos)
        if verify_data:
            for info in validated.infos:
                if not info.is_dir():
                    for _ in iter_entry(raw, zf, info, limits, budget):
                        pass
            total = budget.total
    return _result(
        validated, sha256=sha256, package_size=package_size, total_size=total, content_dir=None
    )


def extract_package(
    source: str | os.PathLike[str],
    dest_root: str | os.PathLike[str],
    limits: ImportLimits = DEFAULT_LIMITS,
    *,
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    durable: bool = False,
    digest: PackageDigest | None = None,
) -> ImportedPackage:
    """Validate, parse and extract a course package into ``dest_root/<name>``.

    The folder name defaults to the package's SHA-256, so importing the same bytes twice is
    idempotent (the existing folder is reused). Extraction happens in a temporary folder inside
    ``dest_root`` and is renamed into place atomically; on any refusal or error nothing is left
    in ``dest_root``.

    Args:
        source: path to a zip package, or a standalone cmi5.xml (copied as ``cmi5.xml``).
        dest_root: the content root (must exist; same file system as the final folder).
        limits: import limits.
        name: folder name to use instead of the SHA-256 (must not exist yet).
        progress: called as ``progress(bytes_written, bytes_expected)`` after every chunk
            (for CLI progress bars); ``bytes_expected`` is the declared uncompressed total.
        durable: ``fsync`` every file and folder before the final rename, and the content
            root after it, so a power loss cannot leave a catalogue row pointing at
            half-written files (slower: the import then runs at true disk speed).
        digest: the file's :func:`package_digest`, when the caller already took it (the
            package is then read once more only to extract it, not to hash it again).

    Returns:
        The :class:`ImportedPackage`, ``content_dir`` set.

    Raises:
        PackageError: the package is refused (see ``code``); ``DestinationError`` when the
            destination cannot be written.
    """
    try:
        return _extract_package(
            source, dest_root, limits, name=name, progress=progress, durable=durable, digest=digest
        )
    except PackageError as exc:
        logger.warning(
            "package refused",
            extra={"action": "package_import", "code": exc.code, "file": exc.file},
        )
        raise


def _extract_package(
    source: str | os.PathLike[str],
    dest_root: str | os.PathLike[str],
    limits: ImportLimits,
    *,
    name: str | None,
    progress: Callable[[int, int], None] | None,
    durable: bool,
    digest: PackageDigest | None,
) -> ImportedPackage:
    path = source_path(source)
    root = Path(dest_root)
    if not root.is_dir():
        raise DestinationError(
            key="content_folder_does_exist", params={"root": root}, rule="dest_root exists"
        )
    known = digest_of(path, limits, digest)
    final = root / final_name(name, known.sha256)
    if name is not None and final.exists():
        raise DestinationError(
            key="content_folder_already_exists", params={"final": final}, rule="destination is new"
        )
    if not zipfile.is_zipfile(path):
        return _extract_standalone(path, root, final, limits, known, durable=durable)
    return _extract_zip(
        path, root, final, limits, known, reuse=name is None, progress=progress, durable=durable
    )


def _extract_standalone(
    path: Path, root: Path, final: Path, limits: ImportLimits, known: PackageDigest, *, durable: bool
) -> ImportedPackage:
    """A standalone cmi5.xml: validated, then copied in as the course's ``cmi5.xml``."""
    if not _looks_like_xml(path):
        _open_zip(path).close()  # raises NotAZip
    validated = _standalone_cmi5(path, limits)

    def writer(tmp: Path, budget: Budget) -> None:
        shutil.copyfile(path, tmp / cmi5_mod.MANIFEST_FILE)
        budget.add(known.size, cmi5_mod.MANIFEST_FILE)

    total = extract_atomically(root, final, writer, limits, durable=durable)
    return _result(
        validated,
        sha256=known.sha256,
        package_size=known.size,
        total_size=total,
        content_dir=final,
        source_kind="xml",
    )


def _extract_zip(
    path: Path,
    root: Path,
    final: Path,
    limits: ImportLimits,
    known: PackageDigest,
    *,
    reuse: bool,
    progress: Callable[[int, int], None] | None,
    durable: bool,
) -> ImportedPackage:
    """A zip: validated, then every entry streamed into a temporary folder renamed into place."""
    with _open_zip(path) as zf, path.open("rb") as raw:
        validated = _validate_zip(zf, raw, limits, Budget(limits))
        declared_total = sum(info.file_size for info in validated.infos)
        if reuse and final.is_dir():
            # Content-addressed: these exact bytes were fully verified and extracted before.
            logger.info(
                "package already imported; reusing its folder",
                extra={"action": "package_import", "sha256": known.sha256},
            )
            return _result(
                validated,
                sha256=known.sha256,
                package_size=known.size,
                total_size=declared_total,
                content_dir=final,
            )

        def writer(tmp: Path, budget: Budget) -> None:
            for info in validated.infos:
                target = target_path(tmp, info.filename)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("xb") as out:
                    for piece in iter_entry(raw, zf, info, limits, budget):
                        out.write(piece)
                        if progress is not None:
                            progress(budget.total, declared_total)

        total = extract_atomically(root, final, writer, limits, durable=durable)
    result = _result(
        validated,
        sha256=known.sha256,
        package_size=known.size,
        total_size=total,
        content_dir=final,
    )
    logger.info(
        "package imported",
        extra={
            "action": "package_import",
            "standard": result.standard.value,
            "sha256": known.sha256,
            "files": result.file_count,
            "bytes": total,
        },
    )
    return result
