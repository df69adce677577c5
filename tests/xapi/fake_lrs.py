"""A tiny academy LRS on loopback for the forwarding tests: records every request, answers as told.

``FakeLrs.mode`` picks the answer of the next requests:

* ``ok`` — 200 with the ids; the statements are kept by id (a resend is stored once, like an LRS);
* ``503`` / ``401`` / ``404`` / ``403`` — that status for every request;
* ``fail_then_ok`` — ``fail_count`` answers 503 (with ``Retry-After: 1``), then ``ok``;
* ``slow`` — sends the status line and then one byte every 0.5 s (a trickle beyond any deadline);
* ``huge`` — a 200 whose body is 20 MB;
* ``refuse`` — ``ok``, except that a batch holding an id in ``refused`` gets 400 (or ``refuse_status``)
  with a message naming it (as an LRS refuses a whole batch);
* ``exists`` — ``ok``, except that a batch holding an id in ``refused`` gets 409.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request as the LRS saw it."""

    path: str
    headers: dict[str, str]
    statements: list[dict[str, Any]]
    attachments: dict[str, bytes] = field(default_factory=dict)
    status: int = 0

    @property
    def ids(self) -> list[str]:
        return [s["id"] for s in self.statements]


class FakeLrs:
    """The server; ``url`` is its xAPI endpoint (``http://127.0.0.1:PORT/xapi``)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.fail_count = 0
        self.refused: set[str] = set()
        self.refuse_status = 400
        self.delay = 0.0
        self.requests: list[Received] = []
        self.stored: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/xapi"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- answers ------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        ctype = h.headers.get("Content-Type", "")
        attachments: dict[str, bytes] = {}
        if ctype.startswith("multipart/mixed"):
            msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            parts = list(msg.iter_parts())
            statements = json.loads(parts[0].get_payload(decode=True))
            for part in parts[1:]:
                attachments[part["X-Experience-API-Hash"]] = part.get_payload(decode=True)
        else:
            statements = json.loads(body)
        rec = Received(h.path, {k.lower(): v for k, v in h.headers.items()}, statements, attachments)
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.requests.append(rec)
            mode = self.mode
            if mode == "fail_then_ok":
                if self.fail_count > 0:
                    self.fail_count -= 1
                    mode = "503"
                else:
                    mode = "ok"
        ids = rec.ids
        if mode == "slow":
            rec.status = 200
            h.send_response(200)
            h.send_header("Content-Length", "100")
            h.end_headers()
            try:
                for _ in range(100):
                    h.wfile.write(b" ")
                    h.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return
        if mode == "huge":
            rec.status = 200
            h.send_response(200)
            h.send_header("Content-Length", str(20 * 1024 * 1024))
            h.end_headers()
            try:
                chunk = b"x" * 65536
                for _ in range(320):
                    h.wfile.write(chunk)
            except OSError:
                pass
            return
        if mode in ("503", "401", "404", "403"):
            extra = {"Retry-After": "1"} if mode == "503" else {}
            self._answer(h, rec, int(mode), {"message": f"fake LRS says {mode}"}, extra)
            return
        bad = [i for i in ids if i in self.refused]
        if mode == "refuse" and bad:
            self._answer(h, rec, self.refuse_status, {"message": f"<b>statement {bad[0]} is not acceptable</b>"})
            return
        if mode == "exists" and bad:
            self._answer(h, rec, 409, {"message": f"statement {bad[0]} exists with other content"})
            return
        with self.lock:
            for st in statements:
                self.stored.setdefault(st["id"], st)
        self._answer(h, rec, 200, ids)

    @staticmethod
    def _answer(
        h: BaseHTTPRequestHandler, rec: Received, status: int, data: Any, extra: dict[str, str] | None = None
    ) -> None:
        rec.status = status
        payload = json.dumps(data).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)

    # -- views --------------------------------------------------------------------------------
    def delivered_ids(self) -> list[str]:
        """Ids in 2xx-answered requests, in the order they arrived (resends included)."""
        return [i for r in self.requests if 200 <= r.status <= 299 for i in r.ids]
