"""Layout: desktop and 360 px phone width (screenshots written to /tmp for a human look)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp")
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_multi_item_layout(browser, harness, name, viewport):
    pkg = harness.package("scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip")
    path, _ = harness.launch(
        version="1.2", title="Golf Explained - CP One File Per SCO", items=harness.manifest_items(pkg)
    )
    ctx = browser.new_context(base_url=harness.base_url, viewport=viewport)
    try:
        page = ctx.new_page()
        page.goto(path)
        page.wait_for_selector("#cbsi-toc a[aria-current=page]", state="attached")
        page.frame_locator("#cbsi-content").locator("body").wait_for()
        # Nothing sticks out sideways; header, content and footer all fit in the viewport.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        for sel in (".cbsi-bar", ".cbsi-navbar", "#cbsi-content"):
            box = page.locator(sel).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, sel
            assert box["y"] + box["height"] <= viewport["height"] + 0.5, sel
        assert page.is_visible("#cbsi-exit")
        assert page.is_visible("#cbsi-next")
        page.screenshot(path=str(SHOTS / f"cbsi-player-{name}.png"))
        toc_open = page.is_visible("#cbsi-toc")
        if name == "phone":
            assert not toc_open  # collapsed behind the Contents button
            page.click("#cbsi-toc-toggle")
            assert page.is_visible("#cbsi-toc")
            assert page.evaluate("document.activeElement.getAttribute('aria-current')") == "page"
            page.screenshot(path=str(SHOTS / f"cbsi-player-{name}-toc.png"))
            page.keyboard.press("Escape")
            assert not page.is_visible("#cbsi-toc")
        else:
            assert toc_open
    finally:
        ctx.close()


def test_single_sco_layout_has_no_toc(browser, harness):
    pkg = harness.package("scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip")
    path, _ = harness.launch(version="2004", title="Golf Explained", items=harness.manifest_items(pkg), nav=False)
    ctx = browser.new_context(base_url=harness.base_url, viewport=PHONE)
    try:
        page = ctx.new_page()
        page.on("dialog", lambda d: d.accept())
        page.goto(path)
        page.wait_for_function("cbsiRuntime.runtime && cbsiRuntime.runtime.status === 'running'")
        assert not page.is_visible("#cbsi-toc")
        assert not page.is_visible("#cbsi-toc-toggle")
        assert not page.is_visible(".cbsi-navbar")
        frame_box = page.locator("#cbsi-content").bounding_box()
        assert frame_box is not None and frame_box["width"] >= 359 and frame_box["height"] > 600
        page.screenshot(path=str(SHOTS / "cbsi-player-single-phone.png"))
    finally:
        ctx.close()
