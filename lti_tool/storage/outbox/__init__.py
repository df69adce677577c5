"""The grade outbox in SQL (owner of the ``grade_outbox`` table), split by responsibility.

* :mod:`lti_tool.storage.outbox.store` — ``SqlOutboxStore`` (``sync.ports.OutboxStore``),
  ``PlatformSummary``, ``outbox_rows_for``;
* :mod:`lti_tool.storage.outbox.statements` — the dialect-specific upsert and settle statements
  and the row → ``OutboxItem`` mapping;
* :mod:`lti_tool.storage.outbox.lock` — ``SqliteWorkerLock`` (one worker per SQLite database).

The public names stay importable from ``lti_tool.storage.outbox``.
"""

from __future__ import annotations

from lti_tool.storage.outbox.lock import SqliteWorkerLock, WorkerLockError
from lti_tool.storage.outbox.statements import item_from_row
from lti_tool.storage.outbox.store import LATENCY_BUCKETS, PlatformSummary, SqlOutboxStore, outbox_rows_for, utc_now

__all__ = [
    "LATENCY_BUCKETS",
    "PlatformSummary",
    "SqlOutboxStore",
    "SqliteWorkerLock",
    "WorkerLockError",
    "item_from_row",
    "outbox_rows_for",
    "utc_now",
]
