"""Browser test harness for the SCORM player: a throwaway Flask app and Playwright on Debian's chromium.

The harness app (127.0.0.1, random port, a werkzeug server in a thread) plays the part of the
future server side:

* ``/content/<pkg>/<path>`` serves a REAL package from ``../shared/fixtures/packages`` extracted
  with ``zipfile`` into a temp dir;
* ``/player/<launch>`` renders ``templates/player/player.html`` with a config built by the test;
* ``/runtime/<attempt>/<sco>/commit`` is a fake commit endpoint: bearer token (header, or the
  ``token`` body field for beacons), ``seq`` strictly increasing (409 ``{expected_seq}``
  otherwise), injectable failures (503 for the next N calls), every accepted commit recorded;
* ``/nav/<attempt>`` is a fake navigation endpoint over the flat list of launchable items (it
  answers the buttons' state like the real one: ``nav`` = which requests are valid).

Element tables come from ``scorm.cmi.export_tables``, the server's data model.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import threading
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, abort, jsonify, render_template, request
from werkzeug.security import safe_join
from werkzeug.serving import make_server

from lti_tool.web import i18n

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-" + "t" * 20

# Elements the LMS never hands back at launch (write-only, or per-session).
WRITE_ONLY_OR_SESSION = {
    "1.2": ("cmi.core.exit", "cmi.core.session_time"),
    "2004": ("cmi.exit", "cmi.session_time", "adl.nav.request"),
}


def fixtures_path() -> Path:
    """The real package fixtures (fail loudly when missing, never skip)."""
    default = Path(__file__).resolve().parents[2].parent / "shared/fixtures/packages"
    path = Path(os.environ.get("CBSI_FIXTURES_DIR", default))
    if not path.is_dir():
        pytest.fail(f"real package fixtures missing at {path}: browser tests need them", pytrace=False)
    return path


def load_tables() -> dict[str, Any]:
    """Tables for both versions, exported by the server's data model (the authority)."""
    from scorm.cmi import export_tables

    return {"1.2": export_tables("1.2"), "2004": export_tables("2004")}


@dataclass
class ScoRecord:
    """What the fake server knows of one SCO (or asset) of one attempt."""

    seq: int = 0
    values: dict[str, str] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    last_commit_id: str | None = None
    last_exit: str = ""
    terminated_sessions: set[str] = field(default_factory=set)
    applied_ids: set[str] = field(default_factory=set)
    asset_completed: bool = False

    @property
    def terminated(self) -> int:
        """Sessions finished (each session id counts once, as the real server must do)."""
        return len(self.terminated_sessions)


@dataclass
class Attempt:
    """One attempt: its version, items (for navigation) and per-SCO records."""

    version: str
    items: list[dict[str, Any]] = field(default_factory=list)
    scos: dict[str, ScoRecord] = field(default_factory=dict)
    nav_calls: list[dict[str, Any]] = field(default_factory=list)

    def sco(self, sco_id: str) -> ScoRecord:
        return self.scos.setdefault(sco_id, ScoRecord())


class Harness:
    """The fake server's state plus helpers that build player configs."""

    def __init__(self, content_root: Path, tables: dict[str, Any]) -> None:
        self.content_root = content_root
        self.tables = tables
        self.packages: dict[str, Path] = {}
        self.attempts: dict[str, Attempt] = {}
        self.launches: dict[str, dict[str, Any]] = {}
        self.fail_next = 0
        self.fail_status = 503
        self.lock = threading.Lock()
        self.base_url = ""
        self.events: list[tuple[str, str, str]] = []  # (kind, attempt, detail) in arrival order

    # -- packages -------------------------------------------------------------------------
    def package(self, relpath: str) -> str:
        """Extract a real package (once) and return its name under /content/."""
        name = Path(relpath).stem
        if name not in self.packages:
            src = fixtures_path() / relpath
            if not src.is_file():
                pytest.fail(f"fixture package {src} is missing", pytrace=False)
            dest = self.content_root / name
            with zipfile.ZipFile(src) as zf:
                zf.extractall(dest)
            self.packages[name] = dest
        return name

    def manifest_items(self, pkg: str) -> list[dict[str, Any]]:
        """Items of the default organisation, depth-first, with launch URLs (for the TOC)."""
        root = ET.parse(self.packages[pkg] / "imsmanifest.xml").getroot()

        def local(tag: str) -> str:
            return tag.rsplit("}", 1)[-1]

        resources = {}
        for el in root.iter():
            if local(el.tag) == "resource":
                kind = next((v for k, v in el.attrib.items() if local(k).lower() == "scormtype"), "asset")
                resources[el.get("identifier")] = (el.get("href"), kind.lower())
        org = next(el for el in root.iter() if local(el.tag) == "organization")
        items: list[dict[str, Any]] = []

        def walk(node: ET.Element, depth: int) -> None:
            for child in node:
                if local(child.tag) != "item":
                    continue
                title = next((c.text or "" for c in child if local(c.tag) == "title"), "")
                ref = child.get("identifierref")
                if ref:
                    href, kind = resources[ref]
                    url = f"/content/{pkg}/{href}{child.get('parameters') or ''}"
                else:
                    url, kind = None, "cluster"
                items.append(
                    {
                        "id": child.get("identifier"),
                        "title": title.strip(),
                        "url": url,
                        "kind": kind,
                        "depth": depth,
                        "visible": True,
                        "disabled": False,
                        "completed": False,
                    }
                )
                walk(child, depth + 1)

        walk(org, 0)
        return items

    # -- configs --------------------------------------------------------------------------
    def runtime_config(self, attempt_id: str, sco_id: str, *, extra_state: dict[str, str] | None = None) -> dict:
        """Runtime config as the server would embed it (state from the last commits)."""
        att = self.attempts[attempt_id]
        rec = att.sco(sco_id)
        state = {k: v for k, v in rec.values.items() if k not in WRITE_ONLY_OR_SESSION[att.version]}
        entry_key = "cmi.core.entry" if att.version == "1.2" else "cmi.entry"
        if rec.commits:
            state[entry_key] = "resume" if rec.last_exit == "suspend" else ""
        state.update(extra_state or {})
        return {
            "version": att.version,
            "attemptId": attempt_id,
            "scoId": sco_id,
            "commitUrl": f"/runtime/{attempt_id}/{sco_id}/commit",
            "token": TOKEN,
            "seq": rec.seq,
            "lastCommitId": rec.last_commit_id,
            "state": state,
            "retry": {"minMs": 200, "maxMs": 1000},
        }

    def launch(
        self,
        *,
        version: str,
        title: str,
        items: list[dict[str, Any]],
        attempt_id: str | None = None,
        nav: bool = True,
        extra_state: dict[str, str] | None = None,
        return_url: str | None = None,
        new_window: bool = True,
    ) -> tuple[str, str]:
        """Create (or relaunch) an attempt; returns (player URL path, attempt id)."""
        attempt_id = attempt_id or uuid.uuid4().hex[:12]
        with self.lock:
            att = self.attempts.setdefault(attempt_id, Attempt(version=version, items=items))
        first = next(i for i in items if i.get("url") and i.get("visible", True) and not i.get("disabled"))
        launch_id = uuid.uuid4().hex
        config = {
            "title": title,
            "version": version,
            "attemptId": attempt_id,
            "token": TOKEN,
            "navUrl": f"/nav/{attempt_id}" if nav else None,
            "returnUrl": return_url,
            "newWindowUrl": f"/player/{launch_id}" if new_window else None,
            "autoContinue": False,
            "tables": self.tables[version],
            "items": items,
            "current": first["id"],
            "runtime": self.item_runtime(att, first, extra_state=extra_state),
            "nav": flat_nav(items, first["id"]) if nav else None,
        }
        self.launches[launch_id] = config
        return f"/player/{launch_id}", attempt_id

    def item_runtime(self, att: Attempt, item: dict[str, Any], *, extra_state: dict[str, str] | None = None) -> dict:
        attempt_id = next(k for k, v in self.attempts.items() if v is att)
        cfg = self.runtime_config(attempt_id, item["id"], extra_state=extra_state)
        if item["kind"] != "sco":
            cfg.pop("state")
        return cfg


def flat_nav(items: list[dict[str, Any]], current: str) -> dict[str, bool]:
    """The fake sequencer's answer for a flat list: previous/continue valid by position."""
    ids = [i["id"] for i in items if i.get("url") and i.get("visible", True) and not i.get("disabled")]
    pos = ids.index(current) if current in ids else -1
    return {"previous": pos > 0, "continue": 0 <= pos < len(ids) - 1}


def create_harness_app(harness: Harness) -> Flask:
    """The throwaway Flask app that serves packages, the player page and fake endpoints."""
    app = Flask(
        "cbsi_player_harness",
        template_folder=str(REPO / "lti_tool/web/templates"),
        static_folder=str(REPO / "lti_tool/web/static"),
    )
    i18n.init_app(app)  # the player page embeds its words (player.js reads them)

    @app.get("/content/<pkg>/<path:path>")
    def content(pkg: str, path: str) -> Any:
        root = harness.packages.get(pkg)
        if root is None:
            abort(404)
        file = safe_join(str(root), path)
        if file is None or not Path(file).is_file():
            abort(404)
        # Read whole (small files): a streamed file left open by an aborted request would
        # surface as a ResourceWarning in an unrelated test.
        mime = mimetypes.guess_type(file)[0] or "application/octet-stream"
        resp = Response(Path(file).read_bytes(), mimetype=mime)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    @app.get("/player/<launch_id>")
    def player(launch_id: str) -> Any:
        config = harness.launches.get(launch_id)
        if config is None:
            abort(404)
        return render_template("player/player.html", player_config=config, player_static=None)

    @app.get("/blank.html")
    def blank() -> Any:
        return "<!doctype html><title>blank</title><p>blank content</p>"

    @app.get("/return")
    def returned() -> Any:
        return "<!doctype html><title>returned</title><p>back in the course</p>"

    @app.post("/runtime/<attempt_id>/<sco_id>/commit")
    def commit(attempt_id: str, sco_id: str) -> Any:
        body = json.loads(request.get_data(as_text=True) or "null")
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else (body or {}).get("token")
        if token != TOKEN:
            return jsonify(error="invalid_token"), 401
        with harness.lock:
            if harness.fail_next > 0:
                harness.fail_next -= 1
                return jsonify(error="unavailable"), harness.fail_status
            att = harness.attempts.get(attempt_id)
            if att is None:
                return jsonify(error="unknown_attempt"), 404
            rec = att.sco(sco_id)
            if not isinstance(body, dict) or not isinstance(body.get("seq"), int):
                return jsonify(error="bad_request"), 400
            if body.get("id") in rec.applied_ids:
                return jsonify(seq=rec.seq, duplicate=True)
            if body["seq"] <= rec.seq:
                rec.refused.append(body)
                return jsonify(error="stale_seq", expected_seq=rec.seq + 1), 409
            rec.seq = body["seq"]
            rec.last_commit_id = body.get("id")
            rec.applied_ids.add(body.get("id"))
            changes = body.get("changes") or {}
            rec.values.update(changes)
            exit_key = "cmi.core.exit" if att.version == "1.2" else "cmi.exit"
            if exit_key in changes:
                rec.last_exit = changes[exit_key]
            if body.get("terminate"):
                rec.terminated_sessions.add(body.get("session") or "")
            if body.get("asset_completed"):
                rec.asset_completed = True
                for it in att.items:
                    if it["id"] == sco_id:
                        it["completed"] = True
            rec.commits.append({**body, "via_beacon": "token" in body, "content_type": request.content_type or ""})
            harness.events.append(("commit", attempt_id, f"{sco_id} terminate={bool(body.get('terminate'))}"))
            return jsonify(seq=rec.seq)

    @app.post("/nav/<attempt_id>")
    def nav(attempt_id: str) -> Any:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return jsonify(error="invalid_token", message="Session expired."), 401
        att = harness.attempts.get(attempt_id)
        if att is None:
            abort(404)
        body = request.get_json(force=True)
        att.nav_calls.append(body)
        harness.events.append(("nav", attempt_id, f"{body.get('request')} from={body.get('from')}"))
        launchable = [i for i in att.items if i.get("url") and i.get("visible", True) and not i.get("disabled")]
        ids = [i["id"] for i in launchable]
        req, target, current = body.get("request"), body.get("target"), body.get("from")
        at = ids.index(current) if current in ids else -1
        item = None
        if req == "continue":
            item = launchable[at + 1] if at + 1 < len(launchable) else None
        elif req == "previous":
            item = launchable[at - 1] if at > 0 else None
        elif req in ("choice", "jump"):
            item = next((i for i in launchable if i["id"] == target), None)
        elif req in ("exitAll", "suspendAll", "abandonAll"):
            return jsonify(item=None, end=True, message="Your progress has been saved", items=att.items)
        if item is None:
            return jsonify(item=None, message="End of the course", items=att.items)
        return jsonify(
            item=item,
            runtime=harness.item_runtime(att, item),
            items=att.items,
            nav=flat_nav(att.items, item["id"]),
        )

    return app


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """The running harness server (one per session)."""
    fixtures_path()
    root = tmp_path_factory.mktemp("content")
    h = Harness(root, load_tables())
    server = make_server("127.0.0.1", 0, create_harness_app(h), threaded=True)
    h.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield h
    server.shutdown()
    thread.join(timeout=5)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def browser(chromium: Any) -> Any:
    """The shared headless chromium (``tests/conftest.py``)."""
    return chromium


@pytest.fixture
def context(browser: Any, harness: Harness) -> Iterator[Any]:
    """A fresh browser context (own localStorage) with the harness as base URL."""
    ctx = browser.new_context(base_url=harness.base_url, viewport={"width": 1280, "height": 800})
    yield ctx
    ctx.close()
