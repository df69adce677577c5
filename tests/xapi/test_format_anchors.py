"""The lexical checks judge the whole value: no trailing newline ("$" matched before one), no
non-ASCII digits (Python's ``\\d`` and ``str.isdigit`` take any Unicode digit)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient

from lti_tool.lrs import create_operator_credential
from lti_tool.services import Services
from scorm.xapi import StatementError, validate_statement
from scorm.xapi.formats import (
    is_duration,
    is_iri,
    is_language_tag,
    is_mailto,
    is_sha1_hex,
    is_timestamp,
    is_uuid,
    parse_timestamp,
)

UUID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
GOOD = {
    is_iri: "http://example.org/verbs/x",
    is_uuid: UUID,
    is_mailto: "mailto:a@example.org",
    is_sha1_hex: "a" * 40,
    is_language_tag: "en-US",
    is_duration: "PT3M12.5S",
    is_timestamp: "2026-12-01T10:00:00.000Z",
}


@pytest.mark.parametrize("check", list(GOOD), ids=lambda f: f.__name__)
@pytest.mark.parametrize("tail", ["\n", "\r\n", " ", "\t"])
def test_a_trailing_newline_or_space_is_refused(check: Any, tail: str) -> None:
    assert check(GOOD[check])
    assert not check(GOOD[check] + tail)


@pytest.mark.parametrize("check", list(GOOD), ids=lambda f: f.__name__)
def test_twice_cached_verdicts_stay_exact(check: Any) -> None:
    """The IRI and language verdict caches key on the exact text: the newline variant is judged alone."""
    assert check(GOOD[check] + "\n") is False
    assert check(GOOD[check]) is True
    assert check(GOOD[check] + "\n") is False


@pytest.mark.parametrize(
    "value",
    [
        "２０２６-12-01T10:00:00Z",  # fullwidth digits
        "2026-12-01T10:00:00.٣Z",  # an Arabic-Indic digit in the fraction
        "2026-12-01T10:00:00+٠١:00",
    ],
)
def test_timestamps_take_ascii_digits_only(value: str) -> None:
    assert not is_timestamp(value)
    assert parse_timestamp(value) is None


def test_durations_take_ascii_digits_only() -> None:
    assert is_duration("PT5S")
    assert not is_duration("PT５S")


def _statement(**changes: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "actor": {"mbox": "mailto:a@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "http://example.org/act"},
    }
    st.update(copy.deepcopy(changes))
    return st


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"verb": {"id": "http://adlnet.gov/expapi/verbs/experienced\n"}}, "statement.verb.id"),
        ({"object": {"id": "http://example.org/act\n"}}, "statement.object.id"),
        ({"actor": {"mbox": "mailto:a@example.org\n"}}, "statement.actor.mbox"),
        ({"actor": {"mbox_sha1sum": "a" * 40 + "\n"}}, "statement.actor.mbox_sha1sum"),
        ({"id": UUID + "\n"}, "statement.id"),
        ({"context": {"registration": UUID + "\n"}}, "statement.context.registration"),
        ({"context": {"language": "en-US\n"}}, "statement.context.language"),
        ({"timestamp": "2026-12-01T10:00:00Z\n"}, "statement.timestamp"),
        ({"result": {"duration": "PT5S\n"}}, "statement.result.duration"),
        ({"version": "1.0.³"}, "statement.version"),
    ],
)
def test_statements_with_such_values_get_the_rule_message(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(StatementError) as caught:
        validate_statement(_statement(**changes), "1.0.3")
    assert caught.value.path == path


def test_the_lrs_answers_400_not_500(client: FlaskClient, services: Services) -> None:
    cred = create_operator_credential(services.db, "anchors")
    headers = {"Authorization": cred.basic_auth, "X-Experience-API-Version": "1.0.3"}
    resp = client.post("/xapi/statements", json=_statement(verb={"id": "http://x.org/v\n"}), headers=headers)
    assert resp.status_code == 400
    assert "statement.verb.id" in resp.get_json()["message"]
    resp = client.get(f"/xapi/statements?registration={UUID}%0A", headers=headers)
    assert resp.status_code == 400, resp.data
    resp = client.get("/xapi/statements?limit=%C2%B2", headers=headers)  # "²": isdigit() but not int()
    assert resp.status_code == 400, resp.data
    assert "limit" in resp.get_json()["message"]
