"""The benchmark runs end to end (small n) and reports a delivered count and a baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_sync.py"


@pytest.mark.slow
def test_bench_sync_small():
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--n",
            "300",
            "--platforms",
            "3",
            "--latency",
            "0.02",
            "--baseline-sample",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["worker"]["delivered"] == 300
    assert report["worker"]["token_requests"] == 3
    assert report["sequential_baseline"]["sample"] == 10
    assert report["speedup_vs_sequential"] > 1
