"""Grade-sync benchmark (DESIGN.md §8): N score updates over P simulated platforms.

Each simulated platform is a real HTTP/1.1 server on 127.0.0.1 (keep-alive, token endpoint +
scores endpoint) answering every request after ``--latency`` seconds (default 100 ms). The
servers run in a separate process (asyncio) so they do not compete with the worker for the GIL.

Two senders in the SAME run against the SAME servers:

* the worker (``sync.worker.Worker`` + ``sync.memory.InMemoryOutboxStore`` + real AGS client and
  token provider), delivering all N updates end to end;
* a sequential one-request-at-a-time sender (the pattern of Moodle's scheduled sync task), run
  on a SAMPLE of ``--baseline-sample`` requests and EXTRAPOLATED to N.

Usage: ``python bench/bench_sync.py [--n 40000] [--platforms 19] [--latency 0.1]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.ags import AgsClient, make_session
from sync.lti_claims import SCORE_MEDIA_TYPE
from sync.memory import (
    InMemoryOutboxStore,
    InMemoryPlatformDirectory,
    InMemoryTokenCache,
)
from sync.model import LineItemRef, OutboxStatus
from sync.ports import PlatformEndpoints, SigningKey
from sync.scores import Completion, Outcome, build_score_update
from sync.tokens import ClientCredentialsTokenProvider
from sync.worker import Worker, WorkerConfig

TOKEN_BODY = json.dumps({"access_token": "bench-token", "token_type": "Bearer", "expires_in": 3600})


# -- simulated platforms (separate process) ---------------------------------------------------
async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(state["latency"])
            if path.startswith("/token"):
                body = TOKEN_BODY.encode()
                ctype = "application/json"
                state["tokens"] += 1
            elif method == "POST" and "/scores" in path:
                body = b"{}"
                ctype = SCORE_MEDIA_TYPE
                state["scores"] += 1
            elif path.startswith("/stats"):
                body = json.dumps(state).encode()
                ctype = "application/json"
            else:
                body = b'{"error":"not found"}'
                ctype = "application/json"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: "
                + ctype.encode()
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _server_main(count: int, latency: float, ports_q: mp.Queue, stop_ev: mp.Event) -> None:
    async def main() -> None:
        servers = []
        ports = []
        for _ in range(count):
            state = {"latency": latency, "tokens": 0, "scores": 0}
            server = await asyncio.start_server(
                lambda r, w, s=state: _serve(r, w, s), "127.0.0.1", 0, backlog=1024
            )
            servers.append(server)
            ports.append(server.sockets[0].getsockname()[1])
        ports_q.put(ports)
        while not stop_ev.is_set():
            await asyncio.sleep(0.1)
        for server in servers:
            server.close()

    asyncio.run(main())


# -- senders ------------------------------------------------------------------------------------
class _Signing:
    def __init__(self) -> None:
        self.key = SigningKey(
            kid="bench", private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )

    def current_signing_key(self) -> SigningKey:
        return self.key


def run_worker(ports: list[int], n: int, args: argparse.Namespace) -> dict:
    store = InMemoryOutboxStore()
    platforms = {
        f"academy-{i:02d}": PlatformEndpoints(
            key=f"academy-{i:02d}",
            issuer=f"https://academy-{i:02d}.example",
            client_id="cbsi",
            token_url=f"http://127.0.0.1:{port}/token",
        )
        for i, port in enumerate(ports)
    }
    keys = list(platforms)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    enqueue_started = time.perf_counter()
    for j in range(n):
        pk = keys[j % len(keys)]
        port = ports[j % len(keys)]
        item_no = (j // len(keys)) % 10
        url = (
            f"http://127.0.0.1:{port}/mod/lti/services.php/7/lineitems/{item_no}/lineitem?type_id=1"
        )
        update = build_score_update(
            Outcome(
                score_scaled=(j % 101) / 100,
                completion=Completion.COMPLETED,
                is_final=True,
                changed_at=t0 + timedelta(milliseconds=j),
            ),
            platform_key=pk,
            line_item_key=f"li-{item_no}",
            line_item=LineItemRef(url=url),
            user_id=str(100000 + j),
        )
        store.enqueue(update, now=datetime.now(UTC))
    enqueue_seconds = time.perf_counter() - enqueue_started

    session = make_session(pool_maxsize=args.per_platform, pool_connections=len(ports) + 1)
    tokens = ClientCredentialsTokenProvider(_Signing(), InMemoryTokenCache(), session=session)
    ags = AgsClient(tokens, session=session, timeout=(3.05, 10.0))
    worker = Worker(
        store,
        InMemoryPlatformDirectory(platforms),
        ags,
        config=WorkerConfig(
            per_platform_concurrency=args.per_platform,
            global_concurrency=args.per_platform * len(ports),
            batch_size=500,
        ),
    )
    started = time.perf_counter()
    cpu_started = time.process_time()
    stats = worker.run_once()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    counts: dict[str, int] = {}
    for per in store.status_counts().values():
        for status, c in per.items():
            counts[str(status)] = counts.get(str(status), 0) + c
    return {
        "wall_seconds": wall,
        "worker_cpu_seconds": cpu,
        "cpu_ms_per_score": 1000 * cpu / max(counts.get(str(OutboxStatus.DELIVERED), 0), 1),
        "enqueue_seconds": enqueue_seconds,
        "delivered": counts.get(str(OutboxStatus.DELIVERED), 0),
        "status_counts": counts,
        "token_requests": tokens.requests_made,
        "stats": {k: v for k, v in vars(stats).items() if not k.startswith("_")},
    }


def run_sequential(ports: list[int], sample: int) -> dict:
    """One request at a time, one token per platform, like Moodle's sync task."""
    session = make_session()
    t0 = datetime.now(UTC)
    started = time.perf_counter()
    for j in range(sample):
        port = ports[j % len(ports)]
        url = (
            f"http://127.0.0.1:{port}/mod/lti/services.php/7/lineitems/0/lineitem/scores?type_id=1"
        )
        resp = session.post(
            url,
            json={
                "userId": str(j),
                "scoreGiven": 50,
                "scoreMaximum": 100,
                "activityProgress": "Completed",
                "gradingProgress": "FullyGraded",
                "timestamp": t0.isoformat(),
            },
            headers={"Content-Type": SCORE_MEDIA_TYPE, "Authorization": "Bearer bench-token"},
            timeout=(3.05, 10.0),
        )
        resp.raise_for_status()
    wall = time.perf_counter() - started
    return {"sample": sample, "sample_seconds": wall, "per_request": wall / sample}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40_000, help="score updates (default 40000)")
    parser.add_argument("--platforms", type=int, default=19)
    parser.add_argument("--latency", type=float, default=0.1, help="platform answer time (s)")
    parser.add_argument("--per-platform", type=int, default=8, help="worker concurrency/platform")
    parser.add_argument("--baseline-sample", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    ctx = mp.get_context("spawn")
    ports_q: mp.Queue = ctx.Queue()
    stop_ev = ctx.Event()
    server = ctx.Process(
        target=_server_main, args=(args.platforms, args.latency, ports_q, stop_ev), daemon=True
    )
    server.start()
    try:
        ports = ports_q.get(timeout=30)
        baseline = run_sequential(ports, min(args.baseline_sample, args.n))
        result = run_worker(ports, args.n, args)
    finally:
        stop_ev.set()
        server.join(timeout=5)
    extrapolated = baseline["per_request"] * args.n
    report = {
        "n": args.n,
        "platforms": args.platforms,
        "latency_s": args.latency,
        "per_platform_concurrency": args.per_platform,
        "worker": result,
        "sequential_baseline": {
            **baseline,
            "extrapolated_seconds_for_n": extrapolated,
            "note": f"measured on {baseline['sample']} requests in this run, extrapolated to n",
        },
        "speedup_vs_sequential": extrapolated / result["wall_seconds"],
        "throughput_per_s": result["delivered"] / result["wall_seconds"],
        "target_met_60s": result["wall_seconds"] <= 60.0 * args.n / 40_000,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"grade sync: {args.n} updates over {args.platforms} platforms @ {args.latency}s")
        print(
            f"  worker (end to end, in-memory store): {result['wall_seconds']:.1f} s, "
            f"{report['throughput_per_s']:.0f} scores/s, delivered {result['delivered']}, "
            f"token requests {result['token_requests']}, "
            f"worker CPU {result['worker_cpu_seconds']:.1f} s "
            f"= {1000 * result['worker_cpu_seconds'] / max(result['delivered'], 1):.3f} ms/score"
        )
        print(
            f"  sequential sender: {baseline['per_request'] * 1000:.1f} ms/request measured on "
            f"{baseline['sample']} requests -> EXTRAPOLATED {extrapolated:.0f} s "
            f"({extrapolated / 3600:.2f} h) for {args.n}"
        )
        print(f"  speed-up: {report['speedup_vs_sequential']:.0f}x")
        print(f"  target (<= 60 s per 40,000): {'met' if report['target_met_60s'] else 'MISSED'}")
    return 0 if result["delivered"] == args.n else 1


if __name__ == "__main__":
    raise SystemExit(main())
