"""The commit bench's bodies: the workload its figures describe, built the fast way."""

from __future__ import annotations

import random

import pytest

from bench.bench_commits import DELTA_KEYS, body, changes_for, delta


def described(n: int, rng: random.Random, seq: int) -> dict[str, str]:
    """The full body as the bench's docstring describes it, built value by value."""
    step = seq // 25
    score = step % 100
    changes = {
        "cmi.location": f"page-{n % 40}",
        "cmi.progress_measure": f"{min(1.0, step / 20):.3f}",
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
        moving = i == n % 20
        changes[p + "id"] = f"urn:cbsi:q{i}"
        changes[p + "type"] = "choice"
        changes[p + "timestamp"] = "2026-11-28T10:00:00"
        changes[p + "learner_response"] = rng.choice(["a", "b", "c", "a[,]b"]) if moving else "a"
        changes[p + "result"] = rng.choice(["correct", "incorrect", "neutral"]) if moving else "correct"
        changes[p + "latency"] = f"PT{rng.randint(1, 90)}S" if moving else "PT10S"
        changes[p + "weighting"] = "1"
        changes[p + "description"] = f"Question {i} about chain of custody"
    return changes


@pytest.mark.parametrize("seq", [1, 2, 24, 25, 26, 50, 51, 499, 500])
def test_the_full_body_is_the_described_one_in_its_order(seq: int) -> None:
    for n in range(0, 120, 7):
        got, want = body(n, random.Random(n), seq), described(n, random.Random(n), seq)
        assert list(got.items()) == list(want.items()) and len(got) == 171


@pytest.mark.parametrize("seq", [2, 24, 25, 26, 50, 51, 499, 500])
def test_delta_is_the_full_body_s_changed_values(seq: int) -> None:
    for n in range(0, 120, 7):
        full = described(n, random.Random(n), seq)
        moving = [f"cmi.interactions.{n % 20}.{f}" for f in ("learner_response", "result", "latency")]
        score = ["cmi.score.scaled", "cmi.score.raw"] if seq % 25 == 0 else []
        assert delta(n, random.Random(n), seq) == {k: full[k] for k in [*DELTA_KEYS, *moving, *score]}


def test_first_commit_and_full_kind_post_the_whole_body() -> None:
    assert changes_for("delta", 3, random.Random(1), 1) == described(3, random.Random(1), 1)
    assert changes_for("full", 3, random.Random(1), 9) == described(3, random.Random(1), 9)
    assert len(changes_for("delta", 3, random.Random(1), 9)) == 7
