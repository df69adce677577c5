"""The immutable activity tree (SN 1.3 / 3.1): what the engine executes.

:func:`build_tree` turns a parsed :class:`~scorm.packaging.ScormManifest` into plain frozen
dataclasses whose vocabulary values are plain strings (the packaging enums are ``StrEnum`` so they
compare equal), so this package needs neither lxml nor the packaging code at runtime.

The root activity is the default ``<organization>`` (SN 3.1: the organization is the root of the
activity tree); its id is the organization identifier.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from scorm.cmi.durations import CS_PER_SECOND, DurationError, parse_duration_2004
from scorm.sequencing.errors import InvalidPrerequisites, UnknownActivity
from scorm.sequencing.prereq12 import Expr, parse_prerequisites, referenced_items

if TYPE_CHECKING:  # the packaging layer needs lxml; keep it out of the runtime imports
    from scorm.packaging.scorm_manifest import Item, Organization, ScormManifest

logger = logging.getLogger(__name__)

PRIMARY_KEY = "_primary"
"""Objective key used for a primary objective without an ``objectiveID``."""


@dataclass(frozen=True, kw_only=True)
class RuleCondition:
    """One sequencing rule condition (SN 5.1.2.1.3); ``negate`` is ``operator="not"``."""

    condition: str
    negate: bool = False
    objective: str | None = None
    threshold: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A pre-/exit-/post-condition rule (SN 5.1.2.1)."""

    combination: str = "all"
    conditions: tuple[RuleCondition, ...] = ()
    action: str


@dataclass(frozen=True, kw_only=True)
class RollupCondition:
    """One rollup condition (SN 5.1.5.1.2)."""

    condition: str
    negate: bool = False


@dataclass(frozen=True, kw_only=True)
class RollupRule:
    """One rollup rule (SN 5.1.5.1)."""

    child_activity_set: str = "all"
    minimum_count: int = 0
    minimum_percent: float = 0.0
    combination: str = "any"
    conditions: tuple[RollupCondition, ...] = ()
    action: str


@dataclass(frozen=True, kw_only=True)
class ObjectiveMap:
    """A link to a global objective (SN 5.1.6.3 imsss:mapInfo + 4th ed. adlseq:mapInfo)."""

    target: str
    read_satisfied: bool = True
    read_measure: bool = True
    write_satisfied: bool = False
    write_measure: bool = False
    read_completion: bool = False
    read_progress: bool = False
    write_completion: bool = False
    write_progress: bool = False
    # 4th ed. adlseq:mapInfo raw/min/max score reads and writes (SN 5.1.6.4)
    read_raw: bool = False
    read_min: bool = False
    read_max: bool = False
    write_raw: bool = False
    write_min: bool = False
    write_max: bool = False

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


@dataclass(frozen=True, kw_only=True)
class ObjectiveDef:
    """An activity objective (SN 5.1.6); ``key`` is its id or :data:`PRIMARY_KEY`."""

    key: str
    primary: bool = False
    satisfied_by_measure: bool = False
    min_measure: float = 1.0
    maps: tuple[ObjectiveMap, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Activity:
    """One activity of the tree: structure, launch data and its sequencing definition."""

    id: str
    title: str
    parent: str | None
    children: tuple[str, ...] = ()
    depth: int = 0
    visible: bool = True
    kind: str = "cluster"  # "sco" | "asset" | "cluster"
    url: str | None = None
    # control mode (SN 5.1.1)
    choice: bool = True
    choice_exit: bool = True
    flow: bool = False
    forward_only: bool = False
    use_current_attempt_objective_info: bool = True
    use_current_attempt_progress_info: bool = True
    # rules (SN 5.1.2)
    pre_rules: tuple[Rule, ...] = ()
    exit_rules: tuple[Rule, ...] = ()
    post_rules: tuple[Rule, ...] = ()
    # limit conditions (SN 5.1.4); the duration limit in seconds
    attempt_limit: int | None = None
    attempt_duration_limit: float | None = None
    # rollup (SN 5.1.5)
    rollup_objective_satisfied: bool = True
    rollup_progress_completion: bool = True
    measure_weight: float = 1.0
    rollup_rules: tuple[RollupRule, ...] = ()
    required_for_satisfied: str = "always"
    required_for_not_satisfied: str = "always"
    required_for_completed: str = "always"
    required_for_incomplete: str = "always"
    measure_satisfaction_if_active: bool = True
    # objectives (SN 5.1.6)
    objectives: tuple[ObjectiveDef, ...] = ()
    # randomization (SN 5.1.8)
    randomization_timing: str = "never"
    select_count: int | None = None
    reorder_children: bool = False
    selection_timing: str = "never"
    # delivery controls (SN 5.1.9)
    tracked: bool = True
    completion_set_by_content: bool = False
    objective_set_by_content: bool = False
    # constrained choice (SN 5.1.10)
    prevent_activation: bool = False
    constrain_choice: bool = False
    # completion threshold (CAM adlcp:completionThreshold, RTE 4.2.4.1)
    completed_by_measure: bool = False
    min_progress_measure: float = 1.0
    progress_weight: float = 1.0
    # SCORM 1.2 prerequisites (CAM 2.3.2.5.2), parsed
    prerequisites: Expr | None = None
    # adlnav:presentation/navigationInterface/hideLMSUI (CAM 4th ed.): player buttons to hide
    hide_lms_ui: tuple[str, ...] = ()

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
        return ObjectiveDef(key=PRIMARY_KEY, primary=True)

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
            raise UnknownActivity(f'activity "{activity_id}" is not part of the course "{self.title}".') from exc

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


def _s(value: Any) -> str:
    return str(value.value if hasattr(value, "value") else value)


def _rules(rules: Any) -> tuple[Rule, ...]:
    return tuple(
        Rule(
            combination=_s(r.condition_combination),
            conditions=tuple(
                RuleCondition(
                    condition=_s(c.condition),
                    negate=_s(c.operator) == "not",
                    objective=c.referenced_objective,
                    threshold=float(c.measure_threshold),
                )
                for c in r.conditions
            ),
            action=_s(r.action),
        )
        for r in rules
    )


def _objectives(seq: Any) -> tuple[ObjectiveDef, ...]:
    adl_maps: dict[str, tuple[Any, ...]] = {o.objective_id: o.map_info for o in getattr(seq, "adl_objectives", ())}
    out: list[ObjectiveDef] = []
    for objective in seq.objectives.all():
        key = objective.objective_id or PRIMARY_KEY
        maps: list[ObjectiveMap] = [
            ObjectiveMap(
                target=m.target_objective_id,
                read_satisfied=m.read_satisfied_status,
                read_measure=m.read_normalized_measure,
                write_satisfied=m.write_satisfied_status,
                write_measure=m.write_normalized_measure,
            )
            for m in objective.map_info
        ]
        # 4th edition adlseq:objective extends the imsss objective of the same id (SN 5.1.6.4).
        for m in adl_maps.get(key, ()):
            maps.append(
                ObjectiveMap(
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
            )
        out.append(
            ObjectiveDef(
                key=key,
                primary=objective.is_primary,
                satisfied_by_measure=objective.satisfied_by_measure,
                min_measure=float(objective.min_normalized_measure),
                maps=tuple(maps),
            )
        )
    return tuple(out)


def _sequencing_fields(seq: Any) -> dict[str, Any]:
    """Flatten a packaging ``Sequencing`` into :class:`Activity` keyword arguments."""
    if seq is None:
        return {}
    cm = seq.control_mode
    rr = seq.rollup_rules
    rc = seq.rollup_considerations
    rnd = seq.randomization_controls
    dc = seq.delivery_controls
    cc = seq.constrained_choice_considerations
    limit = seq.limit_conditions.attempt_limit
    return {
        "choice": cm.choice,
        "choice_exit": cm.choice_exit,
        "flow": cm.flow,
        "forward_only": cm.forward_only,
        "use_current_attempt_objective_info": cm.use_current_attempt_objective_info,
        "use_current_attempt_progress_info": cm.use_current_attempt_progress_info,
        "pre_rules": _rules(seq.sequencing_rules.pre_condition),
        "exit_rules": _rules(seq.sequencing_rules.exit_condition),
        "post_rules": _rules(seq.sequencing_rules.post_condition),
        # SN 5.1.4: attemptLimit 0 means "no limit".
        "attempt_limit": limit if limit else None,
        "attempt_duration_limit": _duration_seconds(seq.limit_conditions.attempt_absolute_duration_limit),
        "rollup_objective_satisfied": rr.rollup_objective_satisfied,
        "rollup_progress_completion": rr.rollup_progress_completion,
        "measure_weight": float(rr.objective_measure_weight),
        "rollup_rules": tuple(
            RollupRule(
                child_activity_set=_s(r.child_activity_set),
                minimum_count=r.minimum_count,
                minimum_percent=float(r.minimum_percent),
                combination=_s(r.condition_combination),
                conditions=tuple(
                    RollupCondition(condition=_s(c.condition), negate=_s(c.operator) == "not") for c in r.conditions
                ),
                action=_s(r.action),
            )
            for r in rr.rules
        ),
        "required_for_satisfied": _s(rc.required_for_satisfied),
        "required_for_not_satisfied": _s(rc.required_for_not_satisfied),
        "required_for_completed": _s(rc.required_for_completed),
        "required_for_incomplete": _s(rc.required_for_incomplete),
        "measure_satisfaction_if_active": rc.measure_satisfaction_if_active,
        "objectives": _objectives(seq),
        "randomization_timing": _s(rnd.randomization_timing),
        "select_count": rnd.select_count,
        "reorder_children": rnd.reorder_children,
        "selection_timing": _s(rnd.selection_timing),
        "tracked": dc.tracked,
        "completion_set_by_content": dc.completion_set_by_content,
        "objective_set_by_content": dc.objective_set_by_content,
        "prevent_activation": cc.prevent_activation,
        "constrain_choice": cc.constrain_choice,
    }


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


def _threshold_fields(threshold: Any) -> dict[str, Any]:
    if threshold is None:
        return {}
    return {
        "completed_by_measure": threshold.completed_by_measure,
        "min_progress_measure": float(threshold.min_progress_measure),
        "progress_weight": float(threshold.progress_weight),
    }


# SCORM 1.2 has no sequencing: every cluster allows flow and choice (the de-facto LMS behaviour
# the brief asks for); there are no rules, no rollup rules and no objectives maps.
_SCORM12_FIELDS: Mapping[str, Any] = {
    "choice": True,
    "flow": True,
    "use_current_attempt_objective_info": False,
    "use_current_attempt_progress_info": False,
}


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
        raise UnknownActivity("the manifest has no <organization>, so there is nothing to play.")
    org: Organization = manifest.default_organization
    scorm12 = _s(manifest.standard) == "scorm12"
    activities: dict[str, Activity] = {}
    order: list[str] = []
    warnings: list[str] = []
    prereq_texts: dict[str, str] = {}

    def common(seq: Any) -> dict[str, Any]:
        return dict(_SCORM12_FIELDS) if scorm12 else _sequencing_fields(seq)

    root_fields = common(org.sequencing)
    root_fields.update(_threshold_fields(org.completion_threshold))
    order.append(org.identifier)

    def add(item: Item, parent: str, depth: int) -> None:
        order.append(item.identifier)
        fields = common(item.sequencing)
        fields.update(_threshold_fields(item.completion_threshold))
        kind = "cluster"
        if item.is_leaf:
            kind = "sco" if item.scorm_type is not None and _s(item.scorm_type) == "sco" else "asset"
        if scorm12 and item.prerequisites:
            prereq_texts[item.identifier] = item.prerequisites
        for child in item.children:
            add(child, item.identifier, depth + 1)
        activities[item.identifier] = Activity(
            id=item.identifier,
            title=item.title,
            parent=parent,
            children=tuple(c.identifier for c in item.children),
            depth=depth,
            visible=item.is_visible,
            kind=kind,
            url=item.launch_url if item.is_leaf else None,
            hide_lms_ui=tuple(item.hide_lms_ui),
            **fields,
        )

    for item in org.items:
        add(item, org.identifier, 1)
    activities[org.identifier] = Activity(
        id=org.identifier,
        title=org.title,
        parent=None,
        children=tuple(i.identifier for i in org.items),
        depth=0,
        kind="cluster",
        **root_fields,
    )
    # SCORM 1.2 prerequisites: parse once; unparseable or dangling ones are dropped with a warning.
    # SPEC COMPLIANCE NOTE: CAM 1.2 says the LMS "shall" honour prerequisites; an expression we
    # cannot read (or that names an item that does not exist) would lock the learner out for
    # good, so it is treated as absent and reported in ``ActivityTree.warnings`` instead.
    for item_id, text in prereq_texts.items():
        try:
            expr = parse_prerequisites(text)
        except InvalidPrerequisites as exc:
            warnings.append(f"{item_id}: {exc.message} (ignored)")
            continue
        missing = sorted(referenced_items(expr) - activities.keys())
        if missing:
            warnings.append(f"{item_id}: prerequisites name unknown item(s) {', '.join(missing)} (ignored)")
            continue
        activities[item_id] = replace(activities[item_id], prerequisites=expr)
    for warning in warnings:
        logger.warning("sequencing tree: %s", warning, extra={"action": "seq_tree_warning"})
    if org.identifier in {i.identifier for i in org.walk()}:
        raise UnknownActivity(f'the organization and an item share the identifier "{org.identifier}".')
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
