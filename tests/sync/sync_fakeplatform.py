"""A fault-injecting fake LTI platform (token endpoint + AGS) over real HTTP on 127.0.0.1.

Behaves like Moodle's gradebook services where it matters (DESIGN.md §6):

* token endpoint: form-encoded client_credentials + JWT-bearer assertion, RS256 signature checked
  against the tool's public key, ``kid`` required, iss = sub = client_id, aud = token URL, jti
  never reused;
* line item URLs carry ``?type_id=1``; ``/scores`` and ``/results`` go before the query;
* scores: userId/timestamp/activityProgress/gradingProgress required, user must be enrolled
  (else 400 "Incorrect score received"), 409 unless the timestamp is strictly later at 1-second
  resolution than the stored grade's, non-FullyGraded posts clear the grade;
  STRICTER than Moodle: ``scoreGiven`` without ``scoreMaximum`` is a 400 (Moodle assumes 1);
* results: like Moodle 4.5, ``GET …/results?limit=N`` crashes (404 HTML "Call to a member
  function out() on null"); without ``limit`` every result comes in one page, or in pages of
  ``results_page_size`` linked with ``Link: <…>; rel="next"`` (``offset`` only) when set;
* faults: trickle an answer one byte at a time, drop connections / 503 for N requests or
  seconds, 429 with Retry-After, expire all
  tokens (→ 401), reject a user (400), latency.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_RE_PREFIX = "/mod/lti/services.php/1/lineitems"


@dataclass
class Grade:
    value: float | None
    maximum: float | None
    timemodified: int | None
    comment: str | None


@dataclass
class Faults:
    drop_requests: int = 0  # close the connection without answering
    drop_until: float = 0.0
    status_requests: int = 0  # answer `status` (e.g. 503)
    status: int = 503
    retry_after: str | None = None
    expire_tokens_once: bool = False
    latency: float = 0.0
    token_latency: float = 0.0
    token_failures: int = 0  # token endpoint answers 503 this many times
    rejected_users: set[str] = field(default_factory=set)
    trickle_requests: int = 0  # answer 200 with a 100-byte body sent one byte every trickle_interval
    trickle_interval: float = 0.1


class FakePlatform:
    """A fake platform; start() binds 127.0.0.1 on a free port."""

    def __init__(
        self,
        *,
        public_key: Any,
        client_id: str = "tool-client",
        kid: str = "tool-key-1",
        enrolled: set[str] | None = None,
        page_size: int = 2,
        expires_in: int = 3600,
    ) -> None:
        self.public_key = public_key
        self.client_id = client_id
        self.kid = kid
        self.enrolled = enrolled  # None: everyone is enrolled
        self.page_size = page_size
        self.expires_in = expires_in
        self.results_page_size: int | None = None
        self.results_queries: list[dict[str, str]] = []
        self.faults = Faults()
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.jtis: set[str] = set()
        self.token_requests = 0
        self.token_errors: list[str] = []
        self.line_items: dict[int, dict[str, Any]] = {}
        self.score_posts: list[tuple[int, dict[str, Any], int]] = []  # (item, payload, status)
        self.grades: dict[tuple[int, str], Grade] = {}
        self.requests_seen = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakePlatform:
        platform = self

        class Handler(_Handler):
            fake = platform

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_url(self) -> str:
        return f"{self.base}/mod/lti/token.php"

    @property
    def lineitems_url(self) -> str:
        return f"{self.base}{LINEITEM_RE_PREFIX}?type_id=1"

    def add_line_item(self, **fields: Any) -> str:
        with self.lock:
            item_id = len(self.line_items) + 1
            url = f"{self.base}{LINEITEM_RE_PREFIX}/{item_id}/lineitem?type_id=1"
            self.line_items[item_id] = {"id": url, "scoreMaximum": 100, **fields}
            return url

    # -- queries for tests --------------------------------------------------------------------
    def accepted(self) -> list[tuple[int, dict[str, Any]]]:
        with self.lock:
            return [(i, p) for i, p, s in self.score_posts if s == 200]

    def statuses(self) -> list[int]:
        with self.lock:
            return [s for _i, _p, s in self.score_posts]


def _ts_seconds(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


class _Handler(BaseHTTPRequestHandler):
    fake: FakePlatform
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- helpers ------------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: Any = None,
        *,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = (
            b""
            if body is None
            else (json.dumps(body) if not isinstance(body, str) else body).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _fault(self) -> bool:
        f = self.fake.faults
        with self.fake.lock:
            self.fake.requests_seen += 1
            drop = f.drop_requests > 0 or time.monotonic() < f.drop_until
            if f.drop_requests > 0:
                f.drop_requests -= 1
            status = None
            trickle = not drop and f.trickle_requests > 0
            if trickle:
                f.trickle_requests -= 1
            if not drop and not trickle and f.status_requests > 0:
                f.status_requests -= 1
                status = f.status
            latency = f.latency
        if latency:
            time.sleep(latency)
        if trickle:
            self._body()
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(f.trickle_interval)
            except OSError:
                pass  # the client gave up
            return True
        if drop:
            self._body()
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if status is not None:
            self._body()
            headers = {"Retry-After": f.retry_after} if f.retry_after else {}
            self._send(status, {"error": f"fault {status}"}, headers=headers)
            return True
        return False

    def _authorised(self) -> bool:
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.fake.lock:
            if self.fake.faults.expire_tokens_once and token in self.fake.tokens:
                self.fake.faults.expire_tokens_once = False
                self.fake.tokens.clear()
            ok = token in self.fake.tokens
        if not ok:
            self._body()
            self._send(401, {"error": "invalid_token"})
        return ok

    def _item_id(self, path: str) -> tuple[int | None, str]:
        rest = path[len(LINEITEM_RE_PREFIX) :].strip("/")
        parts = rest.split("/") if rest else []
        if len(parts) >= 2 and parts[1] == "lineitem" and parts[0].isdigit():
            return int(parts[0]), "/".join(parts[2:])
        return None, rest

    # -- routes -------------------------------------------------------------------------------
    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/mod/lti/token.php":
            self._token()
            return
        if self._fault() or not self._authorised():
            return
        if not url.path.startswith(LINEITEM_RE_PREFIX):
            self._send(404, {"error": "not found"})
            return
        item_id, sub = self._item_id(url.path)
        if item_id is None and sub == "":
            self._create_line_item()
        elif item_id is not None and sub == "scores":
            self._score(item_id)
        else:
            self._send(404, {"error": "not found"})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self._fault() or not self._authorised():
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        item_id, sub = self._item_id(url.path)
        if url.path.startswith(LINEITEM_RE_PREFIX) and item_id is None and sub == "":
            self._list(query)
        elif item_id is not None and sub == "results":
            self._results(item_id, query)
        else:
            self._send(404, {"error": "not found"})

    def _token(self) -> None:
        fake = self.fake
        if fake.faults.token_latency:
            time.sleep(fake.faults.token_latency)
        form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
        with fake.lock:
            fake.token_requests += 1
            failing = fake.faults.token_failures > 0
            if failing:
                fake.faults.token_failures -= 1
        if failing:
            self._send(503, {"error": "temporarily_unavailable"})
            return None

        def fail(reason: str, status: int = 400) -> None:
            with fake.lock:
                fake.token_errors.append(reason)
            self._send(status, {"error": "invalid_client", "error_description": reason})

        if form.get("grant_type") != "client_credentials":
            return fail("grant_type")
        if (
            form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return fail("client_assertion_type")
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("kid") != fake.kid:
                return fail("unknown kid")
            claims = jwt.decode(
                assertion,
                fake.public_key,
                algorithms=["RS256"],
                audience=fake.token_url,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            return fail(f"assertion: {exc}")
        if claims["iss"] != fake.client_id or claims["sub"] != fake.client_id:
            return fail("iss/sub must be the client_id")
        with fake.lock:
            if claims["jti"] in fake.jtis:
                return fail("jti replay")
            fake.jtis.add(claims["jti"])
            token = secrets.token_urlsafe(24)
            fake.tokens.add(token)
        self._send(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": fake.expires_in,
                "scope": form.get("scope", ""),
            },
        )

    def _list(self, query: dict[str, str]) -> None:
        fake = self.fake
        with fake.lock:
            items = [
                it
                for _id, it in sorted(fake.line_items.items())
                if (
                    "resource_link_id" not in query
                    or it.get("resourceLinkId") == query["resource_link_id"]
                )
                and ("tag" not in query or it.get("tag") == query["tag"])
                and ("resource_id" not in query or it.get("resourceId") == query["resource_id"])
            ]
        offset = int(query.get("offset", "0"))
        limit = min(int(query.get("limit", str(fake.page_size))), fake.page_size)
        page = items[offset : offset + limit]
        headers = {}
        if offset + limit < len(items):
            nxt = dict(query, offset=str(offset + limit), limit=str(limit))
            headers["Link"] = f'<{fake.base}{LINEITEM_RE_PREFIX}?{urlencode(nxt)}>; rel="next"'
        self._send(
            200,
            page,
            ctype="application/vnd.ims.lis.v2.lineitemcontainer+json",
            headers=headers,
        )

    def _create_line_item(self) -> None:
        try:
            body = json.loads(self._body() or b"{}")
        except ValueError:
            self._send(400, {"error": "bad json"})
            return
        if "label" not in body or "scoreMaximum" not in body:
            self._send(400, {"error": "label and scoreMaximum required"})
            return
        fields = {k: v for k, v in body.items() if k != "id"}
        url = self.fake.add_line_item(**fields)
        with self.fake.lock:
            created = dict(self.fake.line_items[int(url.split("/")[-2])])
        self._send(201, created, ctype="application/vnd.ims.lis.v2.lineitem+json")

    def _score(self, item_id: int) -> None:
        fake = self.fake
        raw = self._body()
        if self.headers.get("Content-Type", "").split(";")[0] != SCORE_MEDIA_TYPE:
            self._send(400, {"error": "wrong content type"})
            return
        if item_id not in fake.line_items:
            self._send(404, {"error": f"Not Found: Grade item {item_id} doesn't exist."})
            return
        try:
            score = json.loads(raw)
        except ValueError:
            score = None
        status, message = 200, ""
        with fake.lock:
            required = ("userId", "timestamp", "gradingProgress", "activityProgress")
            user = str(score.get("userId")) if isinstance(score, dict) else ""
            if (
                not isinstance(score, dict)
                or any(k not in score for k in required)
                or (fake.enrolled is not None and user not in fake.enrolled)
                or user in fake.faults.rejected_users
            ):
                status, message = 400, "Incorrect score received"
            elif "scoreGiven" in score and "scoreMaximum" not in score:
                status, message = 400, "scoreMaximum missing (Moodle would assume 1)"
            else:
                ts = _ts_seconds(score["timestamp"])
                grade = fake.grades.get((item_id, user))
                if grade and grade.timemodified is not None and grade.timemodified >= ts:
                    status = 409
                    message = (
                        f"Refusing score with an earlier timestamp for item {item_id} "
                        f"and user {user}"
                    )
                else:
                    given = score.get("scoreGiven")
                    if score["gradingProgress"] != "FullyGraded":
                        given = None
                    fake.grades[(item_id, user)] = Grade(
                        value=given,
                        maximum=score.get("scoreMaximum"),
                        timemodified=ts if "scoreGiven" in score else None,
                        comment=score.get("comment"),
                    )
            fake.score_posts.append((item_id, score if isinstance(score, dict) else {}, status))
        if status == 200:
            self._send(200, {}, ctype=SCORE_MEDIA_TYPE)
        else:
            self._send(status, {"error": message})

    def _results(self, item_id: int, query: dict[str, str]) -> None:
        fake = self.fake
        with fake.lock:
            fake.results_queries.append(dict(query))
        if "limit" in query:
            # What Moodle 4.5 answers (mod/lti/service/gradebookservices, results with a limit).
            self._send(
                404,
                "<html><body><p>Exception - Call to a member function out() on null</p></body></html>",
                ctype="text/html; charset=utf-8",
            )
            return
        with fake.lock:
            rows = [
                {
                    "id": f"{fake.base}{LINEITEM_RE_PREFIX}/{item_id}/lineitem/results"
                    f"?type_id=1&user_id={user}",
                    "userId": user,
                    "resultScore": g.value,
                    "resultMaximum": g.maximum,
                    "comment": g.comment,
                }
                for (iid, user), g in sorted(fake.grades.items())
                if iid == item_id and ("user_id" not in query or user == query["user_id"])
            ]
        headers: dict[str, str] = {}
        size = fake.results_page_size
        if size:
            offset = int(query.get("offset", "0"))
            if offset + size < len(rows):
                nxt = urlencode(dict(query, offset=str(offset + size)))
                path = f"{LINEITEM_RE_PREFIX}/{item_id}/lineitem/results"
                headers["Link"] = f'<{fake.base}{path}?{nxt}>; rel="next"'
            rows = rows[offset : offset + size]
        self._send(200, rows, ctype="application/vnd.ims.lis.v2.resultcontainer+json", headers=headers)
