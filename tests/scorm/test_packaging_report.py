"""The import report: tolerated defects import with warnings, every refusal is listed at once,
unsafe URLs and XInclude are refused, external references are never fetched."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from scorm.packaging import PackageError, ScormManifest, extract_package, inspect_package
from scorm.packaging.errors import WARNING_CODES

NS2004 = (
    'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
    'xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" '
    'xmlns:imsss="http://www.imsglobal.org/xsd/imsss" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
PAGE = b"<html><body>lesson</body></html>"


def manifest(
    *,
    items: str = '<item identifier="i1" identifierref="r1"><title>One</title></item>',
    resources: str = '<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html"/>',
    default: str = "o1",
    root_attrs: str = "",
    metadata: str = "",
    body_extra: str = "",
) -> bytes:
    return f"""<?xml version="1.0"?>
<manifest identifier="m" {NS2004} {root_attrs}>
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion>{metadata}</metadata>
  <organizations default="{default}">
    <organization identifier="o1"><title>Org one</title>{items}</organization>
    <organization identifier="o2"><title>Org two</title>
      <item identifier="other" identifierref="r1"><title>Other</title></item>
    </organization>
  </organizations>
  <resources>{resources}</resources>{body_extra}
</manifest>""".encode()


def zip_of(tmp_path: Path, entries: dict[str, bytes], name: str = "p.zip") -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    root.mkdir()
    (root / "earlier").mkdir()
    (root / "earlier" / "index.html").write_bytes(PAGE)
    return root


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- tolerated defects (issue 13 item 8) ------------------------------------------------------


PARENT_WITH_RESOURCE = (
    '<item identifier="chapter" identifierref="r0"><title>Chapter</title>'
    '<item identifier="i1" identifierref="r1"><title>One</title></item></item>'
)
TWO_RESOURCES = (
    '<resource identifier="r0" type="webcontent" adlcp:scormType="sco" href="intro.html"/>'
    '<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html"/>'
)


def test_item_with_children_and_a_resource_imports_with_a_warning(tmp_path, content):
    source = zip_of(
        tmp_path,
        {
            "imsmanifest.xml": manifest(items=PARENT_WITH_RESOURCE, resources=TWO_RESOURCES),
            "a.html": PAGE,
            "intro.html": PAGE,
        },
    )
    package = extract_package(source, content)
    (warning,) = package.warnings
    assert warning.code == "parent_item_resource_ignored"
    assert warning.element == "item[@identifier='chapter']/@identifierref"
    assert "no other item launches it" in warning.message and '"r0"' in warning.message
    # the chapter is a cluster (not launchable); its child plays
    assert [item.identifier for item in package.launchables] == ["i1"]
    assert isinstance(package.structure, ScormManifest)
    chapter = package.structure.item("chapter")
    assert chapter is not None and chapter.launch_url is None and chapter.identifierref is None
    assert (package.content_dir / "a.html").is_file()
    assert package.summary()["warnings"][0]["code"] == "parent_item_resource_ignored"


def test_missing_external_metadata_file_imports_with_a_warning(tmp_path, content):
    item = (
        '<item identifier="i1" identifierref="r1"><title>One</title>'
        "<metadata><adlcp:location>meta/i1.xml</adlcp:location></metadata></item>"
    )
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(items=item), "a.html": PAGE})
    package = extract_package(source, content)
    (warning,) = package.warnings
    assert warning.code == "metadata_file_missing"
    assert "meta/i1.xml" in warning.message
    assert warning.element == "item[@identifier='i1']/metadata/adlcp:location"
    assert [item.identifier for item in package.launchables] == ["i1"]


def test_present_metadata_file_gives_no_warning(tmp_path, content):
    item = (
        '<item identifier="i1" identifierref="r1"><title>One</title>'
        "<metadata><adlcp:location>meta/i1.xml</adlcp:location></metadata></item>"
    )
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(items=item), "a.html": PAGE, "meta/i1.xml": b"<lom/>"})
    assert extract_package(source, content).warnings == ()


def test_default_organization_naming_nothing_falls_back_to_the_first_with_a_warning(tmp_path, content):
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(default="no-such-org"), "a.html": PAGE})
    package = extract_package(source, content)
    (warning,) = package.warnings
    assert warning.code == "default_organization_missing"
    assert '"no-such-org"' in warning.message and '"o1"' in warning.message
    assert package.title == "Org one"
    assert [item.identifier for item in package.launchables] == ["i1"]


def test_all_tolerated_defects_are_reported_together(tmp_path, content):
    items = PARENT_WITH_RESOURCE.replace(
        "<title>One</title>", "<title>One</title><metadata><adlcp:location>m.xml</adlcp:location></metadata>"
    )
    source = zip_of(
        tmp_path,
        {
            "imsmanifest.xml": manifest(items=items, resources=TWO_RESOURCES, default="ghost"),
            "a.html": PAGE,
            "intro.html": PAGE,
        },
    )
    codes = sorted(w.code for w in inspect_package(source).warnings)
    assert codes == ["default_organization_missing", "metadata_file_missing", "parent_item_resource_ignored"]
    assert set(codes) <= set(WARNING_CODES)


# --- every refusal at once --------------------------------------------------------------------


def test_every_problem_of_a_package_is_reported_in_one_refusal(tmp_path, content):
    items = (
        '<item identifier="i1" identifierref="r1" isvisible="maybe"><title>One</title></item>'
        '<item identifier="i2" identifierref="ghost"><title>Two</title></item>'
        '<item identifier="i3" identifierref="r3"><title>Three</title></item>'
        '<item identifier="i4" identifierref="r4"><title>Four</title>'
        "<adlcp:timeLimitAction>explode</adlcp:timeLimitAction></item>"
    )
    resources = (
        '<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html"/>'
        '<resource identifier="r3" type="webcontent" adlcp:scormType="lesson" href="c.html"/>'
        '<resource identifier="r4" type="webcontent" adlcp:scormType="sco" href="missing.html"/>'
    )
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(items=items, resources=resources), "a.html": PAGE})
    before = listing(content)
    with pytest.raises(PackageError) as info:
        extract_package(source, content)
    error = info.value
    found = {(p.code, p.element) for p in error.problems}
    assert found == {
        ("invalid_manifest", "item[@identifier='i1']/@isvisible"),
        ("invalid_manifest", "item[@identifier='i2']/@identifierref"),
        ("invalid_manifest", "resource[@identifier='r3']/@adlcp:scormType"),
        ("invalid_manifest", "item[@identifier='i4']/adlcp:timeLimitAction"),
        ("missing_file", "resource[@identifier='r4']/@href"),
    }
    assert error.problems[0] is error  # the first problem is the raised error (its code)
    report = error.as_dict()
    assert len(report["problems"]) == 5
    assert all(p["message"] for p in report["problems"])
    assert listing(content) == before


def test_refusal_also_carries_the_warnings_found(tmp_path):
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(default="ghost")})  # a.html missing
    with pytest.raises(PackageError) as info:
        inspect_package(source)
    assert info.value.code == "missing_file"
    assert [w.code for w in info.value.warnings] == ["default_organization_missing"]


def test_every_bad_zip_entry_is_listed(tmp_path, content):
    source = zip_of(
        tmp_path,
        {"imsmanifest.xml": manifest(), "a.html": PAGE, "../up.html": PAGE, "/abs.html": PAGE, "a\\b.html": PAGE},
    )
    with pytest.raises(PackageError) as info:
        extract_package(source, content)
    assert info.value.code == "zip_slip"
    assert sorted(p.file for p in info.value.problems) == ["../up.html", "/abs.html", "a\\b.html"]
    assert listing(content) == ["earlier", "earlier/index.html"]


def test_runtime_parse_without_a_report_still_refuses_the_first_problem():
    from scorm.packaging import DEFAULT_LIMITS, parse_manifest_bytes

    items = (
        '<item identifier="i1" identifierref="ghost"><title>One</title></item>'
        '<item identifier="i2" identifierref="r1" isvisible="x"><title>Two</title></item>'
    )
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(manifest(items=items), file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    assert info.value.element == "item[@identifier='i1']/@identifierref"
    assert len(info.value.problems) == 2


# --- package content security (issue 12 security item 9) --------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.end_headers()
        self.wfile.write(b"<x/>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    """A server on loopback that records every request made to it."""
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Any Python-level connection attempt during the test is recorded and refused."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError("network access during import")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def test_external_http_launch_href_imports_with_a_warning_and_is_never_fetched(tmp_path, content, loopback, no_network):
    remote = f"{loopback}/course/index.html"
    resources = (
        f'<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="{remote}">'
        f'<file href="{loopback}/course/style.css"/></resource>'
    )
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(resources=resources)})
    package = extract_package(source, content)
    assert package.launchables[0].launch_url == remote
    codes = {w.code: w for w in package.warnings}
    assert set(codes) == {"external_launch_url", "external_file_url"}
    assert remote in codes["external_launch_url"].message
    assert "never fetched" in codes["external_launch_url"].message
    assert _Recorder.hits == [] and no_network == []


def test_remote_schema_location_imports_with_a_warning_and_is_never_fetched(tmp_path, content, loopback, no_network):
    attrs = f'xsi:schemaLocation="http://www.imsglobal.org/xsd/imscp_v1p1 {loopback}/imscp_v1p1.xsd"'
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(root_attrs=attrs), "a.html": PAGE})
    (warning,) = extract_package(source, content).warnings
    assert warning.code == "schema_location_remote"
    assert f"{loopback}/imscp_v1p1.xsd" in warning.message
    assert _Recorder.hits == [] and no_network == []


def test_local_schema_location_is_normal_and_not_reported(tmp_path, content):
    attrs = 'xsi:schemaLocation="http://www.imsglobal.org/xsd/imscp_v1p1 imscp_v1p1.xsd"'
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(root_attrs=attrs), "a.html": PAGE})
    assert extract_package(source, content).warnings == ()


def test_xinclude_is_refused_never_processed_and_nothing_left(tmp_path, content, loopback, no_network):
    include = f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{loopback}/evil.xml"/>'
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(body_extra=include), "a.html": PAGE})
    before = listing(content)
    with pytest.raises(PackageError) as info:
        extract_package(source, content)
    assert info.value.code == "xml_xinclude"
    assert "never processed" in info.value.message
    assert listing(content) == before
    assert _Recorder.hits == [] and no_network == []


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(document.domain)",
        "JavaScript:alert(1)",
        "java&#10;script:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ],
)
def test_script_and_local_launch_urls_are_refused_and_nothing_left(href, tmp_path, content):
    resources = f'<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="{href}"/>'
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(resources=resources), "a.html": PAGE})
    before = listing(content)
    with pytest.raises(PackageError) as info:
        extract_package(source, content)
    assert info.value.code == "unsafe_url"
    assert info.value.element == "resource[@identifier='r1']/@href"
    # the items launching it are not reported a second time
    assert [p.code for p in info.value.problems] == ["unsafe_url"]
    assert listing(content) == before


def test_javascript_through_xml_base_is_refused(tmp_path):
    resources = (
        '<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html" '
        'xml:base="javascript://%0aalert(1)//"/>'
    )
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(resources=resources), "a.html": PAGE})
    with pytest.raises(PackageError) as info:
        inspect_package(source)
    assert info.value.code == "unsafe_url"


def test_xapi_launch_javascript_refused(tmp_path):
    tincan = b"""<tincan xmlns="http://projecttincan.com/tincan.xsd"><activities>
      <activity id="https://example.org/a" type="http://adlnet.gov/expapi/activities/course">
        <name>A</name><launch lang="en">javascript:alert(1)</launch></activity></activities></tincan>"""
    source = zip_of(tmp_path, {"tincan.xml": tincan})
    with pytest.raises(PackageError) as info:
        inspect_package(source)
    assert info.value.code == "unsafe_url"


# --- AICC (issue 12 Moodle item 9) -------------------------------------------------------------


def test_aicc_package_is_refused_naming_the_supported_standards(tmp_path, content):
    source = zip_of(
        tmp_path,
        {"Course.CRS": b"[Course]", "course.au": b"", "course.des": b"", "course.cst": b"", "index.html": PAGE},
    )
    with pytest.raises(PackageError) as info:
        extract_package(source, content)
    assert info.value.code == "unsupported_standard"
    message = info.value.message
    assert "AICC is not supported" in message
    for standard in ("SCORM 1.2", "SCORM 2004", "xAPI", "cmi5"):
        assert standard in message
    assert info.value.file == "course.au" or info.value.file.lower().endswith((".crs", ".au", ".des", ".cst"))
    assert listing(content) == ["earlier", "earlier/index.html"]


def test_aicc_files_next_to_a_scorm_manifest_do_not_matter(tmp_path, content):
    source = zip_of(tmp_path, {"imsmanifest.xml": manifest(), "a.html": PAGE, "course.crs": b"", "course.au": b""})
    assert extract_package(source, content).standard.value == "scorm2004"


# --- the report stays bounded on hostile input ---------------------------------------------------


def test_thousands_of_bad_entries_give_a_bounded_report_quickly(tmp_path, content):
    import time

    from scorm.packaging.errors import MAX_LISTED

    entries = {"imsmanifest.xml": manifest(), "a.html": PAGE}
    entries.update({f"../evil{n}.html": b"x" for n in range(5000)})
    source = zip_of(tmp_path, entries)
    started = time.perf_counter()
    with pytest.raises(PackageError) as info:
        extract_package(source, content)
    assert time.perf_counter() - started < 5
    assert info.value.code == "zip_slip"
    assert len(info.value.problems) == MAX_LISTED
    assert info.value.problems_omitted == 5000 - MAX_LISTED
    assert info.value.as_dict()["problems_omitted"] == 5000 - MAX_LISTED
    assert listing(content) == ["earlier", "earlier/index.html"]


def test_thousands_of_warnings_are_counted_not_listed(tmp_path, content):
    from scorm.packaging.errors import MAX_LISTED

    files = "".join(f'<file href="https://cdn.example.org/f{n}.js"/>' for n in range(5000))
    resources = f'<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html">{files}</resource>'
    package = extract_package(
        zip_of(tmp_path, {"imsmanifest.xml": manifest(resources=resources), "a.html": PAGE}), content
    )
    assert len(package.warnings) == MAX_LISTED + 1
    assert {w.code for w in package.warnings[:-1]} == {"external_file_url"}
    assert package.warnings[-1].code == "more_warnings"
    assert "4,950 more warnings" in package.warnings[-1].message
