"""Helpers for the SQL grade-sync tests (a uniquely named module; conftests are per folder)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import factories
from click.testing import CliRunner
from sync_fakeplatform import FakePlatform, _Handler

from lti_tool.cli import CliContext, cli
from lti_tool.lti.context import Launch
from lti_tool.services import Services
from lti_tool.storage.outbox import SqlOutboxStore
from sync.lti_claims import SCOPE_LINEITEM, SCOPE_SCORE
from sync.model import LineItemRef, OutboxStatus, ScoreUpdate
from sync.scores import Completion, Outcome, Success, build_score_update

REPO = Path(__file__).resolve().parents[2]
LEARNER = factories.LEARNER
INSTRUCTOR = factories.INSTRUCTOR
SETTLED = (OutboxStatus.DELIVERED, OutboxStatus.SUPERSEDED, OutboxStatus.DEAD)


class _TrackingHandler(_Handler):
    """Records, per (line item path, userId), how many score requests are in progress at once."""

    _cached: bytes | None = None

    def _body(self) -> bytes:
        if self._cached is not None:
            raw, self._cached = self._cached, None
            return raw
        return super()._body()

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if not url.path.endswith("/scores"):
            super().do_POST()
            return
        raw = super()._body()
        self._cached = raw
        try:
            user = str(json.loads(raw).get("userId"))
        except (ValueError, AttributeError):
            user = ""
        fake = self.fake
        assert isinstance(fake, TrackingPlatform)
        key = (url.path, user)
        with fake.lock:
            fake.inflight[key] += 1
            fake.max_inflight[key] = max(fake.max_inflight[key], fake.inflight[key])
        try:
            super().do_POST()
        finally:
            with fake.lock:
                fake.inflight[key] -= 1


class TrackingPlatform(FakePlatform):
    """The fake platform, plus concurrent in-flight score requests per key."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inflight: dict[tuple[str, str], int] = defaultdict(int)
        self.max_inflight: dict[tuple[str, str], int] = defaultdict(int)

    def start(self) -> TrackingPlatform:
        platform = self

        class Handler(_TrackingHandler):
            fake = platform

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def accepted_by_user(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for _item, payload in self.accepted():
            out[str(payload["userId"])].append(payload)
        return out


def start_platform(services: Services, **kwargs: Any) -> TrackingPlatform:
    key = services.keys.signing_key()
    return TrackingPlatform(
        public_key=key.private_key.public_key(), kid=key.kid, client_id="client-1", **kwargs
    ).start()


def register_platform(services: Services, fake: FakePlatform, *, name: str = "Fake Moodle") -> int:
    return factories.add_platform(
        services.db, issuer=fake.base, client_id=fake.client_id, name=name, token_url=fake.token_url
    )


def launch(
    platform_id: int,
    course: str,
    *,
    sub: str,
    link: str = "rl-1",
    lineitem: str | None,
    lineitems: str | None = None,
    roles: tuple[str, ...] = (LEARNER,),
) -> Launch:
    """A learner's launch whose AGS claim names ``lineitem`` (or only the ``lineitems`` container)."""
    claims = factories.ags_claim(lineitem, lineitems=lineitems, scopes=(SCOPE_SCORE, SCOPE_LINEITEM))
    return factories.launch(
        course, platform_id=platform_id, sub=sub, link=link, roles=roles, launch_id=f"launch-{sub}", claims=claims
    )


def direct_update(
    platform_key: str, user: str, *, score: float, at: datetime, url: str, key: str = "dep-1/rl-1"
) -> ScoreUpdate:
    return build_score_update(
        Outcome(
            score_scaled=score, completion=Completion.COMPLETED, success=Success.PASSED, is_final=True, changed_at=at
        ),
        platform_key=platform_key,
        line_item_key=key,
        line_item=LineItemRef(url=url, score_maximum=100.0),
        user_id=user,
    )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def all_settled(store: SqlOutboxStore) -> bool:
    return all(it.status in SETTLED for it in store.list_items())


def run_cli(services: Services, *args: str) -> tuple[int, str]:
    """Run ``cbsi-connect <args>`` in-process over ``services`` (signal handlers restored)."""
    obj = CliContext(None)
    obj._settings = services.settings
    obj._services = services
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = CliRunner().invoke(cli, list(args), obj=obj, catch_exceptions=False)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return result.exit_code, result.output


def write_config(tmp_path: Path, settings_overrides: dict[str, dict[str, Any]], sync: dict[str, Any]) -> Path:
    """A TOML config file for a worker subprocess, equal to the test's settings plus ``[sync]``."""
    lines: list[str] = []
    sections = {**settings_overrides, "sync": {**settings_overrides.get("sync", {}), **sync}}
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
    path = tmp_path / "worker.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def worker_process(config: Path, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m lti_tool sync run`` in a subprocess; SIGKILLed at the end if still alive."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "CBSI_CONNECT_CONFIG": str(config)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lti_tool", "sync", "run", "--poll", "0.1", *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def utc(seconds_ago: float) -> datetime:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).replace(microsecond=0)
