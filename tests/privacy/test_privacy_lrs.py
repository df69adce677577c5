"""Erasure reaches the built-in LRS: a learner's own xAPI statements, state documents and launch
credentials in their platform's tenant go; another learner's, and the same ``sub`` on another
academy, stay. The learner's identity in the LRS is lti_tool.lrs.identity's convention."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import factories
from flask import Flask
from sqlalchemy import func, select

from lti_tool import privacy
from lti_tool.lrs.credentials import mint_launch_credential
from lti_tool.lrs.identity import learner_agent, learner_tenant
from lti_tool.services import Services
from lti_tool.storage.models import LrsCredential, LrsDocument, LrsStatement

ACTIVITY = "https://catalogue.cbsi.example/courses/golf"
V = "1.0.3"


def _platform(services: Services, issuer: str) -> int:
    return factories.add_platform(services.db, issuer=issuer, name=issuer)


def _learns(app: Flask, services: Services, platform_id: int, issuer: str, sub: str) -> None:
    """A launch credential for the learner, two statements and a bookmark through /xapi."""
    agent = learner_agent(issuer, sub)
    registration = str(uuid.uuid4())
    with services.db.session() as s:
        cred = mint_launch_credential(
            s,
            tenant=learner_tenant(platform_id),
            registration=registration,
            activity_id=ACTIVITY,
            agent=agent,
            ttl=timedelta(hours=1),
        )
    headers = {"Authorization": cred.basic_auth, "X-Experience-API-Version": V}
    client = app.test_client()
    for verb in ("initialized", "completed"):
        statement = {
            "actor": agent,
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": ACTIVITY},
            "context": {"registration": registration},
        }
        assert client.post("/xapi/statements", json=statement, headers=headers).status_code == 200
    state = client.put(
        "/xapi/activities/state",
        query_string={"activityId": ACTIVITY, "agent": json.dumps(agent), "stateId": "bookmark"},
        data=b'{"page": 7}',
        content_type="application/json",
        headers=headers,
    )
    assert state.status_code == 204, state.get_data(as_text=True)


def _count(services: Services, model: type, **where: object) -> int:
    with services.db.session() as s:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(s.scalar(query) or 0)


def test_erasure_removes_the_learners_lrs_data_and_nothing_else(app: Flask, services: Services) -> None:
    one, two = "https://one.example", "https://two.example"
    p1, p2 = _platform(services, one), _platform(services, two)
    _learns(app, services, p1, one, "ana")
    _learns(app, services, p1, one, "bob")
    _learns(app, services, p2, two, "ana")  # the same sub on another academy: another person
    assert _count(services, LrsStatement) == 6 and _count(services, LrsDocument) == 3

    report = privacy.erase_learner(services.db, platform_id=p1, sub="ana", actor="cli:test", source="cli")

    assert report.counts["lrs_statements"] == 2
    assert report.counts["lrs_documents"] == 1
    assert report.counts["lrs_credentials"] == 1
    assert _count(services, LrsStatement, tenant=learner_tenant(p1)) == 2  # bob's
    assert _count(services, LrsStatement, tenant=learner_tenant(p2)) == 2  # ana of academy two
    assert _count(services, LrsDocument) == 2 and _count(services, LrsCredential) == 2
    with services.db.session() as s:
        left = [json.loads(p) for p in s.scalars(select(LrsStatement.payload))]
    assert all(st["actor"]["account"]["name"] != "ana" or st["actor"]["account"]["homePage"] == two for st in left)
