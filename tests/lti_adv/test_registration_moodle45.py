"""What a real Moodle 4.5 showed (issue 12, "Real Moodle 4.5" items 1-4, 6, 7), against the simulated Moodle.

1. a tool URL with a port: Moodle compares ``domain`` with host:port of ``target_link_uri``;
2. Moodle's refusals are plain text: the page shows its words (escaped, bounded) and the HTTP code;
3. Moodle's "Update" of an already registered tool updates the same registration here;
4. a plain-http staging LMS is accepted only when ``lti.insecure_issuers`` lists it;
6. the completion page says what the Moodle admin must really do;
7. registrations are named after the LMS, can be renamed, and show their last launch.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from lti_adv_helpers import REG_TOKEN, FakeServer, SimulatedMoodle, json_reply, moodle_domain, text_reply
from sqlalchemy import event, select

from lti_tool import create_app
from lti_tool.cli import cli
from lti_tool.lti import platforms as platform_ops
from lti_tool.lti import registration_config as reg_config
from lti_tool.lti import registration_messages as reg_messages
from lti_tool.services import Services, build_services
from lti_tool.settings import SettingsError, load_settings
from lti_tool.storage.models import Platform
from sync.lti_claims import TOOL_CONFIGURATION

REG_PATH = "/mod/lti/openid-registration.php"
CONF_PATH = "/mod/lti/openid-configuration.php"


@pytest.fixture
def moodle(fake_server: FakeServer) -> SimulatedMoodle:
    return SimulatedMoodle(fake_server)


def register_url(configuration_url: str, token: str | None = REG_TOKEN) -> str:
    params = {"openid_configuration": configuration_url}
    if token is not None:
        params["registration_token"] = token
    return "/lti/register?" + urlencode(params)


def rows(services: Services) -> list[Platform]:
    with services.db.session() as s:
        found = list(s.scalars(select(Platform).order_by(Platform.id)))
        for r in found:
            _ = r.deployments
        return found


def make_app(settings_overrides: dict[str, Any], services: Services, *, testing: bool = True, **sections: Any) -> Flask:
    overrides = {k: dict(v) for k, v in settings_overrides.items()}
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    settings = load_settings(environ={}, overrides=overrides)
    app = create_app(settings, services=build_services(settings, db=services.db, keys=services.keys))
    app.testing = testing
    return app


def reason(page: str) -> str:
    """The text of the error page's reason paragraph."""
    match = re.search(r'<p id="reason">(.*?)</p>', page, re.S)
    assert match, page
    return match.group(1)


# -- 1. a port in the tool's URL -------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "domain", "launch"),
    [
        ("http://127.0.0.1:8123", "127.0.0.1:8123", "http://127.0.0.1:8123/lti/launch"),
        ("https://cbsi.example:8443/", "cbsi.example:8443", "https://cbsi.example:8443/lti/launch"),
        ("https://cbsi.example", "cbsi.example", "https://cbsi.example/lti/launch"),
        # a port written in server.base_url stays in every URL (redirect_uri is matched exactly), so in the domain too
        ("https://cbsi.example:443", "cbsi.example:443", "https://cbsi.example:443/lti/launch"),
        ("http://CBSI.example:80/tool", "CBSI.example:80", "http://CBSI.example:80/tool/lti/launch"),
        ("http://[::1]:8080", "[::1]:8080", "http://[::1]:8080/lti/launch"),
    ],
)
def test_domain_is_what_moodle_reads_from_the_launch_url(base_url: str, domain: str, launch: str):
    urls = reg_config.ToolUrls(base_url=base_url)
    assert (urls.domain, urls.launch) == (domain, launch)
    assert moodle_domain(urls.domain) == moodle_domain(urls.launch)  # Moodle's own comparison


def test_registration_with_a_port_in_the_tool_url_passes_moodles_check(
    settings_overrides: dict[str, Any], services: Services, moodle: SimulatedMoodle
):
    app = make_app(settings_overrides, services, server={"base_url": "http://127.0.0.1:8123"})
    response = app.test_client().get(register_url(moodle.configuration_url))
    assert response.status_code == 200, response.get_data(as_text=True)
    [sent] = moodle.registrations
    assert sent[TOOL_CONFIGURATION]["domain"] == "127.0.0.1:8123"
    assert sent[TOOL_CONFIGURATION]["target_link_uri"] == "http://127.0.0.1:8123/lti/launch"
    assert [r.client_id for r in rows(services)] == ["moodle-client-1"]


# -- 2. the LMS's own words ------------------------------------------------------------------


def test_moodles_plain_text_refusal_is_shown_with_the_code_and_no_false_hint(
    client: FlaskClient, services: Services, moodle: SimulatedMoodle, fake_server: FakeServer
):
    fake_server.route("POST", REG_PATH, lambda rec: text_reply(400, "domain_targetlinkuri_mismatch"))
    response = client.get(register_url(moodle.configuration_url))
    page = response.get_data(as_text=True)
    assert response.status_code == 502
    text = reason(page)
    assert "HTTP 400" in text and "domain_targetlinkuri_mismatch" in text
    assert "server.base_url" in text  # what the known Moodle code means
    assert "expire" not in text and "works once" not in text  # the link did not expire
    assert rows(services) == []


def test_token_refusal_suggests_a_new_link(client: FlaskClient, moodle: SimulatedMoodle):
    assert client.get(register_url(moodle.configuration_url)).status_code == 200
    text = reason(client.get(register_url(moodle.configuration_url)).get_data(as_text=True))
    assert "HTTP 401" in text and "token_already_used" in text and "works once and expires" in text


@pytest.mark.parametrize(
    ("reply", "shown", "hidden"),
    [
        (
            lambda: text_reply(400, "<script>alert(1)</script>bad " + "x" * 5000),
            ["HTTP 400", "bad xxx", "…"],
            ["<script>", "alert(1)", "x" * 400],
        ),
        (
            lambda: (400, {"Content-Type": "text/plain"}, b'limit "a" & b < 3'),
            ["limit &#34;a&#34; &amp; b &lt; 3"],
            ['"a"', "& b"],
        ),
        (
            lambda: (500, {"Content-Type": "text/html"}, b"<html><h1>Server error</h1><script>evil()</script></html>"),
            ["HTTP 500", "Server error"],
            ["evil()", "<h1>"],
        ),
        (
            lambda: json_reply(400, {"error": "invalid_client_metadata", "error_description": "bad redirect"}),
            ["invalid_client_metadata: bad redirect"],
            ["expire"],
        ),
        (lambda: (403, {}, b""), ["HTTP 403", "without saying why"], ["expire"]),
        (lambda: text_reply(400, "line one\r\nFORGED 2026 INFO line\x00"), ["line one FORGED 2026 INFO line"], ["\r"]),
    ],
)
def test_refusal_words_are_escaped_bounded_and_printable(
    client: FlaskClient,
    moodle: SimulatedMoodle,
    fake_server: FakeServer,
    reply: Any,
    shown: list[str],
    hidden: list[str],
):
    fake_server.route("POST", REG_PATH, lambda rec: reply())
    page = client.get(register_url(moodle.configuration_url)).get_data(as_text=True)
    text = reason(page)
    for part in shown:
        assert part in text
    for part in hidden:
        assert part not in text
    assert len(text) < 700


# -- 3. Moodle's "Update" of an already registered tool --------------------------------------


def test_moodle_update_refreshes_the_same_registration_and_keeps_its_approval(
    client: FlaskClient,
    services: Services,
    moodle: SimulatedMoodle,
    fake_server: FakeServer,
    caplog: pytest.LogCaptureFixture,
):
    assert client.get(register_url(moodle.configuration_url)).status_code == 200
    [first] = rows(services)
    platform_ops.approve_platform(services.db, first.id)
    platform_ops.rename_platform(services.db, first.id, "Academy Moodle")

    # Moodle moved its key set and token endpoint meanwhile; the admin pastes the URL again, picks "Update".
    doc = moodle.document()
    doc["jwks_uri"] = fake_server.url("/mod/lti/certs.php?v=2")
    doc["token_endpoint"] = fake_server.url("/mod/lti/token2.php")
    fake_server.route("GET", CONF_PATH, lambda rec: json_reply(200, doc))
    caplog.set_level(logging.INFO)
    response = client.get(register_url(moodle.configuration_url, token=moodle.update_token(1)))

    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert 'id="updated"' in page and "already registered" not in page
    [row] = rows(services)
    assert row.id == first.id and row.client_id == "moodle-client-1"
    assert row.status == "active" and row.name == "Academy Moodle"  # approval and name kept
    assert row.key_set_url == doc["jwks_uri"] and row.auth_token_url == doc["token_endpoint"]
    assert [d.deployment_id for d in row.deployments] == ["1"]
    assert row.details["registration"]["updates"] == 1
    assert row.details["registration"]["registered_at"] == first.details["registration"]["registered_at"]
    assert any(getattr(r, "action", None) == "dynamic_registration_updated" for r in caplog.records)
    assert "key_set_url" in caplog.text and "still active" in caplog.text
    assert moodle.update_token(1) not in caplog.text


def test_update_adds_a_new_deployment_and_register_as_new_makes_a_second_platform(
    client: FlaskClient, services: Services, moodle: SimulatedMoodle
):
    assert client.get(register_url(moodle.configuration_url)).status_code == 200
    moodle.valid_tokens.add("second-new-registration")
    assert client.get(register_url(moodle.configuration_url, token="second-new-registration")).status_code == 200
    first, second = rows(services)
    assert (first.client_id, second.client_id) == ("moodle-client-1", "moodle-client-2")
    assert first.status == second.status == "pending"
    assert first.name != second.name and "moodle-client-2" in second.name

    # An update whose answer names another deployment id keeps the old one (existing activities use it).
    moodle.types[3] = moodle.types[1]
    assert client.get(register_url(moodle.configuration_url, token=moodle.update_token(3))).status_code == 200
    first, _ = rows(services)
    assert [d.deployment_id for d in first.deployments] == ["1", "3"]
    assert first.status == "pending"


# -- 4. plain-http staging LMSs --------------------------------------------------------------


def test_plain_http_lms_is_refused_with_the_setting_named(
    settings_overrides: dict[str, Any], services: Services, moodle: SimulatedMoodle, fake_server: FakeServer
):
    app = make_app(settings_overrides, services, testing=False)
    response = app.test_client().get(register_url(moodle.configuration_url))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "<code>issuer_not_https</code>" in page
    assert "lti.insecure_issuers" in page and fake_server.base_url in page
    assert fake_server.requests == []


def test_listed_plain_http_lms_registers_outside_demo_mode_with_warnings(
    settings_overrides: dict[str, Any],
    services: Services,
    moodle: SimulatedMoodle,
    fake_server: FakeServer,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING)
    app = make_app(settings_overrides, services, testing=False, lti={"insecure_issuers": [fake_server.base_url]})
    assert "devplatform" not in app.blueprints and not app.testing  # no demo mode, no development LMS
    started = [r for r in caplog.records if getattr(r, "action", None) == "insecure_issuers_enabled"]
    assert started and started[0].levelno == logging.WARNING and fake_server.base_url in started[0].getMessage()

    response = app.test_client().get(register_url(moodle.configuration_url))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [r.issuer for r in rows(services)] == [moodle.issuer]
    warned = [r for r in caplog.records if getattr(r, "action", None) == "insecure_issuer_registration"]
    assert warned and warned[0].levelno == logging.WARNING
    assert app.test_client().get("/dev/platform/").status_code == 404


@pytest.mark.parametrize(
    ("url", "allowed", "ok"),
    [
        ("http://moodle-staging.academy.local/mod/lti/auth.php", ["http://moodle-staging.academy.local"], True),
        ("http://moodle-staging.academy.local/moodle", ["http://moodle-staging.academy.local/moodle/"], True),
        ("http://moodle-staging.academy.local:8080/c", ["http://moodle-staging.academy.local"], False),
        ("http://other.academy.local/c", ["http://moodle-staging.academy.local"], False),
        ("http://moodle-staging.academy.local/c", [], False),
        ("http://10.1.2.3:8080/c", ["http://10.1.2.3:8080"], True),  # an internal staging address, listed
    ],
)
def test_insecure_issuers_allow_exactly_their_origin(url: str, allowed: list[str], ok: bool):
    origins = reg_config.insecure_origins(allowed)
    if ok:
        reg_config.check_secure_url(url, what="issuer", allow_insecure_localhost=False, allowed_insecure=origins)
        return
    with pytest.raises(reg_config.IssuerNotSecure) as err:
        reg_config.check_secure_url(url, what="issuer", allow_insecure_localhost=False, allowed_insecure=origins)
    assert "lti.insecure_issuers" in err.value.message


@pytest.mark.parametrize("bad", ["https://moodle.example", "moodle-staging.academy.local", "http://"])
def test_insecure_issuers_setting_takes_plain_http_issuers_only(bad: str):
    with pytest.raises(SettingsError) as err:
        load_settings(environ={}, overrides={"server": {"demo": True}, "lti": {"insecure_issuers": [bad]}})
    assert err.value.key == "lti.insecure_issuers" and "plain-http issuers only" in err.value.problem


# -- 6. the completion page ------------------------------------------------------------------


def test_completion_page_says_what_the_moodle_admin_must_do(client: FlaskClient, moodle: SimulatedMoodle):
    page = client.get(register_url(moodle.configuration_url)).get_data(as_text=True)
    steps = re.search(r'<ol id="lms-steps">(.*?)</ol>', page, re.S)
    assert steps
    assert "<strong>Activate</strong>" in steps.group(1)
    assert "<strong>Tool configuration usage</strong>" in steps.group(1)
    assert "Show in activity chooser" in steps.group(1)
    # Moodle already did these: the page must not send the admin to redo them.
    assert "Accept grades from the tool</em> to <em>Always" not in page
    assert "Share launcher" not in page and "Use this service" not in page
    assert "already turned on" in page
    assert "cbsi-connect platforms approve 1" in page  # the operator's step while pending


def test_readme_moodle_section_matches_the_page():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Moodle, with one paste", 1)[1].split("### Any LMS, by hand", 1)[0]
    assert "**Activate**" in section and "**Tool configuration usage**" in section
    assert "tick **Accept grades from the tool**" not in section
    assert "platforms approve" in section and "lti.insecure_issuers" in section and "platforms rename" in section


# -- 7. names, renames, last launch ----------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "name"),
    [
        (
            {
                "issuer": "https://moodle.academy.example",
                "product_family_code": "moodle",
                "version": "4.5.1+ (Build: 1)",
            },
            "Moodle 4.5.1+ at moodle.academy.example",
        ),
        (
            {"issuer": "http://127.0.0.1:8080/moodle/", "product_family_code": "moodle", "version": "4.5"},
            "Moodle 4.5 at 127.0.0.1:8080/moodle",
        ),
        ({"issuer": "https://canvas.example", "product_family_code": "canvas"}, "Canvas at canvas.example"),
        ({"issuer": "https://lms.example:8443"}, "LMS at lms.example:8443"),
        ({"issuer": "https://lms.example", "product_family_code": "acme\nforged"}, "acme forged at lms.example"),
    ],
)
def test_registration_name(doc: dict[str, Any], name: str):
    conf = reg_config.PlatformConfiguration(
        authorization_endpoint="x", token_endpoint="x", jwks_uri="x", registration_endpoint="x", **doc
    )
    assert reg_messages.registration_name(conf) == name


def test_dynamic_registration_is_named_after_the_lms(client: FlaskClient, services: Services, moodle: SimulatedMoodle):
    page = client.get(register_url(moodle.configuration_url)).get_data(as_text=True)
    host = moodle.fake.base_url.removeprefix("http://")
    [row] = rows(services)
    assert row.name == f"Moodle 4.5.1 at {host}"
    assert "127.0.0.1" in row.name and ":" in row.name  # the port tells two loopback Moodles apart
    assert row.name in page


@pytest.fixture
def cli_config(tmp_path: Path) -> Iterator[Path]:
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
    yield path


def platforms_cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "platforms", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_platforms_rename_and_last_launch_in_list_and_show(cli_config: Path):
    add = ["add", "--issuer", "https://moodle.example.org", "--client-id", "abc123", "--deployment-id", "1"]
    add += ["--auth-login-url", "https://moodle.example.org/a", "--auth-token-url", "https://moodle.example.org/t"]
    add += ["--key-set-url", "https://moodle.example.org/k"]
    assert platforms_cli(cli_config, *add)[0] == 0

    code, out = platforms_cli(cli_config, "rename", "1", "Academy Moodle (staging)")
    assert code == 0 and "Academy Moodle (staging)" in out
    code, out = platforms_cli(cli_config, "list")
    assert code == 0 and "Academy Moodle (staging)" in out and "last launch" in out and "never" in out
    code, out = platforms_cli(cli_config, "show", "1")
    assert "name:           Academy Moodle (staging)" in out and "last launch:    never" in out

    for bad, problem in (("", "must not be empty"), ("x" * 256, "longer than"), ("a\x1bb", "control")):
        code, out = platforms_cli(cli_config, "rename", "1", bad)
        assert code != 0 and problem in out and "invalid_value" in out
    code, out = platforms_cli(cli_config, "rename", "9", "Nobody")
    assert code != 0 and "platform_not_found" in out


def test_last_launch_is_recorded_at_most_once_a_minute(services: Services):
    """The launch path writes ``last_launch_at`` in its own transaction, and skips it within a minute."""
    from lti_tool.lti import launches
    from lti_tool.lti.context import Launch
    from lti_tool.lti.validation import LoginRecord
    from lti_tool.storage.models import utcnow

    info = platform_ops.add_platform(
        services.db,
        issuer="https://moodle.example.org",
        client_id="c1",
        auth_login_url="https://moodle.example.org/a",
        auth_token_url="https://moodle.example.org/t",
        key_set_url="https://moodle.example.org/k",
        deployment_ids=("1",),
        approve=True,
    )
    assert info.last_launch_at is None
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE PLATFORMS"):
            statements.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", count)
    start = utcnow()

    def launch(n: int, at: Any) -> None:
        state = f"state-{n}"
        launches.store_login(
            services.db,
            state=state,
            nonce=f"nonce-{n}",
            issuer=info.issuer,
            client_id=info.client_id,
            target_link_uri="https://tool/lti/launch",
            login_hint="u1",
            lti_message_hint=None,
            deployment_id="1",
            storage_target=None,
            expires_at=at + timedelta(minutes=10),
            now=at,
        )
        login = launches.load_login(services.db, state)
        assert isinstance(login, LoginRecord)
        record = Launch(
            id=f"launch-{n}",
            platform_id=info.id,
            issuer=info.issuer,
            client_id=info.client_id,
            deployment_id="1",
            message_type="LtiResourceLinkRequest",
            sub="u1",
            context_id="c",
            resource_link_id="r",
            claims={},
        )
        launches.consume_and_record(services.db, login=login, launch=record, now=at, expires_at=at + timedelta(hours=1))

    launch(1, start)
    assert platform_ops.get_platform(services.db, info.id).last_launch_at == start
    launch(2, start + timedelta(seconds=30))  # within a minute: no UPDATE at all
    assert len(statements) == 1
    assert platform_ops.get_platform(services.db, info.id).last_launch_at == start
    launch(3, start + timedelta(seconds=61))
    assert len(statements) == 2
    assert platform_ops.get_platform(services.db, info.id).last_launch_at == start + timedelta(seconds=61)
    assert platform_ops.list_platforms(services.db)[0].last_launch_at == start + timedelta(seconds=61)


def test_platforms_add_applies_the_same_https_rule(cli_config: Path):
    staging = "http://moodle-staging.academy.local"
    add = ["add", "--issuer", staging, "--client-id", "abc", "--deployment-id", "1"]
    add += ["--auth-login-url", staging + "/mod/lti/auth.php", "--auth-token-url", staging + "/mod/lti/token.php"]
    add += ["--key-set-url", staging + "/mod/lti/certs.php"]
    result = CliRunner().invoke(cli, ["--config", str(cli_config), "platforms", *add])
    assert result.exit_code != 0
    assert "issuer_not_https" in result.output and f'lti.insecure_issuers = ["{staging}"]' in result.output
    assert "no platforms" in platforms_cli(cli_config, "list")[1]

    cli_config.write_text(cli_config.read_text() + f'[lti]\ninsecure_issuers = ["{staging}"]\n')
    result = CliRunner().invoke(cli, ["--config", str(cli_config), "platforms", *add])
    assert result.exit_code == 0, result.output
    assert "platform 1 registered" in result.output and "plain-http LMS" in result.output
    # another plain-http host is still refused
    other = [a.replace("moodle-staging", "moodle-other") for a in add]
    result = CliRunner().invoke(cli, ["--config", str(cli_config), "platforms", *other])
    assert result.exit_code != 0 and "issuer_not_https" in result.output
