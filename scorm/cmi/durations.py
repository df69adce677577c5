"""Time spans of both SCORM versions: parse, format, add.

All arithmetic is on integer **centiseconds** (the resolution both versions specify), so sums are
exact and repeatable.

* SCORM 1.2 ``CMITimespan`` (RTE 1.2 §3.4.2, data types): ``HHHH:MM:SS.SS`` — hours 2 to 4
  digits, minutes and seconds 2 digits (00-59), optional 1-2 fractional digits of a second.
* SCORM 2004 ``timeinterval (second,10,2)`` (RTE 4th §4.1.1.6 / 4.2 "timeinterval"): an ISO 8601
  duration ``P[nY][nM][nD][T[nH][nM][n[.nn]S]]`` with 0.01 s resolution.

Fixed conventions (ISO 8601 durations are calendar-relative, SCORM times are not):
``1Y = 365 days``, ``1M = 30 days``, ``1D = 24 hours``. Formatting never emits Y, M or D: it
writes ``PT<h>H<m>M<s>S`` so the result is exact and round-trips.
"""

from __future__ import annotations

import logging
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from scorm.cmi.errors import CmiError

logger = logging.getLogger(__name__)

CS_PER_SECOND: Final = 100
CS_PER_MINUTE: Final = 60 * CS_PER_SECOND
CS_PER_HOUR: Final = 60 * CS_PER_MINUTE
CS_PER_DAY: Final = 24 * CS_PER_HOUR
CS_PER_MONTH: Final = 30 * CS_PER_DAY  # convention, see module docstring
CS_PER_YEAR: Final = 365 * CS_PER_DAY  # convention, see module docstring

# Largest 1.2 CMITimespan: hours have at most 4 digits (RTE 1.2 §3.4.2 CMITimespan).
MAX_TIMESPAN_12_CS: Final = 9999 * CS_PER_HOUR + 59 * CS_PER_MINUTE + 5999

# SPEC COMPLIANCE NOTE: minutes and seconds of a CMITimespan are read as 00-99, not 00-59:
# Rustici's widely copied 1.2 time formatter writes e.g. "9999:99:99.99" for huge values and calls
# it permissible; the value is still well defined (strict: 00-59).
_TIMESPAN_12 = re.compile(r"([0-9]{2,4}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,2}))?")

# SPEC COMPLIANCE NOTE: timeinterval(second,10,2) allows at most 2 fractional digits of a second
# (strict: ``(?:\.[0-9]{1,2})?``). Authoring tools routinely send milliseconds
# ("PT12.345S"); dropping a whole session's time for that would be worse than rounding, so we
# accept any number of fractional digits and round half-up to centiseconds.
_DURATION_2004 = re.compile(
    r"P(?!$)(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?"
    r"(?:T(?=[0-9])(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:\.[0-9]+)?)S)?)?"
)
# SPEC COMPLIANCE NOTE: ISO 8601 needs a "T" before seconds, so a zero session is "PT0S"; Rustici's
# widely copied SCORM 2004 time formatter (in real packages, e.g. the ADL/Rustici golf examples)
# writes "P0S". We read "P<n>S" as n seconds (strict: refuse it).
_SECONDS_ONLY_2004 = re.compile(r"P([0-9]+(?:\.[0-9]+)?)S")


class DurationError(CmiError):
    """A time span is not in the format its SCORM version requires."""

    code = "invalid_duration"


def parse_timespan_12(text: str) -> int:
    """Parse a SCORM 1.2 CMITimespan (``HHHH:MM:SS.SS``) into centiseconds.

    Args:
        text: e.g. ``"0001:30:05.5"``.

    Returns:
        Centiseconds (``"0001:30:05.5"`` → 541_550).

    Raises:
        DurationError: when ``text`` is not a CMITimespan.
    """
    match = _TIMESPAN_12.fullmatch(text)
    if match is None:
        raise DurationError(f"Not a SCORM 1.2 CMITimespan (HHHH:MM:SS.SS): {text[:40]!r}")
    hours, minutes, seconds, frac = match.groups()
    cs = int(hours) * CS_PER_HOUR + int(minutes) * CS_PER_MINUTE + int(seconds) * CS_PER_SECOND
    if frac:
        cs += int(frac.ljust(2, "0"))
    return cs


def format_timespan_12(centiseconds: int) -> str:
    """Format centiseconds as a SCORM 1.2 CMITimespan ``HHHH:MM:SS.SS``.

    SPEC COMPLIANCE NOTE: the type cannot express more than 9999:59:59.99; larger totals are
    clamped to that value (and logged) rather than producing a value the SCO would reject.

    Args:
        centiseconds: a non-negative duration.

    Returns:
        The 4-digit-hour form, always with two fractional digits.

    Raises:
        DurationError: for a negative duration.
    """
    if centiseconds < 0:
        raise DurationError(f"Negative duration: {centiseconds} cs")
    if centiseconds > MAX_TIMESPAN_12_CS:
        logger.warning(
            "1.2 timespan clamped to 9999:59:59.99",
            extra={"action": "clamp_timespan", "centiseconds": centiseconds},
        )
        centiseconds = MAX_TIMESPAN_12_CS
    hours, rest = divmod(centiseconds, CS_PER_HOUR)
    minutes, rest = divmod(rest, CS_PER_MINUTE)
    seconds, cs = divmod(rest, CS_PER_SECOND)
    return f"{hours:04d}:{minutes:02d}:{seconds:02d}.{cs:02d}"


def parse_duration_2004(text: str) -> int:
    """Parse a SCORM 2004 timeinterval (ISO 8601 duration) into centiseconds.

    ``Y`` counts 365 days and ``M`` (before ``T``) 30 days (module conventions). Fractional
    seconds are rounded half-up to centiseconds.

    Args:
        text: e.g. ``"PT1H30M5.5S"``.

    Returns:
        Centiseconds (``"PT1H30M5.5S"`` → 541_550).

    Raises:
        DurationError: when ``text`` is not a timeinterval.
    """
    match = _DURATION_2004.fullmatch(text)
    if match is None:
        seconds_only = _SECONDS_ONLY_2004.fullmatch(text)
        if seconds_only is not None:
            return _seconds_cs(seconds_only.group(1))
        raise DurationError(f"Not a SCORM 2004 timeinterval (ISO 8601 duration): {text[:40]!r}")
    years, months, days, hours, minutes, seconds = match.groups()
    cs = 0
    if years:
        cs += int(years) * CS_PER_YEAR
    if months:
        cs += int(months) * CS_PER_MONTH
    if days:
        cs += int(days) * CS_PER_DAY
    if hours:
        cs += int(hours) * CS_PER_HOUR
    if minutes:
        cs += int(minutes) * CS_PER_MINUTE
    if seconds:
        cs += _seconds_cs(seconds)
    return cs


def _seconds_cs(seconds: str) -> int:
    if "." in seconds:
        return int((Decimal(seconds) * CS_PER_SECOND).quantize(Decimal(1), ROUND_HALF_UP))
    return int(seconds) * CS_PER_SECOND


def format_duration_2004(centiseconds: int) -> str:
    """Format centiseconds as a SCORM 2004 timeinterval ``PT<h>H<m>M<s>S``.

    Hours are not folded into days (exact, no calendar assumptions); the fractional part is
    written only when non-zero, without trailing zeros (``PT0H0M1.5S``).

    Raises:
        DurationError: for a negative duration.
    """
    if centiseconds < 0:
        raise DurationError(f"Negative duration: {centiseconds} cs")
    hours, rest = divmod(centiseconds, CS_PER_HOUR)
    minutes, rest = divmod(rest, CS_PER_MINUTE)
    seconds, cs = divmod(rest, CS_PER_SECOND)
    if cs:
        sec = f"{seconds}.{cs:02d}".rstrip("0")
    else:
        sec = str(seconds)
    return f"PT{hours}H{minutes}M{sec}S"


def parse_span(text: str, version: str) -> int:
    """Parse the version's time span type (1.2 CMITimespan / 2004 timeinterval) to centiseconds."""
    if version == "1.2":
        return parse_timespan_12(text)
    return parse_duration_2004(text)


def format_span(centiseconds: int, version: str) -> str:
    """Format centiseconds in the version's time span type."""
    if version == "1.2":
        return format_timespan_12(centiseconds)
    return format_duration_2004(centiseconds)


def add_spans(first: str, second: str, version: str) -> str:
    """Add two time spans of ``version`` and format the sum in the same type.

    Args:
        first: e.g. the stored total time.
        second: e.g. the session time.
        version: "1.2" or "2004".

    Returns:
        The formatted sum (1.2 clamped at 9999:59:59.99, see :func:`format_timespan_12`).

    Raises:
        DurationError: if either operand is malformed.
    """
    return format_span(parse_span(first, version) + parse_span(second, version), version)


def span_seconds(text: str, version: str) -> float:
    """Seconds in a time span of ``version`` (float, centisecond precision)."""
    return parse_span(text, version) / CS_PER_SECOND
