"""The development LMS's queries: its resource links, line items and scores (one module, no SQL in views).

Rows come back detached (sessions do not expire on commit), ready for templates and JSON.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.devlms.models import DevLineItem, DevResourceLink, DevScore
from lti_tool.storage import Database

#: Line item filters of the AGS container (query parameter -> column).
LINE_ITEM_FILTERS = {
    "resource_link_id": DevLineItem.resource_link_id,
    "resource_id": DevLineItem.resource_id,
    "tag": DevLineItem.tag,
}


def link_id_text(link_id: int) -> str:
    """The ``resource_link.id`` the platform sends for one of its links."""
    return f"dev-link-{link_id}"


def links(db: Database, sample_course_key: str) -> list[DevResourceLink]:
    """The course's resource links, oldest first; the sample activity is made on first use."""
    with db.session() as s:
        if s.scalars(select(DevResourceLink.id).limit(1)).first() is None:
            item = DevLineItem(label="Sample activity", score_maximum=100.0, resource_id="sample", tag="grade")
            s.add(item)
            s.flush()
            link = DevResourceLink(
                title="Sample activity", url=None, custom={"course": sample_course_key}, line_item_id=item.id
            )
            s.add(link)
            s.flush()
            item.resource_link_id = link_id_text(link.id)
    with db.session() as s:
        return list(s.scalars(select(DevResourceLink).order_by(DevResourceLink.id)))


def resource_link(db: Database, link_id: Any) -> DevResourceLink | None:
    """One resource link, or None."""
    if not isinstance(link_id, int):
        return None
    with db.session() as s:
        return s.get(DevResourceLink, link_id)


def add_deep_links(db: Database, content_items: Iterable[Any]) -> list[str]:
    """Create the ``ltiResourceLink`` items of a deep linking response (with their line items); their titles."""
    created: list[str] = []
    with db.session() as s:
        for item in content_items:
            if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
                continue
            link = DevResourceLink(
                title=str(item.get("title") or "Untitled"),
                url=item.get("url") if isinstance(item.get("url"), str) else None,
                custom=item.get("custom") if isinstance(item.get("custom"), dict) else {},
            )
            s.add(link)
            s.flush()
            li = item.get("lineItem")
            if isinstance(li, dict):
                line_item = DevLineItem(
                    label=str(li.get("label") or link.title),
                    score_maximum=float(li.get("scoreMaximum") or 100),
                    resource_id=li.get("resourceId"),
                    tag=li.get("tag"),
                    resource_link_id=link_id_text(link.id),
                )
                s.add(line_item)
                s.flush()
                link.line_item_id = line_item.id
            created.append(link.title)
    return created


def line_items(db: Database, filters: Mapping[str, str] | None = None) -> list[DevLineItem]:
    """Line items, oldest first, matching the given ``LINE_ITEM_FILTERS`` values."""
    q = select(DevLineItem).order_by(DevLineItem.id)
    for arg, value in (filters or {}).items():
        q = q.where(LINE_ITEM_FILTERS[arg] == value)
    with db.session() as s:
        return list(s.scalars(q))


def add_line_item(db: Database, data: Mapping[str, Any]) -> DevLineItem:
    """Create a line item from a checked AGS body (``label`` and a numeric ``scoreMaximum``)."""
    with db.session() as s:
        item = DevLineItem(
            label=str(data["label"]),
            score_maximum=float(data["scoreMaximum"]),
            resource_link_id=data.get("resourceLinkId"),
            resource_id=data.get("resourceId"),
            tag=data.get("tag"),
        )
        s.add(item)
        s.flush()
        return item


def line_item(db: Database, item_id: int) -> DevLineItem | None:
    """One line item, or None."""
    with db.session() as s:
        return s.get(DevLineItem, item_id)


def update_line_item(db: Database, item_id: int, data: Mapping[str, Any]) -> DevLineItem | None:
    """Change a line item's label and maximum (those given); None when it does not exist."""
    with db.session() as s:
        item = s.get(DevLineItem, item_id)
        if item is None:
            return None
        if data.get("label"):
            item.label = str(data["label"])
        if isinstance(data.get("scoreMaximum"), int | float):
            item.score_maximum = float(data["scoreMaximum"])
        s.flush()
        return item


def delete_line_item(db: Database, item_id: int) -> bool:
    """Delete a line item and its scores; False when it does not exist."""
    with db.session() as s:
        item = s.get(DevLineItem, item_id)
        if item is None:
            return False
        s.delete(item)
        return True


def parse_timestamp(value: Any) -> datetime | None:
    """An AGS timestamp (ISO 8601 with an offset), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class ScoreOutcome(enum.Enum):
    """What became of a score publish."""

    RECORDED = "recorded"
    NO_LINE_ITEM = "no_line_item"
    NOT_NEWER = "not_newer"


@dataclass(frozen=True, kw_only=True)
class NewScore:
    """A checked AGS score publish."""

    user_id: str
    timestamp: datetime
    data: Mapping[str, Any]


def record_score(db: Database, item_id: int, score: NewScore) -> ScoreOutcome:
    """Store a score unless its timestamp is not newer (1-second resolution) than the user's last one."""
    data = score.data
    with db.session() as s:
        if s.get(DevLineItem, item_id) is None:
            return ScoreOutcome.NO_LINE_ITEM
        last = s.scalars(
            select(DevScore)
            .where(DevScore.line_item_id == item_id, DevScore.user_id == score.user_id)
            .order_by(DevScore.id.desc())
            .limit(1)
        ).first()
        if last is not None:
            last_ts = parse_timestamp(last.timestamp)
            if last_ts is not None and int(score.timestamp.timestamp()) <= int(last_ts.timestamp()):
                return ScoreOutcome.NOT_NEWER
        given = data.get("scoreGiven")
        maximum = data.get("scoreMaximum")
        s.add(
            DevScore(
                line_item_id=item_id,
                user_id=score.user_id,
                score_given=float(given) if isinstance(given, int | float) else None,
                score_maximum=float(maximum)
                if isinstance(maximum, int | float)
                else (1.0 if given is not None else None),
                activity_progress=str(data["activityProgress"]),
                grading_progress=str(data["gradingProgress"]),
                comment=data.get("comment") if isinstance(data.get("comment"), str) else None,
                timestamp=str(data["timestamp"]),
            )
        )
    return ScoreOutcome.RECORDED


def _latest_scores(s: Session) -> dict[tuple[int, str], DevScore]:
    latest: dict[tuple[int, str], DevScore] = {}
    for sc in s.scalars(select(DevScore).order_by(DevScore.id)):
        latest[(sc.line_item_id, sc.user_id)] = sc
    return latest


def latest_scores(db: Database) -> dict[tuple[int, str], DevScore]:
    """The latest score per (line item, user)."""
    with db.session() as s:
        return _latest_scores(s)


def gradebook(db: Database) -> tuple[list[DevLineItem], dict[tuple[int, str], DevScore]]:
    """Every line item and the latest score per (line item, user), read in one unit of work."""
    with db.session() as s:
        return list(s.scalars(select(DevLineItem).order_by(DevLineItem.id))), _latest_scores(s)
