"""SCORM 2004 sequencing definitions (IMS Simple Sequencing 1.0 as profiled by the SN book).

The one IMS SS model: typed, immutable, with every spec default filled in. The packaging layer
parses manifests into it (:mod:`scorm.packaging.sequencing_xml`) and the activity tree holds it
(:mod:`scorm.sequencing.tree`), so the engine executes exactly what was parsed. Stdlib only: the
sequencing runtime imports it without lxml or the packaging code. Section numbers below refer
to the SCORM 2004 4th Edition Sequencing and Navigation (SN) book, chapter 5 ("Sequencing
Definition Model") and the IMS SS 1.0 XML binding; 2nd/3rd edition use the same elements and
defaults except where noted.

Sequencing collections (SN 5.1 / CAM 3.4.1.23): an ``<imsss:sequencing IDRef="x">`` on an item
starts from the collection entry with ``ID="x"``; any child element the item declares itself
replaces the collection's element of the same name, whole (element granularity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

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

    # The names the sequencing engine reads (scorm.sequencing.tracking).
    @property
    def negate(self) -> bool:
        """``operator="not"``: the condition's value is negated (SN 5.1.2.1.3)."""
        return self.operator == ConditionOperator.NOT

    @property
    def objective(self) -> str | None:
        """``referencedObjective`` (``None``: the primary objective)."""
        return self.referenced_objective

    @property
    def threshold(self) -> float:
        """``measureThreshold``."""
        return self.measure_threshold


@dataclass(frozen=True, kw_only=True)
class SequencingRule:
    """A pre-, exit- or post-condition rule (SN 5.1.2.1)."""

    kind: RuleKind
    condition_combination: ConditionCombination = ConditionCombination.ALL
    conditions: tuple[RuleCondition, ...] = ()
    action: RuleAction

    @property
    def combination(self) -> ConditionCombination:
        """``conditionCombination`` (the name the sequencing engine reads)."""
        return self.condition_combination


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

    @property
    def negate(self) -> bool:
        """``operator="not"``: the condition's value is negated (SN 5.1.5.1.2)."""
        return self.operator == ConditionOperator.NOT


@dataclass(frozen=True, kw_only=True)
class RollupRule:
    """imsss:rollupRule (SN 5.1.5.1)."""

    child_activity_set: ChildActivitySet = ChildActivitySet.ALL
    minimum_count: int = 0
    minimum_percent: float = 0.0
    condition_combination: ConditionCombination = ConditionCombination.ANY
    conditions: tuple[RollupCondition, ...] = ()
    action: RollupAction

    @property
    def combination(self) -> ConditionCombination:
        """``conditionCombination`` (the name the sequencing engine reads)."""
        return self.condition_combination


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
