"""Who may read /metrics: bearer token, internal listen address, client networks (issue 12, item 10)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask import Flask
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.services import Services, build_services
from lti_tool.settings import SettingsError, load_settings
from lti_tool.web import metrics

TOKEN = "scrape-" + "s" * 40
OUTSIDE = "203.0.113.5"


@pytest.fixture
def metrics_app(settings_overrides: dict, services: Services) -> Iterator[Callable[..., Flask]]:
    """An app over the test database with the given [metrics] settings (and demo mode)."""
    built: list[Services] = []

    def build(demo: bool = False, **config: Any) -> Flask:
        overrides = {**settings_overrides, "metrics": config}
        overrides["server"] = {**overrides["server"], "demo": demo}
        settings = load_settings(environ={}, overrides=overrides)
        built.append(build_services(settings))
        app = create_app(settings, services=built[-1])
        app.config["PROPAGATE_EXCEPTIONS"] = False
        return app

    yield build
    for one in built:
        one.db.dispose()


def scrape(app: Flask, address: str = "127.0.0.1", **headers: str) -> Any:
    return app.test_client().get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": address})


def test_demo_mode_stays_open_as_before(metrics_app: Callable[..., Flask]) -> None:
    app = metrics_app(demo=True)
    assert scrape(app, OUTSIDE).status_code == 200
    assert scrape(app, OUTSIDE, **{"X-Forwarded-For": OUTSIDE}).status_code == 200


def test_production_default_answers_this_machine_only(metrics_app: Callable[..., Flask]) -> None:
    app = metrics_app()
    assert scrape(app, "127.0.0.1").status_code == 200
    assert scrape(app, "::1").status_code == 200
    refused = scrape(app, OUTSIDE)
    assert refused.status_code == 403 and refused.get_json()["error"] == "metrics_forbidden"
    assert b"cbsi_grade" not in refused.data
    # a reverse proxy on the same machine connects from loopback: its forwarding header gives it away
    assert scrape(app, "127.0.0.1", **{"X-Forwarded-For": OUTSIDE}).status_code == 403
    assert scrape(app, "127.0.0.1", Forwarded=f"for={OUTSIDE}").status_code == 403


def test_bearer_token(metrics_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    app = metrics_app(token=TOKEN)
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        response = scrape(app, OUTSIDE, **headers)
        assert response.status_code == 401, headers
        assert response.get_json()["error"] == "metrics_token_required"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    compared: list[tuple[bytes, bytes]] = []
    real = metrics.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(metrics.hmac, "compare_digest", spy)
    ok = scrape(app, OUTSIDE, Authorization=f"Bearer {TOKEN}")
    assert ok.status_code == 200 and b"cbsi_grade_outbox_rows" in ok.data
    assert compared == [(TOKEN.encode(), TOKEN.encode())]  # constant-time comparison
    # the token also protects demo mode once set
    assert scrape(metrics_app(demo=True, token=TOKEN), OUTSIDE).status_code == 401


def test_client_networks(metrics_app: Callable[..., Flask]) -> None:
    app = metrics_app(allow_from=["10.0.0.0/8", "2001:db8::/32"])
    assert scrape(app, "10.20.30.40").status_code == 200
    assert scrape(app, "2001:db8::7").status_code == 200
    assert scrape(app, OUTSIDE).status_code == 403
    assert scrape(app, "127.0.0.1").status_code == 403  # the list replaces the loopback default
    both = metrics_app(allow_from=["10.0.0.0/8"], token=TOKEN)
    assert scrape(both, "10.0.0.1").status_code == 401  # every configured check must pass
    assert scrape(both, OUTSIDE, Authorization=f"Bearer {TOKEN}").status_code == 403
    assert scrape(both, "10.0.0.1", Authorization=f"Bearer {TOKEN}").status_code == 200


@pytest.fixture
def two_listeners(metrics_app: Callable[..., Flask]) -> Iterator[tuple[str, str]]:
    """The same app on a public and an internal port; metrics.listen names the internal one."""
    holder: list[Flask] = []

    def wsgi(environ: Any, start: Any) -> Any:
        return holder[0](environ, start)

    public = make_server("127.0.0.1", 0, wsgi, threaded=True)
    internal = make_server("127.0.0.1", 0, wsgi, threaded=True)
    holder.append(metrics_app(listen=f"127.0.0.1:{internal.server_port}"))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (public, internal)]
    for t in threads:
        t.start()
    yield f"http://127.0.0.1:{public.server_port}", f"http://127.0.0.1:{internal.server_port}"
    for s in (public, internal):
        s.shutdown()
        s.server_close()
    for t in threads:
        t.join(timeout=5)


def test_internal_listen_address(two_listeners: tuple[str, str]) -> None:
    public, internal = two_listeners
    with requests.Session() as http:
        hidden = http.get(public + "/metrics", timeout=10)
        assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"
        shown = http.get(internal + "/metrics", timeout=10)
        assert shown.status_code == 200 and "cbsi_grade_outbox_rows" in shown.text
        assert http.get(public + "/health", timeout=10).status_code == 200  # the rest is unchanged


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"token": "short"}, "metrics.token"),
        ({"listen": "localhost:9464"}, "metrics.listen"),
        ({"listen": "127.0.0.1"}, "metrics.listen"),
        ({"listen": "127.0.0.1:70000"}, "metrics.listen"),
        ({"allow_from": ["10.0.0.0/33"]}, "metrics.allow_from"),
        ({"allow_from": ["intranet"]}, "metrics.allow_from"),
    ],
)
def test_bad_settings_stop_start_up(settings_overrides: dict, config: dict, key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, overrides={**settings_overrides, "metrics": config})
    assert caught.value.key == key


def test_serve_also_listens_on_the_metrics_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: Services
) -> None:
    from lti_tool import cli as cli_module

    config = tmp_path / "metrics.toml"
    settings = services.settings
    config.write_text(
        f'[server]\nsecret_key = "{"k" * 40}"\ninstance_folder = "{settings.instance_path}"\n'
        f'[database]\nurl = "{settings.database_url}"\n[keys]\nfolder = "{settings.keys_path}"\n'
        '[metrics]\nlisten = "127.0.0.1:9464"\n'
    )
    seen: list[Any] = []
    monkeypatch.setattr(cli_module, "run_gunicorn", lambda _factory, bind, *_a: seen.append(bind))
    context = cli_module.CliContext(str(config))
    try:
        result = CliRunner().invoke(cli_module.cli, ["serve", "--bind", "0.0.0.0:8000"], obj=context)
    finally:
        context.services.db.dispose()  # serve would run until stopped; its pool must not outlive the test
    assert result.exit_code == 0, result.output
    assert seen == [["0.0.0.0:8000", "127.0.0.1:9464"]]
