"""Two requests carrying the same statement id at the same instant (two workers: two apps on one
database, each with its own engine, as two ``serve`` processes).

A launch credential's request looks its ids up first (its cmi5 rules and outcome judge the fresh
statements before they are stored): both read "not stored" before either writes, the loser's INSERT
then meets the winner's row, and the loser judges its statements again. An operator's request
inserts first (``ON CONFLICT DO NOTHING``): both build their rows before either writes, the loser's
insert skips the winner's row and compares it. Either way the same content is a resend (200 with
the ids / 204), another content under the id the precise 409 of a changed statement, never the
generic "concurrent request".
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from lti_tool import create_app
from lti_tool.lrs import create_operator_credential, mint_launch_credential, store
from lti_tool.lrs.credentials import IssuedCredential
from lti_tool.services import Services, build_services
from lti_tool.settings import Settings

LEARNER = {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "a"}}
REGISTRATION = "6b0b6a1c-6e7c-4d55-9b1e-0c7d1d7a3f10"


def _statement(sid: str, verb: str = "experienced") -> dict[str, Any]:
    return {
        "id": sid,
        "actor": LEARNER,
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"id": "https://courses.example.org/golf"},
        "context": {"registration": REGISTRATION},
        "timestamp": "2026-12-01T10:00:00.000Z",
    }


def _credential(services: Services, kind: str) -> IssuedCredential:
    if kind == "operator":
        return create_operator_credential(services.db, "race")
    with services.db.session() as session:
        return mint_launch_credential(
            session, tenant="", registration=REGISTRATION, activity_id="https://courses.example.org/golf",
            agent=LEARNER, ttl=timedelta(hours=1),
        )  # fmt: skip


@pytest.fixture
def second_worker(settings: Settings) -> Iterator[Flask]:
    services = build_services(settings)
    app = create_app(settings, services=services)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield app
    services.db.dispose()


@pytest.fixture
def both_ready(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[int]]:
    """Hold the two requests at a point until both reach it: before either writes.

    A launch credential's: its look-up of the ids (both see "not stored"); an operator's: the
    building of its row (the insert comes next). Returns what each look-up of the ids found.
    """
    barrier = threading.Barrier(2, timeout=20)
    looked_up: list[int] = []
    held: list[bool] = []

    def hold() -> None:
        held.append(True)
        if len(held) <= 2:
            barrier.wait()

    original_lookup = store.existing_statements
    original_row = store._statement_row

    def arm(kind: str) -> list[int]:
        def existing(*args: Any, **kwargs: Any) -> dict[str, dict[str, Any]]:
            found = original_lookup(*args, **kwargs)
            looked_up.append(len(found))
            if kind == "launch":
                hold()
            return found

        def row(*args: Any, **kwargs: Any) -> list[Any]:
            if kind == "operator":
                hold()
            return original_row(*args, **kwargs)

        monkeypatch.setattr(store, "existing_statements", existing)
        monkeypatch.setattr(store, "_statement_row", row)
        return looked_up

    return arm


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


@pytest.mark.parametrize("kind", ["launch", "operator"])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_the_same_statement_twice_at_once_is_a_resend(
    app: Flask,
    second_worker: Flask,
    services: Services,
    both_ready: Callable[[str], list[int]],
    method: str,
    kind: str,
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    cred = _credential(services, kind)
    looked_up = both_ready(kind)
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
    if kind == "launch":
        assert looked_up[:2] == [0, 0], "the two requests did not both read before writing: no race happened"
        assert looked_up[2:] == [1], "the loser did not judge its statements again"
    else:
        assert looked_up == [1], "the loser's insert did not skip the winner's row and compare it"
    assert _stored(services, sid) == 1


@pytest.mark.parametrize("kind", ["launch", "operator"])
def test_another_content_under_the_id_at_once_is_the_precise_conflict(
    app: Flask, second_worker: Flask, services: Services, both_ready: Callable[[str], list[int]], kind: str
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    cred = _credential(services, kind)
    looked_up = both_ready(kind)
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
    assert looked_up[:2] == ([0, 0] if kind == "launch" else [1])
    assert _stored(services, sid) == 1
