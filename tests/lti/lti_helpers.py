"""LTI test helpers: a registered peer platform with its own RSA keys, and login/launch helpers.

Imported by name (not as ``conftest``, which the top-level tests/conftest.py also is)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.keys import public_jwk
from lti_tool.lti import platforms
from lti_tool.lti.platforms import PlatformInfo
from lti_tool.services import Services, services_of
from sync.lti_claims import CLAIM

ISSUER = "https://lms.example.org"
CLIENT_ID = "tool-client-1"
DEPLOYMENT = "dep-1"
TOOL = "http://localhost"
LAUNCH_URL = TOOL + "/lti/launch"
JWKS_URL = ISSUER + "/jwks"
JSON = {"Accept": "application/json"}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def cached_key(name: str) -> rsa.RSAPrivateKey:
    """RSA keys are slow to generate: share a few per test session."""
    if name not in _KEYS:
        _KEYS[name] = new_key()
    return _KEYS[name]


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Peer:
    """A platform peer: its keys (kid → key), what its JWKS publishes, and a fetch counter."""

    platform: PlatformInfo
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    fetches: int = 0

    def fetch(self, url: str, timeout: float) -> Mapping[str, Any]:
        assert timeout > 0
        assert url == JWKS_URL
        self.fetches += 1
        return {
            "keys": [
                {**public_jwk(self.keys[kid].public_key()), "kid": kid, "alg": "RS256", "use": "sig"}
                for kid in self.published
            ]
        }

    def sign(self, claims: Mapping[str, Any], *, kid: str = "k1", headers: Mapping[str, Any] | None = None) -> str:
        hdr = {"kid": kid, **(headers or {})}
        return jwt.encode(dict(claims), self.keys[kid], algorithm="RS256", headers=hdr)


@pytest.fixture
def peer(services: Services, app: Flask) -> Peer:
    info = platforms.add_platform(
        services.db,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        auth_login_url=ISSUER + "/auth?tenant=1",
        auth_token_url=ISSUER + "/token",
        key_set_url=JWKS_URL,
        name="Example LMS",
        deployment_ids=(DEPLOYMENT,),
        approve=True,
    )
    p = Peer(platform=info, keys={"k1": cached_key("k1")}, published=["k1"])
    services_of(app).key_cache.fetch = p.fetch
    return p


def login(client: FlaskClient, **overrides: str | None) -> tuple[str, str, Any]:
    """Run /lti/login; returns (state, nonce, response)."""
    params: dict[str, str] = {
        "iss": ISSUER,
        "login_hint": "user-7",
        "target_link_uri": LAUNCH_URL,
        "lti_message_hint": "hint-abc",
        "client_id": CLIENT_ID,
        "lti_deployment_id": DEPLOYMENT,
    }
    for k, v in overrides.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    response = client.get("/lti/login", query_string=params)
    if response.status_code != 302:
        return "", "", response
    q = parse_qs(urlsplit(response.headers["Location"]).query)
    return q["state"][0], q["nonce"][0], response


def claims_for(nonce: str, /, **changes: Any) -> dict[str, Any]:
    """A valid resource link launch for the peer; ``changes`` replace or (value ...) remove claims."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "azp": CLIENT_ID,
        "sub": "user-7",
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "name": "Ana Learner",
        "email": "ana@example.org",
        CLAIM + "version": "1.3.0",
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "deployment_id": DEPLOYMENT,
        CLAIM + "target_link_uri": LAUNCH_URL,
        CLAIM + "resource_link": {"id": "rl-1", "title": "Fractions"},
        CLAIM + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
        CLAIM + "context": {"id": "course-9", "title": "Maths 9"},
    }
    for key, value in changes.items():
        key = key if key in claims or not key.startswith("lti_") else CLAIM + key[4:]
        if value is ...:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def post_launch(client: FlaskClient, id_token: str, state: str, **extra: str) -> Any:
    return client.post("/lti/launch", data={"id_token": id_token, "state": state, **extra}, headers=JSON)
