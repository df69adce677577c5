"""The runtime's public face: attempts, commits and navigation (DESIGN.md §3, §5.5, §5.6).

Pure of Flask: the web layer authenticates the request and calls these functions. The work is
split by responsibility:

* ``lti_tool.runtime.attempts``    — open/resume an attempt, the player view (menu and buttons);
* ``lti_tool.runtime.sessions``    — start an item's session through its delivery;
* ``lti_tool.runtime.commits``     — one commit: values, outcome, rollup, hooks, refreshed menu;
* ``lti_tool.runtime.navigation``  — a navigation request, in one transaction;
* ``lti_tool.runtime.deliveries``  — the delivery registry keyed by standard (what each standard
  brings: session start, commit and outcome, player page); ``scorm_delivery`` holds its SCORM
  entries;
* ``lti_tool.runtime.structure``   — a version's items and activity tree (cached by checksum);
* ``lti_tool.runtime.store``       — the runtime's SQL (registrations, attempts, SCO states).

This module re-exports their public names, so callers keep one import.
"""

from __future__ import annotations

from lti_tool.runtime.attempts import (
    OpenedAttempt,
    course_reference,
    open_and_start,
    open_attempt,
    reopen_and_start,
    reopen_attempt,
)
from lti_tool.runtime.commits import MAX_CHANGES, CommitReply, commit
from lti_tool.runtime.deliveries import Deliveries, Delivery, DeliveryKind, default_deliveries, deliveries
from lti_tool.runtime.navigation import NavDecision, navigate
from lti_tool.runtime.scorm_delivery import launch_settings
from lti_tool.runtime.sessions import DEFAULT_LEARNER_NAME, ItemSession, start_item_session
from lti_tool.runtime.structure import ASSET, PlayerItem, activity_tree, manifest_items, player_items

#: Deprecated alias (the ADL CTS runner's import): the manifest's launch settings of a SCO.
_initial_kwargs = launch_settings

__all__ = [
    "ASSET",
    "DEFAULT_LEARNER_NAME",
    "MAX_CHANGES",
    "CommitReply",
    "Deliveries",
    "Delivery",
    "DeliveryKind",
    "ItemSession",
    "NavDecision",
    "OpenedAttempt",
    "PlayerItem",
    "activity_tree",
    "commit",
    "course_reference",
    "default_deliveries",
    "deliveries",
    "launch_settings",
    "manifest_items",
    "navigate",
    "open_and_start",
    "open_attempt",
    "player_items",
    "reopen_and_start",
    "reopen_attempt",
    "start_item_session",
]
