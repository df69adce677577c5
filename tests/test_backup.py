"""Backup archives: what restore refuses (damaged, hostile or foreign files) leaves the target as it was."""

from __future__ import annotations

import io
import json
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from lti_tool import backup
from lti_tool.services import Services, build_services
from lti_tool.settings import load_settings


@pytest.fixture
def archive(services: Services, tmp_path: Path) -> Path:
    (services.settings.content_path / "v1").mkdir(parents=True, exist_ok=True)
    (services.settings.content_path / "v1" / "index.html").write_text("<p>course</p>")
    return backup.create_backup(services, tmp_path / "b.tar").path


@pytest.fixture
def empty_target(tmp_path: Path) -> Iterator[Services]:
    """A fresh instance with an empty database of the run's kind (SQLite, or PostgreSQL)."""
    folder = tmp_path / "target"
    admin_url = os.environ.get("CBSI_TEST_POSTGRES_URL")
    url = f"sqlite:///{folder / 'target.sqlite3'}"
    name = f"cbsi_restore_{uuid.uuid4().hex[:8]}"
    if admin_url:
        _admin_sql(admin_url, f'CREATE DATABASE "{name}"')
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(
        environ={},
        overrides={
            "server": {"demo": True, "instance_folder": str(folder / "instance")},
            "database": {"url": url},
            "keys": {"folder": str(folder / "keys")},
        },
    )
    (folder / "instance").mkdir(parents=True)
    target = build_services(settings)
    yield target
    target.db.dispose()
    if admin_url:
        _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_sql(admin_url: str, statement: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def _rewrite(source: Path, target: Path, change: Any) -> Path:
    """Copy a backup, letting ``change(name, data, manifest)`` return new (name, data) or None."""
    with tarfile.open(source) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        entries = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.name != "manifest.json"]  # type: ignore[union-attr]
    out = []
    for name, data in entries:
        changed = change(name, data, manifest)
        if changed is not None:
            out.append(changed)
    with tarfile.open(target, "w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *out]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


def _untouched(target: Services) -> None:
    assert inspect(target.db.engine).get_table_names() == []
    assert not target.settings.content_path.exists() or not any(target.settings.content_path.iterdir())
    assert not target.settings.keys_path.exists() or not any(target.settings.keys_path.iterdir())


def test_backup_round_trip_into_an_empty_instance(archive: Path, empty_target: Services, services: Services) -> None:
    report = backup.restore_backup(empty_target, archive)
    assert set(report.revisions) == services.db.current_revisions()
    empty_target.db.check_migrated()
    assert (empty_target.settings.content_path / "v1" / "index.html").read_text() == "<p>course</p>"
    assert empty_target.keys.signing_key().kid == services.keys.signing_key().kid


def test_a_damaged_member_is_refused_before_anything_is_written(
    archive: Path, empty_target: Services, tmp_path: Path
) -> None:
    def flip(name: str, data: bytes, _m: dict[str, Any]) -> tuple[str, bytes]:
        return (name, data[:-1] + b"!") if name.startswith("content/") else (name, data)

    damaged = _rewrite(archive, tmp_path / "damaged.tar", flip)
    with pytest.raises(backup.BackupError) as err:
        backup.restore_backup(empty_target, damaged)
    assert err.value.code == "corrupt_backup" and "checksum" in str(err.value)
    _untouched(empty_target)


@pytest.mark.parametrize("evil", ["../escape.txt", "/etc/cron.d/x", "content/../../x", "other/x", "keys/../../x"])
def test_a_member_outside_its_folders_is_refused(
    archive: Path, empty_target: Services, tmp_path: Path, evil: str
) -> None:
    def add(name: str, data: bytes, manifest: dict[str, Any]) -> tuple[str, bytes]:
        if name.startswith("content/"):
            manifest["files"][evil] = manifest["files"].pop(name)
            return evil, data
        return name, data

    hostile = _rewrite(archive, tmp_path / "hostile.tar", add)
    with pytest.raises(backup.BackupError) as err:
        backup.restore_backup(empty_target, hostile)
    assert err.value.code == "unsafe_member"
    _untouched(empty_target)


def test_an_unlisted_or_missing_member_is_refused(archive: Path, empty_target: Services, tmp_path: Path) -> None:
    def drop(name: str, data: bytes, _m: dict[str, Any]) -> tuple[str, bytes] | None:
        return None if name.startswith("content/") else (name, data)

    with pytest.raises(backup.BackupError, match="missing"):
        backup.restore_backup(empty_target, _rewrite(archive, tmp_path / "short.tar", drop))

    def extra(name: str, data: bytes, _m: dict[str, Any]) -> tuple[str, bytes]:
        return ("content/smuggled.js", data) if name.startswith("content/") else (name, data)

    with pytest.raises(backup.BackupError, match="not listed"):
        backup.restore_backup(empty_target, _rewrite(archive, tmp_path / "extra.tar", extra))
    _untouched(empty_target)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not a tar at all", "not_a_backup"),
        (None, "not_a_backup"),  # a tar without manifest.json
        (b'{"format": 99, "files": {}}', "unsupported_backup"),
        (b"[1, 2]", "unsupported_backup"),
        (b"{not json", "not_a_backup"),
    ],
)
def test_foreign_files_are_refused(empty_target: Services, tmp_path: Path, payload: bytes | None, code: str) -> None:
    path = tmp_path / "foreign.tar"
    if payload == b"not a tar at all":
        path.write_bytes(payload)
    else:
        with tarfile.open(path, "w") as tar:
            name, data = ("manifest.json", payload) if payload is not None else ("readme.txt", b"hello")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(backup.BackupError) as err:
        backup.restore_backup(empty_target, path)
    assert err.value.code == code
    _untouched(empty_target)


def test_another_database_kind_is_refused(archive: Path, empty_target: Services, tmp_path: Path) -> None:
    def relabel(name: str, data: bytes, manifest: dict[str, Any]) -> tuple[str, bytes]:
        manifest["dialect"] = "postgresql" if manifest["dialect"] == "sqlite" else "sqlite"
        return name, data

    with pytest.raises(backup.BackupError) as err:
        backup.restore_backup(empty_target, _rewrite(archive, tmp_path / "other.tar", relabel))
    assert err.value.code == "dialect_mismatch"
    _untouched(empty_target)
