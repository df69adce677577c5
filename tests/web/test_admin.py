"""Operator pages: login, CSRF, access control, package upload with clear refusals."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import factories
import pytest
from flask.testing import FlaskClient

from lti_tool import operators
from lti_tool.services import Services

PASSWORD = "correct horse battery"


@pytest.fixture
def operator(services: Services) -> str:
    operators.set_operator(services, "ops", PASSWORD)
    return "ops"


def csrf_from(client: FlaskClient, path: str = "/admin/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def login(client: FlaskClient, password: str = PASSWORD) -> tuple[int, str]:
    token = csrf_from(client)
    response = client.post("/admin/login", data={"username": "ops", "password": password, "csrf_token": token})
    return response.status_code, token


def test_password_hashing() -> None:
    hashed = operators.hash_password(PASSWORD)
    assert hashed.startswith("scrypt$") and PASSWORD not in hashed
    assert operators.verify_password(PASSWORD, hashed)
    assert not operators.verify_password(PASSWORD + "x", hashed)
    assert not operators.verify_password(PASSWORD, "md5$whatever")
    with pytest.raises(operators.OperatorError):
        operators.hash_password("short")


@pytest.mark.parametrize("path", ["/admin/", "/admin/packages"])
def test_pages_need_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_upload_needs_login(client: FlaskClient) -> None:
    response = client.post("/admin/packages/upload", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "login_required"


def test_wrong_password_is_refused(client: FlaskClient, operator: str) -> None:
    status, _ = login(client, "wrong password!")
    assert status == 401
    assert client.get("/admin/").status_code == 302


def test_login_without_csrf_is_refused(client: FlaskClient, operator: str) -> None:
    response = client.post("/admin/login", data={"username": "ops", "password": PASSWORD})
    assert response.status_code == 403


def test_login_then_dashboard(client: FlaskClient, operator: str) -> None:
    status, _ = login(client)
    assert status == 302
    page = client.get("/admin/")
    assert page.status_code == 200
    assert b"Service at a glance" in page.data


def test_dashboard_counts_platforms_by_status_and_the_catalogue(
    client: FlaskClient, operator: str, services: Services, fixtures_dir: Path, tmp_path: Path
) -> None:
    """The figures come from the tables' owners (lti.platforms, storage.courses), not from the view."""
    for n, status in enumerate(["active", "active", "pending", "disabled"]):
        factories.add_platform(services.db, issuer=f"https://lms{n}.example", status=status)
    factories.import_course(services, fixtures_dir / factories.GOLF12)
    v2 = tmp_path / "golf-v2.zip"  # the same course again, changed: its second version
    with zipfile.ZipFile(fixtures_dir / factories.GOLF12) as src, zipfile.ZipFile(v2, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("notes.txt", "v2")
    assert factories.import_course(services, v2).version == 2
    factories.import_course(services, fixtures_dir / factories.GOLF2004)
    login(client)
    text = re.sub(r"\s+", " ", client.get("/admin/").get_data(as_text=True))
    assert "2 active, 1 waiting for approval, 1 disabled." in text
    assert "2 courses in 3 versions." in text


def test_upload_real_package_then_refusals(client: FlaskClient, operator: str, fixtures_dir: Path) -> None:
    login(client)
    token = csrf_from(client, "/admin/packages")
    data = (fixtures_dir / "scorm12/RuntimeBasicCalls_SCORM12.zip").read_bytes()
    ok = client.post(
        "/admin/packages/upload",
        data={"package": (io.BytesIO(data), "golf.zip")},
        headers={"X-CSRF-Token": token},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["result"] == "imported"
    assert b"Run-time Basic Calls" in client.get("/admin/packages").data

    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("imsmanifest.xml", "<manifest/>")
        zf.writestr("../../evil.txt", "x")
    refused = client.post(
        "/admin/packages/upload",
        data={"package": (io.BytesIO(slip.getvalue()), "evil.zip")},
        headers={"X-CSRF-Token": token},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "zip_slip"

    no_csrf = client.post(
        "/admin/packages/upload", data={"package": (io.BytesIO(data), "golf.zip")}, content_type="multipart/form-data"
    )
    assert no_csrf.status_code == 403

    nothing = client.post("/admin/packages/upload", headers={"X-CSRF-Token": token})
    assert nothing.status_code == 400 and nothing.get_json()["error"] == "no_file"
