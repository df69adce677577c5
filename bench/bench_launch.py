"""Launch-path benchmark: full OIDC login + launch (+ landing page) round trips, in process.

Every app runs in this process behind Flask's test client (no sockets between browser and tool),
on the same platform key and the same claims; the platform's signing of each id_token happens
outside the timed section. "Server time" is the tool's handling of one whole round trip,
measured around the test-client calls (so it includes Flask/Werkzeug and test-client overhead
for every contender alike). Contenders run interleaved in blocks so machine load hits all alike.

* CBSI-Connect: GET /lti/login (302) + POST /lti/launch (303) + GET /play/<id> (the player page
  with its attempt opened and the SCO session started),
  SQLite (WAL) in a temp folder; the platform JWKS is fetched once, then cached in memory.
* pylti1p3's Flask example flow (the pylti1.3-flask-example app, ``example_app``): its cookie-check
  page, its login redirect, its launch with the game page; the key set fetched from its URL on
  every launch, as the example does. Run twice: against a loopback stub answering at once (no
  network, no TLS: its cheapest case, no real LMS answers so) and against one answering in
  ``--jwks-latency-ms`` (default 20 ms: an LMS across a network; Moodle's certs.php is a PHP
  request over TLS).
* pylti1p3 minimal: ``FlaskOIDCLogin(...).redirect()`` and ``FlaskMessageLaunch(...)
  .get_launch_data()`` with the JWKS pasted into ``ToolConfDict`` (``key_set``) and a small page:
  no network and no server-side storage (its state and nonce ride in Flask's signed session
  cookie), the floor of any tool built on it.

Pages of every app are template files, compiled once and cached, as Flask does for any app.

Usage: ``python bench/bench_launch.py [--n 500] [--block 25] [--jwks-latency-ms 20]``. Prints
round trips/s (1 / mean server time) and p50/p95 server time per contender, and the ratios: login
+ launch alone (the issue's figure) and end to end (initiation to the activity page on screen).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, render_template
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lti_tool import create_app
from lti_tool.catalogue import import_package
from lti_tool.devlms.seed import build_demo_package
from lti_tool.keys import public_jwk
from lti_tool.lti import platforms
from lti_tool.services import build_services, services_of
from lti_tool.settings import load_settings

ISSUER = "https://lms.bench.example"
CLIENT_ID = "bench-client"
DEPLOYMENT = "bench-deployment"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
KID = "bench-key"


def platform_key() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, {"keys": [{**public_jwk(key.public_key()), "kid": KID, "alg": "RS256", "use": "sig"}]}


def claims(nonce: str, target: str, n: int) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "azp": CLIENT_ID,
        "sub": f"user-{n % 1000}",
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "name": "Bench Learner",
        CLAIM + "version": "1.3.0",
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "deployment_id": DEPLOYMENT,
        CLAIM + "target_link_uri": target,
        CLAIM + "resource_link": {"id": "rl-1", "title": "Bench activity"},
        CLAIM + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
        CLAIM + "context": {"id": "course-1", "title": "Bench course"},
        CLAIM + "custom": {"course": "cbsi.demo.evidence-handling"},
    }


def sign(pem: rsa.RSAPrivateKey, body: dict[str, Any]) -> str:
    return jwt.encode(body, pem, algorithm="RS256", headers={"kid": KID})


class Contender:
    """One app under test: ``round_trip(i)`` returns the server time of one full launch."""

    def __init__(self, name: str, round_trip: Callable[[int], float]) -> None:
        self.name = name
        self.round_trip = round_trip
        self.times: list[float] = []
        self.extra: list[float] = []  # ours: login + launch without the player page


def ours(key: rsa.RSAPrivateKey, jwks: dict[str, Any], folder: Path) -> tuple[Contender, Callable[[], None]]:
    settings = load_settings(
        environ={},
        overrides={
            "server": {
                "base_url": "https://tool.bench.example",
                "secret_key": "b" * 48,
                "instance_folder": str(folder),
                "log_level": "WARNING",
            },
            "keys": {"folder": str(folder / "keys")},
            # Distinct learners come from distinct addresses; here every login comes from the test
            # client's one address. The per-address counter is still written (and timed) per login.
            "lti": {"login_rate_per_minute": 1_000_000},
        },
    )
    services = build_services(settings)
    services.db.upgrade()
    services.keys.generate(if_missing=True)
    platforms.add_platform(
        services.db,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        auth_login_url=ISSUER + "/auth",
        auth_token_url=ISSUER + "/token",
        key_set_url=ISSUER + "/jwks",
        deployment_ids=(DEPLOYMENT,),
        approve=True,
    )
    # the landing page is the real player: the demo course is in the catalogue
    import_package(services, build_demo_package(folder / "demo-course.zip"))
    app = create_app(settings, services=services)
    # The key set is fetched once (the first launch) and then served from the in-memory cache.
    services_of(app).key_cache.fetch = lambda url, timeout: jwks
    target = "https://tool.bench.example/lti/launch"

    def round_trip(i: int) -> float:
        client = app.test_client()  # a fresh browser (cookie jar) per launch, as for distinct learners
        t0 = time.perf_counter()
        r1 = client.get(
            "/lti/login",
            query_string={"iss": ISSUER, "login_hint": "u", "target_link_uri": target, "client_id": CLIENT_ID},
        )
        t1 = time.perf_counter()
        q = parse_qs(urlsplit(r1.headers["Location"]).query)
        token = sign(key, claims(q["nonce"][0], target, i))
        t2 = time.perf_counter()
        r2 = client.post("/lti/launch", data={"id_token": token, "state": q["state"][0]})
        t_launch = time.perf_counter()
        r3 = client.get(r2.headers["Location"])
        t3 = time.perf_counter()
        launch_only.append((t1 - t0) + (t_launch - t2))
        if r2.status_code != 303 or r3.status_code != 200:
            raise SystemExit(
                f"CBSI-Connect launch failed: {r2.status_code}/{r3.status_code} {r3.get_data(as_text=True)[:300]}"
            )
        return (t1 - t0) + (t3 - t2)

    contender = Contender("CBSI-Connect (login+launch+player)", round_trip)
    launch_only: list[float] = contender.extra
    return contender, services.db.dispose


MINIMAL_PAGE = "<h1>{{ d[c + 'resource_link']['title'] }}</h1><p>{{ d[c + 'context']['title'] }}</p>"


def baseline_app(jwks: dict[str, Any] | None, key_set_url: str, folder: Path) -> Flask:
    from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
    from pylti1p3.tool_config import ToolConfDict

    conf = ToolConfDict(
        {
            ISSUER: [
                {
                    "default": True,
                    "client_id": CLIENT_ID,
                    "auth_login_url": ISSUER + "/auth",
                    "auth_token_url": ISSUER + "/token",
                    "key_set_url": key_set_url,
                    "key_set": jwks,
                    "deployment_ids": [DEPLOYMENT],
                }
            ]
        }
    )
    # pages come from template files, compiled once and cached as Flask does for any app
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "templates" / "page.html").write_text(MINIMAL_PAGE)
    app = Flask("pylti1p3_baseline", template_folder=str(folder / "templates"))
    app.config.update(SECRET_KEY="b" * 48, SESSION_COOKIE_SAMESITE="Lax")

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        from flask import request

        oidc = FlaskOIDCLogin(FlaskRequest(), conf)
        return oidc.redirect(request.args.get("target_link_uri"))

    @app.post("/launch")
    def launch() -> Any:
        message = FlaskMessageLaunch(FlaskRequest(), conf)
        data = message.get_launch_data()
        return render_template("page.html", d=data, c=CLAIM)

    return app


class SimpleCache:
    """flask-caching's "simple" backend, which pylti1p3's Flask example configures: a dict with timeouts."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}

    def get(self, key: str) -> Any:
        found = self._data.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and expires < time.time():
            del self._data[key]
            return None
        return value

    def set(self, key: str, value: Any, timeout: int | None = None) -> bool:
        self._data[key] = (value, time.time() + timeout if timeout else None)
        return True

    def delete(self, key: str) -> bool:
        return self._data.pop(key, None) is not None


EXAMPLE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>{{ page_title }}</title>
<link href="{{ url_for('static', filename='app.css') }}" rel="stylesheet">
<script>var difficulty = "{{ curr_diff }}"; var userName = "{{ curr_user_name }}";
var launchId = "{{ launch_id }}";</script>
<script src="{{ url_for('static', filename='app.js') }}"></script></head>
<body>{% if is_deep_link_launch %}<h3>Deep link launch</h3>{% else %}<h3>{{ curr_diff }}</h3>
<canvas width="800" height="500"></canvas>{% endif %}</body></html>"""


def example_app(key_set_url: str, folder: Path) -> Flask:
    """pylti1p3's published Flask example flow (pylti1.3-flask-example ``game/app.py``), minus its game.

    As published: the tool config is read from a JSON file on every request (``ToolConfJsonFile``),
    launch data goes to a ``FlaskCacheDataStorage`` over the simple cache, the platform key set is
    fetched from its URL on every launch (no ``set_public_key_caching``), the launch data is
    pretty-printed (into a buffer here, cheaper than its console) and a page of the same shape as
    its ``game.html`` is rendered. Its login calls ``enable_check_cookies()``, so the first login
    request answers with pylti1p3's cookie-check page, whose script re-requests the login with
    ``lti1p3_new_window=1``; only that second request redirects to the platform. The page is
    pylti1p3's own ``CookiesAllowedCheckPage`` (what the pylti1p3 release the example was written
    for renders; pylti1p3next's Flask class expects the app to ship that template instead).
    That page costs the flow about 7 % (measured with the call removed).
    """
    import io
    import pprint

    folder.mkdir(parents=True, exist_ok=True)
    from flask import make_response
    from pylti1p3.contrib.flask import FlaskCacheDataStorage, FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
    from pylti1p3.cookies_allowed_check import CookiesAllowedCheckPage
    from pylti1p3.tool_config import ToolConfJsonFile

    class ExampleOIDCLogin(FlaskOIDCLogin):
        def get_cookies_allowed_js_check(self) -> Any:
            protocol, params = self.get_cookies_allowed_js_check_params()
            page = CookiesAllowedCheckPage(
                params=params,
                protocol=protocol,
                main_text=self._cookies_unavailable_msg_main_text,
                click_text=self._cookies_unavailable_msg_click_text,
                loading_text=self._cookies_check_loading_text,
            )
            return make_response(page.get_html())

    tool_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "private.key").write_bytes(
        tool_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    config_path = folder / "game.json"
    config_path.write_text(
        json.dumps(
            {
                ISSUER: [
                    {
                        "default": True,
                        "client_id": CLIENT_ID,
                        "auth_login_url": ISSUER + "/auth",
                        "auth_token_url": ISSUER + "/token",
                        "key_set_url": key_set_url,
                        "key_set": None,
                        "private_key_file": "private.key",
                        "deployment_ids": [DEPLOYMENT],
                    }
                ]
            }
        )
    )
    (folder / "static").mkdir(exist_ok=True)
    (folder / "templates").mkdir(exist_ok=True)
    (folder / "templates" / "game.html").write_text(EXAMPLE_PAGE)
    cache = SimpleCache()
    app = Flask("pylti1p3_example", static_folder=str(folder / "static"), template_folder=str(folder / "templates"))
    app.config.update(SECRET_KEY="b" * 48, SESSION_COOKIE_SAMESITE="Lax", DEBUG=True)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        tool_conf = ToolConfJsonFile(str(config_path))
        storage = FlaskCacheDataStorage(cache)
        request = FlaskRequest()
        oidc = ExampleOIDCLogin(request, tool_conf, launch_data_storage=storage)
        return oidc.enable_check_cookies().redirect(request.get_param("target_link_uri"))

    @app.post("/launch")
    def launch() -> Any:
        tool_conf = ToolConfJsonFile(str(config_path))
        storage = FlaskCacheDataStorage(cache)
        message = FlaskMessageLaunch(FlaskRequest(), tool_conf, launch_data_storage=storage)
        data = message.get_launch_data()
        pprint.pprint(data, stream=io.StringIO())
        custom = data.get(CLAIM + "custom", {})
        return render_template(
            "game.html",
            page_title="Game Example",
            is_deep_link_launch=message.is_deep_link_launch(),
            launch_data=message.get_launch_data(),
            launch_id=message.get_launch_id(),
            curr_user_name=data.get("name", ""),
            curr_diff=custom.get("difficulty", "normal"),
        )

    return app


def baseline(name: str, key: rsa.RSAPrivateKey, app: Flask) -> Contender:
    """A pylti1p3 app: its login (following a cookie-check page when it answers with one) and launch."""
    target = "http://localhost/launch"

    def round_trip(i: int) -> float:
        client = app.test_client()  # a fresh browser per launch (its session cookie would grow otherwise)
        t0 = time.perf_counter()
        login = {"iss": ISSUER, "login_hint": "u", "target_link_uri": target, "client_id": CLIENT_ID}
        r1 = client.get("/login", query_string=login)
        if r1.status_code == 200 and "lti1p3_new_window" in r1.get_data(as_text=True):
            # the cookie-check page: its script (cookies work here) requests the login again
            r1 = client.get("/login", query_string={**login, "lti1p3_new_window": "1"})
        t1 = time.perf_counter()
        q = parse_qs(urlsplit(r1.headers["Location"]).query)
        token = sign(key, claims(q["nonce"][0], target, i))
        t2 = time.perf_counter()
        r2 = client.post("/launch", data={"id_token": token, "state": q["state"][0]})
        t3 = time.perf_counter()
        if r2.status_code != 200:
            raise SystemExit(f"pylti1p3 baseline launch failed: {r2.status_code} {r2.get_data(as_text=True)[:300]}")
        return (t1 - t0) + (t3 - t2)

    return Contender(name, round_trip)


def serve_jwks(jwks: dict[str, Any], latency_ms: float = 0.0) -> tuple[str, Callable[[], None]]:
    """The platform's key set on a loopback port (what pylti1p3 fetches by default on each launch).

    ``latency_ms`` makes it answer like an LMS across a network instead of on loopback.
    """
    body = json.dumps(jwks).encode()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if latency_ms:
            time.sleep(latency_ms / 1000)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per key-set request
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}/jwks", stop


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, times: list[float]) -> dict[str, float]:
    mean = statistics.fmean(times)
    row = {"rps": 1 / mean, "p50": pct(times, 50) * 1000, "p95": pct(times, 95) * 1000}
    print(f"{name:34} {row['rps']:9.1f} round trips/s   p50 {row['p50']:6.2f} ms   p95 {row['p95']:6.2f} ms")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="measured round trips per contender")
    parser.add_argument("--block", type=int, default=25, help="round trips per contender before switching")
    parser.add_argument(
        "--jwks-latency-ms",
        type=float,
        default=20.0,
        help="answer time of the second key set URL, an LMS across a network (the first answers at once)",
    )
    args = parser.parse_args()
    key, jwks = platform_key()
    local_url, stop_local = serve_jwks(jwks)
    remote_url, stop_remote = serve_jwks(jwks, args.jwks_latency_ms)
    remote = f"{args.jwks_latency_ms:g} ms"
    with tempfile.TemporaryDirectory() as tmp:
        mine, close = ours(key, jwks, Path(tmp))
        contenders = [
            mine,
            baseline(
                "pylti1p3 example, key set stub 0 ms", key, example_app(local_url, Path(tmp) / "example-local")
            ),
            baseline(
                f"pylti1p3 example, key set {remote}", key, example_app(remote_url, Path(tmp) / "example-remote")
            ),
            baseline("pylti1p3 minimal, key set inline", key, baseline_app(jwks, local_url, Path(tmp) / "minimal")),
        ]
        for c in contenders:  # warm-up: JWKS cache, templates, connection pools
            for i in range(20):
                c.round_trip(i)
        done = 0
        while done < args.n:  # interleaved blocks, so machine load affects every contender alike
            for c in contenders:
                c.times += [c.round_trip(done + j) for j in range(args.block)]
            done += args.block
        close()
    stop_local()
    stop_remote()
    print(f"launch round trips, in process (Flask test client), n={done} each, server time only, interleaved")
    rows = [report(c.name, c.times) for c in contenders]
    launch = report("CBSI-Connect (login+launch only)", mine.extra)
    full, local, far, minimal = rows

    def ratio(label: str, ours_row: dict[str, float], theirs: dict[str, float]) -> float:
        times = ours_row["rps"] / theirs["rps"]
        print(f"{label:64} throughput {times:5.2f}x   p95 {theirs['p95'] / ours_row['p95']:5.2f}x")
        return times

    print("ratios (CBSI-Connect / pylti1p3; higher is better for us):")
    lti_far = ratio(f"login+launch, vs the example flow (key set {remote})", launch, far)
    lti_local = ratio("login+launch, vs the example flow (key set stub 0 ms)", launch, local)
    ratio("login+launch, vs pylti1p3 minimal (no network, no server store)", launch, minimal)
    end_far = ratio(f"initiation -> activity page, vs the example (key set {remote})", full, far)
    end_local = ratio("initiation -> activity page, vs the example (stub 0 ms)", full, local)
    floor = minimal["rps"] / local["rps"]
    print(
        f"pylti1p3 itself with no network and no server-side store: {floor:.2f}x its example flow against the "
        "0 ms stub (a tool that stores its logins and launches can reach 3x there only by beating that)"
    )
    print(
        f"targets: login + launch >= 3x pylti1p3's stock Flask flow (issue 3, DESIGN.md §8) -> "
        f"key set {remote} away: {'met' if lti_far >= 3 else 'NOT met'} ({lti_far:.2f}x); "
        f"0 ms stub: {'met' if lti_local >= 3 else 'NOT met'} ({lti_local:.2f}x). "
        f"p95 of login+launch+player page <= 25 ms -> {'met' if full['p95'] <= 25 else 'NOT met'} "
        f"({full['p95']:.1f} ms). End to end: {end_far:.2f}x / {end_local:.2f}x (our page opens the attempt and "
        "starts the SCO session; the example's is a static page)"
    )


if __name__ == "__main__":
    main()
