"""The operator console in Chromium: the jobs an operator does, checked in the database, with axe.

One operator session walks through: approve a Dynamic Registration that a (simulated) Moodle 4.5
made through the real registration flow; upload a real package and read its report; see a grade
the LMS refused and send it again; rotate the signing key; read the regional report and compare
its figures with the database. Every page gets an axe-core check (no serious or critical
violation) and a screenshot in the artefacts folder.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from e2e_stack import Stack, packages_dir, wait_until

from lti_tool import operators, regional
from lti_tool.storage.models import Platform
from lti_tool.storage.outbox import SqlOutboxStore
from sync.model import ActivityProgress, GradingProgress, LineItemRef, OutboxStatus, ScoreUpdate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lti_adv"))
from axe_support import assert_accessible, screenshot
from lti_adv_helpers import REG_TOKEN, SimulatedMoodle, running_fake_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.test_regional import FAILED, PASSED, add_course, enrol

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


def log_in(page: Any, stack: Stack) -> None:
    operators.set_operator(stack.services, "console-ops", PASSWORD)
    page.goto("/admin/login")
    page.get_by_label("Username").fill("console-ops")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")


def pending_registration(stack: Stack, page: Any) -> int:
    """A simulated Moodle 4.5 registers the tool through /lti/register, as its admin page would."""
    with running_fake_server() as fake:
        moodle = SimulatedMoodle(fake)
        query = urlencode({"openid_configuration": moodle.configuration_url, "registration_token": REG_TOKEN})
        page.goto(f"/lti/register?{query}")
        page.locator("#pending").wait_for()
        assert len(moodle.registrations) == 1
        issuer = moodle.issuer
    with stack.services.db.session() as s:
        row = s.query(Platform).filter_by(issuer=issuer).one()
        assert row.status == "pending"
        return row.id


def dead_grade(stack: Stack, platform_id: int) -> int:
    store = SqlOutboxStore(stack.services.db)
    now = datetime.now(UTC)
    store.enqueue(
        ScoreUpdate(
            platform_key=str(platform_id),
            line_item_key="console-li",
            line_item=LineItemRef(url="https://lms.example/lineitems/9"),
            user_id="console-learner",
            score_given=7.0,
            score_maximum=10.0,
            activity_progress=ActivityProgress.COMPLETED,
            grading_progress=GradingProgress.FULLY_GRADED,
            outcome_at=now,
        ),
        now=now,
    )
    items = store.claim_due(limit=50, lease_seconds=60, now=now, worker_id="console-test")
    [item] = [it for it in items if it.update.user_id == "console-learner"]
    for other in items:
        if other is not item:
            store.release(other.id, version=other.version, not_before=now, now=now)
    store.mark_dead(item.id, version=item.version, status_code=400, error="User is not enrolled", now=now)
    return item.id


def test_operator_console_jobs(stack: Stack, context: Any) -> None:
    page = context.new_page()
    platform_id = pending_registration(stack, page)
    log_in(page, stack)
    assert_accessible(page, "dashboard")

    # academies: the pending registration shows what the LMS sent; approve it with one button
    page.goto("/admin/academies")
    card = page.get_by_role("article")
    card.get_by_text("What the LMS sent").click()
    assert "moodle 4.5.1" in card.inner_text()
    screenshot(page, "console-academies")
    assert_accessible(page, "academies")
    card.get_by_role("button", name="Approve").click()
    page.get_by_role("status").wait_for()
    with stack.services.db.session() as s:
        assert s.get(Platform, platform_id).status == "active"

    # catalogue: upload a real package with the progress display; it appears with its report
    page.goto("/admin/packages")
    package = packages_dir() / "scorm12" / "RuntimeBasicCalls_SCORM12.zip"
    page.set_input_files("input[name=package]", str(package))
    page.get_by_role("button", name="Import").click()
    status = page.locator("#status")
    wait_until(lambda: status.inner_text().startswith(("Imported", "Already")), what="the import to finish")
    screenshot(page, "console-catalogue")
    assert_accessible(page, "catalogue")

    # grade delivery: the LMS's refusal in plain words, sent again with one button
    item_id = dead_grade(stack, platform_id)
    page.goto("/admin/delivery")
    assert "User is not enrolled" in page.content()
    screenshot(page, "console-delivery")
    assert_accessible(page, "delivery")
    page.get_by_role("button", name="Send the refused grades").first.click()
    page.get_by_role("status").wait_for()
    assert SqlOutboxStore(stack.services.db).get(item_id).status == OutboxStatus.PENDING

    # keys: rotation needs the confirmation box
    before = stack.services.keys.signing_key().kid
    page.goto("/admin/keys")
    assert_accessible(page, "keys")
    page.get_by_label("I want to rotate the signing key now.").check()
    page.get_by_role("button", name="Rotate").click()
    page.get_by_role("status").wait_for()
    assert stack.services.keys.signing_key().kid != before

    # regional report: the figures on the page are the database's
    course = add_course(stack.services, "Use of Force (console test)")
    enrol(stack.services, platform_id, course, "officer-1", (PASSED, datetime(2026, 2, 1, tzinfo=UTC)))
    enrol(stack.services, platform_id, course, "officer-2", (FAILED, datetime(2026, 3, 1, tzinfo=UTC)))
    page.goto("/admin/report")
    figures = regional.regional_report(stack.services.db)
    assert page.locator("#officers-trained").inner_text() == f"{figures.officers_trained:,}"
    assert page.locator("#completions").inner_text() == f"{figures.totals.completed:,}"
    assert figures.officers_trained >= 2
    assert page.locator("#pass-rate").inner_text() == f"{figures.totals.pass_rate:.0%}"
    assert page.locator("svg.chart").count() == 3
    assert page.locator("svg.chart rect").count() >= 4  # drawn, not the "nothing yet" sentence
    screenshot(page, "console-report")
    assert_accessible(page, "report")

    # the audit log shows every action above, by this operator, from this address
    page.goto("/admin/audit")
    text = page.locator("table").inner_text()
    for action in ("platforms.approve", "sync.retry_dead", "keys.rotate"):
        assert action in text
    assert "console-ops" in text and "127.0.0.1" in text
    screenshot(page, "console-audit")
    assert_accessible(page, "audit")


def test_phone_sized_console_has_no_horizontal_page_scroll(stack: Stack, browser: Any) -> None:
    context = browser.new_context(base_url=stack.base, viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        log_in(page, stack)
        for path in ("/admin/academies", "/admin/delivery", "/admin/report", "/admin/audit"):
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
        screenshot(page, "console-audit-phone")
    finally:
        context.close()
