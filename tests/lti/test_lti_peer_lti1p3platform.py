"""The PyPI package ``lti1p3platform`` as the platform peer: it builds the login initiation and
signs the launches; our endpoints answer as they would to a real LMS."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti_helpers import JSON, cached_key, pem, public_pem

from lti_tool.lti import platforms
from lti_tool.services import services_of

PEER_ISSUER = "https://peer.example.org"
PEER_CLIENT = "peer-client"
PEER_DEPLOYMENT = "peer-deployment-1"
TOOL = "http://localhost"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"


class PeerConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        key = cached_key("peer")
        self._registration = (
            Registration()
            .set_iss(PEER_ISSUER)
            .set_client_id(PEER_CLIENT)
            .set_deployment_id(PEER_DEPLOYMENT)
            .set_oidc_login_url(TOOL + "/lti/login")
            .set_launch_url(TOOL + "/lti/launch")
            .set_platform_private_key(pem(key).decode())
            .set_platform_public_key(public_pem(key).decode())
        )

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration


class PeerLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class PeerRequest(Request):
    def build_metadata(self, request: Any) -> Any:
        return {"method": "GET", "form_data": {}, "get_data": request, "headers": {}, "path": "/auth"}


class PeerLaunch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


@pytest.fixture
def conf(app, services) -> PeerConf:
    platforms.add_platform(
        services.db,
        issuer=PEER_ISSUER,
        client_id=PEER_CLIENT,
        auth_login_url=PEER_ISSUER + "/auth",
        auth_token_url=PEER_ISSUER + "/token",
        key_set_url=PEER_ISSUER + "/jwks",
        deployment_ids=(PEER_DEPLOYMENT,),
        approve=True,
    )
    c = PeerConf()
    fetched: list[str] = []

    def fetch(url: str, timeout: float) -> dict[str, Any]:
        fetched.append(url)
        return dict(c.get_jwks())

    services_of(app).key_cache.fetch = fetch
    c.fetched = fetched  # type: ignore[attr-defined]
    return c


def run_launch(
    client, conf: PeerConf, *, user: str, roles: list[str], name: str | None = None, course: str | None = None
) -> Any:
    login = PeerLogin(request=None, platform_config=conf)
    login.set_lti_message_hint(hint=f"hint-for-{user}")
    initiation = urlsplit(login.initiate_login(user))
    assert initiation.path == "/lti/login"
    auth = client.get(f"{initiation.path}?{initiation.query}")
    assert auth.status_code == 302, auth.get_data(as_text=True)
    location = urlsplit(auth.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == PEER_ISSUER + "/auth"
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["lti_message_hint"] == f"hint-for-{user}"
    assert params["login_hint"] == user
    launch = PeerLaunch(PeerRequest(params), conf)
    launch.set_user_data(user, roles, full_name=name)
    launch.set_resource_link_claim("peer-link-1", title="Peer activity")
    if course is not None:
        launch.set_custom_parameters_claim({"course": course})
    launch.set_launch_context_claim("peer-course", context_title="Peer course")
    launch.set_nrps("https://peer.example.org/nrps")
    launch.set_ags("https://peer.example.org/lineitems", "https://peer.example.org/lineitems/1?x=1")
    form = launch.lti_launch()
    assert form["launch_url"] == TOOL + "/lti/launch"
    return client.post("/lti/launch", data={"id_token": form["id_token"], "state": form["state"]})


def test_learner_launch_from_lti1p3platform(client, conf, services, tmp_path):
    from lti_tool.catalogue import import_package
    from lti_tool.devlms.seed import build_demo_package

    course = import_package(services, build_demo_package(tmp_path / "demo.zip"))
    response = run_launch(
        client, conf, user="learner-1", roles=[MEMBERSHIP + "Learner"], name="Lea Learner", course=course.course_key
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/play/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="cbsi-player-config"' in page and "Evidence Handling Basics" in page
    assert conf.fetched == [PEER_ISSUER + "/jwks"]


def test_instructor_launch_from_lti1p3platform(client, conf):
    response = run_launch(client, conf, user="teacher-1", roles=[MEMBERSHIP + "Instructor"])
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/class/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Peer activity" in page and "Peer course" in page


def test_lti1p3platform_launch_cannot_be_replayed(client, conf):
    login = PeerLogin(request=None, platform_config=conf)
    login.set_lti_message_hint(hint="h")
    initiation = urlsplit(login.initiate_login("u1"))
    auth = client.get(f"{initiation.path}?{initiation.query}")
    params = {k: v[0] for k, v in parse_qs(urlsplit(auth.headers["Location"]).query).items()}
    launch = PeerLaunch(PeerRequest(params), conf)
    launch.set_user_data("u1", ["Learner"])
    launch.set_resource_link_claim("peer-link-1")
    form = launch.lti_launch()
    data = {"id_token": form["id_token"], "state": form["state"]}
    assert client.post("/lti/launch", data=data).status_code == 303
    client.set_cookie("lti_state_" + form["state"], form["state"], path="/lti/", secure=True)
    again = client.post("/lti/launch", data=data, headers=JSON)
    assert again.status_code == 401 and again.get_json()["error"] == "launch_replayed"


def test_lti1p3platform_unknown_deployment(client, conf, services):
    conf._registration.set_deployment_id("peer-deployment-2")
    response = run_launch(client, conf, user="u2", roles=["Learner"])
    assert response.status_code == 403
    assert "cbsi-connect platforms add-deployment" in response.get_data(as_text=True)
    info = next(p for p in platforms.list_platforms(services.db) if p.issuer == PEER_ISSUER)
    platforms.add_deployment(services.db, info.id, "peer-deployment-2")
    assert run_launch(client, conf, user="u2", roles=["Learner"]).status_code == 303
