"""IMS Simple Sequencing XML (``imsss:sequencing`` / ``adlseq``) read into the one model.

Parses the child elements of one ``imsss:sequencing`` into the immutable definition of
:mod:`scorm.sequencing.definition` (the model the sequencing engine executes). Values go through
:class:`scorm.packaging.values.ValueReader`, the one reader of the XML value space. Section
numbers refer to the SCORM 2004 4th Edition SN book, chapter 5, and the IMS SS 1.0 XML binding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from lxml import etree

from scorm.packaging.values import ValueReader
from scorm.packaging.xmlsafe import local_name, namespace, text_of
from scorm.sequencing.definition import (
    RULE_ACTIONS_BY_KIND,
    AdlMapInfo,
    AdlObjective,
    ChildActivitySet,
    ConditionCombination,
    ConditionOperator,
    ConstrainedChoiceConsiderations,
    ControlMode,
    DeliveryControls,
    LimitConditions,
    MapInfo,
    Objective,
    Objectives,
    RandomizationControls,
    RandomizationTiming,
    RollupAction,
    RollupCondition,
    RollupConditionType,
    RollupConsiderations,
    RollupRequirement,
    RollupRule,
    RollupRules,
    RuleAction,
    RuleCondition,
    RuleConditionType,
    RuleKind,
    SequencingRule,
    SequencingRules,
    objective_identifier,
)

NS_IMSSS = "http://www.imsglobal.org/xsd/imsss"
C = TypeVar("C")
NS_ADLSEQ = "http://www.adlnet.org/xsd/adlseq_v1p3"
SPEC = "SN 5.1"

_RULE_ELEMENTS: Mapping[str, RuleKind] = {
    "preConditionRule": RuleKind.PRE,
    "exitConditionRule": RuleKind.EXIT,
    "postConditionRule": RuleKind.POST,
}


def _flag(ctx: ValueReader, el: etree._Element, attr: str, default: bool, where: str) -> bool:
    """The ``xs:boolean`` attribute ``attr`` of ``el`` (``where`` locates ``el``)."""
    return ctx.boolean(el.get(attr), default, f"{where}/@{attr}")


def _children(el: etree._Element, ns: str, name: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and c.tag == f"{{{ns}}}{name}"]


def _child(el: etree._Element, ns: str, name: str) -> etree._Element | None:
    found = _children(el, ns, name)
    return found[0] if found else None


def _control_mode(ctx: ValueReader, el: etree._Element, where: str) -> ControlMode:
    return ControlMode(
        choice=_flag(ctx, el, "choice", True, where),
        choice_exit=_flag(ctx, el, "choiceExit", True, where),
        flow=_flag(ctx, el, "flow", False, where),
        forward_only=_flag(ctx, el, "forwardOnly", False, where),
        use_current_attempt_objective_info=_flag(ctx,
            el, "useCurrentAttemptObjectiveInfo", True, where
        ),
        use_current_attempt_progress_info=_flag(ctx,
            el, "useCurrentAttemptProgressInfo", True, where
        ),
    )


def _conditions(
    ctx: ValueReader,
    rule_el: etree._Element,
    rwhere: str,
    item: str,
    default: ConditionCombination,
    read: Callable[[etree._Element, str], C],
) -> tuple[ConditionCombination, list[C]]:
    """A rule's ``<item>s`` container (``ruleConditions``/``rollupConditions``): its combination and conditions."""
    container = f"{item}s"
    conds_el = _child(rule_el, NS_IMSSS, container)
    if conds_el is None:
        return default, []
    combination = ctx.vocab(
        ConditionCombination,
        conds_el.get("conditionCombination"),
        default,
        f"{rwhere}/imsss:{container}/@conditionCombination",
    )
    conditions = [
        read(cond, f"{rwhere}/imsss:{container}/imsss:{item}[{index}]")
        for index, cond in enumerate(_children(conds_el, NS_IMSSS, item), start=1)
    ]
    return combination, conditions


def _sequencing_rules(ctx: ValueReader, el: etree._Element, where: str) -> SequencingRules:
    lists: dict[RuleKind, list[SequencingRule]] = {kind: [] for kind in RuleKind}
    for index, rule_el in enumerate(el, start=1):
        name = local_name(rule_el)
        if namespace(rule_el) != NS_IMSSS or name not in _RULE_ELEMENTS:
            continue
        kind = _RULE_ELEMENTS[name]
        rwhere = f"{where}/imsss:{name}[{index}]"

        def rule_condition(cond: etree._Element, cwhere: str) -> RuleCondition:
            return RuleCondition(
                condition=ctx.vocab(RuleConditionType, cond.get("condition"), None, f"{cwhere}/@condition"),
                operator=ctx.vocab(
                    ConditionOperator, cond.get("operator"), ConditionOperator.NO_OP, f"{cwhere}/@operator"
                ),
                referenced_objective=objective_identifier(cond.get("referencedObjective")) or None,
                measure_threshold=ctx.decimal(
                    cond.get("measureThreshold"), 0.0, f"{cwhere}/@measureThreshold", -1.0, 1.0
                ),
            )

        combination, conditions = _conditions(
            ctx, rule_el, rwhere, "ruleCondition", ConditionCombination.ALL, rule_condition
        )
        if not conditions:
            raise ctx.fail(
                rwhere,
                "sequencing_rule_needs_least_one",
                "SN 5.1.2.1.2 ruleConditions",
            )
        action_el = _child(rule_el, NS_IMSSS, "ruleAction")
        if action_el is None:
            raise ctx.fail(
                rwhere, "sequencing_rule_needs_ruleaction", "SN 5.1.2.1.4 ruleAction"
            )
        action = ctx.vocab(
            RuleAction, action_el.get("action"), None, f"{rwhere}/imsss:ruleAction/@action"
        )
        if action not in RULE_ACTIONS_BY_KIND[kind]:
            allowed = ", ".join(sorted(a.value for a in RULE_ACTIONS_BY_KIND[kind]))
            raise ctx.fail(
                f"{rwhere}/imsss:ruleAction/@action",
                "action_allowed_use_one",
                "SN 5.1.2.1.4 ruleAction", params={"value": action.value, "name": name, "allowed": allowed},
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


def _limit_conditions(ctx: ValueReader, el: etree._Element, where: str) -> LimitConditions:
    duration = (el.get("attemptAbsoluteDurationLimit") or "").strip() or None
    return LimitConditions(
        attempt_limit=ctx.integer(el.get("attemptLimit"), f"{where}/@attemptLimit"),
        attempt_absolute_duration_limit=duration,
    )


def _rollup_rules(ctx: ValueReader, el: etree._Element, where: str) -> RollupRules:
    rules: list[RollupRule] = []
    for index, rule_el in enumerate(_children(el, NS_IMSSS, "rollupRule"), start=1):
        rwhere = f"{where}/imsss:rollupRule[{index}]"

        def rollup_condition(cond: etree._Element, cwhere: str) -> RollupCondition:
            return RollupCondition(
                condition=ctx.vocab(RollupConditionType, cond.get("condition"), None, f"{cwhere}/@condition"),
                operator=ctx.vocab(
                    ConditionOperator, cond.get("operator"), ConditionOperator.NO_OP, f"{cwhere}/@operator"
                ),
            )

        combination, conditions = _conditions(
            ctx, rule_el, rwhere, "rollupCondition", ConditionCombination.ANY, rollup_condition
        )
        if not conditions:
            raise ctx.fail(
                rwhere,
                "rollup_rule_needs_least_one",
                "SN 5.1.5.1.2 rollupConditions",
            )
        action_el = _child(rule_el, NS_IMSSS, "rollupAction")
        if action_el is None:
            raise ctx.fail(
                rwhere, "rollup_rule_needs_rollupaction", "SN 5.1.5.1.3 rollupAction"
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
        rollup_objective_satisfied=_flag(ctx, el, "rollupObjectiveSatisfied", True, where),
        rollup_progress_completion=_flag(ctx, el, "rollupProgressCompletion", True, where),
        objective_measure_weight=ctx.decimal(
            el.get("objectiveMeasureWeight"),
            1.0,
            f"{where}/@objectiveMeasureWeight",
            0.0,
            1.0,
        ),
        rules=tuple(rules),
    )


def _objective(ctx: ValueReader, el: etree._Element, where: str, *, primary: bool) -> Objective:
    objective_id = objective_identifier(el.get("objectiveID")) or None
    if objective_id is None and not primary:
        raise ctx.fail(
            f"{where}/@objectiveID",
            "objective_needs_objectiveid",
            "SN 5.1.6 objective@objectiveID",
        )
    measure_el = _child(el, NS_IMSSS, "minNormalizedMeasure")
    # an empty <minNormalizedMeasure/> takes the schema default (XML Schema Part 1 3.3.1)
    measure_raw = text_of(measure_el)
    map_infos: list[MapInfo] = []
    for index, map_el in enumerate(_children(el, NS_IMSSS, "mapInfo"), start=1):
        mwhere = f"{where}/imsss:mapInfo[{index}]"
        target = objective_identifier(map_el.get("targetObjectiveID"))
        if not target:
            raise ctx.fail(
                f"{mwhere}/@targetObjectiveID",
                "mapinfo_needs_targetobjectiveid_global_objective",
                "SN 5.1.6.3 mapInfo",
            )
        map_infos.append(
            MapInfo(
                target_objective_id=target,
                read_satisfied_status=_flag(ctx, map_el, "readSatisfiedStatus", True, mwhere),
                read_normalized_measure=_flag(ctx, map_el, "readNormalizedMeasure", True, mwhere),
                write_satisfied_status=_flag(ctx, map_el, "writeSatisfiedStatus", False, mwhere),
                write_normalized_measure=_flag(ctx,
                    map_el, "writeNormalizedMeasure", False, mwhere
                ),
            )
        )
    return Objective(
        objective_id=objective_id,
        is_primary=primary,
        satisfied_by_measure=_flag(ctx, el, "satisfiedByMeasure", False, where),
        min_normalized_measure=ctx.decimal(
            measure_raw, 1.0, f"{where}/imsss:minNormalizedMeasure", -1.0, 1.0
        ),
        map_info=tuple(map_infos),
    )


def _objectives(ctx: ValueReader, el: etree._Element, where: str) -> Objectives:
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
                "objectiveid_used_twice_same_activity",
                "SN 5.1.6 objectiveID unique within an activity", params={"objective_id": objective.objective_id},
            )
        seen.add(objective.objective_id)
    return Objectives(primary=primary, others=others)


def _adl_objectives(ctx: ValueReader, el: etree._Element, where: str) -> tuple[AdlObjective, ...]:
    result: list[AdlObjective] = []
    for index, obj_el in enumerate(_children(el, NS_ADLSEQ, "objective"), start=1):
        owhere = f"{where}/adlseq:objective[{index}]"
        objective_id = objective_identifier(obj_el.get("objectiveID"))
        if not objective_id:
            raise ctx.fail(
                f"{owhere}/@objectiveID",
                "adlseq_objective_needs_objectiveid",
                "SN 5.1.6.4 adlseq:objective",
            )
        maps: list[AdlMapInfo] = []
        for m_index, map_el in enumerate(_children(obj_el, NS_ADLSEQ, "mapInfo"), start=1):
            mwhere = f"{owhere}/adlseq:mapInfo[{m_index}]"
            target = objective_identifier(map_el.get("targetObjectiveID"))
            if not target:
                raise ctx.fail(
                    f"{mwhere}/@targetObjectiveID",
                    "adlseq_mapinfo_needs_targetobjectiveid",
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
                flags[snake] = _flag(ctx, map_el, attr, default, mwhere)
            maps.append(AdlMapInfo(target_objective_id=target, **flags))
        result.append(AdlObjective(objective_id=objective_id, map_info=tuple(maps)))
    return tuple(result)


def _randomization(ctx: ValueReader, el: etree._Element, where: str) -> RandomizationControls:
    return RandomizationControls(
        randomization_timing=ctx.vocab(
            RandomizationTiming,
            el.get("randomizationTiming"),
            RandomizationTiming.NEVER,
            f"{where}/@randomizationTiming",
        ),
        select_count=ctx.integer(el.get("selectCount"), f"{where}/@selectCount"),
        reorder_children=_flag(ctx, el, "reorderChildren", False, where),
        selection_timing=ctx.vocab(
            RandomizationTiming,
            el.get("selectionTiming"),
            RandomizationTiming.NEVER,
            f"{where}/@selectionTiming",
        ),
    )


def _delivery(ctx: ValueReader, el: etree._Element, where: str) -> DeliveryControls:
    return DeliveryControls(
        tracked=_flag(ctx, el, "tracked", True, where),
        completion_set_by_content=_flag(ctx, el, "completionSetByContent", False, where),
        objective_set_by_content=_flag(ctx, el, "objectiveSetByContent", False, where),
    )


def _constrained(ctx: ValueReader, el: etree._Element, where: str) -> ConstrainedChoiceConsiderations:
    return ConstrainedChoiceConsiderations(
        prevent_activation=_flag(ctx, el, "preventActivation", False, where),
        constrain_choice=_flag(ctx, el, "constrainChoice", False, where),
    )


def _rollup_considerations(ctx: ValueReader, el: etree._Element, where: str) -> RollupConsiderations:
    def req(attr: str) -> RollupRequirement:
        return ctx.vocab(
            RollupRequirement, el.get(attr), RollupRequirement.ALWAYS, f"{where}/@{attr}"
        )

    return RollupConsiderations(
        required_for_satisfied=req("requiredForSatisfied"),
        required_for_not_satisfied=req("requiredForNotSatisfied"),
        required_for_completed=req("requiredForCompleted"),
        required_for_incomplete=req("requiredForIncomplete"),
        measure_satisfaction_if_active=_flag(ctx, el, "measureSatisfactionIfActive", True, where),
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
    ctx = ValueReader(file, spec=SPEC)
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


