"""Tool keys: generation, RFC 7638 kids, file permissions, rotation overlap, JWKS."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import jwt
import pytest
from flask.testing import FlaskClient

from lti_tool.keys import KeyFileError, KeyStore, NoActiveKeyError, thumbprint
from lti_tool.services import Services
from lti_tool.storage.models import utcnow


def test_rfc7638_thumbprint_example() -> None:
    # RFC 7638 §3.1 example key and its thumbprint
    jwk = {
        "kty": "RSA",
        "e": "AQAB",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
            "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368"
            "QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2"
            "NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_generate_writes_private_key_0600_and_publishes_it(services: Services, client: FlaskClient) -> None:
    [info] = services.keys.list()
    path = services.keys.folder / f"{info.kid}.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(services.keys.folder.stat().st_mode) == 0o700
    jwks = client.get("/.well-known/jwks.json").get_json()
    assert [k["kid"] for k in jwks["keys"]] == [info.kid]
    assert jwks["keys"][0]["kty"] == "RSA"
    assert "d" not in jwks["keys"][0] and "p" not in jwks["keys"][0]


def test_generate_if_missing_is_a_no_op(services: Services) -> None:
    assert services.keys.generate(if_missing=True) is None
    assert len(services.keys.list()) == 1


def test_signatures_verify_against_published_jwks(services: Services, client: FlaskClient) -> None:
    key = services.keys.signing_key()
    token = jwt.encode({"hello": "world"}, key.private_pem, algorithm="RS256", headers={"kid": key.kid})
    jwks = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").get_json())
    public = next(k for k in jwks.keys if k.key_id == key.kid)
    assert jwt.decode(token, public.key, algorithms=["RS256"]) == {"hello": "world"}


def test_rotation_keeps_old_key_published_for_the_overlap(services: Services, client: FlaskClient) -> None:
    old = services.keys.signing_key().kid
    new = services.keys.rotate()
    assert new != old
    assert services.keys.signing_key().kid == new
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]]
    assert kids == [new, old]

    later = KeyStore(
        services.db,
        services.keys.folder,
        overlap_seconds=3600,
        clock=lambda: utcnow() + timedelta(hours=2),
    )
    assert [k["kid"] for k in later.jwks()["keys"]] == [new]
    listed = {k.kid: k for k in later.list()}
    assert listed[old].status == "retired" and not listed[old].published


def test_world_readable_private_key_is_refused(services: Services) -> None:
    kid = services.keys.signing_key().kid
    services.keys._cache = None
    os.chmod(services.keys.folder / f"{kid}.pem", 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        services.keys.signing_key()


def test_missing_private_key_file_is_reported(services: Services) -> None:
    kid = services.keys.signing_key().kid
    services.keys._cache = None
    (services.keys.folder / f"{kid}.pem").unlink()
    with pytest.raises(KeyFileError, match="missing"):
        services.keys.signing_key()


def test_no_key_at_all(services: Services) -> None:
    empty = KeyStore(services.db, services.keys.folder / "none", overlap_seconds=1)
    with services.db.session() as s:
        s.execute(__import__("sqlalchemy").text("DELETE FROM tool_keys"))
    with pytest.raises(NoActiveKeyError, match="keys generate"):
        empty.signing_key()
