"""``lti_tool.grades``: which registrations are graded where, the ports over the app's storage,
and the SQLite one-worker lock. Every error code of these modules is exercised here."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import factories
import pytest
from sqlalchemy import update

from lti_tool import grades
from lti_tool.keys import KeyStore
from lti_tool.lti.tokens import KeyStoreSigning
from lti_tool.outcome_events import OutcomeChanged
from lti_tool.services import Services
from lti_tool.storage import Database
from lti_tool.storage.models import Attempt, LearnerRegistration, Platform
from lti_tool.storage.outbox import SqliteWorkerLock, SqlOutboxStore, WorkerLockError
from scorm.outcome import Outcome
from sync.errors import PlatformNotFoundError, SigningKeyError
from sync.lti_claims import SCOPE_LINEITEM, SCOPE_SCORE

AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def registration(ags: dict[str, Any], *, is_learner: bool = True) -> LearnerRegistration:
    return LearnerRegistration(
        id=1,
        platform_id=3,
        deployment_id="dep",
        resource_link_id="rl-9",
        resource_link_title="Module 9",
        learner_sub="sub-1",
        is_learner=is_learner,
        ags=ags,
        course_id=1,
    )


LI = "https://moodle.example/mod/lti/services.php/2/lineitems/5/lineitem?type_id=1"
LIS = "https://moodle.example/mod/lti/services.php/2/lineitems?type_id=1"


@pytest.mark.parametrize(
    ("ags", "key", "url", "tag"),
    [
        ({}, None, None, None),  # no AGS claim: the link is not graded
        ({"scope": [SCOPE_SCORE], "lineitem": LI}, "dep/rl-9", LI, None),
        ({"scope": [SCOPE_SCORE, SCOPE_LINEITEM], "lineitem": LI, "lineitems": LIS}, "dep/rl-9", LI, None),
        ({"scope": [SCOPE_LINEITEM], "lineitem": LI}, None, None, None),  # score scope not granted
        ({"scope": [SCOPE_SCORE], "lineitems": LIS}, None, None, None),  # cannot create a line item
        ({"scope": [SCOPE_SCORE, SCOPE_LINEITEM], "lineitems": LIS}, f"dep/rl-9#{grades.LINE_ITEM_TAG}", None, "tag"),
    ],
)
def test_line_item_target(ags: dict[str, Any], key: str | None, url: str | None, tag: str | None) -> None:
    target = grades.line_item_target(registration(ags))
    if key is None:
        assert target is None
        return
    assert target is not None and target.key == key
    assert target.ref.url == url
    assert target.ref.tag == (grades.LINE_ITEM_TAG if tag else None)
    assert target.ref.resource_link_id == "rl-9" and target.ref.label == "Module 9"
    assert target.ref.score_maximum == 100.0


@pytest.mark.parametrize(
    ("outcome", "is_learner", "expected"),
    [
        ({"score_scaled": 0.5, "completion": "completed", "success": "passed"}, True, (50.0, "FullyGraded")),
        ({"score_scaled": 0.5, "completion": "incomplete", "success": "unknown"}, True, (50.0, "Pending")),
        ({"completion": "incomplete"}, True, (None, "NotReady")),
        ({"score_scaled": 0.5, "completion": "completed"}, False, None),  # instructors are not graded
    ],
)
def test_score_update_for(outcome: dict[str, Any], is_learner: bool, expected: tuple | None) -> None:
    reg = registration({"scope": [SCOPE_SCORE], "lineitem": LI}, is_learner=is_learner)
    update = grades.score_update_for(reg, Outcome.from_json(outcome), AT)
    if expected is None:
        assert update is None
        return
    assert update is not None
    assert (update.score_given, str(update.grading_progress)) == expected
    assert (update.platform_key, update.user_id, update.outcome_at) == ("3", "sub-1", AT)


def test_ungradable_outcome_is_logged_not_raised(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    reg = registration({"scope": [SCOPE_SCORE], "lineitem": LI})
    with caplog.at_level(logging.WARNING, logger="lti_tool.grades"), db.session() as s:
        event = OutcomeChanged(
            session=s, registration=reg, attempt=Attempt(id="a-1"), outcome=Outcome(score_scaled=1.5), changed_at=AT
        )
        result = grades.enqueue_score(event)
    assert result is None
    (record,) = [r for r in caplog.records if r.name == "lti_tool.grades"]
    assert record.code == "invalid_outcome"  # type: ignore[attr-defined]
    assert SqlOutboxStore(db).list_items() == []


def test_the_factory_wires_exactly_one_grade_outbox_listener(services: Services) -> None:
    listeners = [x for x in services.outcome_listeners if isinstance(x, grades.GradeOutboxListener)]
    assert len(listeners) == 1


def _platform(services: Services, status: str = "active") -> int:
    return factories.add_platform(
        services.db,
        issuer="https://moodle.example",
        client_id="c-1",
        name="North",
        status=status,
        deployment_id=None,
    )


def test_platform_directory_reads_and_caches(services: Services) -> None:
    pid = _platform(services)
    clock = [0.0]
    directory = grades.SqlPlatformDirectory(services.db, ttl_seconds=10, monotonic=lambda: clock[0])
    found = directory.get_platform(str(pid))
    assert (found.key, found.issuer, found.client_id, found.token_url) == (
        str(pid),
        "https://moodle.example",
        "c-1",
        "https://moodle.example/token",
    )
    with services.db.session() as s:
        s.execute(update(Platform).values(auth_token_url="https://moodle.example/token2"))
    assert directory.get_platform(str(pid)).token_url.endswith("/token")  # cached
    clock[0] = 11
    assert directory.get_platform(str(pid)).token_url.endswith("/token2")


@pytest.mark.parametrize(
    ("key", "status", "words"),
    [("999", None, "no longer registered"), ("x", None, "no platform"), (None, "disabled", "is disabled")],
)
def test_platform_directory_errors(services: Services, key: str | None, status: str | None, words: str) -> None:
    if status is not None:
        key = str(_platform(services, status))
    with pytest.raises(PlatformNotFoundError) as err:
        grades.SqlPlatformDirectory(services.db).get_platform(key or "")
    assert err.value.code == "platform_not_found" and words in err.value.message


def test_signing_key_follows_the_keystore(services: Services, tmp_path: Path) -> None:
    key = KeyStoreSigning(services.keys).current_signing_key()
    assert key.kid == services.keys.signing_key().kid
    elsewhere = KeyStore(
        services.db, tmp_path / "empty-keys", overlap_seconds=60
    )  # active key in the DB, file not here
    with pytest.raises(SigningKeyError) as err:
        KeyStoreSigning(elsewhere).current_signing_key()
    assert err.value.code == "signing_key_unavailable" and "missing" in err.value.message


def test_worker_config_from_settings(services: Services) -> None:
    cfg = grades.worker_config(services)
    sync = services.settings.sync
    assert (cfg.per_platform_concurrency, cfg.global_concurrency, cfg.batch_size) == (
        sync.concurrency_per_platform,
        sync.global_concurrency,
        sync.batch_size,
    )
    assert cfg.retry_policy.base_seconds == sync.backoff_base_seconds
    assert grades.worker_config(services, concurrency=2).per_platform_concurrency == 2


def test_sqlite_worker_lock(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'one.sqlite3'}")
    first, second = SqliteWorkerLock.for_database(db), SqliteWorkerLock.for_database(db)
    assert first is not None and second is not None
    with first.held():
        with pytest.raises(WorkerLockError) as err:
            second.acquire()
        assert err.value.code == "sync_worker_running" and "PostgreSQL" in str(err.value)
    second.acquire()  # free again
    second.release()
    assert SqliteWorkerLock.for_database(Database("sqlite://")) is None
    db.dispose()


def test_platform_directory_and_url_guard_threads_that_miss_together_read_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold (or expired) cache entry is read from the database once, not once per thread."""
    pid = _platform(services)
    reads: list[int] = []
    real = grades.platforms.find_platform

    def counting(db: Any, platform_id: int) -> Any:
        reads.append(platform_id)
        time.sleep(0.05)  # long enough for every thread to miss
        return real(db, platform_id)

    monkeypatch.setattr(grades.platforms, "find_platform", counting)
    directory = grades.SqlPlatformDirectory(services.db)
    guard = grades.RegisteredHostsGuard(services.db)
    found: list[str] = []

    def deliver() -> None:
        endpoints = directory.get_platform(str(pid))
        guard(endpoints, "https://moodle.example/mod/lti/services.php/2/lineitems/1/lineitem")
        found.append(endpoints.issuer)

    threads = [threading.Thread(target=deliver) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert found == ["https://moodle.example"] * 12
    assert reads == [pid, pid]  # one read for the directory, one for the guard
