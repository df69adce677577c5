"""multipart/mixed for statements with attachments (parse requests, build responses), and JWS checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scorm.xapi.formats import truncate_duration

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
JWS_ALGORITHMS = ("RS256", "RS384", "RS512")


class MultipartError(ValueError):
    """The multipart body is malformed or its parts do not match the statements."""


@dataclass(frozen=True)
class Part:
    """One body part: lower-cased headers and raw bytes."""

    headers: Mapping[str, str]
    content: bytes


def boundary_of(content_type: str) -> str:
    """The ``boundary`` parameter of a multipart Content-Type.

    Raises:
        MultipartError: missing.
    """
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"')
    raise MultipartError("multipart/mixed needs a boundary parameter")


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """Split a multipart body into parts.

    Raises:
        MultipartError: no parts, or a part without a header block.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise MultipartError("the multipart body has no parts delimited by its boundary")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        sep = chunk.find(b"\r\n\r\n")
        skip = 4
        if sep < 0:
            sep, skip = chunk.find(b"\n\n"), 2
        if sep < 0:
            if chunk.startswith(b"\r\n"):
                sep, skip = 0, 2
            else:
                raise MultipartError("a multipart part has no header block")
        headers: dict[str, str] = {}
        for line in chunk[:sep].decode("latin-1").splitlines():
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers=headers, content=chunk[sep + skip :]))
    if not parts:
        raise MultipartError("the multipart body has no parts")
    return parts


def build_multipart(first: bytes, attachments: Mapping[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed body: the statement JSON then each attachment; returns (body, content type)."""
    boundary = "xapi-" + secrets.token_hex(12)
    out = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), first, b"\r\n"]
    for sha2, (ctype, content) in attachments.items():
        out.append(
            f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n".encode()
        )
        out += [content, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/mixed; boundary={boundary}"


def sha2_matches(declared: str, content: bytes) -> bool:
    """Whether ``declared`` is the SHA-224/256/384/512 hex digest of ``content``."""
    algo = {56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}.get(len(declared))
    return algo is not None and hashlib.new(algo, content).hexdigest() == declared.lower()


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_IGNORED = ("stored", "authority", "version", "attachments", "id", "timestamp")


def check_signature(statement: Mapping[str, Any], jws: bytes, original: Mapping[str, Any]) -> None:
    """A signed statement's JWS: compact form, RS256/384/512, payload equal to the statement.

    ``original`` is the statement as the client sent it (before the LRS assigned anything).

    Raises:
        MultipartError: what is wrong with the signature.
    """
    try:
        pieces = jws.decode("ascii").strip().split(".")
        if len(pieces) != 3:
            raise ValueError("not three segments")
        header = json.loads(_b64url(pieces[0]))
        payload = json.loads(_b64url(pieces[1]))
        _b64url(pieces[2])
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise MultipartError(f"the signature is not a compact JWS with a JSON payload ({exc})") from exc
    if not isinstance(header, dict) or header.get("alg") not in JWS_ALGORITHMS:
        alg = header.get("alg") if isinstance(header, dict) else None
        raise MultipartError(f"the JWS must use RS256, RS384 or RS512, not {alg!r}")
    if not isinstance(payload, dict):
        raise MultipartError("the JWS payload must be a statement object")

    def strip(st: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in st.items() if k not in _IGNORED}
        result = out.get("result")
        if isinstance(result, dict) and isinstance(result.get("duration"), str):
            out["result"] = {**result, "duration": truncate_duration(result["duration"])}
        return out

    if strip(payload) != strip(original):
        raise MultipartError("the JWS payload does not match the statement it signs")
    if "id" in payload and str(payload["id"]).lower() != str(statement.get("id", "")).lower():
        raise MultipartError("the JWS payload's id does not match the statement's id")
    _verify_x5c(header, pieces)


def _verify_x5c(header: Mapping[str, Any], pieces: Sequence[str]) -> None:
    """When the JWS carries its certificate (``x5c``), the signature must verify with its key."""
    chain = header.get("x5c")
    if not chain:
        return
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise MultipartError("the x5c certificate does not hold an RSA key")
        digest = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}[header["alg"]]
        key.verify(_b64url(pieces[2]), f"{pieces[0]}.{pieces[1]}".encode(), padding.PKCS1v15(), digest)
    except InvalidSignature as exc:
        raise MultipartError("the JWS signature does not verify with its x5c certificate") from exc
    except (ValueError, TypeError, IndexError, binascii.Error) as exc:
        raise MultipartError(f"the JWS x5c certificate is unreadable ({exc})") from exc
