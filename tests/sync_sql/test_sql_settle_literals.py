"""The batched settle's per-row values travel to PostgreSQL as array literals
(``pg_array_literal``, issue 16: grade delivery CPU): every value comes back as it went in,
whatever its characters, and values the literal cannot carry are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum

import pytest
from test_memory_store import T, claim, upd

from lti_tool.storage.outbox import SqlOutboxStore
from lti_tool.storage.outbox.statements import pg_array_literal
from sync.model import OutboxStatus
from sync.ports import SettleRequest

HOSTILE = [
    'quote " and backslash \\ and \\"',
    "comma, {braces} and NULL",
    "NULL",
    "",
    "line\nbreak\ttab 'single' ünïcödé ✓",
    "\\",
    '"',
]


def test_array_literals_of_every_settle_type():
    class Code(IntEnum):
        OK = 200

    at = datetime(2026, 12, 5, 8, 30, 1, 250, tzinfo=UTC)
    assert pg_array_literal([1, None, 3]) == "{1,NULL,3}"
    assert pg_array_literal([True, False, None]) == "{t,f,NULL}"
    assert pg_array_literal([Code.OK]) == "{200}"
    assert pg_array_literal([at]) == '{"2026-12-05T08:30:01.000250+00:00"}'
    assert pg_array_literal(['a"b\\c', "NULL"]) == '{"a\\"b\\\\c","NULL"}'
    assert pg_array_literal([]) == "{}"
    with pytest.raises(ValueError):
        pg_array_literal([datetime(2026, 12, 5)])  # naive
    with pytest.raises(TypeError):
        pg_array_literal([1.5])


def test_batched_settles_keep_every_character_of_their_messages(sql_store: SqlOutboxStore):
    """Retry and dead settles carry free text: in one batch, each row gets back exactly its own."""
    store = sql_store
    for n in range(2 * len(HOSTILE)):
        store.enqueue(upd(f"learner-{n}"), now=T)
    items = sorted(claim(store, limit=100), key=lambda i: i.update.user_id)
    assert len(items) == 2 * len(HOSTILE)
    plus_two = timezone(timedelta(hours=2))
    retry_at = (T + timedelta(seconds=30)).astimezone(plus_two)  # any offset: stored as the same instant
    batch = []
    expected = {}
    for n, item in enumerate(items):
        text = HOSTILE[n % len(HOSTILE)]
        if n < len(HOSTILE):
            params: dict[str, object] = {"status_code": 503, "error": text, "at": retry_at}
            batch.append(SettleRequest(kind="retry", item_id=item.id, version=item.version, params=params))
        else:
            params = {"status_code": None, "error": text}
            batch.append(SettleRequest(kind="dead", item_id=item.id, version=item.version, params=params))
        expected[item.id] = (n < len(HOSTILE), text)
    store.settle_many(batch, now=T)
    for item_id, (is_retry, text) in expected.items():
        row = store.get(item_id)
        assert row.last_error == text
        if is_retry:
            assert row.status is OutboxStatus.PENDING and row.last_status_code == 503
            assert row.next_attempt_at == T + timedelta(seconds=30)
        else:
            assert row.status is OutboxStatus.DEAD and row.last_status_code is None
