"""Writing an extracted course: a temporary sibling folder, fsynced, renamed into place.

A refused or failed extraction leaves nothing in the content root (import step 5's writing side).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from scorm.packaging.errors import (
    DestinationError,
    PackageError,
    ZipSlip,
)
from scorm.packaging.model import (
    ImportLimits,
)
from scorm.packaging.zipstream import Budget

logger = logging.getLogger(__name__)


_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def target_path(tmp: Path, name: str) -> Path:
    target = tmp.joinpath(*[part for part in name.split("/") if part])
    # Defence in depth: names were already checked by check_entry_name.
    if os.path.commonpath([tmp, target]) != str(tmp):
        raise ZipSlip(key="entry_resolves_outside_course_folder", params={"name": name}, file=name)
    return target


def final_name(name: str | None, sha256: str) -> str:
    if name is None:
        return sha256
    if not _SAFE_NAME_RE.match(name):
        raise DestinationError(
            key="safe_folder_name_letters_digits", params={"name": name},
            rule="content folder name",
        )
    return name


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


def extract_atomically(
    root: Path,
    final: Path,
    writer: Callable[[Path, Budget], None],
    limits: ImportLimits,
    *,
    durable: bool = False,
) -> int:
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
    except OSError as exc:
        raise DestinationError(
            key="cannot_create_temporary_folder", params={"root": root, "strerror": exc.strerror},
            rule="dest_root writable",
        ) from exc
    budget = Budget(limits)
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
            key="writing_course_files_failed", params={"reason": exc.strerror or exc},
            rule="dest_root writable",
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return budget.total
