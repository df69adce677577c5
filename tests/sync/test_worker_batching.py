"""The worker's database work per score (issue 16, grade delivery CPU): claims and settles go in
batches, the shared token cache is not read before every score — and nothing is lost for it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sync_harness import Harness

from sync.memory import InMemoryOutboxStore, InMemoryTokenCache
from sync.model import LineItemRef, OutboxStatus
from sync.ports import CachedToken
from sync.tokens import LocalTokenMemo
from sync.worker import Worker, WorkerConfig

T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
SINGLE = ("mark_delivered", "mark_superseded", "schedule_retry", "mark_dead", "release")


class CountingStore:
    """An ``InMemoryOutboxStore`` that counts the calls the worker makes."""

    def __init__(self, inner: InMemoryOutboxStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.settled_in_batches = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "settle_many":
                self.settled_in_batches += len(args[0])
            return target(*args, **kwargs)

        return counted


def _harness(make_platform: Any, signing: Any, config: WorkerConfig, n: int) -> tuple[Harness, CountingStore, Any]:
    fake = make_platform()
    url = fake.add_line_item(label="Quiz")
    # generous timeouts: 8 connections at once to the one-thread fake LMS can wait in its accept
    # queue on a loaded machine, and a retried score would blur the counts asserted here
    h = Harness(signing, {"p1": fake}, config=config, timeout=(10.0, 10.0))
    for i in range(n):
        h.enqueue("p1", f"u{i}", score=i / n, at=T0, line_item=LineItemRef(url=url))
    counting = CountingStore(h.store)
    h.worker = Worker(counting, h.directory, h.ags, config=config)  # type: ignore[arg-type]
    return h, counting, fake


def test_settles_and_claims_are_batched(make_platform, signing):
    n = 120
    config = WorkerConfig(per_platform_concurrency=8, global_concurrency=8, batch_size=200, settle_batch_size=50)
    h, counting, fake = _harness(make_platform, signing, config, n)
    stats = h.worker.run_once()
    assert stats.delivered == n and stats.claimed == n
    assert h.store.status_counts()["p1"] == {OutboxStatus.DELIVERED: n}
    assert sorted(p["userId"] for _i, p in fake.accepted()) == sorted(f"u{i}" for i in range(n))
    assert not any(counting.calls[name] for name in SINGLE)  # no statement per row
    assert counting.settled_in_batches == n
    # a batch is written when full or 0.2 s old: 120 scores at 8 in flight take several batches,
    # far fewer than one per score
    assert 1 <= counting.calls["settle_many"] <= n // 4
    assert counting.calls["claim_due"] <= n // 2  # refilled at half backlog, not per completion (~n)


def test_settle_batch_size_one_settles_each_row_at_once(make_platform, signing):
    n = 20
    config = WorkerConfig(per_platform_concurrency=4, global_concurrency=4, settle_batch_size=1)
    h, counting, _fake = _harness(make_platform, signing, config, n)
    assert h.worker.run_once().delivered == n
    assert counting.calls["mark_delivered"] == n and counting.calls["settle_many"] == 0


def test_stop_writes_the_collected_settles(make_platform, signing):
    """A stopped worker returns only after every finished request is settled (nothing left leased)."""
    n = 40
    config = WorkerConfig(per_platform_concurrency=4, global_concurrency=4, settle_batch_size=1000)
    h, counting, fake = _harness(make_platform, signing, config, n)
    fake.faults.latency = 0.05
    original = h.worker._process

    def process_then_stop(item: Any, stats: Any) -> None:
        original(item, stats)
        h.worker.stop()

    h.worker._process = process_then_stop  # type: ignore[method-assign]
    stats = h.worker.run_once()
    items = h.store.list_items()
    assert not [it for it in items if it.status is OutboxStatus.IN_FLIGHT]
    assert stats.delivered >= 1 and stats.delivered + stats.released == stats.claimed
    assert counting.settled_in_batches == stats.claimed
    assert len([it for it in items if it.status is OutboxStatus.PENDING]) == n - stats.delivered
    assert len([p for _i, p in fake.accepted()]) == stats.delivered


class CountingCache(InMemoryTokenCache):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key: tuple[str, str, str]) -> CachedToken | None:
        self.reads += 1
        return super().get(key)


def test_local_token_memo_reads_the_shared_cache_once_per_ttl() -> None:
    shared = CountingCache()
    clock = [100.0]
    memo = LocalTokenMemo(shared, ttl_seconds=30, monotonic=lambda: clock[0])
    key = ("https://lms.example", "client", "scope")
    token = CachedToken(access_token="t1", expires_at=T0)
    assert memo.get(key) is None and shared.reads == 1
    memo.put(key, token)
    assert shared.get(key) == token  # written through at once
    for _ in range(100):
        assert memo.get(key) == token
    assert shared.reads == 2  # the one above only
    other = CachedToken(access_token="t2", expires_at=T0)
    shared.put(key, other)  # another process refreshed it
    clock[0] += 29
    assert memo.get(key) == token
    clock[0] += 2
    assert memo.get(key) == other  # seen within the ttl
    memo.invalidate(key)
    assert shared.get(key) is None and memo.get(key) is None


def test_local_token_memo_threads_that_miss_together_read_the_shared_cache_once() -> None:
    """At start (and when the memo expires) every delivery thread of a platform misses at once:
    one of them reads the shared cache (a database round trip in production), the others wait."""
    gate = threading.Event()

    class SlowCache(CountingCache):
        def get(self, key: tuple[str, str, str]) -> CachedToken | None:
            gate.wait(2)
            return super().get(key)

    shared = SlowCache()
    key = ("https://lms.example", "client", "scope")
    shared.put(key, CachedToken(access_token="t1", expires_at=T0))
    memo = LocalTokenMemo(shared, ttl_seconds=30)
    seen: list[str | None] = []
    threads = [
        threading.Thread(target=lambda: seen.append(getattr(memo.get(key), "access_token", None)))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert seen == ["t1"] * 16 and shared.reads == 1
