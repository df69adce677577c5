"""Who a platform's learner is in the built-in LRS: one convention, used by launches and erasure.

A learner is (platform, LMS ``sub``). In the LRS their statements, state and credentials live in
the platform's tenant, and their Agent is an account on the platform's issuer with the ``sub``
as its name: no name or e-mail address leaves the LMS unless the academy shares it.
"""

from __future__ import annotations

from typing import Any

from scorm.xapi.normalize import agent_key


def learner_tenant(platform_id: int) -> str:
    """The LRS tenant of a platform's learners."""
    return f"platform:{platform_id}"


def learner_agent(issuer: str, sub: str) -> dict[str, Any]:
    """The xAPI Agent of a platform's learner (account-based, no personal data)."""
    return {"objectType": "Agent", "account": {"homePage": issuer, "name": sub}}


def learner_agent_key(issuer: str, sub: str) -> str:
    """The LRS's index key of :func:`learner_agent`."""
    key = agent_key(learner_agent(issuer, sub))
    if key is None:  # pragma: no cover - an account agent always has a key
        raise ValueError("an account agent has an inverse functional identifier")
    return key
