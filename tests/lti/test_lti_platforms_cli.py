"""``cbsi-connect platforms``: add, list, show, approve, disable, add-deployment."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lti_tool.cli import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[server]
secret_key = "{"k" * 40}"
instance_folder = "{tmp_path / "instance"}"
[database]
url = "sqlite:///{tmp_path / "cli.sqlite3"}"
[keys]
folder = "{tmp_path / "keys"}"
"""
    )
    assert CliRunner().invoke(cli, ["--config", str(path), "db", "upgrade"]).exit_code == 0
    return path


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "platforms", *args], catch_exceptions=False)
    return result.exit_code, result.output


ADD = [
    "add",
    "--issuer",
    "https://moodle.example.org",
    "--client-id",
    "abc123",
    "--deployment-id",
    "1",
    "--deployment-id",
    "2",
    "--auth-login-url",
    "https://moodle.example.org/mod/lti/auth.php",
    "--auth-token-url",
    "https://moodle.example.org/mod/lti/token.php",
    "--key-set-url",
    "https://moodle.example.org/mod/lti/certs.php",
    "--name",
    "Academy Moodle",
]


def test_platform_lifecycle(config):
    code, out = run(config, *ADD)
    assert code == 0 and "platform 1 registered (pending)" in out
    assert "cbsi-connect platforms approve 1" in out
    code, out = run(config, "list")
    assert code == 0 and "pending" in out and "Academy Moodle" in out and "abc123" in out
    code, out = run(config, "show", "1")
    assert "deployments:    1, 2" in out and "https://moodle.example.org/mod/lti/certs.php" in out
    assert run(config, "approve", "1") == (0, "platform 1 is active\n")
    assert "active" in run(config, "show", "1")[1]
    code, out = run(config, "add-deployment", "1", "7")
    assert code == 0 and "1, 2, 7" in out
    assert run(config, "add-deployment", "1", "7")[1].endswith("1, 2, 7\n")  # idempotent
    code, out = run(config, "disable", "1")
    assert code == 0 and out.startswith("platform 1 is disabled: new launches are refused now")
    assert "content links and class views stop working within 30 s" in out
    assert "disabled" in run(config, "list")[1]


def test_add_approved(config):
    code, out = run(config, *ADD, "--approve")
    assert code == 0 and "(active)" in out and "approve it" not in out


@pytest.mark.parametrize(
    ("args", "code_text"),
    [
        (["show", "9"], "platform_not_found"),
        (["approve", "9"], "platform_not_found"),
        (["disable", "9"], "platform_not_found"),
        (["add-deployment", "9", "x"], "platform_not_found"),
        (["add-deployment", "1", " "], "invalid_value"),
    ],
)
def test_errors_are_one_clear_line(config, args, code_text):
    run(config, *ADD)
    code, out = run(config, *args)
    assert code == 2 and code_text in out and "Traceback" not in out


def test_duplicate_and_bad_url(config):
    run(config, *ADD)
    code, out = run(config, *ADD)
    assert code == 2 and "platform_exists" in out
    bad = list(ADD)
    bad[bad.index("--key-set-url") + 1] = "certs.php"
    bad[bad.index("--client-id") + 1] = "other"
    code, out = run(config, *bad)
    assert code == 2 and "invalid_url" in out and "--key-set-url" in out


def test_list_empty(config):
    assert "no platforms" in run(config, "list")[1]
