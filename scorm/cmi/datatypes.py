"""SCORM data types as data: one named, JavaScript-compatible pattern per type.

Every pattern is written so that the *same string* compiles in Python ``re`` and in a browser
``RegExp`` (no named groups, no ``\\A``/``\\Z``, no inline flags, ``[0-9]`` instead of ``\\d``).
Python applies them with ``fullmatch``; a browser adapter uses them as ``new RegExp(p)`` (each is
anchored with ``^...$``). Length caps are separate (``max_length``) and checked first, so huge
values never reach a regex.

Semantic checks a regex cannot express are named in ``checks`` (exported too):

* ``calendar`` — a ``time(second,10,0)`` value must be a real date (no 2021-02-30).
* ``localized`` — the ``{lang=...}`` delimiter is stripped before the SPM length is counted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from scorm.cmi.iso639 import ISO_639_1, ISO_639_2, WITHDRAWN

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class DataType:
    """A SCORM data type: pattern, length cap, numeric flag and its spec section."""

    name: str
    spec: str
    pattern: str | None = None
    max_length: int | None = None
    numeric: bool = False
    checks: tuple[str, ...] = ()
    note: str = ""
    compiled: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable description (without the compiled regex)."""
        return {
            "name": self.name,
            "spec": self.spec,
            "pattern": self.pattern,
            "max_length": self.max_length,
            "numeric": self.numeric,
            "checks": list(self.checks),
            "note": self.note,
        }


def _dt(**kwargs: Any) -> DataType:
    pattern = kwargs.get("pattern")
    return DataType(**kwargs, compiled=re.compile(pattern) if pattern else None)


# ---------------------------------------------------------------------------------------------
# Shared pieces (JS-compatible strings).
# ---------------------------------------------------------------------------------------------

# real(10,7) (2004 RTE 4th §4.1.1.6) and CMIDecimal (1.2 RTE §3.4.2): an optionally negative
# decimal number. No exponent, no "+" sign. Digit caps only bound the work, the spec has none.
DECIMAL_PATTERN: Final = r"^-?(?:[0-9]{1,10}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})$"



def _either_case(letter: str) -> str:
    return f"[{letter.lower()}{letter.upper()}]"


def _code_alternation(codes: tuple[str, ...]) -> str:
    """A JS-compatible, case-insensitive alternation of ISO codes, grouped by their prefix."""
    groups: dict[str, list[str]] = {}
    for code in codes:
        groups.setdefault(code[:-1], []).append(code[-1])
    parts = []
    for prefix, lasts in sorted(groups.items()):
        head = "".join(_either_case(c) for c in prefix)
        last = "".join(sorted(set("".join(lasts).lower() + "".join(lasts).upper())))
        parts.append(f"{head}[{last}]")
    return "|".join(parts)


# language_type (2004 RTE 4th §4.1.1.6, RFC 3066 as profiled by ADL): a primary subtag that is
# an ISO 639-1 (2 letters) or ISO 639-2 (3 letters) code, or "i"/"x", then subtags of 2-8
# alphanumerics. ADL's CTS refuses unknown primary codes ("frl", "sp", "ruq-JM") with 406.
# The empty string is allowed where the element allows it (cmi.learner_preference.language),
# so it is part of LANGUAGE_PATTERN. Subtags after the first are not checked against ISO 3166.
LANGUAGE_CORE: Final = (
    rf"(?:{_code_alternation(ISO_639_2 + tuple(c for c in WITHDRAWN if len(c) == 3))}"
    rf"|{_code_alternation(ISO_639_1 + tuple(c for c in WITHDRAWN if len(c) == 2))}|[iIxX])"
    r"(?![A-Za-z])(?:-[A-Za-z0-9]{2,8})*"
)
LANGUAGE_PATTERN: Final = rf"^(?:{LANGUAGE_CORE})?$"

# localized_string_type: optional "{lang=<language_type>}" then the text. A value that starts
# with "{lang=" but has no valid delimiter is a type mismatch (the lookahead refuses it).
LOCALIZED_PATTERN: Final = rf"^(?:\{{lang={LANGUAGE_CORE}\}})?(?!\{{lang=)[\s\S]*$"

# long_identifier_type / short_identifier_type (2004 RTE 4th §4.1.1.6): a URI (RFC 3986).
# SPEC COMPLIANCE NOTE: full RFC 3986 parsing is not attempted. We require a non-empty value
# without whitespace or control characters and, for the "urn:" scheme, the RFC 8141 shape
# urn:<NID>:<NSS> (strict rule: the whole value must be a valid URI).
# Whitespace and control characters spelled out: "\s" differs between Python and JavaScript
# (JS counts U+FEFF, Python counts U+001C-U+001F and U+0085), so the patterns never use it.
WHITESPACE_AND_CONTROLS: Final = (
    r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_NO_WS: Final = rf"[^{WHITESPACE_AND_CONTROLS}]"
# Characters RFC 3986 never allows in a URI outside an IP literal: ADL's CTS refuses
# "{}{[]}{}{[]}{}" and "uri[.]abcd" as identifiers (406).
_URI_CHAR: Final = rf"[^{WHITESPACE_AND_CONTROLS}\[\]{{}}<>\\^`|\"]"
IDENTIFIER_2004_PATTERN: Final = (
    rf"^(?:(?![uU][rR][nN]:){_URI_CHAR}+|[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{{0,31}}:{_URI_CHAR}+)$"
)

# time(second,10,0) (2004 RTE 4th §4.1.1.6): YYYY[-MM[-DD[Thh[:mm[:ss[.s[TZD]]]]]]],
# years 1970-2038, TZD = Z | +hh[:mm] | -hh[:mm]. The book nests the TZD inside the fractional
# seconds and ADL's CTS holds LMSs to it: "T15Z", "T09:45+03" and "T09:45:58-03:00" are type
# mismatches (406), "T09:45:58.55-03:00" is valid. SPEC COMPLIANCE NOTE: content that writes
# JavaScript's toISOString() ("...:58.123Z", three fraction digits) or a TZD without fractional
# seconds gets 406 for the timestamp, as in ADL's reference LMS.
TIME_2004_PATTERN: Final = (
    r"^(?:19[7-9][0-9]|20[0-2][0-9]|203[0-8])"
    r"(?:-(?:0[1-9]|1[0-2])"
    r"(?:-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:T(?:[01][0-9]|2[0-3])"
    r"(?::[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,2}"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?"
    r")?)?)?"
    r")?)?)?$"
)

# timeinterval (second,10,2): see durations.py for the lenient fractional-second note.
# The second alternative is the lenient "P<n>S" form (see durations.py).
DURATION_2004_PATTERN: Final = (
    r"^(?:P(?!$)(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+D)?"
    r"(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:\.[0-9]+)?S)?)?"
    r"|P[0-9]+(?:\.[0-9]+)?S)$"
)

# ---------------------------------------------------------------------------------------------
# SCORM 1.2 (RTE 1.2 §3.4.2 "Data types").
# ---------------------------------------------------------------------------------------------

TYPES_12: Final[dict[str, DataType]] = {
    "CMIString255": _dt(name="CMIString255", spec="RTE 1.2 §3.4.2 CMIString255", max_length=255),
    "CMIString4096": _dt(
        name="CMIString4096", spec="RTE 1.2 §3.4.2 CMIString4096", max_length=4096
    ),
    # SPEC COMPLIANCE NOTE: CMIIdentifier is "alphanumeric ... no white space or unprintable
    # characters", max 255 (strict: ^[A-Za-z0-9]{1,255}$). Real 1.2 content uses punctuation
    # ("q1_a", "urn:x:y", "Scene1.Slide2") and some tools send question titles with spaces, so
    # we accept any printable characters including spaces, but not an empty or all-blank value.
    "CMIIdentifier": _dt(
        name="CMIIdentifier",
        spec="RTE 1.2 §3.4.2 CMIIdentifier",
        pattern=rf"^(?=[\s\S]*{_NO_WS})[^\u0000-\u001f\u007f]+$",
        max_length=255,
        note="lenient: printable characters incl. spaces; strict is alphanumeric",
    ),
    "CMIDecimal": _dt(
        name="CMIDecimal", spec="RTE 1.2 §3.4.2 CMIDecimal", pattern=DECIMAL_PATTERN, numeric=True
    ),
    "CMIInteger": _dt(
        name="CMIInteger", spec="RTE 1.2 §3.4.2 CMIInteger", pattern=r"^[0-9]{1,5}$", numeric=True
    ),
    "CMISInteger": _dt(
        name="CMISInteger",
        spec="RTE 1.2 §3.4.2 CMISInteger",
        pattern=r"^[-+]?[0-9]{1,5}$",
        numeric=True,
    ),
    "CMITime": _dt(
        name="CMITime",
        spec="RTE 1.2 §3.4.2 CMITime",
        pattern=r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,2})?$",
    ),
    "CMITimespan": _dt(
        name="CMITimespan",
        spec="RTE 1.2 §3.4.2 CMITimespan",
        pattern=r"^[0-9]{2,4}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,2})?$",
        note="lenient: minutes/seconds 00-99 accepted (see durations.py)",
    ),
    # SPEC COMPLIANCE NOTE: CMIFeedback is formatted per interaction type (RTE 1.2 §3.4.4
    # cmi.interactions.n.student_response), loosely specified and widely violated by 1.2
    # content; we check only the 255-character cap (strict: the per-type formats).
    "CMIFeedback": _dt(
        name="CMIFeedback",
        spec="RTE 1.2 §3.4.2 CMIFeedback",
        max_length=255,
        note="lenient: length only, per-type formats not enforced for 1.2",
    ),
    "CMIVocabulary": _dt(name="CMIVocabulary", spec="RTE 1.2 §3.4.2 CMIVocabulary"),
    "keyword": _dt(name="keyword", spec="RTE 1.2 §3.4.3 keywords (_children, _count)"),
}

# ---------------------------------------------------------------------------------------------
# SCORM 2004 (RTE 4th ed. §4.1.1.6 "Data model types").
# ---------------------------------------------------------------------------------------------


# SPEC COMPLIANCE NOTE (2004 SPM): an SPM is the smallest maximum an LMS must support; the
# spec lets an LMS keep longer values (or truncate them to the SPM). We use the SPM as the
# maximum and refuse longer values with 406, as browser runtimes do, so that what the browser
# accepted the server accepts too and documents stay bounded (strict: store >= SPM).
def _characterstring(spm: int) -> DataType:
    return _dt(
        name=f"characterstring(SPM {spm})",
        spec="RTE 4th §4.1.1.6 characterstring",
        max_length=spm,
    )


def _localized(spm: int) -> DataType:
    return _dt(
        name=f"localized_string_type(SPM {spm})",
        spec="RTE 4th §4.1.1.6 localized_string_type",
        pattern=LOCALIZED_PATTERN,
        max_length=spm,
        checks=("localized",),
    )


TYPES_2004: Final[dict[str, DataType]] = {
    "characterstring(SPM 250)": _characterstring(250),
    "characterstring(SPM 1000)": _characterstring(1000),
    "characterstring(SPM 4000)": _characterstring(4000),
    "characterstring(SPM 64000)": _characterstring(64000),
    "localized_string_type(SPM 250)": _localized(250),
    "localized_string_type(SPM 4000)": _localized(4000),
    "long_identifier_type(SPM 4000)": _dt(
        name="long_identifier_type(SPM 4000)",
        spec="RTE 4th §4.1.1.6 long_identifier_type",
        pattern=IDENTIFIER_2004_PATTERN,
        max_length=4000,
        note="lenient: non-blank, no whitespace, urn: shape checked; strict is RFC 3986",
    ),
    "short_identifier_type(SPM 250)": _dt(
        name="short_identifier_type(SPM 250)",
        spec="RTE 4th §4.1.1.6 short_identifier_type",
        pattern=IDENTIFIER_2004_PATTERN,
        max_length=250,
    ),
    "language_type(SPM 250)": _dt(
        name="language_type(SPM 250)",
        spec="RTE 4th §4.1.1.6 language_type",
        pattern=LANGUAGE_PATTERN,
        max_length=250,
    ),
    "real(10,7)": _dt(
        name="real(10,7)", spec="RTE 4th §4.1.1.6 real(10,7)", pattern=DECIMAL_PATTERN, numeric=True
    ),
    "time(second,10,0)": _dt(
        name="time(second,10,0)",
        spec="RTE 4th §4.1.1.6 time(second,10,0)",
        pattern=TIME_2004_PATTERN,
        checks=("calendar",),
    ),
    "timeinterval(second,10,2)": _dt(
        name="timeinterval(second,10,2)",
        spec="RTE 4th §4.1.1.6 timeinterval(second,10,2)",
        pattern=DURATION_2004_PATTERN,
        note="lenient: >2 fractional second digits rounded; 'P<n>S' read as seconds",
    ),
    "state": _dt(name="state", spec="RTE 4th §4.1.1.6 state (restricted vocabulary)"),
    "response": _dt(
        name="response",
        spec="RTE 4th §4.2.9.1 / §4.2.9.2 (format depends on cmi.interactions.n.type)",
    ),
    "adl_nav_request": _dt(
        name="adl_nav_request",
        spec="RTE 4th §4.4.1 adl.nav.request",
        pattern=r"^(?:continue|previous|exit|exitAll|abandon|abandonAll|suspendAll|_none_"
        rf"|\{{target=[^{WHITESPACE_AND_CONTROLS}{{}}]+\}}(?:choice|jump))$",
    ),
    "keyword": _dt(name="keyword", spec="RTE 4th §4.1.1.2 keywords (_version, _children, _count)"),
}


def calendar_ok(value: str) -> bool:
    """Whether a ``time(second,10,0)`` value names a real calendar day (pattern already matched).

    Args:
        value: e.g. ``"2021-02-30T10:00"``.

    Returns:
        False for impossible days such as 30 February; True otherwise (also for "YYYY" or
        "YYYY-MM" values, which have no day).
    """
    if len(value) < 10:
        return True
    try:
        date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


def strip_lang(value: str) -> str:
    """The text of a localized string without its ``{lang=...}`` delimiter (if any)."""
    if value.startswith("{lang="):
        end = value.find("}")
        if end != -1:
            return value[end + 1 :]
    return value
