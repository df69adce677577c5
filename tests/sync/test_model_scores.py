"""Pure domain rules: transitions, timestamps, score mapping, payloads, URLs, suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync.errors import InvalidOutcomeError, InvalidTransitionError, NaiveDatetimeError
from sync.model import (
    TRANSITIONS,
    ActivityProgress,
    GradingProgress,
    LineItemRef,
    OutboxItem,
    OutboxStatus,
    check_transition,
    ensure_aware,
    next_score_timestamp,
)
from sync.scores import (
    Completion,
    Outcome,
    Success,
    build_score_update,
    results_url,
    score_payload,
    scores_url,
    suppression_reason,
)

T = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
S = OutboxStatus


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        (S.PENDING, S.IN_FLIGHT, True),
        (S.IN_FLIGHT, S.DELIVERED, True),
        (S.IN_FLIGHT, S.SUPERSEDED, True),
        (S.IN_FLIGHT, S.DEAD, True),
        (S.IN_FLIGHT, S.PENDING, True),
        (S.DELIVERED, S.PENDING, True),
        (S.DEAD, S.PENDING, True),
        (S.PENDING, S.DELIVERED, False),  # never delivered without being claimed
        (S.DELIVERED, S.DEAD, False),
        (S.DEAD, S.DELIVERED, False),
        (S.SUPERSEDED, S.IN_FLIGHT, False),
    ],
)
def test_transitions(old, new, ok):
    assert ((old, new) in TRANSITIONS) is ok
    if ok:
        check_transition(old, new)
    else:
        with pytest.raises(InvalidTransitionError) as err:
            check_transition(old, new)
        assert err.value.code == "invalid_transition"


def test_evolve_checks_transition():
    upd = build_score_update(
        Outcome(score_scaled=0.5, is_final=True, changed_at=T),
        platform_key="p",
        line_item_key="k",
        line_item=LineItemRef(url="http://x/li"),
        user_id="u",
    )
    item = OutboxItem(id=1, update=upd, next_attempt_at=T, created_at=T, updated_at=T)
    with pytest.raises(InvalidTransitionError):
        item.evolve(status=OutboxStatus.DELIVERED)
    assert item.evolve(status=OutboxStatus.IN_FLIGHT).status is OutboxStatus.IN_FLIGHT


@pytest.mark.parametrize(
    ("outcome_at", "last_sent", "expected"),
    [
        (T, None, T),
        (T + timedelta(milliseconds=900), None, T),  # truncated to the second
        (T + timedelta(seconds=5), T, T + timedelta(seconds=5)),
        (T + timedelta(milliseconds=400), T, T + timedelta(seconds=1)),  # same second → +1 s
        (T, T + timedelta(seconds=3), T + timedelta(seconds=4)),  # older outcome (resend) → +1 s
        (T + timedelta(seconds=1), T + timedelta(milliseconds=999), T + timedelta(seconds=1)),
    ],
)
def test_next_score_timestamp(outcome_at, last_sent, expected):
    got = next_score_timestamp(outcome_at, last_sent)
    assert got == expected
    assert got.microsecond == 0
    if last_sent is not None:
        assert int(got.timestamp()) > int(last_sent.timestamp())  # Moodle's 409 rule


def test_ensure_aware_converts_and_refuses_naive():
    cet = timezone(timedelta(hours=1))
    assert ensure_aware(datetime(2026, 1, 1, 11, tzinfo=cet)) == datetime(
        2026, 1, 1, 10, tzinfo=UTC
    )
    with pytest.raises(NaiveDatetimeError) as err:
        ensure_aware(datetime(2026, 1, 1))
    assert err.value.code == "naive_datetime"


@pytest.mark.parametrize(
    ("scaled", "completion", "success", "final", "given", "activity", "grading"),
    [
        (0.8, Completion.COMPLETED, Success.PASSED, True, 80, "Completed", "FullyGraded"),
        (0.8, Completion.INCOMPLETE, Success.UNKNOWN, False, 80, "InProgress", "Pending"),
        (0.4, Completion.UNKNOWN, Success.FAILED, True, 40, "Completed", "FullyGraded"),
        (0.4, Completion.INCOMPLETE, Success.UNKNOWN, True, 40, "Submitted", "FullyGraded"),
        (None, Completion.NOT_ATTEMPTED, Success.UNKNOWN, False, None, "Initialized", "NotReady"),
        (None, Completion.UNKNOWN, Success.UNKNOWN, False, None, "Started", "NotReady"),
        (0.5, Completion.UNKNOWN, Success.UNKNOWN, False, 50, "InProgress", "Pending"),
        (None, Completion.COMPLETED, Success.UNKNOWN, True, None, "Completed", "NotReady"),
        (-0.5, Completion.COMPLETED, Success.FAILED, True, 0, "Completed", "FullyGraded"),
        (1.0, Completion.COMPLETED, Success.PASSED, True, 100, "Completed", "FullyGraded"),
        (1 / 3, Completion.COMPLETED, Success.UNKNOWN, True, 33.3333, "Completed", "FullyGraded"),
    ],
)
def test_outcome_mapping(scaled, completion, success, final, given, activity, grading):
    upd = build_score_update(
        Outcome(
            score_scaled=scaled,
            completion=completion,
            success=success,
            is_final=final,
            changed_at=T,
        ),
        platform_key="p",
        line_item_key="k",
        line_item=LineItemRef(url="http://x/li"),
        user_id="42",
    )
    assert upd.score_given == given
    assert upd.score_maximum == (100.0 if given is not None else None)
    assert upd.activity_progress == ActivityProgress(activity)
    assert upd.grading_progress == GradingProgress(grading)
    payload = score_payload(upd, timestamp=T)
    assert ("scoreGiven" in payload) is ("scoreMaximum" in payload) is (given is not None)
    assert payload["userId"] == "42"
    assert payload["timestamp"] == "2026-11-28T10:00:00.000+00:00"
    assert payload["activityProgress"] == activity and payload["gradingProgress"] == grading


@pytest.mark.parametrize(
    ("success", "expected"),
    [(Success.PASSED, 25.0), (Success.FAILED, 0.0), (Success.UNKNOWN, None)],
)
def test_score_from_success_opt_in(success, expected):
    upd = build_score_update(
        Outcome(score_scaled=None, success=success, is_final=True, changed_at=T),
        platform_key="p",
        line_item_key="k",
        line_item=LineItemRef(url="http://x/li", score_maximum=25),
        user_id="u",
        score_from_success=True,
    )
    assert upd.score_given == expected


@pytest.mark.parametrize(
    ("scaled", "user", "maximum"),
    [
        (1.5, "u", 100),
        (-1.01, "u", 100),
        (float("nan"), "u", 100),
        (0.5, "", 100),
        (0.5, "u", 0),
        (0.5, "u", -5),
    ],
)
def test_invalid_outcomes(scaled, user, maximum):
    with pytest.raises(InvalidOutcomeError) as err:
        build_score_update(
            Outcome(score_scaled=scaled, is_final=True, changed_at=T),
            platform_key="p",
            line_item_key="k",
            line_item=LineItemRef(url="http://x/li", score_maximum=maximum),
            user_id=user,
        )
    assert err.value.code == "invalid_outcome"


def test_comment_sent_and_truncated():
    upd = build_score_update(
        Outcome(score_scaled=0.5, is_final=True, changed_at=T, comment="x" * 5000),
        platform_key="p",
        line_item_key="k",
        line_item=LineItemRef(url="http://x/li"),
        user_id="u",
    )
    assert len(score_payload(upd, timestamp=T)["comment"]) == 4000


@pytest.mark.parametrize(
    ("url", "scores", "results"),
    [
        (
            "https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem?type_id=1",
            "https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=1",
            "https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem/results?type_id=1",
        ),
        (
            "https://canvas.example/api/lti/courses/1/line_items/5",
            "https://canvas.example/api/lti/courses/1/line_items/5/scores",
            "https://canvas.example/api/lti/courses/1/line_items/5/results",
        ),
        (
            "https://x.example/li/9/",
            "https://x.example/li/9/scores",
            "https://x.example/li/9/results",
        ),
    ],
)
def test_service_urls(url, scores, results):
    assert scores_url(url) == scores
    assert results_url(url) == results


@pytest.mark.parametrize(
    ("scaled", "final", "grade_delivered", "suppressed"),
    [
        (0.5, True, True, False),  # a new final grade always goes out
        (0.5, False, True, True),  # provisional after a grade: would clear it
        (None, False, True, True),  # progress-only after a grade: would clear it
        (0.5, False, False, False),  # before any grade: progress is shown, nothing to lose
        (None, False, False, False),
    ],
)
def test_suppression(scaled, final, grade_delivered, suppressed):
    upd = build_score_update(
        Outcome(score_scaled=scaled, is_final=final, changed_at=T),
        platform_key="p",
        line_item_key="k",
        line_item=LineItemRef(url="http://x/li"),
        user_id="u",
    )
    reason = suppression_reason(upd, grade_delivered=grade_delivered)
    assert (reason is not None) is suppressed


@pytest.mark.parametrize(
    ("data", "final", "grading"),
    [
        (
            {"score_scaled": 0.7, "completion": "completed", "success": "passed"},
            True,
            "FullyGraded",
        ),
        ({"score_scaled": 0.7, "completion": "incomplete", "success": "unknown"}, False, "Pending"),
        (
            {"score_scaled": 0.2, "completion": "incomplete", "success": "failed"},
            True,
            "FullyGraded",
        ),
        ({"completion": "not_attempted"}, False, "NotReady"),
        ({}, False, "NotReady"),
    ],
)
def test_stored_outcome_grades_with_derived_finality(data, final, grading):
    from dataclasses import replace

    from scorm.outcome import Outcome as StoredOutcome

    outcome = replace(StoredOutcome.from_json(data), changed_at=T)
    assert outcome.is_final is None and outcome.final is final
    upd = build_score_update(
        outcome,
        platform_key="p",
        line_item_key="k",
        line_item=LineItemRef(url="http://x/li"),
        user_id="u",
    )
    assert upd.grading_progress == GradingProgress(grading)


@pytest.mark.parametrize(
    "data",
    [{"completion": "done"}, {"success": "maybe"}, {"score_scaled": "0.5"}, {"score_scaled": True}],
)
def test_stored_outcome_rejects_garbage(data):
    from scorm.outcome import OutcomeError

    with pytest.raises(OutcomeError):
        Outcome.from_json(data)


def test_one_outcome_type_for_scorm_and_sync():
    from scorm.cmi import Outcome as CmiOutcome
    from scorm.outcome import Completion
    from sync.scores import Completion as SyncCompletion

    assert Outcome is CmiOutcome and SyncCompletion is Completion


def test_an_outcome_without_its_time_is_no_score():
    with pytest.raises(InvalidOutcomeError, match="changed_at"):
        build_score_update(
            Outcome(score_scaled=0.5), platform_key="p", line_item_key="k",
            line_item=LineItemRef(url="http://x/li"), user_id="u",
        )  # fmt: skip
