"""cmi5 session and registration rules for the statements an AU sends (cmi5 spec §7.1, §9.3–9.6).

Framework-free: the LRS calls :func:`judge` with the statement, the AU session it belongs to and
what is known so far of the session and of the AU in this registration; it gets back the new
state, or a :class:`Cmi5Violation` naming the rule (cmi5 §6.3: the LMS should reject statements
that conflict with §9; this LRS rejects them, so nothing needs voiding afterwards).

What is enforced, per AU session:

- every statement carries the session's registration and session id, and the launch actor;
- ``initialized`` comes first, ``terminated`` last; nothing after ``terminated`` or an
  ``abandoned`` the LMS recorded; no cmi5 defined verb twice; at most one of passed/failed;
- in Browse and Review launch modes, only initialized and terminated are cmi5 defined;

per AU and registration: ``completed`` and ``passed`` at most once, no ``failed`` after
``passed``; and per statement: the object is the AU, the result carries exactly the properties
§9.5 allows for the verb (success, completion, score, a duration where required), the scaled
score agrees with the masteryScore, the moveOn category appears exactly where §9.6.2.2 wants it,
and the publisher id grouping activity of the context template is kept. AUs never void (§6.3).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scorm.xapi.formats import is_duration

ADL = "http://adlnet.gov/expapi/verbs/"
W3ID_ADL = "https://w3id.org/xapi/adl/verbs/"
LAUNCHED = ADL + "launched"
INITIALIZED = ADL + "initialized"
COMPLETED = ADL + "completed"
PASSED = ADL + "passed"
FAILED = ADL + "failed"
TERMINATED = ADL + "terminated"
ABANDONED = W3ID_ADL + "abandoned"
WAIVED = W3ID_ADL + "waived"
SATISFIED = W3ID_ADL + "satisfied"
VOIDED = ADL + "voided"
#: Verbs an AU may use in cmi5 defined statements (the LMS alone uses launched, abandoned, waived, satisfied).
AU_VERBS = frozenset({INITIALIZED, COMPLETED, PASSED, FAILED, TERMINATED})
LMS_VERBS = frozenset({LAUNCHED, ABANDONED, WAIVED, SATISFIED})

CATEGORY_CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
CATEGORY_MOVEON = "https://w3id.org/xapi/cmi5/context/categories/moveon"
EXT = "https://w3id.org/xapi/cmi5/context/extensions/"
EXT_SESSION = EXT + "sessionid"
EXT_MASTERY = EXT + "masteryscore"
EXT_LAUNCH_MODE = EXT + "launchmode"
EXT_LAUNCH_URL = EXT + "launchurl"
EXT_MOVE_ON = EXT + "moveon"
EXT_LAUNCH_PARAMETERS = EXT + "launchparameters"
EXT_PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"
EXT_REASON = "https://w3id.org/xapi/cmi5/result/extensions/reason"
TYPE_BLOCK = "https://w3id.org/xapi/cmi5/activitytype/block"
TYPE_COURSE = "https://w3id.org/xapi/cmi5/activitytype/course"
LAUNCH_DATA = "LMS.LaunchData"
LEARNER_PREFERENCES = "cmi5LearnerPreferences"
#: Verbs that must carry result.duration (§9.5.4.1).
NEEDS_DURATION = frozenset({TERMINATED, COMPLETED, PASSED, FAILED})


class LaunchMode(enum.StrEnum):
    """``launchMode`` of LMS.LaunchData (§10.2.2)."""

    NORMAL = "Normal"
    BROWSE = "Browse"
    REVIEW = "Review"


class Cmi5Violation(ValueError):
    """A statement breaks a cmi5 rule; ``code`` is stable, the message names the rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, kw_only=True)
class AuSession:
    """One launch of one AU (what the LMS wrote in LMS.LaunchData before the launch)."""

    session_id: str
    registration: str
    activity_id: str  # the AU's object id (the launch URL's activityId)
    publisher_id: str  # the AU id of the course structure (contextTemplate grouping)
    actor_key: str  # the launch actor's identity key (account homePage|name)
    launch_mode: LaunchMode = LaunchMode.NORMAL
    mastery_score: float | None = None


@dataclass(frozen=True)
class SessionState:
    """What the AU said in this session so far."""

    verbs: frozenset[str] = frozenset()
    terminated: bool = False
    abandoned: bool = False

    @property
    def initialized(self) -> bool:
        """The session's ``initialized`` arrived."""
        return INITIALIZED in self.verbs


@dataclass(frozen=True)
class AuRecord:
    """What the AU achieved in this registration, across its sessions."""

    completed: bool = False
    passed: bool = False
    failed: bool = False
    waived: bool = False
    score_scaled: float | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """An accepted statement: ``defined`` (cmi5 defined) or ``allowed``, and the new states."""

    kind: str
    session: SessionState
    record: AuRecord


def _category_ids(context: Mapping[str, Any]) -> set[str]:
    activities = context.get("contextActivities") or {}
    category = activities.get("category") or []
    if isinstance(category, Mapping):  # 1.0.x lets a single activity stand for a list
        category = [category]
    return {a.get("id") for a in category if isinstance(a, Mapping)}


def _grouping_ids(context: Mapping[str, Any]) -> set[str]:
    grouping = (context.get("contextActivities") or {}).get("grouping") or []
    if isinstance(grouping, Mapping):
        grouping = [grouping]
    return {a.get("id") for a in grouping if isinstance(a, Mapping)}


def _check_context(statement: Mapping[str, Any], au: AuSession) -> Mapping[str, Any]:
    context = statement.get("context")
    if not isinstance(context, Mapping):
        raise Cmi5Violation("cmi5_context", "cmi5: a statement of an AU session needs the context of its template")
    if context.get("registration") != au.registration:
        raise Cmi5Violation("cmi5_registration", "cmi5 9.6.1: context.registration must be the launch's registration")
    session = (context.get("extensions") or {}).get(EXT_SESSION)
    if session != au.session_id:
        raise Cmi5Violation("cmi5_session", "cmi5 9.6.3.1: the context must carry this launch's session id")
    return context


def _check_result(statement: Mapping[str, Any], verb: str, au: AuSession, context: Mapping[str, Any]) -> None:
    result = statement.get("result") or {}
    success, completion, score = result.get("success"), result.get("completion"), result.get("score")
    expected_success = {PASSED: True, FAILED: False}.get(verb)
    if expected_success is None and "success" in result:
        raise Cmi5Violation("cmi5_result", f"cmi5 9.5.2: a '{_name(verb)}' statement must not carry result.success")
    if expected_success is not None and success is not expected_success:
        raise Cmi5Violation(
            "cmi5_result",
            f"cmi5 9.5.2: a '{_name(verb)}' statement needs result.success {str(expected_success).lower()}",
        )
    if verb == COMPLETED and completion is not True:
        raise Cmi5Violation("cmi5_result", "cmi5 9.5.3: a 'completed' statement needs result.completion true")
    if verb != COMPLETED and "completion" in result:
        raise Cmi5Violation("cmi5_result", f"cmi5 9.5.3: a '{_name(verb)}' statement must not carry result.completion")
    if score is not None and verb not in (PASSED, FAILED):
        raise Cmi5Violation("cmi5_result", f"cmi5 9.5.1: a '{_name(verb)}' statement must not carry a score")
    if verb in NEEDS_DURATION and not is_duration(result.get("duration")):
        raise Cmi5Violation("cmi5_duration", f"cmi5 9.5.4.1: a '{_name(verb)}' statement needs result.duration")
    _check_mastery(verb, score, au)
    moveon = CATEGORY_MOVEON in _category_ids(context)
    if moveon != (verb in (PASSED, FAILED, COMPLETED)):
        rule = "needs" if not moveon else "must not carry"
        message = f"cmi5 9.6.2.2: a '{_name(verb)}' statement {rule} the moveOn category"
        raise Cmi5Violation("cmi5_moveon_category", message)


def _check_mastery(verb: str, score: Any, au: AuSession) -> None:
    scaled = score.get("scaled") if isinstance(score, Mapping) else None
    if au.mastery_score is None or not isinstance(scaled, int | float) or isinstance(scaled, bool):
        return
    if verb == PASSED and scaled < au.mastery_score:
        message = f"cmi5 9.3.4: passed with a scaled score below the masteryScore {au.mastery_score}"
        raise Cmi5Violation("cmi5_mastery", message)
    if verb == FAILED and scaled >= au.mastery_score:
        message = f"cmi5 9.3.5: failed with a scaled score at or above the masteryScore {au.mastery_score}"
        raise Cmi5Violation("cmi5_mastery", message)


def _name(verb: str) -> str:
    return verb.rsplit("/", 1)[-1]


def _check_order(verb: str, defined: bool, session: SessionState, record: AuRecord, au: AuSession) -> None:
    if session.abandoned:
        raise Cmi5Violation("cmi5_session_abandoned", "cmi5 9.3.6: this session was abandoned; start a new launch")
    if session.terminated:
        raise Cmi5Violation("cmi5_session_terminated", "cmi5 9.3.8: nothing may follow 'terminated' in a session")
    if not session.initialized and not (defined and verb == INITIALIZED):
        message = "cmi5 7.1.1: the first statement of a session must be 'initialized'"
        raise Cmi5Violation("cmi5_not_initialized", message)
    if not defined:
        return
    if verb in session.verbs:
        raise Cmi5Violation("cmi5_duplicate_verb", f"cmi5 9.3: '{_name(verb)}' was already sent in this session")
    if au.launch_mode is not LaunchMode.NORMAL and verb not in (INITIALIZED, TERMINATED):
        raise Cmi5Violation(
            "cmi5_launch_mode", f"cmi5 10.2.2: in {au.launch_mode.value} mode only initialized and terminated are sent"
        )
    if verb in (PASSED, FAILED) and {PASSED, FAILED} & session.verbs:
        raise Cmi5Violation("cmi5_passed_failed", "cmi5 9.3: at most one of 'passed' and 'failed' in a session")
    if verb == COMPLETED and record.completed:
        raise Cmi5Violation("cmi5_completed_twice", "cmi5 9.3.3: 'completed' was already sent in this registration")
    if verb == PASSED and record.passed:
        raise Cmi5Violation("cmi5_passed_twice", "cmi5 9.3.4: 'passed' was already sent in this registration")
    if verb == FAILED and record.passed:
        raise Cmi5Violation("cmi5_failed_after_passed", "cmi5 9.3: 'failed' may not follow 'passed' in a registration")


def judge(
    statement: Mapping[str, Any], au: AuSession, session: SessionState, record: AuRecord, *, actor_key: str | None
) -> Verdict:
    """Accept ``statement`` from the AU of ``au`` (already valid xAPI) or raise :class:`Cmi5Violation`.

    Args:
        statement: the statement as posted.
        au: the AU session it must belong to.
        session, record: what is known so far (from earlier accepted statements and LMS actions).
        actor_key: the identity key of the statement's actor (computed by the LRS).
    """
    verb = (statement.get("verb") or {}).get("id", "")
    if verb == VOIDED:
        raise Cmi5Violation("cmi5_no_voiding", "cmi5 6.3: an AU may not void statements")
    if verb in LMS_VERBS:
        raise Cmi5Violation("cmi5_lms_verb", f"cmi5 9.3: only the LMS sends '{_name(verb)}' statements")
    if actor_key != au.actor_key:
        raise Cmi5Violation("cmi5_actor", "cmi5 9.2: the actor must be the one given at launch")
    context = _check_context(statement, au)
    defined = CATEGORY_CMI5 in _category_ids(context)
    if defined and verb not in AU_VERBS:
        raise Cmi5Violation("cmi5_unknown_verb", "cmi5 7.1.3: the cmi5 category is for cmi5 defined verbs only")
    _check_order(verb, defined, session, record, au)
    if not defined:
        return Verdict("allowed", session, record)
    if (statement.get("object") or {}).get("id") != au.activity_id:
        raise Cmi5Violation("cmi5_object", "cmi5 9.4: the object of a cmi5 defined statement is the AU (activityId)")
    if au.publisher_id not in _grouping_ids(context):
        raise Cmi5Violation("cmi5_publisher_id", "cmi5 9.6.2.3: keep the publisher id activity of the context template")
    _check_result(statement, verb, au, context)
    new_session = replace(session, verbs=session.verbs | {verb}, terminated=verb == TERMINATED)
    return Verdict("defined", new_session, _record_after(record, verb, statement))


def _record_after(record: AuRecord, verb: str, statement: Mapping[str, Any]) -> AuRecord:
    if verb == COMPLETED:
        return replace(record, completed=True)
    if verb in (PASSED, FAILED):
        score = (statement.get("result") or {}).get("score") or {}
        scaled = score.get("scaled") if isinstance(score.get("scaled"), int | float) else record.score_scaled
        if verb == PASSED:
            return replace(record, passed=True, score_scaled=scaled)
        return replace(record, failed=True, score_scaled=scaled if not record.passed else record.score_scaled)
    return record
