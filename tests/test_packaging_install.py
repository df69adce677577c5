"""The distribution builds quietly and carries its data files (templates, player, migrations, development LMS)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_builds_without_setuptools_warnings_and_carries_package_data(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "src"
    skip = shutil.ignore_patterns(".git", ".venv", "instance", "node_modules", "build", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, source, ignore=skip)
    wheels = tmp_path / "wheels"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-v", "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "would be ignored" not in output
    assert "_Warning" not in output
    (wheel,) = wheels.glob("cbsi_connect-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "lti_tool/web/templates/base.html",
        "lti_tool/web/static/player/player.js",
        "lti_tool/storage/migrations/env.py",
        "lti_tool/storage/migrations/versions/0001_foundation.py",
        "lti_tool/devlms/course/imsmanifest.xml",
        "lti_tool/devlms/templates/devplatform/home.html",
        "lti_tool/devlms/migrations/env.py",
        "lti_tool/devlms/migrations/versions/d001_devlms_tables.py",
    ):
        assert expected in names, expected
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
