"""Two requests carrying the same statement id at the same instant (two workers: two apps on one
database, each with its own engine, as two ``serve`` processes).

Both read "not stored" before either writes; the loser's INSERT then meets the winner's row. The
loser judges its statements again: the same content is a resend (200 with the ids / 204), another
content under the id the precise 409 of a changed statement, never the generic "concurrent request".
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from lti_tool import create_app
from lti_tool.lrs import create_operator_credential, store
from lti_tool.lrs.credentials import IssuedCredential
from lti_tool.services import Services, build_services
from lti_tool.settings import Settings


def _statement(sid: str, verb: str = "experienced") -> dict[str, Any]:
    return {
        "id": sid,
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "a"}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"id": "https://courses.example.org/golf"},
        "timestamp": "2026-12-01T10:00:00.000Z",
    }


@pytest.fixture
def second_worker(settings: Settings) -> Iterator[Flask]:
    services = build_services(settings)
    app = create_app(settings, services=services)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield app
    services.db.dispose()


@pytest.fixture
def both_read_first(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first look-up of each of the two requests waits for the other's: both see "not stored"."""
    barrier = threading.Barrier(2, timeout=20)
    calls: list[int] = []
    original = store.existing_statements

    def existing(*args: Any, **kwargs: Any) -> dict[str, dict[str, Any]]:
        found = original(*args, **kwargs)
        calls.append(len(found))
        if len(calls) <= 2:
            barrier.wait()
        return found

    monkeypatch.setattr(store, "existing_statements", existing)
    return calls


def _race(apps: list[Flask], cred: IssuedCredential, requests: list[tuple[str, str, Any]]) -> list[Any]:
    answers: list[Any] = [None, None]
    headers = {"Authorization": cred.basic_auth, "X-Experience-API-Version": "1.0.3"}

    def send(i: int) -> None:
        method, url, body = requests[i]
        answers[i] = apps[i].test_client().open(url, method=method, json=body, headers=headers)

    threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


def _stored(services: Services, sid: str) -> int:
    with services.db.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM lrs_statements WHERE statement_id = :s"), {"s": sid}).scalar_one()
        )


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_the_same_statement_twice_at_once_is_a_resend(
    app: Flask, second_worker: Flask, services: Services, both_read_first: list[int], method: str
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    cred = create_operator_credential(services.db, "race")
    sid = str(uuid.uuid4())
    if method == "POST":
        request = ("POST", "/xapi/statements", [_statement(sid)])
    else:
        request = ("PUT", f"/xapi/statements?statementId={sid}", _statement(sid))
    answers = _race([app, second_worker], cred, [request, request])
    statuses = sorted(a.status_code for a in answers)
    assert statuses == ([200, 200] if method == "POST" else [204, 204]), [a.data[:300] for a in answers]
    if method == "POST":
        assert [a.get_json() for a in answers] == [[sid], [sid]]
    assert both_read_first[:2] == [0, 0], "the two requests did not both read before writing: no race happened"
    assert len(both_read_first) == 3, "the loser did not judge its statements again"
    assert _stored(services, sid) == 1


def test_another_content_under_the_id_at_once_is_the_precise_conflict(
    app: Flask, second_worker: Flask, services: Services, both_read_first: list[int]
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    cred = create_operator_credential(services.db, "race")
    sid = str(uuid.uuid4())
    answers = _race(
        [app, second_worker],
        cred,
        [
            ("POST", "/xapi/statements", [_statement(sid, "experienced")]),
            ("POST", "/xapi/statements", [_statement(sid, "attempted")]),
        ],
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409], [a.data[:300] for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert "already stored with different content" in loser.get_json()["message"]
    assert both_read_first[:2] == [0, 0]
    assert _stored(services, sid) == 1
