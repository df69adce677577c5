"""ADL SCORM 2004 4th Edition LMS run-time conformance test cases, replayed server-side.

One test per ADL test case (ids = the case ids); the cases in ``known.KNOWN_FAILING`` are strict
xfails, so one that starts passing fails the run until it is removed from the list. Summary per
group: ``python -m tests.scorm.cts.report``.
"""

from __future__ import annotations

import pytest

from tests.scorm.cts.cases import case_ids, load_case
from tests.scorm.cts.known import KNOWN_FAILING
from tests.scorm.cts.runner import run_case


def _params() -> list[object]:
    params: list[object] = []
    for case_id in case_ids():
        marks = []
        if case_id in KNOWN_FAILING:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILING[case_id]))
        params.append(pytest.param(case_id, id=case_id, marks=marks))
    return params


def test_suite_is_complete() -> None:
    ids = case_ids()
    assert len(ids) == 188
    assert set(KNOWN_FAILING) <= set(ids), set(KNOWN_FAILING) - set(ids)


@pytest.mark.parametrize("case_id", _params())
def test_adl_cts_case(case_id: str) -> None:
    errors = run_case(load_case(case_id))
    assert not errors, f"{case_id}:\n  " + "\n  ".join(errors[:20])
