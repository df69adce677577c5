"""Throughput of server-side CMI re-validation (pure, in-process, one core).

Body: a realistic SCORM 2004 commit of ~150 elements — 20 interactions (id, type, objective,
correct pattern, learner response, result, latency, timestamp, weighting, description),
3 objectives, score, statuses, location, session time and 4 KB of suspend_data.

Scenarios (each reports commits/s, p50 and p99 latency):

* ``apply_commit first``   — every element new: full validation of ~150 elements.
* ``apply_commit resend``  — the browser re-posts its whole model with 4 values changed
  (what scorm-again-style runtimes do on every commit).
* ``baseline set_value``   — naive: the same body applied with one ``set_value`` per element
  (copies the document per element, validates unchanged values again), in the same order.

Run: ``python bench/bench_commits_model.py [--seconds 2]``. The 1.2 body is measured too.
Rates are per core (single thread); "1/p50" is the rate a quiet core would sustain, useful when
other processes share the machine and inflate the mean.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scorm.cmi import apply_commit, initial_state, set_value
from scorm.cmi.commit import commit_order_key


def body_2004(step: int = 0) -> dict[str, str]:
    body: dict[str, str] = {}
    for i in range(20):
        p = f"cmi.interactions.{i}"
        body[f"{p}.id"] = f"urn:course:scene1:question-{i}"
        body[f"{p}.type"] = "choice"
        body[f"{p}.objectives.0.id"] = f"urn:course:objective-{i % 3}"
        body[f"{p}.correct_responses.0.pattern"] = "choice_a[,]choice_c"
        body[f"{p}.learner_response"] = "choice_a[,]choice_b"
        body[f"{p}.result"] = "incorrect"
        body[f"{p}.latency"] = "PT12.5S"
        body[f"{p}.timestamp"] = "2026-11-28T10:15:30.5Z"
        body[f"{p}.weighting"] = "1"
        body[f"{p}.description"] = "{lang=en}Which of these are prime numbers?"
    for j in range(3):
        body[f"cmi.objectives.{j}.id"] = f"urn:course:objective-{j}"
        body[f"cmi.objectives.{j}.score.scaled"] = "0.5"
        body[f"cmi.objectives.{j}.success_status"] = "unknown"
        body[f"cmi.objectives.{j}.completion_status"] = "incomplete"
    body.update(
        {
            "cmi.location": f"slide-{step}",
            "cmi.suspend_data": ("A1b2C3d4" * 512)[:4000] + f"{step:096d}",
            "cmi.score.scaled": "0.45",
            "cmi.score.raw": "45",
            "cmi.score.min": "0",
            "cmi.score.max": "100",
            "cmi.progress_measure": f"0.{step % 10}",
            "cmi.completion_status": "incomplete",
            "cmi.success_status": "unknown",
            "cmi.session_time": f"PT{step}M30S",
            "cmi.exit": "suspend",
            "cmi.learner_id": "urn:lti:learner:42",  # echoed RO value
            "cmi.interactions._count": "20",  # echoed keyword
        }
    )
    return body


def body_12(step: int = 0) -> dict[str, str]:
    body: dict[str, str] = {}
    for i in range(20):
        p = f"cmi.interactions.{i}"
        body[f"{p}.id"] = f"Scene1_Slide{i}_MultiChoice_0_0"
        body[f"{p}.type"] = "choice"
        body[f"{p}.objectives.0.id"] = f"objective_{i % 3}"
        body[f"{p}.correct_responses.0.pattern"] = "a,c"
        body[f"{p}.student_response"] = "a,b"
        body[f"{p}.result"] = "wrong"
        body[f"{p}.latency"] = "00:00:12.50"
        body[f"{p}.time"] = "10:15:30"
        body[f"{p}.weighting"] = "1"
    body.update(
        {
            "cmi.core.lesson_location": f"slide-{step}",
            "cmi.suspend_data": ("A1b2C3d4" * 512)[:4000] + f"{step:096d}",
            "cmi.core.score.raw": "45",
            "cmi.core.score.min": "0",
            "cmi.core.score.max": "100",
            "cmi.core.lesson_status": "incomplete",
            "cmi.core.session_time": f"00:{step % 60:02d}:30",
            "cmi.core.exit": "suspend",
            "cmi.core.student_id": "learner-42",
        }
    )
    return body


def _measure(name: str, fn: Callable[[], object], seconds: float, elements: int) -> float:
    """Run ``fn`` repeatedly for ``seconds``; print rates and latencies; return p50 (s)."""
    for _ in range(20):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    rate = len(samples) / sum(samples)
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"  {name:<26} {rate:>7.0f} commits/s (1/p50: {1 / p50:>6.0f})"
        f"  p50 {p50 * 1e3:6.3f} ms  p99 {p99 * 1e3:6.3f} ms  ({elements} elements)"
    )
    return p50


def _naive(state: dict, body: dict[str, str], version: str) -> Callable[[], None]:
    """Baseline: one set_value per element (a document copy per element), same order."""
    ordered = sorted(body.items(), key=lambda kv: commit_order_key(kv[0]))

    def apply() -> None:
        current = state
        for element, value in ordered:
            new_state, code = set_value(current, element, value, version)
            if code == 0:
                current = new_state

    return apply


def run(version: str, seconds: float) -> None:
    make = body_2004 if version == "2004" else body_12
    learner = "urn:lti:learner:42" if version == "2004" else "learner-42"
    fresh = initial_state(version, learner_id=learner, learner_name="Ann Example")
    first = make(0)
    result = apply_commit(fresh, first, version)
    if result.rejected:
        raise SystemExit(f"bench body rejected: {result.rejected[:3]}")
    after_first = result.state
    resend = make(1)

    print(f"SCORM {version}")
    for label, state, body in (("first", fresh, first), ("resend", after_first, resend)):
        fast = _measure(
            f"apply_commit {label}",
            lambda state=state, body=body: apply_commit(state, body, version),
            seconds,
            len(body),
        )
        slow = _measure(
            f"baseline set_value {label}", _naive(state, body, version), seconds, len(body)
        )
        print(f"  speed-up at p50 ({label}): {slow / fast:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per scenario")
    args = parser.parse_args()
    for version in ("2004", "1.2"):
        run(version, args.seconds)


if __name__ == "__main__":
    main()
