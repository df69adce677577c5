"""One sync worker per SQLite database: ``SqliteWorkerLock`` and its error."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from lti_tool.storage.db import Database, StorageError


class WorkerLockError(StorageError):
    """Another sync worker already runs on this SQLite database."""

    code = "sync_worker_running"


class SqliteWorkerLock:
    """One sync worker per SQLite database (DESIGN.md §5.6): an exclusive ``flock`` on a file.

    The operating system drops the lock when the process dies (even on ``kill -9``), so a crashed
    worker never blocks its successor. On PostgreSQL no lock is needed (SKIP LOCKED claims).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    @classmethod
    def for_database(cls, db: Database) -> SqliteWorkerLock | None:
        """The lock beside the SQLite file (None for PostgreSQL or an in-memory database)."""
        if not db.is_sqlite:
            return None
        database = make_url(db.url).database
        if not database or database == ":memory:":
            return None
        return cls(Path(database).with_name(Path(database).name + ".sync-worker.lock"))

    def acquire(self) -> None:
        """Take the lock or refuse.

        Raises:
            WorkerLockError: another process holds it.
        """
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise WorkerLockError(
                f"a sync worker ({holder}) already runs on this SQLite database; SQLite runs one worker — "
                "stop it first, or move to PostgreSQL (database.url) to run several"
            ) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        """Drop the lock."""
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """``with lock.held():`` acquire, then release at the end."""
        self.acquire()
        try:
            yield
        finally:
            self.release()
