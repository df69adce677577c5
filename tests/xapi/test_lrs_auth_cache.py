"""The cache of accepted LRS credentials: revocation and expiry still take effect in bounded time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from lti_tool.lrs import create_operator_credential, credentials, mint_launch_credential, revoke_credential
from lti_tool.lrs.credentials import IssuedCredential
from lti_tool.services import Services
from lti_tool.storage.models import LrsCredential

AGENT = {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "a"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(credentials, "_clock", fake)
    return fake


def get(client: FlaskClient, cred: IssuedCredential) -> int:
    headers = {"Authorization": cred.basic_auth, "X-Experience-API-Version": "1.0.3"}
    return client.get("/xapi/statements", headers=headers).status_code


def revoke_elsewhere(services: Services, key: str) -> None:
    """What `cbsi-connect lrs credentials revoke` does from another process: only the row changes."""
    with services.db.session() as session:
        session.execute(update(LrsCredential).where(LrsCredential.key == key).values(revoked_at=datetime.now(UTC)))


def test_a_credential_revoked_by_another_process_is_refused_within_the_cache_time(
    client: FlaskClient, services: Services, clock: Clock
) -> None:
    cred = create_operator_credential(services.db, "reporting")
    assert get(client, cred) == 200
    revoke_elsewhere(services, cred.key)
    clock.now += credentials.AUTH_CACHE_SECONDS / 2
    assert get(client, cred) == 200  # still within the documented time
    clock.now += credentials.AUTH_CACHE_SECONDS / 2
    assert get(client, cred) == 401


def test_a_credential_revoked_in_this_process_is_refused_at_once(
    client: FlaskClient, services: Services, clock: Clock
) -> None:
    cred = create_operator_credential(services.db, "reporting")
    assert get(client, cred) == 200
    revoke_credential(services.db, cred.key)
    assert get(client, cred) == 401


def test_a_wrong_secret_never_rides_on_a_cached_key(client: FlaskClient, services: Services, clock: Clock) -> None:
    cred = create_operator_credential(services.db, "reporting")
    assert get(client, cred) == 200
    assert get(client, IssuedCredential(key=cred.key, secret="wrong", name="x")) == 401


def test_an_expiry_is_checked_on_every_request_even_when_cached(
    client: FlaskClient, services: Services, clock: Clock
) -> None:
    with services.db.session() as session:
        cred = mint_launch_credential(session, tenant="", registration=str(uuid.uuid4()), activity_id="https://x.org/a",
                                      agent=AGENT, ttl=timedelta(hours=1))  # fmt: skip
    assert get(client, cred) == 200
    expired = datetime.now(UTC) + timedelta(hours=2)
    with services.db.session() as session:
        assert credentials.authenticate(session, cred.basic_auth, now=expired) is None
    assert get(client, cred) == 200


def test_a_launch_credential_ended_in_this_process_is_refused_at_once(
    client: FlaskClient, services: Services, clock: Clock
) -> None:
    with services.db.session() as session:
        cred = mint_launch_credential(session, tenant="", registration=str(uuid.uuid4()), activity_id="https://x.org/a",
                                      agent=AGENT, ttl=timedelta(hours=1))  # fmt: skip
    assert get(client, cred) == 200
    with services.db.session() as session:  # a new launch of the AU ends the old session's credential
        credentials.expire_launch_credential(session, cred.key, at=datetime.now(UTC))
    assert get(client, cred) == 401
