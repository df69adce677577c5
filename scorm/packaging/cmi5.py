"""cmi5 course structure (``cmi5.xml``) parsing and validation.

Reference: cmi5 specification (Quartz), section 13 "Course Structure Data Model", 13.2 XSD,
section 14 "Course Package", section 8.1 (launch URL query parameters the LMS adds) and
section 3 (IRIs MUST be fully qualified). Validation runs as ordered, named steps so that each
refusal has its own code, as the CATAPULT LMS test suite's import cases expect.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

from lxml import etree

from scorm.packaging.errors import (
    Cmi5DuplicateId,
    Cmi5InvalidId,
    Cmi5InvalidReference,
    Cmi5InvalidValue,
    Cmi5RelativeUrl,
    Cmi5UrlParamConflict,
    InvalidManifest,
)
from scorm.packaging.model import LangString, Launchable, LaunchKind, Standard, pick_lang
from scorm.packaging.urls import check_web_url, file_in_package, is_absolute_url, normalize_package_path
from scorm.packaging.values import ValueReader
from scorm.packaging.xmlsafe import local_name, namespace, text_of

logger = logging.getLogger(__name__)

MANIFEST_FILE = "cmi5.xml"
NAMESPACES = frozenset(
    {
        "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd",
        "http://www.adlnet.gov/cmi5/CourseStructure.xsd",
    }
)

# cmi5 8.1: the LMS appends these to the AU url; an AU url must not already carry them.
RESERVED_LAUNCH_PARAMS = frozenset({"endpoint", "fetch", "actor", "registration", "activityId"})

# RFC 3987 absolute IRI: a scheme, a colon, and something after it; no whitespace.
_IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")


class MoveOn(StrEnum):
    """AU ``moveOn`` (cmi5 13.1.4; default NotApplicable)."""

    NOT_APPLICABLE = "NotApplicable"
    PASSED = "Passed"
    COMPLETED = "Completed"
    COMPLETED_AND_PASSED = "CompletedAndPassed"
    COMPLETED_OR_PASSED = "CompletedOrPassed"


class LaunchMethod(StrEnum):
    """AU ``launchMethod`` (cmi5 13.1.4; default AnyWindow)."""

    ANY_WINDOW = "AnyWindow"
    OWN_WINDOW = "OwnWindow"


@dataclass(frozen=True, kw_only=True)
class Cmi5Objective:
    """A course-level ``objectives/objective`` (cmi5 13.1.3)."""

    id: str
    title: tuple[LangString, ...] = ()
    description: tuple[LangString, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Cmi5AU:
    """An assignable unit (cmi5 13.1.4).

    ``url`` is as written (relative to the package root, or absolute for remote AUs).
    """

    id: str
    title: tuple[LangString, ...] = ()
    description: tuple[LangString, ...] = ()
    url: str
    launch_method: LaunchMethod = LaunchMethod.ANY_WINDOW
    move_on: MoveOn = MoveOn.NOT_APPLICABLE
    mastery_score: float | None = None
    activity_type: str | None = None
    launch_parameters: str | None = None
    entitlement_key: str | None = None
    objectives: tuple[str, ...] = ()

    @property
    def display_title(self) -> str:
        """Title in English if present, else the first language, else the id."""
        return pick_lang(self.title) or self.id


@dataclass(frozen=True, kw_only=True)
class Cmi5Block:
    """A block grouping AUs and blocks (cmi5 13.1.2)."""

    id: str
    title: tuple[LangString, ...] = ()
    description: tuple[LangString, ...] = ()
    objectives: tuple[str, ...] = ()
    children: tuple[Cmi5Block | Cmi5AU, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Cmi5Course:
    """A parsed, validated cmi5 course structure."""

    standard: Standard = Standard.CMI5
    edition: int | None = None
    id: str
    title_strings: tuple[LangString, ...] = ()
    description_strings: tuple[LangString, ...] = ()
    objectives: tuple[Cmi5Objective, ...] = ()
    children: tuple[Cmi5Block | Cmi5AU, ...] = ()

    @property
    def title(self) -> str:
        """Course title (English preferred)."""
        return pick_lang(self.title_strings) or self.id

    @property
    def description(self) -> str | None:
        """Course description (English preferred)."""
        return pick_lang(self.description_strings)

    def walk(self) -> Iterator[Cmi5Block | Cmi5AU]:
        """Yield every block and AU in document order (blocks before their contents)."""

        def visit(nodes: tuple[Cmi5Block | Cmi5AU, ...]) -> Iterator[Cmi5Block | Cmi5AU]:
            for node in nodes:
                yield node
                if isinstance(node, Cmi5Block):
                    yield from visit(node.children)

        return visit(self.children)

    def aus(self) -> tuple[Cmi5AU, ...]:
        """Every AU in course order."""
        return tuple(node for node in self.walk() if isinstance(node, Cmi5AU))

    def launchables(self) -> tuple[Launchable, ...]:
        """Every AU as a launchable, in course order."""
        return tuple(
            Launchable(
                identifier=au.id, title=au.display_title, launch_url=au.url, kind=LaunchKind.AU
            )
            for au in self.aus()
        )

    def required_files(self) -> tuple[tuple[str, str], ...]:
        """Package files the relative AU urls need, as ``(path, element locator)`` pairs."""
        needed = []
        for au in self.aus():
            path = file_in_package(au.url)
            if path:
                needed.append((path, f"au[@id='{au.id}']/url"))
        return tuple(needed)


# --- parsing -----------------------------------------------------------------------------------


def _is(el: etree._Element, name: str) -> bool:
    # Vendor extensions live in other namespaces (cmi5 13.1.5) and are ignored.
    return isinstance(el.tag, str) and local_name(el) == name and namespace(el) in NAMESPACES | {""}


def _child(el: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in el if _is(c, name)), None)


def _text_type(el: etree._Element | None) -> tuple[LangString, ...]:
    if el is None:
        return ()
    return tuple(
        LangString(lang=ls.get("lang"), value=" ".join((text_of(ls) or "").split()))
        for ls in el
        if _is(ls, "langstring") and text_of(ls)
    )


def _refs(el: etree._Element) -> tuple[str, ...]:
    objectives = _child(el, "objectives")
    if objectives is None:
        return ()
    return tuple((o.get("idref") or "").strip() for o in objectives if _is(o, "objective"))


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.values = ValueReader(file, spec="cmi5 13.1.4", error=Cmi5InvalidValue)

    def au(self, el: etree._Element, where: str) -> Cmi5AU:
        au_id = (el.get("id") or "").strip()
        url_el = _child(el, "url")
        url = text_of(url_el)
        if not url:
            raise InvalidManifest(
                key="au_has_no_url", params={"au_id": au_id},
                file=self.file,
                element=f"{where}/url",
                rule="cmi5 13.1.4 AU url (required)",
            )
        move_on = self.values.vocab(MoveOn, el.get("moveOn"), MoveOn.NOT_APPLICABLE, f"{where}/@moveOn")
        launch_method = self.values.vocab(
            LaunchMethod, el.get("launchMethod"), LaunchMethod.ANY_WINDOW, f"{where}/@launchMethod"
        )
        mastery = self.values.decimal(el.get("masteryScore"), None, f"{where}/@masteryScore", 0.0, 1.0)
        return Cmi5AU(
            id=au_id,
            title=_text_type(_child(el, "title")),
            description=_text_type(_child(el, "description")),
            url=url,
            launch_method=launch_method,
            move_on=move_on,
            mastery_score=mastery,
            activity_type=(el.get("activityType") or "").strip() or None,
            launch_parameters=text_of(_child(el, "launchParameters")),
            entitlement_key=text_of(_child(el, "entitlementKey")),
            objectives=_refs(el),
        )

    def nodes(self, parent: etree._Element, where: str) -> tuple[Cmi5Block | Cmi5AU, ...]:
        result: list[Cmi5Block | Cmi5AU] = []
        au_n = block_n = 0
        for el in parent:
            if _is(el, "au"):
                au_n += 1
                result.append(self.au(el, f"{where}/au[{au_n}]"))
            elif _is(el, "block"):
                block_n += 1
                bwhere = f"{where}/block[{block_n}]"
                children = self.nodes(el, bwhere)
                if not children:
                    raise InvalidManifest(
                        key="block_contains_au_block", params={"id": el.get("id")},
                        file=self.file,
                        element=bwhere,
                        rule="cmi5 13.2 blockType: at least one au or block",
                    )
                result.append(
                    Cmi5Block(
                        id=(el.get("id") or "").strip(),
                        title=_text_type(_child(el, "title")),
                        description=_text_type(_child(el, "description")),
                        objectives=_refs(el),
                        children=children,
                    )
                )
        return tuple(result)

    def course(self, root: etree._Element) -> Cmi5Course:
        if local_name(root) != "courseStructure":
            raise InvalidManifest(
                key="root_element_coursestructure", params={"file": self.file, "local_name": local_name(root)},
                file=self.file,
                element="/",
                rule="cmi5 13.2 courseStructure root",
            )
        if namespace(root) not in NAMESPACES | {""}:
            raise InvalidManifest(
                key="uses_namespace_which_cmi5_course", params={"file": self.file, "namespace": repr(namespace(root))},
                file=self.file,
                element="/",
                rule="cmi5 13.2 CourseStructure.xsd namespace",
            )
        course_el = _child(root, "course")
        if course_el is None:
            raise InvalidManifest(
                key="course_element_missing", params={"file": self.file},
                file=self.file,
                element="courseStructure/course",
                rule="cmi5 13.1.1 course",
            )
        objectives_el = _child(root, "objectives")
        objectives = tuple(
            Cmi5Objective(
                id=(o.get("id") or "").strip(),
                title=_text_type(_child(o, "title")),
                description=_text_type(_child(o, "description")),
            )
            for o in (objectives_el if objectives_el is not None else ())
            if _is(o, "objective")
        )
        children = self.nodes(root, "courseStructure")
        if not children:
            raise InvalidManifest(
                key="contains_au_there_nothing_launch", params={"file": self.file},
                file=self.file,
                element="courseStructure",
                rule="cmi5 13.2 courseType: at least one au or block",
            )
        return Cmi5Course(
            id=(course_el.get("id") or "").strip(),
            title_strings=_text_type(_child(course_el, "title")),
            description_strings=_text_type(_child(course_el, "description")),
            objectives=objectives,
            children=children,
        )


# --- validation steps (cmi5 13/14), each with its own error code ------------------------------


def _all_ids(course: Cmi5Course) -> Iterator[tuple[str, str, str]]:
    """Yield ``(kind, id, locator)`` for the course, objectives, blocks and AUs."""
    yield "course", course.id, "courseStructure/course/@id"
    for objective in course.objectives:
        yield "objective", objective.id, f"objectives/objective[@id='{objective.id}']/@id"
    for node in course.walk():
        kind = "au" if isinstance(node, Cmi5AU) else "block"
        yield kind, node.id, f"{kind}[@id='{node.id}']/@id"


_LABELS = {"course": "the course", "objective": "an objective", "block": "a block", "au": "an AU"}


def check_ids_are_iris(course: Cmi5Course, file: str, in_package: bool) -> None:
    """cmi5 3.0 / 13.1: every id is a fully qualified IRI (has a scheme)."""
    for kind, value, where in _all_ids(course):
        if not _IRI_RE.match(value):
            raise Cmi5InvalidId(
                key="cmi5_id_not_iri",
                params={"kind": _LABELS[kind].split()[-1], "value": value},
                file=file,
                element=where,
                rule="cmi5 3.0: IRIs MUST be fully qualified",
            )


def check_ids_unique(course: Cmi5Course, file: str, in_package: bool) -> None:
    """cmi5 13.1: ids are unique across the course, its objectives, blocks and AUs."""
    seen: dict[str, str] = {}
    for kind, value, where in _all_ids(course):
        if value in seen:
            raise Cmi5DuplicateId(
                key="cmi5_id_used_twice",
                params={"value": value, "first": _LABELS[seen[value]], "second": _LABELS[kind]},
                file=file,
                element=where,
                rule="cmi5 13.1: ids MUST be unique within the course structure",
            )
        seen[value] = kind


def check_objective_refs(course: Cmi5Course, file: str, in_package: bool) -> None:
    """cmi5 13.1.2/13.1.4: objective idrefs point at course-level objectives."""
    defined = {o.id for o in course.objectives}
    for node in course.walk():
        for ref in node.objectives:
            if ref not in defined:
                raise Cmi5InvalidReference(
                    key="refers_objective_which_course_does", params={"id": node.id, "ref": ref},
                    file=file,
                    element=f"[@id='{node.id}']/objectives/objective[@idref='{ref}']",
                    rule="cmi5 13.1.3 objectives",
                )


def check_url_params(course: Cmi5Course, file: str, in_package: bool) -> None:
    """cmi5 8.1: an AU url must not carry endpoint/fetch/actor/registration/activityId."""
    for au in course.aus():
        query = au.url.split("#", 1)[0].partition("?")[2]
        names = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
        clash = sorted(names & RESERVED_LAUNCH_PARAMS)
        if clash:
            raise Cmi5UrlParamConflict(
                key="url_au_already_contains_lms", params={"id": au.id, "names": ", ".join(clash)},
                file=file,
                element=f"au[@id='{au.id}']/url",
                rule="cmi5 8.1: launch parameters MUST NOT conflict with the AU url",
            )


def check_urls(course: Cmi5Course, file: str, in_package: bool) -> None:
    """cmi5 14.1/14.2: relative urls only inside a zip; none may leave the package."""
    for au in course.aus():
        where = f"au[@id='{au.id}']/url"
        if check_web_url(au.url, file=file, element=where) or is_absolute_url(au.url):
            continue
        if not in_package:
            raise Cmi5RelativeUrl(
                key="au_relative_url_but_course", params={"id": au.id, "url": au.url},
                file=file,
                element=where,
                rule="cmi5 14.2: urls MUST be fully qualified without a zip",
            )
        path = file_in_package(au.url) or ""
        normalize_package_path(path, file=file, element=where)


VALIDATION_STEPS: tuple[Callable[[Cmi5Course, str, bool], None], ...] = (
    check_ids_are_iris,
    check_ids_unique,
    check_objective_refs,
    check_url_params,
    check_urls,
)
"""Ordered validation steps; each can be tested alone."""


def parse_cmi5(
    root: etree._Element, *, file: str = MANIFEST_FILE, in_package: bool = True
) -> Cmi5Course:
    """Parse and validate a cmi5 course structure.

    Args:
        root: the ``<courseStructure>`` element.
        file: its path (in the package, or the standalone file's name), for error reports.
        in_package: ``True`` when it came from a zip (relative AU urls allowed; the importer
            then checks that each exists in the zip).

    Returns:
        The validated :class:`Cmi5Course`.

    Raises:
        InvalidManifest: structure errors (no course, no AU, AU without url).
        Cmi5InvalidId, Cmi5DuplicateId, Cmi5InvalidReference, Cmi5UrlParamConflict,
        Cmi5RelativeUrl, Cmi5InvalidValue, ZipSlip: a section 13/14 rule is broken.
    """
    course = _Parser(file).course(root)
    for step in VALIDATION_STEPS:
        step(course, file, in_package)
    logger.debug(
        "parsed cmi5 course structure",
        extra={"action": "package_parse", "aus": len(course.aus())},
    )
    return course
