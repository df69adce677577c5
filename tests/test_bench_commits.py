"""The commit bench's delta bodies: the values of the full body's keys, built alone."""

from __future__ import annotations

import random

import pytest

from bench.bench_commits import DELTA_KEYS, body, changes_for, delta


@pytest.mark.parametrize("seq", [2, 24, 25, 26, 50, 51, 499, 500])
def test_delta_is_the_full_body_s_changed_values(seq: int) -> None:
    for n in range(0, 120, 7):
        full = body(n, random.Random(n), seq)
        got = delta(n, random.Random(n), seq)
        moving = [f"cmi.interactions.{n % 20}.{f}" for f in ("learner_response", "result", "latency")]
        score = ["cmi.score.scaled", "cmi.score.raw"] if seq % 25 == 0 else []
        assert got == {k: full[k] for k in [*DELTA_KEYS, *moving, *score]}


def test_first_commit_and_full_kind_post_the_whole_body() -> None:
    assert changes_for("delta", 3, random.Random(1), 1) == body(3, random.Random(1), 1)
    assert changes_for("full", 3, random.Random(1), 9) == body(3, random.Random(1), 9)
    assert len(changes_for("delta", 3, random.Random(1), 9)) == 7
