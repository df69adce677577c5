"""Storage: SQLAlchemy 2 engine and sessions, schema through Alembic migrations only.

Every table has one owner module, and only the owner builds queries on it: this package owns
the shared core (``courses``: the catalogue's tables, ``learners``: registrations, attempts and
SCO states, ``outbox``: the grade outbox); each other aggregate's store owns its own tables
(docs/ARCHITECTURE.md, "Storage boundary"; checked by ``tests/test_storage_boundary.py``).
SQLite (WAL) is the embedded default; PostgreSQL is the production and multi-node engine.
"""

from __future__ import annotations

from lti_tool.storage.db import Database, SchemaNotReadyError, StorageError

__all__ = ["Database", "SchemaNotReadyError", "StorageError"]
