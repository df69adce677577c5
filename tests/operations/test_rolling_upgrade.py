"""Upgrades without downtime: the previous release's web node keeps serving launches while the new
release migrates the database and starts beside it.

The previous release is the commit named in ``deploy/PREVIOUS_RELEASE`` (bumped when a release is
cut), taken from this repository's history with ``git archive`` and run from its own tree with
this checkout's virtual environment. The steps are a rolling upgrade's:

1. the previous release migrates an empty database and serves a learner's launch and commits;
2. this release runs ``db upgrade`` on the same database (expand-only migrations);
3. the previous release's node, still running, reports ready and serves a new launch and commits;
4. this release's node starts on the same database and serves a launch too.

Runs on SQLite, and on PostgreSQL in the PostgreSQL pass.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from operations_stack import REPO, Release, free_port, instance_env, launch_and_commit, ready, seed_release, wait_until

pytestmark = pytest.mark.slow

PREVIOUS = REPO / "deploy" / "PREVIOUS_RELEASE"


def _previous_tree(target: Path) -> Path:
    commit = PREVIOUS.read_text().split()[0]
    known = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True, check=False
    )
    if known.returncode != 0:
        pytest.fail(f"the previous release {commit} is not in this clone's history (a shallow clone?)", pytrace=False)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True)
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def test_previous_release_serves_while_this_one_migrates_and_starts(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    database = make_database("upgrade")
    previous_tree = _previous_tree(tmp_path / "previous")
    shared = tmp_path / "shared"
    env = instance_env(database, shared)
    previous, current = Release(previous_tree, env), Release(REPO, env)
    old_port, new_port = free_port(), free_port()
    old_base, new_base = f"http://127.0.0.1:{old_port}", f"http://127.0.0.1:{new_port}"
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        previous.cli("db", "upgrade")
        previous.cli("keys", "generate")
        seed_release(previous, old_base)
        nodes.append(previous.serve(old_port, tmp_path / "previous.log"))
        wait_until(lambda: ready(old_base), 60, "the previous release's node")
        launch_and_commit(old_base, "cohort-1")

        current.cli("db", "upgrade")  # the rolling upgrade: migrate while the old node serves
        state = wait_until(lambda: ready(old_base), 10, "the previous release's node to stay ready")
        assert state["schema"] in {"current", "ahead"}
        launch_and_commit(old_base, "cohort-2")

        seed_release(current, new_base)
        nodes.append(current.serve(new_port, tmp_path / "current.log"))
        assert wait_until(lambda: ready(new_base), 60, "this release's node")["schema"] == "current"
        launch_and_commit(new_base, "cohort-3")
        launch_and_commit(old_base, "cohort-4")  # both versions serve side by side
    except AssertionError as exc:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))
        raise AssertionError(f"{exc}\n{logs}") from None
    finally:
        for node in nodes:
            os.killpg(node.pid, 15)
            node.wait(timeout=20)
