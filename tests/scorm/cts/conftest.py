"""Per-group summary of the ADL CTS cases at the end of a pytest run."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tests.scorm.cts.cases import GROUPS, group_of
from tests.scorm.cts.known import KNOWN_FAILING


def pytest_terminal_summary(terminalreporter: Any) -> None:
    passed: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for outcome in ("passed", "failed", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "test_adl_cts_case[" not in nodeid or getattr(report, "when", "call") != "call":
                continue
            case_id = nodeid.split("[", 1)[1].rstrip("]")
            group = group_of(case_id)
            total[group] += 1
            if outcome == "passed":
                passed[group] += 1
    if not total:
        return
    terminalreporter.section("ADL SCORM 2004 4th ed. CTS (server-side)")
    for group in GROUPS:
        if total[group]:
            terminalreporter.write_line(f"{group:5} {passed[group]:3}/{total[group]}")
    terminalreporter.write_line(f"{'all':5} {sum(passed.values()):3}/{sum(total.values())}")
    if KNOWN_FAILING:
        terminalreporter.write_line(f"known failing ({len(KNOWN_FAILING)}): " + " ".join(sorted(KNOWN_FAILING)))
