"""Service-level behaviour: multi-node paths (memory misses), registry cache, tokens, purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lti_helpers import ISSUER, JSON, claims_for, login, post_launch

from lti_tool.lti import launches, platforms
from lti_tool.lti.errors import LaunchSessionError
from lti_tool.services import services_of
from lti_tool.storage.models import PlatformStatus, utcnow


def svc(app):
    return services_of(app).lti


def test_login_started_on_another_node(app, client, peer):
    """The launch lands on a node that did not see the login: state comes from the database."""
    state, nonce, _ = login(client)
    svc(app)._recent_logins.clear()
    token = peer.sign(claims_for(nonce))
    assert post_launch(client, token, state).status_code == 303
    svc(app)._recent_logins.clear()
    client.set_cookie("lti_state_" + state, state, path="/lti/", secure=True)
    replay = post_launch(client, token, state)
    assert replay.status_code == 401 and replay.get_json()["error"] == "launch_replayed"


def test_page_served_by_another_node(app, client, peer):
    state, nonce, _ = login(client)
    location = post_launch(client, peer.sign(claims_for(nonce, lti_roles=["Instructor"])), state).headers["Location"]
    svc(app)._recent.clear()
    page = client.get(location)
    assert page.status_code == 200 and "Maths 9" in page.get_data(as_text=True)


def test_registration_change_elsewhere_applies_after_the_cache_time(app, client, peer, services):
    """A change made by another process (CLI, another node) applies within REGISTRY_CACHE_SECONDS."""
    clock = [100.0]
    svc(app).monotonic = lambda: clock[0]
    assert login(client)[2].status_code == 302
    with services.db.session() as s:  # another process disables the platform: no in-process signal
        from lti_tool.storage.models import Platform

        s.get(Platform, peer.platform.id).status = PlatformStatus.DISABLED.value
    assert login(client)[2].status_code == 302  # still cached
    clock[0] += svc(app).registry_cache_seconds
    _s, _n, response = login(client)
    assert response.status_code == 403


def test_registration_change_in_process_applies_at_once(app, client, peer, services):
    assert login(client)[2].status_code == 302
    platforms.disable_platform(services.db, peer.platform.id)
    assert login(client)[2].status_code == 403


def test_launch_token_expires(app, client, peer):
    state, nonce, _ = login(client)
    response = post_launch(client, peer.sign(claims_for(nonce)), state)
    location = response.headers["Location"]
    launch_id = location.split("/")[2].split("?")[0]
    token = location.split("lt=")[1]
    service = svc(app)
    assert service.launch_from_token(token, launch_id).id == launch_id
    service.clock = lambda: utcnow() + timedelta(hours=9)
    with pytest.raises(LaunchSessionError) as info:
        service.launch_from_token(token, launch_id)
    assert info.value.code == "launch_session_invalid"
    tampered = token.replace(token.split(".")[1], str(int(token.split(".")[1]) + 99999))
    service.clock = utcnow
    with pytest.raises(LaunchSessionError) as info:
        service.launch_from_token(tampered, launch_id)
    assert info.value.code == "launch_session_forged"


@pytest.mark.parametrize(("roles", "area"), [(None, "home"), (["Instructor"], "class")])
def test_launch_cookie_is_scoped_to_the_page_the_launch_opens(client, peer, roles, area):
    state, nonce, _ = login(client)
    changes = {"lti_roles": roles} if roles else {}
    response = post_launch(client, peer.sign(claims_for(nonce, **changes)), state)
    page = response.headers["Location"].split("?")[0]
    assert page.startswith(f"/{area}/")
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("lti_launch=")]
    assert [c.split("Path=")[1].split(";")[0] for c in cookies] == [page]
    assert all(a in cookies[0] for a in ("HttpOnly", "Secure", "SameSite=None", "Partitioned"))
    deleted = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"lti_state_{state}=;")]
    assert deleted and "Max-Age=0" in deleted[0]
    # the bare page path (query dropped) is authorised by the cookie alone (the learner's launch
    # names no catalogue course in this test: it opens the learner home; the instructor's the class view)
    bare = client.get(page, headers=JSON)
    assert bare.status_code == 200


def test_purge_expired(app, client, peer, services):
    state, _nonce, _ = login(client)
    assert launches.load_login(services.db, state) is not None
    removed = launches.purge_expired(services.db, now=utcnow() + timedelta(seconds=601))
    assert removed == 1
    assert launches.load_login(services.db, state) is None
    assert launches.load_login_request(services.db, state) is None


def test_purge_runs_every_n_logins(app, client, peer, services, monkeypatch):
    from lti_tool.lti import service as service_module

    monkeypatch.setattr(service_module, "PURGE_EVERY_LOGINS", 2)
    calls = []
    monkeypatch.setattr(service_module.launches, "purge_expired", lambda db, now: calls.append(now) or 0)
    for _ in range(4):
        login(client)
    assert len(calls) == 2


def test_unknown_issuer_at_launch(app, client, peer):
    state, nonce, _ = login(client)
    response = post_launch(client, peer.sign(claims_for(nonce, iss=ISSUER + "/x")), state)
    assert response.get_json()["error"] == "issuer_mismatch"
    assert client.get("/lti/login", query_string={"iss": "https://nobody.example"}, headers=JSON).status_code == 400
