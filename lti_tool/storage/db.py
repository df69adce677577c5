"""Engine, sessions and migration control."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.storage import documents

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
TURN_WAIT_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 10
#: A pooled server connection idle longer than this is pinged (one round trip) when checked out;
#: one used more recently is only checked locally (see :func:`_liveness_check`).
PING_AFTER_IDLE_SECONDS = 5.0


class StorageError(Exception):
    """The database could not be used."""

    code = "storage_error"


class SchemaNotReadyError(StorageError):
    """The database schema is missing or older than this release."""

    code = "schema_not_ready"


#: SQLite: how often the background checkpointer copies the write-ahead log into the database
CHECKPOINT_INTERVAL_SECONDS = 0.2
#: SQLite: the log size (pages) at which a committing request checkpoints itself, when the
#: background checkpointer has fallen behind (SQLite's own default is 1,000 pages, 4 MB)
CHECKPOINT_BACKSTOP_PAGES = 16_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_BACKSTOP_PAGES}")
    cur.close()
    CHECKPOINTER.ensure_running()


class _Checkpointer:
    """One thread per process that checkpoints the SQLite databases of this process's
    :class:`Database` objects (``PRAGMA wal_checkpoint(PASSIVE)``, every
    :data:`CHECKPOINT_INTERVAL_SECONDS` when the log has grown).

    By default the request whose commit takes the log past 1,000 pages copies it into the
    database before it answers: about a third of the time of a batch of 50 LRS statements, and
    the latency spikes of whoever hits it. Here that work runs beside the requests (SQLite
    releases the GIL while it copies; a PASSIVE checkpoint never blocks a reader or a writer and
    never waits on one). The requests' own checkpoint stays as a backstop, at
    :data:`CHECKPOINT_BACKSTOP_PAGES`, should this thread fall behind. Started by the first
    connection a process opens (so a forked worker gets its own thread), a daemon: a process
    that exits leaves the log to the next connection, as SQLite always does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: weakref.WeakKeyDictionary[Database, str] = weakref.WeakKeyDictionary()
        self._connections: dict[str, sqlite3.Connection] = {}
        self._seen: dict[str, float] = {}
        self._pid = 0
        self.checkpoints = 0

    def register(self, db: Database, path: str) -> None:
        with self._lock:
            self._files[db] = path

    def unregister(self, db: Database) -> None:
        """Stop checkpointing ``db`` (its :meth:`Database.dispose`): no checkpoint of it runs after."""
        with self._lock:
            path = self._files.pop(db, None)
            if path is not None and path not in self._files.values():
                self._close(path)

    def ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._connections = {}  # a forked child must not use its parent's connections
            self._seen = {}
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True).start()

    def _close(self, path: str) -> None:
        connection = self._connections.pop(path, None)
        self._seen.pop(path, None)
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(CHECKPOINT_INTERVAL_SECONDS)
            try:
                with self._lock:
                    paths = set(self._files.values())
                    for gone in set(self._connections) - paths:
                        self._close(gone)
                    for path in paths:
                        self._checkpoint(path)
            except Exception:  # never end the thread: the requests' backstop would be all that is left
                logger.exception("background checkpoint round failed")

    def _checkpoint(self, path: str) -> None:
        """Checkpoint ``path`` if its log changed since the last look (one ``stat`` otherwise)."""
        try:
            changed = os.stat(path + "-wal").st_mtime
        except OSError:
            return  # no log (yet, or the database is gone)
        if self._seen.get(path) == changed:
            return
        try:
            connection = self._connections.get(path)
            if connection is None:
                connection = self._connections[path] = sqlite3.connect(path, timeout=0, check_same_thread=False)
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
            self._seen[path] = changed
        except sqlite3.Error as exc:  # busy, or the file went away: the next round (or a request) does it
            logger.debug("background checkpoint of %s skipped: %s", path, exc)
            self._close(path)


CHECKPOINTER = _Checkpointer()


def _fresh(_dbapi_conn: Any, record: Any, *_: Any) -> None:
    record.info["cbsi_idle_since"] = time.monotonic()


def _warm_and_quiet(dbapi_conn: Any, record: Any) -> bool:
    """True when the connection was used moments ago and nothing arrived on it since."""
    since = record.info.get("cbsi_idle_since")
    fileno = getattr(dbapi_conn, "fileno", None)
    if since is None or fileno is None or time.monotonic() - since >= PING_AFTER_IDLE_SECONDS:
        return False
    try:
        readable, _, _ = select.select([fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _liveness_check(dialect: Any) -> Any:
    """The pool's checkout listener: replace a dropped server connection when it is drawn.

    SQLAlchemy's ``pool_pre_ping`` sends a statement on every checkout: one round trip per
    request (per runtime commit) for a connection that served the previous request a few
    milliseconds ago. Here a connection idle for :data:`PING_AFTER_IDLE_SECONDS` or more is
    pinged as before; a warmer one is polled locally first: a server that terminated the backend
    (restart, ``pg_terminate_backend``) has sent a notice or closed the socket, which leaves it
    readable while the connection is idle, and then it is pinged too. A failed ping raises
    ``DisconnectionError``, on which the pool draws a fresh connection (the request never sees it).
    """

    def check_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if _warm_and_quiet(dbapi_conn, record):
            return
        try:
            alive = dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(str(exc)) from exc
        if not alive:  # pragma: no cover - psycopg's ping raises instead
            raise DisconnectionError("ping failed")

    return check_out


def _leave_autocommit(conn: Connection, driver: Any) -> None:
    """Switch a pooled PostgreSQL connection back to transactions before the pool takes it back.

    A connection whose switch cannot be set (the server went away, or it is inside a transaction
    a caller left open) is invalidated: the pool must never hand an autocommitting connection to
    a unit of work.
    """
    if conn.invalidated:
        return
    try:
        driver.autocommit = False
    except Exception as exc:  # any failure: the connection is not reused
        conn.invalidate(exc)


class Database:
    """One engine and its session factory.

    Args:
        url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        echo: log SQL statements (never enable in production: values may be personal data).
        pool_size: connection pool size for server databases.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "future": True, "json_serializer": documents.dumps}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                CHECKPOINTER.register(self, str(Path(parsed.database).resolve()))
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
        else:
            # a connection the server dropped (restart, failover, idle kill) is replaced when it is
            # checked out instead of failing the request that drew it (_liveness_check: like
            # pool_pre_ping, without its round trip for a connection used moments ago)
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
            if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
                # an unreachable server fails fast (503 database_unavailable), never hangs a thread
                kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine, "connect", _fresh)
            event.listen(self.engine, "checkin", _fresh)
            event.listen(self.engine, "checkout", _liveness_check(self.engine.dialect))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite's autocommit goes through SQLAlchemy's isolation level; PostgreSQL's sets the
        # driver's own switch (autocommit below): the same mode for about 35 µs less per checkout
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # SQLite has one writer at a time; its busy handler sleeps and retries, which collapses
        # throughput when threads collide. Units of work in one process take turns instead. The
        # wait is bounded: a unit of work that waits on another thread (an HTTP call answered by
        # this same process, in the demo) cannot deadlock, it falls back to the busy handler.
        self._turns = threading.RLock() if self.is_sqlite else None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        held = self._turns is not None and self._turns.acquire(timeout=TURN_WAIT_SECONDS)
        try:
            yield
        finally:
            if held and self._turns is not None:
                self._turns.release()

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A pooled connection whose every statement is its own transaction (no BEGIN, no COMMIT).

        For a hot path of statements that are each safe alone (a read, then an UPDATE guarded by
        what was read): on PostgreSQL each is one round trip instead of BEGIN, statement(s) and
        COMMIT. SQLite takes its turn as a unit of work does.
        """
        if self.is_sqlite:
            with self._turn(), self._autocommit_engine.connect() as conn:
                yield conn
            return
        # PostgreSQL: psycopg's ``autocommit`` attribute, switched on after the checkout and off
        # before the checkin, is what SQLAlchemy's AUTOCOMMIT isolation level sets too (its
        # set-and-reset of the level, through the dialect and the pool's reset, cost ~35 µs of a
        # runtime commit's CPU). The pool's reset on checkin (a rollback) finds nothing to undo.
        with self.engine.connect() as conn:
            driver = conn.connection.driver_connection
            driver.autocommit = True
            try:
                yield conn
            finally:
                _leave_autocommit(conn, driver)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends normally, rolls back otherwise."""
        with self._turn():
            session = self._sessions()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    # -- migrations ----------------------------------------------------------------------

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["engine"] = self.engine
        return cfg

    def head_revisions(self) -> set[str]:
        """Revisions this release expects."""
        return set(ScriptDirectory.from_config(self._alembic_config()).get_heads())

    def current_revisions(self) -> set[str]:
        """Revisions recorded in the database (empty when never migrated)."""
        try:
            with self.engine.connect() as conn:
                return set(MigrationContext.configure(conn).get_current_heads())
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot connect to the database: {exc.__class__.__name__}") from exc

    def upgrade(self) -> None:
        """Create or migrate the schema to this release's heads."""
        command.upgrade(self._alembic_config(), "heads")

    def schema_ahead(self) -> set[str]:
        """Revisions in the database that this release does not know: a newer release migrated it.

        Raises:
            SchemaNotReadyError: the database is empty, or older than this release.
        """
        current = self.current_revisions()
        script = ScriptDirectory.from_config(self._alembic_config())
        heads = set(script.get_heads())
        known = {rev.revision for rev in script.walk_revisions()}
        ahead = current - known
        behind = (current & known) - heads  # one of our older revisions is still a head
        if not current or behind or (heads - current and not ahead):
            state = "empty" if not current else f"at {', '.join(sorted(current))}"
            raise SchemaNotReadyError(
                f"the database schema is {state}, this release needs {', '.join(sorted(heads))}: "
                "run 'cbsi-connect db upgrade' first"
            )
        return ahead

    def check_migrated(self) -> None:
        """Refuse to run on a database that is not migrated to this release's schema.

        A database migrated further by a newer release is accepted: migrations are
        expand-then-contract (docs/ARCHITECTURE.md, "Upgrades"), so during a rolling upgrade the
        previous release's nodes keep serving against the new schema.

        Raises:
            SchemaNotReadyError: with the command that fixes it.
        """
        ahead = self.schema_ahead()
        if ahead:
            logger.info("database schema is ahead of this release (%s): a newer release is rolling out", sorted(ahead))

    def ping(self) -> None:
        """Run a trivial query.

        Raises:
            StorageError: the database does not answer.
        """
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StorageError(f"database unavailable: {exc.__class__.__name__}") from exc

    def dispose(self) -> None:
        """Close pooled connections (and stop checkpointing a SQLite database in the background)."""
        CHECKPOINTER.unregister(self)
        self.engine.dispose()


@contextlib.contextmanager
def driver_errors(conn: Connection, statement: str, params: Any) -> Iterator[None]:
    """Calls made straight on ``conn``'s driver connection (a hot path skipping Core) with Core's
    error handling: a driver error becomes SQLAlchemy's (an ``OperationalError`` is the web layer's
    503 ``database_unavailable``), and a lost connection is invalidated so the pool drops it."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(statement, params, exc, dbapi.Error, connection_invalidated=lost) from exc


def _text_param(value: Any, encoding: str) -> bytes | None:
    """One parameter in PostgreSQL's text format (what psycopg sends for these types)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, datetime):
        if value.tzinfo is None:  # as UtcDateTime: a naive time is a bug, not a guess
            raise ValueError("naive datetime refused: use timezone-aware UTC datetimes")
        return value.isoformat().encode()
    if isinstance(value, str):
        if "\x00" in value:  # libpq's text parameters end at a NUL: refused, as psycopg does
            from psycopg import DataError

            raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        return value.encode(encoding)
    raise TypeError(f"no text form for a {type(value).__name__} parameter")


def run_prepared(conn: Connection, name: bytes, statement: str, params: Sequence[Any]) -> Any:
    """Run ``statement`` (``$1``… placeholders) as a named prepared statement through libpq itself.

    For the runtime commit's two statements on an autocommitting PostgreSQL connection
    (``Database.autocommit``): psycopg's cursor (query conversion, adapters, row making, its
    wait loop) cost ~45 µs of CPU per statement more than libpq's own call (issue 16,
    ``bench/bench_commits.py``). libpq's blocking call releases the GIL, as psycopg's wait does.

    The statement is prepared once per pooled connection (remembered in its pool record, which
    is cleared when the connection is replaced); a server that forgot it (a pooler's
    ``DISCARD ALL``: SQLSTATE 26000) gets it again, once. A failure raises psycopg's own
    exception for it, so ``driver_errors`` treats it as any driver error (a lost connection is
    invalidated: psycopg's ``closed`` reads libpq's status).

    Returns:
        libpq's result (text format): ``get_value(row, column)`` is bytes or None.
    """
    from psycopg import pq

    driver = conn.connection.driver_connection
    pgconn = driver.pgconn
    if not driver.autocommit or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        raise RuntimeError("run_prepared needs an idle autocommitting connection (Database.autocommit)")
    encoding = driver.info.encoding
    values = [_text_param(v, encoding) for v in params]
    prepared: set[bytes] = conn.connection.info.setdefault("cbsi_prepared", set())
    if name not in prepared:
        _check(pgconn.prepare(name, statement.encode()), encoding)
        prepared.add(name)
    result = pgconn.exec_prepared(name, values)
    if result.error_field(pq.DiagnosticField.SQLSTATE) == b"26000":  # invalid_sql_statement_name
        _check(pgconn.prepare(name, statement.encode()), encoding)
        result = pgconn.exec_prepared(name, values)
    return _check(result, encoding)


def _check(result: Any, encoding: str) -> Any:
    """libpq's result when it succeeded, else psycopg's exception for its error."""
    from psycopg import errors, pq

    if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        return result
    raise errors.error_from_result(result, encoding=encoding)
