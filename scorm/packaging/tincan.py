"""xAPI / TinCan ``tincan.xml`` parsing (Rustici "TinCan launch" packaging convention).

The file lists activities; the ones with a ``<launch>`` element are launchable. The first
launchable activity is the course's launch activity (its id becomes the ``activity_id`` launch
parameter; the LMS adds endpoint/auth/actor/registration at launch time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lxml import etree

from scorm.packaging.errors import InvalidManifest
from scorm.packaging.model import LangString, Launchable, LaunchKind, Standard, pick_lang
from scorm.packaging.urls import (
    check_web_url,
    file_in_package,
    is_absolute_url,
    normalize_package_path,
    split_url,
)
from scorm.packaging.xmlsafe import local_name, text_of

logger = logging.getLogger(__name__)

MANIFEST_FILE = "tincan.xml"
NS_TINCAN = "http://projecttincan.com/tincan.xsd"


@dataclass(frozen=True, kw_only=True)
class TinCanActivity:
    """One ``<activity>`` of tincan.xml."""

    id: str
    type: str | None = None
    name: tuple[LangString, ...] = ()
    description: tuple[LangString, ...] = ()
    launch: str | None = None
    launch_lang: str | None = None

    @property
    def title(self) -> str:
        """Display name (English preferred), falling back to the id."""
        return pick_lang(self.name) or self.id


@dataclass(frozen=True, kw_only=True)
class TinCanManifest:
    """A parsed tincan.xml."""

    standard: Standard = Standard.XAPI
    edition: int | None = None
    activities: tuple[TinCanActivity, ...] = ()

    @property
    def launch_activity(self) -> TinCanActivity:
        """The activity the course starts with (the first one with a launch element)."""
        for activity in self.activities:
            if activity.launch:
                return activity
        raise IndexError("no launchable activity")  # parse_tincan guarantees one exists

    @property
    def title(self) -> str:
        """Course title: the launch activity's name."""
        return self.launch_activity.title

    def launchables(self) -> tuple[Launchable, ...]:
        """Every activity with a launch URL, in document order."""
        return tuple(
            Launchable(
                identifier=a.id,
                title=a.title,
                launch_url=a.launch,
                kind=LaunchKind.XAPI_ACTIVITY,
            )
            for a in self.activities
            if a.launch
        )

    def required_files(self) -> tuple[tuple[str, str], ...]:
        """Package files the launch URLs need, as ``(path, element locator)`` pairs."""
        needed = []
        for activity in self.activities:
            if activity.launch:
                path = file_in_package(activity.launch)
                if path:
                    needed.append((path, f"activity[@id='{activity.id}']/launch"))
        return tuple(needed)


def _langstrings(parent: etree._Element, name: str) -> tuple[LangString, ...]:
    result = []
    for el in parent:
        if isinstance(el.tag, str) and local_name(el) == name:
            value = text_of(el)
            if value:
                result.append(LangString(lang=el.get("lang"), value=value))
    return tuple(result)


def parse_tincan(root: etree._Element, *, file: str = MANIFEST_FILE) -> TinCanManifest:
    """Parse a ``tincan.xml`` root element.

    Args:
        root: the ``<tincan>`` element.
        file: path in the package, for error reports.

    Returns:
        The typed manifest.

    Raises:
        InvalidManifest: wrong root, an activity without id, or no launchable activity.
        ZipSlip: a launch path climbs outside the package.
    """
    if local_name(root) != "tincan":
        raise InvalidManifest(
            key="root_element_tincan", params={"file": file, "local_name": local_name(root)},
            file=file,
            element="/",
            rule="TinCan packaging: tincan root element",
        )
    activities: list[TinCanActivity] = []
    container = next(
        (c for c in root if isinstance(c.tag, str) and local_name(c) == "activities"), None
    )
    for index, el in enumerate(
        (c for c in (container if container is not None else ()) if isinstance(c.tag, str)),
        start=1,
    ):
        if local_name(el) != "activity":
            continue
        activity_id = (el.get("id") or "").strip()
        where = f"tincan/activities/activity[{index}]"
        if not activity_id or not is_absolute_url(activity_id):
            raise InvalidManifest(
                key="activity_id_must_absolute_iri", params={"activity_id": activity_id},
                file=file,
                element=f"{where}/@id",
                rule="xAPI 1.0.3 activity id is an IRI",
            )
        launch_el = next(
            (c for c in el if isinstance(c.tag, str) and local_name(c) == "launch"), None
        )
        launch = text_of(launch_el)
        if launch and check_web_url(launch, file=file, element=f"{where}/launch"):
            pass  # an http(s) activity outside the package (xAPI allows it); never fetched
        elif launch and not is_absolute_url(launch):
            path = split_url(launch)[0]
            normalized = normalize_package_path(path, file=file, element=f"{where}/launch")
            launch = normalized + launch[len(path) :]
        activities.append(
            TinCanActivity(
                id=activity_id,
                type=(el.get("type") or "").strip() or None,
                name=_langstrings(el, "name"),
                description=_langstrings(el, "description"),
                launch=launch,
                launch_lang=launch_el.get("lang") if launch_el is not None else None,
            )
        )
    if not any(a.launch for a in activities):
        raise InvalidManifest(
            key="activity_launch_element_there_nothing", params={"file": file},
            file=file,
            element="tincan/activities",
            rule="TinCan packaging: a launchable activity",
        )
    return TinCanManifest(activities=tuple(activities))
