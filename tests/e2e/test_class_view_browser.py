"""Real-browser tests of the instructor class view, the learner home and the front page.

Debian's chromium drives the development LMS: a learner plays the golf SCO to a passed quiz, then
the instructor launches the same activity and reads the learner's row, the charts and the CSV
export; the learner home opens from the player's exit page and from a link without a course.
Each page is checked with axe-core (no serious or critical WCAG 2.1 AA violation), switched to
Spanish, French and Dutch with the footer's language links, and saved as a screenshot artefact.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from axe_support import assert_accessible, screenshot
from e2e_helpers import launch_learner
from e2e_stack import Stack, wait_until
from golf_sco import GOLF_PAGE_COUNT, Dialogs, golf_frame, golf_goto_page, golf_pass_quiz
from sqlalchemy import select

from lti_tool.devlms.models import DevResourceLink
from lti_tool.storage.models import GradeOutbox

pytestmark = pytest.mark.browser

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
#: words of each language on the class view (the footer link's code → words that must appear)
CLASS_WORDS = {
    "es": ("Embudo de finalización", "Aprobado", "Exportar CSV"),
    "fr": ("Entonnoir d'achèvement", "Réussi", "Exporter en CSV"),
    "nl": ("Voltooiingstrechter", "Geslaagd", "CSV exporteren"),
}


def _learner_passes(page: Any, stack: Stack, link: int) -> str:
    Dialogs(page)
    attempt = launch_learner(page, stack, link)
    golf_goto_page(page, GOLF_PAGE_COUNT - 1)
    golf_pass_quiz(page)
    golf_frame(page).click("#butExit")
    page.wait_for_selector("#cbsi-panel:not([hidden]) >> text=Your progress has been saved")
    wait_until(lambda: stack.attempt(attempt).outcome.get("success") == "passed", what="the passed outcome")
    return attempt


def _launch_instructor(page: Any, stack: Stack, link: int) -> None:
    page.goto(stack.platform + "/")
    page.locator(f'a[href="/dev/platform/launch?user=instructor&link={link}"]').click()
    page.wait_for_url("**/class/**")


def test_instructor_sees_the_learner_who_just_passed_and_exports_csv(stack: Stack, context: Any) -> None:
    course = stack.course(GOLF12)
    link = stack.add_link(course.course_key, "Class view golf")
    learner = context.new_page()
    _learner_passes(learner, stack, link)
    wait_until(lambda: _outbox_rows(stack), what="the grade in the outbox")

    page = context.new_page()
    _launch_instructor(page, stack, link)
    row = page.locator("#learners tbody tr", has_text="Ana Learner")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "Passed" and cells[2] == "100%" and cells[3] == "1"
    delivery = cells[6]
    assert delivery.startswith(("Waiting to send 100/100", "Sent 100/100")), delivery
    assert page.locator("#charts svg[role=img]").count() == 2
    assert page.locator("#score-table tr", has_text="90–100").locator("td").inner_text() == "1"
    assert_accessible(page, "class view")
    screenshot(page, "class-view")

    with page.expect_download() as info:
        page.click("#export-csv")
    body = info.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["Learner", "Email", "LMS user id", "Status"]
    assert [r[:5] for r in rows[1:]] == [["Ana Learner", "ana.learner@example.org", "dev-user-ana", "Passed", "100"]]

    for lang, words in CLASS_WORDS.items():
        page.click(f'footer.languages a[data-lang="{lang}"]')
        page.wait_for_selector(f'html[lang="{lang}"]')
        text = page.inner_text("main")
        for word in words:
            assert word in text, (lang, word)
        assert_accessible(page, f"class view {lang}")
    screenshot(page, "class-view-nl")

    page.click('footer.languages a[data-lang="en"]')
    page.wait_for_selector('html[lang="en"]')
    page.click("#resend-grades")
    page.wait_for_selector("#notice")
    assert "queued to be sent again" in page.inner_text("#notice") or "nothing was queued" in page.inner_text("#notice")


def _outbox_rows(stack: Stack) -> list[Any]:
    with stack.services.db.session() as s:
        return list(s.scalars(select(GradeOutbox)).all())


def test_learner_home_from_the_exit_page_and_from_a_link_without_a_course(stack: Stack, context: Any) -> None:
    course = stack.course(GOLF12)
    link = stack.add_link(course.course_key, "Home golf")
    page = context.new_page()
    _learner_passes(page, stack, link)
    page.click("#cbsi-home")
    page.wait_for_url("**/home/**")
    item = page.locator("#courses li", has_text="Home golf")
    assert "Passed" in item.inner_text() and "100%" in item.inner_text()
    assert_accessible(page, "learner home")
    screenshot(page, "learner-home")

    with stack.services.db.session() as s:
        menu = DevResourceLink(title="Course menu", url=None, custom={})
        s.add(menu)
        s.flush()
        menu_id = menu.id
    other = context.new_page()
    other.goto(stack.platform + "/")
    other.locator(f'a[href="/dev/platform/launch?user=learner&link={menu_id}"]').click()
    other.wait_for_url("**/home/**")
    assert other.locator("#courses li", has_text="Home golf").count() == 1
    other.click('footer.languages a[data-lang="es"]')
    other.wait_for_selector('html[lang="es"]')
    assert "Sus cursos" in other.inner_text("main")
    assert_accessible(other, "learner home es")


def test_front_page_links_and_languages(stack: Stack, context: Any) -> None:
    page = context.new_page()
    page.goto(stack.base + "/")
    assert page.get_attribute("#operator-console", "href") == "/admin/"
    assert page.get_attribute("#lms-config", "href") == "/lti/config"
    assert_accessible(page, "front page")
    screenshot(page, "front-page")
    expected = {"es": "pasarela de contenidos", "fr": "passerelle de contenus", "nl": "brug voor cursusmateriaal"}
    for lang, words in expected.items():
        page.click(f'footer.languages a[data-lang="{lang}"]')
        page.wait_for_selector(f'html[lang="{lang}"]')
        assert words in page.inner_text("main"), lang
    assert_accessible(page, "front page nl")
