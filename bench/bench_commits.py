"""Runtime commit throughput: one JSON document per SCO (ours) vs one row per element (Moodle).

Each commit carries a realistic SCORM 2004 body: 20 interactions (id, type, timestamp,
learner_response, result, latency, weighting, description), 4 KB of suspend_data, location,
progress, score and session time — 172 elements — with a few values changing every commit.
Both sides run the same server-side validation (``scorm.cmi.apply_commit``); they differ only
in how the state is stored:

* ours: ``lti_tool.runtime.service.commit`` — one conditional UPDATE of the state document and
  the attempt's outcome rollup, in one transaction;
* baseline: Moodle's ``scorm_insert_track`` pattern — for every element, SELECT its row, then
  UPDATE or INSERT it, in one transaction.

Load: ``--procs`` processes (default 2 = the machine's cores), each with ``--threads`` threads,
committing for ``--seconds`` against distinct attempts. Prints commits/s, p50 and p99 per side
and the ratio. Usage::

    python -m bench.bench_commits --db sqlite
    python -m bench.bench_commits --db postgres --url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="bench.commits" version="1"
  xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 3rd Edition</schemaversion></metadata>
  <organizations default="o"><organization identifier="o"><title>Bench</title>
    <item identifier="i1" identifierref="r1"><title>SCO</title></item>
  </organization></organizations>
  <resources><resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="index.html">
    <file href="index.html"/></resource></resources>
</manifest>"""

BASELINE_DDL = """CREATE TABLE IF NOT EXISTS bench_scoes_track (
  id {pk}, attempt_id VARCHAR(32) NOT NULL, sco_id VARCHAR(255) NOT NULL,
  element VARCHAR(255) NOT NULL, value TEXT NOT NULL, timemodified BIGINT NOT NULL)"""


def body(n: int, rng: random.Random) -> dict[str, str]:
    """A full 2004 commit: 20 interactions, 4 KB suspend_data, with values that move.

    Like real content that posts its whole data model, every commit carries all 172 values;
    location, suspend data, session time and one interaction's answer change every time, the
    score every 25th commit (a quiz submitted), which is when the grade outbox is written.
    """
    score = (n // 25) % 100
    changes: dict[str, str] = {
        "cmi.location": f"page-{n % 40}",
        "cmi.progress_measure": f"{min(1.0, (n // 25) / 20):.3f}",
        "cmi.score.scaled": f"{score / 100:.2f}",
        "cmi.score.raw": str(score),
        "cmi.score.min": "0",
        "cmi.score.max": "100",
        "cmi.completion_status": "incomplete",
        "cmi.success_status": "unknown",
        "cmi.session_time": f"PT{n % 3600}S",
        "cmi.suspend_data": f"{n:04d}" + "x" * 4092,
        "cmi.exit": "suspend",
    }
    for i in range(20):
        p = f"cmi.interactions.{i}."
        changes[p + "id"] = f"urn:cbsi:q{i}"
        changes[p + "type"] = "choice"
        changes[p + "timestamp"] = "2026-11-28T10:00:00"
        moving = i == n % 20
        changes[p + "learner_response"] = rng.choice(["a", "b", "c", "a[,]b"]) if moving else "a"
        changes[p + "result"] = rng.choice(["correct", "incorrect", "neutral"]) if moving else "correct"
        changes[p + "latency"] = f"PT{rng.randint(1, 90)}S" if moving else "PT10S"
        changes[p + "weighting"] = "1"
        changes[p + "description"] = f"Question {i} about chain of custody"
    return changes


DELTA_KEYS = ("cmi.location", "cmi.suspend_data", "cmi.session_time", "cmi.progress_measure")


def delta(full: dict[str, str], n: int) -> dict[str, str]:
    """What the player actually posts after the first commit: the values set since the last one.

    The bookmark, 4 KB of suspend data, session time, progress and the answered interaction
    change every commit; the score every 25th. The stored document still holds all 20
    interactions, so every commit rewrites a ~10 KB document.
    """
    i = n % 20
    keys = [*DELTA_KEYS, *(f"cmi.interactions.{i}.{f}" for f in ("learner_response", "result", "latency"))]
    if n % 25 == 0:
        keys += ["cmi.score.scaled", "cmi.score.raw"]
    return {k: full[k] for k in keys}


def setup(url: str, learners: int, workdir: Path) -> list[tuple[str, str]]:
    """Migrate, import the bench course and open one attempt per learner."""
    from lti_tool.services import build_services
    from lti_tool.settings import load_settings
    from tests import factories

    settings = load_settings(
        environ={},
        overrides={
            "server": {"demo": True, "instance_folder": str(workdir / "instance")},
            "database": {"url": url},
            "keys": {"folder": str(workdir / "keys")},
        },
    )
    services = build_services(settings)
    services.db.upgrade()
    pkg = workdir / "bench.zip"
    with zipfile.ZipFile(pkg, "w") as zf:
        zf.writestr("imsmanifest.xml", MANIFEST)
        zf.writestr("index.html", "<html></html>")
    course = factories.import_course(services, pkg)
    platform_id = factories.add_platform(services.db)
    out = []
    for n in range(learners):
        # No AGS claim, as the bench always had: the measured workload stays the one of earlier figures.
        launch = factories.launch(
            course.course_key, platform_id=platform_id, sub=f"learner-{n}", launch_id=f"l{n}", claims={}
        )
        opened, _ = factories.start_attempt(services, launch, item="i1", learner_name="L")
        out.append((opened.attempt_id, "i1"))
    with services.db.engine.begin() as conn:
        pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if services.db.is_sqlite else "BIGSERIAL PRIMARY KEY"
        conn.exec_driver_sql(BASELINE_DDL.format(pk=pk))
        conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS bench_track_key ON bench_scoes_track (attempt_id, sco_id, element)"
        )
    services.db.dispose()
    return out


def worker(
    mode: str,
    url: str,
    workdir: str,
    targets: list[tuple[str, str]],
    seconds: float,
    threads: int,
    queue: Any,
    body_kind: str = "full",
) -> None:
    """One process: ``threads`` threads committing round-robin over their own attempts."""
    from sqlalchemy import text

    from lti_tool.runtime import service
    from lti_tool.services import build_services
    from lti_tool.settings import load_settings
    from scorm.cmi import apply_commit, empty_state

    settings = load_settings(
        environ={},
        overrides={
            "server": {"demo": True, "instance_folder": str(Path(workdir) / "instance")},
            "database": {"url": url, "pool_size": threads},
            "keys": {"folder": str(Path(workdir) / "keys")},
        },
    )
    services = build_services(settings)
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run(mine: list[tuple[str, str]], seed: int) -> None:
        rng = random.Random(seed)
        seqs = dict.fromkeys(mine, 0)
        states = {t: empty_state("2004") for t in mine}
        local: list[float] = []
        n = 0
        while time.perf_counter() < deadline:
            target = mine[n % len(mine)]
            n += 1
            seqs[target] += 1
            changes = body(n, rng)
            if body_kind == "delta" and seqs[target] > 1:
                changes = delta(changes, n)
            start = time.perf_counter()
            if mode == "ours":
                service.commit(services, target[0], target[1], {"seq": seqs[target], "changes": changes})
            else:
                result = apply_commit(states[target], changes, "2004")  # same validation
                states[target] = result.state
                now = int(time.time())
                with services.db.session() as s:
                    for element in result.stored:
                        value = changes[element]
                        row = s.execute(
                            text("SELECT id FROM bench_scoes_track WHERE attempt_id=:a AND sco_id=:s AND element=:e"),
                            {"a": target[0], "s": target[1], "e": element},
                        ).first()
                        if row:
                            s.execute(
                                text("UPDATE bench_scoes_track SET value=:v, timemodified=:t WHERE id=:i"),
                                {"v": value, "t": now, "i": row[0]},
                            )
                        else:
                            s.execute(
                                text(
                                    "INSERT INTO bench_scoes_track (attempt_id, sco_id, element, value, timemodified) "
                                    "VALUES (:a,:s,:e,:v,:t)"
                                ),
                                {"a": target[0], "s": target[1], "e": element, "v": value, "t": now},
                            )
            local.append(time.perf_counter() - start)
        with lock:
            latencies.extend(local)

    chunks = [targets[i::threads] for i in range(threads)]
    pool = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(chunks) if c]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    services.db.dispose()
    queue.put(latencies)


def measure(
    mode: str,
    url: str,
    workdir: Path,
    targets: list[tuple[str, str]],
    procs: int,
    threads: int,
    seconds: float,
    body_kind: str = "full",
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    parts = [targets[i::procs] for i in range(procs)]
    started = time.perf_counter()
    ps = [
        ctx.Process(target=worker, args=(mode, url, str(workdir), p, seconds, threads, queue, body_kind)) for p in parts
    ]
    for p in ps:
        p.start()
    lat: list[float] = []
    for _ in ps:
        lat.extend(queue.get())
    for p in ps:
        p.join()
    wall = time.perf_counter() - started
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    return {"commits": len(lat), "rate": len(lat) / seconds, "p50": q[49] * 1000, "p99": q[98] * 1000, "wall": wall}


def fresh_database(admin_url: str) -> str:
    """A new, empty PostgreSQL database next to ``admin_url``'s (each run starts clean)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"cbsi_bench_{os.getpid()}_{int(time.time())}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    """Remove a database made by :func:`fresh_database`."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", default=os.environ.get("CBSI_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--procs", type=int, default=2)
    # one process per core: Python threads in one process contend for the GIL (4 threads x 2
    # processes measured ~600 commits/s on PostgreSQL here, 1 x 2 ~1,500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--learners", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--body",
        choices=["full", "delta"],
        default="delta",
        help="full: every commit posts all 172 values; delta: what the player posts (values set since the last commit)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cbsi-bench-") as tmp:
        workdir = Path(tmp)
        if args.db == "sqlite":
            url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        else:
            if not args.url:
                print("--db postgres needs --url or CBSI_BENCH_POSTGRES_URL (bash scripts/bench.sh starts one)")
                return 2
            url = fresh_database(args.url)
        try:
            targets = setup(url, args.learners, workdir)
            ours = measure("ours", url, workdir, targets, args.procs, args.threads, args.seconds, args.body)
            base = measure("baseline", url, workdir, targets, args.procs, args.threads, args.seconds, args.body)
        finally:
            if args.db == "postgres":
                drop_database(args.url, url)
    print(
        f"\nruntime commits on {args.db}: {args.procs} procs x {args.threads} threads, {args.learners} learners, "
        f"{args.seconds:.0f} s each, SCORM 2004 state of 172 elements, {args.body} commit bodies"
    )
    print(f"{'layout':34} {'commits/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'one JSON document per SCO (ours)':34} {ours['rate']:>10.0f} {ours['p50']:>8.1f} {ours['p99']:>8.1f}")
    print(f"{'one row per element (Moodle)':34} {base['rate']:>10.0f} {base['p50']:>8.1f} {base['p99']:>8.1f}")
    print(
        f"ratio ours/baseline: {ours['rate'] / base['rate']:.1f}x throughput, "
        f"p99 {base['p99'] / ours['p99']:.1f}x lower"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
