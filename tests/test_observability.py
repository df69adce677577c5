"""Request ids (kept only when safe, echoed, on every log line), worker delivery ids, /metrics."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from lti_tool import grades, observability
from lti_tool.services import Services
from lti_tool.storage.outbox import SqlOutboxStore
from sync.model import LineItemRef
from sync.scores import Completion, Outcome, Success, build_score_update


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(x) for x in stream.getvalue().splitlines()]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse a Prometheus exposition (raises on a malformed one)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


# -- request ids ---------------------------------------------------------------------------------


def test_safe_incoming_request_id_is_kept_and_echoed(client: FlaskClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "lb-7f3a.9_Z-1"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.9_Z-1"


@pytest.mark.parametrize(
    "hostile",
    ["abc\r\nSet-Cookie: x=1", "a" * 10_000, "zé-ünïcode", "a b", "x" * 65, "<script>", "", "id;drop"],
)
def test_hostile_request_ids_are_replaced(client: FlaskClient, hostile: str) -> None:
    headers = {"X-Request-ID": hostile} if "\r" not in hostile else {}
    environ = {"HTTP_X_REQUEST_ID": hostile}  # werkzeug refuses CRLF in headers= ; the raw environ still reaches us
    response = client.get("/health", headers=headers, environ_base=environ)
    rid = response.headers["X-Request-ID"]
    assert rid != hostile and observability.SAFE_REQUEST_ID.fullmatch(rid) and len(rid) == 32
    assert "Set-Cookie" not in response.headers


def test_request_id_is_on_every_log_line_of_the_request(app: Flask, client: FlaskClient, json_log: io.StringIO) -> None:
    @app.get("/_test/logs")
    def _logs() -> str:
        logging.getLogger("lti_tool.test").info("inside", extra={"action": "probe"})
        return "ok"

    response = client.get("/_test/logs", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "trace-42"
    (line,) = [x for x in _lines(json_log) if x.get("action") == "probe"]
    assert line["request_id"] == "trace-42"
    logging.getLogger("lti_tool.test").info("after", extra={"action": "after"})
    (after,) = [x for x in _lines(json_log) if x.get("action") == "after"]
    assert after["request_id"] is None  # the id does not leak past its request


def test_each_request_gets_its_own_id(client: FlaskClient) -> None:
    ids = {client.get("/health").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


# -- worker ----------------------------------------------------------------------------------------


def test_worker_log_lines_carry_a_delivery_id(services: Services, json_log: io.StringIO) -> None:
    now = datetime.now(UTC)
    update = build_score_update(
        Outcome(
            score_scaled=0.5, completion=Completion.COMPLETED, success=Success.PASSED, is_final=True, changed_at=now
        ),
        platform_key="999",  # no such platform: the row dies, with a warning line
        line_item_key="dep/rl",
        line_item=LineItemRef(url="https://lms.example/li/1", score_maximum=100.0),
        user_id="u1",
    )
    SqlOutboxStore(services.db).enqueue(update, now=now)
    worker = grades.build_worker(services)
    lookups = worker._platforms.get_platform

    def get_platform(key: str):  # a line logged during the delivery, without any outbox field
        logging.getLogger("lti_tool.test").info("looking up", extra={"action": "lookup"})
        return lookups(key)

    worker._platforms.get_platform = get_platform  # type: ignore[method-assign]
    stats = worker.run_once()
    assert stats.dead == 1
    lines = _lines(json_log)
    (lookup,) = [x for x in lines if x.get("action") == "lookup"]
    (dead,) = [x for x in lines if x.get("action") == "dead"]
    assert lookup["request_id"].startswith("sync-") and lookup["request_id"] == dead["request_id"]
    assert (
        dead["outbox_id"] and dead["request_id"] == f"sync-{dead['outbox_id']}-v{dead['version']}-a{dead['attempts']}"
    )


# -- /metrics --------------------------------------------------------------------------------------


def test_metrics_exposition_parses_and_counts_requests_and_errors(client: FlaskClient, services: Services) -> None:
    before = client.get("/metrics").get_data(as_text=True)
    client.get("/health")
    assert client.get("/no/such/page/12345").status_code == 404
    assert client.get("/runtime/x/y/commit").status_code == 405
    response = client.get("/metrics")
    assert response.status_code == 200
    after = response.get_data(as_text=True)
    samples(after)  # parses, grade outbox part and ours together
    assert "cbsi_grade_outbox_rows" in after or "# TYPE cbsi_grade_outbox_rows gauge" in after
    health = {"endpoint": "/health", "method": "GET", "status": "200"}
    assert value(after, "cbsi_http_request_duration_seconds_count", **health) == pytest.approx(
        value(before, "cbsi_http_request_duration_seconds_count", **health) + 1
    )
    unmatched = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    assert value(after, "cbsi_http_request_duration_seconds_count", **unmatched) == pytest.approx(
        value(before, "cbsi_http_request_duration_seconds_count", **unmatched) + 1
    )
    assert "/no/such/page" not in after  # the rule, never the raw path
    for code in ("not_found", "method_not_allowed"):
        assert value(after, "cbsi_errors_total", code=code) == pytest.approx(
            value(before, "cbsi_errors_total", code=code) + 1
        )


def test_metrics_names_the_academy_of_each_platform(client: FlaskClient, services: Services) -> None:
    from lti_tool.lti import platforms

    info = platforms.add_platform(
        services.db,
        issuer="https://moodle.north.example",
        client_id="c1",
        auth_login_url="https://moodle.north.example/auth",
        auth_token_url="https://moodle.north.example/token",
        key_set_url="https://moodle.north.example/jwks",
        name='North "Academy"',
        deployment_ids=("1",),
        approve=True,
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "cbsi_platform_info", platform=str(info.id), academy='North "Academy"') == 1


MULTIPROCESS_CHILD = """
import sys
from lti_tool import observability
m = observability.metrics()
for _ in range(int(sys.argv[1])):
    m.errors.labels("platform_disabled").inc()
m.commits.labels("200").observe(0.004)
"""


def test_worker_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {**os.environ, observability.MULTIPROC_ENV: str(tmp_path)}
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", MULTIPROCESS_CHILD, str(n)], env=env, check=True, timeout=60)
    reader = "from lti_tool import observability; print(observability.exposition())"
    done = subprocess.run([sys.executable, "-c", reader], env=env, check=True, timeout=60, capture_output=True)
    text = done.stdout.decode()
    assert value(text, "cbsi_errors_total", code="platform_disabled") == 5
    assert value(text, "cbsi_runtime_commit_duration_seconds_count", status="200") == 2
    assert value(text, "cbsi_runtime_commit_duration_seconds_bucket", status="200", le="0.005") == 2


def test_unexpected_error_line_has_the_request_id_and_no_learner_data(
    app: Flask, client: FlaskClient, json_log: io.StringIO
) -> None:
    import sqlalchemy as sa

    learner = {"a": "Ana Learner " + "ana@example.org"}  # (a literal would show in the traceback's source lines)

    @app.get("/_test/boom")
    def _boom() -> str:
        engine = sa.create_engine("sqlite://")
        with engine.connect() as c:
            c.execute(sa.text("create table t(a text unique)"))
            c.execute(sa.text("insert into t values (:a)"), learner)
            c.execute(sa.text("insert into t values (:a)"), learner)
        return "unreachable"

    before = client.get("/metrics").get_data(as_text=True)
    response = client.get("/_test/boom", headers={"X-Request-ID": "boom-1"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "boom-1"
    (line,) = [x for x in _lines(json_log) if x.get("action") == "unexpected_error"]
    assert line["request_id"] == "boom-1" and "IntegrityError" in line["exception"]
    for x in _lines(json_log):
        assert "ana@example.org" not in json.dumps(x), x
    after = client.get("/metrics").get_data(as_text=True)
    assert (
        value(after, "cbsi_errors_total", code="internal_error")
        == value(before, "cbsi_errors_total", code="internal_error") + 1
    )
