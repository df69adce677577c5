"""The one assembly (issue #11 item 1): ``build_services`` builds every long-lived object once;
the web app, the CLI and the grade worker all take theirs from it; nothing hides in string slots."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool import create_app, grades
from lti_tool.cli import CliContext
from lti_tool.lti.context import Launch, LaunchPage, LaunchRedirect
from lti_tool.services import Services, build_services, services_of
from lti_tool.settings import Settings
from lti_tool.web import content, lti, lti_adv, player, security
from sync.lti_claims import MESSAGE_RESOURCE_LINK as RESOURCE_LINK

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lti_tool"


def _page(launch: Launch) -> LaunchPage:
    return LaunchPage(f"custom {launch.id}")


def _two_apps(settings: Settings, services: Services) -> tuple[Flask, Flask]:
    first = create_app(settings, services=build_services(settings, db=services.db, keys=services.keys))
    second = create_app(settings, services=build_services(settings, db=services.db, keys=services.keys))
    return first, second


def test_two_apps_in_one_process_have_independent_launch_handlers(settings: Settings, services: Services) -> None:
    first, second = _two_apps(settings, services)
    one, two = services_of(first), services_of(second)
    assert one.launch_handlers is not two.launch_handlers
    one.launch_handlers.register("LtiSubmissionReviewRequest", _page)
    assert one.launch_handlers.handler_for("LtiSubmissionReviewRequest") is _page
    assert two.launch_handlers.handler_for("LtiSubmissionReviewRequest") is None
    # what each app's launch validator accepts follows its own registry only
    assert "LtiSubmissionReviewRequest" in one.lti.supported_message_types()
    assert "LtiSubmissionReviewRequest" not in two.lti.supported_message_types()
    two.launch_handlers.unregister(RESOURCE_LINK)
    assert one.launch_handlers.handler_for(RESOURCE_LINK) is lti.resource_link_handler
    assert RESOURCE_LINK not in two.lti.supported_message_types()


def test_the_framework_free_layer_has_no_process_wide_handlers_and_no_flask() -> None:
    from lti_tool.lti import context

    assert not [name for name, value in vars(context).items() if isinstance(value, dict) and not name.startswith("__")]
    for path in sorted((PACKAGE / "lti").glob("*.py")):
        source = path.read_text()
        assert not re.search(r"^\s*(from|import) (flask|werkzeug)\b", source, re.M), path.name
        assert "Flask response" not in source, path.name


def test_launch_results_become_responses(app: Flask) -> None:
    with app.test_request_context("/lti/launch", method="POST"):
        redirect = lti.launch_response(LaunchRedirect("/play/x?lt=t"))
        page = lti.launch_response(LaunchPage("<p>hi</p>", status=201, headers={"Cache-Control": "no-store"}))
        with pytest.raises(TypeError):
            lti.launch_response(("a Flask-style tuple", 200))  # type: ignore[arg-type]
    assert (redirect.status_code, redirect.headers["Location"]) == (303, "/play/x?lt=t")
    assert (page.status_code, page.mimetype, page.headers["Cache-Control"]) == (201, "text/html", "no-store")
    assert page.get_data(as_text=True) == "<p>hi</p>"


def test_views_reach_the_factory_objects(app: Flask, services: Services) -> None:
    assert services_of(app) is services
    with app.test_request_context("/"):
        assert lti.lti_service() is services.lti
        assert lti_adv.service_tokens() is services.service_tokens
        assert lti_adv.catalogue() is services.catalogue
        assert content.signer() is services.content_signer
        assert player.runtime_signer() is services.runtime_signer
        assert security.platform_gate() is services.platform_gate
    assert services.lti.key_cache is services.key_cache
    assert services.roster.tokens is services.service_tokens
    assert app.config["SECRET_KEY"] == services.secret_key


def test_an_app_without_services_is_refused_clearly() -> None:
    with pytest.raises(RuntimeError, match="create_app"):
        services_of(Flask("bare"))


def test_every_field_is_built_by_the_factory(services: Services) -> None:
    unset = [f.name for f in dataclasses.fields(Services) if getattr(services, f.name) is None]
    assert unset == []
    assert services.deliveries.for_course("scorm2004").playable
    assert [type(x) for x in services.outcome_listeners] == [grades.GradeOutboxListener]


def test_cli_worker_and_web_app_get_their_objects_from_one_factory(
    settings_overrides: dict[str, dict[str, Any]], app: Flask, services: Services
) -> None:
    cli_services = CliContext(None, settings_overrides).services
    try:
        web = services_of(app)
        kinds = {f.name: type(getattr(web, f.name)) for f in dataclasses.fields(Services)}
        assert {f.name: type(getattr(cli_services, f.name)) for f in dataclasses.fields(Services)} == kinds
        worker = grades.build_worker(cli_services)
        assert worker._ags is cli_services.ags
        assert worker._platforms is cli_services.platform_directory
        assert cli_services.ags._tokens is cli_services.grade_tokens
    finally:
        cli_services.db.dispose()


def test_no_string_keyed_extension_slots_in_the_code() -> None:
    """Only ``services.attach`` writes ``app.extensions`` (its one ``cbsi`` entry); the development
    platform's own slot is the one exception until it moves into its package (issue #11 item 6)."""
    allowed = {PACKAGE / "services.py", PACKAGE / "web" / "devplatform.py"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in allowed:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bextensions\s*(\[|\.get\(|\.setdefault\()", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_outcome_listeners_are_the_typed_port_not_a_string_bus() -> None:
    fields = {f.name for f in dataclasses.fields(Services)}
    assert "hooks" not in fields and not hasattr(Services, "add_hook")
    assert "outcome_listeners" in fields
