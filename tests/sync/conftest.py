from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_fakeplatform import FakePlatform
from sync_harness import StaticSigning


@pytest.fixture(scope="session")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def signing(private_key: rsa.RSAPrivateKey) -> StaticSigning:
    return StaticSigning(private_key)


@pytest.fixture
def make_platform(private_key: rsa.RSAPrivateKey) -> Iterator[Callable[..., FakePlatform]]:
    started: list[FakePlatform] = []

    def factory(**kwargs: object) -> FakePlatform:
        fake = FakePlatform(public_key=private_key.public_key(), **kwargs).start()  # type: ignore[arg-type]
        started.append(fake)
        return fake

    yield factory
    for fake in started:
        fake.stop()
