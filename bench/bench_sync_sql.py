"""Grade-sync benchmark through the SQL outbox (DESIGN.md §8): ``bench_sync.py``'s workload —
N score updates over P simulated platforms answering in ``--latency`` — delivered by the worker
over ``lti_tool.storage.outbox.SqlOutboxStore`` on SQLite and/or PostgreSQL.

In the SAME run against the SAME servers: the sequential one-request-at-a-time sender (Moodle's
sync task pattern) on a sample, extrapolated to N — the baseline the ratio is taken against.

* SQLite: a fresh file in a temporary folder (one worker, as in production).
* PostgreSQL: a fresh database created under ``$CBSI_BENCH_POSTGRES_URL`` (dropped at the end);
  ``--pg-workers K`` runs K worker PROCESSES claiming with ``FOR UPDATE SKIP LOCKED``.

Each worker is wired as in production and the benchmark prints its CPU per delivered score
(process CPU of the worker processes). ``--compare`` first runs the pre-issue-16 wiring (one
settle statement per row, the token table read before every score) against the same servers;
``--compare-http`` first runs today's wiring with the score POST through ``requests`` (the path
before the lean one, ``OutboundClient.post_bytes``) and prints the lean run's ratios beside it;
``--profile PREFIX`` profiles every worker thread with its own CPU clock.

Usage: ``python bench/bench_sync_sql.py [--db sqlite|postgres|both] [--n 40000] [--pg-workers 1]
[--compare] [--compare-http] [--profile PREFIX]``
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import multiprocessing as mp
import os
import pstats
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.bench_sync import _server_main, _Signing, run_sequential
from lti_tool.grades import RegisteredHostsGuard, SqlPlatformDirectory
from lti_tool.lti.tokens import DbTokenCache
from lti_tool.outbound import OutboundClient, OutboundPolicy
from lti_tool.storage import Database
from lti_tool.storage.outbox import SqlOutboxStore
from sync.ags import AgsClient
from sync.model import LineItemRef, OutboxStatus
from sync.scores import Completion, Outcome, build_score_update
from sync.tokens import ClientCredentialsTokenProvider, LocalTokenMemo
from sync.worker import Worker, WorkerConfig
from tests import factories


def prepare(url: str, ports: list[int], n: int) -> dict:
    """Migrate, register the platforms, enqueue n updates (500 per transaction)."""
    db = Database(url, pool_size=20)
    db.upgrade()
    keys: list[str] = []
    for i, port in enumerate(ports):
        platform_id = factories.add_platform(
            db,
            issuer=f"https://academy-{i:02d}.example",
            client_id="cbsi",
            name=f"Academy {i:02d}",
            endpoints=f"http://127.0.0.1:{port}",
            deployment_id=None,
        )
        keys.append(str(platform_id))
    t0 = datetime.now(UTC) - timedelta(hours=1)
    started = time.perf_counter()
    chunk = 500
    for first in range(0, n, chunk):
        with db.session() as s:
            for j in range(first, min(n, first + chunk)):
                port = ports[j % len(ports)]
                item_no = (j // len(ports)) % 10
                update = build_score_update(
                    Outcome(
                        score_scaled=(j % 101) / 100,
                        completion=Completion.COMPLETED,
                        is_final=True,
                        changed_at=t0 + timedelta(milliseconds=j),
                    ),
                    platform_key=keys[j % len(ports)],
                    line_item_key=f"li-{item_no}",
                    line_item=LineItemRef(
                        url=f"http://127.0.0.1:{port}/mod/lti/services.php/7/lineitems/{item_no}/lineitem?type_id=1"
                    ),
                    user_id=str(100000 + j),
                )
                SqlOutboxStore.enqueue_in_session(s, update, now=datetime.now(UTC))
    enqueue_seconds = time.perf_counter() - started
    db.dispose()
    return {"enqueue_seconds": enqueue_seconds}


def _guard(db: Database) -> RegisteredHostsGuard:
    """The production URL guard (service URLs only on the platform's registered hosts)."""
    return RegisteredHostsGuard(db)


class _ThreadProfiles:
    """cProfile in every worker thread (the dispatcher and the delivery pool), timed with each
    thread's own CPU clock (``time.thread_time``), merged at the end."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            prof = getattr(self._local, "prof", None)
            if prof is None:
                prof = self._local.prof = cProfile.Profile(time.thread_time)
                with self._lock:
                    self.profiles.append(prof)
            prof.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                prof.disable()

        return wrapped

    def top(self, path: str, count: int = 30) -> str:
        stats = pstats.Stats(self.profiles[0])
        for prof in self.profiles[1:]:
            stats.add(prof)
        stats.dump_stats(path)
        text = io.StringIO()
        stats.stream = text  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(count)
        return text.getvalue()


def _worker(url: str, per_platform: int, platforms: int, batch: int, stats_q: mp.Queue | None = None,
            profile: str = "", settle_batch: int = 0, legacy: bool = False, http_path: str = "lean") -> dict:
    """One worker process wired as in production (``lti_tool.grades.build_worker``): the outbound
    client (deadline watchdog, size cap, address check after resolution — 127.0.0.0/8 allow-listed
    as an operator would for an internal LMS), the DB token cache, the registered-hosts guard."""
    db = Database(url, pool_size=8)
    store = SqlOutboxStore(db)
    http = OutboundClient(
        OutboundPolicy(allow_private=("127.0.0.0/8",), pool_connections=platforms + 1, pool_maxsize=per_platform)
    )
    # legacy: as before issue 16 — the token table read before every score, one settle per row
    cache = DbTokenCache(db) if legacy else LocalTokenMemo(DbTokenCache(db))
    tokens = ClientCredentialsTokenProvider(_Signing(), cache, session=http)
    extra = {"settle_batch_size": 1 if legacy else settle_batch} if (legacy or settle_batch) else {}
    worker = Worker(
        store,
        SqlPlatformDirectory(db),
        AgsClient(
            tokens, session=http, timeout=(3.05, 10.0), url_guard=_guard(db), lean_scores=http_path == "lean"
        ),
        config=WorkerConfig(
            per_platform_concurrency=per_platform,
            global_concurrency=per_platform * platforms,
            batch_size=batch,
            **extra,
        ),
    )
    profiles = _ThreadProfiles() if profile else None
    run_once = worker.run_once
    if profiles is not None:  # the pool threads run Worker._process; the dispatcher run_once
        worker._process = profiles.wrap(worker._process)  # type: ignore[method-assign]
        run_once = profiles.wrap(worker.run_once)
    started = time.perf_counter()
    cpu = time.process_time()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    stats = run_once()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "cpu_user_seconds": ru1.ru_utime - ru0.ru_utime,
        "cpu_system_seconds": ru1.ru_stime - ru0.ru_stime,
        "claimed": stats.claimed,
        "delivered": stats.delivered,
    }
    if profiles is not None:
        path = f"{profile}.{os.getpid()}.prof"
        out["profile_top"] = profiles.top(path)
        out["profile"] = path
    db.dispose()
    if stats_q is not None:
        stats_q.put(out)
    return out


def run_store(
    label: str,
    url: str,
    ports: list[int],
    args: argparse.Namespace,
    workers: int,
    *,
    legacy: bool = False,
    http_path: str = "lean",
) -> dict:
    prep = prepare(url, ports, args.n)
    started = time.perf_counter()
    if workers == 1:
        per_worker = [
            _worker(
                url, args.per_platform, len(ports), args.batch, None, args.profile, args.settle_batch, legacy, http_path
            )
        ]
    else:
        ctx = mp.get_context("spawn")
        q: mp.Queue = ctx.Queue()
        procs = [
            ctx.Process(
                target=_worker,
                args=(
                    url, args.per_platform, len(ports), args.batch, q,
                    args.profile, args.settle_batch, legacy, http_path,
                ),
            )
            for _ in range(workers)
        ]
        for p in procs:
            p.start()
        per_worker = [q.get(timeout=3600) for _ in procs]
        for p in procs:
            p.join()
    wall = time.perf_counter() - started
    db = Database(url)
    counts: dict[str, int] = {}
    for per in SqlOutboxStore(db).status_counts().values():
        for status, c in per.items():
            counts[str(status)] = counts.get(str(status), 0) + c
    db.dispose()
    delivered = counts.get(str(OutboxStatus.DELIVERED), 0)
    return {
        "store": label
        + (" (legacy: per-row settles, token table read per score)" if legacy else "")
        + (" (requests path)" if http_path == "requests" and not legacy else ""),
        "http_path": http_path,
        "workers": workers,
        "wall_seconds": wall,
        "enqueue_seconds_500_per_tx": prep["enqueue_seconds"],
        "delivered": counts.get(str(OutboxStatus.DELIVERED), 0),
        "status_counts": counts,
        "per_worker": per_worker,
        "cpu_ms_per_score": 1000 * sum(w["cpu_seconds"] for w in per_worker) / max(delivered, 1),
    }


def _pg_database(admin_url: str) -> tuple[str, str]:
    name = f"cbsi_bench_sync_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _pg_drop(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--platforms", type=int, default=19)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--per-platform", type=int, default=8)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--pg-workers", type=int, default=1, help="worker processes on PostgreSQL")
    parser.add_argument("--baseline-sample", type=int, default=300)
    parser.add_argument("--profile", default="", help="cProfile each worker; stats to PREFIX.<pid>.prof")
    parser.add_argument("--settle-batch", type=int, default=0, help="WorkerConfig.settle_batch_size (0: default)")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run the pre-issue-16 worker wiring (per-row settles, token table read per score) first",
    )
    parser.add_argument(
        "--compare-http",
        action="store_true",
        help="also run the same wiring with the score POST through requests (the path before the lean one) first",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pg_admin = os.environ.get("CBSI_BENCH_POSTGRES_URL")
    if args.db in ("postgres", "both") and not pg_admin:
        if args.db == "postgres":
            print("CBSI_BENCH_POSTGRES_URL is not set (bash scripts/bench.sh starts a throwaway cluster)")
            return 2
        print("note: CBSI_BENCH_POSTGRES_URL not set, PostgreSQL skipped")

    ctx = mp.get_context("spawn")
    ports_q: mp.Queue = ctx.Queue()
    stop_ev = ctx.Event()
    server = ctx.Process(target=_server_main, args=(args.platforms, args.latency, ports_q, stop_ev), daemon=True)
    server.start()
    results: list[dict] = []
    try:
        ports = ports_q.get(timeout=30)
        baseline = run_sequential(ports, min(args.baseline_sample, args.n))
        # (legacy wiring, score POST path): the before-runs first, the production wiring last
        modes = [(True, "requests")] if args.compare else []
        modes += [(False, "requests")] if args.compare_http else []
        modes.append((False, "lean"))
        for legacy, http_path in modes:
            if args.db in ("sqlite", "both"):
                with tempfile.TemporaryDirectory(prefix="cbsi-bench-sync-") as tmp:
                    url = f"sqlite:///{tmp}/outbox.sqlite3"
                    results.append(run_store("sqlite", url, ports, args, 1, legacy=legacy, http_path=http_path))
            if args.db in ("postgres", "both") and pg_admin:
                name, url = _pg_database(pg_admin)
                try:
                    results.append(
                        run_store(
                            "postgresql", url, ports, args, args.pg_workers, legacy=legacy, http_path=http_path
                        )
                    )
                finally:
                    _pg_drop(pg_admin, name)
    finally:
        stop_ev.set()
        server.join(timeout=5)
    extrapolated = baseline["per_request"] * args.n
    target = 30.0 * args.n / 40_000  # issue 16: 40,000 scores in <= 30 s
    report = {
        "n": args.n,
        "platforms": args.platforms,
        "latency_s": args.latency,
        "sequential_baseline": {**baseline, "extrapolated_seconds_for_n": extrapolated},
        "results": [
            {
                **r,
                "speedup_vs_sequential": extrapolated / r["wall_seconds"],
                "throughput_per_s": r["delivered"] / r["wall_seconds"],
                "target_met_30s": r["wall_seconds"] <= target,
            }
            for r in results
        ],
    }
    if args.profile:
        for r in results:
            for w in r["per_worker"]:
                print(f"--- profile of one {r['store']} worker ({w['profile']}) ---")
                print(w.pop("profile_top"))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"grade sync through the SQL outbox: {args.n} updates over {args.platforms} platforms @ {args.latency}s")
        print(
            f"  sequential sender: {baseline['per_request'] * 1000:.1f} ms/request on {baseline['sample']} requests "
            f"-> EXTRAPOLATED {extrapolated:.0f} s ({extrapolated / 3600:.2f} h)"
        )
        before = {  # per database: the requests-path run the lean one is compared with
            r["store"].split(" ")[0]: r for r in report["results"] if r["http_path"] == "requests"
        }
        for r in report["results"]:
            cpu = sum(w["cpu_seconds"] for w in r["per_worker"])
            per_score = 1000 * cpu / max(r["delivered"], 1)
            ref = before.get(r["store"].split(" ")[0]) if r["http_path"] == "lean" else None
            ratio = (
                f" | vs the requests path in this run: CPU/score x{ref['cpu_ms_per_score'] / max(per_score, 1e-9):.1f} "
                f"lower ({ref['cpu_ms_per_score']:.3f} -> {per_score:.3f} ms), "
                f"wall {ref['wall_seconds']:.1f} -> {r['wall_seconds']:.1f} s"
                if ref is not None
                else ""
            )
            print(
                f"  {r['store']:<10} x{r['workers']} worker(s): {r['wall_seconds']:.1f} s, "
                f"{r['throughput_per_s']:.0f} scores/s, delivered {r['delivered']}/{args.n}, worker CPU {cpu:.1f} s "
                f"= {per_score:.3f} ms/score (target <= 0.25; user "
                f"{1000 * sum(w['cpu_user_seconds'] for w in r['per_worker']) / max(r['delivered'], 1):.3f} + system "
                f"{1000 * sum(w['cpu_system_seconds'] for w in r['per_worker']) / max(r['delivered'], 1):.3f}), "
                f"speed-up {r['speedup_vs_sequential']:.0f}x, target <= {target:.0f} s "
                f"{'met' if r['target_met_30s'] else 'MISSED'} (enqueue {r['enqueue_seconds_500_per_tx']:.1f} s){ratio}"
            )
    return 0 if all(r["delivered"] == args.n for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
