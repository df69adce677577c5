"""SCORM 2004 Sequencing & Navigation engine (SN book) for the player server.

Pure functions over a plain JSON-able state ``dict`` (stored by the server per attempt) and an
immutable :class:`ActivityTree`; stdlib only (no lxml, Flask or database; ``scorm.cmi`` is
used by :func:`report_cmi_state`). SCORM 1.2 trees are supported too (flow + choice
everywhere, ``adlcp:prerequisites`` evaluated from lesson statuses).

Public API::

    build_tree(manifest: ScormManifest) -> ActivityTree
    new_state(tree, *, seed: int = 0, globals_: Mapping | None = None) -> dict
    report_sco_outcome(tree, state, activity_id, *, completion=None, success=None,
                       measure=None, progress=None, attempt_ended=False, suspended=False,
                       objectives=None, lesson_status=None, attempt_duration=None) -> dict
    report_cmi_state(tree, state, activity_id, cmi_state, *, terminated=False) -> dict
    launch_data(tree, state, activity_id) -> dict          # passing score, threshold, objectives
    course_outcome(tree, state) -> dict                    # the root's result, for grading
    navigate(tree, state, request: str, target: str | None = None) -> NavResult
    begin(tree, state) -> NavResult                         # resumeAll / start / relaunch
    toc(tree, state) -> list[dict]
    nav_state(tree, state, current: str | None = None) -> {"previous": bool, "continue": bool}
    continue_refusal(tree, state) -> learner message | None (Continue valid by NB.2.1 but refused)
    valid_requests(tree, state) -> {"continue", "previous", "choice": {id: bool}, "jump": {..}}
    request_valid_value(tree, state, "adl.nav.request_valid.choice.{target=x}") -> "true"|...
    request_is_valid(tree, state, request, target=None) -> bool
    choice_validity(tree, state, targets, request="choice") -> {id: SN code | None}
    parse_nav_request(value, target=None) -> NavRequest
    parse_prerequisites(text) / evaluate_prerequisites(expr, status_of) / referenced_items(expr)
    NavResult(deliver, state, end, exception, message); LEARNER_MESSAGES; SN_MEANING

Typical use by the player server (store ``state`` with the attempt, in the same transaction
as the CMI state)::

    tree = build_tree(manifest)                      # cache per package version
    state = new_state(tree, seed=secrets.randbits(32))
    result = begin(tree, state)                      # launch: resumeAll / start / re-deliver
    # ... SCO commits:    state = report_cmi_state(tree, state, sco_id, cmi_state)
    # ... SCO terminates: state = report_cmi_state(tree, state, sco_id, cmi_state,
    #                                              terminated=True)
    #     then its adl.nav.request (if not "_none_"): result = navigate(tree, state, request)
    # ... learner clicks: result = navigate(tree, state, "continue" | "previous" | "choice", id)
    # result.state is what to store; result.deliver the leaf to launch (tree.activities[id].url);
    # result.end: show the end page; result.exception/message: refused, show message.
    # Menu and buttons: toc(tree, state), nav_state(tree, state), valid_requests(tree, state)

SN pseudo-code implemented (SCORM 2004 4th edition SN book, Appendix C numbering):

* OP.1 Overall Sequencing Process (a refused request leaves the state unchanged; see
  :mod:`scorm.sequencing.engine`).
* NB.2.1 Navigation Request Process: start, resumeAll, continue, previous, choice, jump,
  exit, exitAll, abandon, abandonAll, suspendAll (``_none_`` is a no-op).
* TB.2.1 Sequencing Exit Action Rules Subprocess; TB.2.2 Sequencing Post Condition Rules
  Subprocess (retry, retryAll, continue, previous, exitParent, exitAll); TB.2.3 Termination
  Request Process (exit with the exitParent loop, exitAll, suspendAll, abandon, abandonAll).
* SB.2.1 Flow Tree Traversal Subprocess (with the 4th-ed. reversed-direction step);
  SB.2.2 Flow Activity Traversal Subprocess (skip, disabled, limit checks); SB.2.3 Flow
  Subprocess; SB.2.4 Choice Activity Traversal Subprocess (stopForwardTraversal,
  forwardOnly); SB.2.5 Start; SB.2.6 Resume All; SB.2.7 Continue; SB.2.8 Previous; SB.2.9
  Choice (hiddenFromChoice, choice, choiceExit, constrainChoice via SB.2.9.1 Choice Flow
  Subprocess and SB.2.9.2 Choice Flow Tree Traversal Subprocess, preventActivation); SB.2.10
  Retry; SB.2.11 Exit; SB.2.12 Sequencing Request Process; SB.2.13 Jump (4th ed.).
* DB.1.1 Delivery Request Process; DB.2 Content Delivery Environment Process (attempt
  counting, resume of suspended activities, new-attempt reset of attempt progress data);
  DB.2.1 Clear Suspended Activity Subprocess.
* UP.1 Limit Conditions Check Process (attemptLimit and attemptAbsoluteDurationLimit, the
  attempt's duration being reported by the player); UP.2 Sequencing Rules Check Process;
  UP.2.1 Sequencing Rule Check Subprocess (all rule conditions, three-valued logic;
  timeLimitExceeded = attempt duration limit exceeded);
  UP.3 Terminate Descendent Attempts Process; UP.4 End Attempt Process (completion/objective
  set by content); UP.5 Check Activity Process (disabled rules, limits, SCORM 1.2
  prerequisites).
* RB.1.1 Measure Rollup Process (objectiveMeasureWeight) and 4th-ed. Completion Measure
  Rollup (progressWeight); RB.1.2 Objective Rollup Process with RB.1.2.a Using Measure
  (incl. measureSatisfactionIfActive), RB.1.2.b Using Rules and RB.1.2.c Using Default;
  RB.1.3 Activity Progress Rollup Process (using measure / rules / default); RB.1.4 Rollup
  Rule Check Subprocess with RB.1.4.1 Evaluate Rollup Conditions Subprocess and RB.1.4.2
  Check Child for Rollup Subprocess (rollupObjectiveSatisfied, rollupProgressCompletion,
  adlseq requiredFor* considerations, tracked); RB.1.5 Overall Rollup Process (plus rollup of
  the readers of a changed global objective). useCurrentAttemptObjectiveInfo /
  useCurrentAttemptProgressInfo are applied at rollup time.
* SR.1 Select Children Process and SR.2 Randomize Children Process (timing never / once /
  onEachNewAttempt; deterministic in the state's ``seed``).
* Objective maps (SN 4.2.1.2 / 5.1.6.3): read/write satisfied status and normalized measure;
  4th-ed. ``adlseq:mapInfo`` read/write of raw/min/max score, completion status and progress
  measure, for the primary and every other objective (``objective_data``). Objective ids are
  compared whitespace-collapsed and percent-decoded (``objective_identifier``).
  satisfiedByMeasure / completedByMeasure statuses follow the (possibly shared) measure alone.
* ``launch_data`` initialises ``cmi.objectives.n`` (status, scores, completion, progress) from
  the objectives' tracking data (``scorm.cmi.initial_state(objectives=...)``); a resumed SCO
  gets the known values again. A SCO's ``cmi.objectives`` entry for the primary objective
  feeds the primary objective where ``cmi.*`` did not say; a status the SCO wrote itself
  (even "unknown") is never overridden by UP.4; an abandoned attempt's data is not kept.
* ``course_outcome``: the root's completion/success/measure, what a SCORM 2004 attempt is
  graded with (the service's attempt rollup uses it).

Global objective store (``objectivesGlobalToSystem``, issue 13). The engine keeps global
objectives in ``state["globals"]`` (``{targetObjectiveID: {"satisfied", "measure",
"completion", "progress", "raw", "min", "max"}}``) and takes them as data:
``new_state(tree, globals_=store)``. The runtime persists them per learner
(``lti_tool.runtime.learner_store``, table ``learner_shared_state``): with
``tree.objectives_global_to_system`` (the default) every stored state change merges
``state["globals"]`` into the learner's store key by key, and a new attempt starts from it;
``"false"`` keeps them in the attempt's state only (a retry or new attempt on the root starts
them afresh). After the sequencing session ended, a relaunch of the same attempt is a new
attempt on the root of the *same* state (``begin`` on the stored state): SN keeps objective
information across attempts (ADL CTS RU-14*, SX-04a). Only an objective something set writes
its maps (a cluster's unset objective never erases a global another activity wrote).

4th-ed. shared data (``adl.data``): ``scorm.cmi`` enforces the ``adlcp:map`` permissions
(``initial_state(shared_data=[(id, store, readSharedData, writeSharedData)])``: 405 on reading a
write-only store, 404 on writing a read-only one); the runtime keeps the stores per learner, or
per attempt when ``adlcp:sharedDataGlobalToSystem="false"`` (``learner_store``).

The ADL SCORM 2004 4th Edition LMS run-time conformance cases replay server-side through this
package: ``python -m tests.scorm.cts.report`` (not-passing cases and reasons in
``tests/scorm/cts/known.py``).

Not implemented (remaining):

* The other time-based limit conditions of IMS SS (attemptExperiencedDurationLimit, activity
  duration limits, begin/end time limits; SCORM does not require them, scorm.packaging does
  not parse them, no ADL CTS case uses them) and the rule condition outsideAvailableTimeRange
  (always false). attemptAbsoluteDurationLimit / timeLimitExceeded are implemented (CTS T-01*).
* NB.2.1 ``forward`` / ``backward`` (IMS SS requests SCORM does not use and no ADL CTS case
  issues; the parser refuses them).
* Exceptions only reachable from paths an earlier step already refuses (listed in
  ``messages.DEFENSIVE_CODES``, e.g. SB.2.5-1 after NB.2.1-1) are coded but untestable.
* SCORM 1.2 prerequisite ``*`` sets are supported; other AICC script features beyond
  CAM 2.3.2.5.2 (e.g. time/score comparisons) are not.
* A resumed attempt does not re-read the learner's global store (another course may have
  changed a shared global since the attempt started): only a new attempt starts from it.
* The browser runtime answers ``adl.nav.request_valid.*`` from the player's latest nav state
  (menu rows for choice, ``jump_targets`` for jump), refreshed by every commit and navigation.
* Continue is valid when NB.2.1 says so (the parent allows flow), as ADL's CTS requires
  (CM-07d); a Continue that the flow would still refuse is reported by ``continue_refusal``.
"""

from __future__ import annotations

from scorm.sequencing.cmi_adapter import course_outcome, launch_data, report_cmi_state
from scorm.sequencing.engine import NavResult, begin, choice_validity, navigate
from scorm.sequencing.errors import (
    ALL_ERROR_TYPES,
    InvalidNavigationRequest,
    InvalidPrerequisites,
    InvalidState,
    InvalidTrackingValue,
    NotALeaf,
    SequencingError,
    UnknownActivity,
)
from scorm.sequencing.messages import LEARNER_MESSAGES, SN_MEANING, learner_message
from scorm.sequencing.prereq12 import (
    evaluate_prerequisites,
    parse_prerequisites,
    referenced_items,
)
from scorm.sequencing.reporting import report_sco_outcome
from scorm.sequencing.requests import NavRequest, parse_nav_request
from scorm.sequencing.toc import (
    continue_is_valid,
    continue_refusal,
    jump_targets,
    nav_state,
    request_is_valid,
    request_valid_value,
    toc,
    valid_requests,
)
from scorm.sequencing.tracking import STATE_VERSION, new_state
from scorm.sequencing.tree import Activity, ActivityTree, build_tree

__all__ = [
    "ALL_ERROR_TYPES",
    "LEARNER_MESSAGES",
    "SN_MEANING",
    "STATE_VERSION",
    "Activity",
    "ActivityTree",
    "InvalidNavigationRequest",
    "InvalidPrerequisites",
    "InvalidState",
    "InvalidTrackingValue",
    "NavRequest",
    "NavResult",
    "NotALeaf",
    "SequencingError",
    "UnknownActivity",
    "begin",
    "build_tree",
    "choice_validity",
    "continue_is_valid",
    "continue_refusal",
    "course_outcome",
    "evaluate_prerequisites",
    "jump_targets",
    "launch_data",
    "learner_message",
    "nav_state",
    "navigate",
    "new_state",
    "parse_nav_request",
    "parse_prerequisites",
    "referenced_items",
    "report_cmi_state",
    "report_sco_outcome",
    "request_is_valid",
    "request_valid_value",
    "toc",
    "valid_requests",
]
