"""Replay one ADL CTS test case through the project's importer, CMI runtime and sequencer.

What stands for the browser player here, step by step (the same calls the player server makes,
see ``lti_tool/runtime/service.py``):

* import: the test manifest is zipped with a placeholder for every file it references and goes
  through :func:`scorm.packaging.inspect_package` (the real importer); the activity tree comes
  from :func:`scorm.sequencing.build_tree` on the parsed manifest;
* launch of a SCO: :func:`scorm.cmi.initial_state` with the item's manifest settings
  (``service._initial_kwargs``) and :func:`scorm.sequencing.launch_data`; the previous session's
  data is resumed when :func:`scorm.cmi.attempt_continues` says so;
* every API call: :mod:`scorm.cmi.api` (``adl.nav.request_valid.*`` is answered by
  :func:`scorm.sequencing.request_valid_value`); Commit and Terminate report the SCO's data to
  the sequencer (:func:`scorm.sequencing.report_cmi_state`), Terminate after
  :func:`scorm.cmi.finish_session`; then the SCO's ``adl.nav.request`` goes to
  :func:`scorm.sequencing.navigate`;
* the learner's UI events (``CUI``) are navigation requests the player issues
  (Continue/Previous/Choice/Exit = exitAll/Suspend = suspendAll; a learner event replaces a
  pending ``adl.nav.request`` of a SCO that has not terminated yet, CM-09*) and relaunches
  (:func:`scorm.sequencing.begin` on the same sequencing state: after the session ended it
  starts a new attempt on the root, keeping the tracking data);
* the learner's global objective store (``objectivesGlobalToSystem``) and ``adl.data`` stores
  persist across packages and relaunches; a later case of a series (CO-07b after CO-07a) starts
  from the store the earlier ones left, as ADL's suite runs all cases for one learner;
* UI questions are answered from ``nav_state``/``toc``/``request_is_valid`` and the
  manifest's ``hideLMSUI``.

A test case passes when every call answers as expected (values compared as ADL's evaluator does:
numbers and durations by value, ``_children`` as sets, GetErrorString ``less255``/``emptyCS``;
``adl.nav.request_valid.*`` strictly, where ADL accepts any of true/false/unknown), activities
are delivered exactly in the listed order, and the UI answers match.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lti_tool.runtime.service import _initial_kwargs
from scorm import sequencing
from scorm.cmi import api, attempt_continues, finish_session, initial_state
from scorm.cmi.durations import parse_span
from scorm.packaging import DEFAULT_LIMITS, inspect_package, parse_manifest_bytes
from scorm.packaging.scorm_manifest import Item, ScormManifest
from tests.scorm.cts.cases import Call, TestCase, Visit, case_ids, cts_dir, expand, load_case

LEARNER_ID = "cts-learner-1"
LEARNER_NAME = "CTS Learner"
_VALID = re.compile(r"^adl\.nav\.request_valid\.(continue|previous|(choice|jump)\.\{target=[^{}]*\})$")
# Test SCO pages that do not call Terminate themselves but when the player unloads them.
_UNLOAD_PAGES = {
    "SequencingTestSingleDoTerminate.htm": None,
    "exitAllOnUnload.htm": "exitAll",
    "suspendAllOnUnload.htm": "suspendAll",
    "tarAct4OnUnload.htm": "{target=activity_4}choice",
}


class CaseFailure(AssertionError):
    """The LMS did not behave as the test case says."""


@dataclass(frozen=True)
class Package:
    id: str
    tree: sequencing.ActivityTree
    items: Mapping[str, Item]
    pages: Mapping[str, str]  # item id -> launch page file name
    shared_global: bool  # organization adlcp:sharedDataGlobalToSystem
    acts: Mapping[str, str]  # item id -> test activity name ("3", "1a"; SX-09 gives two items "2")


def _act(item: Item) -> str | None:
    m = re.search(r"[?&]act=([^&]+)", item.parameters or "")
    return m.group(1) if m else None


@cache
def load_package(package_id: str) -> Package:
    """Import a test package through the real importer (placeholders for its files)."""
    manifest_path = cts_dir() / "Courses" / f"LMSTestPackage_{package_id}" / "imsmanifest.xml"
    data = manifest_path.read_bytes()
    structure = parse_manifest_bytes(data, file="imsmanifest.xml", limits=DEFAULT_LIMITS)
    assert isinstance(structure, ScormManifest), package_id
    with tempfile.TemporaryDirectory(prefix="cts-") as tmp:
        zip_path = Path(tmp) / f"{package_id}.zip"
        with zipfile.ZipFile(zip_path, "w") as zf:
            zf.writestr("imsmanifest.xml", data)
            for path in sorted({p for p, _ in structure.required_files(include_listed=True)}):
                zf.writestr(path, f"<!-- placeholder for {path} -->")
        imported = inspect_package(zip_path)
    assert imported.structure is not None
    manifest = imported.structure
    assert isinstance(manifest, ScormManifest)
    items = {i.identifier: i for org in manifest.organizations for i in org.walk()}
    resources = {r.identifier: r for r in manifest.resources}
    pages: dict[str, str] = {}
    acts: dict[str, str] = {}
    for item_id, item in items.items():
        if item.identifierref and item.identifierref in resources:
            pages[item_id] = (resources[item.identifierref].launch_path or "").rsplit("/", 1)[-1]
        act = _act(item)
        if act is not None:
            acts[item_id] = act
    shared_global = bool(getattr(manifest.default_organization, "shared_data_global_to_system", True))
    return Package(package_id, sequencing.build_tree(manifest), items, pages, shared_global, acts)


# --- value comparison (TestCaseEvaluator) --------------------------------------------------


def _same_value(expected: str, returned: str) -> bool:
    if expected == returned:
        return True
    try:
        return abs(float(expected) - float(returned)) < 1e-7
    except ValueError:
        pass
    try:
        return abs(parse_span(expected, "2004") - parse_span(returned, "2004")) < 0.01
    except Exception:
        pass
    lang = re.compile(r"^\{lang=[^}]*\}")
    if lang.match(expected) or lang.match(returned):
        return lang.sub("", expected) == lang.sub("", returned)
    return False


# ADL's evaluator compares typed response patterns ("GET->...P!TY.f->expected") by meaning:
# the leading delimiters in any order, a delimiter at its default value (the language "en"
# included, RTE 4th §4.1.1.6) the same as absent.
_DELIMITER = re.compile(r"^\{(lang|case_matters|order_matters)=([^}]*)\}")
_DEFAULTS = {"case_matters": "false", "order_matters": "true", "lang": "en"}


def _typed_parts(value: str) -> tuple[dict[str, str], str]:
    found: dict[str, str] = {}
    while (m := _DELIMITER.match(value)) and m[1] not in found:
        found[m[1]] = m[2]
        value = value[m.end() :]
    return {k: v for k, v in found.items() if _DEFAULTS.get(k) != v}, value


def _same_typed(expected: str, returned: str) -> bool:
    return expected == returned or _typed_parts(expected) == _typed_parts(returned)


@dataclass
class Learner:
    """What the LMS keeps per learner across attempts and packages."""

    globals: dict[str, Any] = field(default_factory=dict)
    shared: dict[str, str] = field(default_factory=dict)


class CaseRun:
    def __init__(self, case: TestCase) -> None:
        self.case = case
        self.learner = Learner()
        self.errors: list[str] = []
        self.pkg: Package | None = None
        self.state: Mapping[str, Any] = {}
        self.docs: dict[str, dict[str, Any]] = {}  # item id -> CMI state document (this course attempt)
        self.session: api.ApiSession | None = None
        self.session_item: str | None = None
        self.delivered: str | None = None
        self.last_nav: sequencing.NavResult | None = None
        self.course_attempts: dict[str, int] = {}  # package -> attempts on its root so far
        self.saved: dict[str, tuple[Mapping[str, Any], dict[str, dict[str, Any]]]] = {}  # other courses

    # --- helpers ---------------------------------------------------------------------------

    @property
    def tree(self) -> sequencing.ActivityTree:
        assert self.pkg is not None
        return self.pkg.tree

    def fail(self, message: str) -> None:
        self.errors.append(message)

    def _store_globals(self) -> None:
        if self.tree.objectives_global_to_system:
            self.learner.globals = dict(self.state.get("globals", {}))

    def _apply(self, result: sequencing.NavResult, what: str) -> None:
        self.last_nav = result
        if result.exception is None:
            self.state = result.state
            self.delivered = result.deliver
            self._store_globals()
        else:
            self.delivered = None

    def navigate(self, request: str, target: str | None = None) -> sequencing.NavResult:
        result = sequencing.navigate(self.tree, self.state, request, target)
        self._apply(result, request)
        return result

    def open_course(self, package_id: str) -> None:
        """A new attempt on a course (new sequencing state; the learner's global store carries over)."""
        self.pkg = load_package(package_id)
        carried = self.learner.globals if self.tree.objectives_global_to_system else None
        self.state = sequencing.new_state(self.tree, seed=0, globals_=carried)
        self.docs = {}

    def begin(self) -> None:
        self._apply(sequencing.begin(self.tree, self.state), "begin")

    def relaunch(self, package_id: str | None = None) -> None:
        """The learner leaves and opens the course again (another package when named)."""
        self.unload(None)
        if package_id is not None and (self.pkg is None or package_id != self.pkg.id):
            if not self.state.get("ended") and self.state.get("current") is not None:
                self.navigate("exitAll")
            if self.pkg is not None:
                self.saved[self.pkg.id] = (self.state, self.docs)
            saved = self.saved.get(package_id)
            if saved is None:
                self.open_course(package_id)
            else:
                # the learner's registration on that course: its attempt (suspended, or ended:
                # then the relaunch below starts a new attempt on the same tracking data)
                self.pkg = load_package(package_id)
                self.state, self.docs = saved
        if self.state.get("ended") and self.state.get("suspended") is None and self.pkg is not None:
            self.course_attempts[self.pkg.id] = self.course_attempts.get(self.pkg.id, 0) + 1
        # After the session ended (exitAll, ...) the same activity tree's tracking data is kept:
        # the relaunch starts a new attempt on its root (SN 4.2.1: objective information
        # persists across attempts).
        self.begin()

    def item_by_title(self, title: str) -> str:
        if title.startswith("the activity that corresponds to the root"):
            return self.tree.root
        for item_id, item in self.pkg.items.items() if self.pkg else ():
            if item.title.strip() == title.strip():
                return item_id
        raise CaseFailure(f"no item titled {title!r} in {self.pkg.id if self.pkg else '?'}")

    # --- SCO sessions ----------------------------------------------------------------------

    def launch(self, item_id: str) -> None:
        assert self.pkg is not None
        tree = self.tree
        item = self.pkg.items.get(item_id)
        extra = _initial_kwargs(item, "2004")
        data = sequencing.launch_data(tree, self.state, item_id)
        extra["scaled_passing_score"] = data["scaled_passing_score"]
        extra["completion_threshold"] = data["completion_threshold"]
        ids = [o["id"] for o in data["objectives"]]
        extra["objective_ids"] = tuple(dict.fromkeys([*extra.get("objective_ids", ()), *ids]))
        extra["objectives"] = tuple(data["objectives"])
        shared = []
        for m in item.shared_data if item is not None else ():
            stored = self.learner.shared.get(self._shared_key(m.target_id))
            shared.append((m.target_id, stored, m.read_shared_data, m.write_shared_data))
        if shared:
            extra["shared_data"] = tuple(shared)
        previous = self.docs.get(item_id)  # always a terminated session here (as the service's)
        if previous is not None and not attempt_continues(previous, "2004", resume_if_exit_unset=False):
            previous = None
        doc = initial_state("2004", learner_id=LEARNER_ID, learner_name=LEARNER_NAME, previous_state=previous, **extra)
        self.session = api.open_session(doc, "2004")
        self.session_item = item_id

    def _report(self, *, terminated: bool) -> None:
        assert self.session is not None and self.session_item is not None
        doc = self.session.state
        if terminated:
            doc = finish_session(doc, "2004")
        self.docs[self.session_item] = doc
        item = self.session_item
        if item in self.tree.activities and self.state.get("current") == item:
            self.state = sequencing.report_cmi_state(self.tree, self.state, item, doc, terminated=terminated)
            self._store_globals()
        if terminated:
            self._store_shared(doc)

    def _shared_key(self, target: str) -> str:
        """adl.data stores are per learner, or per package when sharedDataGlobalToSystem=false."""
        assert self.pkg is not None
        if self.pkg.shared_global:
            return target
        return f"{self.pkg.id}\x00{self.course_attempts.get(self.pkg.id, 0)}\x00{target}"

    def _store_shared(self, doc: Mapping[str, Any]) -> None:
        values = doc.get("values", {})
        item = self.pkg.items.get(self.session_item or "") if self.pkg else None
        writable = {m.target_id for m in (item.shared_data if item else ()) if m.write_shared_data}
        for n in range(int(doc.get("counts", {}).get("adl.data", 0))):
            data_id = values.get(f"adl.data.{n}.id")
            store = values.get(f"adl.data.{n}.store")
            if data_id in writable and store is not None:
                self.learner.shared[self._shared_key(data_id)] = store

    def call(self, c: Call) -> tuple[str, str]:
        """Run one API call as the test SCO does; returns (value, GetLastError)."""
        s = self.session
        assert s is not None
        m = c.method
        if m == "Initialize":
            s, value = api.initialize(s, c.element)
        elif m == "Commit":
            s, value = api.commit(s, c.element)
            self.session = s
            if value == "true":
                self._report(terminated=False)
        elif m == "Terminate":
            s, value = self._terminate()
        elif m == "GetValue":
            if s.phase is api.Phase.RUNNING and _VALID.match(c.element):
                value = sequencing.request_valid_value(self.tree, self.state, c.element)
                s = api.ApiSession(version=s.version, state=s.state, phase=s.phase, last_error=0, dirty=s.dirty)
            else:
                s, value = api.get_value(s, c.element)
        elif m == "SetValue":
            s, value = api.set_value(s, c.element, c.value)
        elif m == "GetLastError":
            value = api.get_last_error(s)
        elif m == "GetErrorString":
            value = api.get_error_string(s, c.element)
        elif m == "GetDiagnostic":
            value = api.get_diagnostic(s, c.element)
        else:
            raise CaseFailure(f"unknown method {m}")
        self.session = s
        return value, api.get_last_error(s)

    def _terminate(self) -> tuple[api.ApiSession, str]:
        s = self.session
        assert s is not None
        s, value = api.terminate(s, "")
        self.session = s
        if value == "true":
            self._report(terminated=True)
        return s, value

    def _find_index(self, array: str, wanted: str) -> int:
        count, _ = self.call(Call("GetValue", element=f"{array}._count"))
        try:
            n = int(count)
        except ValueError:
            n = 0
        for i in range(n):
            found, _ = self.call(Call("GetValue", element=f"{array}.{i}.id"))
            if found == wanted:
                return i
        return -1

    def resolve(self, element: str) -> tuple[str, int | None]:
        if "&" not in element:
            return element, None
        head, wanted, tail = element.split("&")[:3]
        array = "adl.data" if "data" in head else "cmi.objectives"
        index = self._find_index(array, wanted)
        return f"{head}{index}{tail}", index

    def check_call(self, where: str, c: Call) -> None:
        if c.method == "compareObjIds":
            ids = self.objective_ids()
            if len(ids) != len(c.objective_ids) or any(i not in c.objective_ids for i in ids):
                self.fail(f"{where} {c.raw}: cmi.objectives ids {ids}, expected {list(c.objective_ids)}")
            return
        element, index = self.resolve(c.element) if c.method in ("GetValue", "SetValue") else (c.element, None)
        if index == -1:
            self.fail(f"{where} {c.raw}: objective/data id in {c.element} not found")
            return
        call = Call(c.method, element=element, value=c.value, expected=c.expected, error=c.error, raw=c.raw)
        value, error = self.call(call)
        self.judge(where, c, element, value, error)

    def judge(self, where: str, c: Call, element: str, value: str, error: str) -> None:
        """Compare one call's answer (value, GetLastError) with what the test case expects."""
        ok_value = True
        check_error = True
        p = element
        if c.method == "GetValue":
            if "learner_name" in p:
                ok_value = True  # ADL checks only the error code (the name is the LMS's)
            elif p == "cmi.learner_id":
                ok_value = value == self.expected_learner_id()  # the learner the LMS logged in
            elif p.endswith("._children"):
                ok_value = set(value.split(",")) == set(c.expected.split(","))
            elif "request_valid.choice" in p or "request_valid.jump" in p:
                ok_value = value == c.expected  # stricter than ADL (true|false|unknown accepted)
                check_error = False
            elif "comments_from_lms" in p and "_children" not in p:
                ok_value = True
                check_error = False
                if int(error) not in (0, 301, 403) and not (p == "cmi.comments_from_lms" and error == "401"):
                    self.fail(f"{where} {c.raw}: error {error}")
            elif "!TY." in c.raw and "_count" not in p:
                ok_value = _same_typed(c.expected, value)
            elif c.expected != "" and "_count" not in p:
                ok_value = _same_value(c.expected, value)
            elif "&" in c.element and ".id" in c.element:
                ok_value = value == c.element.split("&")[1]
            elif value.startswith("{") and "_count" not in p:
                ok_value = _same_value(c.expected, value)
            else:
                ok_value = value == c.expected
        elif c.method == "GetErrorString":
            ok_value = _message_ok(c.expected, value)
        elif c.method == "GetDiagnostic":
            ok_value = len(value) < 255
        else:
            ok_value = value == c.expected
        if not ok_value:
            self.fail(f"{where} {c.raw}: {c.method}({element!r}) returned {value!r}, expected {c.expected!r}")
        if check_error and error != c.error:
            self.fail(f"{where} {c.raw}: {c.method}({element!r}) error {error}, expected {c.error}")

    def expected_learner_id(self) -> str:
        """The id of the learner this run plays as (ADL logs its own learner in)."""
        return LEARNER_ID

    def objective_ids(self) -> list[str]:
        count, _ = self.call(Call("GetValue", element="cmi.objectives._count"))
        return [self.call(Call("GetValue", element=f"cmi.objectives.{i}.id"))[0] for i in range(int(count or 0))]

    # --- UI ----------------------------------------------------------------------------------

    def ui_answer(self, question: str) -> str:
        tree, state = self.tree, self.state
        current = state.get("current")
        hidden: set[str] = set()
        if current is not None:
            for node in tree.path_to_root(current):
                hidden |= set(tree.activities[node].hide_lms_ui)
        key, _, arg = question.partition("@")
        if key in ("continue.enabled", "continue.disabled", "previous.enabled", "previous.disabled"):
            # ADL's answers count a control hidden by hideLMSUI as "disabled" (not usable).
            button, _, mode = key.partition(".")
            enabled = button not in hidden and sequencing.nav_state(tree, state, current)[button]
            return "Y" if enabled == (mode == "enabled") else "N"
        rows = [r for r in sequencing.toc(tree, state) if r["visible"]]
        if key == "toc.enabled":
            # something the learner can choose (the activity on screen is not a choice)
            return "Y" if any(not r["disabled"] and r["id"] != current for r in rows) else "N"
        if key in ("toc.enabled.selectable", "toc.visible"):
            target = self.item_by_title(arg)
            if target == tree.root:
                ok = key == "toc.visible" or sequencing.request_is_valid(tree, state, "choice", target)
                return "Y" if ok else "N"
            for r in rows:
                if r["id"] == target:
                    return "Y" if key == "toc.visible" or not r["disabled"] else "N"
            return "N"
        if key == "click.button":
            return "Y"
        raise CaseFailure(f"unknown UI question {question!r}")

    # --- the case ------------------------------------------------------------------------------

    def unload(self, ui_request: str | None) -> None:
        """The player takes the SCO away (an UI event): pages that terminate on unload do so now."""
        if self.session is None or self.session.phase is not api.Phase.RUNNING:
            return
        page = self.pkg.pages.get(self.session_item or "", "") if self.pkg else ""
        if page in _UNLOAD_PAGES:
            request = _UNLOAD_PAGES[page]
            if request is not None:
                self.session, _ = api.set_value(self.session, "adl.nav.request", request)
            self._terminate()
            if ui_request is None and request is not None:
                self.sco_request()
            return
        self._terminate()

    def sco_request(self) -> None:
        """After Terminate: the SCO's adl.nav.request, if any, goes to the sequencer."""
        assert self.session is not None
        value = self.session.state.get("values", {}).get("adl.nav.request", "_none_")
        if value in ("", "_none_"):
            self.delivered = None
            return
        parsed = sequencing.parse_nav_request(value)
        self.navigate(parsed.request, parsed.target)

    def ui_event(self, cui: str, where: str) -> None:
        word, _, arg = cui.partition("~")
        requests = {"Continue": "continue", "Previous": "previous", "TRIGExitAll": "exitAll"}
        relaunch_choice = {"RelaunchCM10": "Activity 4", "DMBxAct": "Data Model Behavior Test 1"}
        launch_titles = {
            "APIt1": "API Implementation Test 1",
            "APIt2": "API Implementation Test 2",
            **{f"DMIt{n}": f"Data Model Implementation Test {n}" for n in range(1, 5)},
        }
        ended = bool(self.state.get("ended"))
        if word in requests:
            self.unload(requests[word])
            self.navigate(requests[word])
        elif word.startswith("ContinueExit"):  # Continue; the attempt ends; relaunch (CM-08)
            self.unload("continue")
            self.navigate("continue")
            self.relaunch()
        elif word == "ChoiceExit":  # a choice after which the attempt ends (CM-08)
            self.unload("choice")
            self.navigate("choice", self.item_by_title(arg))
            if not self.state.get("ended"):
                self.fail(f"{where}: the sequencing session should have ended ({cui})")
        elif word == "Choice" or word in launch_titles:
            title = arg if word == "Choice" else launch_titles[word]
            self.unload("choice")
            self.navigate("choice", self.item_by_title(title))
        elif word == "RootSX4b":
            self.unload("choice")
            self.navigate("choice", self.tree.root)
        elif word.startswith("Suspend"):
            self.unload("suspendAll")
            if not ended:
                self.navigate("suspendAll")
            self.relaunch()
        elif word in ("HasEnded", "AutoTest", "OKEnd"):
            if not ended:
                self.fail(f"{where}: the sequencing session should have ended ({cui})")
            self.delivered = None
        elif word == "exitlaunch" or (word.startswith("Exit") and word != "Exit"):
            self.unload("exitAll")
            if not ended and self.state.get("current") is not None:
                self.navigate("exitAll")
            self.relaunch(arg or None)
        elif word == "Exit":
            self.unload("exitAll")
            if not ended and self.state.get("current") is not None:
                self.navigate("exitAll")
            self.delivered = None
        elif word == "autoendrelaunch" or word.lower().startswith("relaunch") or word.startswith("DMBx"):
            package = arg or None
            if word.lower().startswith("relaunchdd"):
                package = word[len("relaunch") :]
            self.relaunch(package)
            if word in relaunch_choice:
                self.navigate("choice", self.item_by_title(relaunch_choice[word]))
        else:
            raise CaseFailure(f"{where}: unknown UI event {cui!r}")

    def start(self) -> None:
        start = self.case.info.get("start", ".").strip()
        packages = self.case.package_ids
        first = start if start in packages else packages[0]
        self.open_course(first)
        if start in (".", "") or start in packages:
            self.begin()
            return
        target = self.item_by_title(start)
        result = sequencing.navigate(self.tree, self.state, "start")
        if result.exception is None and result.deliver is not None:
            self._apply(result, "start")
        else:
            self.navigate("choice", target)

    def run(self) -> list[str]:
        self.start()
        visits = self.case.visits
        for n, visit in enumerate(visits):
            where = visit.key
            if not self._check_delivery(visit):
                break
            assert self.pkg is not None
            item_id = self.delivered
            assert item_id is not None
            for q, a in zip(visit.ui_questions, visit.ui_answers, strict=False):
                got = self.ui_answer(q)
                if got != a:
                    self.fail(f"{where} UI question {q!r}: answered {got}, expected {a}")
            self.delivered = None
            if self.tree.activities[item_id].kind == "asset":
                self.session = None
                self.session_item = item_id
                self.state = sequencing.report_sco_outcome(
                    self.tree, self.state, item_id, completion="completed", attempt_ended=True
                )
            else:
                self.launch(item_id)
                for c in visit.calls:
                    self.check_call(where, c)
                page = self.pkg.pages.get(item_id, "")
                assert self.session is not None
                if page not in _UNLOAD_PAGES and self.session.phase is api.Phase.RUNNING:
                    self._terminate()
                    self.sco_request()
                elif self.session.phase is api.Phase.TERMINATED:
                    self.sco_request()
            if visit.cui:
                scored = self.delivered is not None or bool(self.state.get("ended"))
                nav_cui = visit.cui.split("~")[0] in ("Continue", "Previous", "Choice", "TRIGExitAll", "Exit")
                if not (scored and nav_cui):
                    self.ui_event(visit.cui, where)
            if n == len(visits) - 1:
                if self.delivered is not None and visit.cui.split("~")[0] != "Exit":
                    self.fail(f"after the last visit {where} the LMS delivered {self._act_of(self.delivered)} too")
                if self.case.info.get("end", "").strip() == "endUserInter" and not self.state.get("ended"):
                    self.fail("the sequencing session should have ended")
        return self.errors

    def _act_of(self, item_id: str | None) -> str:
        if item_id is None or self.pkg is None:
            return "nothing"
        act = self.pkg.acts.get(item_id)
        return item_id if act is None else f"Activity {act} ({item_id})"

    def _check_delivery(self, visit: Visit) -> bool:
        expected = f"Act{visit.activity}"
        if self.delivered is None:
            why = ""
            if self.last_nav is not None and self.last_nav.exception:
                why = f" (last request refused: {self.last_nav.exception})"
            elif self.state.get("ended"):
                why = " (the session ended)"
            self.fail(f"{visit.key}: expected {expected} to be delivered, nothing was{why}")
            return False
        assert self.pkg is not None
        if self.pkg.acts.get(self.delivered) != visit.activity:
            self.fail(f"{visit.key}: expected {expected}, the LMS delivered {self._act_of(self.delivered)}")
            return False
        return True


def _message_ok(expected: str, value: str) -> bool:
    if expected == "less255":
        return len(value) < 255
    if expected == "emptyCS":
        return value == ""
    return value == expand(expected) or value == expected


def earlier_siblings(case_id: str) -> list[str]:
    """The cases of the same series that ADL's suite runs before this one (CO-07a before CO-07b).

    The suite runs every case for the same learner, in order; a series shares global objectives
    (``gObj-CO07-*``) that persist across packages (objectivesGlobalToSystem), so a later case
    of a series starts from what the earlier ones left in the learner's global store.
    """
    m = re.fullmatch(r"(.*?\d+)([a-z]+)", case_id)
    if m is None:
        return []
    stem, suffix = m.groups()
    return [
        other
        for other in case_ids()
        if (o := re.fullmatch(r"(.*?\d+)([a-z]+)", other)) and o.group(1) == stem and o.group(2) < suffix
    ]


def run_case(case: TestCase) -> list[str]:
    """All the ways the LMS failed the test case (empty when it passed)."""
    learner = Learner()
    for sibling in earlier_siblings(case.id):
        earlier = CaseRun(load_case(sibling))
        earlier.learner = learner
        try:
            earlier.run()
        except (CaseFailure, sequencing.SequencingError):
            pass
    try:
        run = CaseRun(case)
        run.learner = learner
        return run.run()
    except CaseFailure as exc:
        return [str(exc)]
    except sequencing.SequencingError as exc:
        return [f"sequencer error: {type(exc).__name__}: {exc}"]
