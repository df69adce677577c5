"""Run every ADL CTS test case server-side and print passed/total per group.

``python -m tests.scorm.cts.report [-v] [CASE ...]`` (``-v`` prints each failure's reasons).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

from tests.scorm.cts.cases import GROUPS, case_ids, group_of, load_case
from tests.scorm.cts.known import KNOWN_FAILING
from tests.scorm.cts.runner import run_case


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    wanted = [a for a in argv if not a.startswith("-")] or case_ids()
    started = time.monotonic()
    passed: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    failing: list[str] = []
    for case_id in wanted:
        errors = run_case(load_case(case_id))
        group = group_of(case_id)
        total[group] += 1
        if errors:
            failing.append(case_id)
            if verbose:
                print(f"FAIL {case_id}:")
                for e in errors[:8]:
                    print(f"    {e}")
        else:
            passed[group] += 1
    print(f"{'group':6} passed/total")
    for group in GROUPS:
        if total[group]:
            print(f"{group:6} {passed[group]:3}/{total[group]}")
    print(f"{'all':6} {sum(passed.values()):3}/{sum(total.values())}  ({time.monotonic() - started:.1f}s)")
    unexpected = [c for c in failing if c not in KNOWN_FAILING]
    fixed = [c for c in wanted if c in KNOWN_FAILING and c not in failing]
    if failing:
        print("not passing:", " ".join(failing))
    if unexpected:
        print("failing but not in KNOWN_FAILING:", " ".join(unexpected))
    if fixed:
        print("passing but still in KNOWN_FAILING:", " ".join(fixed))
    return 1 if unexpected or fixed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
