"""A small DSL for SCORM manifests and packages in tests: scripted SCOs over the real API.

Write the course as Python values, get the ``imsmanifest.xml`` text or a package zip whose SCO
pages find ``window.API_1484_11`` (or ``window.API`` for SCORM 1.2) the standard way and call it::

    course = Course(
        "inv-cluster",
        [Cluster("wrap", [Sco("a"), Sco("b")], visible=False)],
        seq=Seq(flow=True),
    )
    build_package(course, tmp_path / "course.zip")

Every SCO page (``<id>.html``) calls Initialize on load, reads ``Sco.read`` (stored in
``window.launched``), runs ``Sco.on_load`` and, when the page goes away, ``Sco.on_unload``. A test
drives it further from its frame: ``sco.run([["set", "cmi.location", "p3"], ["terminate"]])``
(steps: ``["init"]``, ``["get", el]``, ``["set", el, value]``, ``["commit"]``, ``["terminate"]``),
each call and its error code logged in ``window.scoLog``.

Sequencing (``Seq``) covers what the tests of issue 13 need: control modes, pre/exit/post
condition rules, limit conditions, rollup rules and controls, objectives with ``imsss:mapInfo``,
4th edition ``adlseq:objectives``/``adlseq:mapInfo``, randomization, delivery controls,
rollup considerations; ``Item.hide`` is ``adlnav:presentation/navigationInterface/hideLMSUI``.
Anything else goes in ``Seq.extra`` as raw XML (inserted at the end of ``imsss:sequencing``).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

NS_2004 = (
    'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
    'xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" '
    'xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3" '
    'xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3" '
    'xmlns:imsss="http://www.imsglobal.org/xsd/imsss"'
)
NS_12 = 'xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"'

Step = list[Any]
"""One scripted API call: ``["init"]``, ``["get", el]``, ``["set", el, value]``, ``["commit"]``, ``["terminate"]``."""


def _attrs(**values: Any) -> str:
    """XML attributes of the values that are not None (booleans as true/false, camelCase given)."""
    out = []
    for key, value in values.items():
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        out.append(f" {key.rstrip('_')}={quoteattr(text)}")
    return "".join(out)


@dataclass(frozen=True)
class Cond:
    """One rule condition: ``condition`` (satisfied, completed, attempted, attemptLimitExceeded,
    objectiveStatusKnown, objectiveMeasureKnown, objectiveMeasureGreaterThan, ..., always),
    ``objective`` the referenced objective id (None: primary), ``negate`` for operator="not"."""

    condition: str
    objective: str | None = None
    negate: bool = False
    threshold: float | None = None

    def xml(self, tag: str) -> str:
        return (
            f"<imsss:{tag}"
            + _attrs(
                referencedObjective=self.objective,
                measureThreshold=self.threshold,
                operator="not" if self.negate else None,
                condition=self.condition,
            )
            + "/>"
        )


@dataclass(frozen=True)
class Rule:
    """A sequencing rule: kind "pre" | "exit" | "post", ``action`` (skip, disabled,
    hiddenFromChoice, stopForwardTraversal, exitParent, exitAll, retry, retryAll, continue,
    previous, exit), conditions combined by ``combination`` ("all" | "any")."""

    kind: str
    action: str
    conditions: tuple[Cond, ...]
    combination: str = "all"

    def xml(self) -> str:
        tag = {"pre": "preConditionRule", "exit": "exitConditionRule", "post": "postConditionRule"}[self.kind]
        conds = "".join(c.xml("ruleCondition") for c in self.conditions)
        return (
            f"<imsss:{tag}><imsss:ruleConditions conditionCombination={quoteattr(self.combination)}>{conds}"
            f"</imsss:ruleConditions><imsss:ruleAction action={quoteattr(self.action)}/></imsss:{tag}>"
        )


@dataclass(frozen=True)
class RollupRule:
    """``imsss:rollupRule``: ``action`` (satisfied, notSatisfied, completed, incomplete),
    ``child_set`` (all, any, none, atLeastCount, atLeastPercent), conditions on the children."""

    action: str
    conditions: tuple[Cond, ...]
    child_set: str = "all"
    combination: str = "any"
    minimum_count: int | None = None
    minimum_percent: float | None = None

    def xml(self) -> str:
        conds = "".join(
            "<imsss:rollupCondition" + _attrs(operator="not" if c.negate else None, condition=c.condition) + "/>"
            for c in self.conditions
        )
        return (
            "<imsss:rollupRule"
            + _attrs(
                childActivitySet=self.child_set, minimumCount=self.minimum_count, minimumPercent=self.minimum_percent
            )
            + f"><imsss:rollupConditions conditionCombination={quoteattr(self.combination)}>{conds}"
            f"</imsss:rollupConditions><imsss:rollupAction action={quoteattr(self.action)}/></imsss:rollupRule>"
        )


@dataclass(frozen=True)
class Map:
    """``imsss:mapInfo`` of an objective onto a global (shared) objective ``target``."""

    target: str
    read_satisfied: bool | None = None
    read_measure: bool | None = None
    write_satisfied: bool | None = None
    write_measure: bool | None = None

    def xml(self) -> str:
        return (
            "<imsss:mapInfo"
            + _attrs(
                targetObjectiveID=self.target,
                readSatisfiedStatus=self.read_satisfied,
                readNormalizedMeasure=self.read_measure,
                writeSatisfiedStatus=self.write_satisfied,
                writeNormalizedMeasure=self.write_measure,
            )
            + "/>"
        )


@dataclass(frozen=True)
class AdlMap:
    """4th edition ``adlseq:mapInfo`` (completion, progress and the other global reads/writes)."""

    target: str
    read_completion: bool | None = None
    write_completion: bool | None = None
    read_progress: bool | None = None
    write_progress: bool | None = None
    read_raw: bool | None = None
    write_raw: bool | None = None

    def xml(self) -> str:
        return (
            "<adlseq:mapInfo"
            + _attrs(
                targetObjectiveID=self.target,
                readCompletionStatus=self.read_completion,
                writeCompletionStatus=self.write_completion,
                readProgressMeasure=self.read_progress,
                writeProgressMeasure=self.write_progress,
                readRawScore=self.read_raw,
                writeRawScore=self.write_raw,
            )
            + "/>"
        )


@dataclass(frozen=True)
class Objective:
    """An ``imsss:primaryObjective`` (``primary``) or ``imsss:objective`` with its maps;
    ``adl_maps`` become an ``adlseq:objective`` of the same id."""

    id: str | None
    primary: bool = False
    satisfied_by_measure: bool | None = None
    min_measure: float | None = None
    maps: tuple[Map, ...] = ()
    adl_maps: tuple[AdlMap, ...] = ()

    def xml(self) -> str:
        tag = "primaryObjective" if self.primary else "objective"
        inner = (
            ""
            if self.min_measure is None
            else f"<imsss:minNormalizedMeasure>{self.min_measure}</imsss:minNormalizedMeasure>"
        )
        inner += "".join(m.xml() for m in self.maps)
        return (
            f"<imsss:{tag}"
            + _attrs(satisfiedByMeasure=self.satisfied_by_measure, objectiveID=self.id)
            + f">{inner}</imsss:{tag}>"
        )


@dataclass(frozen=True)
class Seq:
    """``imsss:sequencing`` of an item or of the organization (None: attribute left out)."""

    choice: bool | None = None
    choice_exit: bool | None = None
    flow: bool | None = None
    forward_only: bool | None = None
    use_current_objective: bool | None = None
    use_current_progress: bool | None = None
    rules: tuple[Rule, ...] = ()
    attempt_limit: int | None = None
    rollup_rules: tuple[RollupRule, ...] = ()
    rollup_satisfied: bool | None = None
    rollup_completion: bool | None = None
    measure_weight: float | None = None
    objectives: tuple[Objective, ...] = ()
    select_count: int | None = None
    selection_timing: str | None = None
    randomize_children: bool | None = None
    randomization_timing: str | None = None
    tracked: bool | None = None
    completion_by_content: bool | None = None
    objective_by_content: bool | None = None
    rollup_considerations: dict[str, str] = field(default_factory=dict)
    extra: str = ""

    def xml(self) -> str:
        parts: list[str] = []
        mode = _attrs(
            choice=self.choice,
            choiceExit=self.choice_exit,
            flow=self.flow,
            forwardOnly=self.forward_only,
            useCurrentAttemptObjectiveInfo=self.use_current_objective,
            useCurrentAttemptProgressInfo=self.use_current_progress,
        )
        if mode:
            parts.append(f"<imsss:controlMode{mode}/>")
        if self.rules:
            ordered = sorted(self.rules, key=lambda r: ("pre", "exit", "post").index(r.kind))
            parts.append("<imsss:sequencingRules>" + "".join(r.xml() for r in ordered) + "</imsss:sequencingRules>")
        if self.attempt_limit is not None:
            parts.append(f"<imsss:limitConditions{_attrs(attemptLimit=self.attempt_limit)}/>")
        controls = _attrs(
            rollupObjectiveSatisfied=self.rollup_satisfied,
            rollupProgressCompletion=self.rollup_completion,
            objectiveMeasureWeight=self.measure_weight,
        )
        if controls or self.rollup_rules:
            parts.append(
                f"<imsss:rollupRules{controls}>" + "".join(r.xml() for r in self.rollup_rules) + "</imsss:rollupRules>"
            )
        if self.objectives:
            ordered_objectives = sorted(self.objectives, key=lambda o: not o.primary)
            parts.append("<imsss:objectives>" + "".join(o.xml() for o in ordered_objectives) + "</imsss:objectives>")
        randomization = _attrs(
            randomizationTiming=self.randomization_timing,
            selectCount=self.select_count,
            reorderChildren=self.randomize_children,
            selectionTiming=self.selection_timing,
        )
        if randomization:
            parts.append(f"<imsss:randomizationControls{randomization}/>")
        delivery = _attrs(
            tracked=self.tracked,
            completionSetByContent=self.completion_by_content,
            objectiveSetByContent=self.objective_by_content,
        )
        if delivery:
            parts.append(f"<imsss:deliveryControls{delivery}/>")
        if self.rollup_considerations:
            parts.append(f"<adlseq:rollupConsiderations{_attrs(**self.rollup_considerations)}/>")
        adl = [o for o in self.objectives if o.adl_maps]
        if adl:
            parts.append(
                "<adlseq:objectives>"
                + "".join(
                    f"<adlseq:objective objectiveID={quoteattr(o.id or '')}>"
                    + "".join(m.xml() for m in o.adl_maps)
                    + "</adlseq:objective>"
                    for o in adl
                )
                + "</adlseq:objectives>"
            )
        parts.append(self.extra)
        return "<imsss:sequencing>" + "".join(parts) + "</imsss:sequencing>"


@dataclass
class Sco:
    """A leaf item with a scripted SCO page ``<id>.html``."""

    id: str
    title: str | None = None
    seq: Seq | None = None
    visible: bool = True
    hide: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    on_load: tuple[Step, ...] = ()
    on_unload: tuple[Step, ...] = ()
    asset: bool = False
    # adlcp:data/adlcp:map: (targetID, readSharedData, writeSharedData)
    data: tuple[tuple[str, bool, bool], ...] = ()

    @property
    def label(self) -> str:
        return self.title or self.id.upper()


@dataclass
class Cluster:
    """An item with children (no content)."""

    id: str
    children: list[Cluster | Sco]
    title: str | None = None
    seq: Seq | None = None
    visible: bool = True

    @property
    def label(self) -> str:
        return self.title or self.id.upper()


@dataclass
class Course:
    """A one-organization package; ``id`` makes its manifest (and catalogue course) unique."""

    id: str
    items: list[Cluster | Sco]
    title: str | None = None
    seq: Seq | None = None
    version: str = "2004"
    global_to_system: bool | None = None
    shared_data_global: bool | None = None  # adlcp:sharedDataGlobalToSystem
    default_read: tuple[str, ...] = ("cmi.entry", "cmi.location", "cmi.suspend_data")

    def scos(self) -> list[Sco]:
        found: list[Sco] = []

        def walk(nodes: list[Cluster | Sco]) -> None:
            for node in nodes:
                if isinstance(node, Sco):
                    found.append(node)
                else:
                    walk(node.children)

        walk(self.items)
        return found


def _item_xml(node: Cluster | Sco, version: str) -> str:
    visible = "" if node.visible else ' isvisible="false"'
    title = f"<title>{escape(node.label)}</title>"
    if isinstance(node, Sco):
        head = f"<item identifier={quoteattr(node.id)} identifierref={quoteattr('r_' + node.id)}{visible}>{title}"
        body = ""
        if node.data and version == "2004":
            maps = "".join(
                f"<adlcp:map{_attrs(targetID=t, readSharedData=r, writeSharedData=w)}/>" for t, r, w in node.data
            )
            body = f"<adlcp:data>{maps}</adlcp:data>"
    else:
        head = f"<item identifier={quoteattr(node.id)}{visible}>{title}"
        body = "".join(_item_xml(child, version) for child in node.children)
    tail = ""
    if version == "2004":
        if node.seq is not None:
            tail += node.seq.xml()
        hide = getattr(node, "hide", ())
        if hide:
            tail += (
                "<adlnav:presentation><adlnav:navigationInterface>"
                + "".join(f"<adlnav:hideLMSUI>{h}</adlnav:hideLMSUI>" for h in hide)
                + "</adlnav:navigationInterface></adlnav:presentation>"
            )
    return f"{head}{body}{tail}</item>"


def manifest_xml(course: Course) -> str:
    """The ``imsmanifest.xml`` of the course."""
    v2004 = course.version == "2004"
    items = "".join(_item_xml(node, course.version) for node in course.items)
    org_seq = course.seq.xml() if (v2004 and course.seq is not None) else ""
    org_attrs = (
        _attrs(
            **{
                "adlseq:objectivesGlobalToSystem": course.global_to_system,
                "adlcp:sharedDataGlobalToSystem": course.shared_data_global,
            }
        )
        if v2004
        else ""
    )
    scotype = "adlcp:scormType" if v2004 else "adlcp:scormtype"
    resources = "".join(
        f'<resource identifier="r_{s.id}" type="webcontent" {scotype}="{"asset" if s.asset else "sco"}" '
        f'href="{s.id}.html"><file href="{s.id}.html"/></resource>'
        for s in course.scos()
    )
    schema = "2004 4th Edition" if v2004 else "1.2"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier={quoteattr("dsl-" + course.id)} version="1" {NS_2004 if v2004 else NS_12}>
 <metadata><schema>ADL SCORM</schema><schemaversion>{schema}</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"{org_attrs}>
  <title>{escape(course.title or course.id)}</title>
  {items}
  {org_seq}
 </organization></organizations>
 <resources>{resources}</resources>
</manifest>
"""


_SCO_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>__TITLE__</title>
<script>
var SCO = __CONFIG__;
(function () {
  "use strict";
  var v12 = SCO.version === "1.2";
  var apiName = v12 ? "API" : "API_1484_11";
  function find(win) {
    for (var n = 0; win && n < 12; n++) {
      try { if (win[apiName]) return win[apiName]; } catch (e) { /* cross-origin */ }
      if (win.parent === win) break;
      win = win.parent;
    }
    try { if (window.opener && window.opener[apiName]) return window.opener[apiName]; } catch (e) { /* ignore */ }
    return null;
  }
  var api = find(window);
  var f = v12
    ? {init: "LMSInitialize", terminate: "LMSFinish", get: "LMSGetValue", set: "LMSSetValue",
       commit: "LMSCommit", error: "LMSGetLastError"}
    : {init: "Initialize", terminate: "Terminate", get: "GetValue", set: "SetValue",
       commit: "Commit", error: "GetLastError"};
  window.scoLog = [];
  window.launched = {};
  window.sco = {
    api: api,
    call: function (op, a, b) {
      if (!api) { scoLog.push([op, a, b, "no API", ""]); return "false"; }
      var r;
      if (op === "get") r = api[f.get](a);
      else if (op === "set") r = api[f.set](a, String(b));
      else r = api[f[op]]("");
      var err = api[f.error]();
      scoLog.push([op, a === undefined ? null : a, b === undefined ? null : String(b), r, err]);
      return r;
    },
    run: function (steps) {
      var out = [];
      for (var i = 0; i < steps.length; i++) out.push(sco.call(steps[i][0], steps[i][1], steps[i][2]));
      return out;
    }
  };
  if (sco.call("init") === "true") {
    for (var i = 0; i < SCO.read.length; i++) launched[SCO.read[i]] = sco.call("get", SCO.read[i]);
    sco.run(SCO.onLoad);
  }
  if (SCO.onUnload.length) {
    var done = false;
    var leave = function () { if (!done) { done = true; sco.run(SCO.onUnload); } };
    window.addEventListener("pagehide", leave);
    window.addEventListener("unload", leave);
  }
  window.scoReady = true;
})();
</script></head>
<body><h1>__TITLE__</h1><p>Scripted SCO __ID__.</p></body></html>
"""


def sco_page(course: Course, sco: Sco) -> str:
    """The HTML of one scripted SCO."""
    config = {
        "id": sco.id,
        "version": course.version,
        "read": list(sco.read or _default_read(course)),
        "onLoad": [list(s) for s in sco.on_load],
        "onUnload": [list(s) for s in sco.on_unload],
    }
    text = json.dumps(config).replace("</", "<\\/")
    return (
        _SCO_PAGE.replace("__CONFIG__", text).replace("__TITLE__", escape(sco.label)).replace("__ID__", escape(sco.id))
    )


def _default_read(course: Course) -> tuple[str, ...]:
    if course.version == "1.2" and course.default_read == Course.default_read:
        return ("cmi.core.entry", "cmi.core.lesson_location", "cmi.suspend_data")
    return course.default_read


def build_package(course: Course, path: Path) -> Path:
    """Write the package zip (manifest + one page per SCO) to ``path``; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("imsmanifest.xml", manifest_xml(course))
        for sco in course.scos():
            zf.writestr(f"{sco.id}.html", sco_page(course, sco))
    return path
