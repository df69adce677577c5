"""Launch-path benchmark: full OIDC login + launch (+ landing page) round trips, in process.

Both apps run in this process behind Flask's test client (no network, no sockets), on the same
platform key and the same claims; the platform's signing of each id_token happens outside the
timed section. "Server time" is the sum of the tool's request handling for one round trip:

* CBSI-Connect: GET /lti/login (302) + POST /lti/launch (303) + GET /play/<id> (placeholder page),
  SQLite (WAL) in a temp folder, platform JWKS cached in memory (warmed by one launch).
* Baseline: pylti1p3's documented Flask flow — ``FlaskOIDCLogin(...).redirect()`` and
  ``FlaskMessageLaunch(...).get_launch_data()`` with ``ToolConfDict`` and its default
  (Flask session) state/nonce storage, rendering a small page. Its key set is given inline in the
  ToolConfDict (``key_set``), its no-network mode, so neither side fetches keys while measured.

Usage: ``python bench/bench_launch.py [--n 500]``. Prints round trips/s and p50/p95 server time
for both, and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, render_template_string

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lti_tool import create_app
from lti_tool.keys import public_jwk
from lti_tool.lti import platforms
from lti_tool.services import build_services
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
    }


def sign(pem: rsa.RSAPrivateKey, body: dict[str, Any]) -> str:
    return jwt.encode(body, pem, algorithm="RS256", headers={"kid": KID})


Timer = Callable[[], float]


def run_ours(n: int, pem: rsa.RSAPrivateKey, jwks: dict[str, Any], folder: Path) -> list[float]:
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
    app = create_app(settings, services=services)
    app.extensions["cbsi_lti"].key_cache.fetch = lambda url, timeout: jwks
    target = "https://tool.bench.example/lti/launch"
    times: list[float] = []
    for i in range(n + 20):
        client = app.test_client()  # a fresh browser (cookie jar) per launch, as for distinct learners
        t0 = time.perf_counter()
        r1 = client.get(
            "/lti/login",
            query_string={"iss": ISSUER, "login_hint": "u", "target_link_uri": target, "client_id": CLIENT_ID},
        )
        t1 = time.perf_counter()
        q = parse_qs(urlsplit(r1.headers["Location"]).query)
        token = sign(pem, claims(q["nonce"][0], target, i))
        t2 = time.perf_counter()
        r2 = client.post("/lti/launch", data={"id_token": token, "state": q["state"][0]})
        r3 = client.get(r2.headers["Location"])
        t3 = time.perf_counter()
        if r2.status_code != 303 or r3.status_code != 200:
            raise SystemExit(f"CBSI-Connect launch failed: {r2.status_code} {r2.get_data(as_text=True)[:300]}")
        if i >= 20:  # warm-up: JWKS cache, templates, connection pool
            times.append((t1 - t0) + (t3 - t2))
    services.db.dispose()
    return times


def baseline_app(jwks: dict[str, Any]) -> Flask:
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
                    "key_set_url": ISSUER + "/jwks",
                    "key_set": jwks,
                    "deployment_ids": [DEPLOYMENT],
                }
            ]
        }
    )
    app = Flask("pylti1p3_baseline")
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
        return render_template_string(
            "<h1>{{ d[c + 'resource_link']['title'] }}</h1><p>{{ d[c + 'context']['title'] }}</p>", d=data, c=CLAIM
        )

    return app


def run_baseline(n: int, pem: rsa.RSAPrivateKey, jwks: dict[str, Any]) -> list[float]:
    app = baseline_app(jwks)
    target = "http://localhost/launch"
    times: list[float] = []
    for i in range(n + 20):
        client = app.test_client()  # a fresh browser per launch (its session cookie would grow otherwise)
        t0 = time.perf_counter()
        r1 = client.get(
            "/login", query_string={"iss": ISSUER, "login_hint": "u", "target_link_uri": target, "client_id": CLIENT_ID}
        )
        t1 = time.perf_counter()
        q = parse_qs(urlsplit(r1.headers["Location"]).query)
        token = sign(pem, claims(q["nonce"][0], target, i))
        t2 = time.perf_counter()
        r2 = client.post("/launch", data={"id_token": token, "state": q["state"][0]})
        t3 = time.perf_counter()
        if r2.status_code != 200:
            raise SystemExit(f"pylti1p3 baseline launch failed: {r2.status_code} {r2.get_data(as_text=True)[:300]}")
        if i >= 20:
            times.append((t1 - t0) + (t3 - t2))
    return times


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
    args = parser.parse_args()
    pem, jwks = platform_key()
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_ours(args.n, pem, jwks, Path(tmp))
    base = run_baseline(args.n, pem, jwks)
    print(f"launch round trips, in process (Flask test client), n={args.n}, server time only")
    a = report("CBSI-Connect (login+launch+page)", ours)
    b = report("pylti1p3 Flask (login+launch)", base)
    print(f"ratio (throughput): {a['rps'] / b['rps']:.2f}x   p95: {b['p95'] / a['p95']:.2f}x")
    print(
        f"targets: >= 3x -> {'met' if a['rps'] / b['rps'] >= 3 else 'NOT met'}; "
        f"p95 <= 25 ms -> {'met' if a['p95'] <= 25 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
