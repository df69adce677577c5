"""OIDC login initiation, tool configuration, launch sessions, class view."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from lti_helpers import CLIENT_ID, DEPLOYMENT, ISSUER, JSON, JWKS_URL, LAUNCH_URL, claims_for, login, post_launch

from lti_tool.lti import platforms


def test_login_redirects_top_level_get_with_oidc_parameters(client, peer):
    state, nonce, response = login(client)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == ISSUER + "/auth"
    q = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert q == {
        "tenant": "1",  # the platform's own query string is kept
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": CLIENT_ID,
        "redirect_uri": LAUNCH_URL,
        "login_hint": "user-7",
        "lti_message_hint": "hint-abc",
        "state": state,
        "nonce": nonce,
    }
    assert len(state) >= 32 and len(nonce) >= 32 and state != nonce


def test_login_state_cookie_attributes(client, peer):
    state, _n, response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"lti_state_{state}={state};")
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/lti/"):
        assert attribute in cookie


def test_login_by_post(client, peer):
    response = client.post(
        "/lti/login",
        data={"iss": ISSUER, "login_hint": "u", "target_link_uri": LAUNCH_URL, "client_id": CLIENT_ID},
    )
    assert response.status_code == 302
    assert "lti_message_hint" not in parse_qs(urlsplit(response.headers["Location"]).query)


def test_login_without_client_id_uses_the_only_active_registration(client, peer):
    _s, _n, response = login(client, client_id=None)
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["client_id"] == [CLIENT_ID]


def test_login_without_client_id_and_several_registrations(client, peer, services):
    platforms.add_platform(
        services.db,
        issuer=ISSUER,
        client_id="second",
        auth_login_url=ISSUER + "/auth",
        auth_token_url=ISSUER + "/token",
        key_set_url=JWKS_URL,
        approve=True,
    )
    _s, _n, response = login(client, client_id=None)
    assert response.status_code == 400
    assert "ambiguous_client_id" in response.get_data(as_text=True)
    _s, _n, response = login(client, client_id="second")
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("overrides", "code", "status"),
    [
        ({"iss": None}, "missing_login_parameter", 400),
        ({"login_hint": None}, "missing_login_parameter", 400),
        ({"target_link_uri": None}, "missing_login_parameter", 400),
        ({"iss": "https://unknown.example.org"}, "unknown_issuer", 403),
        ({"client_id": "nope"}, "unknown_client_id", 403),
        ({"target_link_uri": "https://evil.example.org/lti/launch"}, "invalid_target_link_uri", 400),
    ],
)
def test_login_errors(client, peer, overrides, code, status):
    params = {
        "iss": ISSUER,
        "login_hint": "u",
        "target_link_uri": LAUNCH_URL,
        "client_id": CLIENT_ID,
        "lti_deployment_id": DEPLOYMENT,
    }
    for k, v in overrides.items():
        if v is None:
            params.pop(k)
        else:
            params[k] = v
    response = client.get("/lti/login", query_string=params, headers=JSON)
    assert response.status_code == status
    assert response.get_json()["error"] == code
    assert "Traceback" not in response.get_data(as_text=True)


def test_config_json_and_html(client):
    data = client.get("/lti/config.json").get_json()
    assert data["login_url"] == "http://localhost/lti/login"
    assert data["redirect_uris"] == ["http://localhost/lti/launch"]
    assert data["jwks_url"] == "http://localhost/.well-known/jwks.json"
    assert data["moodle"]["Initiate login URL"] == data["login_url"]
    assert client.get("/lti/config", headers=JSON).get_json() == data
    html = client.get("/lti/config").get_data(as_text=True)
    assert "Redirection URI(s)" in html and "http://localhost/lti/login" in html


def _launch(client, peer, **changes):
    state, nonce, _ = login(client)
    response = post_launch(client, peer.sign(claims_for(nonce, **changes)), state)
    assert response.status_code == 303
    return response.headers["Location"]


def test_launch_pages_need_the_launch_token(client, peer):
    location = _launch(client, peer, lti_roles=["Instructor"])
    path, _, query = location.partition("?")
    launch_id = path.rsplit("/", 1)[1]
    client.delete_cookie("lti_launch", path=f"/class/{launch_id}")
    assert client.get(location).status_code == 200
    assert client.get(path, headers=JSON).get_json()["error"] == "launch_session_invalid"
    forged = client.get(path + "?lt=abc.def.ghi", headers=JSON)
    assert forged.status_code == 401 and forged.get_json()["error"] == "launch_session_forged"
    other = _launch(client, peer, lti_roles=["Instructor"])
    other_token = other.partition("?")[2]
    mismatch = client.get(path + "?" + other_token, headers=JSON)
    assert mismatch.get_json()["error"] == "launch_session_mismatch"
    header = client.get(path, headers={"X-Launch-Token": parse_qs(query)["lt"][0]})
    assert header.status_code == 200


def test_launch_cookie_alone_authenticates_only_its_launch(client, peer):
    location = _launch(client, peer, lti_roles=["Instructor"])
    path = location.partition("?")[0]
    assert client.get(path).status_code == 200  # the HttpOnly launch cookie set by /lti/launch


def test_learner_cannot_open_class_view(client, peer):
    location = _launch(client, peer)
    assert location.startswith("/home/")  # the launch names no course: the learner home (issue 15)
    class_url = location.replace("/home/", "/class/")
    response = client.get(class_url, headers=JSON)
    assert response.status_code == 401 and response.get_json()["error"] == "forbidden_role"


def test_class_view_shows_course_and_admin_sees_registration(client, peer):
    instructor = client.get(_launch(client, peer, lti_roles=["Instructor"])).get_data(as_text=True)
    assert "Maths 9" in instructor and "Fractions" in instructor
    assert 'id="registration"' not in instructor
    admin_role = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
    admin = client.get(_launch(client, peer, lti_roles=[admin_role])).get_data(as_text=True)
    assert 'id="registration"' in admin and CLIENT_ID in admin and DEPLOYMENT in admin


def test_learner_launch_of_an_unlinked_activity_gets_the_learner_home(client, peer):
    response = client.get(_launch(client, peer))
    page = response.get_data(as_text=True)
    assert response.status_code == 200  # issue 15: a launch naming no course shows the learner's courses
    assert "Your courses" in page and 'id="no-courses"' in page and "Traceback" not in page
