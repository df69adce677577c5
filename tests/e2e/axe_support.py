"""Accessibility checks with axe-core (the copy pinned in the PyPI package ``axe-playwright-python``)
and screenshots saved as test artefacts.

``assert_accessible`` runs axe's WCAG 2.0/2.1 A and AA rules on the page as it is and fails on any
violation axe rates serious or critical, listing each rule, its help text and the first nodes.
Screenshots go to ``$CBSI_ARTIFACTS`` (default ``test-artifacts/`` in the repository root).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

AXE_JS = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
ARTIFACTS = Path(os.environ.get("CBSI_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of the WCAG A/AA rules on ``page`` (every impact)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return list(result["violations"])


def assert_accessible(page: Any, name: str) -> None:
    """No serious or critical WCAG 2.1 AA violation on the page."""
    blocking = [v for v in axe_violations(page) if v.get("impact") in BLOCKING]
    if blocking:
        lines = [
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(", ".join(n.get("target", [])) for n in v["nodes"][:3])
            for v in blocking
        ]
        screenshot(page, f"axe-failure-{name}")
        raise AssertionError(f"accessibility violations on {name}:\n" + "\n".join(lines))


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page PNG as an artefact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
