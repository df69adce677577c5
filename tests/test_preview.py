"""Operator preview: one-time signed links that open any catalogue course under the preview tenant,
never reaching a gradebook or an academy's reports (real packages)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import factories
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool import catalogue_usage, operators, preview, regional
from lti_tool.cli import cli
from lti_tool.lti import academies
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, AuditEntry, GradeOutbox, LearnerRegistration, Platform
from lti_tool.tokens import PURPOSE_PREVIEW, PURPOSE_RUNTIME, ScopedSigner, pack_json

GOLF2004 = factories.GOLF2004
GOLF12 = factories.GOLF12
CMI5_SINGLE = "cmi5/catapult_single_au_basic_framed.zip"
CMI5_MULTI = "cmi5/catapult_multi_au_framed.zip"
TINCAN = "xapi/GolfExample_TCAPI.zip"
CONFIG = re.compile(r'<script type="application/json" id="cbsi-player-config">(.*?)</script>', re.S)


def _path(url: str) -> str:
    return urlsplit(url).path


def _config(html: str) -> dict[str, Any]:
    match = CONFIG.search(html)
    assert match, html[:400]
    return json.loads(match.group(1))


def _open(client: FlaskClient, link: preview.PreviewLink) -> dict[str, Any]:
    page = client.get(_path(link.url))
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    assert 'id="preview-open"' in page.get_data(as_text=True)
    played = client.post(_path(link.url))
    assert played.status_code == 200, played.get_data(as_text=True)[:500]
    assert played.headers["Cache-Control"] == "no-store"
    return _config(played.get_data(as_text=True))


def _outbox(services: Services) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(GradeOutbox)) or 0)


def _attempt_platform(services: Services, attempt_id: str) -> Platform:
    with services.db.session() as s:
        attempt = s.get(Attempt, attempt_id)
        assert attempt is not None
        reg = s.get(LearnerRegistration, attempt.registration_id)
        assert reg is not None
        platform = s.get(Platform, reg.platform_id)
        assert platform is not None
        s.expunge(platform)
        return platform


def _commit(client: FlaskClient, runtime: dict[str, Any], changes: dict[str, str], *, seq: int = 1) -> Any:
    body = {"seq": seq, "changes": changes, "terminate": True}
    return client.post(
        runtime["commitUrl"], data=json.dumps(body), content_type="application/json",
        headers={"Authorization": f"Bearer {runtime['token']}"},
    )  # fmt: skip


def test_a_scorm_2004_preview_plays_under_the_preview_tenant_and_never_reaches_a_gradebook(
    client: FlaskClient, services: Services, fixtures_dir: Path
) -> None:
    course = factories.import_course(services, fixtures_dir / GOLF2004)
    link = preview.issue(services, course.course_key)
    assert link.url.startswith("http://localhost/preview/") and link.standard == "scorm2004"
    config = _open(client, link)
    assert config["title"].startswith("Preview: ")
    assert config["homeUrl"] == "/preview/ended" and config["returnUrl"] is None
    platform = _attempt_platform(services, config["attemptId"])
    assert platform.source == "preview" and platform.issuer == preview.ISSUER and platform.status == "active"
    runtime = config["runtime"]
    done = _commit(
        client, runtime,
        {"cmi.completion_status": "completed", "cmi.success_status": "passed", "cmi.score.scaled": "0.9"},
    )  # fmt: skip
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["attempt_outcome"]["completion"] == "completed"
    assert _outbox(services) == 0  # no grade outbox row: nothing goes to any gradebook
    # a second open of the same link is refused with a page that says why (GET and POST)
    again = client.post(_path(link.url))
    assert again.status_code == 410 and "preview_link_used" in again.get_data(as_text=True)
    assert client.get(_path(link.url)).status_code == 410


@pytest.mark.parametrize(
    "package",
    [
        GOLF12,
        TINCAN,
        CMI5_SINGLE,
        "scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip",  # several items, assets among them
        "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip",  # sequencing
    ],
)
def test_every_standard_opens_in_a_preview(
    client: FlaskClient, services: Services, fixtures_dir: Path, package: str
) -> None:
    course = factories.import_course(services, fixtures_dir / package)
    config = _open(client, preview.issue(services, course.course_key))
    assert config["attemptId"] and config["items"]
    if "OneFilePerSCO" in package:
        assert any(item["kind"] == "asset" for item in config["items"])
    assert _attempt_platform(services, config["attemptId"]).source == "preview"


def test_cmi5_au_is_picked_and_bound_to_the_link(client: FlaskClient, services: Services, fixtures_dir: Path) -> None:
    course = factories.import_course(services, fixtures_dir / CMI5_MULTI)
    first = preview.issue(services, course.course_key)
    assert first.au is not None
    with services.db.session() as s:
        attempt_items = [i for i in _items(services, course.course_key, s)]
    second_au = attempt_items[1]
    link = preview.issue(services, course.course_key, au=second_au)
    config = _open(client, link)
    assert config["current"] == second_au
    with pytest.raises(preview.PreviewAuNotFound) as refused:
        preview.issue(services, course.course_key, au="https://no.such/au")
    assert refused.value.code == "preview_au_not_found" and refused.value.status == 404
    golf = factories.import_course(services, fixtures_dir / GOLF12)
    with pytest.raises(preview.PreviewAuNotFound):
        preview.issue(services, golf.course_key, au="anything")


def _items(services: Services, key: str, s: Any) -> list[str]:
    from lti_tool.runtime.structure import player_items
    from lti_tool.storage import courses as course_store

    course = course_store.find_course(s, key)
    assert course is not None
    version = course_store.newest_version(s, course.id)
    assert version is not None
    return [item.id for item in player_items(version)]


def test_learner_name_resumes_and_no_name_is_a_fresh_attempt(
    client: FlaskClient, services: Services, fixtures_dir: Path
) -> None:
    course = factories.import_course(services, fixtures_dir / GOLF12)
    ana1 = _open(client, preview.issue(services, course.course_key, learner="Ana Check"))
    _commit(client, ana1["runtime"], {"cmi.core.lesson_location": "page-3", "cmi.core.exit": "suspend"})
    ana2 = _open(client, preview.issue(services, course.course_key, learner="  Ana   Check "))
    assert ana2["attemptId"] == ana1["attemptId"]
    anon1 = _open(client, preview.issue(services, course.course_key))
    anon2 = _open(client, preview.issue(services, course.course_key))
    assert len({anon1["attemptId"], anon2["attemptId"], ana1["attemptId"]}) == 3
    with pytest.raises(preview.PreviewError) as bad:
        preview.issue(services, course.course_key, learner="x" * 101)
    assert bad.value.code == "preview_learner_invalid"


def test_hostile_links_get_a_precise_refusal(client: FlaskClient, services: Services, fixtures_dir: Path) -> None:
    course = factories.import_course(services, fixtures_dir / GOLF12)
    link = preview.issue(services, course.course_key)
    token = link.token
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    runtime_token = ScopedSigner(services.secret_key, PURPOSE_RUNTIME, 600).sign(
        [token.split(".")[0], str(link.version_id), pack_json({"au": None, "learner": None})]
    )
    # a signed preview token with no server-side record (e.g. made with a leaked key for another id)
    unrecorded = preview.signer(services).sign(["preview-" + "0" * 32, str(link.version_id), pack_json({})])
    for bad, status, code in (
        (forged, 404, "preview_link_invalid"),
        (runtime_token, 404, "preview_link_invalid"),  # right fields, another purpose
        ("x" * 5000, 404, "preview_link_invalid"),
        ("a.b.c", 404, "preview_link_invalid"),
        (unrecorded, 404, "preview_link_invalid"),
    ):
        for method in (client.get, client.post):
            answer = method(f"/preview/{bad}")
            assert answer.status_code == status, (bad[:30], answer.status_code)
            assert code in answer.get_data(as_text=True)
            json_answer = method(f"/preview/{bad}", headers={"Accept": "application/json"})
            assert json_answer.get_json()["error"] == code
    assert client.post(_path(link.url)).status_code == 200  # the real one still opens


def test_an_expired_link_is_refused(client: FlaskClient, services: Services, fixtures_dir: Path) -> None:
    course = factories.import_course(services, fixtures_dir / GOLF12)
    old = datetime.now(UTC) - timedelta(hours=2)
    clock = ScopedSigner(services.secret_key, PURPOSE_PREVIEW, 60, clock=lambda: old.timestamp())
    preview_id = "preview-" + "1" * 32
    token = clock.sign([preview_id, "1", pack_json({"au": None, "learner": None})])
    answer = client.post(f"/preview/{token}", headers={"Accept": "application/json"})
    assert answer.status_code == 410 and answer.get_json()["error"] == "preview_link_expired"
    # signature still valid, server-side record expired: refused as expired, not spent
    link = preview.issue(services, course.course_key, now=old)
    answer = client.post(_path(link.url), headers={"Accept": "application/json"})
    assert answer.status_code == 410 and answer.get_json()["error"] in {"preview_link_expired"}
    assert services.settings.player.preview_ttl_seconds == 1800


def test_an_lti_cookie_of_an_academy_changes_nothing(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    from lti_tool.web.lti import LAUNCH_COOKIE

    course = factories.import_course(services, fixtures_dir / GOLF12)
    client.set_cookie(LAUNCH_COOKIE, "forged-or-other-tenant-launch-token")
    refused = client.post("/preview/not-a-token", headers={"Accept": "application/json"})
    assert refused.status_code == 404 and refused.get_json()["error"] == "preview_link_invalid"
    config = _open(client, preview.issue(services, course.course_key))
    platform = _attempt_platform(services, config["attemptId"])
    assert platform.source == "preview" and platform.id != platform_id


def test_unknown_course_and_version(services: Services, fixtures_dir: Path) -> None:
    course = factories.import_course(services, fixtures_dir / GOLF12)
    for ident in ("no-such-course", "999999", ""):
        with pytest.raises(preview.PreviewCourseNotFound) as missing:
            preview.issue(services, ident)
        assert missing.value.status == 404
    with pytest.raises(preview.PreviewCourseNotFound):
        preview.issue(services, course.course_key, version=7)


def test_preview_is_left_out_of_academy_lists_and_reports(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    from lti_tool.runtime import service

    course = factories.import_course(services, fixtures_dir / GOLF12)
    service.open_attempt(services, factories.launch(course.course_key, platform_id=platform_id))
    config = _open(client, preview.issue(services, course.course_key))
    _commit(client, config["runtime"], {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "90"})
    rows = academies.overview(services.db)
    assert [r.info.id for r in rows] == [platform_id]
    report = regional.regional_report(services.db)
    assert len(report.totals.learners) == 1 and report.totals.completed == 0
    assert list(report.academies) == [platform_id]
    use = catalogue_usage.course_usage(services.db, course.course_id)
    assert use is not None and use.activities == 1
    assert [a.platform_id for v in use.versions for a in v.academies] == [platform_id]


def test_console_button_is_audited_and_needs_csrf(client: FlaskClient, services: Services, fixtures_dir: Path) -> None:
    course = factories.import_course(services, fixtures_dir / CMI5_SINGLE)
    operators.set_operator(services, "ops", "correct horse battery")
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    client.post("/admin/login", data={"username": "ops", "password": "correct horse battery", "csrf_token": csrf[1]})
    path = f"/admin/packages/{course.course_id}/preview"
    assert client.post(path, data={}).status_code == 403
    catalogue_page = client.get(f"/admin/packages/{course.course_id}").get_data(as_text=True)
    assert f'action="{path}"' in catalogue_page and 'target="_blank"' in catalogue_page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', catalogue_page)
    assert csrf
    assert f'action="{path}"' in client.get("/admin/packages").get_data(as_text=True)
    answer = client.post(path, data={"csrf_token": csrf[1], "version": "1", "learner": "Ops"})
    assert answer.status_code == 303 and answer.headers["Location"].startswith("http://localhost/preview/")
    with services.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "packages.preview")).one()
        assert entry.actor == "ops" and entry.params["course"] == course.course_id
        assert entry.params["au"] and entry.params["learner"] == "Ops"
    config = _open(client, preview.PreviewLink(
        url=answer.headers["Location"], token="", course_id=0, version_id=0, version=0, title="", standard="",
        au=None, learner="", expires_at=datetime.now(UTC),
    ))  # fmt: skip
    assert config["attemptId"]
    missing = client.post(path, data={"csrf_token": csrf[1], "au": "nope"}, headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.get_json()["error"] == "preview_au_not_found"
    bad = client.post(path, data={"csrf_token": csrf[1], "version": "x"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "preview_version_invalid"
    assert client.post("/admin/packages/99999/preview", data={"csrf_token": csrf[1]}).status_code == 404


def test_cli_prints_a_one_time_url(tmp_path: Path, fixtures_dir: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nsecret_key = "{"k" * 40}"\ninstance_folder = "{tmp_path / "instance"}"\n'
        f'base_url = "https://tool.example"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "cli.sqlite3"}"\n[keys]\nfolder = "{tmp_path / "keys"}"\n'
        f'[content]\nfolder = "{tmp_path / "content"}"\n'
    )

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    assert run("packages", "import", str(fixtures_dir / CMI5_SINGLE)).exit_code == 0
    made = run("packages", "preview", "1", "--learner", "Ops check")
    assert made.exit_code == 0, made.output
    url = made.stdout.strip()
    assert re.fullmatch(r"https://tool\.example/preview/[A-Za-z0-9_.-]+", url), made.output
    assert "opens once" in made.stderr and "Ops check" in made.stderr
    unknown = run("packages", "preview", "nope")
    assert unknown.exit_code == 2 and "preview_course_not_found" in unknown.output
    bad_au = run("packages", "preview", "1", "--au", "nope")
    assert bad_au.exit_code == 2 and "preview_au_not_found" in bad_au.output
