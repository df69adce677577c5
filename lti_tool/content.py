"""Signed, expiring content URL prefixes and safe path resolution for package files.

A learner's player receives ``<content_origin>/<token>/`` as the base of its package; the token
binds one course version to one subject (the attempt or launch that owns it) until an expiry.
A token for another package, a tampered or an expired token gets 403; a path that tries to
leave the package folder gets 404. DESIGN.md §5.4.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lti_tool.errors import AppError
from lti_tool.tokens import PURPOSE_CONTENT, ScopedSigner, TokenExpired, TokenInvalid

# Types browsers must get right for course content (mimetypes varies by machine).
_EXTRA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".xml": "application/xml",
    ".xsd": "application/xml",
    ".svg": "image/svg+xml",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".ogv": "video/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".vtt": "text/vtt",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".swf": "application/x-shockwave-flash",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain",
}


class ContentAccessDenied(AppError):
    """This content link is not valid for you: relaunch the course from your LMS."""

    code = "content_forbidden"
    status = 403


class ContentLinkExpired(ContentAccessDenied):
    """This content link has expired: relaunch the course from your LMS."""

    code = "content_link_expired"


class ContentNotFound(AppError):
    """No such file in this course package."""

    code = "content_not_found"
    status = 404


def content_type(path: str) -> str:
    """The MIME type to serve ``path`` with (``application/octet-stream`` when unknown)."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


@dataclass(frozen=True, kw_only=True)
class ContentGrant:
    """What a valid token allows."""

    version_id: int
    subject: str
    expires_at: int


class ContentSigner:
    """Create and check content tokens (``<version>.<subject>.<expiry>.<mac>``).

    Args:
        secret: the service secret (``server.secret_key``).
        ttl_seconds: lifetime of new tokens.
        clock: seconds since the epoch.
    """

    def __init__(self, secret: str, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._signer = ScopedSigner(secret, PURPOSE_CONTENT, ttl_seconds, clock)

    def sign(self, version_id: int, subject: str) -> str:
        """A token for ``version_id`` owned by ``subject`` (an attempt or launch id)."""
        return self._signer.sign([str(version_id), subject])

    def verify(self, token: str) -> ContentGrant:
        """Check a token.

        Raises:
            ContentAccessDenied: malformed or tampered.
            ContentLinkExpired: past its expiry.
        """
        try:
            (version, subject), expires = self._signer.verify(token, 2)
            version_id = int(version)
        except TokenExpired as exc:
            raise ContentLinkExpired() from exc
        except (TokenInvalid, ValueError) as exc:
            raise ContentAccessDenied() from exc
        return ContentGrant(version_id=version_id, subject=subject, expires_at=expires)


def resolve_package_file(root: Path, subpath: str) -> Path:
    """The file ``subpath`` inside the package folder ``root``, refusing every escape.

    Refused (404, never a hint): empty paths, absolute paths, backslashes, NUL, ``.`` or ``..``
    segments (also when they arrive percent-encoded and decoded by the router), symlinks, and
    anything that does not resolve to a regular file under ``root``.

    Raises:
        ContentNotFound: for every refused or missing path.
    """
    if not subpath or "\\" in subpath or "\x00" in subpath or subpath.startswith("/"):
        raise ContentNotFound()
    parts = subpath.split("/")
    if any(part in ("", ".", "..") for part in parts[:-1]) or parts[-1] in (".", ".."):
        raise ContentNotFound()
    if any(":" in part for part in parts[:1]):  # drive letters, URL schemes
        raise ContentNotFound()
    base = root.resolve()
    candidate = base.joinpath(*[p for p in parts if p])
    current = base
    for part in [p for p in parts if p]:
        current = current / part
        if current.is_symlink():
            raise ContentNotFound()
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base) or not resolved.is_file():
        raise ContentNotFound()
    return resolved
