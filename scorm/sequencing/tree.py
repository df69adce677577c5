"""The immutable activity tree (SN 1.3 / 3.1): what the engine executes.

:func:`build_tree` turns a parsed :class:`~scorm.packaging.ScormManifest` into an
:class:`ActivityTree`. Each :class:`Activity` holds its sequencing definition as parsed, the one
IMS Simple Sequencing model of :mod:`scorm.sequencing.definition` (no copy of it here): the
sequencing attributes the engine reads on an activity (``choice``, ``pre_rules``,
``rollup_rules``, ``tracked`` ...) are read-only views into that definition. Only what the
engine needs in another form is derived once, at build time: the objectives with their
imsss and adlseq global-objective maps merged (:class:`ObjectiveDef`), the attempt limit
(0 means none) and the duration limit in seconds, and the parsed SCORM 1.2 prerequisites.

Vocabulary values are the packaging ``StrEnum`` members, which compare and hash equal to
their strings (the engine compares them with ``"skip"``, ``"all"`` ...).

The root activity is the default ``<organization>`` (SN 3.1: the organization is the root of the
activity tree); its id is the organization identifier.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from scorm.cmi.durations import CS_PER_SECOND, DurationError, parse_duration_2004
from scorm.sequencing.definition import (
    DEFAULT_SEQUENCING,
    AdlMapInfo,
    ControlMode,
    MapInfo,
    Objective,
    RollupCondition,
    RollupRule,
    Sequencing,
)
from scorm.sequencing.definition import SequencingRule as Rule
from scorm.sequencing.errors import InvalidPrerequisites, UnknownActivity
from scorm.sequencing.prereq12 import Expr, parse_prerequisites, referenced_items

if TYPE_CHECKING:
    from scorm.packaging.cam_model import CompletionThreshold, Item, Organization, ScormManifest

logger = logging.getLogger(__name__)

PRIMARY_KEY = "_primary"
"""Objective key used for a primary objective without an ``objectiveID``."""

# The engine imports the rule classes from here (``Rule`` is the model's SequencingRule).
__all__ = [
    "PRIMARY_KEY",
    "Activity",
    "ActivityTree",
    "ObjectiveDef",
    "ObjectiveMap",
    "RollupCondition",
    "RollupRule",
    "Rule",
    "build_tree",
]


@dataclass(frozen=True, kw_only=True)
class ObjectiveMap:
    """What one objective reads from and writes to one global objective.

    Derived, not parsed: SN 5.1.6.3 ``imsss:mapInfo`` (satisfied status, normalized measure) and
    the 4th edition's SN 5.1.6.4 ``adlseq:mapInfo`` (raw/min/max score, completion, progress)
    are two elements of the definition; the engine reads one record per (objective, target).
    """

    target: str
    read_satisfied: bool = True
    read_measure: bool = True
    write_satisfied: bool = False
    write_measure: bool = False
    read_completion: bool = False
    read_progress: bool = False
    write_completion: bool = False
    write_progress: bool = False
    read_raw: bool = False
    read_min: bool = False
    read_max: bool = False
    write_raw: bool = False
    write_min: bool = False
    write_max: bool = False

    @classmethod
    def of_imsss(cls, m: MapInfo) -> ObjectiveMap:
        """The record of an ``imsss:mapInfo``."""
        return cls(
            target=m.target_objective_id,
            read_satisfied=m.read_satisfied_status,
            read_measure=m.read_normalized_measure,
            write_satisfied=m.write_satisfied_status,
            write_measure=m.write_normalized_measure,
        )

    @classmethod
    def of_adlseq(cls, m: AdlMapInfo) -> ObjectiveMap:
        """The record of an ``adlseq:mapInfo`` (it never reads or writes satisfaction)."""
        return cls(
            target=m.target_objective_id,
            read_satisfied=False,
            read_measure=False,
            read_completion=m.read_completion_status,
            read_progress=m.read_progress_measure,
            write_completion=m.write_completion_status,
            write_progress=m.write_progress_measure,
            read_raw=m.read_raw_score,
            read_min=m.read_min_score,
            read_max=m.read_max_score,
            write_raw=m.write_raw_score,
            write_min=m.write_min_score,
            write_max=m.write_max_score,
        )

    @property
    def reads(self) -> bool:
        return (
            self.read_satisfied
            or self.read_measure
            or self.read_completion
            or self.read_progress
            or self.read_raw
            or self.read_min
            or self.read_max
        )

    @property
    def writes(self) -> bool:
        return (
            self.write_satisfied
            or self.write_measure
            or self.write_completion
            or self.write_progress
            or self.write_raw
            or self.write_min
            or self.write_max
        )


_IMPLICIT_PRIMARY = Objective(objective_id=None, is_primary=True)


@dataclass(frozen=True, kw_only=True)
class ObjectiveDef:
    """An activity objective as the engine uses it: the parsed :class:`Objective` plus its maps.

    ``key`` is the objective id or :data:`PRIMARY_KEY`; ``maps`` merges the objective's
    ``imsss:mapInfo`` with the ``adlseq:objective`` of the same id (SN 5.1.6.4).
    """

    definition: Objective
    maps: tuple[ObjectiveMap, ...] = ()

    @property
    def key(self) -> str:
        return self.definition.objective_id or PRIMARY_KEY

    @property
    def primary(self) -> bool:
        return self.definition.is_primary

    @property
    def satisfied_by_measure(self) -> bool:
        return self.definition.satisfied_by_measure

    @property
    def min_measure(self) -> float:
        return self.definition.min_normalized_measure


def _view(path: str, doc: str) -> Any:
    """A read-only attribute of :class:`Activity` that reads its definition at ``path``."""
    return property(attrgetter(path), doc=doc)


@dataclass(frozen=True, kw_only=True)
class Activity:
    """One activity of the tree: structure, launch data and its sequencing definition.

    ``sequencing`` is the parsed IMS SS definition (SN 5.1); ``completion_threshold`` the
    ``adlcp:completionThreshold`` (RTE 4.2.4.1). The sequencing attributes below are views into
    them; ``objectives``, ``attempt_limit``, ``attempt_duration_limit`` and ``prerequisites``
    are derived once when the tree is built.
    """

    id: str
    title: str
    parent: str | None
    children: tuple[str, ...] = ()
    depth: int = 0
    visible: bool = True
    kind: str = "cluster"  # "sco" | "asset" | "cluster"
    url: str | None = None
    sequencing: Sequencing = DEFAULT_SEQUENCING
    completion_threshold: CompletionThreshold | None = None
    # derived from the definition
    objectives: tuple[ObjectiveDef, ...] = ()  # SN 5.1.6, maps merged
    attempt_limit: int | None = None  # SN 5.1.4; 0 ("no limit") is None
    attempt_duration_limit: float | None = None  # SN 5.1.4, in seconds
    # SCORM 1.2 prerequisites (CAM 2.3.2.5.2), parsed
    prerequisites: Expr | None = None
    # adlnav:presentation/navigationInterface/hideLMSUI (CAM 4th ed.): player buttons to hide
    hide_lms_ui: tuple[str, ...] = ()

    # control mode (SN 5.1.1)
    choice = _view("sequencing.control_mode.choice", "controlMode@choice")
    choice_exit = _view("sequencing.control_mode.choice_exit", "controlMode@choiceExit")
    flow = _view("sequencing.control_mode.flow", "controlMode@flow")
    forward_only = _view("sequencing.control_mode.forward_only", "controlMode@forwardOnly")
    use_current_attempt_objective_info = _view(
        "sequencing.control_mode.use_current_attempt_objective_info",
        "controlMode@useCurrentAttemptObjectiveInfo",
    )
    use_current_attempt_progress_info = _view(
        "sequencing.control_mode.use_current_attempt_progress_info",
        "controlMode@useCurrentAttemptProgressInfo",
    )
    # rules (SN 5.1.2)
    pre_rules = _view("sequencing.sequencing_rules.pre_condition", "preConditionRule list")
    exit_rules = _view("sequencing.sequencing_rules.exit_condition", "exitConditionRule list")
    post_rules = _view("sequencing.sequencing_rules.post_condition", "postConditionRule list")
    # rollup (SN 5.1.5)
    rollup_objective_satisfied = _view(
        "sequencing.rollup_rules.rollup_objective_satisfied", "rollupRules@rollupObjectiveSatisfied"
    )
    rollup_progress_completion = _view(
        "sequencing.rollup_rules.rollup_progress_completion", "rollupRules@rollupProgressCompletion"
    )
    measure_weight = _view("sequencing.rollup_rules.objective_measure_weight", "rollupRules@objectiveMeasureWeight")
    rollup_rules = _view("sequencing.rollup_rules.rules", "rollupRule list")
    required_for_satisfied = _view("sequencing.rollup_considerations.required_for_satisfied", "requiredForSatisfied")
    required_for_not_satisfied = _view(
        "sequencing.rollup_considerations.required_for_not_satisfied", "requiredForNotSatisfied"
    )
    required_for_completed = _view("sequencing.rollup_considerations.required_for_completed", "requiredForCompleted")
    required_for_incomplete = _view("sequencing.rollup_considerations.required_for_incomplete", "requiredForIncomplete")
    measure_satisfaction_if_active = _view(
        "sequencing.rollup_considerations.measure_satisfaction_if_active",
        "measureSatisfactionIfActive",
    )
    # randomization (SN 5.1.8)
    randomization_timing = _view("sequencing.randomization_controls.randomization_timing", "randomizationTiming")
    select_count = _view("sequencing.randomization_controls.select_count", "selectCount")
    reorder_children = _view("sequencing.randomization_controls.reorder_children", "reorderChildren")
    selection_timing = _view("sequencing.randomization_controls.selection_timing", "selectionTiming")
    # delivery controls (SN 5.1.9)
    tracked = _view("sequencing.delivery_controls.tracked", "deliveryControls@tracked")
    completion_set_by_content = _view(
        "sequencing.delivery_controls.completion_set_by_content", "completionSetByContent"
    )
    objective_set_by_content = _view("sequencing.delivery_controls.objective_set_by_content", "objectiveSetByContent")
    # constrained choice (SN 5.1.10)
    prevent_activation = _view("sequencing.constrained_choice_considerations.prevent_activation", "preventActivation")
    constrain_choice = _view("sequencing.constrained_choice_considerations.constrain_choice", "constrainChoice")

    # completion threshold (CAM adlcp:completionThreshold, RTE 4.2.4.1)
    @property
    def completed_by_measure(self) -> bool:
        ct = self.completion_threshold
        return ct is not None and ct.completed_by_measure

    @property
    def min_progress_measure(self) -> float:
        ct = self.completion_threshold
        return 1.0 if ct is None else ct.min_progress_measure

    @property
    def progress_weight(self) -> float:
        ct = self.completion_threshold
        return 1.0 if ct is None else ct.progress_weight

    @property
    def is_leaf(self) -> bool:
        """``True`` for a launchable (childless) activity."""
        return not self.children

    @property
    def primary(self) -> ObjectiveDef:
        """The primary objective (SN 5.1.6: every activity has one, possibly implicit)."""
        for objective in self.objectives:
            if objective.primary:
                return objective
        return ObjectiveDef(definition=_IMPLICIT_PRIMARY)

    def objective(self, key: str | None) -> ObjectiveDef | None:
        """Return the objective with this id (``None``/unknown -> primary / ``None``)."""
        if key is None:
            return self.primary
        for objective in self.objectives:
            if objective.key == key:
                return objective
        return None


@dataclass(frozen=True, kw_only=True)
class ActivityTree:
    """The whole activity tree; ``order`` is the pre-order of every activity id."""

    standard: str  # "scorm12" | "scorm2004"
    edition: int | None
    title: str
    root: str
    order: tuple[str, ...]
    activities: Mapping[str, Activity] = field(default_factory=dict)
    objectives_global_to_system: bool = True
    warnings: tuple[str, ...] = ()

    def get(self, activity_id: str) -> Activity:
        """Return the activity, raising :class:`UnknownActivity` for a foreign id."""
        try:
            return self.activities[activity_id]
        except KeyError as exc:
            raise UnknownActivity(
                key="activity_part_course", params={"activity_id": activity_id, "title": self.title}
            ) from exc

    def __contains__(self, activity_id: object) -> bool:
        return activity_id in self.activities

    def path_to_root(self, activity_id: str) -> list[str]:
        """``[activity, parent, ..., root]``."""
        path = [activity_id]
        parent = self.activities[activity_id].parent
        while parent is not None:
            path.append(parent)
            parent = self.activities[parent].parent
        return path

    def leaves(self) -> Iterator[Activity]:
        """Leaf activities in course order."""
        for activity_id in self.order:
            activity = self.activities[activity_id]
            if activity.is_leaf:
                yield activity

    def index(self, activity_id: str) -> int:
        """Pre-order position (used for "forward of" comparisons, SN 4.6)."""
        return self._positions()[activity_id]

    def _positions(self) -> Mapping[str, int]:
        cached = self.__dict__.get("_pos")
        if cached is None:
            cached = {a: i for i, a in enumerate(self.order)}
            object.__setattr__(self, "_pos", cached)
        return cached


# --- building ----------------------------------------------------------------------------------


def _objectives(seq: Sequencing) -> tuple[ObjectiveDef, ...]:
    adl_maps = {o.objective_id: o.map_info for o in seq.adl_objectives}
    out: list[ObjectiveDef] = []
    for objective in seq.objectives.all():
        maps = [ObjectiveMap.of_imsss(m) for m in objective.map_info]
        # 4th edition adlseq:objective extends the imsss objective of the same id (SN 5.1.6.4).
        maps.extend(ObjectiveMap.of_adlseq(m) for m in adl_maps.get(objective.objective_id or PRIMARY_KEY, ()))
        out.append(ObjectiveDef(definition=objective, maps=tuple(maps)))
    return tuple(out)


def _duration_seconds(text: str | None) -> float | None:
    """attemptAbsoluteDurationLimit (xs:duration, SN 5.1.4) in seconds; ``None`` if absent/bad.

    SPEC COMPLIANCE NOTE: an unreadable duration is ignored (no limit) rather than refusing
    the package, which scorm.packaging already accepted.
    """
    if not text:
        return None
    try:
        seconds = parse_duration_2004(text.strip()) / CS_PER_SECOND
    except DurationError:
        logger.warning("ignoring unreadable attemptAbsoluteDurationLimit %r", text)
        return None
    return seconds if seconds > 0 else None


# SCORM 1.2 has no sequencing: every cluster allows flow and choice (the de-facto LMS behaviour
# the brief asks for); there are no rules, no rollup rules and no objectives maps.
SCORM12_SEQUENCING = Sequencing(
    control_mode=ControlMode(
        choice=True,
        flow=True,
        use_current_attempt_objective_info=False,
        use_current_attempt_progress_info=False,
    )
)


def _definition_fields(
    seq: Sequencing | None, threshold: CompletionThreshold | None, *, scorm12: bool
) -> dict[str, Any]:
    """The :class:`Activity` keyword arguments that come from an activity's definition."""
    if scorm12:
        return {"sequencing": SCORM12_SEQUENCING, "completion_threshold": threshold}
    seq = DEFAULT_SEQUENCING if seq is None else seq
    limit = seq.limit_conditions.attempt_limit
    return {
        "sequencing": seq,
        "completion_threshold": threshold,
        "objectives": _objectives(seq),
        # SN 5.1.4: attemptLimit 0 means "no limit".
        "attempt_limit": limit if limit else None,
        "attempt_duration_limit": _duration_seconds(seq.limit_conditions.attempt_absolute_duration_limit),
    }


def _leaf_kind(item: Item) -> str:
    if not item.is_leaf:
        return "cluster"
    return "sco" if item.scorm_type is not None and item.scorm_type == "sco" else "asset"


def _add_items(
    items: tuple[Item, ...],
    parent: str,
    depth: int,
    *,
    scorm12: bool,
    activities: dict[str, Activity],
    order: list[str],
) -> None:
    """Add ``items`` and their descendants (pre-order into ``order``) under ``parent``."""
    for item in items:
        order.append(item.identifier)
        _add_items(item.children, item.identifier, depth + 1, scorm12=scorm12, activities=activities, order=order)
        activities[item.identifier] = Activity(
            id=item.identifier,
            title=item.title,
            parent=parent,
            children=tuple(c.identifier for c in item.children),
            depth=depth,
            visible=item.is_visible,
            kind=_leaf_kind(item),
            url=item.launch_url if item.is_leaf else None,
            hide_lms_ui=tuple(item.hide_lms_ui),
            **_definition_fields(item.sequencing, item.completion_threshold, scorm12=scorm12),
        )


def _apply_prerequisites(org: Organization, activities: dict[str, Activity]) -> list[str]:
    """Parse SCORM 1.2 prerequisites onto their activities; the warnings for those dropped.

    SPEC COMPLIANCE NOTE: CAM 1.2 says the LMS "shall" honour prerequisites; an expression we
    cannot read (or that names an item that does not exist) would lock the learner out for
    good, so it is treated as absent and reported in ``ActivityTree.warnings`` instead.
    """
    warnings: list[str] = []
    for item in org.walk():
        if not item.prerequisites:
            continue
        try:
            expr = parse_prerequisites(item.prerequisites)
        except InvalidPrerequisites as exc:
            warnings.append(f"{item.identifier}: {exc.message} (ignored)")
            continue
        missing = sorted(referenced_items(expr) - activities.keys())
        if missing:
            warnings.append(
                f"{item.identifier}: prerequisites name unknown item(s) {', '.join(missing)} (ignored)"
            )
            continue
        activities[item.identifier] = replace(activities[item.identifier], prerequisites=expr)
    for warning in warnings:
        logger.warning("sequencing tree: %s", warning, extra={"action": "seq_tree_warning"})
    return warnings


def build_tree(manifest: ScormManifest) -> ActivityTree:
    """Build the activity tree of a manifest's default organization.

    Args:
        manifest: a parsed SCORM 1.2 or 2004 manifest.

    Returns:
        The immutable :class:`ActivityTree`.

    Raises:
        UnknownActivity: the manifest has no organization to deliver.
    """
    if not manifest.organizations:
        raise UnknownActivity(key="manifest_organization_there_nothing_play")
    org = manifest.default_organization
    scorm12 = manifest.standard == "scorm12"
    activities: dict[str, Activity] = {}
    order: list[str] = [org.identifier]
    _add_items(org.items, org.identifier, 1, scorm12=scorm12, activities=activities, order=order)
    activities[org.identifier] = Activity(
        id=org.identifier,
        title=org.title,
        parent=None,
        children=tuple(i.identifier for i in org.items),
        depth=0,
        kind="cluster",
        **_definition_fields(org.sequencing, org.completion_threshold, scorm12=scorm12),
    )
    # SCORM 1.2 prerequisites: parsed once; unparseable or dangling ones are dropped with a warning.
    warnings = _apply_prerequisites(org, activities) if scorm12 else []
    if org.identifier in {i.identifier for i in org.walk()}:
        raise UnknownActivity(key="organization_item_share_identifier", params={"identifier": org.identifier})
    return ActivityTree(
        standard="scorm12" if scorm12 else "scorm2004",
        edition=manifest.edition,
        title=org.title or manifest.identifier,
        root=org.identifier,
        order=tuple(order),
        activities=activities,
        objectives_global_to_system=bool(org.objectives_global_to_system),
        warnings=tuple(warnings),
    )
