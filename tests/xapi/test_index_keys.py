"""index_keys gives the same index rows as the separate agent and activity walks."""

from __future__ import annotations

from typing import Any

import pytest

from scorm.xapi.normalize import activity_ids_of, agent_keys_of, index_keys

A = {"mbox": "mailto:A@Example.org"}
B = {"account": {"homePage": "https://lms.example.org", "name": "b"}}
GROUP = {"objectType": "Group", "member": [A, {"openid": "http://id.example.org/c"}]}
ACT = {"id": "http://example.org/act"}
CONTEXT = {
    "instructor": B,
    "team": GROUP,
    "contextActivities": {"parent": [{"id": "http://example.org/parent"}], "grouping": [ACT]},
}
CASES: list[dict[str, Any]] = [
    {"actor": A, "verb": {"id": "http://v"}, "object": ACT},
    {"actor": A, "verb": {"id": "http://v"}, "object": {**B, "objectType": "Agent"}, "context": CONTEXT},
    {"actor": GROUP, "verb": {"id": "http://v"}, "object": GROUP, "authority": B},
    {"actor": A, "verb": {"id": "http://v"}, "object": {"objectType": "StatementRef", "id": "x"}},
    {
        "actor": B,
        "verb": {"id": "http://v"},
        "object": {
            "objectType": "SubStatement",
            "actor": A,
            "verb": {"id": "http://w"},
            "object": ACT,
            "context": CONTEXT,
        },
        "context": {"contextActivities": {"other": [ACT]}},
    },
    {"actor": {"objectType": "Group", "member": [B]}, "verb": {"id": "http://v"}, "object": ACT, "authority": A},
]


@pytest.mark.parametrize("statement", CASES)
def test_index_keys_match_the_separate_walks(statement: dict[str, Any]) -> None:
    d_agents, o_agents, d_acts, o_acts = index_keys(statement)
    assert d_agents == agent_keys_of(statement, related=False)
    assert o_agents == agent_keys_of(statement, related=True) - d_agents
    assert d_acts == activity_ids_of(statement, related=False)
    assert o_acts == activity_ids_of(statement, related=True) - d_acts
