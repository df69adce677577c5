"""The in-memory fakes implement the ports' exact signatures (the SQL store must too)."""

from __future__ import annotations

import inspect
import os
import signal

import pytest

from sync import memory, ports, tokens
from sync.worker import Worker, install_stop_signals


def _public_methods(proto: type) -> list[str]:
    return [
        name for name, value in vars(proto).items() if callable(value) and not name.startswith("_")
    ]


@pytest.mark.parametrize(
    ("proto", "impl"),
    [
        (ports.OutboxStore, memory.InMemoryOutboxStore),
        (ports.PlatformDirectory, memory.InMemoryPlatformDirectory),
        (ports.TokenCache, memory.InMemoryTokenCache),
        (ports.TokenProvider, tokens.ClientCredentialsTokenProvider),
    ],
)
def test_fake_matches_port_signatures(proto, impl):
    methods = _public_methods(proto)
    assert methods
    for name in methods:
        want = inspect.signature(getattr(proto, name))
        got = inspect.signature(getattr(impl, name))
        assert list(want.parameters) == list(got.parameters), name
        for pname, param in want.parameters.items():
            assert got.parameters[pname].kind == param.kind, (name, pname)
            assert got.parameters[pname].default == param.default, (name, pname)


def test_sigterm_stops_worker_gracefully():
    worker = Worker(
        memory.InMemoryOutboxStore(),
        memory.InMemoryPlatformDirectory(),
        None,  # type: ignore[arg-type]
    )
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        install_stop_signals(worker)
        os.kill(os.getpid(), signal.SIGTERM)
        assert worker.stop_event.wait(2)
        assert worker.run_forever(poll_interval=0.01).claimed == 0  # returns at once
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
