"""Multi-item package ContentPackagingOneFilePerSCO_SCORM12: TOC, previous/next, assets, keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from player_helpers import wait_until

pytestmark = pytest.mark.browser

PACKAGE = "scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip"


def cp_items(harness: Any) -> list[dict]:
    pkg = harness.package(PACKAGE)
    items = harness.manifest_items(pkg)
    assert len(items) == 22
    assert {i["kind"] for i in items} == {"cluster", "asset"}
    return items


def frame_path(page: Any) -> str:
    return page.get_attribute("#cbsi-content", "src") or ""


def current_title(page: Any) -> str:
    return page.inner_text("#cbsi-toc a[aria-current=page]").replace("✓", "").replace("(completed)", "").strip()


def test_next_previous_and_asset_completion(context, harness):
    items = cp_items(harness)
    path, attempt = harness.launch(version="1.2", title="Golf Explained - CP One File Per SCO", items=items)
    att = harness.attempts[attempt]
    page = context.new_page()
    page.goto(path)
    page.wait_for_selector("#cbsi-toc a[aria-current=page]")
    assert frame_path(page).endswith("/Playing/Playing.html")
    assert current_title(page) == "How to Play"
    wait_until(lambda: att.sco("playing_playing_item").asset_completed, what="asset completion of item 1")
    first = att.sco("playing_playing_item").commits[0]
    assert first["changes"] == {} and first["asset_completed"] is True and first["seq"] == 1
    assert page.is_disabled("#cbsi-prev")

    page.click("#cbsi-next")
    wait_until(lambda: frame_path(page).endswith("/Playing/Par.html"), what="Par")
    wait_until(lambda: att.sco("playing_par_item").asset_completed, what="asset completion of item 2")
    assert current_title(page) == "Par"
    assert page.is_enabled("#cbsi-prev")
    # The first item now shows as completed in the TOC.
    assert "(completed)" in page.inner_text("#cbsi-toc li:has(a[data-item-id=playing_playing_item])")

    page.click("#cbsi-prev")
    wait_until(lambda: frame_path(page).endswith("/Playing/Playing.html"), what="back to How to Play")
    assert [c["request"] for c in att.nav_calls] == ["continue", "previous"]
    assert att.nav_calls[0]["from"] == "playing_playing_item"
    # Re-opening an asset posts again with a fresh seq for that item.
    wait_until(lambda: len(att.sco("playing_playing_item").commits) == 2, what="second asset commit")
    assert [c["seq"] for c in att.sco("playing_playing_item").commits] == [1, 2]


def test_toc_lists_visible_items_and_refuses_disabled_ones(context, harness):
    items = cp_items(harness)
    by_id = {i["id"]: i for i in items}
    by_id["etiquette_quiz_item"]["disabled"] = True
    by_id["havingfun_quiz_item"]["visible"] = False
    path, attempt = harness.launch(version="1.2", title="CP", items=items)
    page = context.new_page()
    page.goto(path)
    page.wait_for_selector("#cbsi-toc a[aria-current=page]")
    nav = page.locator("nav[aria-label='Table of contents']")
    assert nav.locator("li").count() == 21  # 22 items, one invisible
    assert nav.locator("text=Having Fun Quiz").count() == 0
    disabled = nav.locator("[aria-disabled=true]")
    assert disabled.count() == 1 and disabled.inner_text() == "Etiquette Quiz"
    assert nav.locator("a", has_text="Etiquette Quiz").count() == 0
    clusters = nav.locator(".cbsi-toc-cluster").all_text_contents()
    assert clusters == ["Playing the Game", "Etiquette", "Handicapping", "Having Fun"]

    # Choice navigation by click.
    nav.get_by_role("link", name="Calculating a Handicap", exact=True).click()
    wait_until(lambda: frame_path(page).endswith("/Handicapping/CalculatingHandicap.html"), what="choice")
    assert harness.attempts[attempt].nav_calls[-1] == {
        "request": "choice",
        "target": "handicapping_calchandi_item",
        "from": "playing_playing_item",
    }


def test_toc_is_keyboard_operable(context, harness):
    path, _ = harness.launch(version="1.2", title="CP", items=cp_items(harness))
    page = context.new_page()
    page.goto(path)
    page.wait_for_selector("#cbsi-toc a[aria-current=page]")
    # Tab order: skip link, contents toggle, (new-window link hidden at top level), Exit, TOC.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "cbsi-skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "cbsi-toc-toggle"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "cbsi-exit"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.itemId") == "playing_playing_item"
    # Arrow keys move within the TOC; Enter chooses.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.itemId") == "playing_scoring_item"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # visible focus
    page.keyboard.press("Enter")
    wait_until(lambda: frame_path(page).endswith("/Playing/Scoring.html"), what="keyboard choice")
    assert current_title(page) == "Keeping Score"
    wait_until(
        lambda: page.evaluate("document.activeElement.dataset.itemId") == "playing_scoring_item", what="focus kept"
    )
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.dataset.itemId") == "havingfun_quiz_item"
    # The contents toggle collapses and restores the TOC.
    page.click("#cbsi-toc-toggle")
    assert page.get_attribute("#cbsi-toc-toggle", "aria-expanded") == "false"
    assert not page.is_visible("#cbsi-toc")
    page.click("#cbsi-toc-toggle")
    assert page.is_visible("#cbsi-toc")


def test_exit_commits_then_shows_the_exit_page(context, harness):
    path, attempt = harness.launch(version="1.2", title="CP", items=cp_items(harness), return_url=None)
    page = context.new_page()
    page.goto(path)
    page.wait_for_selector("#cbsi-toc a[aria-current=page]")
    page.click("#cbsi-exit")
    page.wait_for_selector("#cbsi-panel:not([hidden]) >> text=Your progress has been saved")
    att = harness.attempts[attempt]
    assert att.nav_calls[-1]["request"] == "suspendAll"
    assert att.sco("playing_playing_item").asset_completed
    assert page.get_attribute("#cbsi-content", "src") == "about:blank"


def test_exit_goes_to_the_return_url(context, harness):
    pkg = harness.package("scorm12/RuntimeBasicCalls_SCORM12.zip")
    path, attempt = harness.launch(
        version="1.2", title="Golf", items=harness.manifest_items(pkg), nav=False, return_url="/return"
    )
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    page.goto(path)
    wait_until(lambda: page.evaluate("cbsiRuntime.runtime && cbsiRuntime.runtime.status") == "running", what="init")
    page.click("#cbsi-exit")
    page.wait_for_url("**/return")
    rec = harness.attempts[attempt].sco("item_1")
    assert rec.terminated == 1
    assert rec.values["cmi.core.exit"] == "suspend"  # the SCO's unload handler ran before the commit


def test_player_inside_an_lms_iframe_offers_a_new_window(context, harness):
    path, _ = harness.launch(version="1.2", title="CP", items=cp_items(harness))
    page = context.new_page()
    page.set_content(f'<iframe id="lms" src="{harness.base_url}{path}" style="width:900px;height:600px"></iframe>')
    player = wait_until(
        lambda: next((f for f in page.frames if "/player/" in f.url), None), what="player frame", page=page
    )
    player.wait_for_selector("#cbsi-toc a[aria-current=page]")
    link = player.locator("#cbsi-new-window")
    assert link.is_visible()
    with page.context.expect_page() as popup_info:
        link.click()
    popup = popup_info.value
    popup.wait_for_selector("#cbsi-toc a[aria-current=page]")
    assert not popup.is_visible("#cbsi-new-window")  # top level: no link
    player.wait_for_selector("text=The course is open in a new window")
