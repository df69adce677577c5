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
  process are printed too (on a loaded machine they are the steadier figure).

Then the store is filled (``--fill`` statements, straight through the store layer, 1,000 per
transaction) and GET /xapi/statements?registration=… and GET /xapi/activities/state are timed.

Usage: ``python bench/bench_lrs.py [--db sqlite|postgres] [--n 5000] [--fill 100000] [--gets 300]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

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


class Baseline:
    """Plain executemany of the JSON rows into a two-column table, one transaction per batch."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        with self.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS bench_plain"))
            conn.execute(text("CREATE TABLE bench_plain (id VARCHAR(36) PRIMARY KEY, payload TEXT NOT NULL)"))
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        self.insert = text("INSERT INTO bench_plain (id, payload) VALUES (:id, :payload)")

    def write(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.insert, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=5000, help="statements per ingest contender")
    parser.add_argument("--fill", type=int, default=100_000, help="statements stored before the GET timings")
    parser.add_argument("--gets", type=int, default=300, help="GET requests timed per query")
    args = parser.parse_args()

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
            t_block, c_block = time.perf_counter(), time.process_time()
            for chunk in rows[start : start + block]:
                plain.write(chunk)
            base_time += time.perf_counter() - t_block
            base_cpu += time.process_time() - c_block
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
    for _ in range(args.gets):
        reg = rng.choice(fill_regs if to_fill else registrations)
        t0 = time.perf_counter()
        resp = client.get(f"/xapi/statements?registration={reg}&limit=50", headers=headers)
        timings.append(time.perf_counter() - t0)
        assert resp.status_code == 200
    print(f"GET statements?registration= at {total} stored: p50 {pct(timings, 50) * 1000:.1f} ms, "
          f"p95 {pct(timings, 95) * 1000:.1f} ms")  # fmt: skip
    agent = json.dumps({"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "u1"}})
    q = {"activityId": "https://courses.example.org/act/1", "agent": agent, "stateId": "bookmark"}
    client.put("/xapi/activities/state", query_string=q, json={"page": 3}, headers=headers)
    timings = []
    for _ in range(args.gets):
        t0 = time.perf_counter()
        resp = client.get("/xapi/activities/state", query_string=q, headers=headers)
        timings.append(time.perf_counter() - t0)
        assert resp.status_code == 200
    print(f"GET activities/state: p50 {pct(timings, 50) * 1000:.2f} ms, p95 {pct(timings, 95) * 1000:.2f} ms")
    services.db.dispose()
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
