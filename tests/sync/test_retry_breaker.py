"""Retry policy and circuit breaker: pure, table-driven."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from sync.breaker import (
    BreakerConfig,
    BreakerMode,
    Breakers,
    BreakerState,
    allow,
    record_failure,
    record_success,
    trip,
)
from sync.retry import (
    AttemptResult,
    DecisionKind,
    RetryPolicy,
    backoff_delay,
    decide,
    parse_retry_after,
    sanitize_message,
)

NOW = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=5, min_delay_seconds=0.5)
K = DecisionKind


@pytest.mark.parametrize(
    ("result", "attempts", "kind"),
    [
        (AttemptResult(status_code=200), 0, K.DELIVERED),
        (AttemptResult(status_code=201), 0, K.DELIVERED),
        (AttemptResult(status_code=204), 3, K.DELIVERED),
        (AttemptResult(status_code=409, message="earlier timestamp"), 0, K.SUPERSEDED),
        (AttemptResult(status_code=401), 0, K.REFRESH_TOKEN_AND_RETRY),
        (AttemptResult(status_code=401, token_refreshed=True), 0, K.DEAD),
        (AttemptResult(status_code=400, message="Incorrect score received"), 0, K.DEAD),
        (AttemptResult(status_code=403), 0, K.DEAD),
        (AttemptResult(status_code=404), 0, K.DEAD),
        (AttemptResult(status_code=405), 0, K.DEAD),
        (AttemptResult(status_code=422), 0, K.DEAD),
        (AttemptResult(status_code=408), 0, K.RETRY),
        (AttemptResult(status_code=429), 0, K.RETRY),
        (AttemptResult(status_code=500), 0, K.RETRY),
        (AttemptResult(status_code=502), 1, K.RETRY),
        (AttemptResult(status_code=503), 2, K.RETRY),
        (AttemptResult(status_code=599), 0, K.RETRY),
        (AttemptResult(transport_error="timeout"), 0, K.RETRY),
        (AttemptResult(transport_error="connection"), 3, K.RETRY),
        (AttemptResult(transport_error="connection"), 4, K.DEAD),  # max_attempts reached
        (AttemptResult(status_code=503), 4, K.DEAD),
        (AttemptResult(status_code=400, phase="token"), 0, K.DEAD),  # invalid_client/scope
        (AttemptResult(status_code=401, phase="token"), 0, K.DEAD),
        (AttemptResult(status_code=503, phase="token"), 0, K.RETRY),
    ],
)
def test_decision_table(result, attempts, kind):
    decision = decide(result, attempts=attempts, now=NOW, rng=random.Random(1), policy=POLICY)
    assert decision.kind is kind
    assert (decision.retry_at is not None) is (kind is K.RETRY)
    if kind is K.RETRY:
        assert NOW < decision.retry_at <= NOW + timedelta(seconds=POLICY.cap_seconds)
    if kind in (K.DEAD, K.SUPERSEDED) and result.status_code is not None:
        assert str(result.status_code) in decision.message


@pytest.mark.parametrize(
    ("header", "expected_seconds"),
    [
        ("7", 7),
        ("0", 0.5),  # floored by min_delay
        ("Sat, 28 Nov 2026 10:00:30 GMT", 30),
        ("99999", 3600),  # capped
        ("soon", None),  # unparseable → backoff
    ],
)
def test_retry_after_honoured(header, expected_seconds):
    decision = decide(
        AttemptResult(status_code=429, retry_after=header),
        attempts=0,
        now=NOW,
        rng=random.Random(1),
        policy=RetryPolicy(),
    )
    assert decision.kind is K.RETRY
    delay = (decision.retry_at - NOW).total_seconds()
    if expected_seconds is None:
        assert 0.5 <= delay <= 2.0  # first backoff window
    else:
        assert delay == pytest.approx(expected_seconds)


def test_parse_retry_after_past_date_is_now():
    assert parse_retry_after("Sat, 28 Nov 2026 09:00:00 GMT", NOW) == NOW
    assert parse_retry_after(None, NOW) is None


@pytest.mark.parametrize("attempts", [0, 1, 2, 5, 10, 40])
def test_backoff_full_jitter_within_bounds(attempts):
    rng = random.Random(attempts)
    ceiling = min(POLICY.cap_seconds, POLICY.base_seconds * 2**attempts)
    delays = [backoff_delay(attempts, POLICY, rng) for _ in range(200)]
    assert all(
        POLICY.min_delay_seconds <= d <= max(ceiling, POLICY.min_delay_seconds) for d in delays
    )
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not constant


@pytest.mark.parametrize(
    ("raw", "must_not_contain"),
    [
        ("denied for Bearer abc.def-ghi", "abc.def-ghi"),
        ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl leaked", "eyJhbGciOiJSUzI1NiJ9"),
        ('{"access_token": "s3cr3t-value"}', "s3cr3t-value"),
        ("client_assertion=abcdefgh&x=1", "abcdefgh"),
    ],
)
def test_messages_never_hold_tokens(raw, must_not_contain):
    assert must_not_contain not in sanitize_message(raw)


def test_message_truncated():
    decision = decide(
        AttemptResult(status_code=400, message="x" * 5000),
        attempts=0,
        now=NOW,
        rng=random.Random(1),
        policy=RetryPolicy(message_limit=120),
    )
    assert len(decision.message) == 120


# -- breaker ------------------------------------------------------------------------------------
CFG = BreakerConfig(failure_threshold=3, cooldown_seconds=10)


def test_breaker_opens_after_threshold_and_probes():
    state = BreakerState()
    for _ in range(2):
        state = record_failure(state, NOW, CFG)
        assert state.mode is BreakerMode.CLOSED
    state = record_failure(state, NOW, CFG)
    assert state.mode is BreakerMode.OPEN
    assert allow(state, NOW + timedelta(seconds=5))[0] is False
    ok, state = allow(state, NOW + timedelta(seconds=10))
    assert ok and state.mode is BreakerMode.HALF_OPEN
    assert allow(state, NOW + timedelta(seconds=10))[0] is False  # one probe only
    assert record_success(state).mode is BreakerMode.CLOSED
    reopened = record_failure(state, NOW + timedelta(seconds=11), CFG)
    assert reopened.mode is BreakerMode.OPEN
    assert reopened.open_until == NOW + timedelta(seconds=21)


def test_breaker_success_resets_count():
    state = record_failure(record_failure(BreakerState(), NOW, CFG), NOW, CFG)
    state = record_success(state)
    assert record_failure(state, NOW, CFG).mode is BreakerMode.CLOSED


def test_trip_never_shortens():
    state = trip(BreakerState(), NOW + timedelta(seconds=30))
    assert trip(state, NOW + timedelta(seconds=5)).open_until == NOW + timedelta(seconds=30)


def test_breakers_registry_isolates_platforms():
    clock = [NOW]
    reg = Breakers(BreakerConfig(failure_threshold=1, cooldown_seconds=10), lambda: clock[0])
    reg.failure("down")
    assert reg.allow("down") is False
    assert reg.allow("up") is True
    assert reg.not_before("down") == NOW + timedelta(seconds=10)
    clock[0] = NOW + timedelta(seconds=10)
    assert reg.allow("down") is True  # the probe
    assert reg.allow("down") is False
    reg.cancel("down")  # probe not used
    assert reg.allow("down") is True
    reg.success("down")
    assert reg.state("down").mode is BreakerMode.CLOSED
