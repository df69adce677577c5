"""Each xAPI statement rule refuses its broken input with a message naming the path and the rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scorm.xapi import StatementError, format_statement, normalize_statement, validate_statement
from scorm.xapi.formats import is_duration, is_iri, is_language_tag, is_timestamp, is_uuid

BASE: dict[str, Any] = {
    "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
    "actor": {"objectType": "Agent", "name": "A", "mbox": "mailto:a@example.org"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
    "object": {"id": "http://example.org/act/1", "definition": {"name": {"en": "One"}}},
}


def mk(**changes: Any) -> dict[str, Any]:
    st = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node = st
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if value is ...:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    return st


def refuses(st: Any, needle: str, version: str = "1.0.3") -> None:
    with pytest.raises(StatementError) as err:
        validate_statement(st, version)
    assert needle in str(err.value), str(err.value)


def test_valid_base_statement_passes_both_versions() -> None:
    validate_statement(mk(), "1.0.3")
    validate_statement(mk(), "2.0.0")


def test_formats() -> None:
    assert is_uuid("fd41c918-b88b-4b20-a0a5-a4c32391aaa0") and not is_uuid("fd41c918b88b4b20a0a5a4c32391aaa0")
    assert is_iri("http://x.org/a") and not is_iri("not an iri") and not is_iri("x")
    assert is_language_tag("en-US") and is_language_tag("zh-Hant-TW") and not is_language_tag("a12345678-E")
    assert is_timestamp("2013-05-18T05:32:34.804+00:00") and is_timestamp("2013-05-18T05:32:34Z")
    assert not is_timestamp("2013-13-18T05:32:34Z") and not is_timestamp("yesterday")
    assert not is_timestamp("2013-05-18T05:32:34-00:00", allow_negative_zero=False)
    assert is_duration("PT1H30M") and is_duration("P3W") and is_duration("PT0.5S")
    assert not is_duration("P") and not is_duration("PT") and not is_duration("1H")


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"id": "not-a-uuid"}, "statement.id: must be a UUID"),
        ({"actor": ...}, "a statement needs actor"),
        ({"verb": ...}, "a statement needs verb"),
        ({"object": ...}, "a statement needs object"),
        ({"bogus": 1}, "statement.bogus: unknown property"),
        ({"result": None}, "statement.result: must not be null"),
        ({"actor__mbox": "a@example.org"}, "statement.actor.mbox: must be a 'mailto:' IRI"),
        ({"actor__openid": "http://openid.example.org/a"}, "exactly one identifier"),
        ({"actor": {"name": "nobody"}}, "exactly one identifier (mbox, mbox_sha1sum, openid, account), got 0"),
        ({"actor": {"mbox_sha1sum": "xyz"}}, "statement.actor.mbox_sha1sum: must be the 40 hex digit"),
        ({"actor": {"account": {"name": "a"}}}, "needs both homePage and name"),
        ({"actor": {"account": {"homePage": "nope", "name": "a"}}}, "statement.actor.account.homePage"),
        ({"actor": {"objectType": "Group"}}, "anonymous Group (no identifier) needs a member"),
        (
            {"actor": {"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@x.org"}]}},
            "members must be Agents",
        ),
        ({"actor": {"objectType": "Person", "mbox": "mailto:a@x.org"}}, "statement.actor.objectType: must be 'Agent'"),
        ({"verb__id": "completed"}, "statement.verb.id: must be an absolute IRI"),
        ({"verb__display": {"not a tag!": "x"}}, "not an RFC 5646 language tag"),
        ({"verb__display": {"en": 3}}, "statement.verb.display.en: must be a string"),
        ({"object__id": ...}, "an Activity needs an id"),
        ({"object__objectType": "Thing"}, "unknown objectType 'Thing'"),
        ({"object": {"objectType": "Agent"}}, "exactly one identifier"),
        ({"object": {"mbox": "mailto:a@x.org"}}, "statement.object.mbox: unknown property of an Activity"),
        ({"object": {"objectType": "StatementRef", "id": "nope"}}, "statement.object.id: must be a UUID"),
        ({"object__definition__type": "type"}, "statement.object.definition.type: must be an absolute IRI"),
        ({"object__definition__moreInfo": "x"}, "definition.moreInfo"),
        ({"object__definition__interactionType": "essay"}, "unknown interaction type 'essay'"),
        ({"object__definition__choices": [{"id": "a"}]}, "only allowed with an interactionType"),
        ({"object__definition__extensions": {"key": 1}}, "extension key 'key' is not an absolute IRI"),
        ({"result": {"score": {"scaled": 1.5}}}, "statement.result.score.scaled: must be between -1 and 1"),
        ({"result": {"score": {"raw": 11, "min": 0, "max": 10}}}, "must not be greater than max"),
        ({"result": {"score": {"raw": -1, "min": 0}}}, "must not be less than min"),
        ({"result": {"score": {"min": 5, "max": 1}}}, "min must be less than max"),
        ({"result": {"success": "yes"}}, "statement.result.success: must be true or false"),
        ({"result": {"duration": "1 hour"}}, "statement.result.duration: must be an ISO 8601 duration"),
        ({"context": {"registration": "x"}}, "statement.context.registration: must be a UUID"),
        ({"context": {"contextActivities": {"parent": {"id": "nope"}}}}, "context.contextActivities.parent"),
        ({"context": {"contextActivities": {"cousin": []}}}, "unknown property of contextActivities"),
        ({"context": {"team": {"mbox": "mailto:t@x.org"}}}, "statement.context.team: must be a Group"),
        ({"context": {"language": "??"}}, "statement.context.language"),
        ({"timestamp": "yesterday"}, "statement.timestamp: must be an ISO 8601 timestamp"),
        ({"version": "0.9"}, "statement.version: must be one of the xAPI versions 1.0.x"),
        ({"attachments": [{"usageType": "http://x.org/u"}]}, "an attachment needs display"),
    ],
)
def test_rule(changes: dict[str, Any], needle: str) -> None:
    refuses(mk(**changes), needle)


def test_revision_and_platform_only_for_activities() -> None:
    agent_obj = {"objectType": "Agent", "mbox": "mailto:b@x.org"}
    refuses(mk(object=agent_obj, context={"revision": "1"}), "statement.context.revision: only allowed")
    refuses(mk(object=agent_obj, context={"platform": "p"}), "statement.context.platform: only allowed")
    validate_statement(mk(context={"revision": "1", "platform": "p"}))


def test_substatement_restrictions() -> None:
    sub = {"objectType": "SubStatement", "actor": BASE["actor"], "verb": BASE["verb"], "object": BASE["object"]}
    validate_statement(mk(object=sub))
    refuses(mk(object={**sub, "id": BASE["id"]}), "statement.object.id: not allowed in a SubStatement")
    refuses(mk(object={**sub, "version": "1.0.0"}), "not allowed in a SubStatement")
    refuses(mk(object={**sub, "object": dict(sub)}), "must not contain a SubStatement")


def test_voiding_needs_statement_ref() -> None:
    refuses(
        mk(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}), "a voiding statement's object must be a StatementRef"
    )


def test_attachment_rules() -> None:
    good = {
        "usageType": "http://x.org/u",
        "display": {"en": "a"},
        "contentType": "text/plain",
        "length": 3,
        "sha2": "ab" * 32,
    }
    validate_statement(mk(attachments=[good]))
    refuses(mk(attachments=[{**good, "length": -1}]), "attachments[0].length: must be a non-negative integer")
    refuses(mk(attachments=[{**good, "sha2": "zz"}]), "attachments[0].sha2")
    refuses(mk(attachments=[{**good, "contentType": "plain"}]), "attachments[0].contentType")
    refuses(mk(attachments=[{**good, "usageType": "u"}]), "attachments[0].usageType")


def test_version_2_differences() -> None:
    ctx_agents = {
        "contextAgents": [
            {"objectType": "contextAgent", "agent": {"mbox": "mailto:c@x.org"}, "relevantTypes": ["http://x.org/t"]}
        ]
    }
    validate_statement(mk(context=ctx_agents), "2.0.0")
    refuses(mk(context=ctx_agents), "statement.context.contextAgents: unknown property", "1.0.3")
    refuses(
        mk(
            context={
                "contextAgents": [
                    {"objectType": "contextAgent", "agent": {"mbox": "mailto:c@x.org"}, "relevantTypes": []}
                ]
            }
        ),
        "relevantTypes",
        "2.0.0",
    )
    refuses(
        mk(context={"contextGroups": [{"objectType": "contextGroup", "group": {"mbox": "mailto:c@x.org"}}]}),
        "contextGroups[0].group.objectType: must be 'Group'",
        "2.0.0",
    )
    for version in ("1.0.3", "2.0.0"):
        refuses(mk(timestamp="2020-01-01T00:00:00-00:00"), "the -00:00 offset is forbidden", version)
        refuses(mk(timestamp="2020-01-01T00:00:00-0000"), "the -00:00 offset is forbidden", version)
    validate_statement(mk(version="2.0.0"), "2.0.0")
    refuses(mk(version="2.0.0"), "statement.version", "1.0.3")


def test_normalise_and_formats() -> None:
    st = normalize_statement(
        mk(
            context={
                "contextActivities": {
                    "parent": {"id": "http://x.org/p", "definition": {"name": {"en": "P", "fr": "Q"}}}
                }
            }
        )
    )
    assert st["context"]["contextActivities"]["parent"] == [
        {"id": "http://x.org/p", "definition": {"name": {"en": "P", "fr": "Q"}}}
    ]
    ids = format_statement(st, "ids")
    assert ids["object"] == {"id": "http://example.org/act/1"}
    assert ids["actor"] == {"objectType": "Agent", "mbox": "mailto:a@example.org"}
    canon = format_statement(st, "canonical", ["fr"])
    assert canon["context"]["contextActivities"]["parent"][0]["definition"]["name"] == {"fr": "Q"}
