"""The package import report on the console in the reader's language; English in the CLI.

A refused package's problems and warnings carry a stable ``code`` plus a sentence ``key`` and
``params`` (``scorm.messages``); the upload answer (JSON for the page's report) says them in the
language the operator chose, keeps ``code``, ``file``, ``element`` and ``rule``, and shows none of
the catalogue's English sentences. The CLI prints the same refusal in English.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from lti_tool.services import Services
from scorm import messages as scorm_messages
from tests.test_cli import config_file, run  # noqa: F401 - config_file is a fixture
from tests.web.test_console_languages import log_in
from tests.web.test_translations import TRANSLATIONS

NS2004 = (
    'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
    'xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)


def _manifest(resources: str, root_attrs: str = "") -> bytes:
    return f"""<?xml version="1.0"?>
<manifest identifier="m" {NS2004} {root_attrs}>
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="o1">
    <organization identifier="o1"><title>Org</title>
      <item identifier="i1" identifierref="r1"><title>One</title></item>
      <item identifier="i2" identifierref="r2"><title>Two</title></item>
    </organization>
  </organizations>
  <resources>{resources}</resources>
</manifest>""".encode()


REMOTE_SCHEMA = 'xsi:schemaLocation="http://www.imsglobal.org/xsd/imscp_v1p1 https://schemas.example.org/imscp.xsd"'
TWO_MISSING = (
    '<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="missing.html"/>'
    '<resource identifier="r2" type="webcontent" adlcp:scormType="sco" href="Page.html"/>'
)
PRESENT = (
    '<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html"/>'
    '<resource identifier="r2" type="webcontent" adlcp:scormType="sco" href="a.html"/>'
)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


REFUSED = _zip({"imsmanifest.xml": _manifest(TWO_MISSING, REMOTE_SCHEMA), "page.html": b"<html></html>"})
"""Refused twice (two missing files, one differing only in case) with a warning (remote schema)."""
WARNED = _zip({"imsmanifest.xml": _manifest(PRESENT, REMOTE_SCHEMA), "a.html": b"<html></html>"})
"""Imports, with a warning (remote schema)."""


def _translations(lang: str) -> dict[str, str]:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if isinstance(m.id, str) and m.id}


def _english_catalogue() -> set[str]:
    """The package catalogue's English sentences without placeholders (a leak if found as such)."""
    return {s for s in scorm_messages.MESSAGES.values() if "%(" not in s and len(s) > 14}


def _upload(client: FlaskClient, data: bytes, name: str) -> tuple[int, dict[str, Any]]:
    page = client.get("/admin/packages").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/admin/packages/upload",
        data={"package": (io.BytesIO(data), name)},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
        content_type="multipart/form-data",
    )
    return answer.status_code, answer.get_json()


def _said(found: dict[str, Any], lang: str) -> str:
    """What ``found`` (a problem or warning with its key and params) must read in ``lang``."""
    sentence = _translations(lang)[scorm_messages.MESSAGES[found["key"]]]
    return sentence % found["params"] if found["params"] else sentence


@pytest.mark.parametrize("lang", ["es", "fr", "nl"])
def test_a_refused_package_is_reported_in_the_operators_language(
    client: FlaskClient, services: Services, lang: str
) -> None:
    log_in(client, services)
    client.get(f"/admin/packages?lang={lang}")  # the reader's choice, remembered by cookie
    status, body = _upload(client, REFUSED, "refused.zip")

    assert status == 400
    assert body["error"] == "missing_file" and body["code"] == "missing_file"
    assert [p["code"] for p in body["problems"]] == ["missing_file", "missing_file"]
    assert [w["code"] for w in body["warnings"]] == ["schema_location_remote"]
    assert body["problems"][0]["file"] == "imsmanifest.xml" and body["problems"][0]["rule"]
    english = [
        scorm_messages.english("missing_file_referenced", {"path": "missing.html"}),
        scorm_messages.english("missing_file_case_differs", {"path": "Page.html", "near": "page.html"}),
    ]
    texts = [body["message"], *(p["message"] for p in body["problems"]), *(w["message"] for w in body["warnings"])]
    # every sentence is the catalogue's translation, filled with the refusal's values
    assert body["problems"][0]["message"] == _said(
        {"key": "missing_file_referenced", "params": {"path": "missing.html"}}, lang
    )
    assert body["problems"][1]["message"] == _said(
        {"key": "missing_file_case_differs", "params": {"path": "Page.html", "near": "page.html"}}, lang
    )
    assert body["warnings"][0]["message"] == _said(body["warnings"][0], lang)
    assert body["message"] == body["problems"][0]["message"]
    shown = json.dumps(body, ensure_ascii=False)
    assert not any(sentence in shown for sentence in english)
    assert not [s for s in _english_catalogue() if s in shown]
    assert all(text.strip() for text in texts)


@pytest.mark.parametrize("lang", ["es", "fr", "nl"])
def test_the_warnings_of_an_imported_package_are_in_the_operators_language(
    client: FlaskClient, services: Services, lang: str
) -> None:
    log_in(client, services)
    client.get(f"/admin/packages?lang={lang}")
    status, body = _upload(client, WARNED, "warned.zip")
    assert status == 200 and body["result"] == "imported", body
    (warning,) = body["warnings"]
    assert warning["code"] == "schema_location_remote" and warning["key"] == "names_schema_outside_package_was"
    assert warning["message"] == _said(warning, lang)
    assert warning["message"] != scorm_messages.english(warning["key"], warning["params"])


def test_in_english_the_report_is_the_english_catalogue(client: FlaskClient, services: Services) -> None:
    log_in(client, services)
    client.get("/admin/packages?lang=en")
    status, body = _upload(client, REFUSED, "refused.zip")
    assert status == 400
    assert body["problems"][0]["message"] == scorm_messages.english("missing_file_referenced", {"path": "missing.html"})


def test_the_cli_prints_a_refusal_in_english(config_file: Path, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    package = tmp_path / "refused.zip"
    package.write_bytes(REFUSED)
    assert run(config_file, "db", "upgrade")[0] == 0
    code, out = run(config_file, "packages", "import", str(package))
    assert code != 0
    assert scorm_messages.english("missing_file_referenced", {"path": "missing.html"}) in out
    assert scorm_messages.english("missing_file_case_differs", {"path": "Page.html", "near": "page.html"}) in out
    assert (
        scorm_messages.english(
            "names_schema_outside_package_was",
            {"file": "imsmanifest.xml", "location": ("https://schemas.example.org/imscp.xsd")},
        )
        in out
    )


@pytest.mark.parametrize("lang", ["es", "fr", "nl"])
def test_an_upload_without_a_file_is_refused_in_the_operators_language(
    client: FlaskClient, services: Services, lang: str
) -> None:
    log_in(client, services)
    page = client.get(f"/admin/packages?lang={lang}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/admin/packages/upload", headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert answer.status_code == 400 and answer.get_json()["error"] == "no_file"
    assert answer.get_json()["message"] == _translations(lang)["choose a package file to upload"]
