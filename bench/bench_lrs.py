"""LRS benchmark: statements ingested per second (batches of 50, one at a time) and GET latencies.

Everything runs in this process behind Flask's test client (no sockets), one thread, on a fresh
database (SQLite in a temp folder, or PostgreSQL with ``--db postgres`` and
``$CBSI_BENCH_POSTGRES_URL``). The statements are the same for every contender: an account actor,
one of 20 verbs, one of 1,000 activities with a definition, a registration per 20 statements, a
result with a score and a duration.

* LRS: POST /xapi/statements (validation, normalisation, id/stored/authority, index rows, voiding
  checks, activity definitions; one transaction per request).
* Baseline: the same statements' JSON inserted with plain executemany into a two-column table
  (id, payload): no validation, no indexes beyond the primary key, one transaction per batch;
  the floor of any LRS on this database. Contenders run interleaved in blocks of about 200
  statements, so the load of this shared machine hits both alike; rates per CPU second of this
  process are printed too (on a loaded machine they are the steadier figure). On SQLite the
  write-ahead log is checkpointed by a background thread (``storage.db``), on the other core: its
  CPU counts as the LRS's in the per-CPU figure, also when it runs during a baseline block; the
  wall rate is what a client sees, with that thread beside it.

Served (unless ``--no-http``): ``cbsi-connect serve`` as an operator runs it (gunicorn, ``--procs``
workers x ``--serve-threads`` threads, on a fresh database of the same kind), driven over keep-alive
HTTP/1.1 (``bench.http_client``, the client of ``bench_commits``) by ``--connections`` connections,
one request in flight on each: the same statements in batches of 50 and one at a time. Printed:
wall rate, request p50/p95, and statements per CPU second of the server's process tree (the steady
figure on a shared machine); the baseline of the in-process part is the comparison.

Then the store is filled (``--fill`` statements, straight through the store layer, 1,000 per
transaction) and GET /xapi/statements?registration=… and GET /xapi/activities/state are timed.

Usage: ``python bench/bench_lrs.py [--db sqlite|postgres] [--n 5000] [--fill 100000] [--gets 300]
[--no-http] [--connections 4] [--procs 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench.bench_commits import free_port, start_server, stop_server, tree_cpu_seconds, write_config
from bench.http_client import exchange
from lti_tool import create_app
from lti_tool.lrs import create_operator_credential, store
from lti_tool.services import build_services
from lti_tool.settings import load_settings
from lti_tool.storage import Database
from scorm.xapi import normalize_statement

BATCH = 50


def make_statement(i: int, registrations: list[str]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": f"u{i % 5000}"}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/v{i % 20}", "display": {"en-US": f"verb {i % 20}"}},
        "object": {
            "id": f"https://courses.example.org/act/{i % 1000}",
            "definition": {
                "name": {"en-US": f"Activity {i % 1000}"},
                "type": "http://adlnet.gov/expapi/activities/lesson",
            },
        },
        "result": {"score": {"scaled": 0.8, "raw": 8, "min": 0, "max": 10}, "success": True, "duration": "PT3M12.5S"},
        "context": {"registration": registrations[i // 20 % len(registrations)]},
        "timestamp": "2026-12-01T10:00:00.000Z",
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fresh_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'lrs.sqlite3'}"
    admin_url = os.environ.get("CBSI_BENCH_POSTGRES_URL")
    if not admin_url:
        raise SystemExit("--db postgres needs $CBSI_BENCH_POSTGRES_URL (bash scripts/bench.sh starts one)")
    name = f"bench_lrs_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def checkpointer_cpu() -> float:
    """CPU seconds of this process's SQLite checkpointer thread so far (``storage.db``), else 0."""
    for thread in threading.enumerate():
        if thread.name == "sqlite-checkpointer" and thread.native_id is not None:
            try:
                with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                return 0.0
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


class Baseline:
    """Plain executemany of the JSON rows into a two-column table, one transaction per batch."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        with self.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS bench_plain"))
            conn.execute(text("CREATE TABLE bench_plain (id VARCHAR(36) PRIMARY KEY, payload TEXT NOT NULL)"))
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                # the product's checkpoint regime (storage.db: a background thread, the requests'
                # own checkpoint only as a backstop): otherwise this plain engine's commits, at
                # SQLite's default of 1,000 pages, would checkpoint the LRS's log for it
                from lti_tool.storage.db import CHECKPOINT_BACKSTOP_PAGES

                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={CHECKPOINT_BACKSTOP_PAGES}")
        self.insert = text("INSERT INTO bench_plain (id, payload) VALUES (:id, :payload)")

    def write(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.insert, rows)


async def _drive(port: int, auth: str, bodies: list[bytes], connections: int) -> list[float]:
    """POST every body over ``connections`` keep-alive connections, one request in flight on each."""
    latencies: list[float] = []

    async def run(mine: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for body in mine:
            head = (
                f"POST /xapi/statements HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n"
                f"X-Experience-API-Version: 1.0.3\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            status, answer, close = await exchange(reader, writer, head + body)
            latencies.append(time.perf_counter() - t0)
            if not status.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"served POST failed: {status!r} {answer[:300]!r}")
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()

    await asyncio.gather(*(run(bodies[i::connections]) for i in range(connections)))
    return latencies


def served(args: argparse.Namespace, n: int) -> None:
    """Ingest through ``cbsi-connect serve`` over keep-alive HTTP (a fresh database of the same kind)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-lrs-http-"))
    url = fresh_url(args.db, workdir)
    port = free_port()
    config = write_config(workdir, url, port, args.procs, args.serve_threads)
    services = build_services(load_settings(environ={"CBSI_CONNECT_CONFIG": str(config)}))
    services.db.upgrade()
    services.keys.generate(if_missing=True)
    cred = create_operator_credential(services.db, "bench-http")
    services.db.dispose()
    registrations = [str(uuid.uuid4()) for _ in range(max(1, n // 20) + 1)]
    server = start_server(config, port, workdir)
    try:
        print(
            f"served: cbsi-connect serve, {args.procs} workers x {args.serve_threads} threads, "
            f"{args.connections} keep-alive connections"
        )
        for label, batch in (("batched", BATCH), ("single", 1)):
            sts = [make_statement(i, registrations) for i in range(n)]
            bodies = [json.dumps(sts[i : i + batch]).encode() for i in range(0, n, batch)]
            asyncio.run(_drive(port, cred.basic_auth, bodies[:4], args.connections))  # warm the workers
            cpu, started = tree_cpu_seconds(server.pid), time.perf_counter()
            latencies = asyncio.run(_drive(port, cred.basic_auth, bodies[4:], args.connections))
            wall, cpu = time.perf_counter() - started, tree_cpu_seconds(server.pid) - cpu
            done = n - 4 * batch
            print(
                f"{label:8} served {done / wall:8.0f} statements/s  (request p50 {pct(latencies, 50) * 1000:.1f} ms, "
                f"p95 {pct(latencies, 95) * 1000:.1f} ms); per CPU second of the server: {done / max(cpu, 1e-9):8.0f}"
            )
    finally:
        stop_server(server)
        shutil.rmtree(workdir, ignore_errors=True)
    if args.db == "postgres":
        admin = create_engine(os.environ["CBSI_BENCH_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=5000, help="statements per ingest contender")
    parser.add_argument("--fill", type=int, default=100_000, help="statements stored before the GET timings")
    parser.add_argument("--gets", type=int, default=300, help="GET requests timed per query")
    parser.add_argument("--no-http", action="store_true", help="skip the served stack")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive client connections (served)")
    parser.add_argument("--procs", type=int, default=2, help="gunicorn workers of the served stack")
    parser.add_argument("--serve-threads", type=int, default=8, help="threads per served worker")
    args = parser.parse_args()
    print(f"load before the run (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")

    folder = Path(tempfile.mkdtemp(prefix="bench-lrs-"))
    url = fresh_url(args.db, folder)
    db = Database(url)
    db.upgrade()
    settings = load_settings(
        environ={},
        overrides={
            "server": {"base_url": "http://localhost", "secret_key": "b" * 48, "instance_folder": str(folder),
                       "log_level": "WARNING"},
            "database": {"url": url},
            "keys": {"folder": str(folder / "keys")},
        },
    )  # fmt: skip
    services = build_services(settings)
    services.keys.generate(if_missing=True)
    app = create_app(settings, services=services)
    client = app.test_client()
    cred = create_operator_credential(services.db, "bench")
    headers = {"Authorization": cred.basic_auth, "X-Experience-API-Version": "1.0.3"}
    registrations = [str(uuid.uuid4()) for _ in range(max(1, args.n // 20) + 1)]
    rng = random.Random(7)

    print(f"database: {args.db}; {args.n} statements per contender; batch {BATCH}")
    results: dict[str, float] = {}
    plain = Baseline(url)
    for label, batch in (("batched", BATCH), ("single", 1)):
        sts = [make_statement(i, registrations) for i in range(args.n)]
        others = [make_statement(i, registrations) for i in range(args.n)]
        # request bodies and rows encoded before the clock starts: the client's work is not the LRS's
        bodies = [json.dumps(sts[i : i + batch]).encode() for i in range(0, len(sts), batch)]
        rows = [
            [{"id": st["id"], "payload": json.dumps(st, separators=(",", ":"))} for st in others[i : i + batch]]
            for i in range(0, len(others), batch)
        ]
        post_headers = {**headers, "Content-Type": "application/json"}
        latencies: list[float] = []
        lrs_time = base_time = lrs_cpu = base_cpu = 0.0
        block = max(1, 200 // batch)  # contenders interleaved in blocks: machine load hits both alike
        for start in range(0, len(bodies), block):
            t_block, c_block = time.perf_counter(), time.process_time()
            for body in bodies[start : start + block]:
                t0 = time.perf_counter()
                resp = client.post("/xapi/statements", data=body, headers=post_headers)
                latencies.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    raise SystemExit(f"POST failed: {resp.status_code} {resp.get_data(as_text=True)[:300]}")
            lrs_time += time.perf_counter() - t_block
            lrs_cpu += time.process_time() - c_block
            t_block, c_block, k_block = time.perf_counter(), time.process_time(), checkpointer_cpu()
            for chunk in rows[start : start + block]:
                plain.write(chunk)
            base_time += time.perf_counter() - t_block
            # the checkpointer copying the LRS's log meanwhile is the LRS's work, not the baseline's
            moved = checkpointer_cpu() - k_block
            base_cpu += time.process_time() - c_block - moved
            lrs_cpu += moved
        rate, base = args.n / lrs_time, args.n / base_time
        results[label] = rate
        print(
            f"{label:8} LRS {rate:8.0f} statements/s  (request p50 {pct(latencies, 50) * 1000:.1f} ms, "
            f"p95 {pct(latencies, 95) * 1000:.1f} ms)   baseline plain insert {base:8.0f}/s   "
            f"LRS/baseline {rate / base:.2f}"
        )
        print(
            f"{'':8} per CPU second of this process (robust to other load on the machine): "
            f"LRS {args.n / lrs_cpu:8.0f}/s, baseline {args.n / base_cpu:8.0f}/s"
        )
    plain.engine.dispose()
    if not args.no_http:
        served(args, args.n)

    # fill straight through the store layer, then time the reads
    to_fill = max(0, args.fill - 2 * args.n)
    fill_regs = [str(uuid.uuid4()) for _ in range(max(1, to_fill // 20) + 1)]
    started = time.perf_counter()
    now = datetime.now(UTC)
    for i in range(0, to_fill, 1000):
        batch_sts = []
        for j in range(i, min(i + 1000, to_fill)):
            st = normalize_statement(make_statement(j, fill_regs))
            st.update(stored=store.iso(now), authority={"objectType": "Agent", "name": "bench",
                      "account": {"homePage": "http://localhost/xapi", "name": cred.key}}, version="1.0.0")  # fmt: skip
            batch_sts.append(store.NewStatement(statement=st))
        with services.db.session() as session:
            store.insert_statements(session, "", batch_sts, credential_id=None, stored=now)
    if to_fill:
        print(
            f"filled {to_fill} more statements in {time.perf_counter() - started:.0f} s"
            " (store layer, 1,000 per transaction)"
        )
    with services.db.session() as session:
        total = session.execute(text("SELECT count(*) FROM lrs_statements")).scalar_one()
    timings: list[float] = []
    cpus: list[float] = []  # CPU per request: on a loaded machine the wall time mostly measures the queue
    for _ in range(args.gets):
        reg = rng.choice(fill_regs if to_fill else registrations)
        t0, c0 = time.perf_counter(), time.process_time()
        resp = client.get(f"/xapi/statements?registration={reg}&limit=50", headers=headers)
        timings.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        assert resp.status_code == 200
    print(f"GET statements?registration= at {total} stored: p50 {pct(timings, 50) * 1000:.1f} ms, "
          f"p95 {pct(timings, 95) * 1000:.1f} ms; CPU p50 {pct(cpus, 50) * 1000:.1f} ms, "
          f"p95 {pct(cpus, 95) * 1000:.1f} ms")  # fmt: skip
    agent = json.dumps({"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "u1"}})
    q = {"activityId": "https://courses.example.org/act/1", "agent": agent, "stateId": "bookmark"}
    client.put("/xapi/activities/state", query_string=q, json={"page": 3}, headers=headers)
    timings, cpus = [], []
    for _ in range(args.gets):
        t0, c0 = time.perf_counter(), time.process_time()
        resp = client.get("/xapi/activities/state", query_string=q, headers=headers)
        timings.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        assert resp.status_code == 200
    print(
        f"GET activities/state: p50 {pct(timings, 50) * 1000:.2f} ms, p95 {pct(timings, 95) * 1000:.2f} ms; "
        f"CPU p50 {pct(cpus, 50) * 1000:.2f} ms, p95 {pct(cpus, 95) * 1000:.2f} ms"
    )
    services.db.dispose()
    db.dispose()
    shutil.rmtree(folder, ignore_errors=True)  # a 1,000,000-statement SQLite file is about 2 GB
    return 0


if __name__ == "__main__":
    sys.exit(main())
