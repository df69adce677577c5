"""Launch URL construction and package-relative path rules (pure functions)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from scorm.packaging.errors import UnsafeUrl, ZipSlip

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_WEB_SCHEMES = frozenset({"http", "https"})


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in ``value`` (lower case), or ``None`` for a relative URL.

    Browsers (WHATWG URL) drop leading/trailing C0 controls and spaces and remove tabs and
    newlines anywhere before parsing, so ``" java\tscript:x"`` is a ``javascript:`` URL; the same
    clean-up is applied here. A Windows drive path (``C:/x``) is not a URL.
    """
    cleaned = "".join(ch for ch in value if ch not in "\t\n\r").strip("".join(map(chr, range(0x21))))
    if not _SCHEME_RE.match(cleaned) or _DRIVE_RE.match(cleaned):
        return None
    return cleaned.split(":", 1)[0].lower()


def check_web_url(value: str, *, file: str, element: str) -> bool:
    """Refuse a reference whose scheme is not http(s) (``javascript:``, ``data:``, ``file:``...).

    Args:
        value: an href / url from a manifest.
        file: manifest file name, for error reports.
        element: locator, for error reports.

    Returns:
        ``True`` when ``value`` is an absolute http(s) URL (outside the package), ``False`` when it
        is relative (a file in the package).

    Raises:
        UnsafeUrl: any other scheme; launching it would run script on the player's origin or
            reach outside the web.
    """
    scheme = url_scheme(value)
    if scheme is None:
        return False
    if scheme in _WEB_SCHEMES:
        return True
    raise UnsafeUrl(
        key="manifest_points_url_only_files", params={"scheme": scheme, "value": repr(value[:80])},
        file=file,
        element=element,
        rule="launch URLs are package files or http(s) URLs",
    )


def is_absolute_url(value: str) -> bool:
    """Return ``True`` for a URL with a scheme (``https:``, ``mailto:``...), e.g. a remote AU.

    A Windows drive path such as ``C:/x`` is *not* a URL (single-letter scheme).
    """
    return bool(_SCHEME_RE.match(value)) and not _DRIVE_RE.match(value)


def split_url(value: str) -> tuple[str, str, str]:
    """Split a relative URL into ``(path, query, fragment)`` without decoding anything."""
    path, _, fragment = value.partition("#")
    path, _, query = path.partition("?")
    return path, query, fragment


def normalize_package_path(path: str, *, file: str, element: str) -> str:
    """Resolve ``.`` and ``..`` in a package-relative path; refuse escapes from the package root.

    Args:
        path: a ``/``-separated relative path (already combined with any xml:base).
        file: manifest file name, for error reports.
        element: locator of the attribute, for error reports.

    Returns:
        The normalised path (no leading ``/``, no ``.``/``..`` segments).

    Raises:
        ZipSlip: the path is absolute or climbs above the package root.
    """
    if path.startswith(("/", "\\")) or _DRIVE_RE.match(path) or "\\" in path:
        raise ZipSlip(
            key="manifest_points_absolute_windows_style", params={"path": path},
            file=file,
            element=element,
            rule="CAM: href is a URL relative to the package root",
        )
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise ZipSlip(
                    key="manifest_points_which_outside_package", params={"path": path},
                    file=file,
                    element=element,
                    rule="CAM: href stays inside the package",
                )
            segments.pop()
            continue
        segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return "/".join(segments) + trailing


def join_base(bases: tuple[str, ...], href: str) -> str:
    """Apply xml:base values (outermost first) to an href, as the CAM describes.

    Each base is a directory prefix; an absolute URL anywhere resets the chain.

    Args:
        bases: xml:base values from the manifest, resources and resource elements.
        href: the href attribute.

    Returns:
        The combined, not yet normalised reference.
    """
    result = ""
    for part in (*bases, href):
        if not part:
            continue
        if is_absolute_url(part) or part.startswith("/"):
            result = part
            continue
        if result and not result.endswith("/"):
            result = result.rsplit("/", 1)[0] + "/" if "/" in result else ""
        result = result + part
    return result


def apply_parameters(launch: str, parameters: str | None) -> str:
    """Join an item's ``parameters`` onto its resource's launch URL (SCORM CAM rules).

    The CAM's launch-URL algorithm for the ``<item parameters>`` attribute (SCORM 2004 CAM,
    content packaging, ``<item>`` element; SCORM 1.2 CAM uses the same rule):

    1. a leading ``?`` or ``&`` on the parameters is dropped;
    2. parameters starting with ``#`` are a fragment: appended only when the URL has none;
    3. otherwise they are query parameters: joined with ``&`` when the URL already has a query,
       else with ``?`` — and always placed before any ``#fragment`` of the URL.

    Args:
        launch: the resource's launch URL (may already contain ``?`` and/or ``#``).
        parameters: the item's ``parameters`` attribute, or ``None``.

    Returns:
        The URL to launch.
    """
    if not parameters:
        return launch
    params = parameters.strip()
    if params.startswith("#"):
        return launch if "#" in launch else launch + params
    while params[:1] in ("?", "&"):
        params = params[1:]
    if not params:
        return launch
    base, hash_sign, fragment = launch.partition("#")
    joiner = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        joiner = ""
    return f"{base}{joiner}{params}{hash_sign}{fragment}"


def file_in_package(url: str) -> str | None:
    """Return the package file a relative URL refers to (decoded, no query/fragment).

    Returns ``None`` for absolute URLs (remote content) and empty paths.
    """
    if is_absolute_url(url):
        return None
    path = unquote(split_url(url)[0])
    return path or None
