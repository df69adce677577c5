"""SCORM 2004 sequencing definitions (IMS Simple Sequencing 1.0 as profiled by the SN book).

Typed, immutable, with every spec default filled in, so the runtime team can execute them
without going back to the XML. Section numbers below refer to the SCORM 2004 4th Edition
Sequencing and Navigation (SN) book, chapter 5 ("Sequencing Definition Model") and the
IMS SS 1.0 XML binding; 2nd/3rd edition use the same elements and defaults except where noted.

Sequencing collections (SN 5.1 / CAM 3.4.1.23): an ``<imsss:sequencing IDRef="x">`` on an item
starts from the collection entry with ``ID="x"``; any child element the item declares itself
replaces the collection's element of the same name, whole (element granularity).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import unquote

from lxml import etree

from scorm.packaging.errors import InvalidManifest
from scorm.packaging.xmlsafe import local_name, namespace

logger = logging.getLogger(__name__)

NS_IMSSS = "http://www.imsglobal.org/xsd/imsss"
NS_ADLSEQ = "http://www.adlnet.org/xsd/adlseq_v1p3"

_E = TypeVar("_E", bound=StrEnum)


# --- vocabularies (SN 5.1, IMS SS XML binding) ------------------------------------------------


class RuleConditionType(StrEnum):
    """Sequencing rule condition vocabulary (SN 5.1.2.1.3 ruleCondition@condition)."""

    SATISFIED = "satisfied"
    OBJECTIVE_STATUS_KNOWN = "objectiveStatusKnown"
    OBJECTIVE_MEASURE_KNOWN = "objectiveMeasureKnown"
    OBJECTIVE_MEASURE_GREATER_THAN = "objectiveMeasureGreaterThan"
    OBJECTIVE_MEASURE_LESS_THAN = "objectiveMeasureLessThan"
    COMPLETED = "completed"
    ACTIVITY_PROGRESS_KNOWN = "activityProgressKnown"
    ATTEMPTED = "attempted"
    ATTEMPT_LIMIT_EXCEEDED = "attemptLimitExceeded"
    TIME_LIMIT_EXCEEDED = "timeLimitExceeded"
    OUTSIDE_AVAILABLE_TIME_RANGE = "outsideAvailableTimeRange"
    ALWAYS = "always"


class ConditionOperator(StrEnum):
    """ruleCondition/rollupCondition@operator (SN 5.1.2.1.3, 5.1.5.1.2)."""

    NO_OP = "noOp"
    NOT = "not"


class ConditionCombination(StrEnum):
    """ruleConditions/rollupConditions@conditionCombination."""

    ALL = "all"
    ANY = "any"


class RuleKind(StrEnum):
    """Which of the three rule lists a sequencing rule belongs to (SN 5.1.2)."""

    PRE = "pre"
    EXIT = "exit"
    POST = "post"


class RuleAction(StrEnum):
    """ruleAction@action vocabulary (SN 5.1.2.1.4)."""

    SKIP = "skip"
    DISABLED = "disabled"
    HIDDEN_FROM_CHOICE = "hiddenFromChoice"
    STOP_FORWARD_TRAVERSAL = "stopForwardTraversal"
    EXIT = "exit"
    EXIT_PARENT = "exitParent"
    EXIT_ALL = "exitAll"
    RETRY = "retry"
    RETRY_ALL = "retryAll"
    CONTINUE = "continue"
    PREVIOUS = "previous"


# SN 5.1.2: each rule list accepts only its own actions.
RULE_ACTIONS_BY_KIND: Mapping[RuleKind, frozenset[RuleAction]] = {
    RuleKind.PRE: frozenset(
        {
            RuleAction.SKIP,
            RuleAction.DISABLED,
            RuleAction.HIDDEN_FROM_CHOICE,
            RuleAction.STOP_FORWARD_TRAVERSAL,
        }
    ),
    RuleKind.EXIT: frozenset({RuleAction.EXIT}),
    RuleKind.POST: frozenset(
        {
            RuleAction.EXIT_PARENT,
            RuleAction.EXIT_ALL,
            RuleAction.RETRY,
            RuleAction.RETRY_ALL,
            RuleAction.CONTINUE,
            RuleAction.PREVIOUS,
        }
    ),
}

_RULE_ELEMENTS: Mapping[str, RuleKind] = {
    "preConditionRule": RuleKind.PRE,
    "exitConditionRule": RuleKind.EXIT,
    "postConditionRule": RuleKind.POST,
}


class RollupConditionType(StrEnum):
    """rollupCondition@condition vocabulary (SN 5.1.5.1.2)."""

    SATISFIED = "satisfied"
    OBJECTIVE_STATUS_KNOWN = "objectiveStatusKnown"
    OBJECTIVE_MEASURE_KNOWN = "objectiveMeasureKnown"
    COMPLETED = "completed"
    ACTIVITY_PROGRESS_KNOWN = "activityProgressKnown"
    ATTEMPTED = "attempted"
    ATTEMPT_LIMIT_EXCEEDED = "attemptLimitExceeded"
    TIME_LIMIT_EXCEEDED = "timeLimitExceeded"
    OUTSIDE_AVAILABLE_TIME_RANGE = "outsideAvailableTimeRange"


class RollupAction(StrEnum):
    """rollupAction@action vocabulary (SN 5.1.5.1.3)."""

    SATISFIED = "satisfied"
    NOT_SATISFIED = "notSatisfied"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"


class ChildActivitySet(StrEnum):
    """rollupRule@childActivitySet (SN 5.1.5.1.1)."""

    ALL = "all"
    ANY = "any"
    NONE = "none"
    AT_LEAST_COUNT = "atLeastCount"
    AT_LEAST_PERCENT = "atLeastPercent"


class RandomizationTiming(StrEnum):
    """randomizationControls@randomizationTiming / @selectionTiming (SN 5.1.8)."""

    NEVER = "never"
    ONCE = "once"
    ON_EACH_NEW_ATTEMPT = "onEachNewAttempt"


class RollupRequirement(StrEnum):
    """adlseq:rollupConsiderations@requiredFor* (SN 5.1.5.2)."""

    ALWAYS = "always"
    IF_ATTEMPTED = "ifAttempted"
    IF_NOT_SKIPPED = "ifNotSkipped"
    IF_NOT_SUSPENDED = "ifNotSuspended"


# --- definition model ------------------------------------------------------------------------


def objective_identifier(raw: str | None) -> str:
    """An objective identifier as the LMS compares it (xs:anyURI, SN 5.1.6).

    The attribute is whitespace-collapsed (XML Schema anyURI), percent-escapes are decoded and
    the result collapsed again, so ``" ob%20j%201 "`` and ``"ob%20%20j%201"`` both name
    ``"ob j 1"`` (ADL CTS OB-02a/OB-12a; this is also the ``cmi.objectives.n.id`` value).
    """
    text = " ".join((raw or "").split())
    return " ".join(unquote(text).split())


@dataclass(frozen=True, kw_only=True)
class ControlMode:
    """imsss:controlMode (SN 5.1.1); defaults per the IMS SS binding."""

    choice: bool = True
    choice_exit: bool = True
    flow: bool = False
    forward_only: bool = False
    use_current_attempt_objective_info: bool = True
    use_current_attempt_progress_info: bool = True


@dataclass(frozen=True, kw_only=True)
class RuleCondition:
    """imsss:ruleCondition (SN 5.1.2.1.3)."""

    condition: RuleConditionType
    operator: ConditionOperator = ConditionOperator.NO_OP
    referenced_objective: str | None = None
    measure_threshold: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SequencingRule:
    """A pre-, exit- or post-condition rule (SN 5.1.2.1)."""

    kind: RuleKind
    condition_combination: ConditionCombination = ConditionCombination.ALL
    conditions: tuple[RuleCondition, ...] = ()
    action: RuleAction


@dataclass(frozen=True, kw_only=True)
class SequencingRules:
    """imsss:sequencingRules split into its three ordered lists (SN 5.1.2)."""

    pre_condition: tuple[SequencingRule, ...] = ()
    exit_condition: tuple[SequencingRule, ...] = ()
    post_condition: tuple[SequencingRule, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LimitConditions:
    """imsss:limitConditions as profiled by SCORM (SN 5.1.4: only these two are honoured).

    ``attempt_limit`` ``None`` means no limit (the attribute was absent); SN treats 0 the same.
    """

    attempt_limit: int | None = None
    attempt_absolute_duration_limit: str | None = None


@dataclass(frozen=True, kw_only=True)
class RollupCondition:
    """imsss:rollupCondition (SN 5.1.5.1.2)."""

    condition: RollupConditionType
    operator: ConditionOperator = ConditionOperator.NO_OP


@dataclass(frozen=True, kw_only=True)
class RollupRule:
    """imsss:rollupRule (SN 5.1.5.1)."""

    child_activity_set: ChildActivitySet = ChildActivitySet.ALL
    minimum_count: int = 0
    minimum_percent: float = 0.0
    condition_combination: ConditionCombination = ConditionCombination.ANY
    conditions: tuple[RollupCondition, ...] = ()
    action: RollupAction


@dataclass(frozen=True, kw_only=True)
class RollupRules:
    """imsss:rollupRules (SN 5.1.5)."""

    rollup_objective_satisfied: bool = True
    rollup_progress_completion: bool = True
    objective_measure_weight: float = 1.0
    rules: tuple[RollupRule, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MapInfo:
    """imsss:mapInfo: link from a local objective to a global (shared) one (SN 5.1.6.3)."""

    target_objective_id: str
    read_satisfied_status: bool = True
    read_normalized_measure: bool = True
    write_satisfied_status: bool = False
    write_normalized_measure: bool = False


@dataclass(frozen=True, kw_only=True)
class Objective:
    """imsss:primaryObjective or imsss:objective (SN 5.1.6).

    ``objective_id`` may be ``None`` only for a primary objective without an id.
    """

    objective_id: str | None
    is_primary: bool = False
    satisfied_by_measure: bool = False
    min_normalized_measure: float = 1.0
    map_info: tuple[MapInfo, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Objectives:
    """imsss:objectives: the primary objective plus any others (SN 5.1.6)."""

    primary: Objective | None = None
    others: tuple[Objective, ...] = ()

    def all(self) -> tuple[Objective, ...]:
        """Return the primary objective (if any) followed by the others."""
        return ((self.primary,) if self.primary else ()) + self.others

    def find(self, objective_id: str) -> Objective | None:
        """Return the objective with this id, or ``None``."""
        for objective in self.all():
            if objective.objective_id == objective_id:
                return objective
        return None


@dataclass(frozen=True, kw_only=True)
class AdlMapInfo:
    """adlseq:mapInfo (4th edition extended global objective mapping, SN 5.1.6.4)."""

    target_objective_id: str
    read_raw_score: bool = True
    read_min_score: bool = True
    read_max_score: bool = True
    read_completion_status: bool = True
    read_progress_measure: bool = True
    write_raw_score: bool = False
    write_min_score: bool = False
    write_max_score: bool = False
    write_completion_status: bool = False
    write_progress_measure: bool = False


@dataclass(frozen=True, kw_only=True)
class AdlObjective:
    """adlseq:objective: extra mappings for an imsss objective of the same id (4th edition)."""

    objective_id: str
    map_info: tuple[AdlMapInfo, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RandomizationControls:
    """imsss:randomizationControls (SN 5.1.8)."""

    randomization_timing: RandomizationTiming = RandomizationTiming.NEVER
    select_count: int | None = None
    reorder_children: bool = False
    selection_timing: RandomizationTiming = RandomizationTiming.NEVER


@dataclass(frozen=True, kw_only=True)
class DeliveryControls:
    """imsss:deliveryControls (SN 5.1.9)."""

    tracked: bool = True
    completion_set_by_content: bool = False
    objective_set_by_content: bool = False


@dataclass(frozen=True, kw_only=True)
class ConstrainedChoiceConsiderations:
    """adlseq:constrainedChoiceConsiderations (SN 5.1.10)."""

    prevent_activation: bool = False
    constrain_choice: bool = False


@dataclass(frozen=True, kw_only=True)
class RollupConsiderations:
    """adlseq:rollupConsiderations (SN 5.1.5.2)."""

    required_for_satisfied: RollupRequirement = RollupRequirement.ALWAYS
    required_for_not_satisfied: RollupRequirement = RollupRequirement.ALWAYS
    required_for_completed: RollupRequirement = RollupRequirement.ALWAYS
    required_for_incomplete: RollupRequirement = RollupRequirement.ALWAYS
    measure_satisfaction_if_active: bool = True


@dataclass(frozen=True, kw_only=True)
class Sequencing:
    """The effective sequencing definition of one activity, defaults filled in.

    ``collection_ref`` is the ``IDRef`` that was resolved (if any); ``declared`` lists the child
    elements (sorted field names) present in the manifest (the item's own or inherited from the
    collection), so
    callers can tell an explicit default from an absent element.
    """

    collection_ref: str | None = None
    declared: tuple[str, ...] = ()
    control_mode: ControlMode = field(default_factory=ControlMode)
    sequencing_rules: SequencingRules = field(default_factory=SequencingRules)
    limit_conditions: LimitConditions = field(default_factory=LimitConditions)
    rollup_rules: RollupRules = field(default_factory=RollupRules)
    objectives: Objectives = field(default_factory=Objectives)
    randomization_controls: RandomizationControls = field(default_factory=RandomizationControls)
    delivery_controls: DeliveryControls = field(default_factory=DeliveryControls)
    constrained_choice_considerations: ConstrainedChoiceConsiderations = field(
        default_factory=ConstrainedChoiceConsiderations
    )
    rollup_considerations: RollupConsiderations = field(default_factory=RollupConsiderations)
    adl_objectives: tuple[AdlObjective, ...] = ()


DEFAULT_SEQUENCING = Sequencing()
"""An activity with no sequencing element at all gets exactly these values."""


# --- parsing ---------------------------------------------------------------------------------

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


class _Ctx:
    """Carries the file name for error reports."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, where: str, message: str, rule: str) -> InvalidManifest:
        return InvalidManifest(message, file=self.file, element=where, rule=rule)

    def boolean(self, el: etree._Element, attr: str, default: bool, where: str) -> bool:
        raw = el.get(attr)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise self.fail(
            f"{where}/@{attr}",
            f'{attr}="{raw}" must be "true" or "false".',
            "XML Schema xs:boolean",
        )

    def decimal(
        self,
        raw: str | None,
        default: float,
        where: str,
        low: float,
        high: float,
    ) -> float:
        if raw is None:
            return default
        try:
            value = float(raw.strip())
        except ValueError as exc:
            raise self.fail(
                where, f'"{raw}" is not a decimal number.', "XML Schema xs:decimal"
            ) from exc
        if not (low <= value <= high):
            raise self.fail(
                where,
                f"{raw} is outside the allowed range {low} to {high}.",
                "SN 5.1 value space",
            )
        return value

    def integer(self, raw: str | None, where: str) -> int | None:
        if raw is None:
            return None
        try:
            value = int(raw.strip())
        except ValueError as exc:
            raise self.fail(
                where, f'"{raw}" is not a whole number.', "XML Schema xs:nonNegativeInteger"
            ) from exc
        if value < 0:
            raise self.fail(
                where, f"{raw} must not be negative.", "XML Schema xs:nonNegativeInteger"
            )
        return value

    def vocab(self, enum: type[_E], raw: str | None, default: _E | None, where: str) -> _E:
        if raw is None:
            if default is None:
                raise self.fail(where, "a required attribute is missing.", "IMS SS XML binding")
            return default
        try:
            return enum(raw.strip())
        except ValueError as exc:
            allowed = ", ".join(member.value for member in enum)
            raise self.fail(
                where, f'"{raw}" is not one of: {allowed}.', "SN 5.1 vocabulary"
            ) from exc


def _children(el: etree._Element, ns: str, name: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and c.tag == f"{{{ns}}}{name}"]


def _child(el: etree._Element, ns: str, name: str) -> etree._Element | None:
    found = _children(el, ns, name)
    return found[0] if found else None


def _control_mode(ctx: _Ctx, el: etree._Element, where: str) -> ControlMode:
    return ControlMode(
        choice=ctx.boolean(el, "choice", True, where),
        choice_exit=ctx.boolean(el, "choiceExit", True, where),
        flow=ctx.boolean(el, "flow", False, where),
        forward_only=ctx.boolean(el, "forwardOnly", False, where),
        use_current_attempt_objective_info=ctx.boolean(
            el, "useCurrentAttemptObjectiveInfo", True, where
        ),
        use_current_attempt_progress_info=ctx.boolean(
            el, "useCurrentAttemptProgressInfo", True, where
        ),
    )


def _sequencing_rules(ctx: _Ctx, el: etree._Element, where: str) -> SequencingRules:
    lists: dict[RuleKind, list[SequencingRule]] = {kind: [] for kind in RuleKind}
    for index, rule_el in enumerate(el, start=1):
        name = local_name(rule_el)
        if namespace(rule_el) != NS_IMSSS or name not in _RULE_ELEMENTS:
            continue
        kind = _RULE_ELEMENTS[name]
        rwhere = f"{where}/imsss:{name}[{index}]"
        conds_el = _child(rule_el, NS_IMSSS, "ruleConditions")
        conditions: list[RuleCondition] = []
        combination = ConditionCombination.ALL
        if conds_el is not None:
            combination = ctx.vocab(
                ConditionCombination,
                conds_el.get("conditionCombination"),
                ConditionCombination.ALL,
                f"{rwhere}/imsss:ruleConditions/@conditionCombination",
            )
            for c_index, cond in enumerate(_children(conds_el, NS_IMSSS, "ruleCondition"), 1):
                cwhere = f"{rwhere}/imsss:ruleConditions/imsss:ruleCondition[{c_index}]"
                conditions.append(
                    RuleCondition(
                        condition=ctx.vocab(
                            RuleConditionType, cond.get("condition"), None, f"{cwhere}/@condition"
                        ),
                        operator=ctx.vocab(
                            ConditionOperator,
                            cond.get("operator"),
                            ConditionOperator.NO_OP,
                            f"{cwhere}/@operator",
                        ),
                        referenced_objective=objective_identifier(cond.get("referencedObjective"))
                        or None,
                        measure_threshold=ctx.decimal(
                            cond.get("measureThreshold"),
                            0.0,
                            f"{cwhere}/@measureThreshold",
                            -1.0,
                            1.0,
                        ),
                    )
                )
        if not conditions:
            raise ctx.fail(
                rwhere,
                "a sequencing rule needs at least one ruleCondition.",
                "SN 5.1.2.1.2 ruleConditions",
            )
        action_el = _child(rule_el, NS_IMSSS, "ruleAction")
        if action_el is None:
            raise ctx.fail(
                rwhere, "a sequencing rule needs a ruleAction.", "SN 5.1.2.1.4 ruleAction"
            )
        action = ctx.vocab(
            RuleAction, action_el.get("action"), None, f"{rwhere}/imsss:ruleAction/@action"
        )
        if action not in RULE_ACTIONS_BY_KIND[kind]:
            allowed = ", ".join(sorted(a.value for a in RULE_ACTIONS_BY_KIND[kind]))
            raise ctx.fail(
                f"{rwhere}/imsss:ruleAction/@action",
                f'action "{action.value}" is not allowed in a {name}; use one of: {allowed}.',
                "SN 5.1.2.1.4 ruleAction",
            )
        lists[kind].append(
            SequencingRule(
                kind=kind,
                condition_combination=combination,
                conditions=tuple(conditions),
                action=action,
            )
        )
    return SequencingRules(
        pre_condition=tuple(lists[RuleKind.PRE]),
        exit_condition=tuple(lists[RuleKind.EXIT]),
        post_condition=tuple(lists[RuleKind.POST]),
    )


def _limit_conditions(ctx: _Ctx, el: etree._Element, where: str) -> LimitConditions:
    duration = (el.get("attemptAbsoluteDurationLimit") or "").strip() or None
    return LimitConditions(
        attempt_limit=ctx.integer(el.get("attemptLimit"), f"{where}/@attemptLimit"),
        attempt_absolute_duration_limit=duration,
    )


def _rollup_rules(ctx: _Ctx, el: etree._Element, where: str) -> RollupRules:
    rules: list[RollupRule] = []
    for index, rule_el in enumerate(_children(el, NS_IMSSS, "rollupRule"), start=1):
        rwhere = f"{where}/imsss:rollupRule[{index}]"
        conds_el = _child(rule_el, NS_IMSSS, "rollupConditions")
        conditions: list[RollupCondition] = []
        combination = ConditionCombination.ANY
        if conds_el is not None:
            combination = ctx.vocab(
                ConditionCombination,
                conds_el.get("conditionCombination"),
                ConditionCombination.ANY,
                f"{rwhere}/imsss:rollupConditions/@conditionCombination",
            )
            for c_index, cond in enumerate(
                _children(conds_el, NS_IMSSS, "rollupCondition"), start=1
            ):
                cwhere = f"{rwhere}/imsss:rollupConditions/imsss:rollupCondition[{c_index}]"
                conditions.append(
                    RollupCondition(
                        condition=ctx.vocab(
                            RollupConditionType,
                            cond.get("condition"),
                            None,
                            f"{cwhere}/@condition",
                        ),
                        operator=ctx.vocab(
                            ConditionOperator,
                            cond.get("operator"),
                            ConditionOperator.NO_OP,
                            f"{cwhere}/@operator",
                        ),
                    )
                )
        if not conditions:
            raise ctx.fail(
                rwhere,
                "a rollup rule needs at least one rollupCondition.",
                "SN 5.1.5.1.2 rollupConditions",
            )
        action_el = _child(rule_el, NS_IMSSS, "rollupAction")
        if action_el is None:
            raise ctx.fail(
                rwhere, "a rollup rule needs a rollupAction.", "SN 5.1.5.1.3 rollupAction"
            )
        rules.append(
            RollupRule(
                child_activity_set=ctx.vocab(
                    ChildActivitySet,
                    rule_el.get("childActivitySet"),
                    ChildActivitySet.ALL,
                    f"{rwhere}/@childActivitySet",
                ),
                minimum_count=ctx.integer(rule_el.get("minimumCount"), f"{rwhere}/@minimumCount")
                or 0,
                minimum_percent=ctx.decimal(
                    rule_el.get("minimumPercent"), 0.0, f"{rwhere}/@minimumPercent", 0.0, 1.0
                ),
                condition_combination=combination,
                conditions=tuple(conditions),
                action=ctx.vocab(
                    RollupAction,
                    action_el.get("action"),
                    None,
                    f"{rwhere}/imsss:rollupAction/@action",
                ),
            )
        )
    return RollupRules(
        rollup_objective_satisfied=ctx.boolean(el, "rollupObjectiveSatisfied", True, where),
        rollup_progress_completion=ctx.boolean(el, "rollupProgressCompletion", True, where),
        objective_measure_weight=ctx.decimal(
            el.get("objectiveMeasureWeight"),
            1.0,
            f"{where}/@objectiveMeasureWeight",
            0.0,
            1.0,
        ),
        rules=tuple(rules),
    )


def _objective(ctx: _Ctx, el: etree._Element, where: str, *, primary: bool) -> Objective:
    objective_id = objective_identifier(el.get("objectiveID")) or None
    if objective_id is None and not primary:
        raise ctx.fail(
            f"{where}/@objectiveID",
            "an objective needs an objectiveID.",
            "SN 5.1.6 objective@objectiveID",
        )
    measure_el = _child(el, NS_IMSSS, "minNormalizedMeasure")
    measure_raw = None if measure_el is None else (measure_el.text or "").strip() or None
    map_infos: list[MapInfo] = []
    for index, map_el in enumerate(_children(el, NS_IMSSS, "mapInfo"), start=1):
        mwhere = f"{where}/imsss:mapInfo[{index}]"
        target = objective_identifier(map_el.get("targetObjectiveID"))
        if not target:
            raise ctx.fail(
                f"{mwhere}/@targetObjectiveID",
                "mapInfo needs a targetObjectiveID (the global objective's id).",
                "SN 5.1.6.3 mapInfo",
            )
        map_infos.append(
            MapInfo(
                target_objective_id=target,
                read_satisfied_status=ctx.boolean(map_el, "readSatisfiedStatus", True, mwhere),
                read_normalized_measure=ctx.boolean(map_el, "readNormalizedMeasure", True, mwhere),
                write_satisfied_status=ctx.boolean(map_el, "writeSatisfiedStatus", False, mwhere),
                write_normalized_measure=ctx.boolean(
                    map_el, "writeNormalizedMeasure", False, mwhere
                ),
            )
        )
    return Objective(
        objective_id=objective_id,
        is_primary=primary,
        satisfied_by_measure=ctx.boolean(el, "satisfiedByMeasure", False, where),
        min_normalized_measure=ctx.decimal(
            measure_raw, 1.0, f"{where}/imsss:minNormalizedMeasure", -1.0, 1.0
        ),
        map_info=tuple(map_infos),
    )


def _objectives(ctx: _Ctx, el: etree._Element, where: str) -> Objectives:
    primary_el = _child(el, NS_IMSSS, "primaryObjective")
    primary = (
        None
        if primary_el is None
        else _objective(ctx, primary_el, f"{where}/imsss:primaryObjective", primary=True)
    )
    others = tuple(
        _objective(ctx, obj_el, f"{where}/imsss:objective[{index}]", primary=False)
        for index, obj_el in enumerate(_children(el, NS_IMSSS, "objective"), start=1)
    )
    seen: set[str] = set()
    for objective in ((primary,) if primary else ()) + others:
        if objective.objective_id is None:
            continue
        if objective.objective_id in seen:
            raise ctx.fail(
                where,
                f'objectiveID "{objective.objective_id}" is used twice in the same activity.',
                "SN 5.1.6 objectiveID unique within an activity",
            )
        seen.add(objective.objective_id)
    return Objectives(primary=primary, others=others)


def _adl_objectives(ctx: _Ctx, el: etree._Element, where: str) -> tuple[AdlObjective, ...]:
    result: list[AdlObjective] = []
    for index, obj_el in enumerate(_children(el, NS_ADLSEQ, "objective"), start=1):
        owhere = f"{where}/adlseq:objective[{index}]"
        objective_id = objective_identifier(obj_el.get("objectiveID"))
        if not objective_id:
            raise ctx.fail(
                f"{owhere}/@objectiveID",
                "adlseq:objective needs an objectiveID.",
                "SN 5.1.6.4 adlseq:objective",
            )
        maps: list[AdlMapInfo] = []
        for m_index, map_el in enumerate(_children(obj_el, NS_ADLSEQ, "mapInfo"), start=1):
            mwhere = f"{owhere}/adlseq:mapInfo[{m_index}]"
            target = objective_identifier(map_el.get("targetObjectiveID"))
            if not target:
                raise ctx.fail(
                    f"{mwhere}/@targetObjectiveID",
                    "adlseq:mapInfo needs a targetObjectiveID.",
                    "SN 5.1.6.4 adlseq:mapInfo",
                )
            flags: dict[str, Any] = {}
            for attr, default in (
                ("readRawScore", True),
                ("readMinScore", True),
                ("readMaxScore", True),
                ("readCompletionStatus", True),
                ("readProgressMeasure", True),
                ("writeRawScore", False),
                ("writeMinScore", False),
                ("writeMaxScore", False),
                ("writeCompletionStatus", False),
                ("writeProgressMeasure", False),
            ):
                snake = "".join("_" + c.lower() if c.isupper() else c for c in attr)
                flags[snake] = ctx.boolean(map_el, attr, default, mwhere)
            maps.append(AdlMapInfo(target_objective_id=target, **flags))
        result.append(AdlObjective(objective_id=objective_id, map_info=tuple(maps)))
    return tuple(result)


def _randomization(ctx: _Ctx, el: etree._Element, where: str) -> RandomizationControls:
    return RandomizationControls(
        randomization_timing=ctx.vocab(
            RandomizationTiming,
            el.get("randomizationTiming"),
            RandomizationTiming.NEVER,
            f"{where}/@randomizationTiming",
        ),
        select_count=ctx.integer(el.get("selectCount"), f"{where}/@selectCount"),
        reorder_children=ctx.boolean(el, "reorderChildren", False, where),
        selection_timing=ctx.vocab(
            RandomizationTiming,
            el.get("selectionTiming"),
            RandomizationTiming.NEVER,
            f"{where}/@selectionTiming",
        ),
    )


def _delivery(ctx: _Ctx, el: etree._Element, where: str) -> DeliveryControls:
    return DeliveryControls(
        tracked=ctx.boolean(el, "tracked", True, where),
        completion_set_by_content=ctx.boolean(el, "completionSetByContent", False, where),
        objective_set_by_content=ctx.boolean(el, "objectiveSetByContent", False, where),
    )


def _constrained(ctx: _Ctx, el: etree._Element, where: str) -> ConstrainedChoiceConsiderations:
    return ConstrainedChoiceConsiderations(
        prevent_activation=ctx.boolean(el, "preventActivation", False, where),
        constrain_choice=ctx.boolean(el, "constrainChoice", False, where),
    )


def _rollup_considerations(ctx: _Ctx, el: etree._Element, where: str) -> RollupConsiderations:
    def req(attr: str) -> RollupRequirement:
        return ctx.vocab(
            RollupRequirement, el.get(attr), RollupRequirement.ALWAYS, f"{where}/@{attr}"
        )

    return RollupConsiderations(
        required_for_satisfied=req("requiredForSatisfied"),
        required_for_not_satisfied=req("requiredForNotSatisfied"),
        required_for_completed=req("requiredForCompleted"),
        required_for_incomplete=req("requiredForIncomplete"),
        measure_satisfaction_if_active=ctx.boolean(el, "measureSatisfactionIfActive", True, where),
    )


# (namespace, element) -> (Sequencing field, parser)
_ELEMENT_PARSERS: Mapping[tuple[str, str], tuple[str, Any]] = {
    (NS_IMSSS, "controlMode"): ("control_mode", _control_mode),
    (NS_IMSSS, "sequencingRules"): ("sequencing_rules", _sequencing_rules),
    (NS_IMSSS, "limitConditions"): ("limit_conditions", _limit_conditions),
    (NS_IMSSS, "rollupRules"): ("rollup_rules", _rollup_rules),
    (NS_IMSSS, "objectives"): ("objectives", _objectives),
    (NS_IMSSS, "randomizationControls"): ("randomization_controls", _randomization),
    (NS_IMSSS, "deliveryControls"): ("delivery_controls", _delivery),
    (NS_ADLSEQ, "constrainedChoiceConsiderations"): (
        "constrained_choice_considerations",
        _constrained,
    ),
    (NS_ADLSEQ, "rollupConsiderations"): ("rollup_considerations", _rollup_considerations),
    (NS_ADLSEQ, "objectives"): ("adl_objectives", _adl_objectives),
}


def parse_sequencing_elements(el: etree._Element, *, file: str, where: str) -> dict[str, Any]:
    """Parse the child elements of one ``imsss:sequencing`` into ``{field: value}``.

    Only elements present in the XML appear in the result; merging with a collection entry and
    filling defaults is done by :func:`build_sequencing`.

    Args:
        el: the ``imsss:sequencing`` element.
        file: manifest file name, for error reports.
        where: locator of ``el`` for error reports.

    Returns:
        A mapping of :class:`Sequencing` field names to parsed values.

    Raises:
        InvalidManifest: a value breaks the SN book's vocabulary or value space.
    """
    ctx = _Ctx(file)
    parsed: dict[str, Any] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        key = (namespace(child), local_name(child))
        if key not in _ELEMENT_PARSERS:
            continue
        field_name, parser = _ELEMENT_PARSERS[key]
        prefix = "adlseq" if key[0] == NS_ADLSEQ else "imsss"
        parsed[field_name] = parser(ctx, child, f"{where}/{prefix}:{key[1]}")
    return parsed


def build_sequencing(
    own: Mapping[str, Any],
    *,
    collection: Mapping[str, Any] | None = None,
    collection_ref: str | None = None,
) -> Sequencing:
    """Combine a collection entry with an item's own elements (item wins, per element).

    Args:
        own: the item's parsed elements (from :func:`parse_sequencing_elements`).
        collection: the referenced ``sequencingCollection`` entry's parsed elements, if any.
        collection_ref: the ``IDRef`` value, recorded on the result.

    Returns:
        The effective :class:`Sequencing` with every absent element at its spec default.
    """
    merged: dict[str, Any] = dict(collection or {})
    merged.update(own)
    return Sequencing(collection_ref=collection_ref, declared=tuple(sorted(merged)), **merged)
