"""Session lifecycle of one SCO, as pure functions on state documents.

* :func:`initial_state_12` / :func:`initial_state_2004` build the document a new session starts
  with (LMS-initialised elements, resume data from the previous session when there is one) from
  the version's typed launch parameters (:class:`Scorm12Launch`, :class:`Scorm2004Launch`);
  :func:`initial_state` is the same from keywords.
* :func:`finish_session` applies what the LMS does when a session ends: accumulate
  ``session_time`` into ``total_time`` and evaluate status rules.

Whether a relaunch continues the attempt (pass ``previous_state``) or starts a new one
(``previous_state=None``) is the caller's decision; :func:`attempt_continues` gives the spec's
answer from the previous session's ``exit``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

from scorm.cmi.durations import format_span, parse_span
from scorm.cmi.errors import InvalidArgumentError, Version, normalise_version
from scorm.cmi.paths import _PLANS, normalise_element
from scorm.cmi.state import (
    SHARED_DATA_ACCESS,
    _unpack,
    evaluated_completion_status,
    evaluated_success_status,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LmsComment:
    """One ``cmi.comments_from_lms.n`` entry (SCORM 2004, RTE 4th §4.2.3)."""

    comment: str
    location: str | None = None
    timestamp: str | None = None


# Elements the LMS (re)initialises at every launch and that must not be carried over from the
# previous session; everything else the SCO wrote persists on resume.
_LAUNCH_ONLY_12: Final = frozenset(
    {
        "cmi.core.student_id",
        "cmi.core.student_name",
        "cmi.core.credit",
        "cmi.core.entry",
        "cmi.core.lesson_mode",
        "cmi.core.exit",
        "cmi.core.session_time",
        "cmi.launch_data",
        "cmi.comments_from_lms",
        "cmi.student_data.mastery_score",
        "cmi.student_data.max_time_allowed",
        "cmi.student_data.time_limit_action",
    }
)
_LAUNCH_ONLY_2004: Final = frozenset(
    {
        "cmi.learner_id",
        "cmi.learner_name",
        "cmi.credit",
        "cmi.entry",
        "cmi.mode",
        "cmi.exit",
        "cmi.session_time",
        "cmi.launch_data",
        "cmi.completion_threshold",
        "cmi.scaled_passing_score",
        "cmi.max_time_allowed",
        "cmi.time_limit_action",
        "adl.nav.request",
    }
)
_LAUNCH_ONLY_PREFIXES_2004: Final = ("cmi.comments_from_lms.", "adl.nav.", "adl.data.")
_LAUNCH_ONLY_ARRAYS_2004: Final = frozenset({"cmi.comments_from_lms", "adl.data"})


# cmi.objectives.n fields the LMS initialises from objective tracking data (RTE 4th §4.2.17).
_OBJECTIVE_FIELDS: Final = (
    "success_status",
    "completion_status",
    "score.scaled",
    "score.raw",
    "score.min",
    "score.max",
    "progress_measure",
)


def _exit_key(version: Version) -> str:
    return "cmi.core.exit" if version == "1.2" else "cmi.exit"


def session_exit(state: Mapping[str, Any], version: str) -> str | None:
    """The ``exit`` value the SCO wrote in a session, or None if it never wrote one."""
    v, values, _ = _unpack(state, version)
    return values.get(_exit_key(v))


def attempt_continues(
    previous_state: Mapping[str, Any], version: str, *, resume_if_exit_unset: bool = True
) -> bool:
    """Whether the next launch continues the previous session's attempt with its data.

    * SCORM 1.2 (RTE 1.2 §3.4.4 cmi.core.entry/exit): data persists across sessions; always
      True (``entry`` is ``resume`` only after ``exit=suspend``, see :func:`initial_state`).
    * SCORM 2004 (RTE 4th §4.2.7, §4.2.8): only ``exit=suspend`` continues the attempt;
      ``normal``, ``logout``, ``time-out`` and ``""`` end it. A session that ended with
      ``adl.nav.request=suspendAll`` continues too (the SCO suspended the course).

    SPEC COMPLIANCE NOTE: a 2004 session that never wrote ``cmi.exit`` at all (closed tab,
    dropped connection, no Terminate) is treated as suspended when ``resume_if_exit_unset``
    (default), so a learner never loses progress to a crash; strict reading: "" → new attempt.
    """
    v, values, _ = _unpack(previous_state, version)
    if v == "1.2":
        return True
    if values.get("adl.nav.request") == "suspendAll":
        # The SCO suspended the whole course: its attempt is suspended whatever cmi.exit says
        # (ADL CTS DMB: exit=normal + suspendAll, relaunch -> entry=resume with its data).
        return True
    exit_value = values.get("cmi.exit")
    if exit_value is None:
        return resume_if_exit_unset
    return exit_value == "suspend"


def _check(version: Version, element: str, value: str) -> str:
    path, _ = normalise_element(element)
    kind = _PLANS[version][path].validate(value)
    if kind is not None:
        raise InvalidArgumentError(
            f"{element} = {value[:60]!r} is not valid for SCORM {version} "
            f"({kind.value}); check the package manifest or launch settings."
        )
    return value


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    text = f"{value:.7f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _span(version: Version, value: str | float) -> str:
    if isinstance(value, str):
        return value
    return format_span(round(value * 100), version)


@dataclass(frozen=True, kw_only=True)
class Scorm12Launch:
    """What the LMS initialises a SCORM 1.2 session with (RTE 1.2 §3.4.4).

    Attributes:
        learner_id: ``cmi.core.student_id``.
        learner_name: ``cmi.core.student_name``.
        launch_data: manifest ``adlcp:datafromlms``.
        mastery_score: manifest ``adlcp:masteryscore`` (0-100).
        max_time_allowed: manifest ``adlcp:maxtimeallowed``, a CMITimespan or seconds.
        time_limit_action: manifest ``adlcp:timelimitaction``.
        credit: True/"credit" or False/"no-credit".
        mode: ``cmi.core.lesson_mode``: "normal", "browse" or "review".
    """

    learner_id: str
    learner_name: str
    launch_data: str | None = None
    mastery_score: float | str | None = None
    max_time_allowed: str | float | None = None
    time_limit_action: str | None = None
    credit: bool | str = True
    mode: str = "normal"


@dataclass(frozen=True, kw_only=True)
class Scorm2004Launch:
    """What the LMS initialises a SCORM 2004 session with (RTE 4th §4.2).

    Attributes:
        learner_id / learner_name / launch_data / time_limit_action / credit / mode: as
            :class:`Scorm12Launch`, for ``cmi.learner_id`` ... ``cmi.mode``.
        scaled_passing_score: ``imsss:minNormalizedMeasure`` when the primary objective has
            ``satisfiedByMeasure="true"`` (-1..1).
        completion_threshold: ``adlcp:completionThreshold`` (only when ``completedByMeasure``
            is true; 0..1).
        max_time_allowed: ``imsss:attemptAbsoluteDurationLimit``, an ISO 8601 duration or seconds.
        comments_from_lms: ``cmi.comments_from_lms`` entries.
        shared_data: 4th edition ``adl.data`` entries as (id, stored value or None) or (id, stored
            value or None, readSharedData, writeSharedData) with the manifest map's permissions
            (RTE 4th §4.3: a store the SCO may not read is not loaded and reads 405, one it may
            not write refuses SetValue with 404).
        objective_ids: the SCO's objective ids from the manifest, which the LMS initialises into
            ``cmi.objectives.n.id`` (RTE 4th §4.2.17); on resume, ids not yet present are
            appended after the existing objectives.
        objectives: the objectives' tracking data (read through global objective maps) as
            :func:`scorm.sequencing.launch_data` returns them: ``{"id", "success_status",
            "completion_status", "score.scaled", "score.raw", "score.min", "score.max",
            "progress_measure"}`` (``None``/``"unknown"`` = not initialised). A known value
            replaces what a resumed session held (a shared objective may have changed since;
            ADL CTS SX-11a).
    """

    learner_id: str
    learner_name: str
    launch_data: str | None = None
    scaled_passing_score: float | str | None = None
    completion_threshold: float | str | None = None
    max_time_allowed: str | float | None = None
    time_limit_action: str | None = None
    credit: bool | str = True
    mode: str = "normal"
    comments_from_lms: Sequence[LmsComment] = ()
    shared_data: Sequence[tuple[str, str | None] | tuple[str, str | None, bool, bool]] = ()
    objective_ids: Sequence[str] = ()
    objectives: Sequence[Mapping[str, Any]] = ()


LaunchParameters = Scorm12Launch | Scorm2004Launch


def _credit(credit: bool | str) -> str:
    return credit if isinstance(credit, str) else ("credit" if credit else "no-credit")


def _state(version: Version, values: dict[str, str], counts: dict[str, int], entry: str) -> dict[str, Any]:
    logger.debug("initial CMI state", extra={"action": "cmi_initial_state", "version": version, "entry": entry})
    return {"version": version, "values": values, "counts": counts}


def _set_optional(version: Version, values: dict[str, str], optional: Mapping[str, str | None]) -> None:
    for element, given in optional.items():
        if given is not None:
            values[element] = _check(version, element, given)


def initial_state_12(params: Scorm12Launch, previous_state: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The state document a new SCORM 1.2 session starts with.

    ``previous_state``: the previous session's document when this launch continues the attempt
    (a 1.2 attempt keeps all its data: RTE 1.2 §3.4.4), else None.

    Raises:
        InvalidArgumentError: a launch parameter is invalid for SCORM 1.2.
    """
    v: Version = "1.2"
    values: dict[str, str] = {}
    counts: dict[str, int] = {}
    entry = "ab-initio"
    if previous_state is not None:
        _, prev_values, prev_counts = _unpack(previous_state, v)
        # RTE 1.2 §3.4.4 cmi.core.entry: "resume" after exit=suspend, "" otherwise; all data
        # persists within the attempt.
        entry = "resume" if prev_values.get("cmi.core.exit") == "suspend" else ""
        values = {k: s for k, s in prev_values.items() if k not in _LAUNCH_ONLY_12}
        counts = dict(prev_counts)
    values["cmi.core.student_id"] = _check(v, "cmi.core.student_id", params.learner_id)
    values["cmi.core.student_name"] = _check(v, "cmi.core.student_name", params.learner_name)
    values["cmi.core.credit"] = _check(v, "cmi.core.credit", _credit(params.credit))
    values["cmi.core.lesson_mode"] = _check(v, "cmi.core.lesson_mode", params.mode)
    values["cmi.core.entry"] = entry
    values.setdefault("cmi.core.lesson_status", "not attempted")
    values.setdefault("cmi.core.total_time", "0000:00:00.00")
    mastery, limit = params.mastery_score, params.max_time_allowed
    _set_optional(
        v,
        values,
        {
            "cmi.launch_data": params.launch_data,
            "cmi.student_data.mastery_score": _number(mastery) if mastery is not None else None,
            "cmi.student_data.max_time_allowed": _span(v, limit) if limit is not None else None,
            "cmi.student_data.time_limit_action": params.time_limit_action,
        },
    )
    return _state(v, values, counts, entry)


def initial_state_2004(
    params: Scorm2004Launch,
    previous_state: Mapping[str, Any] | None = None,
    *,
    resume_if_exit_unset: bool = True,
) -> dict[str, Any]:
    """The state document a new SCORM 2004 session starts with.

    ``previous_state``: the previous session's document when this launch may continue the
    attempt; it does only when :func:`attempt_continues` says so (``resume_if_exit_unset``),
    else only the learner's preferences survive (RTE 4th §4.2.13).

    Raises:
        InvalidArgumentError: a launch parameter is invalid for SCORM 2004.
    """
    v: Version = "2004"
    values: dict[str, str] = {}
    counts: dict[str, int] = {}
    entry = "ab-initio"
    if previous_state is not None:
        _, prev_values, prev_counts = _unpack(previous_state, v)
        if attempt_continues(previous_state, v, resume_if_exit_unset=resume_if_exit_unset):
            # RTE 4th §4.2.7: exit=suspend → entry=resume, the attempt's data is kept.
            entry = "resume"
            values = {
                k: s
                for k, s in prev_values.items()
                if k not in _LAUNCH_ONLY_2004 and not k.startswith(_LAUNCH_ONLY_PREFIXES_2004)
            }
            counts = {k: c for k, c in prev_counts.items() if k not in _LAUNCH_ONLY_ARRAYS_2004}
        else:
            values = {k: s for k, s in prev_values.items() if k.startswith("cmi.learner_preference.")}
    values["cmi.learner_id"] = _check(v, "cmi.learner_id", params.learner_id)
    values["cmi.learner_name"] = _check(v, "cmi.learner_name", params.learner_name)
    values["cmi.credit"] = _check(v, "cmi.credit", _credit(params.credit))
    values["cmi.mode"] = _check(v, "cmi.mode", params.mode)
    values["cmi.entry"] = entry
    values.setdefault("cmi.total_time", "PT0H0M0S")
    _lms_arrays_2004(params, values, counts)
    _objectives_2004(params, values, counts)
    passing, threshold, limit = params.scaled_passing_score, params.completion_threshold, params.max_time_allowed
    _set_optional(
        v,
        values,
        {
            "cmi.launch_data": params.launch_data,
            "cmi.scaled_passing_score": _number(passing) if passing is not None else None,
            "cmi.completion_threshold": _number(threshold) if threshold is not None else None,
            "cmi.max_time_allowed": _span(v, limit) if limit is not None else None,
            "cmi.time_limit_action": params.time_limit_action,
        },
    )
    return _state(v, values, counts, entry)


def _lms_arrays_2004(params: Scorm2004Launch, values: dict[str, str], counts: dict[str, int]) -> None:
    """``cmi.comments_from_lms.n`` and ``adl.data.n``: the LMS's own arrays, set afresh at every launch."""
    v: Version = "2004"
    for i, comment in enumerate(params.comments_from_lms):
        prefix = f"cmi.comments_from_lms.{i}"
        values[f"{prefix}.comment"] = _check(v, f"{prefix}.comment", comment.comment)
        if comment.location is not None:
            values[f"{prefix}.location"] = _check(v, f"{prefix}.location", comment.location)
        if comment.timestamp is not None:
            values[f"{prefix}.timestamp"] = _check(v, f"{prefix}.timestamp", comment.timestamp)
    if params.comments_from_lms:
        counts["cmi.comments_from_lms"] = len(params.comments_from_lms)
    for i, entry in enumerate(params.shared_data):
        data_id, store = entry[0], entry[1]
        readable, writable = (bool(entry[2]), bool(entry[3])) if len(entry) == 4 else (True, True)
        values[f"adl.data.{i}.id"] = _check(v, f"adl.data.{i}.id", data_id)
        if store is not None and readable:
            values[f"adl.data.{i}.store"] = _check(v, f"adl.data.{i}.store", store)
        if not (readable and writable):
            values[SHARED_DATA_ACCESS.format(i)] = ("r" if readable else "") + ("w" if writable else "")
    if params.shared_data:
        counts["adl.data"] = len(params.shared_data)


def _objectives_2004(params: Scorm2004Launch, values: dict[str, str], counts: dict[str, int]) -> None:
    """``cmi.objectives.n``: the manifest's ids appended, then their tracking data (RTE 4th §4.2.17)."""
    count = counts.get("cmi.objectives", 0)
    present = {values.get(f"cmi.objectives.{i}.id") for i in range(count)}
    index: dict[str, int] = {
        str(values[f"cmi.objectives.{i}.id"]): i for i in range(count) if f"cmi.objectives.{i}.id" in values
    }
    wanted = [*params.objective_ids, *(str(o["id"]) for o in params.objectives if o.get("id"))]
    for objective_id in wanted:
        if objective_id in present:
            continue
        # The manifest's objectiveID (an anyURI, already normalised by the packaging layer,
        # which may hold decoded spaces) is the LMS's own value: stored as given.
        values[f"cmi.objectives.{count}.id"] = objective_id
        present.add(objective_id)
        index[objective_id] = count
        count += 1
    if count:
        counts["cmi.objectives"] = count
    for objective in params.objectives:
        n = index.get(str(objective.get("id") or ""))
        if n is None:
            continue
        for field in _OBJECTIVE_FIELDS:
            given = objective.get(field)
            element = f"cmi.objectives.{n}.{field}"
            if given is None or given == "unknown":
                continue  # a resumed session keeps what it had; the tracking data wins
            values[element] = _check("2004", element, _number(given) if not isinstance(given, str) else given)


_LAUNCH_FIELDS: Final = {
    "1.2": frozenset(f.name for f in fields(Scorm12Launch)),
    "2004": frozenset(f.name for f in fields(Scorm2004Launch)),
}


def launch_parameters(version: str, **given: Any) -> LaunchParameters:
    """The typed launch parameters of ``version`` from keywords (``None`` and empty = not given).

    Raises:
        InvalidArgumentError: a parameter of the other version (or an unknown one) was given.
    """
    v = normalise_version(version)
    other = "2004" if v == "1.2" else "1.2"
    for name, value in given.items():
        if name in _LAUNCH_FIELDS[v]:
            continue
        if value is None or (isinstance(value, Sequence) and not isinstance(value, str) and not value):
            continue
        if name in _LAUNCH_FIELDS[other]:
            hint = "; use scaled_passing_score" if name == "mastery_score" else ""
            raise InvalidArgumentError(f"{name} is a SCORM {other} setting, not SCORM {v}{hint}.")
        raise InvalidArgumentError(f"{name} is not a launch parameter.")
    kept = {name: value for name, value in given.items() if name in _LAUNCH_FIELDS[v]}
    return Scorm12Launch(**kept) if v == "1.2" else Scorm2004Launch(**kept)


def initial_state(
    version: str,
    *,
    previous_state: Mapping[str, Any] | None = None,
    resume_if_exit_unset: bool = True,
    **launch: Any,
) -> dict[str, Any]:
    """The state document a new session of a SCO starts with, from keyword launch parameters.

    A convenience over :func:`initial_state_12` / :func:`initial_state_2004` (which the runtime
    calls through its delivery registry): ``launch`` are the fields of :class:`Scorm12Launch`
    or :class:`Scorm2004Launch` (see :func:`launch_parameters`).

    Raises:
        InvalidArgumentError: a launch parameter is invalid for the version, or a parameter of
            the other version was given.
    """
    params = launch_parameters(version, **launch)
    if isinstance(params, Scorm12Launch):
        return initial_state_12(params, previous_state)
    return initial_state_2004(params, previous_state, resume_if_exit_unset=resume_if_exit_unset)


def finish_session(state: Mapping[str, Any], version: str) -> dict[str, Any]:
    """What the LMS does at the end of a session (Terminate/LMSFinish or abandonment).

    1. ``session_time`` is added to ``total_time`` and removed (so finishing twice does not
       count it twice). 1.2 CMITimespan / 2004 ISO 8601 duration, see ``durations``.
    2. SCORM 1.2 (RTE 1.2 §3.4.4 cmi.core.lesson_status, "additional behavior
       requirements", and the 1.2 Conformance Requirements):

       * a status still ``not attempted`` becomes ``browsed`` in browse mode, else
         ``completed``;
       * then, with ``credit`` and ``lesson_mode=normal``, a mastery score and a
         ``score.raw``, and a status other than ``incomplete`` set by the SCO: ``passed``
         when raw >= mastery, else ``failed``.
    3. SCORM 2004 (RTE 4th §4.2.4.1, §4.2.22.1): ``completion_status`` and
       ``success_status`` are stored as evaluated from ``completion_threshold`` /
       ``progress_measure`` and ``scaled_passing_score`` / ``score.scaled``.

    The ``exit`` value is kept: the next :func:`initial_state` reads it.

    Returns:
        The new state document (the input is not modified).
    """
    v, values, counts = _unpack(state, version)
    new_values = dict(values)
    session_key = "cmi.core.session_time" if v == "1.2" else "cmi.session_time"
    total_key = "cmi.core.total_time" if v == "1.2" else "cmi.total_time"
    session = new_values.pop(session_key, None)
    if session is not None:
        total = new_values.get(total_key, format_span(0, v))
        new_values[total_key] = format_span(parse_span(total, v) + parse_span(session, v), v)
    if v == "1.2":
        _finish_status_12(new_values)
    else:
        # Stored as evaluated; a status the SCO never wrote that evaluates to the default
        # "unknown" stays unwritten, so "the SCO set it" remains visible to the sequencer
        # (UP.4 leaves content-set statuses alone; ADL CTS RU-19a).
        for key, evaluated in (
            ("cmi.completion_status", evaluated_completion_status(new_values)),
            ("cmi.success_status", evaluated_success_status(new_values)),
        ):
            if key in new_values or evaluated != "unknown":
                new_values[key] = evaluated
    return {"version": v, "values": new_values, "counts": dict(counts)}


def _finish_status_12(values: dict[str, str]) -> None:
    status = values.get("cmi.core.lesson_status", "not attempted")
    mode = values.get("cmi.core.lesson_mode", "normal")
    if status == "not attempted":
        status = "browsed" if mode == "browse" else "completed"
    mastery = values.get("cmi.student_data.mastery_score")
    raw = values.get("cmi.core.score.raw")
    if (
        values.get("cmi.core.credit", "credit") == "credit"
        and mode == "normal"
        and mastery not in (None, "")
        and raw not in (None, "")
        and status != "incomplete"
    ):
        status = "passed" if float(raw) >= float(mastery) else "failed"
    values["cmi.core.lesson_status"] = status
