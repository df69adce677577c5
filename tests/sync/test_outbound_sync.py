"""Grade delivery through the outbound client: a trickling gradebook is cut at the deadline and
the delivery retried, not lost; service URLs off the platform's hosts never get the token."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sync_harness import Harness, endpoints

from lti_tool.outbound import OutboundClient, OutboundPolicy, check_service_url
from sync.ags import AgsClient, ServiceUrlRefusedError
from sync.errors import AgsTransportError
from sync.memory import InMemoryTokenCache
from sync.model import LineItemRef, OutboxStatus
from sync.ports import PlatformEndpoints
from sync.tokens import ClientCredentialsTokenProvider

T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
LOOPBACK = OutboundPolicy(deadline_seconds=0.5, read_timeout_seconds=5.0, allow_private=("127.0.0.0/8",))


def test_trickling_gradebook_is_cut_at_the_deadline_and_the_delivery_retried(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    # per-read timeout 5 s: only the 0.5 s total deadline can cut a byte every 0.1 s (10 s in all)
    h = Harness(signing, {"p1": fake}, timeout=(1.0, 5.0), session=OutboundClient(LOOPBACK))
    h.enqueue("p1", "u1", score=0.75, at=T0, line_item=LineItemRef(url=url))
    h.tokens.get_token(h.directory.get_platform("p1"), ("x",))  # warm: the trickle hits the score POST
    fake.faults.trickle_requests = 1
    started = time.monotonic()
    h.worker.run_once()
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.PENDING and item.attempts == 1
    assert "timeout" in (item.last_error or "")
    h.drain(timeout=10)
    assert h.store.status_counts()["p1"] == {OutboxStatus.DELIVERED: 1}
    assert [p["userId"] for _i, p in fake.accepted()] == ["u1"]


def test_without_the_allow_list_the_worker_does_not_call_loopback(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    strict = OutboundClient(OutboundPolicy(deadline_seconds=0.5))
    h = Harness(signing, {"p1": fake}, session=strict)
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url=url))
    h.worker.run_once()
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.PENDING  # kept for a retry once an operator allows it
    assert "refused_address" in (item.last_error or "")
    assert fake.requests_seen == 0 and fake.token_requests == 0


def _guard(platform: PlatformEndpoints, url: str) -> None:
    check_service_url(url, registered_urls=(platform.issuer, platform.token_url))


def test_line_item_on_another_host_is_refused_before_a_token_is_fetched(make_platform, signing):
    fake = make_platform()
    other = make_platform()
    foreign = other.add_line_item(label="Elsewhere")
    session = OutboundClient(LOOPBACK)
    tokens = ClientCredentialsTokenProvider(signing, InMemoryTokenCache(), session=session)
    ags = AgsClient(tokens, session=session, url_guard=_guard)
    p = endpoints("p1", fake)
    with pytest.raises(ServiceUrlRefusedError) as err:
        ags.post_score(p, foreign, {"userId": "1"})
    assert err.value.code == "service_url_refused" and "not one of its registered hosts" in err.value.message
    assert fake.token_requests == 0 and other.requests_seen == 0
    # the platform's own host is fine
    own = fake.add_line_item(label="Quiz")
    payload = {
        "userId": "1",
        "scoreGiven": 1.0,
        "scoreMaximum": 1.0,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": T0.isoformat(),
    }
    assert ags.post_score(p, own, payload).status_code == 200


def test_a_refused_line_item_url_is_dead_with_its_code_and_never_sent(make_platform, signing):
    fake = make_platform()
    other = make_platform()
    foreign = other.add_line_item(label="Elsewhere")
    h = Harness(signing, {"p1": fake}, session=OutboundClient(LOOPBACK))
    h.ags = AgsClient(h.tokens, session=OutboundClient(LOOPBACK), url_guard=_guard)
    h.worker._ags = h.ags
    h.enqueue("p1", "u1", score=0.5, at=T0, line_item=LineItemRef(url=foreign))
    h.drain(timeout=5)
    (item,) = h.store.list_items()
    assert item.status is OutboxStatus.DEAD and "service_url_refused" in (item.last_error or "")
    assert other.requests_seen == 0 and fake.token_requests == 0


def test_silent_token_endpoint_is_cut_at_the_deadline(make_platform, signing):
    fake = make_platform()
    fake.faults.token_latency = 3.0
    tokens = ClientCredentialsTokenProvider(
        signing, InMemoryTokenCache(), session=OutboundClient(LOOPBACK), timeout=(1.0, 5.0)
    )
    started = time.monotonic()
    with pytest.raises(AgsTransportError) as err:
        tokens.get_token(endpoints("p1", fake), ("x",))
    assert err.value.kind == "timeout" and time.monotonic() - started < 2.5


def test_outbound_client_merges_settings_as_requests_does() -> None:
    """The direct merge (issue 16, CPU per score) gives what ``requests.Session`` would."""
    import requests

    from lti_tool.outbound import OutboundClient

    client = OutboundClient()
    cases = [
        ("http://x", None, None, None, None),
        ("http://x", {"http": "http://p:1"}, True, False, "cert.pem"),
        ("http://x", {"http": None}, False, "/ca.pem", None),
    ]
    for proxies in ({}, {"https": "http://q:2", "http": "http://z:3"}):
        client.proxies = dict(proxies)
        for case in cases:
            assert client.merge_environment_settings(*case) == requests.Session.merge_environment_settings(
                client, *case
            )
