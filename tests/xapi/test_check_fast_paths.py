"""The fast paths of the statement checks give the same verdicts and messages as the slow ones."""

from __future__ import annotations

import pytest

from scorm.xapi import formats
from scorm.xapi.checks import StatementError
from scorm.xapi.statement import validate_statement


def _statement(**extra: object) -> dict[str, object]:
    return {
        "actor": {"mbox": "mailto:a@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
        "object": {"id": "http://example.org/act"},
        **extra,
    }


def test_iri_and_language_verdicts_are_stable_when_remembered() -> None:
    for _ in range(3):
        assert formats.is_iri("http://example.org/a")
        assert not formats.is_iri("not an iri")
        assert formats.is_language_tag("en-US")
        assert not formats.is_language_tag("en_US")
    long_iri = "http://example.org/" + "a" * 1000
    assert formats.is_iri(long_iri) and long_iri not in formats._IRI_SEEN  # long values are not kept
    assert len(formats._IRI_SEEN) <= formats._SEEN_MAX


def test_a_full_cache_starts_over() -> None:
    formats._IRI_SEEN.clear()
    for i in range(formats._SEEN_MAX + 10):
        assert formats.is_iri(f"http://example.org/{i}")
    assert len(formats._IRI_SEEN) <= formats._SEEN_MAX


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (_statement(result={"bogus": 1}), "statement.result.bogus: unknown property of a result"),
        (_statement(result={"success": None}), "statement.result.success: must not be null"),
        (_statement(context={"registration": None}), "statement.context.registration: must not be null"),
        ({**_statement(), "actor": {"mbox": "mailto:a@example.org", "nick": "x"}}, "statement.actor.nick: unknown"),
    ],
)
def test_unknown_and_null_properties_are_still_named(statement: dict[str, object], message: str) -> None:
    with pytest.raises(StatementError) as info:
        validate_statement(statement, "1.0.3")
    assert str(info.value).startswith(message)


def test_context_agents_only_in_2_0() -> None:
    st = _statement(context={"contextAgents": []})
    validate_statement(st, "2.0.0")
    with pytest.raises(StatementError, match=r"statement\.context\.contextAgents: unknown property of a context"):
        validate_statement(st, "1.0.3")
