"""Token provider and AGS client against the fake platform over real HTTP."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import requests
from sync_harness import StaticSigning, endpoints

from sync.ags import AgsClient, ServiceUrlRefusedError
from sync.errors import (
    AgsHttpError,
    AgsTransportError,
    InvalidAgsResponseError,
    LineItemUnresolvableError,
    PlatformNotFoundError,
    SigningKeyError,
    SyncError,
    TokenRequestError,
)
from sync.lti_claims import AGS_SCOPES, SCOPE_SCORE
from sync.memory import InMemoryPlatformDirectory, InMemoryTokenCache
from sync.model import LineItemRef
from sync.ports import CachedToken, PlatformEndpoints
from sync.tokens import ClientCredentialsTokenProvider, build_client_assertion, cache_key

T = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)


def test_client_assertion_claims(private_key, signing):
    platform = PlatformEndpoints(
        key="p", issuer="https://lms", client_id="cid", token_url="https://lms/token"
    )
    token = build_client_assertion(platform, signing, now=T, jti_factory=lambda: "j1")
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": "tool-key-1", "typ": "JWT"}
    claims = jwt.decode(
        token,
        private_key.public_key(),
        algorithms=["RS256"],
        audience="https://lms/token",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == claims["sub"] == "cid"
    assert claims["jti"] == "j1"
    assert claims["exp"] - claims["iat"] == 300


def test_token_cached_per_issuer_client_scopes(make_platform, signing):
    fake = make_platform()
    cache = InMemoryTokenCache()
    provider = ClientCredentialsTokenProvider(signing, cache)
    p = endpoints("p1", fake)
    first = provider.get_token(p, AGS_SCOPES)
    assert provider.get_token(p, tuple(reversed(AGS_SCOPES))) == first  # order-insensitive
    assert fake.token_requests == 1
    other = provider.get_token(p, (SCOPE_SCORE,))
    assert other != first and fake.token_requests == 2
    other_client = PlatformEndpoints(
        key="p2", issuer=p.issuer, client_id=p.client_id + "-2", token_url=p.token_url
    )
    assert cache_key(other_client, AGS_SCOPES) != cache_key(p, AGS_SCOPES)
    key = cache_key(p, AGS_SCOPES)
    cached = cache.get(key)
    assert cached is not None and cached.expires_at > datetime.now(UTC) + timedelta(seconds=3500)
    # 59 s left: inside the 60 s safety margin → a new token is fetched
    cache.put(
        key, CachedToken(access_token=first, expires_at=datetime.now(UTC) + timedelta(seconds=59))
    )
    assert provider.get_token(p, AGS_SCOPES) != first
    assert fake.token_requests == 3
    assert fake.token_errors == []


def test_concurrent_callers_share_one_token_request(make_platform, signing):
    fake = make_platform()
    fake.faults.token_latency = 0.2
    provider = ClientCredentialsTokenProvider(signing, InMemoryTokenCache())
    p = endpoints("p1", fake)
    tokens: list[str] = []
    threads = [
        threading.Thread(target=lambda: tokens.append(provider.get_token(p, AGS_SCOPES)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 1 and fake.token_requests == 1
    fresh = provider.get_token(p, AGS_SCOPES, force_refresh=True)
    assert fresh != tokens[0] and fake.token_requests == 2


def test_token_refused_wrong_key(make_platform, signing):
    fake = make_platform(kid="another-kid")
    provider = ClientCredentialsTokenProvider(signing, InMemoryTokenCache())
    with pytest.raises(TokenRequestError) as err:
        provider.get_token(endpoints("p1", fake), AGS_SCOPES)
    assert err.value.code == "token_request_failed"
    assert err.value.status_code == 400 and err.value.phase == "token"
    assert "unknown kid" in err.value.message


def test_token_endpoint_unreachable():
    provider = ClientCredentialsTokenProvider(
        StaticSigning(_key()), InMemoryTokenCache(), timeout=(0.5, 0.5)
    )
    p = PlatformEndpoints(key="x", issuer="i", client_id="c", token_url="http://127.0.0.1:9/t")
    with pytest.raises(AgsTransportError) as err:
        provider.get_token(p, AGS_SCOPES)
    assert err.value.code == "ags_transport" and err.value.kind == "connection"


def _key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _BadSession(requests.Session):
    def __init__(self, body: str) -> None:
        super().__init__()
        self.body = body

    def post(self, url, **kwargs):  # type: ignore[override]
        resp = requests.Response()
        resp.status_code = 200
        resp._content = self.body.encode()
        return resp


@pytest.mark.parametrize("body", ["not json", '{"token_type": "Bearer"}', '{"access_token": ""}'])
def test_token_endpoint_garbage(signing, body):
    provider = ClientCredentialsTokenProvider(
        signing, InMemoryTokenCache(), session=_BadSession(body)
    )
    p = PlatformEndpoints(key="x", issuer="i", client_id="c", token_url="http://t")
    with pytest.raises(InvalidAgsResponseError) as err:
        provider.get_token(p, AGS_SCOPES)
    assert err.value.code == "invalid_ags_response"


def _client(signing, fake):
    provider = ClientCredentialsTokenProvider(signing, InMemoryTokenCache())
    return AgsClient(provider, page_limit=2), endpoints("p1", fake)


def test_list_line_items_follows_next_links(make_platform, signing):
    fake = make_platform(page_size=2)
    for n in range(7):
        fake.add_line_item(label=f"L{n}", resourceLinkId="rl" if n % 2 else "other", tag="t")
    client, p = _client(signing, fake)
    assert len(client.list_line_items(p, fake.lineitems_url)) == 7
    got = client.list_line_items(p, fake.lineitems_url, resource_link_id="rl", tag="t")
    assert [it["label"] for it in got] == ["L1", "L3", "L5"]


def test_find_or_create_is_idempotent_under_concurrency(make_platform, signing):
    fake = make_platform()
    client, p = _client(signing, fake)
    ref = LineItemRef(
        lineitems_url=fake.lineitems_url, resource_link_id="rl", tag="cbsi", label="A"
    )
    urls: list[str] = []
    threads = [
        threading.Thread(target=lambda: urls.append(client.find_or_create_line_item(p, ref)))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(urls)) == 1 and len(fake.line_items) == 1
    assert urls[0].endswith("/lineitems/1/lineitem?type_id=1")


def test_find_or_create_needs_a_container(make_platform, signing):
    fake = make_platform()
    client, p = _client(signing, fake)
    with pytest.raises(LineItemUnresolvableError) as err:
        client.find_or_create_line_item(p, LineItemRef(resource_link_id="rl"))
    assert err.value.code == "line_item_unresolvable"


def test_lineitem_http_error_carries_status(make_platform, signing):
    fake = make_platform()
    client, p = _client(signing, fake)
    fake.faults.status_requests = 1
    fake.faults.status = 403
    with pytest.raises(AgsHttpError) as err:
        client.list_line_items(p, fake.lineitems_url)
    assert err.value.status_code == 403 and err.value.code == "ags_http_error"


def test_post_score_and_read_results(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    client, p = _client(signing, fake)
    payload = {
        "userId": "7",
        "scoreGiven": 42.0,
        "scoreMaximum": 100.0,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": T.isoformat(),
    }
    assert client.post_score(p, url, payload).status_code == 200
    again = client.post_score(p, url, payload)
    assert again.status_code == 409 and "earlier timestamp" in again.message
    (result,) = client.get_results(p, url, user_id="7")
    assert result["resultScore"] == 42.0 and result["resultMaximum"] == 100.0


def test_post_score_without_maximum_rejected_by_fake(make_platform, signing):
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    client, p = _client(signing, fake)
    answer = client.post_score(
        p,
        url,
        {
            "userId": "7",
            "scoreGiven": 1,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": T.isoformat(),
        },
    )
    assert answer.status_code == 400


def test_platform_directory_unknown_key():
    with pytest.raises(PlatformNotFoundError) as err:
        InMemoryPlatformDirectory().get_platform("nope")
    assert err.value.code == "platform_not_found"


@pytest.mark.parametrize(
    ("cls", "code"),
    [(SyncError, "sync_error"), (SigningKeyError, "signing_key_unavailable")],
)
def test_error_codes_and_default_messages(cls, code):
    err = cls()
    assert err.code == code
    assert err.message  # docstring is the default message


def test_refused_token_request_not_repeated_per_item(make_platform, signing):
    from sync_harness import Harness

    from sync.model import OutboxStatus

    fake = make_platform(kid="another-kid")
    url = fake.add_line_item(label="Quiz")
    h = Harness(signing, {"p1": fake})
    for n in range(10):
        h.enqueue("p1", f"u{n}", score=0.5, at=datetime.now(UTC), line_item=LineItemRef(url=url))
    h.drain()
    assert h.store.status_counts()["p1"] == {OutboxStatus.DEAD: 10}
    assert fake.token_requests == 1
    assert all("unknown kid" in it.last_error for it in h.store.list_items())
    # after the admin fixes the key, retry_dead with a forced refresh works
    fake.kid = "tool-key-1"
    h.tokens.clear_failures()  # or wait failure_cache_seconds
    h.store.retry_dead(now=datetime.now(UTC))
    h.drain()
    assert h.store.status_counts()["p1"] == {OutboxStatus.DELIVERED: 10}


def _pem(key, password=None):
    from cryptography.hazmat.primitives import serialization

    enc = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def test_pem_signing_key_provider(private_key):
    from sync.tokens import PemSigningKeyProvider

    provider = PemSigningKeyProvider(_pem(private_key), "k1")
    key = provider.current_signing_key()
    assert key.kid == "k1"
    assert key.private_key.private_numbers() == private_key.private_numbers()
    locked = PemSigningKeyProvider(_pem(private_key, b"pw"), "k1", password=b"pw")
    assert locked.current_signing_key().private_key.key_size == 2048


def _ec_pem():
    from cryptography.hazmat.primitives.asymmetric import ec

    return _pem(ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize(
    ("pem", "kid", "fragment"),
    [
        (b"not a key", "k1", "readable PEM"),
        (None, "k1", "RSA key"),  # an EC key
        (None, "", "needs a kid"),
    ],
)
def test_pem_signing_key_errors(private_key, pem, kid, fragment):
    from sync.tokens import PemSigningKeyProvider

    if pem is None:
        pem = _ec_pem() if kid else _pem(private_key)
    with pytest.raises(SigningKeyError) as err:
        PemSigningKeyProvider(pem, kid)
    assert err.value.code == "signing_key_unavailable"
    assert fragment in err.value.message


def test_results_read_the_way_moodle_45_serves_them(make_platform, signing):
    """Moodle 4.5 crashes on ``results?limit=`` (404 HTML); results are read without it, all pages."""
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    client, p = _client(signing, fake)
    for user in ("1", "2", "3", "4", "5"):
        payload = {
            "userId": user,
            "scoreGiven": float(user),
            "scoreMaximum": 10.0,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": T.isoformat(),
        }
        assert client.post_score(p, url, payload).status_code == 200
    # the fake fails like Moodle when a limit is sent
    token = client._tokens.get_token(p, AGS_SCOPES)
    crash = requests.get(
        url.replace("/lineitem?", "/lineitem/results?") + "&limit=100",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert crash.status_code == 404 and "out() on null" in crash.text
    # one page without a limit
    assert sorted(r["userId"] for r in client.get_results(p, url)) == ["1", "2", "3", "4", "5"]
    # pages of 2 with rel="next" links, followed to the end
    fake.results_page_size = 2
    results = client.get_results(p, url)
    assert sorted(r["userId"] for r in results) == ["1", "2", "3", "4", "5"]
    assert [r["resultScore"] for r in sorted(results, key=lambda r: r["userId"])] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all("limit" not in q for q in fake.results_queries[1:])
    assert [q.get("offset") for q in fake.results_queries[-3:]] == [None, "2", "4"]


def test_guard_and_token_are_asked_once_per_memo_period_and_again_after_a_refresh():
    """The AGS client remembers (URL accepted, token) per platform and URL for a moment: not a
    guard call and a token lookup per score; a 401 refresh and a refused URL are never remembered."""

    class Tokens:
        def __init__(self) -> None:
            self.calls: list[bool] = []
            self.current = "t1"

        def get_token(self, platform: PlatformEndpoints, scopes: object, *, force_refresh: bool = False) -> str:
            self.calls.append(force_refresh)
            if force_refresh:
                self.current = "t2"
            return self.current

    guarded: list[str] = []

    def guard(platform: PlatformEndpoints, url: str) -> None:
        guarded.append(url)
        if "evil" in url:
            raise ValueError("not a registered host")

    tokens = Tokens()
    client = AgsClient(tokens, url_guard=guard, authorization_memo_seconds=60)  # type: ignore[arg-type]
    p = PlatformEndpoints(key="p1", issuer="https://p1.example", client_id="c", token_url="https://p1.example/t")
    for _ in range(5):
        assert client._authorized(p, "https://lms/li/scores", force_refresh=False) == "t1"
    assert tokens.calls == [False] and guarded == ["https://lms/li/scores"]
    client.refresh_token(p)
    assert client._authorized(p, "https://lms/li/scores", force_refresh=False) == "t2"
    assert tokens.calls == [False, True, False]
    for _ in range(2):
        with pytest.raises(ServiceUrlRefusedError):
            client._authorized(p, "https://evil/li/scores", force_refresh=False)
    assert guarded.count("https://evil/li/scores") == 2
    other = PlatformEndpoints(key="p2", issuer="https://p2.example", client_id="c", token_url="https://p2.example/t")
    assert client._authorized(other, "https://lms/li/scores", force_refresh=False) == "t2"
    assert len(tokens.calls) == 4  # another platform: asked for its own
    no_memo = AgsClient(tokens, url_guard=guard, authorization_memo_seconds=0)  # type: ignore[arg-type]
    for _ in range(3):
        no_memo._authorized(p, "https://lms/li/scores", force_refresh=False)
    assert len(tokens.calls) == 7
