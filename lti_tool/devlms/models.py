"""The development LMS's tables: its resource links, gradebook columns and received scores.

They have their own declarative base (``DevBase``) and their own migrations
(``lti_tool/devlms/migrations``, version table ``devlms_alembic_version``), so the tool's schema
(``lti_tool.storage.models.Base``) never names them and a production database never holds them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lti_tool.storage.models import UtcDateTime, utcnow


class DevBase(DeclarativeBase):
    """Declarative base of the development LMS's tables (the same column types as the tool's)."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class DevResourceLink(DevBase):
    """Development platform: a resource link (activity) in the demo course."""

    __tablename__ = "devplatform_resource_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    line_item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DevLineItem(DevBase):
    """Development platform: a gradebook column (AGS line item)."""

    __tablename__ = "devplatform_line_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(255))
    score_maximum: Mapped[float] = mapped_column(default=100.0)
    resource_link_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DevScore(DevBase):
    """Development platform: a score received from the tool through AGS."""

    __tablename__ = "devplatform_scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("devplatform_line_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    score_given: Mapped[float | None] = mapped_column(nullable=True)
    score_maximum: Mapped[float | None] = mapped_column(nullable=True)
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    timestamp: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
