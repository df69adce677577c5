"""Catalogue import on top of scorm.packaging: versions, no-op re-import, nothing left behind."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from lti_tool import catalogue
from lti_tool.cli import cli
from lti_tool.devlms.seed import build_demo_package
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


# -- import report, display titles (issues 12 and 13) ---------------------------------------

GOLF_12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
GOLF_2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
GOLF_TITLE = "Golf Explained - Run-time Basic Calls"


def _tolerable_zip(tmp_path: Path) -> Path:
    """A SCORM 1.2 package with a default organization that names nothing and a missing metadata file."""
    manifest = """<?xml version="1.0"?>
<manifest identifier="tolerable" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="missing"><organization identifier="o"><title>Tolerable</title>
    <item identifier="i" identifierref="r"><title>Lesson</title>
      <metadata><adlcp:location>meta/lesson.xml</adlcp:location></metadata></item></organization></organizations>
  <resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="index.html">
    <file href="index.html"/></resource></resources>
</manifest>"""
    path = tmp_path / "tolerable.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("imsmanifest.xml", manifest)
        zf.writestr("index.html", "<html></html>")
    return path


def test_import_warnings_are_reported_and_kept_with_the_version(services: Services, tmp_path: Path) -> None:
    package = _tolerable_zip(tmp_path)  # built once: a zip rebuilt 2 s later has other timestamps
    outcome = catalogue.import_package(services, package)
    assert outcome.status == "imported"
    assert sorted(w["code"] for w in outcome.warnings) == ["default_organization_missing", "metadata_file_missing"]
    again = catalogue.import_package(services, package)
    assert again.status == "unchanged" and again.warnings == outcome.warnings
    _, versions = catalogue.get_course(services, outcome.course_key)
    assert [w["code"] for w in versions[0]["warnings"]] == [w["code"] for w in outcome.warnings]
    code, out = _run(services, "packages", "show", outcome.course_key)
    assert code == 0 and "WARNING default_organization_missing" in out


def test_cli_import_prints_warnings_and_every_problem(services: Services, tmp_path: Path) -> None:
    code, out = _run(services, "packages", "import", str(_tolerable_zip(tmp_path)))
    assert code == 0
    assert "WARNING" in out and "default_organization_missing" in out and "metadata_file_missing" in out
    assert "1 imported or unchanged (1 with warnings), 0 refused" in out
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr(
            "imsmanifest.xml",
            """<manifest identifier="b" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"><metadata><schemaversion>1.2</schemaversion></metadata>
  <organizations default="o"><organization identifier="o"><title>B</title>
    <item identifier="i1" identifierref="ghost"><title>1</title></item>
    <item identifier="i2" identifierref="r"><title>2</title></item></organization></organizations>
  <resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="gone.html"/></resources>
</manifest>""",
        )
    code, out = _run(services, "packages", "import", str(broken))
    assert code == 1
    assert "REFUSED" in out and "(2 problems)" in out
    assert "invalid_manifest" in out and "missing_file" in out and "gone.html" in out
    code, out = _run(services, "packages", "import", str(broken), "--json")
    problems = json.loads(out)["results"][0]["error"]["problems"]
    assert [p["code"] for p in problems] == ["invalid_manifest", "missing_file"]


def test_same_title_in_two_standards_gets_distinguishable_link_titles(services: Services, fixtures_dir: Path) -> None:
    one = catalogue.import_package(services, fixtures_dir / GOLF_12)
    two = catalogue.import_package(services, fixtures_dir / GOLF_2004)
    other = catalogue.import_package(services, fixtures_dir / "xapi/GolfExample_TCAPI.zip")
    rows = {r.course_id: r for r in catalogue.search(services)}
    assert rows[one.course_id].link_title == f"{GOLF_TITLE} (SCORM 1.2)"
    assert rows[two.course_id].link_title == f"{GOLF_TITLE} (SCORM 2004 3rd edition)"
    assert rows[other.course_id].link_title == rows[other.course_id].title  # no clash, no suffix
    # the package titles stay as the packages give them
    assert rows[one.course_id].title == rows[two.course_id].title == GOLF_TITLE
    code, out = _run(services, "packages", "list", "--json")
    assert code == 0
    shown = {row["course_id"]: row["link_title"] for row in json.loads(out)}
    assert shown[two.course_id] == f"{GOLF_TITLE} (SCORM 2004 3rd edition)"


def _titled_zip(tmp_path: Path, ident: str, title: str) -> Path:
    path = tmp_path / f"{ident}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "imsmanifest.xml",
            f"""<manifest identifier="{ident}" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"><metadata><schemaversion>1.2</schemaversion></metadata>
  <organizations default="o"><organization identifier="o"><title>{title}</title>
    <item identifier="i" identifierref="r"><title>{title}</title></item></organization></organizations>
  <resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="index.html"/></resources>
</manifest>""",
        )
        zf.writestr("index.html", "<html></html>")
    return path


def test_same_title_and_standard_falls_back_to_the_course_id(services: Services, tmp_path: Path) -> None:
    a = catalogue.import_package(services, _titled_zip(tmp_path, "a", "Fire safety"))
    b = catalogue.import_package(services, _titled_zip(tmp_path, "b", "fire  SAFETY"))
    rows = {r.course_id: r.link_title for r in catalogue.search(services)}
    assert rows[a.course_id] == f"Fire safety (SCORM 1.2) · course {a.course_id}"
    assert rows[b.course_id] == f"fire  SAFETY (SCORM 1.2) · course {b.course_id}"


def test_display_title_is_set_kept_across_versions_and_cleared(
    services: Services, fixtures_dir: Path, tmp_path: Path
) -> None:
    one = catalogue.import_package(services, fixtures_dir / GOLF_12)
    two = catalogue.import_package(services, fixtures_dir / GOLF_2004)
    summary = catalogue.set_display_title(services, str(one.course_id), "  Golf basics \n (classic) ")
    assert summary.display_title == "Golf basics (classic)" == summary.link_title
    assert summary.title == GOLF_TITLE
    rows = {r.course_id: r for r in catalogue.search(services)}
    assert rows[two.course_id].link_title == GOLF_TITLE  # nothing clashes with it any more
    assert [r.course_id for r in catalogue.search(services, "classic")] == [one.course_id]
    # a new package version refreshes the package title, not the operator's title
    changed = tmp_path / "v2.zip"
    with zipfile.ZipFile(fixtures_dir / GOLF_12) as src, zipfile.ZipFile(changed, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("notes.txt", "v2")
    catalogue.import_package(services, changed)
    assert catalogue.get_course(services, str(one.course_id))[0].link_title == "Golf basics (classic)"
    cleared = catalogue.set_display_title(services, one.course_key, "   ")
    assert cleared.display_title is None and cleared.link_title == f"{GOLF_TITLE} (SCORM 1.2)"


@pytest.mark.parametrize("title", ["x" * 513, "bad\x00title", "bell\x07"])
def test_invalid_display_titles_are_refused(services: Services, fixtures_dir: Path, title: str) -> None:
    one = catalogue.import_package(services, fixtures_dir / GOLF_12)
    with pytest.raises(catalogue.InvalidTitle):
        catalogue.set_display_title(services, str(one.course_id), title)
    assert catalogue.get_course(services, str(one.course_id))[0].display_title is None
    with pytest.raises(catalogue.CourseNotFound):
        catalogue.set_display_title(services, "4242", "Anything")


def test_cli_set_title_and_clear(services: Services, fixtures_dir: Path) -> None:
    one = catalogue.import_package(services, fixtures_dir / GOLF_12)
    code, out = _run(services, "packages", "set-title", str(one.course_id), "Golf for beginners")
    assert code == 0 and "now shown as: Golf for beginners" in out
    code, out = _run(services, "packages", "show", str(one.course_id))
    assert out.startswith("Golf for beginners") and f"package title: {GOLF_TITLE}" in out
    code, out = _run(services, "packages", "set-title", one.course_key, "--clear")
    assert code == 0 and "cleared" in out
    code, out = _run(services, "packages", "set-title", str(one.course_id))
    assert code == 2 and "--clear" in out
    code, out = _run(services, "packages", "set-title", "4242", "X")
    assert code == 2 and "no course" in out


def test_cli_list_search_without_match_says_so(services: Services, fixtures_dir: Path) -> None:
    code, out = _run(services, "packages", "list")
    assert code == 0 and "the catalogue is empty" in out
    catalogue.import_package(services, fixtures_dir / GOLF_12)
    code, out = _run(services, "packages", "list", "--search", "astrophysics")
    assert code == 0
    assert "no course matches 'astrophysics'" in out and "empty" not in out
    code, out = _run(services, "packages", "list", "--standard", "cmi5")
    assert "no course matches standard cmi5" in out


def test_admin_display_title_form(app: Flask, services: Services, fixtures_dir: Path) -> None:
    import re

    from lti_tool import operators

    one = catalogue.import_package(services, fixtures_dir / GOLF_12)
    catalogue.import_package(services, fixtures_dir / GOLF_2004)
    operators.set_operator(services, "ops", "correct horse battery")
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/admin/login", data={"username": "ops", "password": "correct horse battery", "csrf_token": token})
    page = client.get("/admin/packages").get_data(as_text=True)
    assert f"{GOLF_TITLE} (SCORM 1.2)" in page and f"package title: {GOLF_TITLE}" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    url = f"/admin/packages/{one.course_id}/title"
    assert client.post(url, data={"display_title": "Golf <b>1.2</b>"}).status_code == 403  # no CSRF token
    saved = client.post(url, data={"display_title": "Golf <b>1.2</b>", "csrf_token": token})
    assert saved.status_code == 302
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Golf &lt;b&gt;1.2&lt;/b&gt;" in page and "<b>1.2</b>" not in page
    assert catalogue.get_course(services, str(one.course_id))[0].display_title == "Golf <b>1.2</b>"
    bad = client.post(url, data={"display_title": "x" * 600, "csrf_token": token})
    assert bad.status_code == 400 and "at most 512" in bad.get_data(as_text=True)
    assert (
        client.post("/admin/packages/4242/title", data={"display_title": "x", "csrf_token": token}).status_code == 404
    )


class _CountingSha256:
    """A ``hashlib.sha256`` stand-in that records how many bytes each digest was fed."""

    fed: ClassVar[list[list[int]]] = []

    def __init__(self, data: bytes = b"") -> None:
        import hashlib as _hashlib

        self._inner = _hashlib.new("sha256")
        self._count = [0]
        _CountingSha256.fed.append(self._count)
        self.update(data)

    def update(self, data: bytes) -> None:
        self._count[0] += len(data)
        self._inner.update(data)

    def hexdigest(self) -> str:
        return self._inner.hexdigest()

    def digest(self) -> bytes:
        return self._inner.digest()


def test_an_upload_is_hashed_once(services: Services, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    source = fixtures_dir / "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
    _CountingSha256.fed = []
    monkeypatch.setattr(hashlib, "sha256", _CountingSha256)
    outcome = catalogue.import_package(services, source, imported_by="tester")
    assert outcome.status == "imported"
    whole_package = [n for (n,) in _CountingSha256.fed if n >= source.stat().st_size]
    assert whole_package == [source.stat().st_size]


def test_a_digest_of_a_changed_file_is_not_trusted(tmp_path: Path, fixtures_dir: Path) -> None:
    import shutil

    from scorm.packaging import extract_package, package_digest

    source = tmp_path / "p.zip"
    shutil.copyfile(fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip", source)
    stale = package_digest(source)
    shutil.copyfile(fixtures_dir / "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip", source)
    (tmp_path / "content").mkdir()
    package = extract_package(source, tmp_path / "content", digest=stale)
    assert package.sha256 != stale.sha256
    assert package.sha256 == package_digest(source).sha256
    assert package.content_dir is not None and package.content_dir.name == package.sha256
