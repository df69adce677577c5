"""Shared fixtures for tests/scorm (packaging helpers are prefixed ``pkg_``)."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest


def _fixtures_dir() -> Path:
    override = os.environ.get("CBSI_FIXTURES_DIR")
    base = (
        Path(override)
        if override
        else Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "packages"
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


Entry = tuple[str | zipfile.ZipInfo, bytes]


def build_zip(entries: Iterable[Entry], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Build a zip in memory from ``(name or ZipInfo, data)`` pairs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in entries:
            if isinstance(name, zipfile.ZipInfo):
                if name.compress_type == zipfile.ZIP_STORED and compression != zipfile.ZIP_STORED:
                    name.compress_type = compression
                zf.writestr(name, data)
            else:
                zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def pkg_build_zip() -> Callable[..., bytes]:
    """The ``build_zip`` helper as a fixture."""
    return build_zip


SCORM12_MANIFEST = """<?xml version="1.0"?>
<manifest identifier="m1" version="1"
    xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="o1">
    <organization identifier="o1"><title>Tiny course</title>
      <item identifier="i1" identifierref="r1"><title>Lesson</title></item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="r1" type="webcontent" adlcp:scormtype="sco" href="index.html">
      <file href="index.html"/>
    </resource>
  </resources>
</manifest>
"""


@pytest.fixture
def pkg_scorm12_manifest() -> str:
    """A minimal valid SCORM 1.2 manifest launching ``index.html``."""
    return SCORM12_MANIFEST
