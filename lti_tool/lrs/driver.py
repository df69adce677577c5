"""The LRS's statement write path at the driver level (see :class:`Driver`).

No table is owned here: :mod:`lti_tool.lrs.store` (the owner of the statement tables) hands it
its tables and SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lti_tool.storage.db import driver_errors

_MISSING = object()
_PROCESSORS: dict[tuple[int, str, tuple[str, ...]], list[Any]] = {}


class Driver:
    """The statement write path at the driver level, in the session's transaction.

    A batch of 50 statements is five statements of SQL; through SQLAlchemy Core each one pays for
    its cache key, parameter processing and result set-up, which cost more CPU than SQLite spends
    on the rows. Here the SQL is written once per dialect (SQLite and PostgreSQL; ``None`` for any
    other dialect, which keeps the Core path) and the values go through the same bind processors
    SQLAlchemy would apply, so the stored values are identical.
    """

    def __init__(self, conn: Connection) -> None:
        #: the session's Connection of the current transaction (set again by :meth:`of` for each one)
        self.conn = conn
        self.dialect = conn.dialect
        self.mark = "?" if self.dialect.name == "sqlite" else "%s"
        self.owner = conn.connection.dbapi_connection
        self.cursor = conn.connection.cursor()
        # SQLite before 3.32 allows 999 variables per statement; PostgreSQL 65,535
        self.max_params = 999 if self.dialect.name == "sqlite" else 30_000

    @classmethod
    def of(cls, session: Session) -> Driver | None:
        """The driver of the session's connection (one cursor per pooled connection, kept in its info)."""
        transaction = session.get_transaction()
        known = session.info.get("cbsi_lrs_driver")
        if transaction is not None and known is not None and known[0] is transaction:
            return known[1]  # type: ignore[no-any-return]  # same transaction: same connection
        conn = session.connection()
        if conn.dialect.name not in ("sqlite", "postgresql"):
            return None
        driver = conn.info.get("cbsi_lrs_driver")
        if driver is None or driver.owner is not conn.connection.dbapi_connection:
            driver = conn.info["cbsi_lrs_driver"] = cls(conn)
        driver.conn = conn
        session.info["cbsi_lrs_driver"] = (session.get_transaction(), driver)
        return driver  # type: ignore[no-any-return]

    def run(self, sql: str, params: Any, *, many: bool = False, fetch: bool = False) -> list[tuple[Any, ...]]:
        """Execute on the driver with Core's error handling (:func:`~lti_tool.storage.db.driver_errors`):
        errors become SQLAlchemy's (IntegrityError, OperationalError: 503 ``database_unavailable``) and a
        lost connection is invalidated. ``fetch``: the rows it returned."""
        with driver_errors(self.conn, sql, params):
            (self.cursor.executemany if many else self.cursor.execute)(sql, params)
            return self.cursor.fetchall() if fetch else []  # type: ignore[no-any-return]

    def processors(self, table: Any, columns: Sequence[str]) -> list[Any]:
        key = (id(self.dialect), table.name, tuple(columns))
        found = _PROCESSORS.get(key)
        if found is None:
            found = _PROCESSORS[key] = [table.c[name].type.bind_processor(self.dialect) for name in columns]
        return found

    def values(
        self, table: Any, columns: Sequence[str], rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]
    ) -> list[list[Any]]:
        """The rows' values in ``columns`` order, through the columns' bind processors. A row is a
        mapping by column name, or a list already in ``columns`` order (then converted in place)."""
        if rows and isinstance(rows[0], Mapping):
            out = [[r[c] for c in columns] for r in rows]  # type: ignore[call-overload]
        else:
            out = rows  # type: ignore[assignment]
        for i, proc in enumerate(self.processors(table, columns)):
            if proc is None:
                continue
            # column by column, the last value's conversion reused for the same object (a batch's
            # ``stored``, the booleans): one datetime formatted per batch instead of one per row
            last_in: Any = _MISSING
            last_out: Any = None
            for values in out:
                value = values[i]
                if value is None:
                    continue
                if value is not last_in:
                    last_in, last_out = value, proc(value)
                values[i] = last_out
        return out

    def insert_many(
        self, table: Any, columns: Sequence[str], rows: Sequence[Mapping[str, Any]] | Sequence[list[Any]]
    ) -> None:
        marks = ", ".join([self.mark] * len(columns))
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - names from the models
        self.run(sql, self.values(table, columns, rows), many=True)

    def insert_returning(
        self,
        table: Any,
        columns: Sequence[str],
        rows: Sequence[Mapping[str, Any]] | Sequence[list[Any]],
        returning: str,
        *,
        skip_existing: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """Multi-row INSERT ... RETURNING (order not guaranteed: return a column to match rows by).

        ``skip_existing``: the columns of a unique constraint; a row whose key is stored already is
        skipped (``ON CONFLICT (...) DO NOTHING``, SQLite and PostgreSQL) and not returned.
        """
        values = self.values(table, columns, rows)
        one = "(" + ", ".join([self.mark] * len(columns)) + ")"
        step = max(1, self.max_params // len(columns))
        out: list[tuple[Any, ...]] = []
        for i in range(0, len(values), step):
            chunk = values[i : i + step]
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608
            if skip_existing:
                sql += f"ON CONFLICT ({skip_existing}) DO NOTHING "
            out += self.run(sql + f"RETURNING {returning}", [v for row in chunk for v in row], fetch=True)
        return out

    def select_in(self, sql: str, first: Sequence[Any], many: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``sql`` ends with ``IN``; its other markers are ``{}``; ``many`` fills the IN list in chunks."""
        out: list[tuple[Any, ...]] = []
        head = sql.replace("{}", self.mark)
        for i in range(0, len(many), 500):
            chunk = list(many[i : i + 500])
            out += self.run(f"{head} ({', '.join([self.mark] * len(chunk))})", [*first, *chunk], fetch=True)
        return out
