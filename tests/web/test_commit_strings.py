"""Strings a browser can send in a commit, through the served app, on both databases.

On PostgreSQL the commit's statements go through libpq's own prepared statements
(``storage.db.run_prepared``) with text parameters, and its documents through orjson
(``storage.documents``): a value neither writes as the standard library did (a lone surrogate, a
65-bit number) or one libpq's text parameters cannot carry (a NUL) must still be stored exactly
or refused with a precise 400: never a 500, never a value read back changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client, TestResponse

from lti_tool.runtime import store
from lti_tool.services import Services


@pytest.fixture
def learner(
    app: Flask, make_launch: Callable[..., Any], player_config: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production
    return player_config(make_launch())


def post(app: Flask, config: dict[str, Any], body: dict[str, Any]) -> TestResponse:
    return Client(app, TestResponse).post(
        config["runtime"]["commitUrl"],
        data=json.dumps(body),  # ASCII escapes: "\ud800" reaches the server as JSON writes it
        headers={"Authorization": f"Bearer {config['runtime']['token']}"},
        content_type="application/json",
    )


def stored(services: Services, config: dict[str, Any]) -> dict[str, str]:
    attempt_id, item_id = config["runtime"]["commitUrl"].split("/")[2:4]
    with services.db.autocommit() as conn:
        row = store.commit_row(conn, attempt_id, item_id)
    assert row is not None
    return dict(row.state["values"])


@pytest.mark.parametrize(
    "value",
    [
        "lone \ud800 surrogate",
        "emoji \U0001f46e and accents é ñ",
        'quote " backslash \\ newline \n tab \t',
        "\u2028 line separator",
    ],
)
def test_a_string_is_stored_and_read_back_exactly(
    app: Flask, services: Services, learner: dict[str, Any], value: str
) -> None:
    answer = post(app, learner, {"seq": 1, "id": "c1", "changes": {"cmi.suspend_data": value}})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert stored(services, learner)["cmi.suspend_data"] == value
    # and the next commit reads it (the hot path's decoder) and keeps it
    answer = post(app, learner, {"seq": 2, "id": "c2", "changes": {"cmi.core.lesson_location": "p2"}})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert stored(services, learner)["cmi.suspend_data"] == value


def test_a_number_past_what_a_browser_keeps_exactly_is_a_precise_400(
    app: Flask, services: Services, learner: dict[str, Any]
) -> None:
    answer = post(app, learner, {"seq": 1, "changes": {"cmi.suspend_data": 2**70 + 1}})
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_commit"
    assert "cmi.suspend_data" not in stored(services, learner)


def test_a_nul_in_a_value_is_stored_on_both_databases(app: Flask, services: Services, learner: dict[str, Any]) -> None:
    # inside the JSON document a NUL is the escape \u0000, which both databases keep
    answer = post(app, learner, {"seq": 1, "changes": {"cmi.suspend_data": "a\x00b"}})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert stored(services, learner)["cmi.suspend_data"] == "a\x00b"


@pytest.mark.parametrize("commit_id", ["a\x00b", "\ud800"])
def test_a_commit_id_no_database_column_can_hold_is_a_precise_400(
    app: Flask, services: Services, learner: dict[str, Any], commit_id: str
) -> None:
    answer = post(app, learner, {"seq": 1, "id": commit_id, "changes": {"cmi.core.lesson_location": "p1"}})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["error"] == "invalid_commit"
    assert "cmi.core.lesson_location" not in stored(services, learner)  # nothing stored
