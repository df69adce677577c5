"""The one signed-token scheme: purposes do not mix, tampering is refused, and the wire formats in flight hold."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from lti_tool.content import ContentAccessDenied, ContentSigner
from lti_tool.lti.deeplinking import DeepLinkingContext, PickerTokenInvalid, issue_picker_token, read_picker_token
from lti_tool.tokens import (
    PURPOSE_CONTENT,
    PURPOSE_LAUNCH,
    PURPOSE_PICKER,
    PURPOSE_RUNTIME,
    ScopedSigner,
    TokenExpired,
    TokenInvalid,
    pack_json,
    unpack_json,
)

SECRET = "server-secret-" + "x" * 40
NOW = 1_800_000_000.0
PURPOSES = (PURPOSE_LAUNCH, PURPOSE_CONTENT, PURPOSE_RUNTIME, PURPOSE_PICKER)


def signer(purpose: str, *, secret: str = SECRET, now: float = NOW, ttl: int = 600) -> ScopedSigner:
    return ScopedSigner(secret, purpose, ttl, clock=lambda: now)


@pytest.mark.parametrize("issued_for", PURPOSES)
@pytest.mark.parametrize("presented_to", PURPOSES)
def test_a_token_signed_for_one_purpose_is_refused_for_every_other(issued_for: str, presented_to: str):
    token = signer(issued_for).sign(["attempt-1", "learner_7"])
    if issued_for == presented_to:
        assert signer(presented_to).verify(token, 2) == (["attempt-1", "learner_7"], int(NOW) + 600)
    else:
        with pytest.raises(TokenInvalid) as err:
            signer(presented_to).verify(token, 2)
        assert type(err.value) is TokenInvalid


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_changed_character_is_refused(purpose: str):
    token = signer(purpose).sign(["attempt-1", "learner_7"])
    for i, char in enumerate(token):
        for other in {"A", "b", "0", ".", "-"} - {char}:
            forged = token[:i] + other + token[i + 1 :]
            with pytest.raises(TokenInvalid):
                signer(purpose).verify(forged, 2)
    with pytest.raises(TokenInvalid):
        signer(purpose, secret="another-secret-" + "y" * 40).verify(token, 2)
    with pytest.raises(TokenInvalid):
        signer(purpose).verify(token, 1)  # a field dropped or added
    with pytest.raises(TokenInvalid):
        signer(purpose).verify(token + ".x", 2)


def test_a_token_is_valid_strictly_before_its_expiry():
    token = signer(PURPOSE_CONTENT, ttl=60).sign(["1", "att"])
    assert signer(PURPOSE_CONTENT, now=NOW + 59).verify(token, 2)[0] == ["1", "att"]
    with pytest.raises(TokenExpired):
        signer(PURPOSE_CONTENT, now=NOW + 60).verify(token, 2)


def test_fields_must_be_opaque_ids_and_structured_data_is_packed():
    with pytest.raises(ValueError, match="opaque ids"):
        signer(PURPOSE_PICKER).sign(["https://lms.example/return?x=1"])
    packed = pack_json({"return_url": "https://lms.example/return?x=1", "n": [1, 2]})
    (field,), _ = signer(PURPOSE_PICKER).verify(signer(PURPOSE_PICKER).sign([packed]), 1)
    assert unpack_json(field) == {"return_url": "https://lms.example/return?x=1", "n": [1, 2]}
    with pytest.raises(TokenInvalid):
        unpack_json("not*base64")
    with pytest.raises(ValueError, match="purpose"):
        ScopedSigner(SECRET, "", 60)


def _previous_release_launch_token(launch_id: str, expires: int) -> str:
    """A launch token as the previous release's ``LtiService.launch_token`` made it (its format, written out)."""
    key = hmac.new(SECRET.encode(), b"cbsi-lti-launch-token", hashlib.sha256).digest()
    payload = f"{launch_id}.{expires}"
    mac = base64.urlsafe_b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    return f"{payload}.{mac}"


def test_launch_tokens_keep_the_previous_release_wire_format_both_ways():
    """Rolling upgrade behind a round-robin balancer: the nodes of both releases verify each other's ``lt=``."""
    launch_id = "Zk3v_Qx-9a8b7c6d5e4f3g2h"
    ours = signer(PURPOSE_LAUNCH, ttl=8 * 3600).sign([launch_id])
    assert ours == _previous_release_launch_token(launch_id, int(NOW) + 8 * 3600)
    theirs = _previous_release_launch_token(launch_id, int(NOW) + 100)
    assert signer(PURPOSE_LAUNCH).verify(theirs, 1) == ([launch_id], int(NOW) + 100)


def test_content_and_runtime_tokens_keep_their_wire_format():
    """Content URLs and attempt tokens in open player pages survive the upgrade: the format did not change."""
    key = hashlib.sha256(b"cbsi-content-v1:" + SECRET.encode()).digest()
    payload = f"42.att-1.{int(NOW) + 300}"
    mac = base64.urlsafe_b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]).rstrip(b"=")
    old = f"{payload}.{mac.decode()}"
    grant = ContentSigner(SECRET, 300, clock=lambda: NOW).verify(old)
    assert (grant.version_id, grant.subject) == (42, "att-1")
    assert ContentSigner(SECRET, 300, clock=lambda: NOW).sign(42, "att-1") == old
    with pytest.raises(ContentAccessDenied):
        ContentSigner(SECRET, 300, clock=lambda: NOW).verify(signer(PURPOSE_RUNTIME, ttl=300).sign(["42", "att-1"]))


def test_picker_tokens_use_the_scheme_and_refuse_other_purposes():
    ctx = DeepLinkingContext(
        launch_id="launch-dl-1",
        platform_id=3,
        issuer="https://lms.example",
        client_id="c1",
        deployment_id="d1",
        return_url="https://lms.example/return?course=7",
        accept_multiple=True,
        accept_types=("ltiResourceLink",),
        data="opaque",
        title=None,
    )
    now = datetime.fromtimestamp(NOW, UTC)
    token = issue_picker_token(ctx, secret=SECRET, now=now)
    launch_id, packed, _expiry, _mac = token.split(".")
    assert (launch_id, unpack_json(packed)["return_url"]) == ("launch-dl-1", ctx.return_url)
    assert read_picker_token(token, secret=SECRET, now=now + timedelta(minutes=59), launch_id="launch-dl-1") == ctx
    as_launch = signer(PURPOSE_LAUNCH, ttl=3600).sign([launch_id, packed])
    with pytest.raises(PickerTokenInvalid):
        read_picker_token(as_launch, secret=SECRET, now=now)
