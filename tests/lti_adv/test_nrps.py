"""NRPS roster pull: resource-link level first, context fallback, paging, cache with TTL, failures."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from lti_adv_helpers import Clock, FakeServer, Recorded, add_platform, json_reply, running_fake_server

from lti_tool.lti.context import Launch
from lti_tool.lti.nrps import (
    NrpsNotAvailable,
    NrpsRequestFailed,
    NrpsResponseInvalid,
    NrpsUrlRefused,
    RosterClient,
    parse_member,
    with_query,
)
from lti_tool.lti.tokens import ServiceTokens
from lti_tool.outbound import OutboundClient
from lti_tool.services import Services
from lti_tool.storage.models import Platform
from sync.lti_claims import NRPS_MEDIA_TYPE, SCOPE_NRPS

ISSUER = "https://moodle.academy.example"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def member(n: int, **kw: Any) -> dict[str, Any]:
    return {
        "user_id": str(n),
        "status": "Active",
        "name": f"Learner {n}",
        "given_name": "Learner",
        "family_name": str(n),
        "email": f"l{n}@academy.example",
        "roles": [LEARNER],
        **kw,
    }


class NrpsService:
    """A fake LMS: token endpoint plus a memberships endpoint with Moodle-style query string and paging."""

    def __init__(self, fake: FakeServer, *, members: list[dict[str, Any]], page_size: int = 2) -> None:
        self.fake = fake
        self.members = members
        self.page_size = page_size
        self.rlid_members: list[dict[str, Any]] | None = None
        self.rlid_status = 200
        self.tokens = 0
        fake.route("POST", "/token", self.token)
        fake.route("GET", "/nrps", self.memberships)

    @property
    def url(self) -> str:
        return self.fake.url("/nrps?course_id=7&type_id=3")

    def token(self, rec: Recorded) -> Any:
        self.tokens += 1
        assert rec.form["scope"] == SCOPE_NRPS
        return json_reply(200, {"access_token": f"t{self.tokens}", "expires_in": 3600})

    def memberships(self, rec: Recorded) -> Any:
        if rec.headers.get("Authorization") != f"Bearer t{self.tokens}":
            return json_reply(401, {"error": "invalid_token"})
        if rec.headers.get("Accept") != NRPS_MEDIA_TYPE:
            return json_reply(406, {"error": "not acceptable"})
        query = parse_qs(urlsplit(rec.path).query)
        if query.get("course_id") != ["7"] or query.get("type_id") != ["3"]:
            return json_reply(404, {"error": "lost the query string"})
        members = self.members
        if "rlid" in query:
            if self.rlid_status != 200:
                return json_reply(self.rlid_status, {"error": "rlid not supported"})
            members = self.rlid_members if self.rlid_members is not None else members
        page = int(query.get("page", ["0"])[0])
        chunk = members[page * self.page_size : (page + 1) * self.page_size]
        links = [f'<{self.fake.url("/nrps?course_id=7&type_id=3&since=abc")}>; rel="differences"']
        if (page + 1) * self.page_size < len(members):
            nxt = "/nrps?course_id=7&type_id=3&page=" + str(page + 1)
            if "rlid" in query:
                nxt += "&rlid=" + query["rlid"][0]
            links.append(f'<{self.fake.url(nxt)}>; rel="next"')
        body = {"id": rec.path, "context": {"id": "ctx-7", "title": "Chemistry 7"}, "members": chunk}
        return json_reply(200, body, {"Link": ", ".join(links), "Content-Type": NRPS_MEDIA_TYPE})


def make_launch(
    platform_id: int, url: str | None, *, rlid: str | None = "rl-1", context_id: str | None = "ctx-7"
) -> Launch:
    claims: dict[str, Any] = {}
    if url is not None:
        claims[NRPS_CLAIM] = {"context_memberships_url": url, "service_versions": ["2.0"]}
    return Launch(
        id="launch-1",
        platform_id=platform_id,
        issuer=ISSUER,
        client_id="c1",
        deployment_id="d1",
        message_type="LtiResourceLinkRequest",
        sub="teacher",
        roles=(INSTRUCTOR,),
        context_id=context_id,
        context_title="Chemistry",
        resource_link_id=rlid,
        claims=claims,
    )


@pytest.fixture
def setup(services: Services, fake_server: FakeServer, clock: Clock) -> tuple[NrpsService, RosterClient, int]:
    service = NrpsService(fake_server, members=[member(i) for i in range(1, 6)])
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = ServiceTokens(services.db, services.keys, timeout=2.0, clock=clock, session=services.http)
    return service, RosterClient(services.db, tokens, ttl_seconds=600, clock=clock), platform.id


def nrps_pages(fake: FakeServer) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.path).query) for r in fake.hits("/nrps")]


def test_resource_link_roster_is_read_across_pages(setup: Any, fake_server: FakeServer):
    service, client, platform_id = setup
    roster = client.get_roster(make_launch(platform_id, service.url))

    assert roster.level == "resource_link"
    assert [m.user_id for m in roster.members] == ["1", "2", "3", "4", "5"]
    first = roster.members[0]
    assert (first.name, first.given_name, first.family_name, first.email) == (
        "Learner 1",
        "Learner",
        "1",
        "l1@academy.example",
    )
    assert first.roles == (LEARNER,) and first.is_active
    assert roster.context_title == "Chemistry 7" and not roster.from_cache
    pages = nrps_pages(fake_server)
    assert len(pages) == 3  # 5 members, 2 per page; rel="differences" was not followed
    assert all(p["rlid"] == ["rl-1"] for p in pages)
    assert all("since" not in p for p in pages)


@pytest.mark.parametrize("status", [400, 404, 501])
def test_falls_back_to_context_level_when_rlid_is_not_supported(setup: Any, fake_server: FakeServer, status: int):
    service, client, platform_id = setup
    service.rlid_status = status
    roster = client.get_roster(make_launch(platform_id, service.url))
    assert roster.level == "context"
    assert len(roster.members) == 5
    pages = nrps_pages(fake_server)
    assert "rlid" in pages[0] and all("rlid" not in p for p in pages[1:])


def test_context_level_when_the_launch_has_no_resource_link(setup: Any, fake_server: FakeServer):
    service, client, platform_id = setup
    roster = client.get_roster(make_launch(platform_id, service.url, rlid=None))
    assert roster.level == "context" and len(roster.members) == 5
    assert all("rlid" not in p for p in nrps_pages(fake_server))


def test_resource_link_level_can_differ_from_context(setup: Any):
    service, client, platform_id = setup
    service.rlid_members = [member(2)]
    roster = client.get_roster(make_launch(platform_id, service.url))
    assert roster.level == "resource_link" and [m.user_id for m in roster.members] == ["2"]


def test_roster_is_cached_with_a_ttl(setup: Any, fake_server: FakeServer, clock: Clock):
    service, client, platform_id = setup
    launch = make_launch(platform_id, service.url)
    client.get_roster(launch)
    calls = len(fake_server.hits("/nrps"))

    cached = client.get_roster(launch)
    assert cached.from_cache and len(cached.members) == 5 and cached.level == "resource_link"
    assert cached.members[0].email == "l1@academy.example"
    assert len(fake_server.hits("/nrps")) == calls

    service.members.append(member(6))
    assert len(client.get_roster(launch, refresh=True).members) == 6
    assert len(fake_server.hits("/nrps")) > calls

    calls = len(fake_server.hits("/nrps"))
    clock.advance(599)
    assert client.get_roster(launch).from_cache
    clock.advance(2)
    fresh = client.get_roster(launch)
    assert not fresh.from_cache and len(fake_server.hits("/nrps")) > calls


def test_cache_is_per_tenant_and_context(setup: Any, services: Services, fake_server: FakeServer):
    service, client, platform_id = setup
    client.get_roster(make_launch(platform_id, service.url))
    other_context = make_launch(platform_id, service.url, context_id="ctx-8")
    assert not client.get_roster(other_context).from_cache


def test_inactive_members_are_kept_but_not_active(setup: Any):
    service, client, platform_id = setup
    service.members = [member(1), member(2, status="Inactive"), member(3, status="Deleted"), {"roles": []}]
    roster = client.get_roster(make_launch(platform_id, service.url, rlid=None))
    assert [m.user_id for m in roster.members] == ["1", "2", "3"]  # the entry without user_id is skipped
    assert [m.user_id for m in roster.active_members] == ["1"]


def test_rejected_token_is_refreshed_once(setup: Any, services: Services, fake_server: FakeServer):
    service, client, platform_id = setup
    with services.db.session() as s:
        platform = s.get(Platform, platform_id)
    assert client.tokens.get_token(platform, [SCOPE_NRPS]) == "t1"
    service.tokens += 1  # the platform revoked t1: only a new token is accepted now
    roster = client.get_roster(make_launch(platform_id, service.url, rlid=None))
    assert len(roster.members) == 5
    auths = [r.headers["Authorization"] for r in fake_server.hits("/nrps")]
    assert auths[:2] == ["Bearer t1", "Bearer t3"]


@pytest.mark.parametrize(
    ("reply", "error", "code", "transient"),
    [
        (json_reply(403, {"error": "forbidden"}), NrpsRequestFailed, "nrps_request_failed", False),
        (json_reply(500, {"error": "boom"}), NrpsRequestFailed, "nrps_request_failed", True),
        ((200, {"Content-Type": "text/html"}, b"<html>"), NrpsResponseInvalid, "nrps_response_invalid", False),
        (json_reply(200, {"context": {}}), NrpsResponseInvalid, "nrps_response_invalid", False),
    ],
)
def test_failures(setup: Any, fake_server: FakeServer, reply: Any, error: type, code: str, transient: bool):
    service, client, platform_id = setup
    fake_server.route("GET", "/nrps", lambda rec: reply)
    with pytest.raises(error) as err:
        client.get_roster(make_launch(platform_id, service.url, rlid=None))
    assert err.value.code == code
    assert getattr(err.value, "transient", False) is transient


def test_paging_loop_is_detected(setup: Any, fake_server: FakeServer):
    service, client, platform_id = setup
    loop = fake_server.url("/nrps?course_id=7&type_id=3")
    fake_server.route("GET", "/nrps", lambda rec: json_reply(200, {"members": []}, {"Link": f'<{loop}>; rel="next"'}))
    with pytest.raises(NrpsResponseInvalid):
        client.get_roster(make_launch(platform_id, service.url, rlid=None))


def test_token_refusal_becomes_an_nrps_error(setup: Any, fake_server: FakeServer):
    service, client, platform_id = setup
    fake_server.route("POST", "/token", lambda rec: json_reply(400, {"error": "invalid_scope"}))
    with pytest.raises(NrpsRequestFailed) as err:
        client.get_roster(make_launch(platform_id, service.url))
    assert "invalid_scope" in err.value.message


@pytest.mark.parametrize(("url", "context_id"), [(None, "ctx-7"), ("https://x.example/nrps", None)])
def test_launch_without_nrps_or_context(setup: Any, url: str | None, context_id: str | None):
    _service, client, platform_id = setup
    with pytest.raises(NrpsNotAvailable) as err:
        client.get_roster(make_launch(platform_id, url, context_id=context_id))
    assert err.value.code == "nrps_not_available"


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        ("https://m.example/nrps", {"rlid": "a b"}, "https://m.example/nrps?rlid=a+b"),
        ("https://m.example/nrps?type_id=1", {"rlid": "7"}, "https://m.example/nrps?type_id=1&rlid=7"),
        ("https://m.example/nrps?rlid=old&x=1", {"rlid": "7"}, "https://m.example/nrps?x=1&rlid=7"),
    ],
)
def test_with_query_keeps_existing_parameters(url: str, params: dict[str, str], expected: str):
    assert with_query(url, **params) == expected


@pytest.mark.parametrize(
    ("raw", "user_id"),
    [
        ({"user_id": "u1"}, "u1"),
        ({"user_id": 42}, "42"),
        ({"user_id": ""}, None),
        ({"user_id": True}, None),
        ({}, None),
    ],
)
def test_parse_member(raw: dict[str, Any], user_id: str | None):
    parsed = parse_member(raw)
    assert (parsed.user_id if parsed else None) == user_id
    if parsed:
        assert parsed.status == "Active" and parsed.roles == ()


def test_next_link_to_another_host_is_refused(setup: Any, fake_server: FakeServer):
    service, client, platform_id = setup
    link = '<http://evil.example/steal?course_id=7>; rel="next"'
    fake_server.route("GET", "/nrps", lambda rec: json_reply(200, {"members": [member(1)]}, {"Link": link}))
    with pytest.raises(NrpsResponseInvalid) as err:
        client.get_roster(make_launch(platform_id, service.url, rlid=None))
    assert "another host" in err.value.message


def test_disabled_platform_gets_no_roster(setup: Any, services: Services):
    service, client, platform_id = setup
    with services.db.session() as s:
        s.get(Platform, platform_id).status = "disabled"  # type: ignore[union-attr]
    with pytest.raises(NrpsNotAvailable):
        client.get_roster(make_launch(platform_id, service.url))


def test_expired_rosters_are_purged(setup: Any, clock: Clock):
    service, client, platform_id = setup
    client.get_roster(make_launch(platform_id, service.url))
    client.get_roster(make_launch(platform_id, service.url, context_id="ctx-8"))
    assert client.purge_expired() == 0
    clock.advance(601)
    assert client.purge_expired() == 2
    assert not client.get_roster(make_launch(platform_id, service.url)).from_cache


def test_a_roster_url_on_another_host_is_refused_and_no_token_is_sent(
    setup: Any, fake_server: FakeServer, services: Services
):
    _service, client, platform_id = setup
    with running_fake_server() as elsewhere:
        elsewhere.route("GET", "/nrps", lambda rec: json_reply(200, {"members": []}))
        with pytest.raises(NrpsUrlRefused) as err:
            client.get_roster(make_launch(platform_id, elsewhere.url("/nrps")))
        assert elsewhere.requests == []
    assert err.value.code == "service_url_refused" and "not one of its registered hosts" in err.value.message
    assert fake_server.hits("/token") == []  # not even a token was asked for


def test_a_roster_url_allow_listed_in_service_hosts_is_used(
    fake_server: FakeServer, services: Services, clock: Clock
):
    service = NrpsService(fake_server, members=[member(1)])
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url="https://moodle.academy.example/token")
    strict = ServiceTokens(services.db, services.keys, timeout=2.0, clock=clock, session=services.http)
    with pytest.raises(NrpsUrlRefused):
        RosterClient(services.db, strict, clock=clock).get_roster(make_launch(platform.id, service.url))
    policy = dataclasses.replace(services.http.policy, service_hosts=(urlsplit(fake_server.base_url).netloc,))
    allowed = ServiceTokens(services.db, services.keys, timeout=2.0, clock=clock, session=OutboundClient(policy))
    with pytest.raises(NrpsRequestFailed):  # now it is sent: the token endpoint (elsewhere) is what fails
        RosterClient(services.db, allowed, clock=clock).get_roster(make_launch(platform.id, service.url))
