"""Streaming reader of zip entries (import step 5): fixed-size chunks, limits on actual bytes.

Memory use is bounded by ``ImportLimits.chunk_bytes`` whatever the size of the package.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from scorm.packaging.errors import (
    CorruptEntry,
    ManifestTooLarge,
    PackageTooLarge,
    ZipBomb,
)
from scorm.packaging.model import (
    ImportLimits,
)

LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_LOCAL_MAGIC = b"PK\x03\x04"


# --- streaming reader -------------------------------------------------------------------------


class Budget:
    """Counts actual bytes produced across the whole package."""

    def __init__(self, limits: ImportLimits) -> None:
        self.limits = limits
        self.total = 0

    def add(self, n: int, name: str) -> None:
        self.total += n
        if self.total > self.limits.max_total_bytes:
            raise PackageTooLarge(
                key="package_unpacks_more_than_bytes", params={"max_total_bytes": f"{self.limits.max_total_bytes:,}"},
                file=name,
                rule="limits.max_total_bytes",
            )


def _data_offset(raw: BinaryIO, info: zipfile.ZipInfo) -> int:
    raw.seek(info.header_offset)
    header = raw.read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size or header[:4] != _LOCAL_MAGIC:
        raise CorruptEntry(
            key="package_entry_damaged_local_header", params={"filename": info.filename},
            file=info.filename,
            rule="PKWARE APPNOTE 4.3.7 local file header",
        )
    fields = LOCAL_HEADER.unpack(header)
    name_len, extra_len = fields[-2], fields[-1]
    local_name = raw.read(name_len)
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if local_name != info.orig_filename.encode(encoding, errors="replace"):
        raise CorruptEntry(
            key="local_header_names_different_file", params={"filename": info.filename},
            file=info.filename,
            rule="PKWARE APPNOTE: local and central names match",
        )
    return info.header_offset + LOCAL_HEADER.size + name_len + extra_len


def iter_entry(
    raw: BinaryIO,
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: ImportLimits,
    budget: Budget,
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
    meter = _EntryMeter(info, limits, budget, max_bytes)
    if info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        yield from _iter_raw(raw, info, limits.chunk_bytes, meter)
    else:
        yield from _iter_zipfile(zf, info, limits.chunk_bytes, meter)
        return  # zipfile checked the length and CRC-32 itself
    if meter.produced != info.file_size or (meter.crc & 0xFFFFFFFF) != info.CRC:
        raise CorruptEntry(
            key="package_entry_does_match_checksum", params={"filename": info.filename},
            file=info.filename,
            rule="CRC-32 and length match",
        )


class _EntryMeter:
    """Checks every produced chunk of one entry against its caps and accumulates its CRC-32."""

    def __init__(
        self, info: zipfile.ZipInfo, limits: ImportLimits, budget: Budget, max_bytes: int | None
    ) -> None:
        self.info = info
        self.limits = limits
        self.budget = budget
        self.max_bytes = max_bytes
        self.ratio_cap = limits.max_entry_ratio * max(info.compress_size, 1)
        self.produced = 0
        self.crc = 0

    def __call__(self, piece: bytes) -> bytes:
        info, limits = self.info, self.limits
        self.produced += len(piece)
        produced = self.produced
        if self.max_bytes is not None and produced > self.max_bytes:
            raise ManifestTooLarge(
                key="larger_than_manifest_limit_bytes",
                params={"filename": info.filename, "max_bytes": f"{self.max_bytes:,}"},
                file=info.filename,
                rule="limits.max_manifest_bytes",
            )
        if produced > info.file_size:
            raise ZipBomb(
                key="package_entry_declares_bytes_but",
                params={"filename": info.filename, "file_size": f"{info.file_size:,}"},
                file=info.filename,
                rule="actual size must match the declared size",
            )
        if produced > limits.ratio_min_bytes and produced > self.ratio_cap:
            raise ZipBomb(
                key="package_entry_expands_more_than",
                params={"filename": info.filename, "max_entry_ratio": f"{limits.max_entry_ratio:g}"},
                file=info.filename,
                rule="limits.max_entry_ratio",
            )
        self.budget.add(len(piece), info.filename)
        self.crc = zlib.crc32(piece, self.crc)
        return piece


def _iter_raw(raw: BinaryIO, info: zipfile.ZipInfo, chunk: int, account: _EntryMeter) -> Iterator[bytes]:
    """Stored and deflate entries, decoded here from the raw archive."""
    raw.seek(_data_offset(raw, info))
    remaining = info.compress_size
    decomp = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    try:
        while remaining > 0:
            block = raw.read(min(remaining, chunk))
            if not block:
                raise CorruptEntry(
                    key="package_entry_truncated_export_again", params={"filename": info.filename},
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
                    key="compressed_data_ends_early_export", params={"filename": info.filename},
                    file=info.filename,
                    rule="deflate stream complete",
                )
    except zlib.error as exc:
        raise CorruptEntry(
            key="package_entry_damaged_export_again", params={"filename": info.filename, "exc": exc},
            file=info.filename,
            rule="deflate stream valid",
        ) from exc


def _iter_zipfile(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, chunk: int, account: _EntryMeter
) -> Iterator[bytes]:
    """bzip2 and lzma entries, through :mod:`zipfile` (which stops at the declared size and checks the CRC)."""
    try:
        with zf.open(info) as fh:
            while True:
                block = fh.read(chunk)
                if not block:
                    break
                yield account(block)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise CorruptEntry(
            key="package_entry_damaged_export_again", params={"filename": info.filename, "exc": exc},
            file=info.filename,
            rule="CRC-32 and length match",
        ) from exc
