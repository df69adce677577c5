"""What the LMS side of cmi5 writes: launch URL, LMS.LaunchData, its own statements, and moveOn.

Framework-free builders (cmi5 spec §8.1, §9.3, §9.6, §10): the runtime stores what they return
in its LRS. Object ids the LMS generates for blocks and the course must differ from the
publisher's ids (§9.4); the caller chooses them (e.g. under the tool's own base URL).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from scorm.packaging.cmi5 import Cmi5AU, Cmi5Block, Cmi5Course, MoveOn
from scorm.xapi.cmi5 import (
    ABANDONED,
    CATEGORY_CMI5,
    EXT_LAUNCH_MODE,
    EXT_LAUNCH_PARAMETERS,
    EXT_LAUNCH_URL,
    EXT_MASTERY,
    EXT_MOVE_ON,
    EXT_SESSION,
    LAUNCHED,
    SATISFIED,
    WAIVED,
    AuRecord,
    LaunchMode,
)

VERB_DISPLAY = {LAUNCHED: "launched", ABANDONED: "abandoned", WAIVED: "waived", SATISFIED: "satisfied"}


def move_on_met(move_on: MoveOn | str, record: AuRecord) -> bool:
    """The AU's moveOn criterion is met (a waived AU always meets it; cmi5 §9.3.9, §13.1.4)."""
    if record.waived:
        return True
    rule = MoveOn(move_on)
    if rule is MoveOn.NOT_APPLICABLE:
        return True
    if rule is MoveOn.PASSED:
        return record.passed
    if rule is MoveOn.COMPLETED:
        return record.completed
    if rule is MoveOn.COMPLETED_AND_PASSED:
        return record.completed and record.passed
    return record.completed or record.passed


def _aus(node: Cmi5Course | Cmi5Block) -> Iterator[Cmi5AU]:
    for child in node.children:
        if isinstance(child, Cmi5AU):
            yield child
        else:
            yield from _aus(child)


def _blocks(node: Cmi5Course | Cmi5Block) -> Iterator[Cmi5Block]:
    for child in node.children:
        if isinstance(child, Cmi5Block):
            yield child
            yield from _blocks(child)


@dataclass(frozen=True)
class Satisfaction:
    """Which blocks (publisher ids) and whether the course are satisfied."""

    blocks: frozenset[str]
    course: bool


def satisfaction(course: Cmi5Course, records: Mapping[str, AuRecord]) -> Satisfaction:
    """Evaluate moveOn for every AU (by publisher id), then blocks and the course (all their AUs)."""

    def met(au: Cmi5AU) -> bool:
        return move_on_met(au.move_on, records.get(au.id, AuRecord()))

    blocks = frozenset(b.id for b in _blocks(course) if all(met(au) for au in _aus(b)))
    return Satisfaction(blocks=blocks, course=all(met(au) for au in _aus(course)))


def lms_statement(
    verb: str,
    *,
    actor: Mapping[str, Any],
    registration: str,
    session_id: str,
    object_id: str,
    publisher_id: str | None,
    timestamp: datetime,
    object_type: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    result: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One cmi5 defined statement the LMS makes (launched, abandoned, waived, satisfied)."""
    grouping = [{"objectType": "Activity", "id": publisher_id}] if publisher_id else []
    activities: dict[str, Any] = {"category": [{"objectType": "Activity", "id": CATEGORY_CMI5}]}
    if grouping:
        activities["grouping"] = grouping
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": dict(actor),
        "verb": {"id": verb, "display": {"en-US": VERB_DISPLAY.get(verb, verb.rsplit("/", 1)[-1])}},
        "object": {"objectType": "Activity", "id": object_id},
        "context": {
            "registration": registration,
            "contextActivities": activities,
            "extensions": {EXT_SESSION: session_id, **dict(extensions or {})},
        },
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
    }
    if object_type:
        statement["object"]["definition"] = {"type": object_type}
    if result:
        statement["result"] = dict(result)
    return statement


def launched_statement(
    au: Cmi5AU,
    *,
    actor: Mapping[str, Any],
    registration: str,
    session_id: str,
    activity_id: str,
    launch_url: str,
    launch_mode: LaunchMode,
    timestamp: datetime,
) -> dict[str, Any]:
    """The ``launched`` statement recorded before the AU opens (§9.3.1, §9.6.3.2–9.6.3.7)."""
    extensions: dict[str, Any] = {
        EXT_LAUNCH_MODE: launch_mode.value,
        EXT_LAUNCH_URL: launch_url,
        EXT_MOVE_ON: MoveOn(au.move_on).value,
    }
    if au.mastery_score is not None:
        extensions[EXT_MASTERY] = au.mastery_score
    if au.launch_parameters:
        extensions[EXT_LAUNCH_PARAMETERS] = au.launch_parameters
    return lms_statement(
        LAUNCHED,
        actor=actor,
        registration=registration,
        session_id=session_id,
        object_id=activity_id,
        publisher_id=au.id,
        timestamp=timestamp,
        extensions=extensions,
    )


def iso_duration(seconds: float) -> str:
    """``PT1H2M3.5S``-style ISO 8601 duration of a non-negative number of seconds."""
    total = max(0.0, float(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{int(hours)}H"
    if minutes:
        text += f"{int(minutes)}M"
    return text + (f"{secs:.2f}".rstrip("0").rstrip(".") or "0") + "S"


def launch_data(
    au: Cmi5AU,
    *,
    session_id: str,
    launch_mode: LaunchMode,
    return_url: str | None,
    entitlement_alternate: str | None = None,
) -> dict[str, Any]:
    """The ``LMS.LaunchData`` state document written before the launch (§10.2)."""
    doc: dict[str, Any] = {
        "contextTemplate": {
            "contextActivities": {"grouping": [{"objectType": "Activity", "id": au.id}]},
            "extensions": {EXT_SESSION: session_id},
        },
        "launchMode": launch_mode.value,
        "moveOn": MoveOn(au.move_on).value,
    }
    if au.mastery_score is not None:
        doc["masteryScore"] = au.mastery_score
    if au.launch_parameters:
        doc["launchParameters"] = au.launch_parameters
    if return_url:
        doc["returnURL"] = return_url
    if au.entitlement_key:
        doc["entitlementKey"] = {"courseStructure": au.entitlement_key}
        if entitlement_alternate:
            doc["entitlementKey"]["alternate"] = entitlement_alternate
    return doc


def launch_url(
    au_url: str,
    *,
    endpoint: str,
    fetch: str,
    actor: Mapping[str, Any],
    registration: str,
    activity_id: str,
) -> str:
    """The AU's URL with the five cmi5 launch parameters appended to its own query (§8.1)."""
    parts = urlsplit(au_url)
    params = urlencode(
        {
            "endpoint": endpoint,
            "fetch": fetch,
            "actor": json.dumps(dict(actor), separators=(",", ":")),
            "registration": registration,
            "activityId": activity_id,
        }
    )
    query = f"{parts.query}&{params}" if parts.query else params
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

