"""Content serving: signed prefixes, traversal attempts, MIME types, ranges, expiry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lti_tool.content import ContentNotFound, ContentSigner, content_type, resolve_package_file
from lti_tool.services import Services
from lti_tool.storage.models import Course, CourseVersion
from lti_tool.web.content import set_access_check, signer

VIDEO = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def package(services: Services) -> tuple[int, int]:
    """Two course versions with files on disk; returns their ids."""
    root = services.settings.content_path
    ids = []
    for n, name in enumerate(("pkg-a", "pkg-b"), start=1):
        folder = root / name
        (folder / "media").mkdir(parents=True)
        (folder / "index.html").write_text(f"<html>{name}</html>")
        (folder / "app.js").write_text("var x = 1;")
        (folder / "media" / "clip.mp4").write_bytes(VIDEO)
        (folder / "media" / "captions.vtt").write_text("WEBVTT")
        with services.db.session() as s:
            course = Course(key=f"course-{n}", title=name, standard="scorm12", description="", language="en")
            version = CourseVersion(
                course=course,
                version=1,
                sha256=str(n) * 64,
                standard="scorm12",
                title=name,
                launchable_count=1,
                size_bytes=1,
                content_dir=name,
                structure={},
            )
            s.add(version)
            s.flush()
            ids.append(version.id)
    (root / "secret.txt").write_text("outside any package")
    return ids[0], ids[1]


def fetch(client: FlaskClient, path: str, **kwargs: object) -> TestResponse:
    """GET and close the response (file responses hold an open file until closed)."""
    response = client.get(path, **kwargs)
    response.get_data()
    response.close()
    return response


def url(app: Flask, version_id: int, subject: str = "attempt-1") -> str:
    with app.app_context():
        return f"/content/{signer().sign(version_id, subject)}/"


def test_serves_files_with_types_and_headers(app: Flask, client: FlaskClient, package: tuple[int, int]) -> None:
    base = url(app, package[0])
    response = fetch(client, base + "index.html")
    assert response.status_code == 200
    assert response.data == b"<html>pkg-a</html>"
    assert response.mimetype == "text/html"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in response.headers["Cache-Control"]
    assert fetch(client, base + "app.js").mimetype == "text/javascript"
    assert fetch(client, base + "media/captions.vtt").mimetype == "text/vtt"


def test_range_requests_for_video(app: Flask, client: FlaskClient, package: tuple[int, int]) -> None:
    response = fetch(client, url(app, package[0]) + "media/clip.mp4", headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.data == VIDEO[100:200]
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(VIDEO)}"
    assert response.mimetype == "video/mp4"
    tail = fetch(client, url(app, package[0]) + "media/clip.mp4", headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.data == VIDEO[-16:]


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "media/../../secret.txt",
        "%2e%2e/secret.txt",
        "%2E%2E%2Fsecret.txt",
        "..%2fsecret.txt",
        "..\\secret.txt",
        "..%5csecret.txt",
        "media%5c..%5c..%5csecret.txt",
        "./index.html",
        "media//clip.mp4",
        "C:/secret.txt",
        "nothing-here.html",
        "media",
    ],
)
def test_traversal_and_odd_paths_get_404(app: Flask, client: FlaskClient, package: tuple[int, int], path: str) -> None:
    response = fetch(client, url(app, package[0]) + path)
    assert response.status_code == 404, path
    assert b"outside any package" not in response.data


def test_symlink_inside_package_is_not_followed(
    app: Flask, client: FlaskClient, package: tuple[int, int], services: Services
) -> None:
    link = services.settings.content_path / "pkg-a" / "link.txt"
    os.symlink(services.settings.content_path / "secret.txt", link)
    assert fetch(client, url(app, package[0]) + "link.txt").status_code == 404


def test_tampered_token_is_forbidden(app: Flask, client: FlaskClient, package: tuple[int, int]) -> None:
    base = url(app, package[0])
    token = base.split("/")[2]
    version, subject, expiry, mac = token.split(".")
    forged = f"/content/{package[1]}.{subject}.{expiry}.{mac}/index.html"  # same MAC, other package
    response = fetch(client, forged)
    assert response.status_code == 403
    assert response.get_json()["error"] == "content_forbidden"
    longer = f"/content/{version}.{subject}.{int(expiry) + 9999}.{mac}/index.html"
    assert fetch(client, longer).status_code == 403
    assert fetch(client, "/content/garbage/index.html").status_code == 403


def test_expired_token_is_forbidden_with_its_own_code(
    app: Flask, client: FlaskClient, package: tuple[int, int]
) -> None:
    with app.app_context():
        old = ContentSigner(app.config["SECRET_KEY"], 60, clock=lambda: 1_000_000.0).sign(package[0], "a1")
    response = fetch(client, f"/content/{old}/index.html")
    assert response.status_code == 403
    assert response.get_json()["error"] == "content_link_expired"


def test_revoked_subject_is_forbidden(app: Flask, client: FlaskClient, package: tuple[int, int]) -> None:
    set_access_check(app, lambda grant: grant.subject != "someone-else")
    assert fetch(client, url(app, package[0], "attempt-1") + "index.html").status_code == 200
    assert fetch(client, url(app, package[0], "someone-else") + "index.html").status_code == 403


def test_token_of_deleted_version_is_forbidden(
    app: Flask, client: FlaskClient, package: tuple[int, int], services: Services
) -> None:
    base = url(app, package[0])
    with services.db.session() as s:
        s.delete(s.get(CourseVersion, package[0]))
    assert fetch(client, base + "index.html").status_code == 403


@pytest.mark.parametrize(
    ("name", "mime"), [("a.JS", "text/javascript"), ("x.woff2", "font/woff2"), ("x.bin", "application/octet-stream")]
)
def test_content_types(name: str, mime: str) -> None:
    assert content_type(name) == mime


def test_resolver_refuses_escape_even_without_router(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ok.html").write_text("ok")
    assert resolve_package_file(tmp_path / "pkg", "ok.html").name == "ok.html"
    for bad in ("../pkg/ok.html", "/etc/passwd", "a/../../x", "ok.html\x00.png", ""):
        with pytest.raises(ContentNotFound):
            resolve_package_file(tmp_path / "pkg", bad)
