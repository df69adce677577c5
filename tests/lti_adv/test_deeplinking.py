"""Deep Linking 2.0: the catalogue picker, the signed LtiDeepLinkingResponse, tampered picker posts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import time
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool import create_app
from lti_tool.lti.context import Launch, LaunchPage
from lti_tool.lti.deeplinking import (
    CatalogueEntry,
    DbCatalogueSource,
    DeepLinkingContext,
    DeepLinkingNotAllowed,
    DeepLinkingUnsupported,
    PickerTokenInvalid,
    SelectionInvalid,
    context_from_launch,
    issue_picker_token,
    parse_pick,
    read_picker_token,
    resolve_selection,
)
from lti_tool.services import Services, build_services, services_of
from lti_tool.settings import Settings
from lti_tool.storage.models import Platform
from lti_tool.tokens import PURPOSE_CONTENT, ScopedSigner
from lti_tool.web import lti_adv
from sync.lti_claims import CLAIM, DL_CLAIM

ISSUER = "https://moodle.academy.example"
RETURN_URL = "https://moodle.academy.example/mod/lti/contentitem_return.php?course=7&id=3"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

COURSES = [
    CatalogueEntry(course_id="chem-101", version=3, title="Chemistry basics", description="Atoms and bonds",
                   standard="scorm12", language="en", sco_count=4),
    CatalogueEntry(course_id="chem-201", version=1, title="Organic chemistry", description="Carbon",
                   standard="scorm2004", language="en", sco_count=9),
    CatalogueEntry(course_id="bio-fr", version=2, title="Biologie cellulaire", description="",
                   standard="xapi", language="fr", sco_count=1),
    CatalogueEntry(course_id="safety", version=7, title="Lab safety <script>", description="Goggles & gloves",
                   standard="cmi5", language="en", sco_count=1),
]  # fmt: skip


class FakeCatalogue:
    """The catalogue port with a fixed list of courses."""

    def __init__(self, entries: list[CatalogueEntry]) -> None:
        self.entries = entries

    def search(self, query: str, standard: str | None, language: str | None) -> list[CatalogueEntry]:
        return [
            e
            for e in self.entries
            if query.lower() in e.title.lower()
            and (standard is None or e.standard == standard)
            and (language is None or e.language == language)
        ]


def make_launch(
    *,
    launch_id: str = "launch-dl-1",
    roles: tuple[str, ...] = (INSTRUCTOR,),
    accept_multiple: bool | None = True,
    accept_types: list[str] | None = None,
    data: str | None = "opaque-moodle-data-42",
    return_url: str | None = RETURN_URL,
) -> Launch:
    settings: dict[str, Any] = {
        "accept_types": accept_types if accept_types is not None else ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "title": "Add a CBSI course",
    }
    if return_url is not None:
        settings["deep_link_return_url"] = return_url
    if accept_multiple is not None:
        settings["accept_multiple"] = accept_multiple
    if data is not None:
        settings["data"] = data
    return Launch(
        id=launch_id,
        platform_id=1,
        issuer=ISSUER,
        client_id="moodle-client-1",
        deployment_id="dep-1",
        message_type="LtiDeepLinkingRequest",
        sub="teacher-9",
        roles=roles,
        context_id="ctx-7",
        claims={DL_SETTINGS: settings},
    )


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch, services: Services) -> dict[str, Launch]:
    """The launches the picker finds (a stand-in for the ``lti_launches`` rows), and the active
    platform they name."""
    with services.db.session() as s:  # the platform make_launch() names (id 1), active
        s.merge(
            Platform(
                id=1,
                issuer=ISSUER,
                client_id="moodle-client-1",
                name="Academy",
                auth_login_url=ISSUER + "/auth",
                auth_token_url=ISSUER + "/token",
                key_set_url=ISSUER + "/jwks",
                status="active",
            )
        )
    store: dict[str, Launch] = {}
    monkeypatch.setattr(lti_adv, "load_launch", store.get)
    return store


@pytest.fixture
def dl_app(settings: Settings, services: Services, launches: dict[str, Launch]) -> Flask:
    """The app over a fixed catalogue (``build_services(catalogue=...)``), sharing the test database."""
    shared = build_services(settings, db=services.db, keys=services.keys, catalogue=FakeCatalogue(COURSES))
    app = create_app(settings, services=shared)
    app.testing = True
    return app


def open_picker(app: Flask, launch: Launch, store: dict[str, Launch] | None = None) -> tuple[str, str]:
    """Run the registered handler like /lti/launch does; return (page, picker token)."""
    if store is not None:
        store[launch.id] = launch
    with app.test_request_context("/lti/launch", method="POST"):
        handler = services_of(app).launch_handlers.handler_for("LtiDeepLinkingRequest")
        assert handler is not None
        result = handler(launch)
        assert isinstance(result, LaunchPage) and result.headers["Cache-Control"] == "no-store"
        page = result.html
    match = re.search(r'name="dl_token" value="([^"]+)"', page)
    assert match, page
    return page, html.unescape(match.group(1))


def submit(client: FlaskClient, token: str, picks: list[str]) -> Any:
    return client.post("/lti/deep-linking/respond", data={"dl_token": token, "course": picks})


def returned_jwt(page: str) -> tuple[str, str]:
    action = re.search(r'<form id="dl-return" method="post" action="([^"]+)"', page)
    value = re.search(r'name="JWT" value="([^"]+)"', page)
    assert action and value, page
    return html.unescape(action.group(1)), value.group(1)


def verify_with_tool_jwks(client: FlaskClient, token: str, audience: str) -> dict[str, Any]:
    jwks = client.get("/.well-known/jwks.json").get_json()
    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [k for k in jwks["keys"] if k["kid"] == kid]
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=audience)


# -- the picker ------------------------------------------------------------------------------


def test_handler_is_registered_and_lists_the_catalogue(dl_app: Flask, launches: dict[str, Launch]):
    assert services_of(dl_app).launch_handlers.handler_for("LtiDeepLinkingRequest") is lti_adv.deep_linking_launch
    page, _token = open_picker(dl_app, make_launch(), launches)
    for course in COURSES:
        assert html.escape(course.title) in page
    assert "Lab safety &lt;script&gt;" in page and "Lab safety <script>" not in page
    assert 'type="checkbox"' in page and 'value="chem-101@3"' in page


def test_single_pick_platform_gets_radio_buttons(dl_app: Flask, launches: dict[str, Launch]):
    page, _ = open_picker(dl_app, make_launch(accept_multiple=False), launches)
    assert 'type="radio"' in page and 'type="checkbox"' not in page


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"q": "chem"}, {"chem-101", "chem-201"}),
        ({"q": "CHEMISTRY basics"}, {"chem-101"}),
        ({"standard": "xapi"}, {"bio-fr"}),
        ({"language": "en", "standard": "cmi5"}, {"safety"}),
        ({"language": "fr", "q": "chem"}, set()),
        ({}, {c.course_id for c in COURSES}),
    ],
)
def test_search_by_title_standard_and_language(
    dl_app: Flask, launches: dict[str, Launch], form: dict[str, str], expected: set[str]
):
    _, token = open_picker(dl_app, make_launch(), launches)
    response = dl_app.test_client().post("/lti/deep-linking/picker", data={"dl_token": token, **form})
    assert response.status_code == 200
    shown = set(re.findall(r'name="course" id="c\d+" value="([^"@]+)@', response.get_data(as_text=True)))
    assert shown == expected


# -- the response ----------------------------------------------------------------------------


def test_response_jwt_is_signed_and_complete(dl_app: Flask, launches: dict[str, Launch], services: Services):
    _, token = open_picker(dl_app, make_launch(), launches)
    client = dl_app.test_client()
    response = submit(client, token, ["chem-101@3", "bio-fr@2"])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    action, token_jwt = returned_jwt(response.get_data(as_text=True))
    assert action == RETURN_URL
    header = jwt.get_unverified_header(token_jwt)
    assert header["alg"] == "RS256" and header["kid"] == services.keys.signing_key().kid

    claims = verify_with_tool_jwks(client, token_jwt, audience=ISSUER)
    assert claims["iss"] == "moodle-client-1" and claims["aud"] == ISSUER
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == "dep-1"
    assert claims[DL_CLAIM + "data"] == "opaque-moodle-data-42"
    assert len(claims["nonce"]) >= 16
    assert 0 < claims["exp"] - claims["iat"] <= 600
    items = claims[DL_CLAIM + "content_items"]
    assert items == [
        {
            "type": "ltiResourceLink",
            "title": "Chemistry basics",
            "text": "Atoms and bonds",
            "url": "http://localhost/lti/launch",
            "custom": {"course": "chem-101", "version": "3"},
            "lineItem": {
                "scoreMaximum": 100,
                "label": "Chemistry basics",
                "resourceId": "chem-101",
                "tag": "cbsi-grade",
            },
        },
        {
            "type": "ltiResourceLink",
            "title": "Biologie cellulaire",
            "url": "http://localhost/lti/launch",
            "custom": {"course": "bio-fr", "version": "2"},
            "lineItem": {
                "scoreMaximum": 100,
                "label": "Biologie cellulaire",
                "resourceId": "bio-fr",
                "tag": "cbsi-grade",
            },
        },
    ]


def test_no_data_claim_when_the_request_had_none(dl_app: Flask, launches: dict[str, Launch]):
    _, token = open_picker(dl_app, make_launch(data=None), launches)
    client = dl_app.test_client()
    _, token_jwt = returned_jwt(submit(client, token, ["safety@7"]).get_data(as_text=True))
    claims = verify_with_tool_jwks(client, token_jwt, audience=ISSUER)
    assert DL_CLAIM + "data" not in claims
    assert claims[DL_CLAIM + "content_items"][0]["title"] == "Lab safety <script>"


def test_response_is_accepted_by_the_lti1p3platform_reference_platform(
    dl_app: Flask, launches: dict[str, Launch], services: Services
):
    """An independent platform implementation (PyPI lti1p3platform) validates our response."""
    from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
    from lti1p3platform.registration import Registration

    registration = Registration().set_iss(ISSUER).set_client_id("moodle-client-1")
    registration.set_tool_key_set(services.keys.jwks())

    class ReferencePlatform(LTI1P3PlatformConfAbstract):
        def init_platform_config(self, **kwargs: Any) -> None:
            return None

        def get_registration_by_params(self, **kwargs: Any) -> Registration:
            return registration

    reference = ReferencePlatform()
    reference.get_registration()
    reference.set_accepted_deeplinking_types(["ltiResourceLink"])

    _, token = open_picker(dl_app, make_launch(), launches)
    _, token_jwt = returned_jwt(submit(dl_app.test_client(), token, ["chem-201@1"]).get_data(as_text=True))
    items = reference.validate_deeplinking_resp({"JWT": token_jwt})
    assert [i["custom"] for i in items] == [{"course": "chem-201", "version": "1"}]


# -- refusals --------------------------------------------------------------------------------


def _previous_release_token(ctx: DeepLinkingContext, secret: str, *, alg: str = "HS256", exp_in: int = 3600) -> str:
    """A picker token as the previous release issued it (HS256 JWT), written from its format."""
    now = int(time.time())
    claims = {
        "aud": "cbsi-connect/deep-linking-picker",
        "sub": ctx.launch_id,
        "iat": now,
        "exp": now + exp_in,
        "ctx": {
            "platform_id": ctx.platform_id,
            "issuer": ctx.issuer,
            "client_id": ctx.client_id,
            "deployment_id": ctx.deployment_id,
            "return_url": ctx.return_url,
            "accept_multiple": ctx.accept_multiple,
            "accept_types": list(ctx.accept_types),
            "data": ctx.data,
            "title": ctx.title,
        },
    }
    if alg == "none":
        return jwt.encode(claims, None, algorithm="none")
    key = hmac.new(secret.encode(), b"cbsi-connect deep-linking picker v1", hashlib.sha256).digest()
    return jwt.encode(claims, key, algorithm="HS256")


def _repacked(field: str, **changes: Any) -> str:
    settings = json.loads(base64.urlsafe_b64decode(field + "=" * (-len(field) % 4)))
    raw = json.dumps({**settings, **changes}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "tamper",
    [
        "missing",
        "garbage",
        "flipped_signature",
        "other_secret",
        "return_url_swapped_unsigned",
        "launch_swapped_unsigned",
        "expiry_extended_unsigned",
        "other_purpose",
        "previous_release_none_algorithm",
        "previous_release_other_secret",
        "previous_release_expired",
        "unknown_launch",
        "other_deployment_in_store",
    ],
)
def test_tampered_picker_posts_are_refused(dl_app: Flask, launches: dict[str, Launch], tamper: str):
    launch = make_launch()
    _, token = open_picker(dl_app, launch, launches)
    launch_id, settings, expiry, mac = token.split(".")
    secret = str(dl_app.secret_key)
    ctx = context_from_launch(launch)
    forged: str | None
    if tamper == "missing":
        forged = None
    elif tamper == "garbage":
        forged = "not-a-token"
    elif tamper == "flipped_signature":
        forged = f"{launch_id}.{settings}.{expiry}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    elif tamper == "other_secret":
        forged = issue_picker_token(ctx, secret="another-server-secret-" + "y" * 30, now=datetime.now(UTC))
    elif tamper == "return_url_swapped_unsigned":
        forged = f"{launch_id}.{_repacked(settings, return_url='https://evil.example/steal')}.{expiry}.{mac}"
    elif tamper == "launch_swapped_unsigned":
        forged = f"launch-other.{settings}.{expiry}.{mac}"
    elif tamper == "expiry_extended_unsigned":
        forged = f"{launch_id}.{settings}.{int(expiry) + 86400}.{mac}"
    elif tamper == "other_purpose":  # same secret, same fields, signed for the content links
        forged = ScopedSigner(secret, PURPOSE_CONTENT, 3600).sign([launch_id, settings])
    elif tamper == "previous_release_none_algorithm":
        forged = _previous_release_token(ctx, secret, alg="none")
    elif tamper == "previous_release_other_secret":
        forged = _previous_release_token(ctx, "another-server-secret-" + "y" * 30)
    elif tamper == "previous_release_expired":
        forged = _previous_release_token(ctx, secret, exp_in=-1)
    elif tamper == "unknown_launch":
        launches.clear()
        forged = token
    else:
        launches[launch.id] = replace(launch, deployment_id="dep-other")
        forged = token
    data: dict[str, Any] = {"course": ["chem-101@3"]}
    if forged is not None:
        data["dl_token"] = forged
    client = dl_app.test_client()
    for path in ("/lti/deep-linking/respond", "/lti/deep-linking/picker"):
        response = client.post(path, data=data)
        page = response.get_data(as_text=True)
        assert response.status_code == 403, page
        assert "picker_token_invalid" in page
        assert 'name="JWT"' not in page


def test_a_picker_the_previous_release_opened_still_posts(dl_app: Flask, launches: dict[str, Launch]):
    """Rolling upgrade: a picker opened on a node of the previous release is submitted to this one."""
    launch = make_launch()
    open_picker(dl_app, launch, launches)
    token = _previous_release_token(context_from_launch(launch), str(dl_app.secret_key))
    assert returned_jwt(submit(dl_app.test_client(), token, ["chem-101@3"]).get_data(as_text=True))


def test_expired_picker_token_is_refused():
    secret = "s" * 40
    ctx = context_from_launch(make_launch())
    issued = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    token = issue_picker_token(ctx, secret=secret, now=issued)
    assert read_picker_token(token, secret=secret, now=issued + timedelta(minutes=59)) == ctx
    with pytest.raises(PickerTokenInvalid):
        read_picker_token(token, secret=secret, now=issued + timedelta(minutes=60))
    with pytest.raises(PickerTokenInvalid):
        read_picker_token(token, secret=secret, now=issued, launch_id="another-launch")


@pytest.mark.parametrize(
    ("launch_kw", "picks", "status", "needle"),
    [
        ({}, [], 400, "pick at least one course"),
        ({}, ["nope@1"], 400, "not in the catalogue"),
        ({}, ["chem-101@2"], 400, "not in the catalogue"),  # a version the catalogue does not offer
        ({}, ["chem-101"], 400, "selection was altered"),
        ({}, ["chem-101@x"], 400, "selection was altered"),
        ({"accept_multiple": False}, ["chem-101@3", "chem-201@1"], 400, "one course at a time"),
        ({"accept_multiple": None}, ["chem-101@3", "chem-201@1"], 400, "one course at a time"),
    ],
)
def test_invalid_selections_re_render_the_picker(
    dl_app: Flask, launches: dict[str, Launch], launch_kw: dict[str, Any], picks: list[str], status: int, needle: str
):
    _, token = open_picker(dl_app, make_launch(**launch_kw), launches)
    response = submit(dl_app.test_client(), token, picks)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert needle in page and 'name="dl_token"' in page and 'name="JWT"' not in page


@pytest.mark.parametrize(
    ("launch_kw", "error", "code", "status"),
    [
        ({"roles": (LEARNER,)}, DeepLinkingNotAllowed, "deep_linking_forbidden", 403),
        ({"roles": ()}, DeepLinkingNotAllowed, "deep_linking_forbidden", 403),
        ({"accept_types": ["link", "html"]}, DeepLinkingUnsupported, "deep_linking_unsupported", 400),
        ({"return_url": None}, DeepLinkingUnsupported, "deep_linking_unsupported", 400),
        ({"return_url": "javascript:alert(1)"}, DeepLinkingUnsupported, "deep_linking_unsupported", 400),
    ],
)
def test_launches_that_cannot_use_the_picker(
    dl_app: Flask, launch_kw: dict[str, Any], error: type, code: str, status: int
):
    launch = make_launch(**launch_kw)
    with pytest.raises(error) as err:
        context_from_launch(launch)
    assert (err.value.code, err.value.status) == (code, status)


def test_administrator_may_pick():
    admin = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
    assert context_from_launch(make_launch(roles=(admin,))).client_id == "moodle-client-1"


def test_handler_errors_render_the_error_page(dl_app: Flask):
    """Raised from the handler inside /lti/launch, the app's error handler shows a page, not a trace."""

    @dl_app.post("/_test/dl")
    def _launch_route() -> Any:
        return lti_adv.deep_linking_launch(make_launch(roles=(LEARNER,)))

    response = dl_app.test_client().post("/_test/dl")
    assert response.status_code == 403 and "deep_linking_forbidden" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("a@1", ("a", 1)), ("x@y@12", ("x@y", 12)), ("@1", SelectionInvalid), ("a@", SelectionInvalid)],
)
def test_parse_pick(value: str, parsed: Any):
    if isinstance(parsed, type):
        with pytest.raises(parsed):
            parse_pick(value)
    else:
        assert parse_pick(value) == parsed


def test_resolve_selection_deduplicates():
    entries = resolve_selection(["chem-101@3", "chem-101@3"], catalogue=FakeCatalogue(COURSES), accept_multiple=True)
    assert [e.course_id for e in entries] == ["chem-101"]


# -- the database catalogue adapter ---------------------------------------------------------


def _course_zip(tmp_path: Path, ident: str, title: str, language: str) -> Path:
    """A minimal SCORM 1.2 package with the given identifier, title and language."""
    manifest = f"""<?xml version="1.0"?>
<manifest identifier="{ident}" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2" xmlns:lom="http://www.imsglobal.org/xsd/imsmd_rootv1p2p1">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion>
    <lom:lom><lom:general><lom:language>{language}</lom:language></lom:general></lom:lom></metadata>
  <organizations default="o"><organization identifier="o"><title>{title}</title>
    <item identifier="i" identifierref="r"><title>{title}</title></item></organization></organizations>
  <resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="index.html">
    <file href="index.html"/></resource></resources>
</manifest>"""
    path = tmp_path / f"{ident}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("imsmanifest.xml", manifest)
        zf.writestr("index.html", "<html></html>")
    return path


@pytest.fixture
def courses_table(services: Services, tmp_path: Path) -> dict[str, str]:
    """Three real catalogue courses imported through ``lti_tool.catalogue``; title → course id."""
    from lti_tool import catalogue

    ids = {}
    for ident, title, language in [
        ("chem-101", "Chemistry basics", "en"),
        ("bio-fr", "Biologie 100%_cellulaire", "fr"),
        ("phys", "Physics", "en"),
    ]:
        outcome = catalogue.import_package(services, _course_zip(tmp_path, ident, title, language))
        ids[ident] = str(outcome.course_id)
    return ids


def test_db_catalogue_without_courses_is_empty(services: Services):
    assert DbCatalogueSource(services.db).search("", None, None) == []


@pytest.mark.parametrize(
    ("query", "standard", "language", "expected"),
    [
        ("", None, None, ["bio-fr", "chem-101", "phys"]),
        ("CHEM", None, None, ["chem-101"]),
        ("100%_", None, None, ["bio-fr"]),  # LIKE wildcards in the query are literal
        ("%y", None, None, []),  # would match "Physics" and "Biologie" as a wildcard
        ("", "scorm2004", None, []),
        ("", "scorm12", None, ["bio-fr", "chem-101", "phys"]),
        ("", None, "en", ["chem-101", "phys"]),
        ("s", "scorm12", "en", ["chem-101", "phys"]),
    ],
)
def test_db_catalogue_search(
    services: Services,
    courses_table: dict[str, str],
    query: str,
    standard: str | None,
    language: str | None,
    expected: list[str],
):
    by_id = {v: k for k, v in courses_table.items()}
    found = DbCatalogueSource(services.db).search(query, standard, language)
    assert sorted(by_id[e.course_id] for e in found) == expected


def test_db_catalogue_maps_columns(services: Services, courses_table: dict[str, str]):
    [entry] = DbCatalogueSource(services.db).search("biologie", None, None)
    assert entry == CatalogueEntry(
        course_id=courses_table["bio-fr"], version=1, title="Biologie 100%_cellulaire", description="",
        standard="scorm12", language="fr", sco_count=1, package_title="Biologie 100%_cellulaire",
    )  # fmt: skip


def test_picker_uses_the_database_catalogue_by_default(
    app: Flask, launches: dict[str, Launch], courses_table: dict[str, str]
):
    page, _ = open_picker(app, make_launch(), launches)
    assert "Chemistry basics" in page and "Physics" in page


def test_the_picker_reads_launches_from_the_launch_table(app: Flask, services: Services, platform_id: int):
    """``load_launch`` reads the stored ``lti_launches`` row: known → the launch, unknown or expired → None."""
    from lti_tool.lti import launches as launch_rows
    from lti_tool.storage.models import LtiLaunch, utcnow

    now = utcnow()
    with services.db.session() as s:
        s.add(
            LtiLaunch(
                id="launch-stored",
                platform_id=platform_id,
                issuer="https://lms.example",
                client_id="client-1",
                deployment_id="dep-1",
                message_type="LtiDeepLinkingRequest",
                sub="teacher-1",
                claims={"sub": "teacher-1"},
                created_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )
    with app.test_request_context("/"):
        found = lti_adv.load_launch("launch-stored")
        assert found is not None and (found.platform_id, found.deployment_id) == (platform_id, "dep-1")
        assert found == launch_rows.load_launch(services.db, "launch-stored", now=now)
        assert lti_adv.load_launch("unknown") is None
    assert launch_rows.load_launch(services.db, "launch-stored", now=now + timedelta(minutes=6)) is None


# -- titles the LMS sees (issue 12, Moodle items 8 and 9) -------------------------------------


def test_picker_intro_keeps_the_lms_title_apart_from_the_instructions(dl_app: Flask, launches: dict[str, Launch]):
    launch = make_launch()
    launch.claims[DL_SETTINGS]["title"] = "CBSI-Connect"
    page, _ = open_picker(dl_app, launch, launches)
    assert "CBSI-Connect You can pick" not in page
    intro = re.search(r'<p class="muted" id="dl-intro">([^<]*)</p>', page)
    assert intro and intro.group(1).startswith("You can pick several courses;")
    assert re.search(r'id="dl-suggested-title">[^<]*<q>CBSI-Connect</q>', page)
    single, _ = open_picker(dl_app, make_launch(launch_id="launch-dl-2", accept_multiple=False), launches)
    assert re.search(r'id="dl-intro">Pick one course\.', single)


def test_same_titled_courses_become_distinguishable_activities_and_grade_columns(
    app: Flask, launches: dict[str, Launch], services: Services, fixtures_dir: Path
):
    from lti_tool import catalogue

    golf12 = catalogue.import_package(services, fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip")
    golf2004 = catalogue.import_package(services, fixtures_dir / "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip")
    page, token = open_picker(app, make_launch(), launches)
    assert "Golf Explained - Run-time Basic Calls (SCORM 1.2)" in page
    assert "package title: Golf Explained - Run-time Basic Calls" in page
    client = app.test_client()
    picks = [f"{golf12.course_id}@1", f"{golf2004.course_id}@1"]
    _, token_jwt = returned_jwt(submit(client, token, picks).get_data(as_text=True))
    items = verify_with_tool_jwks(client, token_jwt, audience=ISSUER)[DL_CLAIM + "content_items"]
    titles = [item["title"] for item in items]
    labels = [item["lineItem"]["label"] for item in items]
    assert (
        titles
        == labels
        == [
            "Golf Explained - Run-time Basic Calls (SCORM 1.2)",
            "Golf Explained - Run-time Basic Calls (SCORM 2004 3rd edition)",
        ]
    )

    catalogue.set_display_title(services, str(golf2004.course_id), "Golf: the API tour")
    _, token = open_picker(app, make_launch(launch_id="launch-dl-3"), launches)
    _, token_jwt = returned_jwt(submit(client, token, picks).get_data(as_text=True))
    items = verify_with_tool_jwks(client, token_jwt, audience=ISSUER)[DL_CLAIM + "content_items"]
    assert [(i["title"], i["lineItem"]["label"]) for i in items] == [
        ("Golf Explained - Run-time Basic Calls", "Golf Explained - Run-time Basic Calls"),
        ("Golf: the API tour", "Golf: the API tour"),
    ]


def test_an_open_picker_of_a_disabled_platform_adds_nothing(dl_app: Flask, launches: dict[str, Launch]):
    """Issue 12, security 7: disabling a platform also closes its instructors' open pickers."""
    from lti_tool.lti import platforms

    _, token = open_picker(dl_app, make_launch(), launches)
    client = dl_app.test_client()
    assert client.post("/lti/deep-linking/picker", data={"dl_token": token}).status_code == 200
    platforms.disable_platform(services_of(dl_app).db, 1)
    for path, form in (("/lti/deep-linking/picker", {}), ("/lti/deep-linking/respond", {"course": ["chem-101@3"]})):
        refused = client.post(path, data={"dl_token": token, **form})
        assert refused.status_code == 403, path
        assert "platform_disabled" in refused.get_data(as_text=True)
