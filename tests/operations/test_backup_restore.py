"""Backup and restore: a learner leaves half-way, the instance is backed up, restored into a fresh
one (new database, empty content and keys folders), and the learner's relaunch resumes where they
left. Runs on SQLite, and on PostgreSQL (pg_dump/pg_restore) in the PostgreSQL pass."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from operations_stack import REPO, Release, commit, free_port, instance_env, launch, ready, seed_release, wait_until

from scorm.cmi.model import get_value

pytestmark = pytest.mark.slow


def test_restored_instance_resumes_the_learner(tmp_path: Path, make_database: Callable[[str], str]) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    old = Release(REPO, instance_env(make_database("source"), tmp_path / "old"))
    new = Release(REPO, instance_env(make_database("restored"), tmp_path / "new"))
    archive = tmp_path / "backups" / "cbsi.tar"
    node = None
    try:
        old.cli("db", "upgrade")
        old.cli("keys", "generate")
        seed_release(old, base)
        node = old.serve(port, tmp_path / "old.log")
        wait_until(lambda: ready(base), 60, "the original node")
        s, config = launch(base, "cohort-5")
        runtime = config["runtime"]
        changes = {
            "cmi.core.lesson_location": "page-7",
            "cmi.suspend_data": "answers=b,c,a",
            "cmi.core.lesson_status": "incomplete",
            "cmi.core.exit": "suspend",
        }
        commit(s, base, runtime, runtime["seq"] + 1, changes, terminate=True)
        os.killpg(node.pid, 15)
        node.wait(timeout=20)

        printed = old.cli("backup", "create", str(archive))
        assert "holds the private keys" in printed
        assert stat.S_IMODE(archive.stat().st_mode) == 0o600

        restored = new.cli("backup", "restore", str(archive))
        assert "restored" in restored
        assert stat.S_IMODE(next((tmp_path / "new" / "keys").glob("*.pem")).stat().st_mode) == 0o600
        node = new.serve(port, tmp_path / "new.log")
        wait_until(lambda: ready(base), 60, "the restored node")
        _, again = launch(base, "cohort-5")
        state = again["runtime"]["state"]
        assert again["attemptId"] == config["attemptId"]
        assert get_value(state, "cmi.core.entry", "1.2") == ("resume", 0)
        assert get_value(state, "cmi.core.lesson_location", "1.2") == ("page-7", 0)
        assert get_value(state, "cmi.suspend_data", "1.2") == ("answers=b,c,a", 0)
    except AssertionError as exc:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))
        raise AssertionError(f"{exc}\n{logs}") from None
    finally:
        if node is not None and node.poll() is None:
            os.killpg(node.pid, 15)
            node.wait(timeout=20)


def test_restore_refuses_a_target_that_is_not_empty(tmp_path: Path, make_database: Callable[[str], str]) -> None:
    source = Release(REPO, instance_env(make_database("source"), tmp_path / "a"))
    source.cli("db", "upgrade")
    source.cli("keys", "generate")
    archive = tmp_path / "a.tar"
    source.cli("backup", "create", str(archive))
    with pytest.raises(AssertionError, match="restore needs an empty instance"):
        source.cli("backup", "restore", str(archive))  # onto itself: database and keys are there
    with pytest.raises(AssertionError, match="exists: choose a new file name"):
        source.cli("backup", "create", str(archive))
    assert subprocess.run(["tar", "-tf", str(archive)], capture_output=True, check=True).stdout.count(b"keys/") == 1
