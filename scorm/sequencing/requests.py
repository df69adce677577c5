"""``adl.nav.request`` values (SCORM 2004 RTE 4.4.2) as sent by content, parsed.

Vocabulary: ``continue``, ``previous``, ``choice``, ``jump`` (4th ed.), ``exit``, ``exitAll``,
``abandon``, ``abandonAll``, ``suspendAll``, ``_none_``; ``choice`` and ``jump`` carry their target
as a delimiter prefix: ``{target=ID}choice``. The LMS-only requests ``start`` and ``resumeAll``
(SN 4.4.1) are accepted too, because the player issues them through the same function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from scorm.sequencing.errors import InvalidNavigationRequest

NAV_REQUESTS: Final = frozenset(
    {
        "start",
        "resumeAll",
        "continue",
        "previous",
        "choice",
        "jump",
        "exit",
        "exitAll",
        "abandon",
        "abandonAll",
        "suspendAll",
        "_none_",
    }
)
TARGETED: Final = frozenset({"choice", "jump"})

_TARGET = re.compile(r"^\{target=(?P<target>[^{}]+)\}(?P<request>choice|jump)$")


@dataclass(frozen=True, kw_only=True)
class NavRequest:
    """A parsed navigation request; ``target`` only for choice/jump."""

    request: str
    target: str | None = None


def parse_nav_request(value: str, target: str | None = None) -> NavRequest:
    """Parse an ``adl.nav.request`` value.

    Args:
        value: e.g. ``"continue"`` or ``"{target=sco3}choice"``.
        target: the target when given separately (``navigate(..., "choice", "sco3")``).

    Returns:
        The :class:`NavRequest`.

    Raises:
        InvalidNavigationRequest: not in the vocabulary, a target on a request that takes
            none, or two different targets.
    """
    text = (value or "").strip()
    match = _TARGET.match(text)
    if match:
        embedded = match.group("target").strip()
        if target is not None and target != embedded:
            raise InvalidNavigationRequest(
                key="names_target_but_was_also", params={"value": value, "embedded": embedded, "target": target}
            )
        return NavRequest(request=match.group("request"), target=embedded)
    if text not in NAV_REQUESTS:
        allowed = ", ".join(sorted(NAV_REQUESTS))
        raise InvalidNavigationRequest(
            key="navigation_request_expected_one_choice", params={"value": value, "allowed": allowed}
        )
    if target is not None and text not in TARGETED:
        raise InvalidNavigationRequest(key="does_take_target_got", params={"text": text, "target": target})
    return NavRequest(request=text, target=target)
