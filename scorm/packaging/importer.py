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
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from scorm.packaging import cmi5 as cmi5_mod
from scorm.packaging import scorm_manifest, tincan
from scorm.packaging.cmi5 import Cmi5Course, parse_cmi5
from scorm.packaging.errors import (
    CorruptEntry,
    DestinationError,
    DuplicateEntry,
    EmptyZip,
    EncryptedEntry,
    InvalidManifest,
    ManifestMissing,
    ManifestTooLarge,
    MissingFile,
    NotAZip,
    PackageError,
    PackageTooLarge,
    SourceMissing,
    SpecialFileEntry,
    SymlinkEntry,
    TooManyEntries,
    UnsupportedCompression,
    ZipBomb,
    ZipSlip,
)
from scorm.packaging.model import (
    DEFAULT_LIMITS,
    ImportLimits,
    Launchable,
    LaunchKind,
    Standard,
    pick_lang,
)
from scorm.packaging.scorm_manifest import ScormManifest, parse_scorm_manifest
from scorm.packaging.tincan import TinCanManifest, parse_tincan
from scorm.packaging.xmlsafe import local_name, parse_xml

logger = logging.getLogger(__name__)

PackageStructure = ScormManifest | TinCanManifest | Cmi5Course

# Manifest precedence when a zip carries several (a cmi5 course often ships a tincan.xml too,
# and some SCORM exports add one): the most specific standard wins.
MANIFEST_PRECEDENCE: tuple[tuple[str, Standard], ...] = (
    (cmi5_mod.MANIFEST_FILE, Standard.CMI5),
    (scorm_manifest.MANIFEST_FILE, Standard.SCORM2004),  # 1.2 vs 2004 decided by the parser
    (tincan.MANIFEST_FILE, Standard.XAPI),
)

_SUPPORTED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_LOCAL_MAGIC = b"PK\x03\x04"
_MAX_NAME_BYTES = 255  # NAME_MAX on Linux file systems
_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


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
        }


# --- step 1: open -------------------------------------------------------------------------------


def _sha256_file(path: Path, chunk: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            size += len(block)
            digest.update(block)
    return digest.hexdigest(), size


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
            f'"{path.name}" is not a readable zip archive ({exc}). Export the course again as '
            "a SCORM, xAPI or cmi5 zip package.",
            file=path.name,
            rule="PKWARE APPNOTE zip format (cmi5 14.1)",
        ) from exc


# --- step 2: central directory checks -------------------------------------------------------


def check_entry_count(infos: Sequence[zipfile.ZipInfo], limits: ImportLimits) -> None:
    """Refuse empty archives and archives with more entries than ``limits.max_entries``."""
    if len(infos) > limits.max_entries:
        raise TooManyEntries(
            f"the package has {len(infos):,} entries; the limit is {limits.max_entries:,}.",
            rule="limits.max_entries",
        )
    if not any(not info.is_dir() for info in infos):
        raise EmptyZip(
            "the zip archive contains no files. Check that the course was exported fully.",
            rule="a package has content",
        )


def check_entry_name(info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    """Refuse names that could write outside the content folder (zip slip)."""
    name = info.orig_filename
    problem = None
    if "\x00" in name or any(ord(ch) < 0x20 for ch in name):
        problem = "contains control characters"
    elif name.startswith(("/", "\\")):
        problem = "is an absolute path"
    elif _DRIVE_RE.match(name):
        problem = "starts with a Windows drive letter"
    elif "\\" in name:
        problem = "uses backslashes (Windows paths are not allowed; use forward slashes)"
    elif any(part == ".." for part in name.split("/")):
        problem = 'contains a ".." component that climbs out of the course folder'
    elif any(part in ("", ".") for part in name.rstrip("/").split("/")):
        problem = 'has an empty or "." path component (an unusual path that can hide duplicates)'
    elif len(name) > limits.max_path_length:
        problem = f"is longer than {limits.max_path_length} characters"
    elif any(len(part.encode("utf-8")) > _MAX_NAME_BYTES for part in name.split("/")):
        problem = f"has a file or folder name longer than {_MAX_NAME_BYTES} bytes"
    elif name in ("", "/") or name.strip("/") in (".", ""):
        problem = "is empty"
    if problem:
        raise ZipSlip(
            f'the package entry "{name}" {problem}. Such entries can overwrite files on the '
            "server, so the package was refused. Re-create the zip from the course folder.",
            file=name,
            rule="zip slip protection",
        )


def check_entry_type(info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    """Refuse symlinks, devices, FIFOs and sockets (Unix mode in ``external_attr``)."""
    mode = info.external_attr >> 16
    if not mode:
        return
    if stat.S_ISLNK(mode):
        raise SymlinkEntry(
            f'the package entry "{info.filename}" is a symbolic link. Links can expose server '
            "files; replace the link with the real file and zip again.",
            file=info.filename,
            rule="no symlinks in packages",
        )
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise SpecialFileEntry(
            f'the package entry "{info.filename}" is a device, pipe or socket, not a file.',
            file=info.filename,
            rule="only regular files and folders in packages",
        )


def check_entry_encoding(info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    """Refuse encrypted entries and compression methods we do not stream."""
    if info.flag_bits & 0x1:
        raise EncryptedEntry(
            f'the package entry "{info.filename}" is password-protected. Export the course '
            "without a password.",
            file=info.filename,
            rule="no encrypted entries",
        )
    if info.compress_type not in _SUPPORTED_METHODS:
        raise UnsupportedCompression(
            f'the package entry "{info.filename}" uses compression method '
            f"{info.compress_type}; re-create the zip with standard (deflate) compression.",
            file=info.filename,
            rule="zip methods: stored, deflate, bzip2, lzma",
        )


def check_entry_declared_size(info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    """Refuse an entry whose *declared* ratio is over the cap (actual bytes re-checked later)."""
    if info.is_dir():
        return
    if info.file_size > limits.ratio_min_bytes and info.file_size > limits.max_entry_ratio * max(
        info.compress_size, 1
    ):
        raise ZipBomb(
            f'the package entry "{info.filename}" would expand from {info.compress_size:,} to '
            f"{info.file_size:,} bytes (more than {limits.max_entry_ratio:g} times). This is "
            'how "zip bombs" work, so the package was refused.',
            file=info.filename,
            rule="limits.max_entry_ratio",
        )


ENTRY_CHECKS: tuple[Callable[[zipfile.ZipInfo, ImportLimits], None], ...] = (
    check_entry_name,
    check_entry_type,
    check_entry_encoding,
    check_entry_declared_size,
)
"""Per-entry checks run on the central directory, in this order."""


def check_duplicates(infos: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse two entries with the same path, also when they differ only in case.

    Names are compared after Unicode NFC normalisation and case folding (macOS and Windows
    file systems would merge them).

    A file whose path is also used as a folder (``a`` and ``a/b``) is refused too.
    """
    seen: dict[str, str] = {}
    folders: dict[str, str] = {}
    for info in infos:
        name = info.filename
        key = unicodedata.normalize("NFC", name.rstrip("/")).casefold()
        parts = key.split("/")
        for depth in range(1, len(parts)):
            folders.setdefault("/".join(parts[:depth]), name)
        if info.is_dir():
            folders.setdefault(key, name)
            continue
        if key in seen:
            raise DuplicateEntry(
                f'the package contains "{seen[key]}" and "{name}", which are the same file '
                "name (ignoring case). Remove one of them and zip again.",
                file=name,
                rule="unique entry names (case-insensitive)",
            )
        seen[key] = name
    for key, name in seen.items():
        if key in folders:
            raise DuplicateEntry(
                f'the package uses "{name}" both as a file and as a folder ({folders[key]}).',
                file=name,
                rule="unique entry names (case-insensitive)",
            )


def check_declared_total(infos: Sequence[zipfile.ZipInfo], limits: ImportLimits) -> None:
    """Refuse when the declared uncompressed total is over ``limits.max_total_bytes``."""
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise PackageTooLarge(
            f"the package unpacks to {total:,} bytes; the limit is {limits.max_total_bytes:,}. "
            "Split the course or compress its videos.",
            rule="limits.max_total_bytes",
        )


def check_overlaps(infos: Sequence[zipfile.ZipInfo], directory_offset: int) -> None:
    """Refuse entries whose data overlap another entry (the "overlapping files" zip bomb).

    Each entry's local header plus compressed data must end before the next entry starts,
    and the last one before the central directory.
    """
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for current, following in zip(ordered, [*ordered[1:], None], strict=True):
        end = current.header_offset + _LOCAL_HEADER.size + current.compress_size
        limit = directory_offset if following is None else following.header_offset
        if end > limit:
            raise ZipBomb(
                f'the package entry "{current.filename}" overlaps another entry\'s data. '
                "Overlapping entries are a zip-bomb technique; the package was refused.",
                file=current.filename,
                rule="entries must not overlap",
            )


def check_central_directory(
    zf: zipfile.ZipFile, limits: ImportLimits
) -> tuple[zipfile.ZipInfo, ...]:
    """Run every central-directory check; return the entries in archive order.

    Raises:
        PackageError: the first failing check's error.
    """
    infos = tuple(zf.infolist())
    check_entry_count(infos, limits)
    for info in infos:
        for check in ENTRY_CHECKS:
            check(info, limits)
    check_duplicates(infos)
    check_declared_total(infos, limits)
    check_overlaps(infos, zf.start_dir)
    return infos


# --- streaming reader -------------------------------------------------------------------------


class _Budget:
    """Counts actual bytes produced across the whole package."""

    def __init__(self, limits: ImportLimits) -> None:
        self.limits = limits
        self.total = 0

    def add(self, n: int, name: str) -> None:
        self.total += n
        if self.total > self.limits.max_total_bytes:
            raise PackageTooLarge(
                f"the package unpacks to more than {self.limits.max_total_bytes:,} bytes "
                "(measured while extracting). Split the course or compress its videos.",
                file=name,
                rule="limits.max_total_bytes",
            )


def _data_offset(raw: BinaryIO, info: zipfile.ZipInfo) -> int:
    raw.seek(info.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_MAGIC:
        raise CorruptEntry(
            f'the package entry "{info.filename}" has a damaged local header; export again.',
            file=info.filename,
            rule="PKWARE APPNOTE 4.3.7 local file header",
        )
    fields = _LOCAL_HEADER.unpack(header)
    name_len, extra_len = fields[-2], fields[-1]
    local_name = raw.read(name_len)
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if local_name != info.orig_filename.encode(encoding, errors="replace"):
        raise CorruptEntry(
            f'the local header of "{info.filename}" names a different file; the zip is '
            "damaged or crafted. Export the course again.",
            file=info.filename,
            rule="PKWARE APPNOTE: local and central names match",
        )
    return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len


def iter_entry(
    raw: BinaryIO,
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: ImportLimits,
    budget: _Budget,
    *,
    max_bytes: int | None = None,
) -> Iterator[bytes]:
    """Yield an entry's uncompressed bytes in chunks, enforcing limits on the actual bytes.

    Stored and deflate entries are decoded here from the raw archive (so a header that lies
    about the uncompressed size is caught as soon as the output passes it); bzip2/lzma go
    through :mod:`zipfile`, which stops at the declared size and checks the CRC.

    Args:
        raw: the package opened in binary mode (its own handle; seeks are ours).
        zf: the open archive (for the bzip2/lzma fallback).
        info: the entry.
        limits: the caps.
        budget: running total across the package.
        max_bytes: an extra cap for this entry (the manifest cap).

    Yields:
        Chunks of at most ``limits.chunk_bytes`` bytes.

    Raises:
        ZipBomb, PackageTooLarge, ManifestTooLarge, CorruptEntry.
    """
    chunk = limits.chunk_bytes
    produced = 0
    crc = 0
    ratio_cap = limits.max_entry_ratio * max(info.compress_size, 1)

    def account(piece: bytes) -> bytes:
        nonlocal produced, crc
        produced += len(piece)
        if max_bytes is not None and produced > max_bytes:
            raise ManifestTooLarge(
                f"{info.filename} is larger than the manifest limit of {max_bytes:,} bytes.",
                file=info.filename,
                rule="limits.max_manifest_bytes",
            )
        if produced > info.file_size:
            raise ZipBomb(
                f'the package entry "{info.filename}" declares {info.file_size:,} bytes but '
                "expands to more: its size header lies, which is a zip-bomb technique.",
                file=info.filename,
                rule="actual size must match the declared size",
            )
        if produced > limits.ratio_min_bytes and produced > ratio_cap:
            raise ZipBomb(
                f'the package entry "{info.filename}" expands more than '
                f"{limits.max_entry_ratio:g} times its compressed size; refused as a zip bomb.",
                file=info.filename,
                rule="limits.max_entry_ratio",
            )
        budget.add(len(piece), info.filename)
        crc = zlib.crc32(piece, crc)
        return piece

    if info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raw.seek(_data_offset(raw, info))
        remaining = info.compress_size
        decomp = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        try:
            while remaining > 0:
                block = raw.read(min(remaining, chunk))
                if not block:
                    raise CorruptEntry(
                        f'the package entry "{info.filename}" is truncated; export again.',
                        file=info.filename,
                        rule="PKWARE APPNOTE compressed size",
                    )
                remaining -= len(block)
                if decomp is None:
                    yield account(block)
                    continue
                data = decomp.decompress(block, chunk)
                while True:
                    if data:
                        yield account(data)
                    if not decomp.unconsumed_tail and len(data) < chunk:
                        break
                    data = decomp.decompress(decomp.unconsumed_tail, chunk)
                    if not data and not decomp.unconsumed_tail:
                        break
            if decomp is not None:
                tail = decomp.flush()
                if tail:
                    yield account(tail)
                if not decomp.eof and info.compress_size > 0:
                    raise CorruptEntry(
                        f'the compressed data of "{info.filename}" ends early; export again.',
                        file=info.filename,
                        rule="deflate stream complete",
                    )
        except zlib.error as exc:
            raise CorruptEntry(
                f'the package entry "{info.filename}" is damaged ({exc}); export again.',
                file=info.filename,
                rule="deflate stream valid",
            ) from exc
    else:
        try:
            with zf.open(info) as fh:
                while True:
                    block = fh.read(chunk)
                    if not block:
                        break
                    yield account(block)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise CorruptEntry(
                f'the package entry "{info.filename}" is damaged ({exc}); export again.',
                file=info.filename,
                rule="CRC-32 and length match",
            ) from exc
        return
    if produced != info.file_size or (crc & 0xFFFFFFFF) != info.CRC:
        raise CorruptEntry(
            f'the package entry "{info.filename}" does not match its checksum or size; the '
            "zip is damaged. Export the course again.",
            file=info.filename,
            rule="CRC-32 and length match",
        )


# --- step 3: manifest ------------------------------------------------------------------------


def _find_manifest(infos: Sequence[zipfile.ZipInfo]) -> tuple[zipfile.ZipInfo, Standard]:
    at_root = {info.filename.casefold(): info for info in infos if "/" not in info.filename}
    for name, standard in MANIFEST_PRECEDENCE:
        if name in at_root:
            # SPEC COMPLIANCE NOTE: the file names are lower case in every spec; we also accept
            # other casings (e.g. IMSManifest.xml from old Windows tools). Strict: exact name.
            return at_root[name], standard
    nested = sorted(
        info.filename
        for info in infos
        if info.filename.rsplit("/", 1)[-1].casefold() in {n for n, _ in MANIFEST_PRECEDENCE}
    )
    hint = ""
    if nested:
        hint = (
            f' A manifest was found at "{nested[0]}": zip the *contents* of that folder, so '
            "that the manifest sits at the top level of the zip."
        )
    raise ManifestMissing(
        "the package has no imsmanifest.xml (SCORM), cmi5.xml (cmi5) or tincan.xml (xAPI) at "
        f"its top level.{hint}",
        rule="CAM 2.1 / cmi5 14.1: manifest at the package root",
    )


def parse_manifest_bytes(
    data: bytes, *, file: str, limits: ImportLimits, in_package: bool = True
) -> PackageStructure:
    """Parse manifest bytes (any supported format, told apart by the root element).

    Args:
        data: the file's bytes.
        file: its name, for error reports.
        limits: import limits (``max_manifest_bytes``).
        in_package: ``False`` for a standalone cmi5.xml.

    Returns:
        The typed structure.

    Raises:
        PackageError: parsing or validation failed.
    """
    root = parse_xml(data, file=file, max_bytes=limits.max_manifest_bytes)
    return _parse_root(root, file=file, in_package=in_package)


def _parse_root(root: etree._Element, *, file: str, in_package: bool) -> PackageStructure:
    name = local_name(root)
    if name == "manifest":
        return parse_scorm_manifest(root, file=file)
    if name == "courseStructure":
        return parse_cmi5(root, file=file, in_package=in_package)
    if name == "tincan":
        return parse_tincan(root, file=file)
    raise InvalidManifest(
        f"{file} has the root element <{name}>, which is not a SCORM manifest, a cmi5 course "
        "structure or a tincan.xml.",
        file=file,
        element="/",
        rule="manifest root element",
    )


# --- step 4: referenced files ------------------------------------------------------------------


def check_required_files(
    structure: PackageStructure, infos: Sequence[zipfile.ZipInfo], limits: ImportLimits, file: str
) -> None:
    """Refuse when the manifest points at a file that is not in the zip."""
    if isinstance(structure, ScormManifest):
        needed = structure.required_files(include_listed=limits.require_listed_files)
    else:
        needed = structure.required_files()
    names = {info.filename for info in infos if not info.is_dir()}
    folded = {name.casefold(): name for name in names}
    for path, where in needed:
        if path in names:
            continue
        near = folded.get(path.casefold())
        hint = (
            f' The zip has "{near}", which differs only in upper/lower case; web servers treat '
            "these as different files."
            if near
            else ""
        )
        raise MissingFile(
            f'the manifest refers to "{path}", but the package does not contain that file.'
            f"{hint} Add the file or fix the reference, then export again.",
            file=file,
            element=where,
            rule="every file the manifest references is in the package",
        )


# --- summary -----------------------------------------------------------------------------------


def _summary(
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


# --- public entry points ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Validated:
    structure: PackageStructure
    manifest_file: str
    infos: tuple[zipfile.ZipInfo, ...]


def _validate_zip(
    zf: zipfile.ZipFile, raw: BinaryIO, limits: ImportLimits, budget: _Budget
) -> _Validated:
    infos = check_central_directory(zf, limits)
    manifest_info, _ = _find_manifest(infos)
    if manifest_info.file_size > limits.max_manifest_bytes:
        raise ManifestTooLarge(
            f"{manifest_info.filename} is {manifest_info.file_size:,} bytes; the limit is "
            f"{limits.max_manifest_bytes:,} bytes.",
            file=manifest_info.filename,
            rule="limits.max_manifest_bytes",
        )
    manifest_budget = _Budget(limits)
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
    structure = parse_manifest_bytes(data, file=manifest_info.filename, limits=limits)
    check_required_files(structure, infos, limits, manifest_info.filename)
    return _Validated(structure=structure, manifest_file=manifest_info.filename, infos=infos)


def _result(
    validated: _Validated,
    *,
    sha256: str,
    package_size: int,
    total_size: int,
    content_dir: Path | None,
    source_kind: str = "zip",
) -> ImportedPackage:
    title, description, language, sco_count, launchables = _summary(validated.structure)
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
    )


def _source_path(source: str | os.PathLike[str]) -> Path:
    path = Path(source)
    if not path.is_file():
        raise SourceMissing(
            f'the package file "{path}" does not exist or is not a regular file.',
            file=path.name,
            rule="source is a readable file",
        )
    return path


def _standalone_cmi5(path: Path, limits: ImportLimits) -> _Validated:
    if path.stat().st_size > limits.max_manifest_bytes:
        raise ManifestTooLarge(
            f"{path.name} is {path.stat().st_size:,} bytes; the limit is "
            f"{limits.max_manifest_bytes:,} bytes.",
            file=path.name,
            rule="limits.max_manifest_bytes",
        )
    data = path.read_bytes()
    root = parse_xml(data, file=path.name, max_bytes=limits.max_manifest_bytes)
    if local_name(root) != "courseStructure":
        raise NotAZip(
            f'"{path.name}" is an XML file but not a cmi5 course structure; only cmi5.xml may be '
            "imported without a zip. Import the course's zip package instead.",
            file=path.name,
            rule="cmi5 14.2: course structure XML without a zip",
        )
    structure = parse_cmi5(root, file=path.name, in_package=False)
    info = zipfile.ZipInfo(cmi5_mod.MANIFEST_FILE)
    info.file_size = len(data)
    return _Validated(structure=structure, manifest_file=cmi5_mod.MANIFEST_FILE, infos=(info,))


def inspect_package(
    source: str | os.PathLike[str],
    limits: ImportLimits = DEFAULT_LIMITS,
    *,
    verify_data: bool = False,
) -> ImportedPackage:
    """Validate and parse a package without writing anything.

    All central-directory checks, the manifest parse and the referenced-files check run. With
    ``verify_data`` every entry is also streamed through the decompressor (actual sizes, ratio,
    CRC), exactly as :func:`extract_package` would, but the bytes are discarded.

    Args:
        source: path to a zip package or a standalone cmi5.xml.
        limits: import limits.
        verify_data: also decompress and check every entry.

    Returns:
        An :class:`ImportedPackage` with ``content_dir=None`` (``total_size`` is the declared
        size unless ``verify_data``).

    Raises:
        PackageError: the package is refused (see ``code``).
    """
    path = _source_path(source)
    sha256, package_size = _sha256_file(path, limits.chunk_bytes)
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
    budget = _Budget(limits)
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


def _target(tmp: Path, name: str) -> Path:
    target = tmp.joinpath(*[part for part in name.split("/") if part])
    # Defence in depth: names were already checked by check_entry_name.
    if os.path.commonpath([tmp, target]) != str(tmp):
        raise ZipSlip(f'the entry "{name}" resolves outside the course folder.', file=name)
    return target


def _final_name(name: str | None, sha256: str) -> str:
    if name is None:
        return sha256
    if not _SAFE_NAME_RE.match(name):
        raise DestinationError(
            f'"{name}" is not a safe folder name (letters, digits, ".", "_", "-"; max 128).',
            rule="content folder name",
        )
    return name


def extract_package(
    source: str | os.PathLike[str],
    dest_root: str | os.PathLike[str],
    limits: ImportLimits = DEFAULT_LIMITS,
    *,
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    durable: bool = False,
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

    Returns:
        The :class:`ImportedPackage`, ``content_dir`` set.

    Raises:
        PackageError: the package is refused (see ``code``); ``DestinationError`` when the
            destination cannot be written.
    """
    try:
        return _extract_package(
            source, dest_root, limits, name=name, progress=progress, durable=durable
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
) -> ImportedPackage:
    path = _source_path(source)
    root = Path(dest_root)
    if not root.is_dir():
        raise DestinationError(
            f'the content folder "{root}" does not exist.', rule="dest_root exists"
        )
    sha256, package_size = _sha256_file(path, limits.chunk_bytes)
    final = root / _final_name(name, sha256)
    if name is not None and final.exists():
        raise DestinationError(
            f'the content folder "{final}" already exists.', rule="destination is new"
        )

    if not zipfile.is_zipfile(path):
        if not _looks_like_xml(path):
            _open_zip(path).close()  # raises NotAZip
        validated = _standalone_cmi5(path, limits)

        def writer(tmp: Path, budget: _Budget) -> None:
            shutil.copyfile(path, tmp / cmi5_mod.MANIFEST_FILE)
            budget.add(package_size, cmi5_mod.MANIFEST_FILE)

        total = _extract_atomically(root, final, writer, limits, durable=durable)
        return _result(
            validated,
            sha256=sha256,
            package_size=package_size,
            total_size=total,
            content_dir=final,
            source_kind="xml",
        )

    with _open_zip(path) as zf, path.open("rb") as raw:
        validated = _validate_zip(zf, raw, limits, _Budget(limits))
        if name is None and final.is_dir():
            # Content-addressed: these exact bytes were fully verified and extracted before.
            logger.info(
                "package already imported; reusing its folder",
                extra={"action": "package_import", "sha256": sha256},
            )
            return _result(
                validated,
                sha256=sha256,
                package_size=package_size,
                total_size=sum(info.file_size for info in validated.infos),
                content_dir=final,
            )

        declared_total = sum(info.file_size for info in validated.infos)

        def writer(tmp: Path, budget: _Budget) -> None:
            for info in validated.infos:
                target = _target(tmp, info.filename)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("xb") as out:
                    for piece in iter_entry(raw, zf, info, limits, budget):
                        out.write(piece)
                        if progress is not None:
                            progress(budget.total, declared_total)

        total = _extract_atomically(root, final, writer, limits, durable=durable)
    result = _result(
        validated,
        sha256=sha256,
        package_size=package_size,
        total_size=total,
        content_dir=final,
    )
    logger.info(
        "package imported",
        extra={
            "action": "package_import",
            "standard": result.standard.value,
            "sha256": sha256,
            "files": result.file_count,
            "bytes": total,
        },
    )
    return result


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(top: Path) -> None:
    """fsync every file, then every folder (deepest first), under ``top``."""
    folders: list[Path] = []
    for dirpath, _dirnames, filenames in os.walk(top):
        folders.append(Path(dirpath))
        for filename in filenames:
            _fsync_path(Path(dirpath) / filename)
    for folder in reversed(folders):
        _fsync_path(folder)


def _extract_atomically(
    root: Path,
    final: Path,
    writer: Callable[[Path, _Budget], None],
    limits: ImportLimits,
    *,
    durable: bool = False,
) -> int:
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
    except OSError as exc:
        raise DestinationError(
            f'cannot create a temporary folder in "{root}": {exc.strerror}.',
            rule="dest_root writable",
        ) from exc
    budget = _Budget(limits)
    try:
        writer(tmp, budget)
        tmp.chmod(0o755)
        if durable:
            _fsync_tree(tmp)
        try:
            os.rename(tmp, final)
            if durable:
                _fsync_path(root)
        except OSError:
            if not final.is_dir():
                raise
            # Same bytes imported before (content-addressed name): keep the existing copy.
            shutil.rmtree(tmp, ignore_errors=True)
            logger.info(
                "package already present; reusing its folder",
                extra={"action": "package_import", "dir": str(final)},
            )
    except PackageError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DestinationError(
            f"writing the course files failed: {exc.strerror or exc}.",
            rule="dest_root writable",
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return budget.total
