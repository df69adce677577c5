"""The platform key cache: TTL, refetch on unknown kid (rate-limited), failures, bad documents."""

from __future__ import annotations

from typing import Any

import pytest
from lti_helpers import cached_key

from lti_tool.keys import public_jwk
from lti_tool.lti.jwks import JwksUnavailable, PlatformKeyCache, UnknownKid, parse_jwks

URL = "https://lms.example.org/jwks"


def jwk(name: str, **extra: Any) -> dict[str, Any]:
    return {**public_jwk(cached_key(name).public_key()), "kid": name, **extra}


class FakeJwks:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = [jwk("k1")]
        self.calls = 0
        self.fail = False

    def __call__(self, url: str, timeout: float) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise JwksUnavailable("down")
        return {"keys": list(self.keys)}


@pytest.fixture
def setup() -> tuple[PlatformKeyCache, FakeJwks, list[float]]:
    fake, clock = FakeJwks(), [0.0]
    cache = PlatformKeyCache(
        ttl_seconds=100, refetch_min_interval_seconds=10, timeout_seconds=1, fetch=fake, clock=lambda: clock[0]
    )
    return cache, fake, clock


def test_failure_is_not_retried_within_the_interval(setup):
    cache, fake, clock = setup
    fake.fail = True
    for _ in range(3):
        with pytest.raises(JwksUnavailable):
            cache.key_for(URL, "k1")
    assert fake.calls == 1
    clock[0] += 10
    fake.fail = False
    assert cache.key_for(URL, "k1") is not None
    assert fake.calls == 2


def test_stale_copy_served_while_the_lms_is_down(setup):
    cache, fake, clock = setup
    first = cache.key_for(URL, "k1")
    clock[0] += 100
    fake.fail = True
    assert cache.key_for(URL, "k1") is first
    assert cache.key_for(URL, "k1") is first  # no second fetch within the interval
    assert fake.calls == 2
    with pytest.raises(JwksUnavailable):
        cache.key_for(URL, "k9")


def test_unknown_kid_refetch_is_rate_limited(setup):
    cache, fake, clock = setup
    cache.key_for(URL, "k1")
    with pytest.raises(UnknownKid):
        cache.key_for(URL, "k2")
    assert fake.calls == 1  # the first fetch was just now: the interval applies
    clock[0] += 10
    fake.keys.append(jwk("k2"))
    assert cache.key_for(URL, "k2") is not None
    assert fake.calls == 2


@pytest.mark.parametrize(
    ("key", "kept"),
    [
        (jwk("k1"), True),
        (jwk("k1", alg="RS256", use="sig"), True),
        (jwk("k1", alg="RS512"), False),
        (jwk("k1", use="enc"), False),
        ({**jwk("k1"), "kty": "EC"}, False),
        ({k: v for k, v in jwk("k1").items() if k != "kid"}, False),
        ({**jwk("k1"), "n": "!!"}, False),
        ("not a dict", False),
    ],
)
def test_parse_jwks_keeps_only_rs256_signing_keys(key, kept):
    assert ("k1" in parse_jwks({"keys": [key]})) is kept
