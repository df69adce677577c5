"""Catalogue import on top of scorm.packaging: versions, no-op re-import, nothing left behind."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from lti_tool import catalogue
from lti_tool.cli import cli
from lti_tool.demo import build_demo_package
from lti_tool.services import Services
from lti_tool.storage.models import Course, CourseVersion
from scorm.packaging import PackageError

REAL_ZIPS = [
    ("scorm12/RuntimeBasicCalls_SCORM12.zip", "scorm12", None, 1),
    ("scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip", "scorm12", None, 18),
    ("scorm2004/ContentPackagingSingleSCO_SCORM20042ndEdition.zip", "scorm2004", "2nd", 1),
    ("scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip", "scorm2004", "3rd", 1),
    ("scorm2004/RunTimeAdvancedCalls_SCORM20043rdEdition.zip", "scorm2004", "3rd", 1),
    ("scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip", "scorm2004", "3rd", 5),
    ("xapi/GolfExample_TCAPI.zip", "xapi", None, 1),
    ("cmi5/catapult_single_au_basic_framed.zip", "cmi5", None, 1),
    ("cmi5/catapult_multi_au_framed.zip", "cmi5", None, 8),
]


def snapshot(services: Services) -> tuple[int, int, list[str]]:
    with services.db.session() as s:
        courses = s.scalar(select(func.count()).select_from(Course)) or 0
        versions = s.scalar(select(func.count()).select_from(CourseVersion)) or 0
    root = services.settings.content_path
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
    return courses, versions, files


@pytest.mark.parametrize(("name", "standard", "edition", "launchables"), REAL_ZIPS)
def test_real_packages_import_as_courses(
    services: Services, fixtures_dir: Path, name: str, standard: str, edition: str | None, launchables: int
) -> None:
    outcome = catalogue.import_package(services, fixtures_dir / name, imported_by="tester")
    assert outcome.status == "imported"
    assert (outcome.standard, outcome.edition, outcome.launchable_count) == (standard, edition, launchables)
    assert outcome.version == 1
    summary, versions = catalogue.get_course(services, str(outcome.course_id))
    assert summary.title == outcome.title
    assert versions[0]["imported_by"] == "tester"
    assert len(versions[0]["launchables"]) == launchables
    folder = services.settings.content_path / outcome.sha256
    first = versions[0]["launchables"][0]["launch_url"]
    if not first.startswith(("http://", "https://")):
        assert (folder / first.split("?")[0].split("#")[0]).is_file()


def test_identical_bytes_are_a_no_op(services: Services, fixtures_dir: Path) -> None:
    path = fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip"
    first = catalogue.import_package(services, path)
    before = snapshot(services)
    again = catalogue.import_package(services, path)
    assert again.status == "unchanged"
    assert again.version_id == first.version_id
    assert snapshot(services) == before


def test_new_version_of_a_course_keeps_old_version(services: Services, fixtures_dir: Path, tmp_path: Path) -> None:
    path = fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip"
    first = catalogue.import_package(services, path)
    # the same course re-exported: same manifest identifier, different bytes
    changed = tmp_path / "v2.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(changed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("release-notes.txt", "version 2")
    second = catalogue.import_package(services, changed)
    assert second.status == "imported"
    assert second.course_id == first.course_id
    assert (first.version, second.version) == (1, 2)
    summary, _ = catalogue.get_course(services, first.course_key)
    assert summary.latest_version == 2 and summary.versions == 2
    assert (services.settings.content_path / first.sha256).is_dir()  # pinned attempts keep playing v1
    assert (services.settings.content_path / second.sha256 / "release-notes.txt").is_file()


def test_explicit_course_must_exist(services: Services, fixtures_dir: Path) -> None:
    before = snapshot(services)
    with pytest.raises(catalogue.CourseNotFound, match="packages list"):
        catalogue.import_package(services, fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip", course_key="999")
    assert snapshot(services) == before


def test_explicit_course_adds_a_version(services: Services, fixtures_dir: Path) -> None:
    first = catalogue.import_package(services, fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip")
    other = catalogue.import_package(
        services, fixtures_dir / "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip", course_key=str(first.course_id)
    )
    assert other.course_id == first.course_id and other.version == 2


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("cmi5/import-cases/201-3-iris-au-id.xml", "cmi5_invalid_id"),
        ("cmi5/import-cases/204-query-string-conflict-endpoint.xml", "cmi5_url_param_conflict"),
        ("cmi5/import-cases/205-3-duplicated-au.xml", "cmi5_duplicate_id"),
        ("cmi5/import-cases/209-1-not-a-zip.zip", "not_a_zip"),
    ],
)
def test_refused_packages_leave_nothing(services: Services, fixtures_dir: Path, name: str, code: str) -> None:
    catalogue.import_package(services, fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip")
    before = snapshot(services)
    with pytest.raises(PackageError) as err:
        catalogue.import_package(services, fixtures_dir / name)
    assert err.value.code == code
    assert snapshot(services) == before


def test_thousand_au_course_structure_imports(services: Services, fixtures_dir: Path) -> None:
    outcome = catalogue.import_package(services, fixtures_dir / "cmi5/import-cases/101-one-thousand-aus.xml")
    assert outcome.standard == "cmi5"
    assert outcome.launchable_count >= 1000


def test_database_failure_removes_the_extracted_folder(
    services: Services, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(services)

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("database went away")

    monkeypatch.setattr(catalogue, "course_key_for", broken)
    with pytest.raises(RuntimeError):
        catalogue.import_package(services, fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip")
    assert snapshot(services) == before


def test_search_filters(services: Services, fixtures_dir: Path) -> None:
    for name, *_ in REAL_ZIPS[:4]:
        catalogue.import_package(services, fixtures_dir / name)
    assert {r.standard for r in catalogue.search(services, standard="scorm2004")} == {"scorm2004"}
    titles = [r.title for r in catalogue.search(services, "run-time basic")]
    assert titles == ["Golf Explained - Run-time Basic Calls"] * 2
    assert catalogue.search(services, "no such course anywhere") == []


def test_demo_package_is_stable_and_valid(services: Services, tmp_path: Path) -> None:
    a = build_demo_package(tmp_path / "a.zip").read_bytes()
    b = build_demo_package(tmp_path / "b.zip").read_bytes()
    assert a == b
    outcome = catalogue.import_package(services, tmp_path / "a.zip")
    assert (outcome.standard, outcome.launchable_count) == ("scorm12", 1)
    _, versions = catalogue.get_course(services, outcome.course_key)
    assert versions[0]["launchables"][0]["launch_url"] == "index.html"


def _run(services: Services, *args: str) -> tuple[int, str]:
    from lti_tool.cli import CliContext

    ctx = CliContext(None)
    ctx._settings = services.settings
    ctx._services = services
    result = CliRunner().invoke(cli, list(args), obj=ctx, catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_import_reports_each_file_and_exits_1_on_refusal(services: Services, fixtures_dir: Path) -> None:
    ok = str(fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip")
    bad = str(fixtures_dir / "cmi5/import-cases/209-1-not-a-zip.zip")
    code, out = _run(services, "packages", "import", ok, bad, "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["failed"] == 1
    assert doc["results"][0]["status"] == "imported"
    assert doc["results"][1]["error"]["code"] == "not_a_zip"
    code, out = _run(services, "packages", "import", ok)
    assert code == 0 and "unchanged" in out
    code, out = _run(services, "packages", "list")
    assert code == 0 and "Run-time Basic Calls" in out
    code, out = _run(services, "packages", "show", "com.scorm.golfsamples.runtime.basiccalls.12")
    assert code in (0, 2)
    code, out = _run(services, "packages", "show", "424242")
    assert code == 2 and "no course" in out
