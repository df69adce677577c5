"""Central-directory checks of a zip package, before a byte is written (import step 2).

Entry count, names (zip slip, absolute paths, drive letters, backslashes, NUL), symlinks and
special files, encryption, compression method, duplicates (also ignoring case), declared sizes,
ratios and overlapping entries. Each check raises its own :mod:`scorm.packaging.errors` code.
"""

from __future__ import annotations

import re
import stat
import unicodedata
import zipfile
from collections.abc import Callable, Sequence

from scorm.packaging.errors import (
    DuplicateEntry,
    EmptyZip,
    EncryptedEntry,
    Findings,
    PackageTooLarge,
    SpecialFileEntry,
    SymlinkEntry,
    TooManyEntries,
    UnsupportedCompression,
    ZipBomb,
    ZipSlip,
)
from scorm.packaging.model import (
    ImportLimits,
)
from scorm.packaging.zipstream import LOCAL_HEADER

_SUPPORTED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_MAX_NAME_BYTES = 255  # NAME_MAX on Linux file systems


# --- step 2: central directory checks -------------------------------------------------------


def check_entry_count(infos: Sequence[zipfile.ZipInfo], limits: ImportLimits) -> None:
    """Refuse empty archives and archives with more entries than ``limits.max_entries``."""
    if len(infos) > limits.max_entries:
        raise TooManyEntries(
            key="package_entries_limit", params={"count": f"{len(infos):,}", "max_entries": f"{limits.max_entries:,}"},
            rule="limits.max_entries",
        )
    if not any(not info.is_dir() for info in infos):
        raise EmptyZip(
            key="zip_archive_contains_files_check",
            rule="a package has content",
        )


def check_entry_name(info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    """Refuse names that could write outside the content folder (zip slip)."""
    name = info.orig_filename
    problem = None
    limit: dict[str, int] = {}
    if "\x00" in name or any(ord(ch) < 0x20 for ch in name):
        problem = "zip_slip_control_characters"
    elif name.startswith(("/", "\\")):
        problem = "zip_slip_absolute_path"
    elif _DRIVE_RE.match(name):
        problem = "zip_slip_drive_letter"
    elif "\\" in name:
        problem = "zip_slip_backslashes"
    elif any(part == ".." for part in name.split("/")):
        problem = "zip_slip_parent_component"
    elif any(part in ("", ".") for part in name.rstrip("/").split("/")):
        problem = "zip_slip_empty_component"
    elif len(name) > limits.max_path_length:
        problem = "zip_slip_path_too_long"
        limit = {"limit": limits.max_path_length}
    elif any(len(part.encode("utf-8")) > _MAX_NAME_BYTES for part in name.split("/")):
        problem = "zip_slip_name_too_long"
        limit = {"limit": _MAX_NAME_BYTES}
    elif name in ("", "/") or name.strip("/") in (".", ""):
        problem = "zip_slip_empty_name"
    if problem:
        raise ZipSlip(
            key=problem,
            params={"name": name, **limit},
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
            key="package_entry_symbolic_link_links", params={"filename": info.filename},
            file=info.filename,
            rule="no symlinks in packages",
        )
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise SpecialFileEntry(
            key="package_entry_device_pipe_socket", params={"filename": info.filename},
            file=info.filename,
            rule="only regular files and folders in packages",
        )


def check_entry_encoding(info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    """Refuse encrypted entries and compression methods we do not stream."""
    if info.flag_bits & 0x1:
        raise EncryptedEntry(
            key="package_entry_password_protected_export", params={"filename": info.filename},
            file=info.filename,
            rule="no encrypted entries",
        )
    if info.compress_type not in _SUPPORTED_METHODS:
        raise UnsupportedCompression(
            key="package_entry_uses_compression_method",
            params={"filename": info.filename, "compress_type": info.compress_type},
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
            key="package_entry_would_expand_from",
            params={
                "filename": info.filename,
                "compress_size": f"{info.compress_size:,}",
                "file_size": f"{info.file_size:,}",
                "max_entry_ratio": f"{limits.max_entry_ratio:g}",
            },
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
                key="package_contains_which_same_file", params={"seen": seen[key], "name": name},
                file=name,
                rule="unique entry names (case-insensitive)",
            )
        seen[key] = name
    for key, name in seen.items():
        if key in folders:
            raise DuplicateEntry(
                key="package_uses_both_file_folder", params={"name": name, "folders": folders[key]},
                file=name,
                rule="unique entry names (case-insensitive)",
            )


def check_declared_total(infos: Sequence[zipfile.ZipInfo], limits: ImportLimits) -> None:
    """Refuse when the declared uncompressed total is over ``limits.max_total_bytes``."""
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise PackageTooLarge(
            key="package_unpacks_bytes_limit_split",
            params={"total": f"{total:,}", "max_total_bytes": f"{limits.max_total_bytes:,}"},
            rule="limits.max_total_bytes",
        )


def check_overlaps(infos: Sequence[zipfile.ZipInfo], directory_offset: int) -> None:
    """Refuse entries whose data overlap another entry (the "overlapping files" zip bomb).

    Each entry's local header plus compressed data must end before the next entry starts,
    and the last one before the central directory.
    """
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for current, following in zip(ordered, [*ordered[1:], None], strict=True):
        end = current.header_offset + LOCAL_HEADER.size + current.compress_size
        limit = directory_offset if following is None else following.header_offset
        if end > limit:
            raise ZipBomb(
                key="package_entry_overlaps_another_entry", params={"filename": current.filename},
                file=current.filename,
                rule="entries must not overlap",
            )


def check_central_directory(
    zf: zipfile.ZipFile, limits: ImportLimits
) -> tuple[zipfile.ZipInfo, ...]:
    """Run every central-directory check; return the entries in archive order.

    Every entry goes through every check, so one refusal lists all the bad entries.

    Raises:
        PackageError: the first failing check's error; its ``problems`` hold every one.
    """
    findings = Findings()
    infos = tuple(zf.infolist())
    check_entry_count(infos, limits)  # before looping over a hostile number of entries
    for info in infos:
        for check in ENTRY_CHECKS:
            with findings.collecting():
                check(info, limits)
    for whole_archive_check in (
        lambda: check_duplicates(infos),
        lambda: check_declared_total(infos, limits),
        lambda: check_overlaps(infos, zf.start_dir),
    ):
        with findings.collecting():
            whole_archive_check()
    findings.raise_if_refused()
    return infos
