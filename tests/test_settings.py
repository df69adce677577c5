"""Settings: file, environment, overrides, and every kind of bad configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from lti_tool.settings import SettingsError, load_settings

GOOD_SECRET = "s" * 40
REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body)
    return path


def test_example_config_is_complete_and_valid(tmp_path: Path) -> None:
    example = (REPO / "config.example.toml").read_text()
    # the example documents every key with its default; only the secret must be filled in
    body = example.replace('secret_key = ""', f'secret_key = "{GOOD_SECRET}"')
    settings = load_settings(write(tmp_path, body), environ={})
    assert settings.lti.clock_leeway_seconds == 60
    assert settings.keys.rotation_overlap_seconds == 7 * 24 * 3600


def test_example_config_mentions_every_setting() -> None:
    import dataclasses

    from lti_tool.settings import Settings

    example = (REPO / "config.example.toml").read_text()
    for section in dataclasses.fields(Settings):
        assert f"[{section.name}]" in example
        for fld in dataclasses.fields(section.default_factory()):  # type: ignore[misc]
            assert f"\n{fld.name} = " in example or f"\n# {fld.name} = " in example, f"{section.name}.{fld.name}"


def test_file_values_are_loaded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'[server]\nsecret_key = "{GOOD_SECRET}"\nbase_url = "https://tool.example"\n[sync]\nlease_seconds = 30\n',
    )
    settings = load_settings(path, environ={})
    assert settings.server.base_url == "https://tool.example"
    assert settings.sync.lease_seconds == 30
    assert settings.content_origin == "https://tool.example/content"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, f'[server]\nsecret_key = "{GOOD_SECRET}"\nworkers = 7\n')
    settings = load_settings(environ={"CBSI_CONNECT_CONFIG": str(path)})
    assert settings.server.workers == 7


def test_environment_overrides_single_keys(tmp_path: Path) -> None:
    path = write(tmp_path, f'[server]\nsecret_key = "{GOOD_SECRET}"\nworkers = 7\n')
    env = {
        "CBSI_CONNECT_SERVER__WORKERS": "3",
        "CBSI_CONNECT_DATABASE__URL": "postgresql+psycopg://u@localhost/db",
        "CBSI_CONNECT_LTI__AUTO_APPROVE_ISSUERS": '["https://moodle.example"]',
    }
    settings = load_settings(path, environ=env)
    assert settings.server.workers == 3
    assert settings.database_url == "postgresql+psycopg://u@localhost/db"
    assert settings.lti.auto_approve_issuers == ("https://moodle.example",)


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ('[server]\nsecret_kee = "x"\n', "server.secret_kee", "unknown key"),
        ("[srever]\nworkers = 1\n", "srever", "unknown section"),
        ('[server]\nworkers = "two"\n', "server.workers", "whole number"),
        ("[server]\ndemo = 1\n", "server.demo", "true or false"),
        ("[sync]\nhttp_timeout_seconds = true\n", "sync.http_timeout_seconds", "number"),
        ("[lti]\nauto_approve_issuers = [1, 2]\n", "lti.auto_approve_issuers", "list of strings"),
        ("[server]\nbase_url = 5\n", "server.base_url", "string"),
        ('[server]\nbase_url = "ftp://x"\n', "server.base_url", "http"),
        ('[server]\nlog_level = "LOUD"\n', "server.log_level", "DEBUG"),
        ("[keys]\nbits = 1024\n", "keys.bits", "2048"),
        ("[lti]\nclock_leeway_seconds = 3600\n", "lti.clock_leeway_seconds", "between"),
        ("[sync]\nglobal_concurrency = 0\n", "sync.global_concurrency", "at least 1"),
        ("server = 3\n", "server", "table"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, body: str, key: str, words: str) -> None:
    if "secret_key" not in body and "[server]" in body:
        body = body.replace("[server]\n", f'[server]\nsecret_key = "{GOOD_SECRET}"\n', 1)
    elif "[server]" not in body and not body.startswith("server"):
        body = f'[server]\nsecret_key = "{GOOD_SECRET}"\n' + body
    with pytest.raises(SettingsError) as err:
        load_settings(write(tmp_path, body), environ={})
    assert err.value.key == key
    assert words in str(err.value)
    assert key in str(err.value)


@pytest.mark.parametrize("secret", ["", "short"])
def test_missing_secret_outside_demo_stops_startup(secret: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ={}, overrides={"server": {"secret_key": secret}})
    assert err.value.key == "server.secret_key"


def test_demo_mode_needs_no_secret() -> None:
    settings = load_settings(environ={}, overrides={"server": {"demo": True}})
    assert settings.server.demo is True


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(write(tmp_path, "[server\n"), environ={})


def test_settings_are_frozen() -> None:
    import dataclasses

    settings = load_settings(environ={}, overrides={"server": {"demo": True}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.server.workers = 9  # type: ignore[misc]
