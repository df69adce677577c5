"""Run every benchmark: ``python -m bench [--quick] [--only NAME ...]``.

Each benchmark runs its baseline in the same process run and prints ratios and percentiles
(these machines are noisy: compare within one run, not across runs). ``--quick`` scales the
workloads down for a smoke run; the figures in the issue notes come from the full run.
PostgreSQL benchmarks use ``$CBSI_BENCH_POSTGRES_URL`` (``bash scripts/bench.sh`` starts a
throwaway cluster) and are skipped, with a note, when it is not set.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES: dict[str, tuple[list[str], list[str]]] = {
    # name: (full args, quick args)
    "launch": (["bench_launch.py"], ["bench_launch.py", "--n", "100"]),
    "commits-sqlite": (
        ["bench_commits.py", "--db", "sqlite"],
        ["bench_commits.py", "--db", "sqlite", "--seconds", "3"],
    ),
    "commits-postgres": (
        ["bench_commits.py", "--db", "postgres"],
        ["bench_commits.py", "--db", "postgres", "--seconds", "3"],
    ),
    "commit-model": (["bench_commits_model.py"], ["bench_commits_model.py", "--seconds", "0.5"]),
    "sync": (["bench_sync.py"], ["bench_sync.py", "--n", "2000"]),
    "sync-sql-postgres": (
        ["bench_sync_sql.py", "--pg-workers", "2", "--compare-http"],
        ["bench_sync_sql.py", "--n", "2000"],
    ),
    "import": (["bench_import.py"], ["bench_import.py", "--size-mb", "64", "--video-mb", "16"]),
    "lrs-sqlite": (
        ["bench_lrs.py", "--db", "sqlite", "--fill", "1000000"],
        ["bench_lrs.py", "--db", "sqlite", "--n", "500", "--fill", "5000", "--gets", "50"],
    ),
    "lrs-postgres": (
        ["bench_lrs.py", "--db", "postgres", "--fill", "1000000"],
        ["bench_lrs.py", "--db", "postgres", "--n", "500", "--fill", "5000", "--gets", "50"],
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the CBSI-Connect benchmarks.")
    parser.add_argument("--quick", action="store_true", help="small workloads (smoke run)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="run only these")
    args = parser.parse_args()
    failures = 0
    for name, (full, quick) in BENCHES.items():
        if args.only and name not in args.only:
            continue
        script, *rest = quick if args.quick else full
        if not (HERE / script).exists():
            print(f"\n== {name}: {script} not present in this checkout")
            continue
        if "postgres" in name and not os.environ.get("CBSI_BENCH_POSTGRES_URL"):
            print(f"\n== {name}: skipped (no CBSI_BENCH_POSTGRES_URL; run 'bash scripts/bench.sh')")
            continue
        print(f"\n== {name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script), *rest], cwd=HERE.parent)
        print(f"-- {name}: exit {code}, {time.perf_counter() - started:.0f} s", flush=True)
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
