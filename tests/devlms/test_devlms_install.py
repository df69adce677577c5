"""The development LMS is registered only in demo mode (issue #11, 6).

A production app has no ``/dev/platform`` routes at all (not routes that answer 404 on a flag);
a demo-mode app has them, served by the objects :func:`lti_tool.devlms.install` built.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask

from lti_tool import create_app, devlms
from lti_tool.devlms import identity
from lti_tool.services import Services, build_services
from lti_tool.settings import load_settings


def _app(settings_overrides: dict[str, dict[str, Any]], *, demo: bool) -> tuple[Flask, Services]:
    overrides = copy.deepcopy(settings_overrides)
    overrides["server"]["demo"] = demo
    settings = load_settings(environ={}, overrides=overrides)
    services = build_services(settings)
    services.keys.generate(if_missing=True)
    return create_app(settings, services=services), services


def test_production_app_has_no_development_lms(settings_overrides: dict[str, dict[str, Any]]) -> None:
    app, services = _app(settings_overrides, demo=False)
    try:
        assert "devplatform" not in app.blueprints
        assert not [rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith(identity.PATH)]
        client = app.test_client()
        for path in ("/dev/platform", "/dev/platform/", "/dev/platform/jwks", "/dev/platform/gradebook"):
            assert client.get(path).status_code == 404, path
        assert client.post("/dev/platform/token", data={"grant_type": "client_credentials"}).status_code == 404
        assert b"/dev/platform" not in client.get("/").data  # the home page links it only in demo mode
        assert not (services.settings.instance_path / "devplatform").exists()  # no platform key made either
    finally:
        services.db.dispose()


def test_demo_mode_app_serves_the_development_lms(settings_overrides: dict[str, dict[str, Any]]) -> None:
    app, services = _app(settings_overrides, demo=True)
    try:
        assert "devplatform" in app.blueprints
        client = app.test_client()
        home = client.get("/dev/platform")
        assert home.status_code == 200 and b"Sample activity" in home.data
        assert client.get("/dev/platform/").status_code == 200
        keys = client.get("/dev/platform/jwks").get_json()["keys"]
        assert [k["kid"] for k in keys] == [devlms_key_kid(services)]
        assert client.get("/dev/platform/gradebook").status_code == 200
        assert b"/dev/platform" in client.get("/").data
    finally:
        services.db.dispose()


def devlms_key_kid(services: Services) -> str:
    from lti_tool.devlms.state import load_or_create_key

    return load_or_create_key(services.settings.instance_path).kid


def test_each_app_gets_its_own_development_lms_objects(app: Flask, services: Services) -> None:
    """install() builds the objects and binds the views to them: no per-process or string-keyed state."""
    other = create_app(services.settings, services=services)
    first, second = devlms.install(app, services), devlms.install(other, services)
    assert first is not second and first.seen_jti is not second.seen_jti
    assert first.key.kid == second.key.kid  # one instance folder, one platform key
    assert first.iss == identity.issuer(services.settings.server.base_url)
    token = first.tokens.dumps({"scopes": ["x"], "n": "1"})
    assert second.tokens.loads(token) == {"scopes": ["x"], "n": "1"}  # same secret: either node checks it
