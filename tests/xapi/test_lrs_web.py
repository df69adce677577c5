"""The /xapi/ resources through the app: statements, documents, versions, credentials and their scope."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from lti_tool.lrs import create_operator_credential, mint_launch_credential, revoke_credential
from lti_tool.lrs.credentials import IssuedCredential
from lti_tool.services import Services

V1 = "1.0.3"
V2 = "2.0.0"
LEARNER_A = {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "a"}}
LEARNER_B = {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "b"}}
ACTIVITY = "https://courses.example.org/golf"


@pytest.fixture
def operator(services: Services) -> IssuedCredential:
    return create_operator_credential(services.db, "reporting")


def launch(
    services: Services, agent: dict[str, Any], registration: str, ttl: timedelta = timedelta(hours=1)
) -> IssuedCredential:
    with services.db.session() as session:
        return mint_launch_credential(
            session, tenant="", registration=registration, activity_id=ACTIVITY, agent=agent, ttl=ttl
        )


def hdr(cred: IssuedCredential, version: str = V1, **extra: str) -> dict[str, str]:
    return {"Authorization": cred.basic_auth, "X-Experience-API-Version": version, **extra}


def statement(actor: dict[str, Any] = LEARNER_A, **extra: Any) -> dict[str, Any]:
    return {
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
        "object": {"id": ACTIVITY, "definition": {"name": {"en-US": "Golf"}}},
        **extra,
    }


def post(client: FlaskClient, cred: IssuedCredential, body: Any, version: str = V1) -> Any:
    return client.post("/xapi/statements", json=body, headers=hdr(cred, version))


def test_about_needs_no_credentials(client: FlaskClient) -> None:
    resp = client.get("/xapi/about")
    assert resp.status_code == 200
    assert resp.get_json()["version"] == ["1.0.3", "2.0.0"]


def test_credentials_are_required_and_checked(
    client: FlaskClient, operator: IssuedCredential, services: Services
) -> None:
    assert client.get("/xapi/statements", headers={"X-Experience-API-Version": V1}).status_code == 401
    wrong = IssuedCredential(key=operator.key, secret="nope", name="x")
    assert client.get("/xapi/statements", headers=hdr(wrong)).status_code == 401
    assert client.get("/xapi/statements", headers=hdr(operator)).status_code == 200
    revoke_credential(services.db, operator.key)
    assert client.get("/xapi/statements", headers=hdr(operator)).status_code == 401


def test_expired_launch_credential_is_refused(client: FlaskClient, services: Services) -> None:
    cred = launch(services, LEARNER_A, str(uuid.uuid4()), ttl=timedelta(seconds=-1))
    assert client.get("/xapi/statements", headers=hdr(cred)).status_code == 401


@pytest.mark.parametrize(("value", "status"), [(None, 400), ("0.9", 400), ("1.0", 200), ("1.0.3", 200), ("2.0.0", 200)])
def test_version_negotiation(client: FlaskClient, operator: IssuedCredential, value: str | None, status: int) -> None:
    headers = {"Authorization": operator.basic_auth}
    if value:
        headers["X-Experience-API-Version"] = value
    resp = client.get("/xapi/statements", headers=headers)
    assert resp.status_code == status
    if status == 200:
        assert resp.headers["X-Experience-API-Version"] == ("2.0.0" if value == "2.0.0" else "1.0.3")


def test_post_get_and_assigned_properties(client: FlaskClient, operator: IssuedCredential) -> None:
    resp = post(client, operator, [statement(), statement()])
    assert resp.status_code == 200
    ids = resp.get_json()
    assert len(ids) == 2
    got = client.get(f"/xapi/statements?statementId={ids[0]}", headers=hdr(operator))
    assert got.status_code == 200
    st = got.get_json()
    assert st["id"] == ids[0] and st["stored"].endswith("Z") and st["timestamp"] == st["stored"]
    assert st["authority"]["account"]["name"] == operator.key
    assert st["version"] == "1.0.0"
    assert "Last-Modified" in got.headers and "X-Experience-API-Consistent-Through" in got.headers


def test_malformed_statement_gets_precise_400(client: FlaskClient, operator: IssuedCredential) -> None:
    resp = post(client, operator, statement(actor={"mbox": "someone@example.org"}))
    assert resp.status_code == 400
    assert "statement.actor.mbox: must be a 'mailto:' IRI" in resp.get_json()["message"]
    resp = client.post(
        "/xapi/statements", data="{not json", headers=hdr(operator, **{"Content-Type": "application/json"})
    )
    assert resp.status_code == 400 and "not valid JSON" in resp.get_json()["message"]


def test_batch_is_all_or_nothing(client: FlaskClient, operator: IssuedCredential) -> None:
    good = statement(id=str(uuid.uuid4()))
    resp = post(client, operator, [good, statement(verb={"id": "nope"})])
    assert resp.status_code == 400
    assert client.get(f"/xapi/statements?statementId={good['id']}", headers=hdr(operator)).status_code == 404


def test_put_conflict_and_idempotence(client: FlaskClient, operator: IssuedCredential) -> None:
    sid = str(uuid.uuid4())
    url = f"/xapi/statements?statementId={sid}"
    assert client.put(url, json=statement(), headers=hdr(operator)).status_code == 204
    assert client.put(url, json=statement(), headers=hdr(operator)).status_code == 204
    changed = statement(result={"success": True})
    assert client.put(url, json=changed, headers=hdr(operator)).status_code == 409
    assert client.put("/xapi/statements", json=statement(), headers=hdr(operator)).status_code == 400


def test_voiding_rules(client: FlaskClient, operator: IssuedCredential) -> None:
    target = post(client, operator, statement()).get_json()[0]
    voiding = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                        object={"objectType": "StatementRef", "id": target})  # fmt: skip
    void_id = post(client, operator, voiding).get_json()[0]
    assert client.get(f"/xapi/statements?statementId={target}", headers=hdr(operator)).status_code == 404
    assert client.get(f"/xapi/statements?voidedStatementId={target}", headers=hdr(operator)).status_code == 200
    listed = client.get("/xapi/statements", headers=hdr(operator)).get_json()["statements"]
    assert [s["id"] for s in listed] == [void_id]
    void_the_voider = dict(voiding, object={"objectType": "StatementRef", "id": void_id})
    resp = post(client, operator, void_the_voider)
    assert resp.status_code == 400 and "a voiding statement" in resp.get_json()["message"]


def test_filters_and_more_paging(client: FlaskClient, operator: IssuedCredential) -> None:
    reg = str(uuid.uuid4())
    mine = [statement(context={"registration": reg}) for _ in range(5)]
    post(client, operator, [*mine, statement(actor=LEARNER_B)])
    url = f"/xapi/statements?registration={reg}&limit=2&ascending=true"
    seen: list[str] = []
    while url:
        page = client.get(url, headers=hdr(operator)).get_json()
        assert len(page["statements"]) <= 2
        seen += [s["id"] for s in page["statements"]]
        url = page["more"]
    assert len(seen) == 5 and len(set(seen)) == 5
    agent = json.dumps(LEARNER_B)
    by_agent = client.get("/xapi/statements", query_string={"agent": agent}, headers=hdr(operator)).get_json()
    assert len(by_agent["statements"]) == 1
    bad = client.get("/xapi/statements?registration=nope", headers=hdr(operator))
    assert bad.status_code == 400 and "must be a UUID" in bad.get_json()["message"]
    assert client.get("/xapi/statements?color=red", headers=hdr(operator)).status_code == 400


def test_attachments_round_trip(client: FlaskClient, operator: IssuedCredential) -> None:
    content = b"hello attachment"
    sha2 = hashlib.sha256(content).hexdigest()
    st = statement(attachments=[{"usageType": "http://example.org/usage", "display": {"en": "a"},
                                 "contentType": "text/plain", "length": len(content), "sha2": sha2}])  # fmt: skip
    boundary = "b0undary"
    body = (
        (
            f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(st)}\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = hdr(operator, **{"Content-Type": f"multipart/mixed; boundary={boundary}"})
    resp = client.post("/xapi/statements", data=body, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    sid = resp.get_json()[0]
    got = client.get(f"/xapi/statements?statementId={sid}&attachments=true", headers=hdr(operator))
    assert got.headers["Content-Type"].startswith("multipart/mixed")
    assert content in got.data and sha2.encode() in got.data
    wrong = body.replace(content, b"tampered content")
    assert client.post("/xapi/statements", data=wrong, headers=headers).status_code == 400


def test_signed_statement_needs_matching_rs_jws(client: FlaskClient, operator: IssuedCredential) -> None:
    st = statement(id=str(uuid.uuid4()))

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    def send(alg: str, payload: dict[str, Any]) -> int:
        jws = f"{b64(json.dumps({'alg': alg}).encode())}.{b64(json.dumps(payload).encode())}.{b64(b'sig')}".encode()
        sha2 = hashlib.sha256(jws).hexdigest()
        signed = dict(st, id=str(uuid.uuid4()), attachments=[{
            "usageType": "http://adlnet.gov/expapi/attachments/signature", "display": {"en": "sig"},
            "contentType": "application/octet-stream", "length": len(jws), "sha2": sha2}])  # fmt: skip
        payload_id = {**payload, "id": signed["id"]}
        jws = f"{b64(json.dumps({'alg': alg}).encode())}.{b64(json.dumps(payload_id).encode())}.{b64(b'sig')}".encode()
        signed["attachments"][0].update(length=len(jws), sha2=hashlib.sha256(jws).hexdigest())
        body = (
            (
                f"--b\r\nContent-Type: application/json\r\n\r\n{json.dumps(signed)}\r\n--b\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
                f"X-Experience-API-Hash: {signed['attachments'][0]['sha2']}\r\n\r\n"
            ).encode()
            + jws
            + b"\r\n--b--\r\n"
        )
        headers = hdr(operator, **{"Content-Type": "multipart/mixed; boundary=b"})
        return client.post("/xapi/statements", data=body, headers=headers).status_code

    plain = {k: v for k, v in st.items() if k != "id"}
    assert send("RS256", plain) == 200
    assert send("HS256", plain) == 400
    assert send("RS256", dict(plain, verb={"id": "http://example.org/other"})) == 400


def test_state_etag_concurrency_and_merge(client: FlaskClient, operator: IssuedCredential) -> None:
    q = {"activityId": ACTIVITY, "agent": json.dumps(LEARNER_A), "stateId": "bookmark"}
    h = hdr(operator)
    assert client.post("/xapi/activities/state", query_string=q, json={"a": 1}, headers=h).status_code == 204
    assert client.post("/xapi/activities/state", query_string=q, json={"b": 2}, headers=h).status_code == 204
    got = client.get("/xapi/activities/state", query_string=q, headers=h)
    assert got.get_json() == {"a": 1, "b": 2}
    etag = got.headers["ETag"]
    assert etag.startswith('"')
    stale = {**h, "If-Match": '"0000"'}
    assert client.put("/xapi/activities/state", query_string=q, json={"c": 3}, headers=stale).status_code == 412
    fresh = {**h, "If-Match": etag}
    assert client.put("/xapi/activities/state", query_string=q, json={"c": 3}, headers=fresh).status_code == 204
    text = {**h, "Content-Type": "text/plain"}
    assert client.post("/xapi/activities/state", query_string=q, data="x", headers=text).status_code == 400
    ids = client.get("/xapi/activities/state", query_string={k: q[k] for k in ("activityId", "agent")}, headers=h)
    assert ids.get_json() == ["bookmark"]


def test_profile_put_needs_precondition(client: FlaskClient, operator: IssuedCredential) -> None:
    q = {"activityId": ACTIVITY, "profileId": "p"}
    h = hdr(operator, V2)
    assert client.put("/xapi/activities/profile", query_string=q, json={"x": 1},
                      headers={**h, "If-None-Match": "*"}).status_code == 204  # fmt: skip
    resp = client.put("/xapi/activities/profile", query_string=q, json={"x": 2}, headers=h)
    assert resp.status_code == 409 and "If-Match" in resp.get_json()["message"]


def test_alternate_request_syntax_1_0_3_only(client: FlaskClient, operator: IssuedCredential) -> None:
    form = {"Authorization": operator.basic_auth, "X-Experience-API-Version": V1, "limit": "1"}
    resp = client.post("/xapi/statements?method=GET", data=form)
    assert resp.status_code == 200 and "statements" in resp.get_json()
    form["X-Experience-API-Version"] = V2
    assert client.post("/xapi/statements?method=GET", data=form).status_code == 400


def test_cors_only_for_the_content_origin(client: FlaskClient, operator: IssuedCredential) -> None:
    ok = client.get("/xapi/statements", headers={**hdr(operator), "Origin": "http://localhost"})
    assert ok.headers.get("Access-Control-Allow-Origin") == "http://localhost"
    foreign = client.get("/xapi/statements", headers={**hdr(operator), "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    pre = client.options("/xapi/statements", headers={"Origin": "http://localhost"})
    assert pre.status_code == 204 and "X-Experience-API-Version" in pre.headers["Access-Control-Allow-Headers"]


def test_activities_and_agents_resources(client: FlaskClient, operator: IssuedCredential) -> None:
    first = statement()
    second = statement(object={"id": ACTIVITY, "definition": {"name": {"fr-FR": "Golf (fr)"}}})
    post(client, operator, [first, second])
    act = client.get("/xapi/activities", query_string={"activityId": ACTIVITY}, headers=hdr(operator)).get_json()
    assert act["definition"]["name"] == {"en-US": "Golf", "fr-FR": "Golf (fr)"}
    person = client.get("/xapi/agents", query_string={"agent": json.dumps(LEARNER_A)}, headers=hdr(operator)).get_json()
    assert person["objectType"] == "Person" and person["account"] == [LEARNER_A["account"]]


# -- learner (per-launch) credentials ------------------------------------------------------------


def test_learner_a_cannot_read_learner_b_state(client: FlaskClient, services: Services) -> None:
    reg_a, reg_b = str(uuid.uuid4()), str(uuid.uuid4())
    cred_a, cred_b = launch(services, LEARNER_A, reg_a), launch(services, LEARNER_B, reg_b)
    q_b = {"activityId": ACTIVITY, "agent": json.dumps(LEARNER_B), "registration": reg_b, "stateId": "bookmark"}
    assert (
        client.put("/xapi/activities/state", query_string=q_b, json={"page": 7}, headers=hdr(cred_b)).status_code == 204
    )
    assert client.get("/xapi/activities/state", query_string=q_b, headers=hdr(cred_b)).get_json() == {"page": 7}
    resp = client.get("/xapi/activities/state", query_string=q_b, headers=hdr(cred_a))
    assert resp.status_code == 403
    assert client.put("/xapi/activities/state", query_string=q_b, json={}, headers=hdr(cred_a)).status_code == 403
    assert client.delete("/xapi/activities/state", query_string=q_b, headers=hdr(cred_a)).status_code == 403
    q_profile = {"agent": json.dumps(LEARNER_B), "profileId": "prefs"}
    assert client.get("/xapi/agents/profile", query_string=q_profile, headers=hdr(cred_a)).status_code == 403


def test_learner_statements_are_their_own(client: FlaskClient, services: Services, operator: IssuedCredential) -> None:
    reg_a, reg_b = str(uuid.uuid4()), str(uuid.uuid4())
    cred_a, cred_b = launch(services, LEARNER_A, reg_a), launch(services, LEARNER_B, reg_b)
    b_id = post(client, cred_b, statement(actor=LEARNER_B, context={"registration": reg_b})).get_json()[0]
    a_id = post(client, cred_a, statement(actor=LEARNER_A, context={"registration": reg_a})).get_json()[0]
    # writing as someone else, or into another registration
    assert post(client, cred_a, statement(actor=LEARNER_B)).status_code == 403
    assert post(client, cred_a, statement(context={"registration": reg_b})).status_code == 403
    # reading: only their own
    listed = client.get("/xapi/statements", headers=hdr(cred_a)).get_json()["statements"]
    assert [s["id"] for s in listed] == [a_id]
    assert client.get(f"/xapi/statements?statementId={b_id}", headers=hdr(cred_a)).status_code == 403
    other = client.get("/xapi/statements", query_string={"agent": json.dumps(LEARNER_B)}, headers=hdr(cred_a))
    assert other.status_code == 403
    # voiding another learner's statement
    voiding = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                        object={"objectType": "StatementRef", "id": b_id})  # fmt: skip
    assert post(client, cred_a, voiding).status_code == 403
    # the operator sees both
    everything = client.get("/xapi/statements", headers=hdr(operator)).get_json()["statements"]
    assert {s["id"] for s in everything} == {a_id, b_id}


def test_mint_refuses_a_bad_agent(services: Services) -> None:
    from lti_tool.lrs import CredentialError

    with pytest.raises(CredentialError, match="exactly one identifier"), services.db.session() as session:
        mint_launch_credential(session, tenant="", registration=str(uuid.uuid4()), activity_id=ACTIVITY,
                               agent={"name": "nobody"}, ttl=timedelta(hours=1), now=datetime.now(UTC))  # fmt: skip


def test_concurrent_duplicate_id_is_a_conflict_not_a_500(
    client: FlaskClient, operator: IssuedCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lti_tool.lrs import store

    sid = str(uuid.uuid4())
    assert post(client, operator, statement(id=sid)).status_code == 200
    # the other request's row lands between our duplicate check and our insert
    monkeypatch.setattr(store, "existing_statements", lambda *_a, **_k: {})
    resp = post(client, operator, statement(id=sid, result={"success": False}))
    assert resp.status_code == 409 and "concurrent request" in resp.get_json()["message"]


def test_activity_definitions_across_requests(client: FlaskClient, operator: IssuedCredential) -> None:
    """A definition sent again is kept as stored; a changed one (even after repeats) is merged in."""

    def definition() -> Any:
        q = {"activityId": ACTIVITY}
        return client.get("/xapi/activities", query_string=q, headers=hdr(operator)).get_json()["definition"]

    golf = {"name": {"en-US": "Golf"}, "type": "http://adlnet.gov/expapi/activities/lesson"}
    for _ in range(3):  # the same definition again: unchanged
        assert post(client, operator, [statement(object={"id": ACTIVITY, "definition": golf})]).status_code == 200
        assert definition() == golf
    post(client, operator, [statement(object={"id": ACTIVITY, "definition": {"name": {"fr-FR": "Golf (fr)"}}})])
    assert definition() == {**golf, "name": {"en-US": "Golf", "fr-FR": "Golf (fr)"}}
    post(client, operator, [statement(object={"id": ACTIVITY, "definition": {"type": "http://example.org/t"}})])
    assert definition()["type"] == "http://example.org/t"
    post(client, operator, [statement(object={"id": ACTIVITY, "definition": {"moreInfo": "http://example.org/1"}})])
    assert definition() == {"name": {"en-US": "Golf", "fr-FR": "Golf (fr)"}, "type": "http://example.org/t",
                            "moreInfo": "http://example.org/1"}  # fmt: skip
