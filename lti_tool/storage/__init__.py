"""Storage: SQLAlchemy 2 engine and sessions, schema through Alembic migrations only.

All SQL of the project lives behind this package. SQLite (WAL) is the embedded default;
PostgreSQL is the production and multi-node engine.
"""

from __future__ import annotations

from lti_tool.storage.db import Database, SchemaNotReadyError, StorageError

__all__ = ["Database", "SchemaNotReadyError", "StorageError"]
