"""The package file: its path checked, its SHA-256 taken once (import step 1)."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from scorm.packaging.errors import (
    SourceMissing,
)
from scorm.packaging.model import (
    DEFAULT_LIMITS,
    ImportLimits,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PackageDigest:
    """The SHA-256 and size of a package file, with the file identity they were taken from.

    Computed once per upload (:func:`package_digest`) and handed to :func:`extract_package` /
    :func:`inspect_package`, so a package is read for its checksum only once. ``file_key`` is
    ``(st_dev, st_ino, st_size, st_mtime_ns)``: a digest whose file has changed since (another
    file, rewritten bytes) is not trusted, the file is hashed again.
    """

    sha256: str
    size: int
    file_key: tuple[int, int, int, int]


def _file_key(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def package_digest(
    source: str | os.PathLike[str], chunk_bytes: int = DEFAULT_LIMITS.chunk_bytes
) -> PackageDigest:
    """Hash a package file (one streaming read of ``chunk_bytes`` blocks).

    Raises:
        SourceMissing: the file does not exist or is not a regular file.
    """
    path = source_path(source)
    key = _file_key(path)
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(chunk_bytes):
            size += len(block)
            digest.update(block)
    return PackageDigest(sha256=digest.hexdigest(), size=size, file_key=key)


def digest_of(path: Path, limits: ImportLimits, known: PackageDigest | None) -> PackageDigest:
    """``known`` when it still describes ``path``, else a fresh digest."""
    if known is not None and known.file_key == _file_key(path):
        return known
    return package_digest(path, limits.chunk_bytes)



def source_path(source: str | os.PathLike[str]) -> Path:
    path = Path(source)
    if not path.is_file():
        raise SourceMissing(
            key="package_file_does_exist_regular", params={"path": path},
            file=path.name,
            rule="source is a readable file",
        )
    return path


