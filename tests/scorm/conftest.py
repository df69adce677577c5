"""Shared fixtures for tests/scorm (packaging helpers are prefixed ``pkg_``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


def _fixtures_dir() -> Path:
    override = os.environ.get("CBSI_FIXTURES_DIR")
    base = (
        Path(override) if override else Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "packages"
    )
    base = base.resolve()
    if not (base / "SOURCES.md").is_file():
        pytest.fail(
            f"real test packages not found at {base} (set CBSI_FIXTURES_DIR); they are required",
            pytrace=False,
        )
    return base


@pytest.fixture(scope="session")
def pkg_fixtures() -> Path:
    """Folder of the real third-party course packages (read-only)."""
    return _fixtures_dir()


def tree_listing(root: Path) -> list[str]:
    """Every path under ``root`` (relative, sorted), with file sizes — to prove nothing changed."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for d in dirnames:
            out.append(f"{rel / d}/")
        for f in filenames:
            p = Path(dirpath) / f
            out.append(f"{rel / f}:{p.stat().st_size}")
    return sorted(out)


@pytest.fixture
def pkg_listing() -> Callable[[Path], list[str]]:
    """The ``tree_listing`` helper as a fixture."""
    return tree_listing
