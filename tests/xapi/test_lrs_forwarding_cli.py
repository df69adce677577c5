"""``cbsi-connect platforms forward``: precise refusals that save nothing, status without the secret,
and ``sync once`` forwarding to a fake academy LRS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lti_tool import audit
from lti_tool.cli import CliContext, cli
from lti_tool.lrs.identity import learner_tenant
from lti_tool.lrs.recording import record_statements
from lti_tool.services import Services, build_services
from lti_tool.settings import load_settings
from lti_tool.storage import Database

sys.path.insert(0, str(Path(__file__).parent))
from fake_lrs import FakeLrs

SECRET = "cli-Secret-Value-987"
REPO = Path(__file__).resolve().parents[2]


def add_statements(db: Database, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    with db.session() as s:
        record_statements(
            s, learner_tenant(1),
            [{"id": i, "actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "http://example.org/v"},
              "object": {"id": "https://example.org/a"}} for i in ids],
            base_url="http://localhost", now=datetime.now(UTC),
        )  # fmt: skip
    return ids


@pytest.fixture
def lrs() -> Iterator[FakeLrs]:
    server = FakeLrs()
    yield server
    server.close()


def make_services(settings_overrides: dict[str, dict[str, Any]], *, allow_loopback: bool) -> Services:
    overrides = {**settings_overrides, "forwarding": {"settle_seconds": 0.0}}
    if allow_loopback:
        overrides["outbound"] = {"allow_private": ["127.0.0.0/8"]}
    return build_services(load_settings(environ={}, overrides=overrides))


def run(services: Services, *args: str, stdin: str | None = None) -> tuple[int, str]:
    """``cbsi-connect <args>`` in-process over ``services`` (signal handlers restored)."""
    obj = CliContext(None)
    obj._settings = services.settings
    obj._services = services
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = CliRunner().invoke(cli, list(args), obj=obj, input=stdin, catch_exceptions=False)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return result.exit_code, result.output


@pytest.fixture
def strict(settings_overrides: dict[str, dict[str, Any]]) -> Iterator[Services]:
    """Production settings (internal addresses refused) and a registered platform 1."""
    services = make_services(settings_overrides, allow_loopback=False)
    code, out = run(
        services, "platforms", "add", "--issuer", "https://lms.example", "--client-id", "c1",
        "--auth-login-url", "https://lms.example/auth", "--auth-token-url", "https://lms.example/token",
        "--key-set-url", "https://lms.example/jwks", "--deployment-id", "d1", "--approve",
    )  # fmt: skip
    assert code == 0, out
    yield services
    services.db.dispose()


@pytest.fixture
def loose(strict: Services, settings_overrides: dict[str, dict[str, Any]]) -> Iterator[Services]:
    """The same database, with loopback allow-listed (``outbound.allow_private``) for the fake LRS."""
    services = make_services(settings_overrides, allow_loopback=True)
    yield services
    services.db.dispose()


def forward(services: Services, *args: str, stdin: str | None = None) -> tuple[int, str]:
    return run(services, "platforms", "forward", "1", *args, stdin=stdin)


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
def test_refusals_are_precise_and_save_nothing(
    strict: Services, args: list[str], stdin: str | None, expected: str
) -> None:
    code, out = forward(strict, *args, stdin=stdin)
    assert code == 2 and expected in out, out
    assert "Traceback" not in out
    code, shown = run(strict, "platforms", "show", "1")
    assert code == 0 and "LRS forwarding: off" in shown


def test_unknown_platform(strict: Services) -> None:
    code, out = run(strict, "platforms", "forward", "99", "--endpoint", "https://x.example/xapi", "--key", "k",
                    "--secret-stdin", stdin="s\n")  # fmt: skip
    assert code == 2 and "[platform_not_found]" in out


def test_turn_on_show_list_off_without_showing_the_secret(strict: Services) -> None:
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
    entries = audit.list_entries(strict.db, platform_id=1)
    actions = [e.action for e in entries]
    assert {"lrs.forward_on", "lrs.forward_off", "lrs.forward_retry_dead"} <= set(actions)
    assert all(SECRET not in str(e.as_dict()) for e in entries)


def test_sync_once_forwards_and_shows_dead_letters(loose: Services, lrs: FakeLrs) -> None:
    config = loose
    code, out = forward(config, "--endpoint", lrs.url, "--key", "k", "--secret-stdin", "--from-start",
                        stdin=SECRET + "\n")  # fmt: skip
    assert code == 0, out
    ids = add_statements(loose.db, 3)
    lrs.mode, lrs.refused = "refuse", {ids[1]}
    code, out = run(config, "sync", "once")
    assert code == 0 and "LRS forwarding: 2 statements sent to academy LRSs, 1 refused" in out, out
    code, out = forward(config)
    assert "dead letters: 1" in out and ids[1] in out and "is not acceptable" in out


def test_sync_run_forwards_beside_grade_delivery_and_stops_on_sigterm(
    tmp_path: Path, loose: Services, settings_overrides: dict[str, dict[str, Any]], lrs: FakeLrs
) -> None:
    assert forward(loose, "--endpoint", lrs.url, "--key", "k", "--secret-stdin", stdin=SECRET + "\n")[0] == 0
    sections = {**settings_overrides, "forwarding": {"settle_seconds": 0.0},
                "outbound": {"allow_private": ["127.0.0.0/8"]}}  # fmt: skip
    config = tmp_path / "worker.toml"
    config.write_text(
        "".join(f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
                for name, values in sections.items())
    )  # fmt: skip
    log = tmp_path / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "CBSI_CONNECT_CONFIG": str(config)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lti_tool", "sync", "run", "--poll", "0.1"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        ids = add_statements(loose.db, 3)
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
    text = log.read_text()
    assert "LRS forwarding: 3 statements sent to academy LRSs" in text and SECRET not in text
