"""Declarative element tables of the SCORM 1.2 and SCORM 2004 data models.

One ``ElementSpec`` per element, keyed by its *normalised* path: array indices are written
``n`` (``cmi.interactions.3.id`` → ``cmi.interactions.n.id``). One ``ArraySpec`` per array
(``_count`` keyword). Each entry cites its spec section:

* SCORM 1.2: *SCORM Run-Time Environment Version 1.2*, §3.4 (data model, element by element in
  §3.4.4; data types in §3.4.2; keywords in §3.4.3).
* SCORM 2004: *SCORM 2004 4th Edition Run-Time Environment*, §4.2 (one subsection per element)
  and §4.4 (``adl.nav``), ``adl.data`` §4.3. The 2nd and 3rd editions are served by the same
  table: their elements are a subset, and the one difference that matters (``suspend_data``
  SPM 4000 in 2nd/3rd vs 64000 in 4th) is resolved to the 4th edition's larger limit.

``export_tables(version)`` gives the same tables as JSON for a browser adapter.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

from scorm.cmi.datatypes import TYPES_12, TYPES_2004, DataType
from scorm.cmi.errors import CODES_12, CODES_2004, normalise_version
from scorm.cmi.responses import export_response_formats

logger = logging.getLogger(__name__)


class Access(Enum):
    """Who may read/write an element (from the SCO's side)."""

    RO = "RO"
    WO = "WO"
    RW = "RW"


@dataclass(frozen=True, kw_only=True)
class ElementSpec:
    """One data model element.

    Attributes:
        path: normalised path (indices as ``n``).
        access: RO / WO / RW from the SCO's point of view.
        dtype: key into the version's data type table.
        spec: the spec section.
        vocabulary: allowed values (state / CMIVocabulary); empty = no vocabulary.
        write_vocabulary: a narrower set the SCO may write (1.2 lesson_status), or None.
        or_decimal: the value may also be a decimal (interaction ``result``).
        allow_blank: "" is also valid (1.2 CMIBlank alternative, scores).
        value_range: inclusive (min, max) for numeric types; None bound = open.
        max_length: cap overriding the data type's (see notes), or None.
        spm: the spec's smallest permitted maximum, informative.
        default: value read when none is stored (LMS initial value); None = not initialised.
        keyword: "_children", "_count" or "_version" for keyword elements.
        keyword_value: value of a ``_children``/``_version`` keyword.
        array: for ``_count``: the normalised array path it counts.
        requires: normalised paths (indices filled from this element's) that must hold a
            value before this element may be set (2004 dependency, error 408).
        creates: whether setting this element at index == _count creates the array entry.
        response: "pattern" / "learner" when the format depends on the interaction type.
        note: SPEC COMPLIANCE NOTE or other remark, exported.
    """

    path: str
    access: Access
    dtype: str
    spec: str
    vocabulary: tuple[str, ...] = ()
    write_vocabulary: tuple[str, ...] | None = None
    or_decimal: bool = False
    allow_blank: bool = False
    value_range: tuple[float | None, float | None] | None = None
    max_length: int | None = None
    spm: int | None = None
    default: str | None = None
    keyword: str | None = None
    keyword_value: str | None = None
    array: str | None = None
    requires: tuple[str, ...] = ()
    creates: bool = True
    response: str | None = None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class ArraySpec:
    """An indexed collection (``cmi.interactions``, ``cmi.interactions.n.objectives`` ...).

    Attributes:
        path: normalised path without the index.
        spec: the spec section.
        max_count: the cap we enforce (GENERAL_SET_FAILURE beyond it).
        spm: the spec's smallest permitted maximum (informative).
        sco_creatable: False when only the LMS creates entries (comments_from_lms, adl.data).
    """

    path: str
    spec: str
    max_count: int
    spm: int | None = None
    sco_creatable: bool = True


RO, WO, RW = Access.RO, Access.WO, Access.RW


def _children(path: str, value: str, spec: str) -> ElementSpec:
    return ElementSpec(
        path=f"{path}._children",
        access=RO,
        dtype="keyword",
        spec=spec,
        keyword="_children",
        keyword_value=value,
    )


def _count(path: str, spec: str) -> ElementSpec:
    return ElementSpec(
        path=f"{path}._count", access=RO, dtype="keyword", spec=spec, keyword="_count", array=path
    )


# ---------------------------------------------------------------------------------------------
# SCORM 1.2 (RTE 1.2 §3.4.4).
# ---------------------------------------------------------------------------------------------

STATUS_12: Final = ("passed", "completed", "failed", "incomplete", "browsed", "not attempted")
TIME_LIMIT_ACTIONS: Final = (
    "exit,message",
    "exit,no message",
    "continue,message",
    "continue,no message",
)
SCORE_RANGE_12: Final = (0.0, 100.0)


def _score_12(prefix: str, section: str) -> list[ElementSpec]:
    # RTE 1.2 §3.4.4 cmi.core.score.*: CMIDecimal or CMIBlank, normalised to 0..100 (the 1.2
    # conformance requirements and the common browser runtimes enforce 0..100; a value outside
    # is refused with 405).
    return [
        _children(prefix, "raw,min,max", section),
        *(
            ElementSpec(
                path=f"{prefix}.{name}",
                access=RW,
                dtype="CMIDecimal",
                spec=f"{section}.{name}",
                allow_blank=True,
                value_range=SCORE_RANGE_12,
            )
            for name in ("raw", "min", "max")
        ),
    ]


_E12: list[ElementSpec] = [
    # SPEC COMPLIANCE NOTE: cmi._version is not in the RTE 1.2 element list (it is an AICC
    # CMI001 keyword); content probes it and common 1.2 runtimes answer "3.4", so we do too
    # (strict: 201 for an unknown element).
    ElementSpec(
        path="cmi._version",
        access=RO,
        dtype="keyword",
        spec="AICC CMI001 / RTE 1.2 §3.4.3",
        keyword="_version",
        keyword_value="3.4",
        note="SPEC COMPLIANCE NOTE: not in the RTE 1.2 list; answered as '3.4'",
    ),
    _children(
        "cmi.core",
        "student_id,student_name,lesson_location,credit,lesson_status,entry,score,"
        "total_time,lesson_mode,exit,session_time",
        "RTE 1.2 §3.4.4 cmi.core._children",
    ),
    ElementSpec(
        path="cmi.core.student_id",
        access=RO,
        dtype="CMIIdentifier",
        spec="RTE 1.2 §3.4.4 cmi.core.student_id",
    ),
    ElementSpec(
        path="cmi.core.student_name",
        access=RO,
        dtype="CMIString255",
        spec="RTE 1.2 §3.4.4 cmi.core.student_name",
    ),
    ElementSpec(
        path="cmi.core.lesson_location",
        access=RW,
        dtype="CMIString255",
        spec="RTE 1.2 §3.4.4 cmi.core.lesson_location",
    ),
    ElementSpec(
        path="cmi.core.credit",
        access=RO,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.core.credit",
        vocabulary=("credit", "no-credit"),
        default="credit",
    ),
    # RTE 1.2 §3.4.4 cmi.core.lesson_status: the LMS initialises "not attempted"; the SCO may
    # set any status except "not attempted".
    ElementSpec(
        path="cmi.core.lesson_status",
        access=RW,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.core.lesson_status",
        vocabulary=STATUS_12,
        write_vocabulary=STATUS_12[:5],
        default="not attempted",
    ),
    ElementSpec(
        path="cmi.core.entry",
        access=RO,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.core.entry",
        vocabulary=("ab-initio", "resume", ""),
        default="ab-initio",
    ),
    *_score_12("cmi.core.score", "RTE 1.2 §3.4.4 cmi.core.score"),
    ElementSpec(
        path="cmi.core.total_time",
        access=RO,
        dtype="CMITimespan",
        spec="RTE 1.2 §3.4.4 cmi.core.total_time",
        default="0000:00:00.00",
    ),
    ElementSpec(
        path="cmi.core.lesson_mode",
        access=RO,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.core.lesson_mode",
        vocabulary=("browse", "normal", "review"),
        default="normal",
    ),
    ElementSpec(
        path="cmi.core.exit",
        access=WO,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.core.exit",
        vocabulary=("time-out", "suspend", "logout", ""),
    ),
    ElementSpec(
        path="cmi.core.session_time",
        access=WO,
        dtype="CMITimespan",
        spec="RTE 1.2 §3.4.4 cmi.core.session_time",
    ),
    # SPEC COMPLIANCE NOTE: cmi.suspend_data is CMIString4096 (strict: max 4,096 characters).
    # Storyline, Captivate and other tools write far more for long 1.2 courses, and losing the
    # bookmark on every relaunch is the worst failure a learner can meet; we accept up to
    # 64,000 characters (the SCORM 2004 4th ed. SPM), as the browser adapter does.
    ElementSpec(
        path="cmi.suspend_data",
        access=RW,
        dtype="CMIString4096",
        spec="RTE 1.2 §3.4.4 cmi.suspend_data",
        max_length=64000,
        spm=4096,
        note="SPEC COMPLIANCE NOTE: strict limit 4096, accepted up to 64000",
    ),
    ElementSpec(
        path="cmi.launch_data",
        access=RO,
        dtype="CMIString4096",
        spec="RTE 1.2 §3.4.4 cmi.launch_data",
    ),
    ElementSpec(
        path="cmi.comments", access=RW, dtype="CMIString4096", spec="RTE 1.2 §3.4.4 cmi.comments"
    ),
    ElementSpec(
        path="cmi.comments_from_lms",
        access=RO,
        dtype="CMIString4096",
        spec="RTE 1.2 §3.4.4 cmi.comments_from_lms",
    ),
    _children("cmi.objectives", "id,score,status", "RTE 1.2 §3.4.4 cmi.objectives._children"),
    _count("cmi.objectives", "RTE 1.2 §3.4.4 cmi.objectives._count"),
    ElementSpec(
        path="cmi.objectives.n.id",
        access=RW,
        dtype="CMIIdentifier",
        spec="RTE 1.2 §3.4.4 cmi.objectives.n.id",
    ),
    *_score_12("cmi.objectives.n.score", "RTE 1.2 §3.4.4 cmi.objectives.n.score"),
    ElementSpec(
        path="cmi.objectives.n.status",
        access=RW,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.objectives.n.status",
        vocabulary=STATUS_12,
    ),
    _children(
        "cmi.student_data",
        "mastery_score,max_time_allowed,time_limit_action",
        "RTE 1.2 §3.4.4 cmi.student_data._children",
    ),
    ElementSpec(
        path="cmi.student_data.mastery_score",
        access=RO,
        dtype="CMIDecimal",
        spec="RTE 1.2 §3.4.4 cmi.student_data.mastery_score",
        value_range=SCORE_RANGE_12,
    ),
    ElementSpec(
        path="cmi.student_data.max_time_allowed",
        access=RO,
        dtype="CMITimespan",
        spec="RTE 1.2 §3.4.4 cmi.student_data.max_time_allowed",
    ),
    ElementSpec(
        path="cmi.student_data.time_limit_action",
        access=RO,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.student_data.time_limit_action",
        vocabulary=TIME_LIMIT_ACTIONS,
    ),
    _children(
        "cmi.student_preference",
        "audio,language,speed,text",
        "RTE 1.2 §3.4.4 cmi.student_preference._children",
    ),
    ElementSpec(
        path="cmi.student_preference.audio",
        access=RW,
        dtype="CMISInteger",
        spec="RTE 1.2 §3.4.4 cmi.student_preference.audio",
        value_range=(-1, 100),
        default="0",
    ),
    ElementSpec(
        path="cmi.student_preference.language",
        access=RW,
        dtype="CMIString255",
        spec="RTE 1.2 §3.4.4 cmi.student_preference.language",
    ),
    ElementSpec(
        path="cmi.student_preference.speed",
        access=RW,
        dtype="CMISInteger",
        spec="RTE 1.2 §3.4.4 cmi.student_preference.speed",
        value_range=(-100, 100),
        default="0",
    ),
    ElementSpec(
        path="cmi.student_preference.text",
        access=RW,
        dtype="CMISInteger",
        spec="RTE 1.2 §3.4.4 cmi.student_preference.text",
        value_range=(-1, 1),
        default="0",
    ),
    _children(
        "cmi.interactions",
        "id,objectives,time,type,correct_responses,weighting,student_response,result,latency",
        "RTE 1.2 §3.4.4 cmi.interactions._children",
    ),
    _count("cmi.interactions", "RTE 1.2 §3.4.4 cmi.interactions._count"),
    ElementSpec(
        path="cmi.interactions.n.id",
        access=WO,
        dtype="CMIIdentifier",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.id",
    ),
    _count("cmi.interactions.n.objectives", "RTE 1.2 §3.4.4 cmi.interactions.n.objectives._count"),
    ElementSpec(
        path="cmi.interactions.n.objectives.n.id",
        access=WO,
        dtype="CMIIdentifier",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.objectives.n.id",
    ),
    ElementSpec(
        path="cmi.interactions.n.time",
        access=WO,
        dtype="CMITime",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.time",
    ),
    ElementSpec(
        path="cmi.interactions.n.type",
        access=WO,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.type",
        vocabulary=(
            "true-false",
            "choice",
            "fill-in",
            "matching",
            "performance",
            "sequencing",
            "likert",
            "numeric",
        ),
    ),
    _count(
        "cmi.interactions.n.correct_responses",
        "RTE 1.2 §3.4.4 cmi.interactions.n.correct_responses._count",
    ),
    ElementSpec(
        path="cmi.interactions.n.correct_responses.n.pattern",
        access=WO,
        dtype="CMIFeedback",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.correct_responses.n.pattern",
    ),
    ElementSpec(
        path="cmi.interactions.n.weighting",
        access=WO,
        dtype="CMIDecimal",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.weighting",
    ),
    ElementSpec(
        path="cmi.interactions.n.student_response",
        access=WO,
        dtype="CMIFeedback",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.student_response",
    ),
    ElementSpec(
        path="cmi.interactions.n.result",
        access=WO,
        dtype="CMIVocabulary",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.result",
        vocabulary=("correct", "wrong", "unanticipated", "neutral"),
        or_decimal=True,
    ),
    ElementSpec(
        path="cmi.interactions.n.latency",
        access=WO,
        dtype="CMITimespan",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.latency",
    ),
]

# SPEC COMPLIANCE NOTE (1.2 arrays): RTE 1.2 sets no maximum on array sizes; we cap them so a
# runaway SCO cannot grow a document without bound (strict: unbounded).
_A12: list[ArraySpec] = [
    ArraySpec(path="cmi.objectives", spec="RTE 1.2 §3.4.4 cmi.objectives", max_count=1000),
    ArraySpec(path="cmi.interactions", spec="RTE 1.2 §3.4.4 cmi.interactions", max_count=1000),
    ArraySpec(
        path="cmi.interactions.n.objectives",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.objectives",
        max_count=250,
    ),
    ArraySpec(
        path="cmi.interactions.n.correct_responses",
        spec="RTE 1.2 §3.4.4 cmi.interactions.n.correct_responses",
        max_count=250,
    ),
]

# ---------------------------------------------------------------------------------------------
# SCORM 2004 4th edition (RTE 4th §4.2, §4.3, §4.4).
# ---------------------------------------------------------------------------------------------

COMPLETION_2004: Final = ("completed", "incomplete", "not attempted", "unknown")
SUCCESS_2004: Final = ("passed", "failed", "unknown")
INTERACTION_TYPES_2004: Final = (
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "likert",
    "matching",
    "performance",
    "sequencing",
    "numeric",
    "other",
)
_NAV_VALID: Final = ("true", "false", "unknown")


def _score_2004(prefix: str, section: str, requires: tuple[str, ...] = ()) -> list[ElementSpec]:
    # RTE 4th §4.2.20 cmi.score (§4.2.17 for objectives): scaled in [-1, 1], raw/min/max real.
    creates = not requires
    return [
        _children(prefix, "scaled,raw,min,max", f"{section}._children"),
        ElementSpec(
            path=f"{prefix}.scaled",
            access=RW,
            dtype="real(10,7)",
            spec=f"{section}.scaled",
            value_range=(-1.0, 1.0),
            requires=requires,
            creates=creates,
        ),
        *(
            ElementSpec(
                path=f"{prefix}.{name}",
                access=RW,
                dtype="real(10,7)",
                spec=f"{section}.{name}",
                requires=requires,
                creates=creates,
            )
            for name in ("raw", "min", "max")
        ),
    ]


def _comments(prefix: str, access: Access, section: str) -> list[ElementSpec]:
    return [
        _children(prefix, "comment,location,timestamp", f"{section}._children"),
        _count(prefix, f"{section}._count"),
        ElementSpec(
            path=f"{prefix}.n.comment",
            access=access,
            dtype="localized_string_type(SPM 4000)",
            spec=f"{section}.n.comment",
            spm=4000,
        ),
        ElementSpec(
            path=f"{prefix}.n.location",
            access=access,
            dtype="characterstring(SPM 250)",
            spec=f"{section}.n.location",
            spm=250,
        ),
        ElementSpec(
            path=f"{prefix}.n.timestamp",
            access=access,
            dtype="time(second,10,0)",
            spec=f"{section}.n.timestamp",
        ),
    ]


_OBJ_ID = ("cmi.objectives.n.id",)
_INT_ID = ("cmi.interactions.n.id",)
_INT_TYPE = ("cmi.interactions.n.type",)

_E2004: list[ElementSpec] = [
    ElementSpec(
        path="cmi._version",
        access=RO,
        dtype="keyword",
        spec="RTE 4th §4.2.1 cmi._version",
        keyword="_version",
        keyword_value="1.0",
    ),
    *_comments("cmi.comments_from_learner", RW, "RTE 4th §4.2.2 cmi.comments_from_learner"),
    *_comments("cmi.comments_from_lms", RO, "RTE 4th §4.2.3 cmi.comments_from_lms"),
    ElementSpec(
        path="cmi.completion_status",
        access=RW,
        dtype="state",
        spec="RTE 4th §4.2.4 cmi.completion_status",
        vocabulary=COMPLETION_2004,
        default="unknown",
    ),
    ElementSpec(
        path="cmi.completion_threshold",
        access=RO,
        dtype="real(10,7)",
        spec="RTE 4th §4.2.5 cmi.completion_threshold",
        value_range=(0.0, 1.0),
    ),
    ElementSpec(
        path="cmi.credit",
        access=RO,
        dtype="state",
        spec="RTE 4th §4.2.6 cmi.credit",
        vocabulary=("credit", "no-credit"),
        default="credit",
    ),
    ElementSpec(
        path="cmi.entry",
        access=RO,
        dtype="state",
        spec="RTE 4th §4.2.7 cmi.entry",
        vocabulary=("ab-initio", "resume", ""),
        default="ab-initio",
    ),
    ElementSpec(
        path="cmi.exit",
        access=WO,
        dtype="state",
        spec="RTE 4th §4.2.8 cmi.exit",
        vocabulary=("time-out", "suspend", "logout", "normal", ""),
    ),
    _children(
        "cmi.interactions",
        "id,type,objectives,timestamp,correct_responses,weighting,learner_response,result,"
        "latency,description",
        "RTE 4th §4.2.9 cmi.interactions._children",
    ),
    _count("cmi.interactions", "RTE 4th §4.2.9 cmi.interactions._count"),
    ElementSpec(
        path="cmi.interactions.n.id",
        access=RW,
        dtype="long_identifier_type(SPM 4000)",
        spec="RTE 4th §4.2.9 cmi.interactions.n.id",
        spm=4000,
    ),
    ElementSpec(
        path="cmi.interactions.n.type",
        access=RW,
        dtype="state",
        spec="RTE 4th §4.2.9 cmi.interactions.n.type",
        vocabulary=INTERACTION_TYPES_2004,
        requires=_INT_ID,
        creates=False,
    ),
    _count("cmi.interactions.n.objectives", "RTE 4th §4.2.9 cmi.interactions.n.objectives._count"),
    ElementSpec(
        path="cmi.interactions.n.objectives.n.id",
        access=RW,
        dtype="long_identifier_type(SPM 4000)",
        spec="RTE 4th §4.2.9 cmi.interactions.n.objectives.n.id",
        spm=4000,
        requires=_INT_ID,
    ),
    ElementSpec(
        path="cmi.interactions.n.timestamp",
        access=RW,
        dtype="time(second,10,0)",
        spec="RTE 4th §4.2.9 cmi.interactions.n.timestamp",
        requires=_INT_ID,
        creates=False,
    ),
    _count(
        "cmi.interactions.n.correct_responses",
        "RTE 4th §4.2.9.1 cmi.interactions.n.correct_responses._count",
    ),
    ElementSpec(
        path="cmi.interactions.n.correct_responses.n.pattern",
        access=RW,
        dtype="response",
        spec="RTE 4th §4.2.9.1 cmi.interactions.n.correct_responses.n.pattern",
        requires=_INT_ID + _INT_TYPE,
        response="pattern",
    ),
    ElementSpec(
        path="cmi.interactions.n.weighting",
        access=RW,
        dtype="real(10,7)",
        spec="RTE 4th §4.2.9 cmi.interactions.n.weighting",
        requires=_INT_ID,
        creates=False,
    ),
    ElementSpec(
        path="cmi.interactions.n.learner_response",
        access=RW,
        dtype="response",
        spec="RTE 4th §4.2.9.2 cmi.interactions.n.learner_response",
        requires=_INT_ID + _INT_TYPE,
        creates=False,
        response="learner",
    ),
    ElementSpec(
        path="cmi.interactions.n.result",
        access=RW,
        dtype="state",
        spec="RTE 4th §4.2.9 cmi.interactions.n.result",
        vocabulary=("correct", "incorrect", "unanticipated", "neutral"),
        or_decimal=True,
        requires=_INT_ID,
        creates=False,
    ),
    ElementSpec(
        path="cmi.interactions.n.latency",
        access=RW,
        dtype="timeinterval(second,10,2)",
        spec="RTE 4th §4.2.9 cmi.interactions.n.latency",
        requires=_INT_ID,
        creates=False,
    ),
    ElementSpec(
        path="cmi.interactions.n.description",
        access=RW,
        dtype="localized_string_type(SPM 250)",
        spec="RTE 4th §4.2.9 cmi.interactions.n.description",
        spm=250,
        requires=_INT_ID,
        creates=False,
    ),
    ElementSpec(
        path="cmi.launch_data",
        access=RO,
        dtype="characterstring(SPM 4000)",
        spec="RTE 4th §4.2.10 cmi.launch_data",
        spm=4000,
    ),
    ElementSpec(
        path="cmi.learner_id",
        access=RO,
        dtype="long_identifier_type(SPM 4000)",
        spec="RTE 4th §4.2.11 cmi.learner_id",
        spm=4000,
    ),
    ElementSpec(
        path="cmi.learner_name",
        access=RO,
        dtype="localized_string_type(SPM 250)",
        spec="RTE 4th §4.2.12 cmi.learner_name",
        spm=250,
    ),
    _children(
        "cmi.learner_preference",
        "audio_level,language,delivery_speed,audio_captioning",
        "RTE 4th §4.2.13 cmi.learner_preference._children",
    ),
    ElementSpec(
        path="cmi.learner_preference.audio_level",
        access=RW,
        dtype="real(10,7)",
        spec="RTE 4th §4.2.13 cmi.learner_preference.audio_level",
        value_range=(0.0, None),
        default="1",
    ),
    ElementSpec(
        path="cmi.learner_preference.language",
        access=RW,
        dtype="language_type(SPM 250)",
        spec="RTE 4th §4.2.13 cmi.learner_preference.language",
        default="",
    ),
    ElementSpec(
        path="cmi.learner_preference.delivery_speed",
        access=RW,
        dtype="real(10,7)",
        spec="RTE 4th §4.2.13 cmi.learner_preference.delivery_speed",
        value_range=(0.0, None),
        default="1",
    ),
    ElementSpec(
        path="cmi.learner_preference.audio_captioning",
        access=RW,
        dtype="state",
        spec="RTE 4th §4.2.13 cmi.learner_preference.audio_captioning",
        vocabulary=("-1", "0", "1"),
        default="0",
    ),
    ElementSpec(
        path="cmi.location",
        access=RW,
        dtype="characterstring(SPM 1000)",
        spec="RTE 4th §4.2.14 cmi.location",
        spm=1000,
    ),
    ElementSpec(
        path="cmi.max_time_allowed",
        access=RO,
        dtype="timeinterval(second,10,2)",
        spec="RTE 4th §4.2.15 cmi.max_time_allowed",
    ),
    ElementSpec(
        path="cmi.mode",
        access=RO,
        dtype="state",
        spec="RTE 4th §4.2.16 cmi.mode",
        vocabulary=("browse", "normal", "review"),
        default="normal",
    ),
    _children(
        "cmi.objectives",
        "id,score,success_status,completion_status,progress_measure,description",
        "RTE 4th §4.2.17 cmi.objectives._children",
    ),
    _count("cmi.objectives", "RTE 4th §4.2.17 cmi.objectives._count"),
    # RTE 4th §4.2.17: the id must be set first (408 otherwise), is unique within the array and
    # cannot be changed once set (351).
    ElementSpec(
        path="cmi.objectives.n.id",
        access=RW,
        dtype="long_identifier_type(SPM 4000)",
        spec="RTE 4th §4.2.17 cmi.objectives.n.id",
        spm=4000,
    ),
    *_score_2004("cmi.objectives.n.score", "RTE 4th §4.2.17 cmi.objectives.n.score", _OBJ_ID),
    ElementSpec(
        path="cmi.objectives.n.success_status",
        access=RW,
        dtype="state",
        spec="RTE 4th §4.2.17 cmi.objectives.n.success_status",
        vocabulary=SUCCESS_2004,
        default="unknown",
        requires=_OBJ_ID,
        creates=False,
    ),
    ElementSpec(
        path="cmi.objectives.n.completion_status",
        access=RW,
        dtype="state",
        spec="RTE 4th §4.2.17 cmi.objectives.n.completion_status",
        vocabulary=COMPLETION_2004,
        default="unknown",
        requires=_OBJ_ID,
        creates=False,
    ),
    ElementSpec(
        path="cmi.objectives.n.progress_measure",
        access=RW,
        dtype="real(10,7)",
        spec="RTE 4th §4.2.17 cmi.objectives.n.progress_measure",
        value_range=(0.0, 1.0),
        requires=_OBJ_ID,
        creates=False,
    ),
    ElementSpec(
        path="cmi.objectives.n.description",
        access=RW,
        dtype="localized_string_type(SPM 250)",
        spec="RTE 4th §4.2.17 cmi.objectives.n.description",
        spm=250,
        requires=_OBJ_ID,
        creates=False,
    ),
    ElementSpec(
        path="cmi.progress_measure",
        access=RW,
        dtype="real(10,7)",
        spec="RTE 4th §4.2.18 cmi.progress_measure",
        value_range=(0.0, 1.0),
    ),
    ElementSpec(
        path="cmi.scaled_passing_score",
        access=RO,
        dtype="real(10,7)",
        spec="RTE 4th §4.2.19 cmi.scaled_passing_score",
        value_range=(-1.0, 1.0),
    ),
    *_score_2004("cmi.score", "RTE 4th §4.2.20 cmi.score"),
    ElementSpec(
        path="cmi.session_time",
        access=WO,
        dtype="timeinterval(second,10,2)",
        spec="RTE 4th §4.2.21 cmi.session_time",
    ),
    ElementSpec(
        path="cmi.success_status",
        access=RW,
        dtype="state",
        spec="RTE 4th §4.2.22 cmi.success_status",
        vocabulary=SUCCESS_2004,
        default="unknown",
    ),
    # SPEC COMPLIANCE NOTE: 2nd/3rd editions give suspend_data an SPM of 4,000; the 4th gives
    # 64,000. One table serves all editions, with the 4th edition's limit.
    ElementSpec(
        path="cmi.suspend_data",
        access=RW,
        dtype="characterstring(SPM 64000)",
        spec="RTE 4th §4.2.23 cmi.suspend_data",
        spm=64000,
        note="SPEC COMPLIANCE NOTE: 64000 for every 2004 edition (2nd/3rd SPM is 4000)",
    ),
    ElementSpec(
        path="cmi.time_limit_action",
        access=RO,
        dtype="state",
        spec="RTE 4th §4.2.24 cmi.time_limit_action",
        vocabulary=TIME_LIMIT_ACTIONS,
        default="continue,no message",
    ),
    ElementSpec(
        path="cmi.total_time",
        access=RO,
        dtype="timeinterval(second,10,2)",
        spec="RTE 4th §4.2.25 cmi.total_time",
        default="PT0H0M0S",
    ),
    # adl.nav (RTE 4th §4.4). request_valid.* are evaluated by the sequencer, which this
    # package does not run: stored values are served, "unknown" otherwise.
    ElementSpec(
        path="adl.nav.request",
        access=RW,
        dtype="adl_nav_request",
        spec="RTE 4th §4.4.1 adl.nav.request",
        default="_none_",
    ),
    ElementSpec(
        path="adl.nav.request_valid.continue",
        access=RO,
        dtype="state",
        spec="RTE 4th §4.4.2 adl.nav.request_valid.continue",
        vocabulary=_NAV_VALID,
        default="unknown",
    ),
    ElementSpec(
        path="adl.nav.request_valid.previous",
        access=RO,
        dtype="state",
        spec="RTE 4th §4.4.2 adl.nav.request_valid.previous",
        vocabulary=_NAV_VALID,
        default="unknown",
    ),
    ElementSpec(
        path="adl.nav.request_valid.choice.{target=}",
        access=RO,
        dtype="state",
        spec="RTE 4th §4.4.2 adl.nav.request_valid.choice.{target=<STRING>}",
        vocabulary=_NAV_VALID,
        default="unknown",
    ),
    ElementSpec(
        path="adl.nav.request_valid.jump.{target=}",
        access=RO,
        dtype="state",
        spec="RTE 4th §4.4.2 adl.nav.request_valid.jump.{target=<STRING>}",
        vocabulary=_NAV_VALID,
        default="unknown",
    ),
    # adl.data (RTE 4th §4.3): shared data stores declared in the manifest (adlcp:data/map);
    # the LMS creates the entries, the SCO reads ids and reads/writes stores.
    # SPEC COMPLIANCE NOTE: readSharedData/writeSharedData permissions of the manifest map are
    # the caller's concern (it decides which entries to load and which stores to persist).
    _children("adl.data", "id,store", "RTE 4th §4.3 adl.data._children"),
    _count("adl.data", "RTE 4th §4.3 adl.data._count"),
    ElementSpec(
        path="adl.data.n.id",
        access=RO,
        dtype="long_identifier_type(SPM 4000)",
        spec="RTE 4th §4.3 adl.data.n.id",
        spm=4000,
    ),
    ElementSpec(
        path="adl.data.n.store",
        access=RW,
        dtype="characterstring(SPM 64000)",
        spec="RTE 4th §4.3 adl.data.n.store",
        spm=64000,
    ),
]

# SPEC COMPLIANCE NOTE (2004 arrays): the spec gives SPMs (minimum sizes an LMS must support);
# we enforce caps of at least the SPM to bound a document (strict: no maximum).
_A2004: list[ArraySpec] = [
    ArraySpec(
        path="cmi.comments_from_learner",
        spec="RTE 4th §4.2.2",
        max_count=1000,
        spm=250,
    ),
    ArraySpec(
        path="cmi.comments_from_lms",
        spec="RTE 4th §4.2.3",
        max_count=1000,
        spm=100,
        sco_creatable=False,
    ),
    ArraySpec(path="cmi.interactions", spec="RTE 4th §4.2.9", max_count=1000, spm=250),
    ArraySpec(path="cmi.interactions.n.objectives", spec="RTE 4th §4.2.9", max_count=250, spm=10),
    # The per-type cap of correct_responses is in responses.RESPONSE_FORMATS.
    ArraySpec(
        path="cmi.interactions.n.correct_responses",
        spec="RTE 4th §4.2.9.1",
        max_count=250,
        spm=5,
    ),
    ArraySpec(path="cmi.objectives", spec="RTE 4th §4.2.17", max_count=1000, spm=100),
    ArraySpec(path="adl.data", spec="RTE 4th §4.3", max_count=1000, sco_creatable=False),
]


@dataclass(frozen=True, kw_only=True)
class ModelTable:
    """Everything the runtime needs about one version's data model."""

    version: str
    elements: MappingProxyType[str, ElementSpec]
    arrays: MappingProxyType[str, ArraySpec]
    types: MappingProxyType[str, DataType]
    containers: frozenset[str]
    codes: MappingProxyType[Any, int]


def _build(
    version: str,
    elements: list[ElementSpec],
    arrays: list[ArraySpec],
    types: dict[str, DataType],
    codes: MappingProxyType[Any, int],
) -> ModelTable:
    by_path: dict[str, ElementSpec] = {}
    containers: set[str] = set()
    for spec in elements:
        if spec.path in by_path:
            raise ValueError(f"duplicate element {spec.path}")  # table bug, caught by tests
        if spec.dtype not in types:
            raise ValueError(f"unknown data type {spec.dtype} for {spec.path}")
        by_path[spec.path] = spec
        parts = spec.path.split(".")
        for i in range(1, len(parts)):
            containers.add(".".join(parts[:i]))
    return ModelTable(
        version=version,
        elements=MappingProxyType(by_path),
        arrays=MappingProxyType({a.path: a for a in arrays}),
        types=MappingProxyType(types),
        containers=frozenset(containers - set(by_path)),
        codes=codes,
    )


TABLE_12: Final = _build("1.2", _E12, _A12, TYPES_12, CODES_12)
TABLE_2004: Final = _build("2004", _E2004, _A2004, TYPES_2004, CODES_2004)

# Every all-digit path segment is an array index. A non-canonical one ("01", "007") is an index
# no array has (ADL's CTS: SetValue("cmi.interactions.01.id") answers 351, not 401), so it is
# read as INVALID_INDEX; the array checks then refuse it like any index past _count.
_INDEX_RE: Final = re.compile(r"\.[0-9]+(?=\.|$)")
INDEX_PATTERN_JS: Final = r"\.[0-9]+(?=\.|$)"
INVALID_INDEX: Final = 2**31 - 1


def index_value(segment: str) -> int:
    """The index of an all-digit path segment; INVALID_INDEX for a non-canonical one ("01")."""
    if len(segment) > 1 and segment[0] == "0":
        return INVALID_INDEX
    return int(segment)


def table_for(version: str) -> ModelTable:
    """The element table of ``version`` ("1.2" or "2004")."""
    return TABLE_12 if normalise_version(version) == "1.2" else TABLE_2004


def export_tables(version: str) -> dict[str, Any]:
    """The data model of ``version`` as a JSON-serialisable document for a browser adapter.

    Shape::

        {"version": "1.2"|"2004",
         "index_pattern": "<JS regex replacing numeric path segments with .n>",
         "length_unit": "code_points",
         "elements": {path: {access, type, spec, vocabulary, write_vocabulary, or_decimal,
                             allow_blank, range: [min|null, max|null]|null, max_length, spm,
                             default, keyword, keyword_value, array, requires, creates,
                             response, note}},
         "arrays": {path: {spec, max_count, spm, sco_creatable}},
         "types": {name: {pattern, max_length, numeric, checks, spec, note}},
         "errors": {kind: code},
         "responses": {...}  # 2004 only, see responses.export_response_formats
        }

    Every ``pattern`` is an anchored regex valid in both Python and JavaScript (with or
    without the ``u`` flag) and matching the same strings in both. ``max_length`` counts
    Unicode code points (``length_unit``): a JavaScript adapter must count ``[...s].length``,
    not ``s.length`` (UTF-16 units), to agree on strings with astral characters.
    """
    table = table_for(version)
    elements: dict[str, Any] = {}
    for path, spec in table.elements.items():
        dtype = table.types[spec.dtype]
        elements[path] = {
            "access": spec.access.value,
            "type": spec.dtype,
            "spec": spec.spec,
            "vocabulary": list(spec.vocabulary) or None,
            "write_vocabulary": (
                list(spec.write_vocabulary) if spec.write_vocabulary is not None else None
            ),
            "or_decimal": spec.or_decimal,
            "allow_blank": spec.allow_blank,
            "range": list(spec.value_range) if spec.value_range else None,
            "max_length": spec.max_length if spec.max_length is not None else dtype.max_length,
            "spm": spec.spm,
            "default": spec.default,
            "keyword": spec.keyword,
            "keyword_value": spec.keyword_value,
            "array": spec.array,
            "requires": list(spec.requires),
            "creates": spec.creates,
            "response": spec.response,
            "note": spec.note,
        }
    doc: dict[str, Any] = {
        "version": table.version,
        "index_pattern": INDEX_PATTERN_JS,
        "length_unit": "code_points",
        "elements": elements,
        "arrays": {
            path: {
                "spec": a.spec,
                "max_count": a.max_count,
                "spm": a.spm,
                "sco_creatable": a.sco_creatable,
            }
            for path, a in table.arrays.items()
        },
        "types": {name: dt.to_json() for name, dt in table.types.items()},
        "errors": {kind.value: code for kind, code in table.codes.items()},
    }
    if table.version == "2004":
        doc["responses"] = export_response_formats()
    return doc
