"""Worker processes: kill -9 mid-batch and restart; two workers on PostgreSQL; one on SQLite.

Each test starts ``python -m lti_tool sync run`` subprocesses against the test database and the
fake platform (real HTTP on 127.0.0.1). Marked ``slow``: a few seconds each.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sync_sql_helpers import (
    REPO,
    TrackingPlatform,
    all_settled,
    direct_update,
    register_platform,
    start_platform,
    utc,
    wait_until,
    worker_process,
    write_config,
)

from lti_tool.services import Services
from lti_tool.storage.outbox import SqlOutboxStore
from sync.model import OutboxStatus

pytestmark = pytest.mark.slow
S = OutboxStatus


@pytest.fixture
def fake(services: Services) -> Iterator[TrackingPlatform]:
    platform = start_platform(services)
    yield platform
    platform.stop()


def enqueue_round(store: SqlOutboxStore, pid: int, url: str, users: list[str], *, score: float, at: datetime) -> None:
    for user in users:
        store.enqueue(direct_update(str(pid), user, score=score, at=at, url=url), now=utc(0))


def assert_in_order(fake: TrackingPlatform, users: list[str], final_score: float) -> None:
    by_user = fake.accepted_by_user()
    for user in users:
        sent = by_user[user]
        stamps = [datetime.fromisoformat(p["timestamp"]) for p in sent]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), (user, sent)
        assert sent[-1]["scoreGiven"] == final_score, (user, sent)
        assert fake.grades[(1, user)].value == final_score


def test_worker_killed_mid_batch_is_recovered_by_a_new_worker(
    services: Services,
    fake: TrackingPlatform,
    tmp_path: Path,
    settings_overrides: dict[str, dict[str, Any]],
) -> None:
    store = SqlOutboxStore(services.db)
    pid = register_platform(services, fake)
    url = fake.add_line_item(label="Evidence")
    users = [f"u{n:02d}" for n in range(30)]
    enqueue_round(store, pid, url, users, score=0.3, at=utc(60))
    fake.faults.latency = 0.25  # a slow academy
    config = write_config(
        tmp_path,
        settings_overrides,
        {"lease_seconds": 2, "concurrency_per_platform": 4, "global_concurrency": 4, "batch_size": 10},
    )
    log = tmp_path / "worker.log"
    with worker_process(config, log) as first:
        wait_until(lambda: len(fake.accepted()) >= 6, 20, "the first deliveries")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    stuck = store.list_items(statuses=[S.IN_FLIGHT])
    assert stuck, "the worker should have died with leased rows"
    assert len(store.list_items(statuses=[S.DELIVERED])) < len(users)
    # newer outcomes arrive while no worker runs (they coalesce into the leased rows)
    enqueue_round(store, pid, url, users, score=0.9, at=utc(30))
    with worker_process(config, log) as second:
        wait_until(lambda: all_settled(store) and all(fake.grades.get((1, u)) for u in users), 40, "redelivery")
        second.send_signal(signal.SIGTERM)  # graceful stop
        assert second.wait(timeout=15) == 0, log.read_text()
    assert {it.status for it in store.list_items()} <= {S.DELIVERED, S.SUPERSEDED}
    assert_in_order(fake, users, 90.0)
    assert max(fake.max_inflight.values()) == 1


@pytest.mark.postgres
def test_two_workers_on_postgres_never_send_one_row_twice_at_once(
    services: Services,
    fake: TrackingPlatform,
    tmp_path: Path,
    settings_overrides: dict[str, dict[str, Any]],
) -> None:
    if not os.environ.get("CBSI_TEST_POSTGRES_URL"):
        pytest.skip("needs PostgreSQL: set CBSI_TEST_POSTGRES_URL (scripts/test.sh does)")
    store = SqlOutboxStore(services.db)
    pid = register_platform(services, fake)
    url = fake.add_line_item(label="Evidence")
    users = [f"u{n:02d}" for n in range(80)]
    enqueue_round(store, pid, url, users, score=0.2, at=utc(60))
    fake.faults.latency = 0.05
    config = write_config(
        tmp_path,
        settings_overrides,
        {"lease_seconds": 30, "concurrency_per_platform": 4, "global_concurrency": 4, "batch_size": 4},
    )
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with worker_process(config, logs[0]) as a, worker_process(config, logs[1]) as b:
        wait_until(lambda: len(fake.accepted()) >= 20, 30, "the first deliveries")
        enqueue_round(store, pid, url, users, score=0.7, at=utc(30))  # coalesced mid-flight
        wait_until(
            lambda: (
                all_settled(store)
                and all(fake.grades[(1, u)].value == 70.0 for u in users if (1, u) in fake.grades)
                and len(fake.grades) == len(users)
            ),
            60,
            "every newer score",
        )
        for proc in (a, b):
            proc.send_signal(signal.SIGTERM)
        assert a.wait(timeout=15) == 0 and b.wait(timeout=15) == 0
    assert max(fake.max_inflight.values()) == 1
    assert_in_order(fake, users, 70.0)
    for log in logs:  # both workers took part
        stopped = next(ln for ln in log.read_text().splitlines() if "sync worker stopped" in ln)
        assert "claimed 0," not in stopped, stopped


def test_second_worker_on_sqlite_refuses(tmp_path: Path, sqlite_template: Path, settings_overrides: dict) -> None:
    db_file = tmp_path / "solo" / "cbsi.sqlite3"
    db_file.parent.mkdir()
    shutil.copyfile(sqlite_template, db_file)
    overrides = {**settings_overrides, "database": {"url": f"sqlite:///{db_file}"}}
    config = write_config(tmp_path, overrides, {})
    log = tmp_path / "first.log"
    with worker_process(config, log) as first:
        wait_until(lambda: log.exists() and "running" in log.read_text(), 20, "the first worker")
        env = {**os.environ, "PYTHONPATH": str(REPO), "CBSI_CONNECT_CONFIG": str(config)}
        second = subprocess.run(
            [sys.executable, "-m", "lti_tool", "sync", "once"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert "already runs on this SQLite database" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
    # once the first worker is gone the lock is free again
    again = subprocess.run(
        [sys.executable, "-m", "lti_tool", "sync", "once"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "CBSI_CONNECT_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 0, again.stderr
