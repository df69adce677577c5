"""Reconciliation (``cbsi-connect sync verify``): do the gradebooks hold what we delivered?

For every delivered grade, read the line item's Results (AGS 2.0 §3.3) and compare. A platform
may rescale to its own grade maximum (Moodle stores ``scoreGiven × grademax / scoreMaximum``), so
results are compared as ratios ``resultScore / resultMaximum`` against ``scoreGiven /
scoreMaximum``. A teacher override in the gradebook also shows up as a mismatch: the report is for
a human to judge, not an automatic resend.
"""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from dataclasses import dataclass

from sync.ags import AgsClient
from sync.errors import SyncError
from sync.model import OutboxItem, OutboxStatus
from sync.ports import OutboxStore, PlatformDirectory

logger = logging.getLogger(__name__)


class MismatchKind(enum.StrEnum):
    """Why a delivered grade does not match the gradebook."""

    MISSING = "missing"  # no result (or an empty one) for the learner
    DIFFERENT = "different"  # a different score
    UNREADABLE = "unreadable"  # the results could not be read (message says why)


@dataclass(frozen=True, kw_only=True)
class Mismatch:
    """One finding of ``verify_delivered``."""

    kind: MismatchKind
    outbox_id: int | None
    platform_key: str
    line_item_url: str
    user_id: str | None
    expected_ratio: float | None = None
    actual_ratio: float | None = None
    message: str = ""


def _ratio(score: object, maximum: object) -> float | None:
    if not isinstance(score, int | float) or not isinstance(maximum, int | float) or maximum <= 0:
        return None
    return float(score) / float(maximum)


def verify_delivered(
    store: OutboxStore,
    platforms: PlatformDirectory,
    ags: AgsClient,
    *,
    platform_key: str | None = None,
    tolerance: float = 0.0005,
) -> list[Mismatch]:
    """Compare delivered grades with the platforms' Results.

    Args:
        store: the outbox.
        platforms: platform registrations.
        ags: AGS client (needs the ``result.readonly`` scope).
        platform_key: only this platform.
        tolerance: allowed difference of the score ratios.

    Returns:
        Every mismatch found (empty: all delivered grades are in the gradebooks).
    """
    groups: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
    for item in store.list_items(platform_key=platform_key, statuses=[OutboxStatus.DELIVERED]):
        upd = item.update
        if item.grade_delivered and upd.is_grade and upd.line_item.url:
            groups[(upd.platform_key, upd.line_item.url)].append(item)
    findings: list[Mismatch] = []
    for (pkey, url), items in sorted(groups.items()):
        try:
            results = ags.get_results(platforms.get_platform(pkey), url)
        except SyncError as exc:
            findings.append(
                Mismatch(
                    kind=MismatchKind.UNREADABLE,
                    outbox_id=None,
                    platform_key=pkey,
                    line_item_url=url,
                    user_id=None,
                    message=f"{exc.code}: {exc.message}",
                )
            )
            continue
        by_user = {str(r.get("userId")): r for r in results}
        for item in items:
            upd = item.update
            expected = _ratio(upd.score_given, upd.score_maximum)
            result = by_user.get(upd.user_id)
            actual = (
                None
                if result is None
                else _ratio(result.get("resultScore"), result.get("resultMaximum") or 1)
            )
            if actual is None:
                kind: MismatchKind | None = MismatchKind.MISSING
            elif expected is None or abs(actual - expected) > tolerance:
                kind = MismatchKind.DIFFERENT
            else:
                kind = None
            if kind is not None:
                findings.append(
                    Mismatch(
                        kind=kind,
                        outbox_id=item.id,
                        platform_key=pkey,
                        line_item_url=url,
                        user_id=upd.user_id,
                        expected_ratio=expected,
                        actual_ratio=actual,
                    )
                )
    logger.info(
        "verification finished",
        extra={"action": "verify", "groups": len(groups), "mismatches": len(findings)},
    )
    return findings
