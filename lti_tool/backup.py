"""Backups of one instance, and their restore into a fresh one.

A backup is one tar file holding everything a node needs to carry on where the old one stopped:

* ``database/`` — the database: a consistent copy of the SQLite file (SQLite's online backup), or
  a ``pg_dump`` custom-format dump of the PostgreSQL database;
* ``content/`` — the extracted packages (``content.folder``);
* ``keys/`` — the tool's private keys (``keys.folder``): a backup is as secret as the keys folder
  itself, so the file is written with mode 0600 and must be stored like the keys;
* ``manifest.json`` — format, time, database dialect, schema revisions, and a SHA-256 per member.

Restore refuses a target that is not empty (database, content or keys), checks every member's
digest before anything is written, and never extracts outside its folders. A backup of an older
release restores as it was: ``cbsi-connect db upgrade`` then brings the schema forward.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from lti_tool.services import Services

logger = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/cbsi-connect.sqlite3"
PG_MEMBER = "database/cbsi-connect.pgdump"
PG_TIMEOUT_SECONDS = 3600


class BackupError(Exception):
    """A backup could not be made or restored; the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds (or a restore brought back)."""

    path: Path
    dialect: str
    revisions: tuple[str, ...]
    files: int
    bytes: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``: on PATH, else the newest of Debian's versioned folders."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise BackupError("pg_tools_missing", f"{name} is not installed: install Debian's postgresql-client")
    return str(candidates[-1])


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for ``url``: the password never appears on a command line."""
    parsed = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", str(parsed.port) if parsed.port else None),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value:
            env[key] = value
    return env


def _run_pg(argv: list[str], url: str) -> None:
    done = subprocess.run(  # noqa: S603 - fixed PostgreSQL tools, arguments built here
        argv, env=_pg_env(url), capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS, check=False
    )
    if done.returncode != 0:
        tool = Path(argv[0]).name
        raise BackupError("database_tool_failed", f"{tool} failed: {done.stderr.strip()[-500:]}")


def _dump_database(services: Services, target: Path) -> str:
    """Write a consistent copy of the database to ``target``; returns the archive member name."""
    url = services.settings.database_url
    if services.db.dialect == "sqlite":
        source = make_url(url).database
        if not source:
            raise BackupError("database_unsupported", "an in-memory SQLite database cannot be backed up")
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return SQLITE_MEMBER
    _run_pg([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"], url)
    return PG_MEMBER


def _folder_members(folder: Path, prefix: str) -> Iterator[tuple[Path, str]]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise BackupError("unsafe_file", f"{path} is a symbolic link: content and keys never hold links")
        if path.is_file():
            yield path, f"{prefix}/{path.relative_to(folder).as_posix()}"


def create_backup(services: Services, target: Path) -> BackupReport:
    """Write a backup of this instance to ``target`` (a new file, mode 0600).

    Raises:
        BackupError: the target exists, or the database could not be dumped.
    """
    if target.exists():
        raise BackupError("target_exists", f"{target} exists: choose a new file name")
    settings = services.settings
    revisions = tuple(sorted(services.db.current_revisions()))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cbsi-backup-") as scratch:
        dump = Path(scratch) / "database"
        member = _dump_database(services, dump)
        members = [(dump, member)]
        members += list(_folder_members(settings.content_path, "content"))
        members += list(_folder_members(settings.keys_path, "keys"))
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "dialect": services.db.dialect,
            "revisions": list(revisions),
            "files": {name: _sha256(path) for path, name in members},
        }
        partial = target.with_name(f".{target.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
                tar.addfile(info, io.BytesIO(data))
                for path, name in members:
                    tar.add(path, arcname=name, recursive=False)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        total = sum(path.stat().st_size for path, _ in members)
    logger.warning(
        "backup written to %s (%d files, %d bytes; it holds the private keys: store it like them)",
        target,
        len(members),
        total,
        extra={"action": "backup_created"},
    )
    return BackupReport(target, services.db.dialect, revisions, len(members), total)


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        handle = tar.extractfile(MANIFEST)
    except KeyError:
        handle = None
    if handle is None:
        raise BackupError("not_a_backup", "the file is not a CBSI-Connect backup (no manifest.json)")
    try:
        manifest = json.loads(handle.read())
    except ValueError as exc:
        raise BackupError("not_a_backup", "the backup's manifest.json is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("unsupported_backup", f"this release restores backup format {FORMAT} only")
    if not isinstance(manifest.get("files"), dict):
        raise BackupError("unsupported_backup", f"this release restores backup format {FORMAT} only")
    return manifest


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    top = {"database", "content", "keys"}
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] not in top:
        raise BackupError("unsafe_member", f"the backup holds an unsafe path: {name!r}")
    return path


def _target_is_empty(services: Services) -> list[str]:
    busy = []
    if inspect(services.db.engine).get_table_names():
        busy.append(f"the database {services.db.engine.url.render_as_string(hide_password=True)} has tables")
    for label, folder in (("content", services.settings.content_path), ("keys", services.settings.keys_path)):
        if folder.is_dir() and any(folder.iterdir()):
            busy.append(f"the {label} folder {folder} is not empty")
    return busy


@contextmanager
def _open_backup(source: Path) -> Iterator[tarfile.TarFile]:
    try:
        tar = tarfile.open(source, mode="r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError("not_a_backup", f"{source} is not a readable backup: {exc}") from exc
    with tar:
        yield tar


def _verify(tar: tarfile.TarFile, manifest: dict[str, Any], scratch: Path) -> dict[str, Path]:
    """Extract every listed member into ``scratch`` and check its digest; nothing else is written."""
    extracted: dict[str, Path] = {}
    listed = dict(manifest["files"])
    for info in tar.getmembers():
        if info.name == MANIFEST:
            continue
        path = _safe_member(info.name)
        if not info.isfile():
            raise BackupError("unsafe_member", f"the backup holds a non-regular file: {info.name!r}")
        expected = listed.pop(info.name, None)
        if expected is None:
            raise BackupError("corrupt_backup", f"{info.name} is not listed in the manifest")
        out = scratch.joinpath(*path.parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        handle = tar.extractfile(info)
        if handle is None:  # pragma: no cover - regular files always have data
            raise BackupError("corrupt_backup", f"{info.name} cannot be read")
        with out.open("wb") as fh:
            shutil.copyfileobj(handle, fh)
        if _sha256(out) != expected:
            raise BackupError("corrupt_backup", f"{info.name} does not match its checksum: the backup is damaged")
        extracted[info.name] = out
    if listed:
        raise BackupError("corrupt_backup", f"{len(listed)} listed files are missing, e.g. {sorted(listed)[0]}")
    return extracted


def _copy_folder(extracted: dict[str, Path], prefix: str, folder: Path, mode: int | None) -> None:
    for name, path in extracted.items():
        if name.startswith(prefix + "/"):
            out = folder / name.removeprefix(prefix + "/")
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
            if mode is not None:
                out.chmod(mode)


def restore_backup(services: Services, source: Path) -> BackupReport:
    """Restore ``source`` into this (empty) instance.

    Raises:
        BackupError: the target is not empty, the backup is damaged or of another database kind.
    """
    busy = _target_is_empty(services)
    if busy:
        raise BackupError("target_not_empty", "restore needs an empty instance: " + "; ".join(busy))
    settings = services.settings
    with _open_backup(source) as tar, tempfile.TemporaryDirectory(prefix="cbsi-restore-") as scratch:
        manifest = _read_manifest(tar)
        if manifest.get("dialect") != services.db.dialect:
            raise BackupError(
                "dialect_mismatch",
                f"the backup is of a {manifest.get('dialect')} database; this instance uses {services.db.dialect}",
            )
        extracted = _verify(tar, manifest, Path(scratch))
        dump = extracted.get(SQLITE_MEMBER if services.db.dialect == "sqlite" else PG_MEMBER)
        if dump is None:
            raise BackupError("corrupt_backup", "the backup holds no database")
        services.db.dispose()
        if services.db.dialect == "sqlite":
            with sqlite3.connect(dump) as src, sqlite3.connect(make_url(settings.database_url).database or "") as dst:
                src.backup(dst)
        else:
            database = make_url(settings.database_url).database
            restore = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
            _run_pg([*restore, f"--dbname={database}", str(dump)], settings.database_url)
        _copy_folder(extracted, "content", settings.content_path, None)
        settings.keys_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _copy_folder(extracted, "keys", settings.keys_path, 0o600)
        total = sum(p.stat().st_size for p in extracted.values())
    logger.warning("backup %s restored (%d files)", source, len(extracted), extra={"action": "backup_restored"})
    return BackupReport(source, services.db.dialect, tuple(manifest.get("revisions", ())), len(extracted), total)
