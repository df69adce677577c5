"""Manifest parsing rules, table-driven: launch URLs, editions, adlcp/adlnav, sequencing, cmi5."""

from __future__ import annotations

import pytest

from scorm.packaging import (
    DEFAULT_LIMITS,
    Cmi5AU,
    Cmi5Block,
    ImportLimits,
    LaunchMethod,
    MoveOn,
    PackageError,
    ScormManifest,
    Standard,
    parse_manifest_bytes,
)
from scorm.packaging.urls import apply_parameters, join_base, normalize_package_path
from scorm.packaging.xmlsafe import parse_xml
from scorm.sequencing.definition import (
    DEFAULT_SEQUENCING,
    ChildActivitySet,
    ConditionCombination,
    ConditionOperator,
    RandomizationTiming,
    RollupAction,
    RollupConditionType,
    RollupRequirement,
    RuleAction,
    RuleConditionType,
)

# --- launch URL construction ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "parameters", "expected"),
    [
        ("a.html", None, "a.html"),
        ("a.html", "", "a.html"),
        ("a.html", "?x=1", "a.html?x=1"),
        ("a.html", "x=1", "a.html?x=1"),
        ("a.html", "&x=1", "a.html?x=1"),
        ("a.html?y=2", "?x=1", "a.html?y=2&x=1"),
        ("a.html?y=2", "x=1&z=3", "a.html?y=2&x=1&z=3"),
        ("a.html", "#page2", "a.html#page2"),
        ("a.html#top", "#page2", "a.html#top"),
        ("a.html#top", "?x=1", "a.html?x=1#top"),
        ("a.html?y=2#top", "x=1", "a.html?y=2&x=1#top"),
        ("a.html?", "x=1", "a.html?x=1"),
        ("https://cdn.example.org/a.html", "?x=1", "https://cdn.example.org/a.html?x=1"),
    ],
)
def test_apply_parameters(href, parameters, expected):
    assert apply_parameters(href, parameters) == expected


@pytest.mark.parametrize(
    ("bases", "href", "expected"),
    [
        ((), "a.html", "a.html"),
        (("content/",), "a.html", "content/a.html"),
        (("content/", "sco1/"), "a.html", "content/sco1/a.html"),
        (("content/", "https://cdn.example.org/x/"), "a.html", "https://cdn.example.org/x/a.html"),
        (("content/",), "https://cdn.example.org/a.html", "https://cdn.example.org/a.html"),
        (("content",), "a.html", "a.html"),  # a base without "/" names a file, not a folder
    ],
)
def test_join_base(bases, href, expected):
    assert join_base(bases, href) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a/./b/../c.html", "a/c.html"), ("./x.html", "x.html"), ("a//b.html", "a/b.html")],
)
def test_normalize_package_path(path, expected):
    assert normalize_package_path(path, file="m", element="e") == expected


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "C:/x", "a\\b"])
def test_normalize_package_path_refuses_escapes(path):
    with pytest.raises(PackageError) as info:
        normalize_package_path(path, file="m", element="e")
    assert info.value.code == "zip_slip"


# --- SCORM manifests --------------------------------------------------------------------------

NS12 = 'xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"'
NS2004 = (
    'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
    'xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" '
    'xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3" '
    'xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3" '
    'xmlns:imsss="http://www.imsglobal.org/xsd/imsss"'
)


def scorm(
    *,
    ns: str = NS2004,
    version: str | None = "2004 4th Edition",
    items: str = '<item identifier="i1" identifierref="r1"><title>One</title></item>',
    org_extra: str = "",
    default: str = "o1",
    resources: str = ('<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html"/>'),
    tail: str = "",
    root_attrs: str = "",
    metadata: str = "",
) -> ScormManifest:
    schemaversion = f"<schemaversion>{version}</schemaversion>" if version else ""
    xml = f"""<?xml version="1.0"?>
<manifest identifier="m" {ns} {root_attrs}>
  <metadata><schema>ADL SCORM</schema>{schemaversion}{metadata}</metadata>
  <organizations default="{default}">
    <organization identifier="o1"><title>Org one</title>{items}{org_extra}</organization>
    <organization identifier="o2"><title>Org two</title>
      <item identifier="other" identifierref="r1"><title>Other</title></item>
    </organization>
  </organizations>
  <resources {root_attrs and ""}>{resources}</resources>
  {tail}
</manifest>""".encode()
    result = parse_manifest_bytes(xml, file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    assert isinstance(result, ScormManifest)
    return result


@pytest.mark.parametrize(
    ("ns", "version", "standard", "edition"),
    [
        (NS12, "1.2", Standard.SCORM12, None),
        (NS2004, "CAM 1.3", Standard.SCORM2004, 2),
        (NS2004, "2004 3rd Edition", Standard.SCORM2004, 3),
        (NS2004, "2004 4th Edition", Standard.SCORM2004, 4),
        (NS2004, "  2004   4TH edition ", Standard.SCORM2004, 4),
        (NS12, None, Standard.SCORM12, None),  # from the adlcp 1.2 namespace
        (NS2004, None, Standard.SCORM2004, 3),  # SPEC COMPLIANCE NOTE default
    ],
)
def test_edition_detection(ns, version, standard, edition):
    type_attr = "adlcp:scormtype" if ns == NS12 else "adlcp:scormType"
    manifest = scorm(
        ns=ns,
        version=version,
        resources=f'<resource identifier="r1" type="webcontent" {type_attr}="sco" href="a.html"/>',
    )
    assert (manifest.standard, manifest.edition) == (standard, edition)


def test_edition_without_schemaversion_fourth_edition_constructs():
    manifest = scorm(
        version=None,
        items=(
            '<item identifier="i1" identifierref="r1"><title>One</title>'
            '<adlcp:data><adlcp:map targetID="urn:x"/></adlcp:data></item>'
        ),
    )
    assert manifest.edition == 4


def test_unknown_schemaversion_refused():
    with pytest.raises(PackageError) as info:
        scorm(version="2004 5th Edition")
    assert info.value.code == "unknown_standard"
    assert info.value.element == "manifest/metadata/schemaversion"


def test_default_organization_fallback_and_choice():
    assert scorm(default="o2").default_organization.identifier == "o2"
    fallback = scorm(default="nothing-here")
    assert fallback.default_organization.identifier == "o1"
    assert fallback.launchables()[0].identifier == "i1"


def test_xml_base_and_parameters_build_launch_url():
    manifest = scorm(
        root_attrs='xml:base="course/"',
        resources=(
            '<resource identifier="r1" type="webcontent" adlcp:scormType="sco" '
            'xml:base="sco1/" href="start.html?lang=en"><file href="start.html"/></resource>'
        ),
        items=('<item identifier="i1" identifierref="r1" parameters="?chapter=2"><title>One</title></item>'),
    )
    res = manifest.resource("r1")
    assert res.launch_path == "course/sco1/start.html?lang=en"
    assert res.files == ("course/sco1/start.html",)
    assert manifest.item("i1").launch_url == "course/sco1/start.html?lang=en&chapter=2"
    assert ("course/sco1/start.html", "resource[@identifier='r1']/@href") in (manifest.required_files())


@pytest.mark.parametrize(
    ("href", "launch"),
    [
        ("./a/../start.html#top?x", "start.html#top?x"),
        ("sub/./page.html?a=1#f", "sub/page.html?a=1#f"),
        ("page%20one.html", "page%20one.html"),
        ("shared\\launch.html", "shared/launch.html"),
    ],
)
def test_resource_href_normalised_keeping_query_and_fragment(href, launch):
    manifest = scorm(
        resources=f'<resource identifier="r1" adlcp:scormType="sco" href="{href}"/>',
    )
    assert manifest.item("i1").launch_url == launch
    needed = {path for path, _ in manifest.required_files()}
    assert needed == {launch.split("#")[0].split("?")[0].replace("%20", " ")}


def test_isvisible_and_asset_launchables():
    manifest = scorm(
        items=(
            '<item identifier="i1" identifierref="r1" isvisible="false">'
            "<title>Hidden</title></item>"
            '<item identifier="agg"><title>Folder</title>'
            '<item identifier="i2" identifierref="r2"><title>Page</title></item></item>'
        ),
        resources=(
            '<resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="a.html"/>'
            '<resource identifier="r2" type="webcontent" adlcp:scormType="asset" href="b.pdf"/>'
        ),
    )
    launchables = manifest.launchables()
    assert [(lc.identifier, lc.visible, lc.kind.value) for lc in launchables] == [
        ("i1", False, "sco"),
        ("i2", True, "asset"),
    ]


def test_scorm12_adlcp_item_elements_and_lom_metadata():
    items = """
      <item identifier="i1" identifierref="r1" parameters="mode=exam">
        <title>Exam</title>
        <adlcp:prerequisites type="aicc_script">intro</adlcp:prerequisites>
        <adlcp:maxtimeallowed>00:30:00</adlcp:maxtimeallowed>
        <adlcp:timelimitaction>exit, message</adlcp:timelimitaction>
        <adlcp:datafromlms>level=3</adlcp:datafromlms>
        <adlcp:masteryscore>75</adlcp:masteryscore>
        <metadata><adlcp:location>meta/item1.xml</adlcp:location></metadata>
      </item>"""
    lom = """
      <lom xmlns="http://www.imsglobal.org/xsd/imsmd_rootv1p2p1"><general>
        <title><langstring xml:lang="fr">Golf pour tous</langstring></title>
        <language>fr</language>
        <description><langstring>Un cours de golf.</langstring></description>
        <keyword><langstring>golf</langstring></keyword>
      </general></lom>"""
    manifest = scorm(
        ns=NS12,
        version="1.2",
        items=items,
        metadata=lom,
        resources=('<resource identifier="r1" type="webcontent" adlcp:scormtype="sco" href="exam.html"/>'),
    )
    item = manifest.item("i1")
    assert item.mastery_score == 75.0
    assert (item.prerequisites, item.prerequisites_type) == ("intro", "aicc_script")
    assert item.max_time_allowed == "00:30:00"
    assert item.time_limit_action == "exit,message"
    assert item.data_from_lms == "level=3"
    assert item.launch_url == "exam.html?mode=exam"
    assert item.metadata.location == "meta/item1.xml"
    assert ("meta/item1.xml", "item[@identifier='i1']/metadata/adlcp:location") in manifest.optional_files()
    assert "meta/item1.xml" not in {path for path, _ in manifest.required_files()}
    assert manifest.metadata.title == "Golf pour tous"
    assert manifest.metadata.description == "Un cours de golf."
    assert manifest.metadata.language == "fr"
    assert manifest.metadata.keywords == ("golf",)


@pytest.mark.parametrize(
    ("fragment", "element"),
    [
        ("<adlcp:masteryscore>120</adlcp:masteryscore>", "adlcp:masteryscore"),
        ("<adlcp:masteryscore>lots</adlcp:masteryscore>", "adlcp:masteryscore"),
        ("<adlcp:timelimitaction>explode</adlcp:timelimitaction>", "adlcp:timelimitaction"),
    ],
)
def test_scorm12_invalid_item_values(fragment, element):
    with pytest.raises(PackageError) as info:
        scorm(
            ns=NS12,
            version="1.2",
            items=f'<item identifier="i1" identifierref="r1"><title>T</title>{fragment}</item>',
            resources='<resource identifier="r1" adlcp:scormtype="sco" href="a.html"/>',
        )
    assert info.value.code == "invalid_manifest"
    assert info.value.element.endswith(element)


def test_scorm2004_item_extensions():
    items = """
      <item identifier="i1" identifierref="r1">
        <title>One</title>
        <adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.6"
                                   progressWeight="0.5"/>
        <adlcp:timeLimitAction>continue,no message</adlcp:timelimitaction>
      </item>"""
    items = items.replace("</adlcp:timelimitaction>", "</adlcp:timeLimitAction>")
    items = items.replace(
        "</item>",
        """<adlcp:dataFromLMS>start=5</adlcp:dataFromLMS>
        <adlcp:data>
          <adlcp:map targetID="urn:shared:notes" readSharedData="true" writeSharedData="false"/>
          <adlcp:map targetID="urn:shared:score"/>
        </adlcp:data>
        <adlnav:presentation><adlnav:navigationInterface>
          <adlnav:hideLMSUI>continue</adlnav:hideLMSUI>
          <adlnav:hideLMSUI>previous</adlnav:hideLMSUI>
        </adlnav:navigationInterface></adlnav:presentation>
      </item>""",
    )
    item = scorm(items=items).item("i1")
    ct = item.completion_threshold
    assert (ct.completed_by_measure, ct.min_progress_measure, ct.progress_weight) == (
        True,
        0.6,
        0.5,
    )
    assert item.completion_threshold_value == 0.6
    assert item.time_limit_action == "continue,no message"
    assert item.data_from_lms == "start=5"
    assert [(m.target_id, m.read_shared_data, m.write_shared_data) for m in item.shared_data] == [
        ("urn:shared:notes", True, False),
        ("urn:shared:score", True, True),
    ]
    assert item.hide_lms_ui == ("continue", "previous")


def test_third_edition_completion_threshold_value():
    items = (
        '<item identifier="i1" identifierref="r1"><title>One</title>'
        "<adlcp:completionThreshold>0.75</adlcp:completionThreshold></item>"
    )
    ct = scorm(version="2004 3rd Edition", items=items).item("i1").completion_threshold
    assert (ct.completed_by_measure, ct.min_progress_measure, ct.raw_value) == (True, 0.75, "0.75")
    assert scorm().item("i1").completion_threshold_value is None


FULL_SEQUENCING = """
<imsss:sequencing>
  <imsss:controlMode choice="false" choiceExit="false" flow="true" forwardOnly="true"
      useCurrentAttemptObjectiveInfo="false" useCurrentAttemptProgressInfo="false"/>
  <imsss:sequencingRules>
    <imsss:preConditionRule>
      <imsss:ruleConditions>
        <imsss:ruleCondition condition="always"/>
      </imsss:ruleConditions>
      <imsss:ruleAction action="hiddenFromChoice"/>
    </imsss:preConditionRule>
    <imsss:exitConditionRule>
      <imsss:ruleConditions conditionCombination="all">
        <imsss:ruleCondition condition="objectiveMeasureGreaterThan" measureThreshold="0.5"
            referencedObjective="obj1"/>
      </imsss:ruleConditions>
      <imsss:ruleAction action="exit"/>
    </imsss:exitConditionRule>
    <imsss:postConditionRule>
      <imsss:ruleConditions conditionCombination="any">
        <imsss:ruleCondition condition="attemptLimitExceeded" operator="not"/>
        <imsss:ruleCondition condition="satisfied"/>
      </imsss:ruleConditions>
      <imsss:ruleAction action="retry"/>
    </imsss:postConditionRule>
  </imsss:sequencingRules>
  <imsss:limitConditions attemptLimit="3" attemptAbsoluteDurationLimit="PT1H"/>
  <imsss:rollupRules rollupObjectiveSatisfied="false" rollupProgressCompletion="false"
      objectiveMeasureWeight="0.25">
    <imsss:rollupRule childActivitySet="atLeastPercent" minimumPercent="0.75" minimumCount="2">
      <imsss:rollupConditions conditionCombination="all">
        <imsss:rollupCondition condition="completed"/>
        <imsss:rollupCondition condition="attempted" operator="not"/>
      </imsss:rollupConditions>
      <imsss:rollupAction action="incomplete"/>
    </imsss:rollupRule>
  </imsss:rollupRules>
  <imsss:objectives>
    <imsss:primaryObjective objectiveID="obj1" satisfiedByMeasure="true">
      <imsss:minNormalizedMeasure>0.6</imsss:minNormalizedMeasure>
      <imsss:mapInfo targetObjectiveID="urn:g1" readNormalizedMeasure="false"
          writeNormalizedMeasure="true"/>
    </imsss:primaryObjective>
    <imsss:objective objectiveID="obj2"/>
  </imsss:objectives>
  <imsss:randomizationControls randomizationTiming="onEachNewAttempt" selectCount="2"
      reorderChildren="true" selectionTiming="once"/>
  <imsss:deliveryControls tracked="false" completionSetByContent="true"/>
  <adlseq:constrainedChoiceConsiderations preventActivation="true" constrainChoice="true"/>
  <adlseq:rollupConsiderations requiredForSatisfied="ifAttempted"
      requiredForNotSatisfied="ifNotSkipped" requiredForCompleted="ifNotSuspended"
      measureSatisfactionIfActive="false"/>
  <adlseq:objectives>
    <adlseq:objective objectiveID="obj1">
      <adlseq:mapInfo targetObjectiveID="urn:g1" writeRawScore="true" readMaxScore="false"/>
    </adlseq:objective>
  </adlseq:objectives>
</imsss:sequencing>
"""


def test_full_sequencing_definition_parsed_with_types():
    items = f'<item identifier="i1" identifierref="r1"><title>One</title>{FULL_SEQUENCING}</item>'
    seq = scorm(items=items).item("i1").sequencing
    cm = seq.control_mode
    assert (cm.choice, cm.choice_exit, cm.flow, cm.forward_only) == (False, False, True, True)
    assert cm.use_current_attempt_objective_info is False
    assert cm.use_current_attempt_progress_info is False

    (pre,) = seq.sequencing_rules.pre_condition
    assert pre.action is RuleAction.HIDDEN_FROM_CHOICE
    assert pre.condition_combination is ConditionCombination.ALL  # default
    assert pre.conditions[0].condition is RuleConditionType.ALWAYS
    assert pre.conditions[0].operator is ConditionOperator.NO_OP
    (exit_rule,) = seq.sequencing_rules.exit_condition
    (cond,) = exit_rule.conditions
    assert (cond.condition, cond.measure_threshold, cond.referenced_objective) == (
        RuleConditionType.OBJECTIVE_MEASURE_GREATER_THAN,
        0.5,
        "obj1",
    )
    (post,) = seq.sequencing_rules.post_condition
    assert post.action is RuleAction.RETRY
    assert post.condition_combination is ConditionCombination.ANY
    assert [c.operator for c in post.conditions] == [ConditionOperator.NOT, ConditionOperator.NO_OP]

    assert (
        seq.limit_conditions.attempt_limit,
        seq.limit_conditions.attempt_absolute_duration_limit,
    ) == (
        3,
        "PT1H",
    )
    rr = seq.rollup_rules
    assert (rr.rollup_objective_satisfied, rr.rollup_progress_completion) == (False, False)
    assert rr.objective_measure_weight == 0.25
    (rule,) = rr.rules
    assert rule.child_activity_set is ChildActivitySet.AT_LEAST_PERCENT
    assert (rule.minimum_percent, rule.minimum_count) == (0.75, 2)
    assert rule.condition_combination is ConditionCombination.ALL
    assert [(c.condition, c.operator) for c in rule.conditions] == [
        (RollupConditionType.COMPLETED, ConditionOperator.NO_OP),
        (RollupConditionType.ATTEMPTED, ConditionOperator.NOT),
    ]
    assert rule.action is RollupAction.INCOMPLETE

    primary = seq.objectives.primary
    assert (primary.objective_id, primary.satisfied_by_measure, primary.min_normalized_measure) == (
        "obj1",
        True,
        0.6,
    )
    (mi,) = primary.map_info
    assert (mi.read_satisfied_status, mi.read_normalized_measure) == (True, False)
    assert (mi.write_satisfied_status, mi.write_normalized_measure) == (False, True)
    assert seq.objectives.find("obj2").min_normalized_measure == 1.0

    rc = seq.randomization_controls
    assert rc.randomization_timing is RandomizationTiming.ON_EACH_NEW_ATTEMPT
    assert rc.selection_timing is RandomizationTiming.ONCE
    assert (rc.select_count, rc.reorder_children) == (2, True)
    dc = seq.delivery_controls
    assert (dc.tracked, dc.completion_set_by_content, dc.objective_set_by_content) == (
        False,
        True,
        False,
    )
    ccc = seq.constrained_choice_considerations
    assert (ccc.prevent_activation, ccc.constrain_choice) == (True, True)
    rcons = seq.rollup_considerations
    assert rcons.required_for_satisfied is RollupRequirement.IF_ATTEMPTED
    assert rcons.required_for_not_satisfied is RollupRequirement.IF_NOT_SKIPPED
    assert rcons.required_for_completed is RollupRequirement.IF_NOT_SUSPENDED
    assert rcons.required_for_incomplete is RollupRequirement.ALWAYS
    assert rcons.measure_satisfaction_if_active is False
    (adl,) = seq.adl_objectives
    (adl_map,) = adl.map_info
    assert adl.objective_id == "obj1" and adl_map.target_objective_id == "urn:g1"
    assert (adl_map.write_raw_score, adl_map.read_max_score, adl_map.read_raw_score) == (
        True,
        False,
        True,
    )
    assert adl_map.write_progress_measure is False


def test_item_without_sequencing_gets_every_default():
    seq = scorm().item("i1").sequencing
    assert seq == DEFAULT_SEQUENCING
    assert seq.control_mode.choice and seq.control_mode.choice_exit
    assert not seq.control_mode.flow and not seq.control_mode.forward_only
    assert seq.delivery_controls.tracked is True
    assert seq.rollup_rules.objective_measure_weight == 1.0
    assert seq.limit_conditions.attempt_limit is None
    assert seq.rollup_considerations.required_for_satisfied is RollupRequirement.ALWAYS


COLLECTION = """
<imsss:sequencingCollection>
  <imsss:sequencing ID="shared">
    <imsss:controlMode flow="true" choice="false"/>
    <imsss:deliveryControls objectiveSetByContent="true"/>
    <imsss:limitConditions attemptLimit="2"/>
  </imsss:sequencing>
</imsss:sequencingCollection>"""


def test_collection_idref_resolution_item_elements_override_whole_elements():
    items = """
      <item identifier="i1" identifierref="r1"><title>Own</title>
        <imsss:sequencing IDRef="shared"><imsss:controlMode forwardOnly="true"/></imsss:sequencing>
      </item>
      <item identifier="i2" identifierref="r1"><title>Inherit</title>
        <imsss:sequencing IDRef="shared"/>
      </item>"""
    manifest = scorm(items=items, tail=COLLECTION)
    own = manifest.item("i1").sequencing
    # The item's controlMode replaces the collection's whole element: flow/choice are back to
    # their defaults, forwardOnly is the item's.
    assert (own.control_mode.flow, own.control_mode.choice, own.control_mode.forward_only) == (
        False,
        True,
        True,
    )
    assert own.delivery_controls.objective_set_by_content is True  # from the collection
    assert own.limit_conditions.attempt_limit == 2
    assert own.collection_ref == "shared"
    inherit = manifest.item("i2").sequencing
    assert (inherit.control_mode.flow, inherit.control_mode.choice) == (True, False)
    assert manifest.sequencing_collection[0].id == "shared"


@pytest.mark.parametrize(
    ("sequencing", "fragment"),
    [
        ('<imsss:sequencing IDRef="missing"/>', "@IDRef"),
        (
            '<imsss:sequencing><imsss:controlMode flow="maybe"/></imsss:sequencing>',
            "imsss:controlMode",
        ),
        (
            "<imsss:sequencing><imsss:sequencingRules><imsss:preConditionRule>"
            '<imsss:ruleConditions><imsss:ruleCondition condition="always"/></imsss:ruleConditions>'
            '<imsss:ruleAction action="retry"/></imsss:preConditionRule>'
            "</imsss:sequencingRules></imsss:sequencing>",
            "ruleAction/@action",
        ),
        (
            "<imsss:sequencing><imsss:sequencingRules><imsss:postConditionRule>"
            '<imsss:ruleConditions><imsss:ruleCondition condition="sunny"/></imsss:ruleConditions>'
            '<imsss:ruleAction action="retry"/></imsss:postConditionRule>'
            "</imsss:sequencingRules></imsss:sequencing>",
            "@condition",
        ),
        (
            '<imsss:sequencing><imsss:rollupRules objectiveMeasureWeight="2"/></imsss:sequencing>',
            "@objectiveMeasureWeight",
        ),
        (
            '<imsss:sequencing><imsss:limitConditions attemptLimit="-1"/></imsss:sequencing>',
            "@attemptLimit",
        ),
        (
            "<imsss:sequencing><imsss:objectives><imsss:objective/></imsss:objectives></imsss:sequencing>",
            "@objectiveID",
        ),
        (
            "<imsss:sequencing><imsss:objectives><imsss:primaryObjective>"
            "<imsss:mapInfo/></imsss:primaryObjective></imsss:objectives></imsss:sequencing>",
            "@targetObjectiveID",
        ),
        (
            "<imsss:sequencing><imsss:rollupRules><imsss:rollupRule>"
            '<imsss:rollupAction action="completed"/></imsss:rollupRule>'
            "</imsss:rollupRules></imsss:sequencing>",
            "rollupRule[1]",
        ),
    ],
)
def test_invalid_sequencing_refused_with_locator(sequencing, fragment):
    items = f'<item identifier="i1" identifierref="r1"><title>One</title>{sequencing}</item>'
    with pytest.raises(PackageError) as info:
        scorm(items=items, tail=COLLECTION)
    assert info.value.code == "invalid_manifest"
    assert fragment in info.value.element
    assert info.value.element.startswith("item[@identifier='i1']")


@pytest.mark.parametrize(
    ("items", "resources"),
    [
        (
            '<item identifier="i1" identifierref="r1"><title>A</title></item>'
            '<item identifier="i1" identifierref="r1"><title>B</title></item>',
            '<resource identifier="r1" adlcp:scormType="sco" href="a.html"/>',
        ),
        (
            '<item identifier="i1" identifierref="r1"><title>A</title></item>',
            '<resource identifier="r1" adlcp:scormType="sco"/>',
        ),
        (
            '<item identifier="i1" identifierref="r1"><title>A</title></item>',
            '<resource identifier="r1" adlcp:scormType="lesson" href="a.html"/>',
        ),
        (
            '<item identifier="i1" identifierref="r1"><title>A</title></item>',
            '<resource identifier="r1" adlcp:scormType="sco" href="a.html">'
            '<dependency identifierref="ghost"/></resource>',
        ),
    ],
    ids=["duplicate-item-id", "resource-without-href", "bad-scormtype", "dangling-dependency"],
)
def test_invalid_content_packaging_refused(items, resources):
    with pytest.raises(PackageError) as info:
        scorm(items=items, resources=resources)
    assert info.value.code == "invalid_manifest"


@pytest.mark.parametrize(
    "organizations",
    ["", "<organizations/>", '<organizations default="o1"></organizations>'],
    ids=["no-organizations-element", "empty-organizations", "no-organization"],
)
def test_manifest_without_organization_refused(organizations):
    xml = f"""<manifest identifier="m" {NS2004}>
      <metadata><schemaversion>2004 4th Edition</schemaversion></metadata>
      {organizations}
      <resources><resource identifier="r1" adlcp:scormType="sco" href="a.html"/></resources>
    </manifest>"""
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(xml.encode(), file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    assert info.value.code == "invalid_manifest"
    assert "nothing to launch" in info.value.message


# --- XML safety ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b"<?xml version='1.0'?>\n<!doctype x><x/>",
        b'<x><!ENTITY e "y"></x>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16-le"),
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16"),
    ],
    ids=["xxe", "lowercase-doctype", "entity-decl", "utf16-no-bom", "utf16-bom"],
)
def test_parse_xml_refuses_dtds(data):
    with pytest.raises(PackageError) as info:
        parse_xml(data, file="m.xml", max_bytes=1_000_000)
    assert info.value.code in {"xml_forbidden_dtd", "xml_malformed"}
    if b"D\x00O\x00C" not in data:
        assert info.value.code == "xml_forbidden_dtd"


def test_parse_xml_utf16_doctype_without_bom_is_refused_after_parse():
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16-le")
    with pytest.raises(PackageError) as info:
        parse_xml(data, file="m.xml", max_bytes=1_000_000)
    assert info.value.code == "xml_forbidden_dtd"


def test_parse_xml_bom_and_size_cap():
    assert parse_xml(b"\xef\xbb\xbf<a>x</a>", file="t.xml", max_bytes=100).text == "x"
    with pytest.raises(PackageError) as info:
        parse_xml(b"<a>" + b"x" * 200 + b"</a>", file="t.xml", max_bytes=100)
    assert info.value.code == "manifest_too_large"


# --- cmi5 --------------------------------------------------------------------------------------

CMI5_NESTED = """<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.org/c">
    <title>
      <langstring lang="de-DE">Geologie</langstring>
      <langstring lang="en-US">Geology</langstring>
    </title>
    <description><langstring lang="en-US">All about rocks</langstring></description>
  </course>
  <objectives>
    <objective id="https://example.org/o/basics">
      <title><langstring lang="en-US">Basics</langstring></title>
      <description><langstring lang="en-US">Basic knowledge</langstring></description>
    </objective>
  </objectives>
  <block id="https://example.org/c/b1">
    <title><langstring lang="en-US">Block one</langstring></title>
    <description><langstring lang="en-US">B</langstring></description>
    <objectives><objective idref="https://example.org/o/basics"/></objectives>
    <au id="https://example.org/c/b1/au1" moveOn="Passed" masteryScore="0.75"
        launchMethod="OwnWindow" activityType="http://adlnet.gov/expapi/activities/assessment">
      <title><langstring lang="en-US">Quiz</langstring></title>
      <description><langstring lang="en-US">Q</langstring></description>
      <objectives><objective idref="https://example.org/o/basics"/></objectives>
      <url>quiz/index.html?x=1</url>
      <launchParameters>{"level": 2}</launchParameters>
      <entitlementKey>xyz-123-9999</entitlementKey>
    </au>
    <block id="https://example.org/c/b1/b2">
      <title><langstring lang="en-US">Inner</langstring></title>
      <description><langstring lang="en-US">I</langstring></description>
      <au id="https://example.org/c/b1/b2/au2">
        <title><langstring lang="en-US">Remote</langstring></title>
        <description><langstring lang="en-US">R</langstring></description>
        <url>https://cdn.example.org/au2/</url>
      </au>
    </block>
  </block>
</courseStructure>"""


def test_cmi5_blocks_objectives_and_au_attributes():
    course = parse_manifest_bytes(CMI5_NESTED.encode(), file="cmi5.xml", limits=DEFAULT_LIMITS)
    assert course.title == "Geology"  # English preferred
    assert course.description == "All about rocks"
    (objective,) = course.objectives
    assert objective.id == "https://example.org/o/basics"
    (block,) = course.children
    assert isinstance(block, Cmi5Block)
    assert block.objectives == ("https://example.org/o/basics",)
    quiz, inner = block.children
    assert isinstance(quiz, Cmi5AU) and isinstance(inner, Cmi5Block)
    assert quiz.move_on is MoveOn.PASSED
    assert quiz.mastery_score == 0.75
    assert quiz.launch_method is LaunchMethod.OWN_WINDOW
    assert quiz.activity_type == "http://adlnet.gov/expapi/activities/assessment"
    assert quiz.launch_parameters == '{"level": 2}'
    assert quiz.entitlement_key == "xyz-123-9999"
    assert quiz.url == "quiz/index.html?x=1"
    (remote,) = inner.children
    assert remote.move_on is MoveOn.NOT_APPLICABLE
    assert remote.launch_method is LaunchMethod.ANY_WINDOW
    assert remote.mastery_score is None
    assert [au.id for au in course.aus()] == [quiz.id, remote.id]
    assert course.required_files() == (("quiz/index.html", f"au[@id='{quiz.id}']/url"),)


@pytest.mark.parametrize("param", ["endpoint", "fetch", "actor", "registration", "activityId"])
def test_cmi5_reserved_launch_params_refused(param):
    xml = CMI5_NESTED.replace("quiz/index.html?x=1", f"quiz/index.html?x=1&amp;{param}=v")
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(xml.encode(), file="cmi5.xml", limits=DEFAULT_LIMITS)
    assert info.value.code == "cmi5_url_param_conflict"
    assert param in info.value.message


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ('id="https://example.org/c/b1"', 'id="b1"', "cmi5_invalid_id"),
        ('id="https://example.org/c"', 'id="https://example.org/c/b1/au1"', "cmi5_duplicate_id"),
        (
            'id="https://example.org/c/b1/b2"',
            'id="https://example.org/o/basics"',
            "cmi5_duplicate_id",
        ),
        ('objective id="https://example.org/o/basics"', 'objective id="basics"', "cmi5_invalid_id"),
        ('masteryScore="0.75"', 'masteryScore="-0.1"', "cmi5_invalid_value"),
        ("https://cdn.example.org/au2/", "../../etc/passwd", "zip_slip"),
    ],
)
def test_cmi5_validation_steps(old, new, code):
    xml = CMI5_NESTED.replace(old, new, 1)
    assert xml != CMI5_NESTED
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(xml.encode(), file="cmi5.xml", limits=DEFAULT_LIMITS)
    assert info.value.code == code


def test_cmi5_vendor_extensions_ignored_and_namespace_checked():
    ext = CMI5_NESTED.replace(
        "<objectives>\n    <objective id",
        '<v:au xmlns:v="urn:vendor" id="not-an-iri"/>\n  <objectives>\n    <objective id',
        1,
    )
    assert ext != CMI5_NESTED
    course = parse_manifest_bytes(ext.encode(), file="cmi5.xml", limits=DEFAULT_LIMITS)
    assert len(course.aus()) == 2
    wrong = CMI5_NESTED.replace("https://w3id.org/xapi/profiles/cmi5/v1/", "urn:other/")
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(wrong.encode(), file="cmi5.xml", limits=DEFAULT_LIMITS)
    assert info.value.code == "invalid_manifest"
    legacy = CMI5_NESTED.replace(
        "https://w3id.org/xapi/profiles/cmi5/v1/", "http://www.adlnet.gov/cmi5/"
    )
    assert len(parse_manifest_bytes(legacy.encode(), file="c", limits=DEFAULT_LIMITS).aus()) == 2


def test_cmi5_standalone_needs_absolute_urls():
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(CMI5_NESTED.encode(), file="c.xml", limits=ImportLimits(), in_package=False)
    assert info.value.code == "cmi5_relative_url"
    absolute = CMI5_NESTED.replace("quiz/index.html?x=1", "https://cdn.example.org/quiz/")
    course = parse_manifest_bytes(absolute.encode(), file="c.xml", limits=ImportLimits(), in_package=False)
    assert len(course.aus()) == 2


def test_tincan_activity_requires_iri_and_launch():
    bad = (
        b'<tincan xmlns="http://projecttincan.com/tincan.xsd"><activities>'
        b'<activity id="golf"><launch>i.html</launch></activity></activities></tincan>'
    )
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(bad, file="tincan.xml", limits=DEFAULT_LIMITS)
    assert info.value.code == "invalid_manifest"
    no_launch = bad.replace(b'id="golf"', b'id="https://x.org/a"').replace(b"<launch>i.html</launch>", b"")
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(no_launch, file="tincan.xml", limits=DEFAULT_LIMITS)
    assert info.value.code == "invalid_manifest"


def test_unknown_root_element_refused():
    with pytest.raises(PackageError) as info:
        parse_manifest_bytes(b"<html/>", file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    assert info.value.code == "invalid_manifest"


@pytest.mark.parametrize(("depth", "ok"), [(240, True), (400, False)])
def test_deeply_nested_items(depth, ok):
    """libxml2's depth limit (no huge_tree) bounds our recursion; deep trees still parse."""
    items = "".join(f'<item identifier="d{n}"><title>L{n}</title>' for n in range(depth))
    items += '<item identifier="leaf" identifierref="r1"><title>Leaf</title></item>'
    items += "</item>" * depth
    if ok:
        manifest = scorm(items=items)
        assert manifest.launchables()[0].identifier == "leaf"
        assert len(list(manifest.default_organization.walk())) == depth + 1
    else:
        with pytest.raises(PackageError) as info:
            scorm(items=items)
        assert info.value.code == "xml_malformed"
