"""The multi-node layout, tested as a whole on one machine (DESIGN.md §5.8).

One PostgreSQL, two web nodes (``cbsi-connect serve`` on their own ports), HAProxy in front with
TLS from a throwaway CA, two ``sync run`` workers, one shared instance/content/keys folder: the
units and the balancer configuration shipped in ``deploy/``. Simulated learners go through the
load balancer exactly as browsers do: an LTI launch from the development LMS (OIDC login, form
post, the player page), commits every second or two, a final scored commit that terminates the
SCO. While they work, one web node and one worker are killed with SIGKILL.

Asserted: HAProxy's health check takes the dead node out; every acknowledged commit is in the
database; every learner's final score is in the LMS gradebook exactly once (no lost, no
duplicated deliveries). Printed: learners, commits, retries, p50/p99 of launches and commits.

Needs PostgreSQL (multi-node means PostgreSQL): runs in the PostgreSQL pass of ``make test``.
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import requests
from operations_stack import (
    HAPROXY,
    Layout,
    free_port,
    make_tls,
    run_cli,
    tls_session,
    unit_config_variable,
    wait_until,
    write_config,
)
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from lti_tool.catalogue import import_package
from lti_tool.devlms import store as devlms_store
from lti_tool.devlms.identity import SAMPLE_COURSE_KEY, ensure_registered
from lti_tool.devlms.models import DevScore
from lti_tool.devlms.seed import build_demo_package
from lti_tool.devlms.state import load_or_create_key
from lti_tool.services import build_services
from lti_tool.settings import load_settings
from lti_tool.storage.models import Attempt, LearnerRegistration, ScoState

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEARNERS = 30
RUN_SECONDS = 36.0
RETRYABLE = {502, 503, 504}
CONFIG = re.compile(r'<script type="application/json" id="cbsi-player-config"[^>]*>(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def database_for_layout() -> Iterator[str]:
    admin_url = os.environ.get("CBSI_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("the multi-node layout needs PostgreSQL: it runs in the PostgreSQL pass of `make test`")
    name = f"cbsi_scaleout_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def layout(database_for_layout: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    if not Path(HAPROXY).is_file():
        pytest.fail(f"{HAPROXY} is missing: `make test` installs Debian's haproxy", pytrace=False)
    folder = tmp_path_factory.mktemp("scaleout")
    lb_port, web1, web2 = free_port(), free_port(), free_port()
    base = f"https://127.0.0.1:{lb_port}"
    ca, bundle = make_tls(folder)
    config = write_config(folder, database_for_layout, base, web1, ca)
    stats = folder / "haproxy.sock"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CBSI_")},
        unit_config_variable("cbsi-connect-web@.service"): str(config),
        "CBSI_LB_BIND": f"127.0.0.1:{lb_port}",
        "CBSI_TLS_PEM": str(bundle),
        "CBSI_WEB1": f"127.0.0.1:{web1}",
        "CBSI_WEB2": f"127.0.0.1:{web2}",
        "CBSI_LB_STATS": str(stats),
    }
    lay = Layout(folder=folder, config=config, ca=ca, env=env, base=base, web_ports=[web1, web2], stats_socket=stats)
    run_cli(lay, "db", "upgrade")
    run_cli(lay, "keys", "generate")
    _seed(config, base, folder)
    try:
        lay.start_web("web1", web1)
        lay.start_web("web2", web2)
        lay.start_worker("worker1")
        lay.start_worker("worker2")
        lay.start_balancer()
        probe = lay.session()

        last: list[str] = [""]

        def healthy() -> bool:
            try:
                answer = probe.get(base + "/health", timeout=2)
            except requests.RequestException as exc:
                last[0] = repr(exc)
                return False
            last[0] = f"{answer.status_code} {answer.text[:200]}"
            return answer.status_code == 200

        try:
            wait_until(healthy, 60, "the load balancer to answer /health")
            wait_until(lambda: set(lay.backend_states().values()) == {"UP"}, 30, "both web nodes UP")
        except AssertionError as exc:
            logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in lay.procs.values())
            raise AssertionError(f"{exc} ({last[0]}); nodes {lay.backend_states()}\n{logs}") from None
        yield lay
    finally:
        lay.stop_all()


def _seed(config: Path, base: str, folder: Path) -> None:
    """What an operator does once: the development LMS, the sample course, one graded activity."""
    settings = load_settings(environ={"CBSI_CONNECT_CONFIG": str(config)})
    services = build_services(settings)
    try:
        ensure_registered(services.db, base)
        import_package(services, build_demo_package(folder / "demo-course.zip"), imported_by="scale-out test")
        load_or_create_key(settings.instance_path)  # the LMS key both nodes load
        devlms_store.links(services.db, SAMPLE_COURSE_KEY)  # its home page's first visit makes the graded activity
    finally:
        services.db.dispose()


# -- a simulated learner --------------------------------------------------------------------------


@dataclass
class Learner:
    number: int
    score: int
    launch_ms: float = 0.0
    commit_ms: list[float] = field(default_factory=list)
    retries: int = 0
    acked_seq: int = 0
    attempt_id: str = ""
    item_id: str = ""
    finished: bool = False
    error: str = ""

    @property
    def sub(self) -> str:
        return f"dev-cohort-{self.number}"


def _send(session: requests.Session, learner: Learner, method: str, url: str, **kwargs: Any) -> requests.Response:
    """One request as the player sends it: retried on a dropped connection or a 502/503/504."""
    for attempt in range(40):
        try:
            response = session.request(method, url, timeout=15, **kwargs)
        except requests.ConnectionError:
            response = None
        if response is not None and response.status_code not in RETRYABLE:
            return response
        learner.retries += 1
        time.sleep(min(0.1 * (attempt + 1), 1.0))
    raise AssertionError(f"{method} {url} kept failing for learner {learner.number}")


def _launch(session: requests.Session, base: str, learner: Learner) -> dict[str, Any]:
    started = time.perf_counter()
    for _ in range(5):  # a launch cut by a dying node is started again, as a learner would
        auth = _send(session, learner, "GET", f"{base}/dev/platform/launch?user=cohort-{learner.number}&link=1")
        form = re.search(r'<form id="form_post" method="post" action="([^"]+)"', auth.text)
        if auth.status_code != 200 or form is None:
            learner.retries += 1
            continue
        fields = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text)}
        page = _send(session, learner, "POST", unescape(form.group(1)), data=fields)
        config = CONFIG.search(page.text)
        if page.status_code == 200 and config is not None:
            learner.launch_ms = (time.perf_counter() - started) * 1000
            return json.loads(config.group(1))
        learner.retries += 1
    raise AssertionError(f"learner {learner.number} could not launch")


def _play(base: str, ca: Path, learner: Learner, start_at: float, minutes: float) -> None:
    rng = random.Random(learner.number)
    try:
        time.sleep(max(0.0, start_at - time.monotonic()))
        session = tls_session(ca)
        config = _launch(session, base, learner)
        runtime = config["runtime"]
        learner.attempt_id, learner.item_id = runtime["attemptId"], runtime["scoId"]
        url = base + runtime["commitUrl"]
        headers = {"Authorization": f"Bearer {runtime['token']}"}
        seq = int(runtime["seq"])
        stop = time.monotonic() + minutes
        final = False
        while not final:
            time.sleep(rng.uniform(0.8, 2.0))
            seq += 1
            final = time.monotonic() >= stop
            changes = {"cmi.core.lesson_location": f"page-{seq}", "cmi.suspend_data": f"learner {learner.number} {seq}"}
            if final:
                changes.update({"cmi.core.score.raw": str(learner.score), "cmi.core.lesson_status": "passed"})
            body = {"seq": seq, "id": uuid.uuid4().hex, "changes": changes, "terminate": final}
            sent = time.perf_counter()
            answer = _send(session, learner, "POST", url, json=body, headers=headers)
            if answer.status_code != 200:
                raise AssertionError(f"commit {seq} answered {answer.status_code}: {answer.text[:200]}")
            learner.commit_ms.append((time.perf_counter() - sent) * 1000)
            learner.acked_seq = seq
        learner.finished = True
    except Exception as exc:  # reported by the test, with the learner's number
        learner.error = f"{type(exc).__name__}: {exc}"


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100)[q - 1]


def test_two_nodes_two_workers_behind_the_balancer_survive_kill_9(
    layout: Layout, database_for_layout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    learners = [Learner(number=n, score=40 + (n * 7) % 61) for n in range(1, LEARNERS + 1)]
    t0 = time.monotonic()
    threads = [
        threading.Thread(
            target=_play,
            args=(layout.base, layout.ca, lr, t0 + i * (RUN_SECONDS / 2) / LEARNERS, RUN_SECONDS / 3),
            daemon=True,
        )
        for i, lr in enumerate(learners)
    ]
    for t in threads:
        t.start()

    time.sleep(RUN_SECONDS * 0.3)
    layout.procs["web1"].kill9()
    killed_at = time.monotonic()
    wait_until(lambda: layout.backend_states().get("web1") == "DOWN", 15, "HAProxy to mark web1 DOWN")
    out_after = time.monotonic() - killed_at
    time.sleep(RUN_SECONDS * 0.15)
    layout.procs["worker1"].kill9()

    for t in threads:
        t.join(timeout=RUN_SECONDS * 2)
    errors = [f"learner {lr.number}: {lr.error}" for lr in learners if lr.error or not lr.finished]
    assert not errors, "\n".join(errors)
    assert layout.procs["web2"].alive() and layout.procs["worker2"].alive()

    # Every acknowledged commit is stored: the last one each learner saw acknowledged is the SCO's state.
    engine = create_engine(database_for_layout)
    try:
        with engine.connect() as conn:
            rows = {
                (r.attempt_id, r.item_id): r
                for r in conn.execute(select(ScoState.attempt_id, ScoState.item_id, ScoState.seq, ScoState.state))
            }
        lost = []
        for lr in learners:
            row = rows.get((lr.attempt_id, lr.item_id))
            stored = json.dumps(row.state) if row is not None else ""
            if row is None or row.seq != lr.acked_seq or f"page-{lr.acked_seq}" not in stored:
                lost.append((lr.number, lr.acked_seq, None if row is None else row.seq))
        assert not lost, f"acknowledged commits missing (learner, acked seq, stored seq): {lost}"

        # Every final score reaches the gradebook once; a dead worker's lease ends and another delivers.
        def drained() -> bool:
            status = json.loads(run_cli(layout, "sync", "status", "--json"))
            return all(p["pending"] == 0 and p["in_flight"] == 0 for p in status["platforms"]) and any(
                p["delivered"] for p in status["platforms"]
            )

        wait_until(drained, 60, "the grade outbox to drain", interval=1.0)
        status = json.loads(run_cli(layout, "sync", "status", "--json"))
        assert sum(p["dead"] for p in status["platforms"]) == 0, status
        with engine.connect() as conn:
            scores = conn.execute(
                select(DevScore.user_id, DevScore.score_given, DevScore.timestamp, DevScore.grading_progress).order_by(
                    DevScore.id
                )
            ).all()
            attempts = conn.execute(
                select(LearnerRegistration.learner_sub, Attempt.id).join(
                    Attempt, Attempt.registration_id == LearnerRegistration.id
                )
            ).all()
    finally:
        engine.dispose()
    latest: dict[str, float | None] = {}
    seen: set[tuple[str, str]] = set()
    duplicated = []
    for user, given, stamp, _progress in scores:
        if (user, stamp) in seen:
            duplicated.append((user, stamp))
        seen.add((user, stamp))
        latest[user] = given
    assert not duplicated, f"scores delivered twice: {duplicated}"
    wrong = [(lr.number, lr.score, latest.get(lr.sub)) for lr in learners if latest.get(lr.sub) != float(lr.score)]
    assert not wrong, f"gradebook differs (learner, expected, got): {wrong}"
    assert len({a for _, a in attempts}) == LEARNERS  # one attempt each: no launch was duplicated

    commits = [ms for lr in learners for ms in lr.commit_ms]
    launches = [lr.launch_ms for lr in learners]
    report = (
        f"\nscale-out: {LEARNERS} learners through HAProxy (TLS) to 2 web nodes, 2 workers, PostgreSQL; "
        f"kill -9 of web1 and worker1 during the run\n"
        f"  commits acknowledged {len(commits)}, lost 0; scores delivered {len(scores)}, lost 0, duplicated 0\n"
        f"  retried requests {sum(lr.retries for lr in learners)}; "
        f"web1 out of rotation {out_after:.1f}s after the kill\n"
        f"  launch p50 {_percentile(launches, 50):.0f} ms, p99 {_percentile(launches, 99):.0f} ms; "
        f"commit p50 {_percentile(commits, 50):.1f} ms, p99 {_percentile(commits, 99):.1f} ms"
    )
    with capsys.disabled():
        print(report)
    (Path(layout.folder) / "report.txt").write_text(report)
