"""The delivery registry: what each standard brings to the runtime, keyed by standard.

A **delivery** is one way of playing content: SCORM 1.2 SCOs, SCORM 2004 SCOs, assets (content
without a runtime inside a SCORM course), xAPI activities, cmi5 AUs. The launch, the player page
and the commit (outcome) path look the delivery up here and call what it provides; they have no
``if standard == ...`` of their own. A new standard is a new entry, not a new branch.

What an entry provides (:class:`Delivery`):

* ``standard``: the catalogue standard it plays as a whole course (``Course.standard``), or None
  for an item-only delivery (``asset``). The launch refuses a course whose standard has no
  playable entry with ``standard_not_playable``.
* ``stored_as``: the key of its sessions in ``sco_states.cmi_version`` (``"1.2"``, ``"2004"``,
  ``"asset"``): the commit path finds the delivery of a stored session by it.
* ``runtime``: the data model the player page loads for it (``"1.2"``/``"2004"``: the tables
  script and ``runtime.js``), None when the page wires no runtime API; ``player_template``: the
  page that plays it.
* ``start(SessionStart) -> dict``: how a session of one item starts or resumes: the state
  document it begins with (from the previous session's stored state, which it may continue).
* ``commit(CommitInput) -> Committed``: how one commit is applied and the item's outcome
  (:class:`scorm.outcome.Outcome`) derived from it.
* ``rolls_up_by_sequencing``: the attempt's outcome is the sequencing root's (SCORM 2004).

An entry with ``start``/``commit`` None is known but **not playable yet**. The cmi5 AU and xAPI
activity entries (``runtime/cmi5_delivery.py``, ``runtime/xapi_delivery.py``) have no runtime
API: their page asks for a launch URL and the content reports to the built-in LRS.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lti_tool.runtime.errors import StandardNotPlayable
from lti_tool.services import Services
from scorm.outcome import Outcome
from scorm.packaging.scorm_manifest import Item
from scorm.sequencing import ActivityTree


class DeliveryKind(StrEnum):
    """The registry's keys."""

    SCORM12 = "scorm12"
    SCORM2004 = "scorm2004"
    ASSET = "asset"
    XAPI_ACTIVITY = "xapi_activity"
    CMI5_AU = "cmi5_au"


@dataclass(frozen=True, kw_only=True)
class SessionStart:
    """What a delivery gets to start a session of one item.

    Attributes:
        learner_id / learner_name: who plays (as the data model carries them).
        item: the item's manifest entry (None when the manifest has none of that id).
        stored: the state document the item's previous session left (None: first session).
        stored_open: that session never ended (closed tab, dropped connection).
        tree / sequencing: the attempt's activity tree and sequencing state (None/empty without).
        shared_data: the item's ``adl.data`` maps with their stores and permissions (SCORM 2004 4th).
    """

    learner_id: str
    learner_name: str
    item_id: str
    item: Item | None = None
    stored: Mapping[str, Any] | None = None
    stored_open: bool = False
    tree: ActivityTree | None = None
    sequencing: Mapping[str, Any] | None = None
    shared_data: tuple[tuple[str, str | None, bool, bool], ...] = ()


@dataclass(frozen=True, kw_only=True)
class CommitInput:
    """One commit of one item's session, as the delivery sees it."""

    state: Mapping[str, Any]
    stored_as: str
    changes: Mapping[str, Any]
    session_open: bool
    terminate: bool
    unloaded: bool
    asset_completed: bool
    previous_outcome: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Committed:
    """What a commit made: the state to store and the item's outcome."""

    state: Mapping[str, Any]
    outcome: Outcome | None  # None: nothing achieved yet (stored as {})
    session_open: bool
    stored: int = 0
    rejected: tuple[dict[str, Any], ...] = ()
    objectives_changed: bool = False  # the SCO wrote objectives (sequencing reads them)
    stored_elements: tuple[str, ...] = ()  # the elements stored (adl.data stores go to the learner's store)


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One registry entry (see the module docstring for what each field is for)."""

    kind: DeliveryKind
    label: str
    standard: str | None
    stored_as: str | None = None
    runtime: str | None = None
    player_template: str = "player/player.html"
    start: Callable[[SessionStart], dict[str, Any]] | None = None
    commit: Callable[[CommitInput], Committed] | None = None
    rolls_up_by_sequencing: bool = False

    @property
    def playable(self) -> bool:
        """Whether the runtime can start and commit its sessions."""
        return self.start is not None and self.commit is not None


class Deliveries:
    """The registry: entries by kind, by catalogue standard and by stored session key."""

    def __init__(self, entries: Iterable[Delivery]) -> None:
        self._by_kind = {entry.kind: entry for entry in entries}
        self._by_standard = {e.standard: e for e in self._by_kind.values() if e.standard is not None}
        self._by_stored = {e.stored_as: e for e in self._by_kind.values() if e.stored_as is not None}

    def __getitem__(self, kind: DeliveryKind) -> Delivery:
        return self._by_kind[kind]

    def for_course(self, standard: str) -> Delivery:
        """The delivery that plays a course of ``standard``.

        Raises:
            StandardNotPlayable: no entry for the standard, or one that does not play yet.
        """
        entry = self._by_standard.get(standard)
        if entry is None or not entry.playable:
            labels = [e.label for e in self._by_standard.values() if e.playable]
            plays = " and ".join(filter(None, (", ".join(labels[:-1]), labels[-1] if labels else "")))
            raise StandardNotPlayable(f"this course is {standard}; the player plays {plays} packages")
        return entry

    def for_item(self, course: Delivery, item_kind: str) -> Delivery:
        """The delivery of one launchable item of a ``course`` course (an asset has its own)."""
        if item_kind == DeliveryKind.ASSET and DeliveryKind.ASSET in self._by_kind:
            return self._by_kind[DeliveryKind.ASSET]
        return course

    def runtimes(self) -> frozenset[str]:
        """The data models the player pages of playable entries load (``Delivery.runtime``)."""
        return frozenset(e.runtime for e in self._by_kind.values() if e.playable and e.runtime is not None)

    def for_stored(self, stored_as: str) -> Delivery:
        """The delivery of a stored session (``sco_states.cmi_version``)."""
        entry = self._by_stored.get(stored_as)
        if entry is None or not entry.playable:  # pragma: no cover - rows are written by entries
            raise StandardNotPlayable(f"this session is {stored_as}, which the runtime no longer plays")
        return entry


@functools.cache
def default_deliveries() -> Deliveries:
    """SCORM 1.2, SCORM 2004, assets, cmi5 AUs and xAPI (TinCan) activities."""
    from lti_tool.runtime import cmi5_delivery, scorm_delivery, xapi_delivery

    return Deliveries(
        (
            scorm_delivery.SCORM12,
            scorm_delivery.SCORM2004,
            scorm_delivery.ASSET_DELIVERY,
            xapi_delivery.XAPI,
            cmi5_delivery.CMI5,
        )
    )


def deliveries(services: Services) -> Deliveries:
    """The application's registry (built once by ``lti_tool.services.build_services``)."""
    return services.deliveries


def lrs_reporting(kind: DeliveryKind, label: str, standard: str, template: str) -> Delivery:
    """An entry for content that keeps its state and reports its results in the LRS (xAPI, cmi5):
    its runtime row holds nothing and the SCORM commit URL refuses it."""

    def start(_start: SessionStart) -> dict[str, Any]:
        return {}

    def commit(_commit: CommitInput) -> Committed:
        raise StandardNotPlayable(f"{label} content reports its results to the LRS, not to the SCORM commit URL")

    return Delivery(
        kind=kind,
        label=label,
        standard=standard,
        stored_as=standard,
        runtime=None,
        player_template=template,
        start=start,
        commit=commit,
    )
