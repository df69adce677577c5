"""pylti1p3next 2.0.2 against CBSI-Connect's own LTI core, on the project's certification payloads.

The evidence behind docs/decisions/0001-lti-library.md. Every bad and valid payload of
``tests/lti/test_lti_certification.py`` (its ``BAD`` and ``VALID`` lists, imported, not copied) is
signed for the same test platform and sent:

* to **pylti1p3**: a Flask app on ``pylti1p3.contrib.flask`` as its documentation builds one —
  ``FlaskOIDCLogin(...).redirect()`` for the login, ``FlaskMessageLaunch(...).validate()`` for the
  launch, ``ToolConfDict`` for the registration, ``FlaskCacheDataStorage`` (server-side state and
  nonce store, as in its published Flask example) and ``set_public_key_caching`` (a warm platform
  key set, as ours). The library code runs unmodified; only the platform's key set URL is served
  in process (a requests transport adapter answering with the test platform's JWKS);
* to **CBSI-Connect**: ``/lti/login`` and ``/lti/launch`` of the real app, through the same
  helpers the certification tests use (``lti_helpers.login``, ``post_launch``, ``claims_for``).

Then the DESIGN.md §5.1 gaps that are not single payloads: a replayed launch (same browser, and
with a new login), a platform key rotation while the key set is cached, and the service-token
cache key of two registrations of one issuer.

Usage: ``python bench/compare_pylti1p3.py`` (needs the ``test`` extras: pylti1p3next is not a
runtime dependency). Prints one row per case and the totals; ``tests/lti/test_pylti1p3_comparison.py``
asserts the same facts.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask, jsonify, request
from requests.adapters import BaseAdapter

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "tests" / "lti"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import lti_helpers as h  # noqa: E402  (tests/lti: the certification tests' peer platform and helpers)
import test_lti_certification as cert  # noqa: E402  (its BAD and VALID payload builders)

from bench.bench_launch import SimpleCache  # noqa: E402  (the example's flask-caching "simple" store)
from lti_tool import create_app, services_of  # noqa: E402
from lti_tool.lti import platforms  # noqa: E402
from lti_tool.lti.tokens import cache_key  # noqa: E402
from lti_tool.services import build_services  # noqa: E402
from lti_tool.settings import load_settings  # noqa: E402

ACCEPTED = "accepted"


@dataclass(frozen=True)
class Row:
    """One case: what it should be, what each side answered."""

    group: str  # "bad", "valid" or "gap"
    name: str
    expected: str  # "refuse" or "accept"
    ours: str  # ACCEPTED or the refusal code
    theirs: str  # ACCEPTED or "<exception class>: <message>"

    @property
    def ours_right(self) -> bool:
        return (self.ours == ACCEPTED) == (self.expected == "accept")

    @property
    def theirs_right(self) -> bool:
        return (self.theirs == ACCEPTED) == (self.expected == "accept")


# -- the platform's key set over HTTP, in process ----------------------------------------------


class JwksAdapter(BaseAdapter):
    """A requests transport answering GET <key set URL> with the peer's published keys."""

    def __init__(self, peer: h.Peer) -> None:
        super().__init__()
        self.peer = peer

    def send(self, req: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        import json

        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.peer.fetch(str(req.url), 5.0)).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = str(req.url)
        response.request = req
        return response

    def close(self) -> None:
        pass


# -- pylti1p3 ---------------------------------------------------------------------------------


def pylti1p3_app(peer: h.Peer) -> Flask:
    """A tool on pylti1p3's Flask contrib for the certification tests' platform."""
    from pylti1p3.contrib.flask import FlaskCacheDataStorage, FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
    from pylti1p3.tool_config import ToolConfDict

    conf = ToolConfDict(
        {
            h.ISSUER: [
                {
                    "default": True,
                    "client_id": h.CLIENT_ID,
                    "auth_login_url": h.ISSUER + "/auth",
                    "auth_token_url": h.ISSUER + "/token",
                    "key_set_url": h.JWKS_URL,
                    "key_set": None,
                    "deployment_ids": [h.DEPLOYMENT],
                }
            ]
        }
    )
    cache = SimpleCache()
    session = requests.Session()
    session.mount(h.JWKS_URL, JwksAdapter(peer))
    app = Flask("pylti1p3_tool")
    app.config.update(SECRET_KEY="c" * 48, SESSION_COOKIE_SAMESITE="Lax")

    @app.get("/lti/login")
    def login() -> Any:
        storage = FlaskCacheDataStorage(cache)
        oidc = FlaskOIDCLogin(FlaskRequest(), conf, launch_data_storage=storage)
        return oidc.redirect(request.args["target_link_uri"])

    @app.post("/lti/launch")
    def launch() -> Any:
        storage = FlaskCacheDataStorage(cache)
        message = FlaskMessageLaunch(FlaskRequest(), conf, launch_data_storage=storage, requests_session=session)
        message.set_public_key_caching(storage, cache_lifetime=7200)
        try:
            message.validate()
        except Exception as exc:  # every refusal, whatever its class, is recorded with its class
            return jsonify(error=f"{type(exc).__name__}: {str(exc)[:90]}"), 400
        return jsonify(ok=True)

    return app


def _theirs(response: Any) -> str:
    body = response.get_json(silent=True) or {}
    return ACCEPTED if response.status_code == 200 and body.get("ok") else str(body.get("error", response.status))


class Theirs:
    """Login and launch against the pylti1p3 tool."""

    def __init__(self, peer: h.Peer) -> None:
        self.peer = peer
        self.app = pylti1p3_app(peer)
        self.client = self.app.test_client()

    def login(self) -> tuple[str, str]:
        response = self.client.get(
            "/lti/login",
            query_string={"iss": h.ISSUER, "login_hint": "user-7", "target_link_uri": h.LAUNCH_URL},
        )
        q = parse_qs(urlsplit(response.headers["Location"]).query)
        return q["state"][0], q["nonce"][0]

    def launch(self, token: str, state: str) -> str:
        return _theirs(self.client.post("/lti/launch", data={"id_token": token, "state": state}))


# -- CBSI-Connect -----------------------------------------------------------------------------


def _ours(response: Any) -> str:
    if response.status_code == 303:
        return ACCEPTED
    body = response.get_json(silent=True) or {}
    return str(body.get("error", response.status))


class Ours:
    """Login and launch against the real app, with the certification tests' helpers."""

    def __init__(self, folder: Path, peer_keys: Mapping[str, Any]) -> None:
        settings = load_settings(
            environ={},
            overrides={
                "server": {
                    "base_url": h.TOOL,
                    "secret_key": "d" * 48,
                    "instance_folder": str(folder / "instance"),
                    "log_level": "WARNING",
                },
                "keys": {"folder": str(folder / "keys")},
                "lti": {"login_rate_per_minute": 1_000_000},  # every login here comes from one address
            },
        )
        self.services = build_services(settings)
        self.services.db.upgrade()
        self.services.keys.generate(if_missing=True)
        info = platforms.add_platform(
            self.services.db,
            issuer=h.ISSUER,
            client_id=h.CLIENT_ID,
            auth_login_url=h.ISSUER + "/auth?tenant=1",
            auth_token_url=h.ISSUER + "/token",
            key_set_url=h.JWKS_URL,
            name="Example LMS",
            deployment_ids=(h.DEPLOYMENT,),
            approve=True,
        )
        self.peer = h.Peer(platform=info, keys=dict(peer_keys), published=list(peer_keys))
        self.app = create_app(settings, services=self.services)
        services_of(self.app).key_cache.fetch = self.peer.fetch
        self.client = self.app.test_client()

    def login(self) -> tuple[str, str]:
        state, nonce, _response = h.login(self.client)
        return state, nonce

    def launch(self, token: str, state: str) -> str:
        return _ours(h.post_launch(self.client, token, state))

    def close(self) -> None:
        self.services.db.dispose()


# -- the cases --------------------------------------------------------------------------------


Side = Ours | Theirs


def _resolve(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v() if callable(v) else v) for k, v in changes.items()}


def payload_rows(ours: Ours, theirs: Theirs) -> Iterator[Row]:
    """Every BAD and VALID payload of the certification tests, once through each side."""
    for name, make, _code, _status in cert.BAD:
        results = []
        for side in (ours, theirs):
            state, nonce = side.login()
            results.append(side.launch(make(side.peer, nonce), state))
        yield Row("bad", name, "refuse", *results)
    for name, changes, _target in cert.VALID:
        results = []
        for side in (ours, theirs):
            state, nonce = side.login()
            results.append(side.launch(side.peer.sign(h.claims_for(nonce, **_resolve(changes))), state))
        yield Row("valid", name, "accept", *results)


def _replay_same_browser(side: Side) -> str:
    state, nonce = side.login()
    token = side.peer.sign(h.claims_for(nonce))
    first = side.launch(token, state)
    if first != ACCEPTED:
        return f"(first launch refused: {first})"
    if isinstance(side, Ours):  # the browser still holds its state cookie
        side.client.set_cookie("lti_state_" + state, state, path="/lti/", secure=True)
    return side.launch(token, state)


def _replay_new_login(side: Side) -> str:
    state, nonce = side.login()
    token = side.peer.sign(h.claims_for(nonce))
    first = side.launch(token, state)
    if first != ACCEPTED:
        return f"(first launch refused: {first})"
    state2, _nonce2 = side.login()
    return side.launch(token, state2)


def _rotation_while_cached(side: Side) -> str:
    """The platform rotates from k1 to k2 after the tool cached its key set; the next launch is signed with k2."""
    state, nonce = side.login()
    side.launch(side.peer.sign(h.claims_for(nonce)), state)  # warms the key cache with k1
    side.peer.keys["k2"] = h.cached_key("k2")
    side.peer.published = ["k2"]
    try:
        state, nonce = side.login()
        return side.launch(side.peer.sign(h.claims_for(nonce), kid="k2"), state)
    finally:
        side.peer.published = ["k1"]


@contextmanager
def _clock_after(side: Side, seconds: float) -> Iterator[None]:
    """Our key cache's clock moved past its refetch interval (a rotation is not seconds after a launch)."""
    if isinstance(side, Ours):
        cache = services_of(side.app).key_cache
        before = cache.clock
        cache.clock = lambda: before() + seconds
        try:
            yield
        finally:
            cache.clock = before
    else:  # pylti1p3's key cache lives 7200 s; a minute later it still answers with the old set
        yield


def gap_rows(ours: Ours, theirs: Theirs) -> Iterator[Row]:
    """The DESIGN.md §5.1 gaps that are behaviours over several requests, not one payload."""
    yield Row(
        "gap",
        "replay: same id_token and state again",
        "refuse",
        _replay_same_browser(ours),
        _replay_same_browser(theirs),
    )
    yield Row(
        "gap",
        "replay: old id_token with a new login's state",
        "refuse",
        _replay_new_login(ours),
        _replay_new_login(theirs),
    )
    results = []
    for side in (ours, theirs):
        with _clock_after(side, 0):
            state, nonce = side.login()
            side.launch(side.peer.sign(h.claims_for(nonce)), state)
        with _clock_after(side, 61):
            results.append(_rotation_while_cached(side))
    yield Row("gap", "key rotation: launch signed with a new kid, key set cached", "accept", *results)
    yield Row("gap", "service-token cache: two client_ids of one issuer share a key", "refuse", *service_token_keys())


def service_token_keys() -> tuple[str, str]:
    """Whether two registrations of one issuer (client_ids c1, c2) get the same token cache key."""
    from pylti1p3.registration import Registration
    from pylti1p3.service_connector import ServiceConnector

    scopes = ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]
    theirs = [
        ServiceConnector(Registration().set_issuer(h.ISSUER).set_client_id(c))._scope_key(scopes) for c in ("c1", "c2")
    ]
    ours = [cache_key(h.ISSUER, c, scopes) for c in ("c1", "c2")]

    def answer(keys: list[str]) -> str:
        return ACCEPTED if keys[0] == keys[1] else "distinct keys"

    return answer(ours), answer(theirs)


# -- run --------------------------------------------------------------------------------------


def run_comparison() -> list[Row]:
    """Every case through both sides; the rows in table order."""
    quiet = logging.getLogger("lti_tool")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # refusals are logged as warnings
    try:
        return _compare_all()
    finally:
        quiet.setLevel(level)


def _compare_all() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        keys = {"k1": h.cached_key("k1")}
        ours = Ours(Path(tmp), keys)
        theirs = Theirs(h.Peer(platform=ours.peer.platform, keys=dict(keys), published=["k1"]))
        try:
            return [*payload_rows(ours, theirs), *gap_rows(ours, theirs)]
        finally:
            ours.close()


def summary(rows: list[Row]) -> dict[str, dict[str, int]]:
    """Per group: how many cases, and how many each side got right."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        g = out.setdefault(row.group, {"cases": 0, "ours": 0, "pylti1p3": 0})
        g["cases"] += 1
        g["ours"] += row.ours_right
        g["pylti1p3"] += row.theirs_right
    return out


def _mark(right: bool, answer: str) -> str:
    return ("ok    " if right else "WRONG ") + answer


def main() -> None:
    t0 = time.perf_counter()
    rows = run_comparison()
    width = max(len(r.name) for r in rows)
    print(f"{'group':5}  {'case':{width}}  {'expect':6}  {'CBSI-Connect':36}  pylti1p3next 2.0.2")
    for r in rows:
        print(
            f"{r.group:5}  {r.name:{width}}  {r.expected:6}  {_mark(r.ours_right, r.ours):36}  "
            f"{_mark(r.theirs_right, r.theirs)}"
        )
    print()
    labels = {"bad": "bad payloads refused", "valid": "valid payloads accepted", "gap": "DESIGN §5.1 gaps handled"}
    for group, counts in summary(rows).items():
        print(
            f"{labels[group]:26} CBSI-Connect {counts['ours']}/{counts['cases']}   "
            f"pylti1p3 {counts['pylti1p3']}/{counts['cases']}"
        )
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
