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

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
import requests
from scaleout_stack import REPO, free_port, wait_until
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.slow

PREVIOUS = REPO / "deploy" / "PREVIOUS_RELEASE"
CONFIG = re.compile(r'<script type="application/json" id="cbsi-player-config"[^>]*>(.*?)</script>', re.S)


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


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    admin_url = os.environ.get("CBSI_TEST_POSTGRES_URL")
    if not admin_url:
        yield f"sqlite:///{tmp_path / 'upgrade.sqlite3'}"
        return
    name = f"cbsi_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Release:
    """One release's code: its CLI run from its own tree with this checkout's environment."""

    def __init__(self, tree: Path, env: dict[str, str]) -> None:
        self.tree, self.env = tree, env

    def cli(self, *args: str, extra: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lti_tool", *args],
            cwd=self.tree,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"{self.tree.name}: cbsi-connect {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def serve(self, port: int, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as fh:
            return subprocess.Popen(
                [sys.executable, "-m", "lti_tool", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                cwd=self.tree,
                env={**self.env, "CBSI_CONNECT_SERVER__BASE_URL": f"http://127.0.0.1:{port}"},
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def _seed(release: Release, base: str) -> None:
    """The development LMS of ``base`` and the sample course, with this release's own code."""
    script = (
        "from pathlib import Path\n"
        "from lti_tool.catalogue import import_package\n"
        "from lti_tool.demo import build_demo_package\n"
        "from lti_tool.lti.devplatform import ensure_registered\n"
        "from lti_tool.services import build_services\n"
        "from lti_tool.settings import load_settings\n"
        "s = build_services(load_settings())\n"
        f"ensure_registered(s.db, {base!r})\n"
        "import_package(s, build_demo_package(Path('demo-course.zip')), imported_by='upgrade test')\n"
        "import lti_tool; print(lti_tool.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=release.tree, env=release.env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith(str(release.tree)), f"ran the wrong tree's code: {done.stdout}"


def _launch_and_commit(base: str, learner: str) -> str:
    """A learner's launch from the development LMS of ``base`` and two commits; the attempt id."""
    s = requests.Session()
    s.trust_env = False
    assert s.get(f"{base}/dev/platform", timeout=15).status_code == 200  # its home page makes the activity
    auth = s.get(f"{base}/dev/platform/launch?user={learner}&link=1", timeout=15)
    form = re.search(r'<form id="form_post" method="post" action="([^"]+)"', auth.text)
    assert auth.status_code == 200 and form is not None, auth.text[:500]
    fields = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text)}
    for cookie in s.cookies:
        cookie.secure = False  # http://127.0.0.1 is a secure context for browsers
    page = s.post(unescape(form.group(1)), data=fields, timeout=15)
    config = CONFIG.search(page.text)
    assert page.status_code == 200 and config is not None, page.text[:500]
    runtime = json.loads(config.group(1))["runtime"]
    headers = {"Authorization": f"Bearer {runtime['token']}"}
    for n, status in ((1, "incomplete"), (2, "passed")):
        body = {"seq": runtime["seq"] + n, "changes": {"cmi.core.lesson_status": status, "cmi.core.score.raw": "80"}}
        answer = s.post(base + runtime["commitUrl"], json=body, headers=headers, timeout=15)
        assert answer.status_code == 200, answer.text
    return str(runtime["attemptId"])


def _ready(base: str) -> dict[str, str] | None:
    try:
        answer = requests.get(base + "/ready", timeout=2)
    except requests.RequestException:
        return None
    return answer.json() if answer.status_code == 200 else None


def test_previous_release_serves_while_this_one_migrates_and_starts(tmp_path: Path, database: str) -> None:
    previous_tree = _previous_tree(tmp_path / "previous")
    shared = tmp_path / "shared"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CBSI_", "PYTHON"))},
        "CBSI_CONNECT_DATABASE__URL": database,
        "CBSI_CONNECT_SERVER__DEMO": "true",
        "CBSI_CONNECT_SERVER__SECRET_KEY": "upgrade-test-secret-" + "u" * 40,
        "CBSI_CONNECT_SERVER__INSTANCE_FOLDER": str(shared / "instance"),
        "CBSI_CONNECT_SERVER__LOG_LEVEL": "WARNING",
        "CBSI_CONNECT_CONTENT__FOLDER": str(shared / "content"),
        "CBSI_CONNECT_KEYS__FOLDER": str(shared / "keys"),
    }
    previous, current = Release(previous_tree, env), Release(REPO, env)
    old_port, new_port = free_port(), free_port()
    old_base, new_base = f"http://127.0.0.1:{old_port}", f"http://127.0.0.1:{new_port}"
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        previous.cli("db", "upgrade")
        previous.cli("keys", "generate")
        _seed(previous, old_base)
        nodes.append(previous.serve(old_port, tmp_path / "previous.log"))
        wait_until(lambda: _ready(old_base), 60, "the previous release's node")
        _launch_and_commit(old_base, "cohort-1")

        current.cli("db", "upgrade")  # the rolling upgrade: migrate while the old node serves
        state = wait_until(lambda: _ready(old_base), 10, "the previous release's node to stay ready")
        assert state["schema"] in {"current", "ahead"}
        _launch_and_commit(old_base, "cohort-2")

        _seed(current, new_base)
        nodes.append(current.serve(new_port, tmp_path / "current.log"))
        assert wait_until(lambda: _ready(new_base), 60, "this release's node")["schema"] == "current"
        _launch_and_commit(new_base, "cohort-3")
        _launch_and_commit(old_base, "cohort-4")  # both versions serve side by side
    except AssertionError as exc:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))
        raise AssertionError(f"{exc}\n{logs}") from None
    finally:
        for node in nodes:
            os.killpg(node.pid, 15)
            node.wait(timeout=20)
