"""A resent statement is a no-op (xAPI Communication 2.1.1/2.1.2, Data 2.3.1 comparison).

Same id and same content: POST answers 200 with the ids, PUT 204, and nothing is stored, judged
or applied twice. Same id, different content: 409 with the properties that differ. Two statements
of one batch with the same id: the batch is refused with 400 (Communication 2.1.1).
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool.lrs import comparison, create_operator_credential
from lti_tool.lrs.credentials import IssuedCredential
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, GradeOutbox, LrsStatement
from scorm.xapi.cmi5 import COMPLETED, INITIALIZED, PASSED
from tests.xapi.test_cmi5_delivery import SINGLE, AuClient, _launch, _open, _statements, _verbs

V1 = "1.0.3"
ACTIVITY = "https://courses.example.org/golf"
GROUP_MEMBERS = [
    {"objectType": "Agent", "mbox": "mailto:ann@example.org"},
    {"objectType": "Agent", "mbox": "mailto:bob@example.org"},
]


@pytest.fixture
def operator(services: Services) -> IssuedCredential:
    return create_operator_credential(services.db, "reporting")


def hdr(cred: IssuedCredential) -> dict[str, str]:
    return {"Authorization": cred.basic_auth, "X-Experience-API-Version": V1}


def statement(**extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": "mailto:learner@Example.ORG"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
        "object": {"id": ACTIVITY, "definition": {"name": {"en-US": "Golf"}}},
        "context": {"registration": str(uuid.uuid4())},
        "result": {"success": True, "duration": "PT1M2.5S"},
        **extra,
    }


def stored_count(services: Services) -> int:
    with services.db.session() as session:
        return session.scalar(select(func.count()).select_from(LrsStatement)) or 0


def post(client: FlaskClient, cred: IssuedCredential, body: Any) -> Any:
    return client.post("/xapi/statements", json=body, headers=hdr(cred))


def test_a_resent_statement_is_answered_200_and_stored_once(
    client: FlaskClient, operator: IssuedCredential, services: Services
) -> None:
    st = statement()
    first = post(client, operator, st)
    assert first.status_code == 200 and first.get_json() == [st["id"]]
    before = client.get(f"/xapi/statements?statementId={st['id']}", headers=hdr(operator)).get_json()
    again = post(client, operator, copy.deepcopy(st))
    assert again.status_code == 200 and again.get_json() == [st["id"]], again.get_data(as_text=True)
    assert stored_count(services) == 1
    after = client.get(f"/xapi/statements?statementId={st['id']}", headers=hdr(operator)).get_json()
    assert after == before  # stored, authority, timestamp unchanged


def test_a_resent_statement_differing_only_where_the_comparison_rules_allow_is_the_same(
    client: FlaskClient, operator: IssuedCredential, services: Services
) -> None:
    st = statement(
        timestamp="2026-12-01T10:00:00.000Z",
        object={"objectType": "Agent", "mbox": "mailto:coach@example.org"},
        context={"registration": str(uuid.uuid4()),
                 "contextActivities": {"parent": [{"id": ACTIVITY, "definition": {"name": {"en-US": "Golf"}}}]},
                 "team": {"objectType": "Group", "member": GROUP_MEMBERS}},
    )  # fmt: skip
    assert post(client, operator, st).status_code == 200
    resent = copy.deepcopy(st)
    resent["id"] = st["id"].upper()  # UUIDs are case-insensitive
    resent["timestamp"] = "2026-12-01T11:00:00+01:00"  # the same instant, serialised otherwise
    resent["verb"]["display"] = {"fr-FR": "vécu"}  # a verb's display is not part of the statement
    resent["context"]["registration"] = st["context"]["registration"].upper()
    resent["context"]["contextActivities"]["parent"][0]["definition"] = {"name": {"en-US": "Golf 2"}}
    resent["context"]["team"]["member"] = list(reversed(GROUP_MEMBERS))  # members are unordered
    resent["actor"]["mbox"] = "mailto:learner@example.org"  # the domain of an mbox is case-insensitive
    resent["authority"] = {"objectType": "Agent", "mbox": "mailto:someone@example.org"}
    resent["stored"] = "2020-01-01T00:00:00Z"
    resent["version"] = "1.0.3"
    assert post(client, operator, resent).status_code == 200
    del resent["timestamp"]  # the LRS assigns a missing timestamp: any stored one matches
    assert post(client, operator, resent).status_code == 200
    assert stored_count(services) == 1


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        (lambda st: st["result"].update(success=False), "result"),
        (lambda st: st["result"].update(duration="PT62.5S"), "result"),  # durations compare as strings
        (lambda st: st.update(timestamp="2026-12-01T10:00:01.000Z"), "timestamp"),
        (lambda st: st["actor"].update(mbox="mailto:Learner@example.org"), "actor"),  # the local part keeps case
        (lambda st: st["verb"].update(id="http://adlnet.gov/expapi/verbs/attempted"), "verb"),
    ],
)
def test_a_resent_id_with_different_content_is_a_409_naming_the_difference(
    client: FlaskClient, operator: IssuedCredential, services: Services, change: Any, differs: str
) -> None:
    st = statement(timestamp="2026-12-01T10:00:00.000Z")
    assert post(client, operator, st).status_code == 200
    changed = copy.deepcopy(st)
    change(changed)
    resp = post(client, operator, changed)
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["error"] == "conflict"
    assert f"statement {st['id']} is already stored with different content (differs in: {differs})" in body["message"]
    put = client.put(f"/xapi/statements?statementId={st['id']}", json=changed, headers=hdr(operator))
    assert put.status_code == 409
    assert stored_count(services) == 1


def test_put_of_a_stored_statement_is_204_and_a_no_op(
    client: FlaskClient, operator: IssuedCredential, services: Services
) -> None:
    st = statement()
    url = f"/xapi/statements?statementId={st['id']}"
    assert client.put(url, json=st, headers=hdr(operator)).status_code == 204
    assert client.put(url, json=st, headers=hdr(operator)).status_code == 204
    assert post(client, operator, st).status_code == 200
    assert stored_count(services) == 1


def test_a_batch_with_one_resent_statement_stores_only_the_new_ones(
    client: FlaskClient, operator: IssuedCredential, services: Services
) -> None:
    old = statement()
    assert post(client, operator, old).status_code == 200
    batch = [statement(), copy.deepcopy(old), statement()]
    resp = post(client, operator, batch)
    assert resp.status_code == 200 and resp.get_json() == [s["id"] for s in batch]
    assert stored_count(services) == 3
    assert post(client, operator, batch).status_code == 200  # the whole batch again: a no-op
    assert stored_count(services) == 3
    conflicting = [statement(), dict(copy.deepcopy(old), result={"success": False})]
    resp = post(client, operator, conflicting)
    assert resp.status_code == 409 and old["id"] in resp.get_json()["message"]
    assert stored_count(services) == 3  # the batch is all or nothing


@pytest.mark.parametrize("same_content", [True, False])
def test_the_same_id_twice_in_one_batch_refuses_the_batch(
    client: FlaskClient, operator: IssuedCredential, services: Services, same_content: bool
) -> None:
    st = statement()
    twin = copy.deepcopy(st) if same_content else dict(copy.deepcopy(st), result={"success": False})
    resp = post(client, operator, [statement(), st, twin])
    assert resp.status_code == 400
    assert resp.get_json()["message"] == f"the batch holds two statements with the same id {st['id']}"
    assert stored_count(services) == 0


def test_same_statement_rules() -> None:
    st = statement(timestamp="2026-12-01T10:00:00Z")
    stored = dict(copy.deepcopy(st), stored="2026-12-01T10:00:05.000Z", authority={"mbox": "mailto:a@b.c"},
                  version="1.0.0")  # fmt: skip
    assert comparison.same_statement(stored, st)
    signed = dict(copy.deepcopy(st), attachments=[{"usageType": "u", "display": {}, "contentType": "t",
                                                   "length": 1, "sha2": "AB"}])  # fmt: skip
    assert not comparison.same_statement(stored, signed)
    lower = copy.deepcopy(signed)
    lower["attachments"][0]["sha2"] = "ab"
    assert comparison.same_statement(signed, lower)


def test_a_resent_cmi5_statement_is_not_judged_or_applied_again(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    attempt_id = _open(services, platform_id, fixtures_dir, SINGLE)
    started = _launch(services, attempt_id)
    au = AuClient(client, started.url)
    au.start()
    initialized = au.statement(INITIALIZED)
    assert au.send(initialized).status_code == 200
    assert au.send(initialized).status_code == 200  # a retry, not a second initialized
    passed = au.statement(PASSED, moveon=True, success=True, duration="PT30S", score={"scaled": 0.9})
    assert au.send(passed).status_code == 200
    # the AU retries the passed statement (its answer was lost): 200, not cmi5_duplicate_verb
    resp = au.send(copy.deepcopy(passed))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    # a different statement under the same id is still a conflict
    changed = dict(copy.deepcopy(passed), result={**passed["result"], "success": False})
    assert au.send(changed).status_code == 409
    # a new passed (new id) is still judged: cmi5 allows one per registration
    again = au.send(au.statement(PASSED, moveon=True, success=True, duration="PT31S", score={"scaled": 0.9}))
    assert again.status_code == 400 and again.get_json()["error"] == "cmi5_duplicate_verb"
    completed = au.statement(COMPLETED, moveon=True, completion=True, duration="PT40S")
    assert au.send([completed, copy.deepcopy(initialized)]).status_code == 200
    stored = _statements(client, services, platform_id, started.registration)
    assert _verbs(stored) == ["launched", "initialized", "passed", "satisfied", "completed"]
    with services.db.session() as s:
        attempt = s.get(Attempt, attempt_id)
        assert attempt is not None and attempt.outcome["success"] == "passed"
        assert len(list(s.scalars(select(GradeOutbox)))) == 1


def test_a_property_given_twice_is_refused_by_name(client: FlaskClient, operator: IssuedCredential) -> None:
    body = '[{"actor": {"mbox": "mailto:a@b.org", "mbox": "mailto:c@b.org"}, "verb": {"id": "http://x.org/v"}, ' \
        '"object": {"id": "http://x.org/a"}}]'  # fmt: skip
    resp = client.post("/xapi/statements", data=body, headers={**hdr(operator), "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "the request body has the property 'mbox' twice"
