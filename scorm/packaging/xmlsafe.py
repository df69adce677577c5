"""Hardened XML parsing for package manifests.

Manifests come from outside (course vendors, academies), so parsing follows the OWASP XXE advice:
no external entities, no network, no DTD loading or validation, no huge-tree mode, and any
document that declares a DOCTYPE is refused outright (SCORM, cmi5 and TinCan manifests are all
defined by XML Schema; none needs a DTD). The byte size is capped *before* parsing.
"""

from __future__ import annotations

import logging
import re

from lxml import etree

from scorm.packaging.errors import ManifestTooLarge, XmlForbiddenDtd, XmlMalformed, XmlXInclude

logger = logging.getLogger(__name__)

_BOMS: tuple[bytes, ...] = (b"\xef\xbb\xbf",)
_DOCTYPE_RE = re.compile(rb"<!\s*DOCTYPE", re.IGNORECASE)
_ENTITY_RE = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
XINCLUDE_NAMESPACES = frozenset({"http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"})
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers keep per-instance state and are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _utf16_view(data: bytes) -> bytes:
    """Return an ASCII-compatible view of UTF-16/32 text for the DOCTYPE scan."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            return data.decode(codec, errors="replace").encode("utf-8", errors="replace")
    return data


def parse_xml(data: bytes, *, file: str, max_bytes: int) -> etree._Element:
    """Parse untrusted manifest bytes into an element tree, refusing anything risky.

    Args:
        data: the raw bytes of the file (a UTF-8 byte order mark is accepted).
        file: the file name within the package, for error reports.
        max_bytes: the largest accepted document.

    Returns:
        The root element.

    Raises:
        ManifestTooLarge: the document is larger than ``max_bytes``.
        XmlForbiddenDtd: the document has a DOCTYPE or entity declaration (XXE, billion laughs).
        XmlMalformed: the document is not well-formed XML.
    """
    if len(data) > max_bytes:
        raise ManifestTooLarge(
            key="bytes_limit_bytes_manifest_large",
            params={"file": file, "count": f"{len(data):,}", "max_bytes": f"{max_bytes:,}"},
            file=file,
            rule="limits.max_manifest_bytes",
        )
    scan = _utf16_view(data)
    if _DOCTYPE_RE.search(scan) or _ENTITY_RE.search(scan):
        raise XmlForbiddenDtd(
            key="contains_doctype_entity_declaration_course", params={"file": file},
            file=file,
            element="/",
            rule="OWASP XXE prevention: DTDs refused",
        )
    body = data
    for bom in _BOMS:
        if body.startswith(bom):
            body = body[len(bom) :]
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlMalformed(
            key="well_formed_xml_line_open", params={"file": file, "msg": exc.msg, "lineno": exc.lineno},
            file=file,
            element=f"line {exc.lineno}",
            rule="XML 1.0 well-formedness",
        ) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlForbiddenDtd(
            key="declares_doctype_course_manifests_must", params={"file": file},
            file=file,
            element="/",
            rule="OWASP XXE prevention: DTDs refused",
        )
    _refuse_xinclude(root, file)
    return root


def _refuse_xinclude(root: etree._Element, file: str) -> None:
    """Refuse any XInclude element: it would pull other files or URLs into the manifest.

    lxml only processes XInclude when asked to (we never ask), so this is about telling the
    author clearly instead of silently ignoring an include the course may depend on.
    """
    for el in root.iter():
        if namespace(el) in XINCLUDE_NAMESPACES:
            href = el.get("href") or ""
            raise XmlXInclude(
                key="uses_xinclude_href_manifests_must",
                params={"file": file, "local_name": local_name(el), "href": href[:200]},
                file=file,
                element=f"line {el.sourceline}" if el.sourceline else local_name(el),
                rule="no XInclude in manifests (XXE/SSRF prevention)",
            )


def schema_locations(root: etree._Element) -> list[tuple[etree._Element, str]]:
    """Every schema location named by ``xsi:schemaLocation`` / ``xsi:noNamespaceSchemaLocation``.

    ``schemaLocation`` holds namespace/location pairs; only the locations are returned. Nothing
    is ever fetched or read: this is for the import report.
    """
    found: list[tuple[etree._Element, str]] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        pairs = (el.get(f"{{{NS_XSI}}}schemaLocation") or "").split()
        found.extend((el, location) for location in pairs[1::2])
        single = (el.get(f"{{{NS_XSI}}}noNamespaceSchemaLocation") or "").strip()
        if single:
            found.append((el, single))
    return found


def local_name(element: etree._Element) -> str:
    """Return the element's tag without its namespace."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(element: etree._Element) -> str:
    """Return the element's namespace URI ('' when none)."""
    tag = element.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].split("}", 1)[0]
    return ""


def text_of(element: etree._Element | None) -> str | None:
    """Return the stripped text content of an element, or ``None`` when absent or blank."""
    if element is None:
        return None
    value = "".join(element.itertext()).strip()
    return value or None
