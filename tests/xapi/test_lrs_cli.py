"""``cbsi-connect lrs credentials``: create prints the secret once, list never shows it, revoke works."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lti_tool.cli import cli


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_create_list_revoke(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nsecret_key = "{"k" * 40}"\ninstance_folder = "{tmp_path / "instance"}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "cli.sqlite3"}"\n[keys]\nfolder = "{tmp_path / "keys"}"\n'
    )
    assert run(config, "db", "upgrade")[0] == 0
    code, out = run(config, "lrs", "credentials", "create", "--name", "Power BI")
    assert code == 0
    key = out.split("key:")[1].split()[0]
    secret = out.split("secret:")[1].split()[0]
    assert len(key) == 32 and len(secret) >= 40
    code, listed = run(config, "lrs", "credentials", "list")
    assert code == 0 and key in listed and "Power BI" in listed and "active" in listed
    assert secret not in listed
    assert run(config, "lrs", "credentials", "revoke", key) == (0, f"revoked {key}\n")
    assert "revoked" in run(config, "lrs", "credentials", "list")[1]
    code, out = run(config, "lrs", "credentials", "revoke", key)
    assert code == 2 and "already revoked" in out
    code, out = run(config, "lrs", "credentials", "revoke", "nope")
    assert code == 2 and "no LRS credential" in out
    code, out = run(config, "lrs", "credentials", "create", "--name", "  ")
    assert code == 2 and "needs a name" in out
