"""The command line: db, keys, demo preparation, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lti_tool.cli import cli


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
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
    return path


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_keys_before_migration_says_what_to_do(config_file: Path) -> None:
    code, out = run(config_file, "keys", "list")
    assert code == 2
    assert "cbsi-connect db upgrade" in out
    assert "Traceback" not in out


def test_db_upgrade_then_current(config_file: Path) -> None:
    assert run(config_file, "db", "current")[0] == 1
    code, out = run(config_file, "db", "upgrade")
    from lti_tool.storage import Database

    heads = Database("sqlite://").head_revisions()
    assert code == 0
    assert all(head in out for head in heads)
    code, out = run(config_file, "db", "current")
    assert code == 0


def test_keys_generate_rotate_list(config_file: Path, tmp_path: Path) -> None:
    run(config_file, "db", "upgrade")
    code, out = run(config_file, "keys", "generate")
    assert code == 0
    first = out.split("active key: ")[1].strip()
    code, out = run(config_file, "keys", "rotate")
    second = out.split("active key: ")[1].split()[0]
    assert second != first
    code, out = run(config_file, "keys", "list")
    lines = out.splitlines()
    assert lines[1].startswith(second) and "active" in lines[1]
    assert lines[2].startswith(first) and "retired" in lines[2] and "yes" in lines[2]
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == sorted([f"{first}.pem", f"{second}.pem"])


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[server]\nsecret_key = "' + "k" * 40 + '"\nworkerz = 2\n')
    code, out = run(path, "db", "upgrade")
    assert code == 2
    assert "server.workerz" in out


def test_demo_prepare_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--prepare-only"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "tool key:" in result.output
    assert (tmp_path / "instance" / "cbsi-connect.sqlite3").exists()
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 1
    # restarting the demo on the same instance is fine and creates no second key
    again = CliRunner().invoke(cli, ["demo", "--prepare-only"], catch_exceptions=False)
    assert again.exit_code == 0
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 1
