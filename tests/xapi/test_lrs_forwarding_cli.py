"""``cbsi-connect platforms forward``: precise refusals that save nothing, status without the secret,
and ``sync once`` forwarding to a fake academy LRS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from lti_tool import audit
from lti_tool.cli import cli
from lti_tool.lrs.identity import learner_tenant
from lti_tool.lrs.recording import record_statements
from lti_tool.storage import Database

sys.path.insert(0, str(Path(__file__).parent))
from fake_lrs import FakeLrs

SECRET = "cli-Secret-Value-987"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def lrs() -> Iterator[FakeLrs]:
    server = FakeLrs()
    yield server
    server.close()


def make_config(tmp_path: Path, database_url: str, *, allow_loopback: bool) -> Path:
    config = tmp_path / "config.toml"
    allow = '[outbound]\nallow_private = ["127.0.0.0/8"]\n' if allow_loopback else ""
    config.write_text(
        f'[server]\nsecret_key = "{"k" * 40}"\ninstance_folder = "{tmp_path / "instance"}"\n'
        f'[database]\nurl = "{database_url}"\n[keys]\nfolder = "{tmp_path / "keys"}"\n'
        f"[forwarding]\nsettle_seconds = 0.0\n{allow}"
    )
    return config


def run(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def strict(tmp_path: Path, database_url: str) -> Path:
    config = make_config(tmp_path, database_url, allow_loopback=False)
    code, out = run(
        config, "platforms", "add", "--issuer", "https://lms.example", "--client-id", "c1",
        "--auth-login-url", "https://lms.example/auth", "--auth-token-url", "https://lms.example/token",
        "--key-set-url", "https://lms.example/jwks", "--deployment-id", "d1", "--approve",
    )  # fmt: skip
    assert code == 0, out
    return config


def forward(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    return run(config, "platforms", "forward", "1", *args, stdin=stdin)


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["--endpoint", "not a url", "--key", "k", "--secret-stdin"], "s\n", "[invalid_url]"),
        (["--endpoint", "ftp://lrs.example/xapi", "--key", "k", "--secret-stdin"], "s\n", "scheme 'ftp'"),
        (["--endpoint", "https://u:p@lrs.example/xapi", "--key", "k", "--secret-stdin"], "s\n", "must not hold"),
        (["--endpoint", "https:///xapi", "--key", "k", "--secret-stdin"], "s\n", "has no host"),
        (["--endpoint", "https://lrs.example/xapi", "--key", "k"], None, "the secret is missing"),
        (["--endpoint", "https://lrs.example/xapi", "--key", "k", "--secret-stdin"], "\n", "the secret is missing"),
        (["--endpoint", "https://lrs.example/xapi", "--secret-stdin"], "s\n", "--key is missing"),
        (["--endpoint", "https://lrs.example/xapi", "--key", "a:b", "--secret-stdin"], "s\n", "without ':'"),
        (["--endpoint", "https://lrs.example/xapi", "--key", "k", "--version", "1.0"], None, "'1.0' is not one of"),
        (["--endpoint", "http://127.0.0.1:8080/xapi", "--key", "k", "--secret-stdin"], "s\n", "[address_refused]"),
        (["--endpoint", "http://192.168.1.5/xapi", "--key", "k", "--secret-stdin"], "s\n", "internal address"),
        (["--off", "--resume"], None, "give one of"),
        (["--key", "k"], None, "go with --endpoint"),
        (["--off"], None, "[not_configured]"),
    ],
)
def test_refusals_are_precise_and_save_nothing(strict: Path, args: list[str], stdin: str | None, expected: str) -> None:
    code, out = forward(strict, *args, stdin=stdin)
    assert code == 2 and expected in out, out
    assert "Traceback" not in out
    code, shown = run(strict, "platforms", "show", "1")
    assert code == 0 and "LRS forwarding: off" in shown


def test_unknown_platform(strict: Path) -> None:
    code, out = run(strict, "platforms", "forward", "99", "--endpoint", "https://x.example/xapi", "--key", "k",
                    "--secret-stdin", stdin="s\n")  # fmt: skip
    assert code == 2 and "[platform_not_found]" in out


def test_turn_on_show_list_off_without_showing_the_secret(strict: Path, database_url: str) -> None:
    code, out = forward(
        strict, "--endpoint", "https://lrs.academy.example/xapi/", "--key", "academy", "--secret-stdin",
        "--version", "2.0.0", stdin=SECRET + "\n",
    )  # fmt: skip
    assert code == 0, out
    assert "LRS forwarding: on" in out and "https://lrs.academy.example/xapi (xAPI 2.0.0)" in out
    code, shown = run(strict, "platforms", "show", "1")
    assert "key:          academy (secret set)" in shown and "backlog:      0 statements" in shown
    code, listed = run(strict, "platforms", "list")
    assert " on " in listed.splitlines()[1] and "forward" in listed.splitlines()[0]
    assert forward(strict, "--off")[0] == 0
    code, shown = run(strict, "platforms", "show", "1")
    assert "LRS forwarding: off" in shown
    code, out = forward(strict, "--retry-dead")
    assert code == 0 and "0 refused statements queued again" in out
    for text in (out, shown, listed):
        assert SECRET not in text
    db = Database(database_url)
    try:
        entries = audit.list_entries(db, platform_id=1)
    finally:
        db.dispose()
    actions = [e.action for e in entries]
    assert {"lrs.forward_on", "lrs.forward_off", "lrs.forward_retry_dead"} <= set(actions)
    assert all(SECRET not in str(e.as_dict()) for e in entries)


def test_sync_once_forwards_and_shows_dead_letters(
    tmp_path: Path, database_url: str, strict: Path, lrs: FakeLrs
) -> None:
    config = make_config(tmp_path, database_url, allow_loopback=True)
    code, out = forward(config, "--endpoint", lrs.url, "--key", "k", "--secret-stdin", "--from-start",
                        stdin=SECRET + "\n")  # fmt: skip
    assert code == 0, out
    ids = [str(uuid.uuid4()) for _ in range(3)]
    db = Database(database_url)
    try:
        with db.session() as s:
            record_statements(
                s, learner_tenant(1),
                [{"id": i, "actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "http://example.org/v"},
                  "object": {"id": "https://example.org/a"}} for i in ids],
                base_url="http://localhost", now=datetime.now(UTC),
            )  # fmt: skip
    finally:
        db.dispose()
    lrs.mode, lrs.refused = "refuse", {ids[1]}
    code, out = run(config, "sync", "once")
    assert code == 0 and "LRS forwarding: 2 statements sent to academy LRSs, 1 refused" in out, out
    code, out = forward(config)
    assert "dead letters: 1" in out and ids[1] in out and "is not acceptable" in out


def test_sync_run_forwards_beside_grade_delivery_and_stops_on_sigterm(
    tmp_path: Path, database_url: str, strict: Path, lrs: FakeLrs
) -> None:
    config = make_config(tmp_path, database_url, allow_loopback=True)
    assert forward(config, "--endpoint", lrs.url, "--key", "k", "--secret-stdin", stdin=SECRET + "\n")[0] == 0
    ids = [str(uuid.uuid4()) for _ in range(3)]
    db = Database(database_url)
    log = tmp_path / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "CBSI_CONNECT_CONFIG": str(config)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lti_tool", "sync", "run", "--poll", "0.1"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        with db.session() as s:
            record_statements(
                s, learner_tenant(1),
                [{"id": i, "actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "http://example.org/v"},
                  "object": {"id": "https://example.org/a"}} for i in ids],
                base_url="http://localhost", now=datetime.now(UTC),
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while set(ids) - set(lrs.stored) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert set(lrs.stored) == set(ids), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        db.dispose()
    text = log.read_text()
    assert "LRS forwarding: 3 statements sent to academy LRSs" in text and SECRET not in text
