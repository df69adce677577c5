"""Helpers shared by the sync tests (a uniquely named module: other test folders have their own
``conftest.py``, so tests import helpers from here, never from ``conftest``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from sync_fakeplatform import FakePlatform

from sync.ags import AgsClient
from sync.breaker import BreakerConfig
from sync.memory import InMemoryOutboxStore, InMemoryPlatformDirectory, InMemoryTokenCache
from sync.model import LineItemRef, OutboxStatus
from sync.ports import PlatformEndpoints, SigningKey
from sync.retry import RetryPolicy
from sync.scores import Completion, Outcome, Success, build_score_update
from sync.tokens import ClientCredentialsTokenProvider
from sync.worker import Worker, WorkerConfig


class StaticSigning:
    def __init__(self, key: rsa.RSAPrivateKey, kid: str = "tool-key-1") -> None:
        self.key = SigningKey(kid=kid, private_key=key)

    def current_signing_key(self) -> SigningKey:
        return self.key


def endpoints(key: str, fake: FakePlatform) -> PlatformEndpoints:
    return PlatformEndpoints(
        key=key, issuer=f"https://{key}.example", client_id=fake.client_id, token_url=fake.token_url
    )


FAST_POLICY = RetryPolicy(base_seconds=0.05, cap_seconds=0.2, min_delay_seconds=0.02)


class Harness:
    """Store + directory + tokens + AGS client + worker wired like production."""

    def __init__(
        self,
        signing: StaticSigning,
        platforms: dict[str, FakePlatform],
        *,
        config: WorkerConfig | None = None,
        timeout: float | tuple[float, float] = (1.0, 2.0),
        session: requests.Session | None = None,
    ) -> None:
        self.store = InMemoryOutboxStore()
        self.directory = InMemoryPlatformDirectory(
            {k: endpoints(k, fake) for k, fake in platforms.items()}
        )
        self.tokens = ClientCredentialsTokenProvider(
            signing, InMemoryTokenCache(), timeout=timeout, session=session
        )
        self.ags = AgsClient(self.tokens, timeout=timeout, session=session)
        self.config = config or WorkerConfig(
            retry_policy=FAST_POLICY,
            breaker=BreakerConfig(failure_threshold=1000, cooldown_seconds=0.2),
            per_platform_concurrency=4,
            global_concurrency=16,
        )
        self.worker = Worker(self.store, self.directory, self.ags, config=self.config)

    def enqueue(
        self,
        platform_key: str,
        user: str,
        *,
        score: float | None,
        at: datetime,
        final: bool = True,
        line_item: LineItemRef,
        line_item_key: str = "li-1",
        comment: str | None = None,
    ) -> None:
        outcome = Outcome(
            score_scaled=score,
            completion=Completion.COMPLETED if final else Completion.INCOMPLETE,
            success=Success.UNKNOWN,
            is_final=final,
            changed_at=at,
            comment=comment,
        )
        update = build_score_update(
            outcome,
            platform_key=platform_key,
            line_item_key=line_item_key,
            line_item=line_item,
            user_id=user,
        )
        self.store.enqueue(update, now=datetime.now(UTC))

    def settled(self) -> bool:
        return all(
            it.status not in (OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT)
            for it in self.store.list_items()
        )

    def drain(self, timeout: float = 10.0) -> None:
        """run_once until every row is settled (retries scheduled later need several runs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.worker.run_once()
            if self.settled():
                return
            time.sleep(0.02)
        raise AssertionError(f"outbox not settled in {timeout}s: {self.store.status_counts()}")
